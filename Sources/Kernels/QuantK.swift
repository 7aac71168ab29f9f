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

    /// 16 of the 4- or 5-bit values of group g (elements 64g..<64g+64) of a Q4_K/Q5_K super-block, half h:
    /// `lo` is elements 64g+16h..<+16 (sub-block 2g), `hi` elements 64g+32+16h..<+16 (sub-block 2g+1).
    /// Q5_K's fifth bits are bits 2g and 2g+1 of qh[l].
    @inline(__always)
    static func groupValues(_ block: UnsafeRawPointer, group g: Int, half h: Int, fifthBits: Bool)
        -> (lo: SIMD16<Float>, hi: SIMD16<Float>) {
        let q = block.loadUnaligned(fromByteOffset: (fifthBits ? 48 : 16) + 32 * g + 16 * h, as: SIMD16<UInt8>.self)
        var lo = q & 0x0F, hi = q &>> 4
        if fifthBits {
            let bits = block.loadUnaligned(fromByteOffset: 16 + 16 * h, as: SIMD16<UInt8>.self) &>> UInt8(2 * g)
            lo |= (bits & 1) &<< 4
            hi |= (bits & 2) &<< 3
        }
        return (SIMD16<Float>(lo), SIMD16<Float>(hi))
    }

    /// Q4_K and Q5_K dot: Σ (d·scale·q − dmin·min)·x, 16 elements at a time so that the live values fit
    /// SSE's 16 registers (whole 64-element groups at once spilled heavily).
    @inline(__always)
    static func scaleMinDot(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int, fifthBits: Bool) -> Float {
        let blockBytes = fifthBits ? q5_KBytes : q4_KBytes
        var accLo = SIMD16<Float>(), accHi = SIMD16<Float>()
        for b in 0..<count / 256 {
            let block = row + b * blockBytes
            let d = Float(fp16Bits: block.loadUnaligned(as: UInt16.self))
            let dmin = Float(fp16Bits: block.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
            let xb = x + 256 * b
            for g in 0..<4 {
                let (sLo, mLo) = q4_KScaleMin(block + 4, 2 * g)
                let (sHi, mHi) = q4_KScaleMin(block + 4, 2 * g + 1)
                let dLo = d * sLo, dHi = d * sHi, minLo = dmin * mLo, minHi = dmin * mHi
                for h in 0..<2 {
                    let v = groupValues(block, group: g, half: h, fifthBits: fifthBits)
                    accLo += (dLo * v.lo - minLo) * xb.load16(64 * g + 16 * h)
                    accHi += (dHi * v.hi - minHi) * xb.load16(64 * g + 32 + 16 * h)
                }
            }
        }
        return (accLo + accHi).sum()
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
                for h in 0..<2 {
                    let v = groupValues(block, group: g, half: h, fifthBits: fifthBits)
                    yb.store16((d * sLo) * v.lo - dmin * mLo, 64 * g + 16 * h)
                    yb.store16((d * sHi) * v.hi - dmin * mHi, 64 * g + 32 + 16 * h)
                }
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

    /// Σ (d·scale·q − 32·d·scale)·x, one group of 16 at a time (register pressure, as in `scaleMinDot`); the
    /// bias is applied after the scale because LLVM turns `Float(q) − 32` into byte arithmetic it cannot vectorize.
    static func dotQ6_K(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
        for b in 0..<count / 256 {
            let block = row + b * q6_KBytes
            let d = Float(fp16Bits: block.loadUnaligned(fromByteOffset: 208, as: UInt16.self))
            for half in 0..<2 {
                let ql = block + 64 * half, qh = block + 128 + 32 * half
                let sc = (block + 192 + 8 * half).assumingMemoryBound(to: Int8.self)
                let xh = x + 256 * b + 128 * half
                for l in stride(from: 0, to: 32, by: 16) {
                    let a = ql.loadUnaligned(fromByteOffset: l, as: SIMD16<UInt8>.self)
                    let c = ql.loadUnaligned(fromByteOffset: l + 32, as: SIMD16<UInt8>.self)
                    let h = qh.loadUnaligned(fromByteOffset: l, as: SIMD16<UInt8>.self)
                    let s = l / 16
                    let d0 = d * Float(sc[s]), d1 = d * Float(sc[s + 2])
                    let d2 = d * Float(sc[s + 4]), d3 = d * Float(sc[s + 6])
                    acc0 += (d0 * SIMD16<Float>((a & 0x0F) | ((h & 0x03) &<< 4)) - 32 * d0) * xh.load16(l)
                    acc1 += (d1 * SIMD16<Float>((c & 0x0F) | (((h &>> 2) & 0x03) &<< 4)) - 32 * d1) * xh.load16(l + 32)
                    acc0 += (d2 * SIMD16<Float>((a &>> 4) | (((h &>> 4) & 0x03) &<< 4)) - 32 * d2) * xh.load16(l + 64)
                    acc1 += (d3 * SIMD16<Float>((c &>> 4) | ((h &>> 6) &<< 4)) - 32 * d3) * xh.load16(l + 96)
                }
            }
        }
        return (acc0 + acc1).sum()
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

/// The low-bit K-quants: 256-element super-blocks cut into 16 groups of 16, each group with its own scale.
/// In both, element e = 128n + 32j + l (n: half, j: 0..<4, l: 0..<32) keeps its two low bits in bits 2j, 2j+1
/// of qs[32n + l], and uses scale e / 16.
///
/// Q2_K (84 bytes): 16 scale bytes (low nibble: scale, high nibble: min), 64 bytes qs, f16 d, f16 dmin;
/// value = d·scale·q − dmin·min with q in 0...3.
///
/// Q3_K (110 bytes): 32 bytes hmask, 64 bytes qs, 12 bytes of packed 6-bit scales, f16 d; bit 4n+j of
/// hmask[l] is the third bit of element e; value = d·(scale − 32)·(q − 4) with q in 0...7. Scale s takes
/// its low 4 bits from nibble s / 8 of byte s % 8 and its top 2 bits from bits 2(s / 4), +1 of byte 8 + s % 4.
enum LowBitKQuants {
    static let q2_KBytes = 84
    static let q3_KBytes = 110

    /// The 16 signed scales (already minus 32) of a Q3_K super-block from its 12 packed bytes.
    @inline(__always)
    static func q3_KScale(_ packed: UnsafeRawPointer, _ s: Int) -> Int {
        let p = packed.assumingMemoryBound(to: UInt8.self)
        let low = (Int(p[s % 8]) >> (4 * (s / 8))) & 15
        let high = (Int(p[8 + s % 4]) >> (2 * (s / 4))) & 3
        return (low | high << 4) - 32
    }

    /// The 2-bit values of the 16 elements 128n + 32j + 16k ..< +16.
    @inline(__always)
    static func twoBits(_ qs: UnsafeRawPointer, n: Int, j: Int, k: Int) -> SIMD16<UInt8> {
        (qs.loadUnaligned(fromByteOffset: 32 * n + 16 * k, as: SIMD16<UInt8>.self) &>> UInt8(2 * j)) & 3
    }

    /// Q3_K's third bits of the same 16 elements, as 0 or 4.
    @inline(__always)
    static func thirdBits(_ hmask: UnsafeRawPointer, n: Int, j: Int, k: Int) -> SIMD16<UInt8> {
        ((hmask.loadUnaligned(fromByteOffset: 16 * k, as: SIMD16<UInt8>.self) &>> UInt8(4 * n + j)) & 1) &<< 2
    }

    static func dotQ2_K(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
        for b in 0..<count / 256 {
            let block = row + b * q2_KBytes
            let scales = block.assumingMemoryBound(to: UInt8.self)
            let d = Float(fp16Bits: block.loadUnaligned(fromByteOffset: 80, as: UInt16.self))
            let dmin = Float(fp16Bits: block.loadUnaligned(fromByteOffset: 82, as: UInt16.self))
            let xb = x + 256 * b
            for n in 0..<2 {
                for j in 0..<4 {
                    let s = 8 * n + 2 * j, e = 128 * n + 32 * j
                    let d0 = d * Float(scales[s] & 15), m0 = dmin * Float(scales[s] >> 4)
                    let d1 = d * Float(scales[s + 1] & 15), m1 = dmin * Float(scales[s + 1] >> 4)
                    acc0 += (d0 * SIMD16<Float>(twoBits(block + 16, n: n, j: j, k: 0)) - m0) * xb.load16(e)
                    acc1 += (d1 * SIMD16<Float>(twoBits(block + 16, n: n, j: j, k: 1)) - m1) * xb.load16(e + 16)
                }
            }
        }
        return (acc0 + acc1).sum()
    }

    /// (d·scale)·q − dmin·min, in ggml's order of operations.
    static func dequantizeQ2_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<count / 256 {
            let block = src + b * q2_KBytes
            let scales = block.assumingMemoryBound(to: UInt8.self)
            let d = Float(fp16Bits: block.loadUnaligned(fromByteOffset: 80, as: UInt16.self))
            let dmin = Float(fp16Bits: block.loadUnaligned(fromByteOffset: 82, as: UInt16.self))
            let yb = dst + 256 * b
            for n in 0..<2 {
                for j in 0..<4 {
                    for k in 0..<2 {
                        let s = 8 * n + 2 * j + k
                        let dl = d * Float(scales[s] & 15), ml = dmin * Float(scales[s] >> 4)
                        yb.store16(dl * SIMD16<Float>(twoBits(block + 16, n: n, j: j, k: k)) - ml, 16 * s)
                    }
                }
            }
        }
    }

    /// Σ (d·(scale − 32)·q − 4·d·(scale − 32))·x with q in 0...7 (the bias after the scale, as in Q6_K).
    static func dotQ3_K(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
        for b in 0..<count / 256 {
            let block = row + b * q3_KBytes
            let d = Float(fp16Bits: block.loadUnaligned(fromByteOffset: 108, as: UInt16.self))
            let xb = x + 256 * b
            for n in 0..<2 {
                for j in 0..<4 {
                    let s = 8 * n + 2 * j, e = 128 * n + 32 * j
                    let d0 = d * Float(q3_KScale(block + 96, s)), d1 = d * Float(q3_KScale(block + 96, s + 1))
                    let q0 = twoBits(block + 32, n: n, j: j, k: 0) | thirdBits(block, n: n, j: j, k: 0)
                    let q1 = twoBits(block + 32, n: n, j: j, k: 1) | thirdBits(block, n: n, j: j, k: 1)
                    acc0 += (d0 * SIMD16<Float>(q0) - 4 * d0) * xb.load16(e)
                    acc1 += (d1 * SIMD16<Float>(q1) - 4 * d1) * xb.load16(e + 16)
                }
            }
        }
        return (acc0 + acc1).sum()
    }

    /// (d·(scale − 32))·(q − 4), in ggml's order of operations.
    static func dequantizeQ3_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<count / 256 {
            let block = src + b * q3_KBytes
            let d = Float(fp16Bits: block.loadUnaligned(fromByteOffset: 108, as: UInt16.self))
            let yb = dst + 256 * b
            for n in 0..<2 {
                for j in 0..<4 {
                    for k in 0..<2 {
                        let s = 8 * n + 2 * j + k
                        let q = twoBits(block + 32, n: n, j: j, k: k) | thirdBits(block, n: n, j: j, k: k)
                        yb.store16((d * Float(q3_KScale(block + 96, s))) * (SIMD16<Float>(q) - 4), 16 * s)
                    }
                }
            }
        }
    }
}
