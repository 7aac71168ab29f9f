/// `deepseek2` (DeepSeek-V2, DeepSeek-Coder-V2): multi-head latent attention plus DeepSeek-MoE.
///
/// Loads both GGUF layouts: one `attn_kv_b` per layer (older converters) or per-head `attn_k_b`/`attn_v_b`
/// (current converters, which also set `head_count_kv` 1 and the `*_mla` key/value lengths).
enum DeepSeek2Architecture {
    static func layers(_ source: TensorSource, _ config: ModelConfig) throws -> [DecoderLayer] {
        let e = config.embeddingLength, h = config.headCount
        let kLen = config.keyLength, vLen = config.valueLength, nope = config.keyNoRopeLength
        let lora = config.kvLoraRank, rope = config.rope.dimensions
        return try (0..<config.blockCount).map { i in
            let p = "blk.\(i)."
            let norms = try source.norms(layer: i, config: config)
            let heads: LatentAttention.HeadProjections
            if source.has(p + "attn_k_b.weight") {
                heads = .split(kB: try source.experts(p + "attn_k_b.weight", cols: nope, rows: lora, count: h),
                               vB: try source.experts(p + "attn_v_b.weight", cols: lora, rows: vLen, count: h))
            } else {
                heads = .packed(try source.matrix(p + "attn_kv_b.weight", cols: lora, rows: h * (nope + vLen)))
            }
            let q = config.qLoraRank > 0
            let attention = LatentAttention(
                qA: q ? try source.matrix(p + "attn_q_a.weight", cols: e, rows: config.qLoraRank) : nil,
                qANorm: q ? try source.vector(p + "attn_q_a_norm.weight", count: config.qLoraRank) : nil,
                qB: q ? try source.matrix(p + "attn_q_b.weight", cols: config.qLoraRank, rows: h * kLen) : nil,
                q: q ? nil : try source.matrix(p + "attn_q.weight", cols: e, rows: h * kLen),
                kvA: try source.matrix(p + "attn_kv_a_mqa.weight", cols: e, rows: lora + rope),
                kvANorm: try source.vector(p + "attn_kv_a_norm.weight", count: lora),
                heads: heads,
                output: try source.matrix(p + "attn_output.weight", cols: h * vLen, rows: e))
            return DecoderLayer(attentionNorm: norms.attention, attention: .latent(attention), ffnNorm: norms.ffn,
                                ffn: try DeepSeekArchitecture.feedForward(source, config, layer: i))
        }
    }
}
