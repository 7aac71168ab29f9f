import Foundation
import GGUF
import Kernels
import Testing
@testable import Engine

/// `Quantizer`: which tensors change type, that values survive the round trip, and that metadata is kept.
@Suite struct QuantizerTests {
    /// A tiny GGUF in memory: a 64×4 matrix, a stack of two 32×2 experts, a router, a norm, a bias, and a
    /// matrix whose 48-long rows are not whole 32-element blocks.
    static func sampleFile() throws -> GGUFFile {
        let writer = GGUFWriter()
        writer.set("general.architecture", .string("qwen2moe"))
        writer.set("tokenizer.ggml.tokens", .array([.string("a"), .string("b")]))
        func add(_ name: String, _ dims: [Int]) throws {
            let count = dims.reduce(1, *)
            let values = (0..<count).map { Float(sin(Double($0) * 0.37)) }
            try writer.addTensor(name: name, dimensions: dims, type: .f32,
                                 bytes: values.withUnsafeBytes { Array($0) })
        }
        try add("blk.0.attn_q.weight", [64, 4])
        try add("blk.0.ffn_up_exps.weight", [32, 2, 2])
        try add("blk.0.ffn_gate_inp.weight", [32, 2])
        try add("blk.0.attn_norm.weight", [64])
        try add("blk.0.attn_q.bias", [4])
        try add("blk.0.odd.weight", [48, 2])
        return try GGUFFile(bytes: try writer.serialized())
    }

    @Test func convertsWeightMatricesAndKeepsTheRestF32() throws {
        let input = try Self.sampleFile()
        let (writer, changes) = try Quantizer.convert(input, to: .q8_0)
        let types = Dictionary(uniqueKeysWithValues: changes.map { ($0.name, $0.to) })
        #expect(types["blk.0.attn_q.weight"] == .q8_0)
        #expect(types["blk.0.ffn_up_exps.weight"] == .q8_0)
        #expect(types["blk.0.ffn_gate_inp.weight"] == .f32)
        #expect(types["blk.0.attn_norm.weight"] == .f32)
        #expect(types["blk.0.attn_q.bias"] == .f32)
        #expect(types["blk.0.odd.weight"] == .f32, "48-long rows are not whole Q8_0 blocks")

        let output = try GGUFFile(bytes: try writer.serialized())
        #expect(output.metadata["general.architecture"]?.string == "qwen2moe")
        #expect(output.metadata["tokenizer.ggml.tokens"]?.strings == ["a", "b"])
        #expect(output.metadata["general.file_type"]?.int == 7)
        #expect(output.tensors.map(\.name) == input.tensors.map(\.name))
        #expect(output.tensors.map(\.dimensions) == input.tensors.map(\.dimensions))
    }

    /// Values lie in [-1, 1]: Q8_0's step is 1/127; Q4_0 maps the largest magnitude to -8 steps, so +1 can land
    /// a whole step (1/8) short.
    @Test(arguments: [(TensorType.q8_0, Float(0.01)), (.q4_0, 0.13), (.f16, 1e-3), (.bf16, 1e-2)])
    func valuesSurviveTheRoundTrip(target: TensorType, tolerance: Float) throws {
        let input = try Self.sampleFile()
        let output = try GGUFFile(bytes: try Quantizer.convert(input, to: target).0.serialized())
        for tensor in input.tensors {
            let converted = try #require(output.tensor(tensor.name))
            var before = [Float](repeating: 0, count: tensor.elementCount), after = before
            Quant.dequantize(tensor.type, input.data(tensor), &before, count: before.count)
            Quant.dequantize(converted.type, output.data(converted), &after, count: after.count)
            let worst = zip(before, after).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= tolerance, "\(tensor.name) as \(converted.type.name): error \(worst)")
        }
    }

    @Test func refusesTypesItCannotWrite() throws {
        #expect(throws: ModelError.self) { try Quantizer.convert(try Self.sampleFile(), to: .iq4_xs) }
    }

    @Test func writesAFileTheEngineReadsBack() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("quantizer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = ModelFixture.folder.appendingPathComponent("qwen2moe.gguf").path
        let target = dir.appendingPathComponent("q8.gguf").path
        _ = try Quantizer.convert(inputPath: source, outputPath: target, to: .q8_0)
        let original = try LanguageModel(path: source, threads: 1), quantized = try LanguageModel(path: target, threads: 1)
        let prompt: [Int32] = [1, 2, 3, 4, 5]
        let a = try original.transformer.logits(prompt, cache: original.transformer.makeCache())
        let b = try quantized.transformer.logits(prompt, cache: quantized.transformer.makeCache())
        let scale = a.map(abs).max() ?? 1
        #expect((zip(a, b).map { abs($0 - $1) }.max() ?? 0) < 0.05 * scale)
        #expect(quantized.tokenizer.vocabularySize == original.tokenizer.vocabularySize)
    }
}
