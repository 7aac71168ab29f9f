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
