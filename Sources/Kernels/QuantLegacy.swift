/// Kernels for the 32-element block formats. In every one, byte j of the 16 nibble bytes holds element j in
/// its low nibble and element j+16 in its high nibble; Q5 formats take each element's fifth bit from a
/// little-endian 32-bit qh (bit j is element j's).
///
/// Q8_0 (34 bytes): f16 d, 32 int8 q               value = q·d
/// Q4_0 (18 bytes): f16 d, 16 nibble bytes          value = (q − 8)·d
/// Q4_1 (20 bytes): f16 d, f16 m, 16 nibble bytes   value = q·d + m
/// Q5_0 (22 bytes): f16 d, qh, 16 nibble bytes      value = (q − 16)·d
/// Q5_1 (24 bytes): f16 d, f16 m, qh, 16 bytes      value = q·d + m
enum LegacyQuants {
    /// Row b (8 bytes) holds 16 at byte k where bit k of b is set, else 0: a byte of qh spread into the
    /// fifth bits of eight elements with two loads instead of per-lane bit tests (2 KiB, built once).
    /// Written only by its initializer, then read-only, hence safe to share.
    nonisolated(unsafe) static let fifthBitTable: UnsafePointer<SIMD8<UInt8>> = {
        let table = UnsafeMutablePointer<SIMD8<UInt8>>.allocate(capacity: 256)
        for b in 0..<256 {
            var row = SIMD8<UInt8>()
            for k in 0..<8 where b & (1 << k) != 0 { row[k] = 16 }
            table[b] = row
        }
        return UnsafePointer(table)
    }()

    /// The 32 stored integers of a block as floats, before bias and scale: `lo` holds elements 0..<16, `hi` 16..<32.
    typealias Values = (lo: SIMD16<Float>, hi: SIMD16<Float>)

