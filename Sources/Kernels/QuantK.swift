/// Kernels for the 256-element K-quant super-blocks.
///
/// Q4_K (144 bytes): f16 d, f16 dmin, 12 bytes of packed 6-bit (scale, min) pairs for 8 sub-blocks of 32,
/// 128 bytes of nibbles. Byte l of each 32-byte group g holds element 64g+l (low nibble, sub-block 2g) and
/// element 64g+32+l (high nibble, sub-block 2g+1); value = d·scale·q − dmin·min.
///
/// Q5_K (176 bytes): f16 d, f16 dmin, the same 12 scale bytes, 32 bytes qh, 128 bytes of nibbles laid out as
/// in Q4_K; bits 2g and 2g+1 of qh[l] are the fifth bits of elements 64g+l and 64g+32+l.
///
/// Q6_K (210 bytes): 128 bytes ql (low 4 bits), 64 bytes qh (high 2 bits), 16 int8 scales (one per 16
/// elements), f16 d; value = d·scale·(q − 32). Each half of 128 elements uses 64 ql, 32 qh and 8 scales:
/// for l in 0..<32, ql[l] low/high nibbles are elements l and l+64, ql[l+32] low/high are l+32 and l+96,
/// and qh[l] bits 0-1, 2-3, 4-5, 6-7 are the high bits of elements l, l+32, l+64, l+96.
enum KQuants {
    static let q4_KBytes = 144
    static let q5_KBytes = 176
    static let q6_KBytes = 210

