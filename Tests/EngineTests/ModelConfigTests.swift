import Foundation
import GGUF
import Kernels
import Testing
@testable import Engine

/// Model files with missing or wrong hyper-parameters and tensors are clear errors, not crashes.
@Suite struct ModelConfigTests {
    /// A minimal llama-style header (no tensors) with `overrides` applied.
    func file(_ overrides: [String: GGUFValue?] = [:]) throws -> GGUFFile {
        var keys: [(String, GGUFValue)] = [
            ("general.architecture", .string("llama")),
            ("llama.embedding_length", .uint32(8)), ("llama.block_count", .uint32(1)),
            ("llama.attention.head_count", .uint32(2)), ("llama.attention.head_count_kv", .uint32(1)),
            ("llama.feed_forward_length", .uint32(16)), ("llama.context_length", .uint32(32)),
            ("tokenizer.ggml.tokens", .array([.string("a"), .string("b"), .string("c")])),
        ]
        for (key, value) in overrides {
            keys.removeAll { $0.0 == key }
            if let value { keys.append((key, value)) }
        }
        let writer = GGUFWriter()
        for (key, value) in keys { writer.set(key, value) }
        return try GGUFFile(bytes: try writer.serialized())
    }

    @Test func readsHyperParameters() throws {
        let c = try ModelConfig(gguf: try file())
        #expect(c.architecture == .llama && c.embeddingLength == 8 && c.headCountKV == 1)
        #expect(c.keyLength == 4 && c.rope.dimensions == 4 && c.rope.type == .normal)
        #expect(c.vocabularySize == 3 && !c.isMoE && c.contextLength == 32)
    }

    @Test func errorsSayWhatIsWrong() throws {
        let cases: [([String: GGUFValue?], String)] = [
            (["general.architecture": .string("gpt-j")], "architecture 'gpt-j' is not supported"),
            (["general.architecture": nil], "no general.architecture"),
            (["llama.block_count": nil], "missing or non-integer llama.block_count"),
            (["llama.attention.head_count_kv": .uint32(3)], "not a multiple of head_count_kv"),
            (["llama.expert_count": .uint32(4), "llama.expert_used_count": .uint32(5)], "expert_used_count 5"),
            (["llama.rope.scaling.type": .string("longrope")], "rope scaling 'longrope'"),
        ]
        for (overrides, message) in cases {
            do {
                _ = try ModelConfig(gguf: try file(overrides))
                Issue.record("accepted \(overrides)")
            } catch let error as ModelError {
                #expect(error.message.contains(message), "\(error.message)")
            }
        }
    }

    @Test func missingTensorsAreNamed() throws {
        #expect(throws: ModelError.self) { try Transformer(file: try file()) }
        do { _ = try Transformer(file: try file()) } catch let error as ModelError {
            #expect(error.message.contains("token_embd.weight"))
        }
    }
}
