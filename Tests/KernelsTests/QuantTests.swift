import Testing
@testable import Kernels

/// Scalar decoders written straight from the block layouts in ggml-common.h, independent of the SIMD kernels.
enum Reference {
    static func q8_0(_ b: [UInt8], count: Int) -> [Float] {
        (0..<count).map { i in
            let block = i / 32 * 34
            return half(b, block) * Float(Int8(bitPattern: b[block + 2 + i % 32]))
        }
    }

    static func q4_0(_ b: [UInt8], count: Int) -> [Float] {
        (0..<count).map { i in
            let block = i / 32 * 18, j = i % 32
            let byte = b[block + 2 + j % 16]
            let q = j < 16 ? byte & 0x0F : byte >> 4
            return half(b, block) * Float(Int(q) - 8)
        }
    }

    static func decode(_ type: TensorType, _ b: [UInt8], count: Int) -> [Float] {
        switch type {
        case .q8_0: q8_0(b, count: count)
        case .q4_0: q4_0(b, count: count)
        case .q4_1, .q5_0, .q5_1: legacy(type, b, count: count)
        case .q4_K: q4_K(b, count: count)
        case .q5_K: q5_K(b, count: count)
        case .q6_K: q6_K(b, count: count)
        default: fatalError("no reference for \(type.name)")
        }
    }

    /// Q4_1 (d, m, nibbles), Q5_0 (d, qh, nibbles) and Q5_1 (d, m, qh, nibbles).
    static func legacy(_ type: TensorType, _ b: [UInt8], count: Int) -> [Float] {
        let hasMin = type != .q5_0, hasFifth = type != .q4_1
        let qhOffset = hasMin ? 4 : 2, qsOffset = qhOffset + (hasFifth ? 4 : 0)
        return (0..<count).map { i in
            let block = i / 32 * type.blockBytes, j = i % 32
            let byte = b[block + qsOffset + j % 16]
            var q = Int(j < 16 ? byte & 0x0F : byte >> 4)
            if hasFifth {
                let qh = (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[block + qhOffset + $1]) << (8 * $1) }
                q += Int((qh >> j) & 1) * 16
            }
            let d = half(b, block)
            return hasMin ? d * Float(q) + half(b, block + 2) : d * Float(q - 16)
        }
    }

    static func q5_K(_ b: [UInt8], count: Int) -> [Float] {
        (0..<count).map { i in
            let block = i / 256 * 176, e = i % 256
            let d = half(b, block), dmin = half(b, block + 2)
            let sub = e / 32, group = e / 64, l = e % 32
            let byte = b[block + 48 + 32 * group + l]
            let fifth = (b[block + 16 + l] >> sub) & 1
            let q = Int(sub % 2 == 0 ? byte & 0x0F : byte >> 4) + 16 * Int(fifth)
            let (scale, min) = q4_KScaleMin(b[(block + 4)..<(block + 16)], sub)
            return d * Float(scale) * Float(q) - dmin * Float(min)
        }
    }

    /// 6-bit scale and min of sub-block j from the 12 packed bytes `s`.
    static func q4_KScaleMin(_ s: ArraySlice<UInt8>, _ j: Int) -> (Int, Int) {
        let s = Array(s)
        if j < 4 { return (Int(s[j] & 0x3F), Int(s[j + 4] & 0x3F)) }
        let scale = Int(s[j + 4] & 0x0F) + Int(s[j - 4] >> 6) * 16
        let min = Int(s[j + 4] >> 4) + Int(s[j] >> 6) * 16
        return (scale, min)
    }

    static func q4_K(_ b: [UInt8], count: Int) -> [Float] {
        (0..<count).map { i in
            let block = i / 256 * 144, e = i % 256
            let d = half(b, block), dmin = half(b, block + 2)
            let sub = e / 32, group = e / 64, l = e % 32
            let byte = b[block + 16 + 32 * group + l]
            let q = sub % 2 == 0 ? byte & 0x0F : byte >> 4
            let (scale, min) = q4_KScaleMin(b[(block + 4)..<(block + 16)], sub)
            return d * Float(scale) * Float(q) - dmin * Float(min)
        }
    }

    static func q6_K(_ b: [UInt8], count: Int) -> [Float] {
        (0..<count).map { i in
            let block = i / 256 * 210, e = i % 256
            let half128 = e / 128, k = e % 128, quarter = k / 32, l = k % 32
            let ql = b[block + 64 * half128 + l + (quarter % 2 == 1 ? 32 : 0)]
            let low = quarter < 2 ? ql & 0x0F : ql >> 4
            let high = (b[block + 128 + 32 * half128 + l] >> (2 * quarter)) & 3
            let q = Int(low | high << 4) - 32
            let scale = Int8(bitPattern: b[block + 192 + 8 * half128 + 2 * quarter + l / 16])
            return half(b, block + 208) * Float(scale) * Float(q)
        }
    }

    /// ggml's reference quantizers, written from their description in Quant.quantize's documentation.
    static func quantizeQ8_0(_ x: [Float]) -> [UInt8] {
        var out: [UInt8] = []
        for start in stride(from: 0, to: x.count, by: 32) {
            let block = x[start..<start + 32]
            let d = block.map(abs).max()! / 127
            let id: Float = d == 0 ? 0 : 1 / d
            let h = d.fp16Bits
            out += [UInt8(h & 0xFF), UInt8(h >> 8)]
            out += block.map { UInt8(bitPattern: Int8(($0 * id).rounded(.toNearestOrAwayFromZero))) }
        }
        return out
    }

    static func quantizeQ4_0(_ x: [Float]) -> [UInt8] {
        var out: [UInt8] = []
        for start in stride(from: 0, to: x.count, by: 32) {
            let block = Array(x[start..<start + 32])
            var extreme: Float = 0
            for v in block where abs(v) > abs(extreme) { extreme = v }
            let d = extreme / -8
            let id: Float = d == 0 ? 0 : 1 / d
            let h = d.fp16Bits
            out += [UInt8(h & 0xFF), UInt8(h >> 8)]
            let q = block.map { UInt8(min(15, Int(($0 * id + 8.5).rounded(.towardZero)))) }
            out += (0..<16).map { q[$0] | q[$0 + 16] << 4 }
        }
        return out
    }
}

