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

    static let q4_1 = "5b3be6c6d0369bf757bd1369ce248ae0469cf257233b9fc69bf157ad0368ce2487d0469bf257bd13"
    static let q5_0 = "e636aca52d6dc07c38f0bf6b26e2ae5a15d18d49f4c0c2b696b7b4a4d81d61a5fa3e72b7f03f84c80c5094e9"
    static let q5_1 = "1e37e6c6a4252d6db07b37efaf6a26d29d5905c18c48f4bfe8369fc669484b5b27e2ae5a15d19d490fc07c38f3bf6b26"
    static let q5_K = "3b1ffc2efffdfdfdfffcfeffdfeffdcf326c9936cc9366c9b16499324c9926cc9366c9336c99364c9b66cdb366d9336c702be7af5f1ad682fd09c5813cf8b46f2be7935e1ad6824d09c5703cf8a36f2b5e1ad5914d09c5803cf8b36f2be6a25e1ad5914d09c4703cf7b36f2be6a25e1a3be8b36e2be6925e19c5814c08b4703cf7a36f2ad6925d19c5814c08b4703be71bd7824e0ab5713de9a4602cd8935f1bc6824e0ab5713de9a4602cd7935f1bc6"

    @Test("Q4_1, Q5_0, Q5_1 and Q5_K blocks quantized by ggml dequantize to ggml's exact floats")
    func moreFormatsDequantizeLikeGGML() {
        let cases: [(TensorType, String, [Int: Float])] = [
            (.q4_1, Self.q4_1, [0: -0x1.b98p+2, 1: -0x1.61cp+0, 17: -0x1.08f8p+2, 31: -0x1.269p+1, 37: 0x1.08p-1, 63: -0x1.6ea8p+2]),
            (.q5_0, Self.q5_0, [0: -0x1.b98p+2, 1: -0x1.b98p+0, 17: -0x1.f0bp+1, 31: -0x1.b98p+0, 37: 0x1.b08p-1, 63: -0x1.7a7p+2]),
            (.q5_1, Self.q5_1, [0: -0x1.b98p+2, 1: -0x1.00bp+1, 17: -0x1.e47p+1, 31: -0x1.00bp+1, 37: 0x1.6fp-1, 63: -0x1.708p+2]),
            (.q5_K, Self.q5_K, [0: -0x1.b804p+2, 1: -0x1.fb624p+0, 17: -0x1.e173ap+1, 31: -0x1.fb624p+0, 37: 0x1.8c7f8p-1,
                                63: -0x1.6bee2p+2, 100: 0x1.bd3bp+0, 131: 0x1.ac0d6p+2, 200: -0x1.7fd72p+1, 255: -0x1.35b1p+0]),
        ]
        for (type, hex, expected) in cases {
            let count = type.blockSize == 256 ? 256 : 64
            let values = dequantized(Self.bytes(hex), as: type, count: count)
            for (i, value) in expected { #expect(values[i] == value, "\(type.name) element \(i)") }
            #expect(zip(values, Self.input).allSatisfy { abs($0 - $1) < 0.5 }, "\(type.name) approximates its input")
        }
    }

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
