/// `llama`: CodeLlama, Llama 3 and other dense Llama-family models; Mixtral when the file has experts
/// (`expert_count` > 0: softmax router, top-k renormalised, no shared expert).
enum LlamaArchitecture {
    static func layers(_ source: TensorSource, _ config: ModelConfig) throws -> [DecoderLayer] {
        try (0..<config.blockCount).map { i in
            let norms = try source.norms(layer: i, config: config)
            let ffn: FeedForwardWeights = config.isMoE
                ? try source.mixtureOfExperts(layer: i, config: config, sharedHidden: nil, sharedGated: false)
                : .dense(try source.denseFeedForward("blk.\(i).", embedding: config.embeddingLength,
                                                     hidden: config.feedForwardLength))
            return DecoderLayer(attentionNorm: norms.attention,
                                attention: try source.standardAttention(layer: i, config: config, biases: true),
                                ffnNorm: norms.ffn, ffn: ffn)
        }
    }
}
