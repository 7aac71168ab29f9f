/// `gpt-oss`: grouped-query attention with q/k/v/output biases, a learned sink logit per head, and a sliding
/// window on the layers `ModelConfig.slidingWindowLayers` marks (every other one); the feed-forward norm is
/// stored as `post_attention_norm`. Experts: the router has a bias, the top-k logits are softmaxed, every
/// expert projection has a bias, and gate and up combine through the clamped SwiGLU (alpha 1.702, limit 7:
/// constants of the model, as llama.cpp fixes them).
enum GptOssArchitecture {
    static func layers(_ source: TensorSource, _ config: ModelConfig) throws -> [DecoderLayer] {
        let e = config.embeddingLength, n = config.expertCount, f = config.expertFeedForwardLength
        return try (0..<config.blockCount).map { i in
            let p = "blk.\(i)."
            guard case .standard(var attention) = try source.standardAttention(layer: i, config: config, biases: true)
            else { fatalError("standardAttention returns standard attention") }
            attention.outputBias = try source.optionalVector(p + "attn_output.bias", count: e)
            attention.sinks = try source.vector(p + "attn_sinks.weight", count: config.headCount)
            attention.window = config.slidingWindowLayers[i] ? config.slidingWindow : 0
            guard case .moe(var moe) = try source.mixtureOfExperts(layer: i, config: config, sharedHidden: nil,
                                                                     sharedGated: false)
            else { fatalError("mixtureOfExperts returns experts") }
            moe.routerBias = try source.vector(p + "ffn_gate_inp.bias", count: n)
            func biases(_ name: String, width: Int) throws -> ExpertBiases? {
                try source.optionalVector(p + name, count: width * n).map { ExpertBiases(values: $0, width: width) }
            }
            moe.gateBias = try biases("ffn_gate_exps.bias", width: f)
            moe.upBias = try biases("ffn_up_exps.bias", width: f)
            moe.downBias = try biases("ffn_down_exps.bias", width: e)
            moe.activation = .clampedSwiglu(alpha: 1.702, limit: 7)
            return DecoderLayer(attentionNorm: try source.vector(p + "attn_norm.weight", count: e),
                                attention: .standard(attention),
                                ffnNorm: try source.vector(p + "post_attention_norm.weight", count: e),
                                ffn: .moe(moe))
        }
    }
}
