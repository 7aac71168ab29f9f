/// `qwen2` (dense, Qwen2.5-Coder) and `qwen2moe` (routed experts plus one shared expert whose output is
/// scaled by sigmoid(`ffn_gate_inp_shexp` · x)). Both have q/k/v biases and NeoX-style rotary pairs.
enum Qwen2Architecture {
    static func layers(_ source: TensorSource, _ config: ModelConfig) throws -> [DecoderLayer] {
        try (0..<config.blockCount).map { i in
            let norms = try source.norms(layer: i, config: config)
            let ffn: FeedForwardWeights
            if config.architecture == .qwen2moe {
                let sharedHidden = config.sharedExpertFeedForwardLength > 0
                    ? config.sharedExpertFeedForwardLength : config.feedForwardLength
                ffn = try source.mixtureOfExperts(layer: i, config: config, sharedHidden: sharedHidden, sharedGated: true)
            } else {
                ffn = .dense(try source.denseFeedForward("blk.\(i).", embedding: config.embeddingLength,
                                                         hidden: config.feedForwardLength))
            }
            return DecoderLayer(attentionNorm: norms.attention,
                                attention: try source.standardAttention(layer: i, config: config, biases: true),
                                ffnNorm: norms.ffn, ffn: ffn)
        }
    }
}
