/// IEEE half (fp16) and bfloat16 conversions, bit-exact with ggml's reference conversions:
/// round to nearest, ties to even; NaN stays NaN (quieted), infinities and subnormals are kept.
extension Float {
    /// The float an IEEE binary16 bit pattern stands for (exact: every half is a float).
    ///
    /// Branch-free (all three cases are computed and selected) so that a kernel's loop body stays one basic
    /// block: a branchy decode of each block's scale split the loops and broke LLVM's vectorization of them.
    @inlinable @inline(__always)
    public init(fp16Bits h: UInt16) {
        let sign = UInt32(h & 0x8000) << 16
        let magnitude = UInt32(h & 0x7FFF)
        // Normal: rebias the exponent from 15 to 127 (add 112 << 23).
        let normal = (magnitude << 13) &+ 0x3800_0000
        // Zero or subnormal: magnitude × 2^-24, exact.
        let subnormal = (Float(magnitude) * 0x1p-24).bitPattern
        // Infinity or NaN: all-ones exponent, payload kept.
        let special = (magnitude << 13) | 0x7F80_0000
        let bits = magnitude >= 0x7C00 ? special : (magnitude >= 0x0400 ? normal : subnormal)
        self = Float(bitPattern: bits | sign)
    }

    /// The nearest IEEE binary16 (ties to even); NaN becomes the quiet NaN 0x7E00 with the sign kept (as ggml).
    @inlinable
    public var fp16Bits: UInt16 {
        let x = bitPattern
        let sign = UInt16(truncatingIfNeeded: (x >> 16) & 0x8000)
        let a = x & 0x7FFF_FFFF
        if a > 0x7F80_0000 { return sign | 0x7E00 }
        // 65520 (0x477FF000) is halfway between 65504 (largest half) and 65536; the tie goes to the even 2^16 = inf.
        if a >= 0x477F_F000 { return sign | 0x7C00 }
        if a < 0x3880_0000 {
            // Below 2^-14 the result is a subnormal count of 2^-24 units; scaling by 2^24 is exact.
            let units = (Float(bitPattern: a) * 0x1p24).rounded(.toNearestOrEven)
            return sign | UInt16(units)
        }
        // Normal: round the 13 dropped mantissa bits to nearest even, carrying into the exponent if needed.
        let rounded = a &+ 0x0FFF &+ ((a >> 13) & 1)
        return sign | UInt16(truncatingIfNeeded: (rounded &- 0x3800_0000) >> 13)
    }

    /// The float a bfloat16 bit pattern stands for (its upper 16 bits).
    @inlinable
    public init(bf16Bits h: UInt16) {
        self = Float(bitPattern: UInt32(h) << 16)
    }

    /// The nearest bfloat16 (ties to even); NaN is quieted by setting bit 6 (as ggml).
    @inlinable
    public var bf16Bits: UInt16 {
        let x = bitPattern
        if x & 0x7FFF_FFFF > 0x7F80_0000 { return UInt16(truncatingIfNeeded: x >> 16) | 0x40 }
        return UInt16(truncatingIfNeeded: (x &+ 0x7FFF &+ ((x >> 16) & 1)) >> 16)
    }
}

extension SIMD8 where Scalar == Float {
    /// Eight halves converted at once (same results as `Float(fp16Bits:)`), for the f16 dot product.
    /// Lane selects are done with all-ones/all-zeros integer masks: SIMDMask-based `replace` is not lowered
    /// to vector code and was ~20× slower.
    @inline(__always)
    init(fp16Bits h: SIMD8<UInt16>) {
        let wide = SIMD8<UInt32>(widening: h)
        let sign = (wide & 0x8000) &<< 16
        let magnitude = wide & 0x7FFF
        // Normal halves: rebias the exponent. Subnormals: magnitude × 2^-24 through an exact int→float conversion.
        let normal = (magnitude &<< 13) &+ 0x3800_0000
        let subnormal: SIMD8<UInt32> = unsafeBitCast(SIMD8<Float>(exactly: magnitude) * 0x1p-24, to: SIMD8<UInt32>.self)
        let isSubnormal = 0 &- ((magnitude &- 0x0400) &>> 31)    // all ones where magnitude < 0x400
        let isSpecial = 0 &- ((magnitude &+ 0x0400) &>> 15)      // all ones where magnitude >= 0x7C00 (inf, NaN)
        let bits = (normal & ~isSubnormal) | (subnormal & isSubnormal) | (isSpecial & 0x7F80_0000)
        self = unsafeBitCast(bits | sign, to: SIMD8<Float>.self)
    }

    /// Eight bfloat16 values converted at once.
    @inline(__always)
    init(bf16Bits h: SIMD8<UInt16>) {
        self = unsafeBitCast(SIMD8<UInt32>(widening: h) &<< 16, to: SIMD8<Float>.self)
    }
}
