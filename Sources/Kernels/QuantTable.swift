/// Kernels for the lookup-table ("non-linear") 4-bit formats: each nibble indexes a table of 16 small
/// integers, scaled per block. Byte j of each 16 nibble bytes holds element j (low nibble) and j + 16 (high).
///
/// IQ4_NL (18 bytes per 32): f16 d, 16 nibble bytes; value = d·kvalues_iq4nl[q].
/// IQ4_XS (136 bytes per 256): f16 d, u16 scales_h, 4 bytes scales_l, 128 nibble bytes (16 per sub-block of
/// 32); sub-block i's 6-bit scale is nibble i % 2 of scales_l[i / 2] | bits 2i, 2i+1 of scales_h << 4;
/// value = d·(scale − 32)·kvalues_iq4nl[q].
/// MXFP4 (17 bytes per 32): an E8M0 exponent byte e, 16 nibble bytes; value = 2^(e − 128)·kvalues_mxfp4[q],
/// where kvalues_mxfp4 holds the E2M1 values doubled (hence 2^(e − 128), half of the OCP scale 2^(e − 127)).
enum TableQuants {
    /// ggml's kvalues_iq4nl.
    static let iq4nlValues: [Int8] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]
    /// ggml's kvalues_mxfp4: the E2M1 values 0, 0.5, 1, 1.5, 2, 3, 4, 6 (and their negatives) doubled.
    static let mxfp4Values: [Int8] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12]

    /// Float copies of the two tables, in one allocation made once; read-only afterwards.
    nonisolated(unsafe) static let tables: UnsafePointer<Float> = {
        let t = UnsafeMutablePointer<Float>.allocate(capacity: 32)
        for i in 0..<16 { t[i] = Float(iq4nlValues[i]); t[16 + i] = Float(mxfp4Values[i]) }
        return UnsafePointer(t)
    }()

    static let iq4_NLBytes = 18
    static let iq4_XSBytes = 136
    static let mxfp4Bytes = 17

    /// 2^(e − 128) as ggml's ggml_e8m0_to_fp32_half computes it (e < 2 gives the subnormals 2^-128, 2^-127).
    @inline(__always)
    static func e8m0Half(_ e: UInt8) -> Float {
        let bits: UInt32 = e < 2 ? 0x0020_0000 << UInt32(e) : UInt32(e - 1) << 23
        return Float(bitPattern: bits)
    }

    /// The table values of 32 elements from 16 nibble bytes: `lo` elements 0..<16, `hi` 16..<32.
    @inline(__always)
    static func lookup(_ qs: UnsafeRawPointer, _ table: UnsafePointer<Float>) -> (lo: SIMD16<Float>, hi: SIMD16<Float>) {
        let q = qs.loadUnaligned(as: SIMD16<UInt8>.self)
        var lo = SIMD16<Float>(), hi = SIMD16<Float>()
        for i in 0..<16 {
            lo[i] = table[Int(q[i] & 15)]
            hi[i] = table[Int(q[i] >> 4)]
        }
        return (lo, hi)
    }

    /// The 6-bit scale of IQ4_XS sub-block i (0..<8), minus 32.
    @inline(__always)
    static func iq4_XSScale(_ block: UnsafeRawPointer, _ i: Int) -> Int {
        let high = Int(block.loadUnaligned(fromByteOffset: 2, as: UInt16.self) >> UInt16(2 * i)) & 3
        let low = Int(block.load(fromByteOffset: 4 + i / 2, as: UInt8.self) >> UInt8(4 * (i % 2))) & 15
        return (low | high << 4) - 32
    }

    /// Σ d·t[q]·x over 32-element blocks of `blockBytes` with the nibbles at `qsOffset` and a scale from `scale`.
    @inline(__always)
    static func dot32(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int, blockBytes: Int, qsOffset: Int,
                      table: UnsafePointer<Float>, _ scale: (UnsafeRawPointer) -> Float) -> Float {
        var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
        for b in 0..<count / 32 {
            let block = row + b * blockBytes
            let d = scale(block)
            let v = lookup(block + qsOffset, table)
            acc0 += d * v.lo * x.load16(32 * b)
            acc1 += d * v.hi * x.load16(32 * b + 16)
        }
        return (acc0 + acc1).sum()
    }

    @inline(__always)
    static func dequantize32(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int, blockBytes: Int,
                             qsOffset: Int, table: UnsafePointer<Float>, _ scale: (UnsafeRawPointer) -> Float) {
        for b in 0..<count / 32 {
            let block = src + b * blockBytes
            let d = scale(block)
            let v = lookup(block + qsOffset, table)
            dst.store16(d * v.lo, 32 * b)
            dst.store16(d * v.hi, 32 * b + 16)
        }
    }

    @inline(__always)
    static func f16Scale(_ block: UnsafeRawPointer) -> Float { Float(fp16Bits: block.loadUnaligned(as: UInt16.self)) }

    @inline(__always)
    static func e8m0Scale(_ block: UnsafeRawPointer) -> Float { e8m0Half(block.load(as: UInt8.self)) }

    static func dotIQ4_NL(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        dot32(row, x, count: count, blockBytes: iq4_NLBytes, qsOffset: 2, table: tables, f16Scale)
    }

    static func dotMXFP4(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        dot32(row, x, count: count, blockBytes: mxfp4Bytes, qsOffset: 1, table: tables + 16, e8m0Scale)
    }

    static func dequantizeIQ4_NL(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        dequantize32(src, dst, count: count, blockBytes: iq4_NLBytes, qsOffset: 2, table: tables, f16Scale)
    }

    static func dequantizeMXFP4(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        dequantize32(src, dst, count: count, blockBytes: mxfp4Bytes, qsOffset: 1, table: tables + 16, e8m0Scale)
    }

    static func dotIQ4_XS(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
        for b in 0..<count / 256 {
            let block = row + b * iq4_XSBytes
            let d = f16Scale(block)
            for i in 0..<8 {
                let dl = d * Float(iq4_XSScale(block, i))
                let v = lookup(block + 8 + 16 * i, tables)
                acc0 += dl * v.lo * x.load16(256 * b + 32 * i)
                acc1 += dl * v.hi * x.load16(256 * b + 32 * i + 16)
            }
        }
        return (acc0 + acc1).sum()
    }

    /// (d·(scale − 32))·t[q], in ggml's order of operations.
    static func dequantizeIQ4_XS(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<count / 256 {
            let block = src + b * iq4_XSBytes
            let d = f16Scale(block)
            for i in 0..<8 {
                let dl = d * Float(iq4_XSScale(block, i))
                let v = lookup(block + 8 + 16 * i, tables)
                dst.store16(dl * v.lo, 256 * b + 32 * i)
                dst.store16(dl * v.hi, 256 * b + 32 * i + 16)
            }
        }
    }
}