    /// The 6-bit scale and min of Q4_K/Q5_K sub-block `j` (0..<8) from the 12 packed bytes: sub-blocks 0-3 keep
    /// theirs in the low 6 bits of bytes j and j+4; sub-blocks 4-7 take 4 low bits from byte j+4 (scale:
    /// low nibble, min: high nibble) and their top 2 bits from the spare top bits of bytes j−4 and j.
    @inline(__always)
    static func q4_KScaleMin(_ scales: UnsafeRawPointer, _ j: Int) -> (scale: Float, min: Float) {
        let s = scales.assumingMemoryBound(to: UInt8.self)
        if j < 4 {
            return (Float(s[j] & 63), Float(s[j + 4] & 63))
        }
        let scale = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4)
        let min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4)
        return (Float(scale), Float(min))
    }

    /// The 4- or 5-bit values of group g (elements 64g..<64g+64) of a Q4_K/Q5_K super-block as floats: `lo` is
    /// sub-block 2g (two halves of 16), `hi` sub-block 2g+1. Q5_K's fifth bits are bits 2g and 2g+1 of qh[l].
    @inline(__always)
    static func groupValues(_ block: UnsafeRawPointer, group g: Int, fifthBits: Bool)
        -> (lo0: SIMD16<Float>, lo1: SIMD16<Float>, hi0: SIMD16<Float>, hi1: SIMD16<Float>) {
        let qsOffset = fifthBits ? 48 : 16
        var q0 = block.loadUnaligned(fromByteOffset: qsOffset + 32 * g, as: SIMD16<UInt8>.self)
        var q1 = block.loadUnaligned(fromByteOffset: qsOffset + 32 * g + 16, as: SIMD16<UInt8>.self)
        var lo0 = q0 & 0x0F, lo1 = q1 & 0x0F
        q0 &>>= 4
        q1 &>>= 4
        if fifthBits {
            let h0 = block.loadUnaligned(fromByteOffset: 16, as: SIMD16<UInt8>.self) &>> UInt8(2 * g)
            let h1 = block.loadUnaligned(fromByteOffset: 32, as: SIMD16<UInt8>.self) &>> UInt8(2 * g)
            lo0 |= (h0 & 1) &<< 4
            lo1 |= (h1 & 1) &<< 4
            q0 |= (h0 & 2) &<< 3
            q1 |= (h1 & 2) &<< 3
        }
        return (SIMD16<Float>(lo0), SIMD16<Float>(lo1), SIMD16<Float>(q0), SIMD16<Float>(q1))
    }

    /// Q4_K and Q5_K dot: Σ over sub-blocks of d·scale·Σ q·x − dmin·min·Σ x.
    @inline(__always)
    static func scaleMinDot(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int, fifthBits: Bool) -> Float {
        let blockBytes = fifthBits ? q5_KBytes : q4_KBytes
        var acc = SIMD16<Float>()
        for b in 0..<count / 256 {
            let block = row + b * blockBytes
            let d = Float(fp16Bits: block.loadUnaligned(as: UInt16.self))
            let dmin = Float(fp16Bits: block.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
            let xb = x + 256 * b
            for g in 0..<4 {
                let v = groupValues(block, group: g, fifthBits: fifthBits)
                let x0 = xb.load16(64 * g), x1 = xb.load16(64 * g + 16)
                let x2 = xb.load16(64 * g + 32), x3 = xb.load16(64 * g + 48)
                let (sLo, mLo) = q4_KScaleMin(block + 4, 2 * g)
                let (sHi, mHi) = q4_KScaleMin(block + 4, 2 * g + 1)
                let lo: SIMD16<Float> = v.lo0 * x0 + v.lo1 * x1
                let hi: SIMD16<Float> = v.hi0 * x2 + v.hi1 * x3
                let scaled: SIMD16<Float> = (d * sLo) * lo + (d * sHi) * hi
                let mins: SIMD16<Float> = (dmin * mLo) * (x0 + x1) + (dmin * mHi) * (x2 + x3)
                acc += scaled - mins
            }
        }
        return acc.sum()
    }

    @inline(__always)
    static func scaleMinDequantize(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int, fifthBits: Bool) {
        let blockBytes = fifthBits ? q5_KBytes : q4_KBytes
        for b in 0..<count / 256 {
            let block = src + b * blockBytes
            let d = Float(fp16Bits: block.loadUnaligned(as: UInt16.self))
            let dmin = Float(fp16Bits: block.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
            let yb = dst + 256 * b
            for g in 0..<4 {
                let (sLo, mLo) = q4_KScaleMin(block + 4, 2 * g)
                let (sHi, mHi) = q4_KScaleMin(block + 4, 2 * g + 1)
                let v = groupValues(block, group: g, fifthBits: fifthBits)
                yb.store16((d * sLo) * v.lo0 - dmin * mLo, 64 * g)
                yb.store16((d * sLo) * v.lo1 - dmin * mLo, 64 * g + 16)
                yb.store16((d * sHi) * v.hi0 - dmin * mHi, 64 * g + 32)
                yb.store16((d * sHi) * v.hi1 - dmin * mHi, 64 * g + 48)
            }
        }
    }

    static func dotQ4_K(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        scaleMinDot(row, x, count: count, fifthBits: false)
    }

    static func dotQ5_K(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        scaleMinDot(row, x, count: count, fifthBits: true)
    }

    static func dequantizeQ4_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        scaleMinDequantize(src, dst, count: count, fifthBits: false)
    }

    static func dequantizeQ5_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        scaleMinDequantize(src, dst, count: count, fifthBits: true)
    }

    /// The four groups of 16 six-bit values (unbiased: 0...63) built from ql[l..<l+16], ql[l+32..<l+48] and
    /// qh[l..<l+16] of one 128-element half (l is 0 or 16): elements l, l+32, l+64 and l+96 onwards.
    @inline(__always)
    static func q6_KValues(_ ql: UnsafeRawPointer, _ qh: UnsafeRawPointer, _ l: Int)
        -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
        let a = ql.loadUnaligned(fromByteOffset: l, as: SIMD16<UInt8>.self)
        let c = ql.loadUnaligned(fromByteOffset: l + 32, as: SIMD16<UInt8>.self)
        let h = qh.loadUnaligned(fromByteOffset: l, as: SIMD16<UInt8>.self)
        let q0 = (a & 0x0F) | ((h & 0x03) &<< 4)
        let q1 = (c & 0x0F) | (((h &>> 2) & 0x03) &<< 4)
        let q2 = (a &>> 4) | (((h &>> 4) & 0x03) &<< 4)
        let q3 = (c &>> 4) | ((h &>> 6) &<< 4)
        return (SIMD16<Float>(q0), SIMD16<Float>(q1), SIMD16<Float>(q2), SIMD16<Float>(q3))
    }

    /// Σ d·scale·(q − 32)·x, computed per group of 16 as d·scale·(Σ q·x − 32·Σ x) (see LegacyQuants.dot for
    /// why the bias is not subtracted from each q).
    static func dotQ6_K(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        var acc = SIMD16<Float>()
        for b in 0..<count / 256 {
            let block = row + b * q6_KBytes
            let d = Float(fp16Bits: block.loadUnaligned(fromByteOffset: 208, as: UInt16.self))
            for half in 0..<2 {
                let ql = block + 64 * half, qh = block + 128 + 32 * half
                let sc = (block + 192 + 8 * half).assumingMemoryBound(to: Int8.self)
                let xh = x + 256 * b + 128 * half
                for l in stride(from: 0, to: 32, by: 16) {
                    let (v0, v1, v2, v3) = q6_KValues(ql, qh, l)
                    let s = l / 16
                    let x0 = xh.load16(l), x1 = xh.load16(l + 32), x2 = xh.load16(l + 64), x3 = xh.load16(l + 96)
                    let p0: SIMD16<Float> = (d * Float(sc[s])) * (v0 * x0 - 32 * x0)
                    let p1: SIMD16<Float> = (d * Float(sc[s + 2])) * (v1 * x1 - 32 * x1)
                    let p2: SIMD16<Float> = (d * Float(sc[s + 4])) * (v2 * x2 - 32 * x2)
                    let p3: SIMD16<Float> = (d * Float(sc[s + 6])) * (v3 * x3 - 32 * x3)
                    acc += (p0 + p1) + (p2 + p3)
                }
            }
        }
        return acc.sum()
    }

    /// d·scale·(q − 32), in ggml's order of operations so the floats match its dequantizer bit for bit.
    static func dequantizeQ6_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<count / 256 {
            let block = src + b * q6_KBytes
            let d = Float(fp16Bits: block.loadUnaligned(fromByteOffset: 208, as: UInt16.self))
            for half in 0..<2 {
                let ql = block + 64 * half, qh = block + 128 + 32 * half
                let sc = (block + 192 + 8 * half).assumingMemoryBound(to: Int8.self)
                let yh = dst + 256 * b + 128 * half
                for l in stride(from: 0, to: 32, by: 16) {
                    let (v0, v1, v2, v3) = q6_KValues(ql, qh, l)
                    let s = l / 16
                    yh.store16((d * Float(sc[s])) * (v0 - 32), l)
                    yh.store16((d * Float(sc[s + 2])) * (v1 - 32), l + 32)
                    yh.store16((d * Float(sc[s + 4])) * (v2 - 32), l + 64)
                    yh.store16((d * Float(sc[s + 6])) * (v3 - 32), l + 96)
                }
            }
        }
    }
}
