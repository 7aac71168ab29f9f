/// `deepseek` (DeepSeek-MoE v1): multi-head attention; the first `leading_dense_block_count` layers are
/// dense, the rest route to experts and always add `expert_shared_count` shared experts (stored merged).
enum DeepSeekArchitecture {
    static func layers(_ source: TensorSource, _ config: ModelConfig) throws -> [DecoderLayer] {
        try (0..<config.blockCount).map { i in
            let norms = try source.norms(layer: i, config: config)
            return DecoderLayer(attentionNorm: norms.attention,
                                attention: try source.standardAttention(layer: i, config: config, biases: false),
                                ffnNorm: norms.ffn, ffn: try DeepSeekArchitecture.feedForward(source, config, layer: i))
        }
    }

    /// Shared by deepseek and deepseek2: dense leading layers, then routed + shared experts.
    static func feedForward(_ source: TensorSource, _ config: ModelConfig, layer i: Int) throws -> FeedForwardWeights {
        if i < config.leadingDenseBlockCount {
            return .dense(try source.denseFeedForward("blk.\(i).", embedding: config.embeddingLength,
                                                      hidden: config.feedForwardLength))
        }
        return try source.mixtureOfExperts(
            layer: i, config: config, sharedHidden: config.expertFeedForwardLength * config.sharedExpertCount,
            sharedGated: false)
    }
}
