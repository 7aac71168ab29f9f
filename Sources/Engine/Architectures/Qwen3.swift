/// `qwen3` (dense Qwen3) and `qwen3moe` (Qwen3-MoE, Qwen3-Coder-30B-A3B): no biases, an RMS norm over each query
/// and key head (`attn_q_norm`, `attn_k_norm`, keyLength weights) before the NeoX-style rotation; the MoE model
/// routes with a softmax and always renormalises its top-k weights, and has no shared expert.
enum Qwen3Architecture {
    static func layers(_ source: TensorSource, _ config: ModelConfig) throws -> [DecoderLayer] {
        try (0..<config.blockCount).map { i in
            let p = "blk.\(i)."
            let norms = try source.norms(layer: i, config: config)
            guard case .standard(var attention) = try source.standardAttention(layer: i, config: config, biases: false)
            else { fatalError("standardAttention returns standard attention") }
            attention.qNorm = try source.vector(p + "attn_q_norm.weight", count: config.keyLength)
            attention.kNorm = try source.vector(p + "attn_k_norm.weight", count: config.keyLength)
            let ffn: FeedForwardWeights = config.architecture == .qwen3moe
                ? try source.mixtureOfExperts(layer: i, config: config, sharedHidden: nil, sharedGated: false)
                : .dense(try source.denseFeedForward(p, embedding: config.embeddingLength,
                                                     hidden: config.feedForwardLength))
            return DecoderLayer(attentionNorm: norms.attention, attention: .standard(attention),
                                ffnNorm: norms.ffn, ffn: ffn)
        }
    }
}
