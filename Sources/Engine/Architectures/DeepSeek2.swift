import Kernels

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
            var absorbed: (ExpertMatrices, OwnedBytes)?
            if source.has(p + "attn_k_b.weight") {
                source.ignore(p + "attn_kv_b.weight")     // some files keep the unsplit copy too
                heads = .split(kB: try source.experts(p + "attn_k_b.weight", cols: nope, rows: lora, count: h),
                               vB: try source.experts(p + "attn_v_b.weight", cols: lora, rows: vLen, count: h))
            } else {
                let kvB = try source.matrix(p + "attn_kv_b.weight", cols: lora, rows: h * (nope + vLen))
                heads = .packed(kvB)
                absorbed = transposedKeys(kvB, heads: h, nope: nope, vLen: vLen, lora: lora)
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
                output: try source.matrix(p + "attn_output.weight", cols: h * vLen, rows: e),
                absorbedKeys: absorbed?.0, storage: absorbed?.1)
            return DecoderLayer(attentionNorm: norms.attention, attention: .latent(attention), ffnNorm: norms.ffn,
                                ffn: try DeepSeekArchitecture.feedForward(source, config, layer: i))
        }
    }

    /// Per head, the keyNoRope key rows of `attn_kv_b` (each kvLoraRank wide) transposed into kvLoraRank rows of
    /// keyNoRope, stored Q8_0: q_abs = K_bᵀ·q_nope becomes a product with 8-bit activations. nil when keyNoRope
    /// is not a multiple of 32.
    static func transposedKeys(_ kvB: WeightMatrix, heads: Int, nope: Int, vLen: Int, lora: Int)
        -> (ExpertMatrices, OwnedBytes)? {
        guard nope % 32 == 0, let rowBytes = TensorType.q8_0.byteCount(elements: nope) else { return nil }
        let perHead = lora * rowBytes
        let storage = OwnedBytes(count: heads * perHead)
        let rows = UnsafeMutablePointer<Float>.allocate(capacity: nope * lora)
        let column = UnsafeMutablePointer<Float>.allocate(capacity: nope)
        defer { rows.deallocate(); column.deallocate() }
        for head in 0..<heads {
            let first = head * (nope + vLen)
            for r in 0..<nope { Quant.dequantize(kvB.type, kvB.row(first + r), rows + r * lora, count: lora) }
            for c in 0..<lora {
                for r in 0..<nope { column[r] = rows[r * lora + c] }
                Quant.quantize(.q8_0, column, storage.pointer + head * perHead + c * rowBytes, count: nope)
            }
        }
        return (ExpertMatrices(type: .q8_0, rows: lora, cols: nope, count: heads, data: UnsafeRawPointer(storage.pointer),
                               stride: perHead), storage)
    }
}