    @inline(__always)
    static func half(_ block: UnsafeRawPointer, _ offset: Int) -> Float {
        Float(fp16Bits: block.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inline(__always)
    static func q8_0Values(_ block: UnsafeRawPointer) -> Values {
        (SIMD16<Float>(block.loadUnaligned(fromByteOffset: 2, as: SIMD16<Int8>.self)),
         SIMD16<Float>(block.loadUnaligned(fromByteOffset: 18, as: SIMD16<Int8>.self)))
    }

    /// The nibbles at `offset`.
    @inline(__always)
    static func nibbleValues(_ block: UnsafeRawPointer, at offset: Int) -> Values {
        let qs = block.loadUnaligned(fromByteOffset: offset, as: SIMD16<UInt8>.self)
        return (SIMD16<Float>(qs & 0x0F), SIMD16<Float>(qs &>> 4))
    }

    /// Five-bit values: nibbles at `offset`, fifth bits from the 4 bytes before them.
    @inline(__always)
    static func fiveBitValues(_ block: UnsafeRawPointer, at offset: Int) -> Values {
        let qs = block.loadUnaligned(fromByteOffset: offset, as: SIMD16<UInt8>.self)
        let qh = (block + offset - 4).assumingMemoryBound(to: UInt8.self)
        let table = UnsafeRawPointer(fifthBitTable)
        // Byte k of qh holds the fifth bits of elements 8k..<8k+8; each table row spreads one byte.
        let lowFifth = SIMD16<UInt8>(lowHalf: table.loadUnaligned(fromByteOffset: 8 * Int(qh[0]), as: SIMD8<UInt8>.self),
                                     highHalf: table.loadUnaligned(fromByteOffset: 8 * Int(qh[1]), as: SIMD8<UInt8>.self))
        let highFifth = SIMD16<UInt8>(lowHalf: table.loadUnaligned(fromByteOffset: 8 * Int(qh[2]), as: SIMD8<UInt8>.self),
                                      highHalf: table.loadUnaligned(fromByteOffset: 8 * Int(qh[3]), as: SIMD8<UInt8>.self))
        return (SIMD16<Float>((qs & 0x0F) | lowFifth), SIMD16<Float>((qs &>> 4) | highFifth))
    }

    /// Every legacy format's value is d·q + c, with c = m (stored after d, when `hasMin`) − bias·d.
    /// (For the biased formats d·q − bias·d equals ggml's (q − bias)·d bit for bit: d has 11 significant
    /// bits and q at most 5, so both products and their difference are exact.)
    @inline(__always)
    static func offset(_ block: UnsafeRawPointer, d: Float, bias: Float, hasMin: Bool) -> Float {
        (hasMin ? half(block, 2) : 0) - bias * d
    }

    /// Σ (d·q + c)·x over the blocks of a row. The offset is added after scaling because LLVM turns
    /// `Float(q) − 8` into byte arithmetic it then fails to vectorize (2× slower).
    @inline(__always)
    static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int, blockBytes: Int,
                    bias: Float, hasMin: Bool, _ values: (UnsafeRawPointer) -> Values) -> Float {
        var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
        for b in 0..<count / 32 {
            let block = row + b * blockBytes
            let v = values(block)
            let d = half(block, 0)
            if bias == 0 && !hasMin {
                acc0 += d * v.lo * x.load16(32 * b)
                acc1 += d * v.hi * x.load16(32 * b + 16)
            } else {
                let c = offset(block, d: d, bias: bias, hasMin: hasMin)
                acc0 += (d * v.lo + c) * x.load16(32 * b)
                acc1 += (d * v.hi + c) * x.load16(32 * b + 16)
            }
        }
        return (acc0 + acc1).sum()
    }

    @inline(__always)
    static func dequantize(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int, blockBytes: Int,
                           bias: Float, hasMin: Bool, _ values: (UnsafeRawPointer) -> Values) {
        for b in 0..<count / 32 {
            let block = src + b * blockBytes
            let d = half(block, 0)
            let c = offset(block, d: d, bias: bias, hasMin: hasMin)
            let v = values(block)
            dst.store16(d * v.lo + c, 32 * b)
            dst.store16(d * v.hi + c, 32 * b + 16)
        }
    }

    static func dotQ8_0(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        dot(row, x, count: count, blockBytes: 34, bias: 0, hasMin: false, q8_0Values)
    }

    static func dotQ4_0(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        dot(row, x, count: count, blockBytes: 18, bias: 8, hasMin: false) { nibbleValues($0, at: 2) }
    }

    static func dotQ4_1(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        dot(row, x, count: count, blockBytes: 20, bias: 0, hasMin: true) { nibbleValues($0, at: 4) }
    }

    static func dotQ5_0(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        dot(row, x, count: count, blockBytes: 22, bias: 16, hasMin: false) { fiveBitValues($0, at: 6) }
    }

    static func dotQ5_1(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        dot(row, x, count: count, blockBytes: 24, bias: 0, hasMin: true) { fiveBitValues($0, at: 8) }
    }

    static func dequantize(_ type: TensorType, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        switch type {
        case .q8_0: dequantize(src, dst, count: count, blockBytes: 34, bias: 0, hasMin: false, q8_0Values)
        case .q4_0: dequantize(src, dst, count: count, blockBytes: 18, bias: 8, hasMin: false) { nibbleValues($0, at: 2) }
        case .q4_1: dequantize(src, dst, count: count, blockBytes: 20, bias: 0, hasMin: true) { nibbleValues($0, at: 4) }
        case .q5_0: dequantize(src, dst, count: count, blockBytes: 22, bias: 16, hasMin: false) { fiveBitValues($0, at: 6) }
        case .q5_1: dequantize(src, dst, count: count, blockBytes: 24, bias: 0, hasMin: true) { fiveBitValues($0, at: 8) }
        default: preconditionFailure("\(type.name) is not a 32-element legacy quant")
        }
    }

    /// ggml's reference Q8_0 quantizer: d = amax/127 (stored as f16), q = round(x/d) half away from zero,
    /// where the division uses the unrounded float d.
    static func quantizeQ8_0(_ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, count: Int) {
        for b in 0..<count / 32 {
            let x = src + 32 * b
            let block = dst + b * 34
            var amax: Float = 0
            for j in 0..<32 { amax = max(amax, abs(x[j])) }
            let d = amax / 127
            let id: Float = d != 0 ? 1 / d : 0
            block.storeBytes(of: d.fp16Bits, as: UInt16.self)
            for j in 0..<32 {
                block.storeBytes(of: Int8((x[j] * id).rounded(.toNearestOrAwayFromZero)), toByteOffset: 2 + j, as: Int8.self)
            }
        }
    }

    /// ggml's reference Q4_0 quantizer: d = (the value of largest magnitude, sign kept)/−8, stored as f16;
    /// q = min(15, trunc(x/d + 8.5)), where the division uses the unrounded float d.
    static func quantizeQ4_0(_ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, count: Int) {
        for b in 0..<count / 32 {
            let x = src + 32 * b
            let block = dst + b * 18
            var amax: Float = 0, extreme: Float = 0
            for j in 0..<32 where amax < abs(x[j]) {
                amax = abs(x[j])
                extreme = x[j]
            }
            let d = extreme / -8
            let id: Float = d != 0 ? 1 / d : 0
            block.storeBytes(of: d.fp16Bits, as: UInt16.self)
            for j in 0..<16 {
                let lo = min(15, UInt8(Int8(x[j] * id + 8.5)))
                let hi = min(15, UInt8(Int8(x[j + 16] * id + 8.5)))
                block.storeBytes(of: lo | hi << 4, toByteOffset: 2 + j, as: UInt8.self)
            }
        }
    }
}