@Suite("quantized formats")
struct QuantTests {
    @Test("sizes of every ggml type match ggml-common.h, and byteCount rejects partial blocks")
    func typeTable() {
        #expect(TensorType.q4_K.blockBytes == 144 && TensorType.q6_K.blockBytes == 210)
        #expect(TensorType.q8_0.byteCount(elements: 64) == 68)
        #expect(TensorType.q4_0.byteCount(elements: 33) == nil)
        #expect(TensorType.q4_K.byteCount(elements: 512) == 288)
        #expect(TensorType.f16.byteCount(elements: 3) == 6)
        #expect(TensorType(rawValue: 30) == .bf16 && TensorType.bf16.name == "BF16")
        #expect(TensorType.allCases.filter(\.canCompute).map(\.name).sorted()
            == ["BF16", "F16", "F32", "IQ4_NL", "IQ4_XS", "MXFP4", "Q2_K", "Q3_K", "Q4_0", "Q4_1", "Q4_K", "Q5_0", "Q5_1", "Q5_K",
               "Q6_K", "Q8_0"])
    }

    @Test("Q8_0 quantizes to ggml's reference bytes: amax/127 scale, halves rounded away from zero")
    func q8_0HandBlock() {
        var x = [Float](repeating: 0, count: 32)
        x[0] = 127; x[1] = 2.5; x[2] = -2.5; x[3] = 0.5; x[4] = -0.49; x[5] = -127
        let bytes = quantized(x, as: .q8_0)
        #expect(bytes[0] == 0x00 && bytes[1] == 0x3C)  // d = 1.0
        #expect(Array(bytes[2..<8].map { Int8(bitPattern: $0) }) == [127, 3, -3, 1, 0, -127])
    }

    @Test("Q4_0 quantizes to ggml's reference bytes: signed extreme/-8 scale, trunc(x/d + 8.5) capped at 15")
    func q4_0HandBlock() {
        var x = [Float](repeating: 0, count: 32)
        x[0] = -8; x[1] = 7; x[2] = 7.6; x[3] = -0.6; x[4] = 0.5; x[16] = 3; x[17] = -3.4
        let bytes = quantized(x, as: .q4_0)
        #expect(bytes[0] == 0x00 && bytes[1] == 0x3C)  // d = -8 / -8 = 1
        let q: [UInt8] = (0..<32).map { (j: Int) -> UInt8 in j < 16 ? bytes[2 + j] & 0x0F : bytes[2 + j - 16] >> 4 }
        #expect(Array(q[0..<5]) == [0, 15, 15, 7, 9])
        #expect(q[5] == 8 && q[16] == 11 && q[17] == 5)
        // A positive extreme flips the scale's sign: d = 8 / -8 = -1, so 8 → 0 and -8 → 16 → capped to 15.
        x[0] = 8; x[1] = -8
        let flipped = quantized(x, as: .q4_0)
        #expect(flipped[0] == 0x00 && flipped[1] == 0xBC)
        #expect(flipped[2] & 0x0F == 0 && flipped[3] & 0x0F == 15)
    }

    @Test("quantizers match the reference on random rows; dequantize undoes them within half a step (Q4_0: one step, since 8 clips to 7)",
          arguments: [TensorType.q8_0, .q4_0])
    func legacyRoundTrip(type: TensorType) {
        let x = randomFloats(32 * 9, scale: 3, seed: 11) + [Float](repeating: 0, count: 32)
            + randomFloats(32, scale: 5000, seed: 12)
        let bytes = quantized(x, as: type)
        #expect(bytes == (type == .q8_0 ? Reference.quantizeQ8_0(x) : Reference.quantizeQ4_0(x)))
        let back = dequantized(bytes, as: type, count: x.count)
        #expect(back == (type == .q8_0 ? Reference.q8_0(bytes, count: x.count) : Reference.q4_0(bytes, count: x.count)))
        for block in 0..<x.count / 32 {
            let step = abs(half(bytes, block * type.blockBytes))
            let d = type == .q8_0 ? step : 2 * step
            for j in 0..<32 {
                let i = block * 32 + j
                #expect(abs(back[i] - x[i]) <= d * 0.5 + abs(x[i]) * 1e-3 + 1e-6, "element \(i)")
            }
        }
    }

    @Test("Q4_K hand block: 6-bit scales and mins of sub-blocks 0, 1, 4 and 5 unpack as the spec says")
    func q4_KHandBlock() {
        var b = [UInt8](repeating: 0, count: 144)
        b[0] = 0x00; b[1] = 0x3C  // d = 1
        b[2] = 0x00; b[3] = 0x38  // dmin = 0.5
        // Sub-block 0: scale 3, min 2. Sub-block 1: scale 7 (byte 1 low bits), min 1 (byte 5 low bits).
        // Sub-block 5: scale 42 = 0b10_1010 (low nibble of byte 9 = 0xA, top bits = byte 1's top bits 0b10),
        //              min 21 = 0b01_0101 (high nibble of byte 9 = 5, top bits = byte 5's top bits 0b01).
        // Sub-block 4: byte 8 and the top bits of bytes 0 and 4 are zero, so scale 0 and min 0.
        let scales: [UInt8] = [3, 0x87, 0, 0, 2, 0x41, 0, 0, 0x00, 0x5A, 0, 0]
        b.replaceSubrange(4..<16, with: scales)
        b[16 + 0] = 0x94        // element 0 (sub-block 0) = 4, element 32 (sub-block 1) = 9
        b[16 + 64 + 1] = 0x3C   // element 129 (sub-block 4) = 12, element 161 (sub-block 5) = 3
        let values = dequantized(b, as: .q4_K, count: 256)
        #expect(values[0] == 1 * 3 * 4 - 0.5 * 2)      // 11
        #expect(values[1] == -1)                        // q 0 in sub-block 0: just −dmin·min
        #expect(values[32] == 1 * 7 * 9 - 0.5 * 1)     // 62.5
        #expect(values[129] == 0)                       // scale 0, min 0
        #expect(values[161] == 1 * 42 * 3 - 0.5 * 21)  // 115.5
        #expect(values[160] == -10.5)
        #expect(values == Reference.q4_K(b, count: 256))
    }

    @Test("Q6_K hand block: ql/qh bit placement, signed scales per 16 elements, and the second half")
    func q6_KHandBlock() {
        var b = [UInt8](repeating: 0, count: 210)
        b[208] = 0x00; b[209] = 0x38  // d = 0.5
        b[192 + 0] = 2; b[192 + 2] = UInt8(bitPattern: -3); b[192 + 4] = 1; b[192 + 7] = 4
        b[192 + 8] = UInt8(bitPattern: -128)
        b[0] = 0xF5; b[128] = 0b0010_0010   // element 0: 5 | 2<<4 = 37; element 64: 15 | 2<<4 = 47
        b[32 + 17] = 0x10; b[128 + 17] = 0x40  // element 113: 1 | 1<<4 = 17
        b[64] = 0x0A; b[128 + 32] = 0x01       // element 128: 10 | 1<<4 = 26
        let values = dequantized(b, as: .q6_K, count: 256)
        #expect(values[0] == 0.5 * 2 * 5)         // (37 − 32) = 5
        #expect(values[32] == 0.5 * -3 * -32)     // all bits zero: −32, scale index 2
        #expect(values[64] == 0.5 * 1 * 15)       // (47 − 32) = 15, scale index 4
        #expect(values[113] == 0.5 * 4 * -15)     // l = 17 uses scale index 1 + 6 = 7
        #expect(values[128] == 0.5 * -128 * -6)   // second half: scale index 8
        #expect(values == Reference.q6_K(b, count: 256))
    }

    @Test("random blocks decode like the scalar reference", arguments: [TensorType.q4_1, .q5_0, .q5_1, .q4_K, .q5_K, .q6_K])
    func randomBlocksDecode(type: TensorType) {
        let bytes = randomBlocks(type, elements: 768, seed: 21)
        #expect(dequantized(bytes, as: type, count: 768) == Reference.decode(type, bytes, count: 768))
    }

    @Test("f16 and bf16 rows decode element by element", arguments: [TensorType.f16, .bf16])
    func floatFormatsDecode(type: TensorType) {
        let x = randomFloats(77, scale: 100, seed: 5)
        let decoded = dequantized(quantized(x, as: type), as: type, count: x.count)
        let expected = x.map { type == .f16 ? Float(fp16Bits: $0.fp16Bits) : Float(bf16Bits: $0.bf16Bits) }
        #expect(decoded == expected)
    }

    @Test("dot of a stored row equals the dot of its dequantized values to 1e-5 (relative to Σ|w·x|)",
          arguments: TensorType.allCases.filter(\.canCompute))
    func dotMatchesDequantized(type: TensorType) {
        for (count, seed) in [(type.blockSize == 1 ? 37 : 256, UInt64(1)), (768, 2), (1024, 3)] {
            let bytes = randomRow(type, elements: count, seed: seed)
            let x = randomFloats(count, scale: 2, seed: seed + 100)
            let weights = dequantized(bytes, as: type, count: count)
            let error = relativeError(quantDot(bytes, as: type, x), referenceDot(weights, x))
            #expect(error <= 1e-5, "\(type.name) × \(count): \(error)")
        }
    }

    @Test("dot with large scales and all-zero blocks stays accurate", arguments: [TensorType.q8_0, .q4_0])
    func dotExtremes(type: TensorType) {
        let x = [Float](repeating: 0, count: 32) + randomFloats(64, scale: 30_000, seed: 9)
        let bytes = quantized(x, as: type)
        let v = randomFloats(96, scale: 1, seed: 10)
        let error = relativeError(quantDot(bytes, as: type, v), referenceDot(dequantized(bytes, as: type, count: 96), v))
        #expect(error <= 1e-5)
    }
}
