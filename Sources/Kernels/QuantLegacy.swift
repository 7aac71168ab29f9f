/// Kernels for the 32-element block formats.
///
/// Q8_0 block (34 bytes): f16 d, then 32 int8 q; value = q·d.
/// Q4_0 block (18 bytes): f16 d, then 16 bytes; byte j holds element j in its low nibble and element j+16 in
/// its high nibble; value = (q − 8)·d.
enum LegacyQuants {
    static let q8_0Bytes = 34
    static let q4_0Bytes = 18

    /// The 32 values of a Q8_0 block as floats, before scaling by d.
    @inline(__always)
    static func q8_0Values(_ block: UnsafeRawPointer) -> (SIMD16<Float>, SIMD16<Float>) {
        (SIMD16<Float>(block.loadUnaligned(fromByteOffset: 2, as: SIMD16<Int8>.self)),
         SIMD16<Float>(block.loadUnaligned(fromByteOffset: 18, as: SIMD16<Int8>.self)))
    }

    /// The 32 values of a Q4_0 block as floats (q − 8), before scaling by d.
    @inline(__always)
    static func q4_0Values(_ block: UnsafeRawPointer) -> (SIMD16<Float>, SIMD16<Float>) {
        let qs = block.loadUnaligned(fromByteOffset: 2, as: SIMD16<UInt8>.self)
        return (SIMD16<Float>(qs & 0x0F) - 8, SIMD16<Float>(qs &>> 4) - 8)
    }

    @inline(__always)
    static func scale(_ block: UnsafeRawPointer) -> Float {
        Float(fp16Bits: block.loadUnaligned(as: UInt16.self))
    }

    static func dotQ8_0(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        var acc = SIMD16<Float>()
        for b in 0..<count / 32 {
            let block = row + b * q8_0Bytes
            let (lo, hi) = q8_0Values(block)
            acc += scale(block) * (lo * x.load16(32 * b) + hi * x.load16(32 * b + 16))
        }
        return acc.sum()
    }

    static func dotQ4_0(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        var acc = SIMD16<Float>()
        for b in 0..<count / 32 {
            let block = row + b * q4_0Bytes
            let (lo, hi) = q4_0Values(block)
            acc += scale(block) * (lo * x.load16(32 * b) + hi * x.load16(32 * b + 16))
        }
        return acc.sum()
    }

    static func dequantizeQ8_0(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<count / 32 {
            let block = src + b * q8_0Bytes
            let d = scale(block)
            let (lo, hi) = q8_0Values(block)
            dst.store16(d * lo, 32 * b)
            dst.store16(d * hi, 32 * b + 16)
        }
    }

    static func dequantizeQ4_0(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<count / 32 {
            let block = src + b * q4_0Bytes
            let d = scale(block)
            let (lo, hi) = q4_0Values(block)
            dst.store16(d * lo, 32 * b)
            dst.store16(d * hi, 32 * b + 16)
        }
    }

    /// ggml's reference Q8_0 quantizer: d = amax/127 (stored as f16), q = round(x/d) half away from zero,
    /// where the division uses the unrounded float d.
    static func quantizeQ8_0(_ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, count: Int) {
        for b in 0..<count / 32 {
            let x = src + 32 * b
            let block = dst + b * q8_0Bytes
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
            let block = dst + b * q4_0Bytes
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
