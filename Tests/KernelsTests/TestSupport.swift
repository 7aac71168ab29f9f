@testable import Kernels

/// SplitMix64: a tiny seeded generator so every test sees the same "random" data on every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Floats in -scale...scale with a few exact zeros and sign flips mixed in.
func randomFloats(_ count: Int, scale: Float = 1, seed: UInt64) -> [Float] {
    var rng = SeededGenerator(seed: seed)
    return (0..<count).map { _ in
        let roll = Int.random(in: 0..<16, using: &rng)
        return roll == 0 ? 0 : Float.random(in: -scale...scale, using: &rng)
    }
}

/// Byte offsets of the f16 scale fields in one block of each quantized format.
func scaleOffsets(_ type: TensorType) -> [Int] {
    switch type {
    case .q4_0, .q5_0, .q8_0, .iq4_nl, .iq4_xs: [0]
    case .q4_1, .q5_1, .q4_K, .q5_K: [0, 2]
    case .q6_K: [208]
    case .q2_K: [80, 82]
    case .q3_K: [108]
    default: []
    }
}

/// Random bytes for `elements` elements of a quantized `type`, with the f16 scale fields replaced by finite
/// halves of moderate size so the blocks decode to finite numbers.
func randomBlocks(_ type: TensorType, elements: Int, seed: UInt64) -> [UInt8] {
    var rng = SeededGenerator(seed: seed)
    let blocks = elements / type.blockSize
    var bytes = (0..<blocks * type.blockBytes).map { _ in UInt8.random(in: 0...255, using: &rng) }
    for b in 0..<blocks {
        for offset in scaleOffsets(type) {
            let h = Float.random(in: -0.05...0.05, using: &rng).fp16Bits
            bytes[b * type.blockBytes + offset] = UInt8(h & 0xFF)
            bytes[b * type.blockBytes + offset + 1] = UInt8(h >> 8)
        }
        // MXFP4's scale is an E8M0 exponent byte: 2^(e − 128) between 2^-10 and 2^-4.
        if type == .mxfp4 { bytes[b * type.blockBytes] = UInt8.random(in: 118...124, using: &rng) }
    }
    return bytes
}

/// A row of `type`: quantized from random floats where we can quantize, random blocks otherwise.
func randomRow(_ type: TensorType, elements: Int, seed: UInt64) -> [UInt8] {
    type.canQuantize ? quantized(randomFloats(elements, scale: 4, seed: seed), as: type)
                     : randomBlocks(type, elements: elements, seed: seed)
}

/// Σ a[i]·b[i] in double, and Σ |a[i]·b[i]| as the scale for relative errors.
func referenceDot(_ a: [Float], _ b: [Float]) -> (value: Double, magnitude: Double) {
    var value = 0.0, magnitude = 0.0
    for i in 0..<a.count {
        value += Double(a[i]) * Double(b[i])
        magnitude += abs(Double(a[i]) * Double(b[i]))
    }
    return (value, magnitude)
}

/// |got − expected| relative to the magnitude of the sum (1 when everything is zero).
func relativeError(_ got: Float, _ expected: (value: Double, magnitude: Double)) -> Double {
    abs(Double(got) - expected.value) / max(expected.magnitude, 1e-30)
}

/// Stores `values` as `type` (via Quant.quantize for the formats it writes).
func quantized(_ values: [Float], as type: TensorType) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: type.byteCount(elements: values.count)!)
    values.withUnsafeBufferPointer { src in
        bytes.withUnsafeMutableBytes { Quant.quantize(type, src.baseAddress!, $0.baseAddress!, count: values.count) }
    }
    return bytes
}

/// Decodes `count` elements of `type` with Quant.dequantize.
func dequantized(_ bytes: [UInt8], as type: TensorType, count: Int) -> [Float] {
    var out = [Float](repeating: .nan, count: count)
    bytes.withUnsafeBytes { src in
        out.withUnsafeMutableBufferPointer { Quant.dequantize(type, src.baseAddress!, $0.baseAddress!, count: count) }
    }
    return out
}

/// Quant.dot of a stored row with x.
func quantDot(_ bytes: [UInt8], as type: TensorType, _ x: [Float]) -> Float {
    bytes.withUnsafeBytes { row in
        x.withUnsafeBufferPointer { Quant.dot(type, row.baseAddress!, $0.baseAddress!, count: x.count) }
    }
}

func half(_ bytes: [UInt8], _ offset: Int) -> Float {
    Float(fp16Bits: UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8)
}
