import Testing
@testable import Kernels

@Suite("fp16 and bf16 conversions")
struct HalfTests {
    @Test("fp16 encodes known values with round-to-nearest-even, overflow to inf, subnormals and NaN as ggml")
    func fp16KnownValues() {
        let cases: [(Float, UInt16)] = [
            (0, 0x0000), (-0.0, 0x8000), (1, 0x3C00), (-2, 0xC000), (0.5, 0x3800),
            (65504, 0x7BFF), (65519.99, 0x7BFF), (65520, 0x7C00), (1e9, 0x7C00), (-.infinity, 0xFC00),
            (.infinity, 0x7C00), (0x1p-14, 0x0400), (0x1p-24, 0x0001), (0x1p-25, 0x0000),
            (0x1.8p-24, 0x0002),                      // 1.5 units: tie goes to the even 2
            (Float(1023.5) * 0x1p-24, 0x0400),        // largest subnormal + ½ unit: tie rounds up into the normals
            (Float(1023) * 0x1p-24, 0x03FF),
            (1 + 0x1p-11, 0x3C00),                    // tie between 1 and 1+2⁻¹⁰ keeps the even 1
            (1 + 0x1.8p-10, 0x3C02),                  // tie between 1+2⁻¹⁰ and 1+2⁻⁹ goes to the even 1+2⁻⁹
            (0x1p-30, 0x0000), (.nan, 0x7E00), (-Float.nan, 0xFE00),
        ]
        for (value, bits) in cases {
            #expect(value.fp16Bits == bits, "\(value)")
        }
    }

    @Test("every half decodes to the float it stands for and encodes back to the same bits")
    func fp16RoundTripsEveryPattern() {
        for bits in 0...UInt16.max {
            let value = Float(fp16Bits: bits)
            let native = Float(Float16(bitPattern: bits))
            if native.isNaN {
                #expect(value.isNaN)
                #expect(value.fp16Bits & 0x7C00 == 0x7C00 && value.fp16Bits & 0x03FF != 0)
            } else {
                #expect(value.bitPattern == native.bitPattern, "\(bits)")
                #expect(value.fp16Bits == bits, "\(bits)")
            }
        }
    }

    @Test("the eight-lane fp16 decoder used by the f16 dot matches the scalar one on every pattern")
    func fp16VectorDecoderMatchesScalar() {
        for base in stride(from: 0, through: 0xFFF8, by: 8) {
            let lanes = SIMD8<UInt16>((0..<8).map { UInt16(base + $0) })
            let decoded = SIMD8<Float>(fp16Bits: lanes)
            for lane in 0..<8 {
                let scalar = Float(fp16Bits: lanes[lane])
                #expect(decoded[lane].bitPattern == scalar.bitPattern || (decoded[lane].isNaN && scalar.isNaN))
            }
        }
    }

    @Test("fp16 encoding agrees with the hardware-independent Float16 conversion on random floats")
    func fp16MatchesFloat16OnRandomFloats() {
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<20_000 {
            // Exponents spanning subnormal halves to overflow.
            let value = Float(bitPattern: UInt32.random(in: 0x3000_0000...0x4800_0000, using: &rng))
            let signed = Bool.random(using: &rng) ? value : -value
            #expect(signed.fp16Bits == Float16(signed).bitPattern, "\(signed)")
        }
    }

    @Test("bf16 rounds to nearest even, keeps subnormals and infinity, and quiets NaN")
    func bf16KnownValues() {
        let cases: [(UInt32, UInt16)] = [
            (0x3F80_0000, 0x3F80), (0x3F80_8000, 0x3F80), (0x3F81_8000, 0x3F82), (0x3F80_8001, 0x3F81),
            (0x7F7F_FFFF, 0x7F80), (0x0001_0000, 0x0001), (0x8000_0000, 0x8000), (0xFF80_0000, 0xFF80),
            (0x7F80_0001, 0x7FC0), (0x7FC0_0000, 0x7FC0),
        ]
        for (bits, expected) in cases {
            #expect(Float(bitPattern: bits).bf16Bits == expected, "\(String(bits, radix: 16))")
        }
        for bits in 0...UInt16.max where !Float(bf16Bits: bits).isNaN {
            #expect(Float(bf16Bits: bits).bf16Bits == bits)
        }
    }
}
