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
            (["llama.attention.sliding_window": .uint32(4)], "sliding-window attention is only supported for gpt-oss"),
            (["llama.attention.temperature_scale": .float32(0.1)], "attention temperature tuning"),
            (["llama.nextn_predict_layers": .uint32(1)], "leaves no trunk layers"),
            (["general.architecture": .string("gpt-oss"), "gpt-oss.embedding_length": .uint32(8),
              "gpt-oss.block_count": .uint32(1), "gpt-oss.attention.head_count": .uint32(2)], "needs gpt-oss.attention.sliding_window"),
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

    @Test func routingAndWindowKeys() throws {
        // deepseek2 without the gating key: softmax, except llama.cpp's GLM-4.7-Flash rule (47/48 layers, 154,880 tokens).
        let ds: [String: GGUFValue?] = [
            "general.architecture": .string("deepseek2"), "deepseek2.embedding_length": .uint32(8),
            "deepseek2.block_count": .uint32(48), "deepseek2.attention.head_count": .uint32(2),
            "deepseek2.attention.kv_lora_rank": .uint32(4), "deepseek2.attention.key_length": .uint32(8),
            "deepseek2.rope.dimension_count": .uint32(4), "deepseek2.expert_count": .uint32(8),
            "deepseek2.expert_used_count": .uint32(2), "deepseek2.expert_feed_forward_length": .uint32(4),
            "deepseek2.vocab_size": .uint32(154_880), "deepseek2.expert_group_count": .uint32(4),
            "deepseek2.expert_group_used_count": .uint32(2), "deepseek2.nextn_predict_layers": .uint32(1)]
        let glm = try ModelConfig(gguf: try file(ds))
        #expect(glm.expertGating == .sigmoid && glm.expertGroupCount == 4 && glm.expertGroupUsedCount == 2)
        #expect(glm.blockCount == 47 && glm.nextnLayerCount == 1)
        var other = ds
        other["deepseek2.vocab_size"] = .uint32(1000)
        #expect(try ModelConfig(gguf: try file(other)).expertGating == .softmax)
        other["deepseek2.expert_gating_func"] = .uint32(2)
        #expect(try ModelConfig(gguf: try file(other)).expertGating == .sigmoid)
        other["deepseek2.expert_gating_func"] = .uint32(9)
        #expect(throws: ModelError.self) { try ModelConfig(gguf: try file(other)) }
        other["deepseek2.expert_gating_func"] = .uint32(2)
        other["deepseek2.expert_group_count"] = .uint32(3)
        #expect(throws: ModelError.self) { try ModelConfig(gguf: try file(other)) }   // 8 experts in 3 groups

        // gpt-oss: sliding window on every other layer (llama.cpp's default pattern 2: even layers), or as listed.
        var oss: [String: GGUFValue?] = [
            "general.architecture": .string("gpt-oss"), "gpt-oss.embedding_length": .uint32(8),
            "gpt-oss.block_count": .uint32(4), "gpt-oss.attention.head_count": .uint32(2),
            "gpt-oss.attention.sliding_window": .uint32(128)]
        let c = try ModelConfig(gguf: try file(oss))
        #expect(c.slidingWindow == 128 && c.slidingWindowLayers == [true, false, true, false])
        #expect(c.rope.type == .neox && c.expertGating == .softmaxWeight && !c.expertWeightsNorm)
        oss["gpt-oss.attention.sliding_window_pattern"] = .array([.bool(false), .bool(true), .bool(true), .bool(false)])
        #expect(try ModelConfig(gguf: try file(oss)).slidingWindowLayers == [false, true, true, false])
    }

    @Test func unknownTensorsAreRefused() throws {
        // A tensor the architecture does not read changes the model (here a Qwen3-style query norm in a llama
        // file): the load fails and names it rather than running without it.
        let source = try GGUFFile(path: ModelFixture.folder.appendingPathComponent("llama.gguf").path)
        let writer = GGUFWriter()
        for (key, value) in source.metadata where !key.hasPrefix("GGUF.") { writer.set(key, value) }
        for t in source.tensors {
            let data = source.data(t)
            try writer.addTensor(name: t.name, dimensions: t.dimensions, type: t.type,
                                 bytes: Array(UnsafeRawBufferPointer(start: data, count: t.byteCount)))
        }
        try writer.addTensor(name: "blk.0.attn_q_norm.weight", dimensions: [16], type: .f32,
                             bytes: [UInt8](repeating: 0, count: 64))
        let file = try GGUFFile(bytes: try writer.serialized())
        do {
            _ = try Transformer(file: file)
            Issue.record("a file with an unknown tensor loaded")
        } catch let error as ModelError {
            #expect(error.message.contains("blk.0.attn_q_norm.weight") && error.message.contains("does not use"), "\(error.message)")
        }
    }

    @Test func missingTensorsAreNamed() throws {
        #expect(throws: ModelError.self) { try Transformer(file: try file()) }
        do { _ = try Transformer(file: try file()) } catch let error as ModelError {
            #expect(error.message.contains("token_embd.weight"))
        }
    }
}
