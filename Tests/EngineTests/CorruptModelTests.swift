import Foundation
import Testing
@testable import Engine

/// Corrupted or truncated model files are errors, never crashes or runaway allocations — through the whole
/// load path (GGUF parse, hyper-parameters, tensor shapes, tokenizer) and a first forward pass.
@Suite struct CorruptModelTests {
    struct Mix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state ^ (state >> 29)
        }
    }

    @Test func corruptedFilesFailCleanly() throws {
        let source = ModelFixture.folder.appendingPathComponent("mixtral.gguf")
        let original = [UInt8](try Data(contentsOf: source))
        let header = min(original.count, 12_000)   // metadata and tensor infos live at the front
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("moecoder-corrupt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = Mix(state: 2024)
        var loaded = 0, rejected = 0
        for trial in 0..<240 {
            var bytes = original
            if trial % 4 == 0 {
                bytes = Array(bytes.prefix(Int.random(in: 0..<original.count, using: &rng)))   // truncation
            } else {
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    bytes[Int.random(in: 0..<header, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            }
            let path = dir.appendingPathComponent("m\(trial).gguf").path
            FileManager.default.createFile(atPath: path, contents: Data(bytes))
            do {
                let model = try LanguageModel(path: path, threads: 1)
                let cache = model.transformer.makeCache(capacity: 4)
                _ = try model.transformer.logits([0, 1], cache: cache)
                loaded += 1
            } catch is ModelError {
                rejected += 1
            }
            try? FileManager.default.removeItem(atPath: path)
        }
        #expect(rejected > 100, "only \(rejected) of 240 corrupted files were rejected; \(loaded) loaded")
    }
}

/// A tensor of a type the kernels cannot compute is refused at load time with a message that names the tensor
/// and the type (and lists what is supported), never a crash in a kernel later.
@Suite struct UncomputableTypeTests {
    /// The file with `tensor`'s type id replaced by `type` in its tensor info (a smaller type, so the data fits).
    static func retyped(_ bytes: [UInt8], tensor: String, to type: UInt32) -> [UInt8]? {
        let name = Array(tensor.utf8)
        let key = withUnsafeBytes(of: UInt64(name.count).littleEndian, Array.init) + name
        guard let start = (0...(bytes.count - key.count)).first(where: { bytes[$0..<$0 + key.count].elementsEqual(key) })
        else { return nil }
        var p = start + key.count
        let dimensions = Int(bytes[p]) | Int(bytes[p + 1]) << 8
        p += 4 + 8 * dimensions
        var out = bytes
        withUnsafeBytes(of: type.littleEndian) { out.replaceSubrange(p..<p + 4, with: $0) }
        return out
    }

    @Test func uncomputableTensorTypeIsNamed() throws {
        let source = ModelFixture.folder.appendingPathComponent("deepseek2-f16.gguf")
        let original = [UInt8](try Data(contentsOf: source))
        // blk.0.ffn_gate.weight is F16 [64, 128]; Q8_1 (id 9: 36 bytes per 32) is smaller and not computable.
        let bytes = try #require(Self.retyped(original, tensor: "blk.0.ffn_gate.weight", to: 9))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("moecoder-q8_1-\(UUID().uuidString).gguf").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try LanguageModel(path: path, threads: 1)
            Issue.record("a model with a Q8_1 tensor loaded")
        } catch let error as ModelError {
            #expect(error.message.contains("tensor 'blk.0.ffn_gate.weight' has type Q8_1, which moecoder cannot compute yet"),
                    "\(error.message)")
            #expect(error.message.contains("MXFP4") && error.message.contains("Q2_K"), "\(error.message)")
        }
    }
}
