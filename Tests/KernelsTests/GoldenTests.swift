import Testing
@testable import Kernels

/// Bytes and values produced by ggml's own reference code (quantize_row_*_ref and dequantize_row_* in
/// ggml-quants.c) for the input below, so our formats are checked against llama.cpp, not only against our
/// reading of the spec.
@Suite("golden blocks from ggml")
struct GoldenTests {
    /// x[j] = ((37·j) mod 101 − 50) / 7.25, with x[3] and x[40] set to zero.
    static let input: [Float] = (0..<256).map { (j: Int) -> Float in
        let numerator = Float((j * 37) % 101 - 50)
        return j == 3 || j == 40 ? 0 : numerator / 7.25
    }

    static func bytes(_ hex: String) -> [UInt8] {
        let digits = Array(hex.utf8)
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
    }

    static let q8_0 = "f32a81df3d00f856b41270cd2b89e745a2005ebb1977d53390ee4caa0866c3217fdcd02a3c96f656b0106fca0084e3439efd5db71777d1318beb4ba50565bf1f7fd93993"
    static let q4_0 = "e63ae046acf858bd1379df358be046acf268c2ba740fb953fd9731eb882fca640ea842fd"
    static let q4_K = "9323ed2efffffffcfefcfdfdbfccefffa0156bc7278cd3487e045ab0167bc2378de349ae056ab1267cd2389de459af15268ce248ad0459b0157bd1379ce348ae046ac0267bd2379df359be156ac1268c9df359be157ac1268ce248ad0459b0157bd1379ce348ae046ac0267bd2379df3156ac1268cd2489df459b0157bc1378ce348ae046ab0267bd2379de359ae156a"
    static let q6_K = "d058bf30be26ad048c037bf27ad158d0c941ea63eb74fb741d951ea72fc841c9bf35ad169b048df260e069d147cf38bd1a922c840d85ed77ff57d038b04aa22b67df58c139b22aa22b931c85fd76ee57ce5ad137b31a902c830f86ec78ff55d1c841da62eb63fc840d951ea63fb840c9d129b30b931c74fe86de67ff47d129b118b1c66eb11b6c861b71c61cb1c76cb22453f9248ef9138ef4538d2452f9248ed4a209d47e09a37e14a349d4ae09d77ec863be1463c9147ec923bec463bd14637c8077867a867c79818d83867f7984771f17"

    @Test("Q8_0 and Q4_0 quantize to exactly the bytes llama.cpp writes")
    func legacyQuantizersMatchGGML() {
        let x = Array(Self.input[0..<64])
        #expect(quantized(x, as: .q8_0) == Self.bytes(Self.q8_0))
        #expect(quantized(x, as: .q4_0) == Self.bytes(Self.q4_0))
    }

    @Test("Q4_K and Q6_K blocks quantized by ggml dequantize to ggml's exact floats")
    func kQuantsDequantizeLikeGGML() {
        let q4 = dequantized(Self.bytes(Self.q4_K), as: .q4_K, count: 256)
        let q4Expected: [Int: Float] = [0: -0x1.ad66p+2, 1: -0x1.0653cp+1, 37: 0x1.ed08p-1, 100: 0x1.233p+1,
                                        131: 0x1.aa6fcp+2, 200: -0x1.7d9fp+1, 255: -0x1.39c5p+0]
        for (i, value) in q4Expected { #expect(q4[i] == value, "Q4_K element \(i)") }
        let q6 = dequantized(Self.bytes(Self.q6_K), as: .q6_K, count: 256)
        let q6Expected: [Int: Float] = [0: -0x1.b982p+2, 1: -0x1.b982p+0, 37: 0x1.a7b48p-1, 100: 0x1.f0b24p+0,
                                        131: 0x1.b60efcp+2, 200: -0x1.8baa7p+1, 255: -0x1.08d0dp+0]
        for (i, value) in q6Expected { #expect(q6[i] == value, "Q6_K element \(i)") }
        // Both approximate the input they were made from.
        #expect(zip(q4, Self.input).allSatisfy { abs($0 - $1) < 0.5 })
        #expect(zip(q6, Self.input).allSatisfy { abs($0 - $1) < 0.15 })
    }
}
