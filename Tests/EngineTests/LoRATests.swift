import Foundation
import GGUF
import Kernels
import Testing
@testable import Engine

/// LoRA adapters against PEFT (transformers) and llama.cpp: the fixtures of tools/make_lora_fixtures.py are
/// random adapters for the tiny F32 llama, qwen2moe, qwen3moe and deepseek2 models, as a GGUF adapter and a PEFT folder.
@Suite struct LoRATests {
    struct Fixture: CustomStringConvertible, Sendable {
        let name: String
        let tokens: [Int32]
        let positions: [Int]
        let peft: [[Float]]
        let base: [[Float]]
        let llamaCpp: [[Float]]
        /// The adapter llama.cpp ran (for deepseek2 without the attn_kv_b deltas, which llama.cpp cannot apply).
        let llamaCppAdapter: String
        var description: String { name }

        static let folder = ModelFixture.folder.deletingLastPathComponent().appendingPathComponent("lora")
        var gguf: String { Self.folder.appendingPathComponent("\(name)/adapter.gguf").path }
        var peftFolder: String { Self.folder.appendingPathComponent("\(name)/peft").path }
        var model: String { ModelFixture.folder.appendingPathComponent("\(name).gguf").path }

        static func load(_ name: String) -> Fixture {
            let url = folder.appendingPathComponent("\(name)/reference.json")
            let json = (try? JSONSerialization.jsonObject(with: Data(contentsOf: url))) as? [String: Any] ?? [:]
            func rows(_ key: String) -> [[Float]] { (json[key] as? [[NSNumber]] ?? []).map { $0.map(\.floatValue) } }
            let positions = (json["positions"] as? [NSNumber] ?? []).map(\.intValue)
            // The base model's logits: the model fixture's own reference (the same prompt, its first).
            let base = ModelFixture.load("\(name).json")?.prompts.first?.logits ?? []
            return Fixture(name: name, tokens: (json["tokens"] as? [NSNumber] ?? []).map(\.int32Value),
                           positions: positions, peft: rows("peft_logits"),
                           base: positions.compactMap { $0 < base.count ? base[$0] : nil }, llamaCpp: rows("llama_cpp_logits"),
                           llamaCppAdapter: folder.appendingPathComponent("\(name)/\(json["llama_cpp_adapter"] as? String ?? "adapter.gguf")").path)
        }
        static let all = ["llama", "qwen2moe", "qwen3moe", "deepseek2"].map(load)
    }

    static func open(_ path: String, _ uses: [(String, Float)] = []) throws -> LanguageModel {
        let model = try LanguageModel(path: path, threads: 2)
        model.transformer.activations = .exact
        try model.transformer.setAdapters(uses.map {
            AdapterUse(adapter: try LoRAAdapter.load(path: $0.0, config: model.config), scale: $0.1)
        })
        return model
    }

    /// Logits of every prompt position (all rows in one pass).
    static func logits(_ model: LanguageModel, _ tokens: [Int32]) throws -> [[Float]] {
        let vocab = model.config.vocabularySize
        let all = try model.transformer.logits(tokens, cache: model.transformer.makeCache(capacity: tokens.count),
                                               allLogits: true)
        return (0..<tokens.count).map { Array(all[($0 * vocab)..<(($0 + 1) * vocab)]) }
    }

    /// Max |a − b| relative to the logit scale of `b` (max |logit|, at least 1), over the rows given.
    static func error(_ a: [[Float]], _ b: [[Float]]) -> Float {
        var worst: Float = 0
        for (x, y) in zip(a, b) {
            let scale = max(1, y.map(abs).max() ?? 1)
            for (u, v) in zip(x, y) { worst = max(worst, abs(u - v) / scale) }
        }
        return worst
    }

    @Test(arguments: Fixture.all)
    func adapterLogitsMatchPEFTAndLlamaCpp(fixture: Fixture) throws {
        #expect(!fixture.peft.isEmpty && !fixture.llamaCpp.isEmpty)
        for path in [fixture.gguf, fixture.peftFolder] {
            let ours = try Self.logits(try Self.open(fixture.model, [(path, 1)]), fixture.tokens)
            let peft = Self.error(fixture.positions.map { ours[$0] }, fixture.peft)
            print("\(fixture.name) \(URL(fileURLWithPath: path).lastPathComponent): vs PEFT \(peft)")
            #expect(peft <= 1e-3, "\(fixture.name) \(path): \(peft) vs PEFT")
        }
        // The adapter matters: without it the logits are far from PEFT's.
        #expect(Self.error(fixture.base, fixture.peft) > 0.05)
        let ours = try Self.logits(try Self.open(fixture.model, [(fixture.llamaCppAdapter, 1)]), fixture.tokens)
        let llama = Self.error(fixture.positions.map { ours[$0] }, fixture.llamaCpp)
        print("\(fixture.name) \(URL(fileURLWithPath: fixture.llamaCppAdapter).lastPathComponent): vs llama.cpp \(llama)")
        #expect(llama <= 1e-3, "\(fixture.name): \(llama) vs llama.cpp")
    }

    @Test(arguments: Fixture.all)
    func mergedModelMatchesUnmergedAdapter(fixture: Fixture) throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("lora-merge-\(getpid())-\(fixture.name).gguf").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let config = try ModelConfig(gguf: try GGUFFile(path: fixture.model))
        let adapter = try LoRAAdapter.load(path: fixture.gguf, config: config)
        let changes = try LoRAMerger.merge(base: fixture.model, adapters: [AdapterUse(adapter: adapter, scale: 0.75)],
                                           output: out, f32: false)
        #expect(!changes.isEmpty && changes.allSatisfy { $0.to == .f32 })
        let merged = try Self.logits(try Self.open(out), fixture.tokens)
        let unmerged = try Self.logits(try Self.open(fixture.model, [(fixture.gguf, 0.75)]), fixture.tokens)
        let error = Self.error(merged, unmerged)
        print("\(fixture.name): merged vs unmerged \(error)")
        #expect(error <= 1e-4)
    }

    @Test func mergeIntoAQuantizedModel() throws {
        // Q8_0 tensors are dequantized and adapted: written as F32 (--f32) the merged model is the unmerged
        // adapter on the Q8_0 base exactly; written back as Q8_0 the types stay and only the 8-bit rounding of the
        // new weights differs (on this model's near-tied routers that can switch experts at a few positions, as
        // ReferenceLogitsTests notes, so that case is checked by the arg-max token only).
        let fixture = Fixture.load("qwen2moe")
        let base = ModelFixture.folder.appendingPathComponent("qwen2moe-q8_0.gguf").path
        let adapter = try LoRAAdapter.load(path: fixture.gguf)
        let unmerged = try Self.logits(try Self.open(base, [(fixture.gguf, 1)]), fixture.tokens)
        for f32 in [true, false] {
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("lora-merge-q8-\(getpid())-\(f32).gguf").path
            defer { try? FileManager.default.removeItem(atPath: out) }
            let changes = try LoRAMerger.merge(base: base, adapters: [AdapterUse(adapter: adapter)], output: out, f32: f32)
            #expect(changes.contains { $0.from == .q8_0 } && changes.allSatisfy { $0.to == (f32 ? .f32 : $0.from) })
            let merged = try Self.logits(try Self.open(out), fixture.tokens)
            let agree = zip(merged, unmerged).filter { a, b in
                a.indices.max { a[$0] < a[$1] } == b.indices.max { b[$0] < b[$1] }
            }.count
            print("qwen2moe q8_0 merged \(f32 ? "as f32" : "as q8_0"): vs unmerged \(Self.error(merged, unmerged)), "
                  + "arg-max agreement \(agree)/\(merged.count)")
            if f32 { #expect(Self.error(merged, unmerged) <= 1e-4) } else { #expect(agree >= merged.count * 3 / 4) }
        }
    }

    @Test func scaleZeroIsTheBaseModel() throws {
        for fixture in Fixture.all {
            let base = try Self.logits(try Self.open(fixture.model), fixture.tokens)
            let zero = try Self.logits(try Self.open(fixture.model, [(fixture.gguf, 0)]), fixture.tokens)
            #expect(zero == base && !fixture.base.isEmpty)
            #expect(Self.error(fixture.positions.map { base[$0] }, fixture.base) <= 1e-3)
        }
    }

    @Test func twoAdaptersAddUp() throws {
        // The GGUF form at 0.3 plus the PEFT form at 0.7 is the adapter at 1; at +1 and −1 they cancel.
        for fixture in Fixture.all.prefix(2) {
            let one = try Self.logits(try Self.open(fixture.model, [(fixture.gguf, 1)]), fixture.tokens)
            let sum = try Self.logits(try Self.open(fixture.model, [(fixture.gguf, 0.3), (fixture.peftFolder, 0.7)]),
                                      fixture.tokens)
            #expect(Self.error(sum, one) <= 1e-4, "\(fixture.name)")
            let base = try Self.logits(try Self.open(fixture.model), fixture.tokens)
            let cancelled = try Self.logits(try Self.open(fixture.model, [(fixture.gguf, 1), (fixture.peftFolder, -1)]),
                                            fixture.tokens)
            #expect(Self.error(cancelled, base) <= 1e-4, "\(fixture.name)")
        }
    }

    @Test func legacyDeepSeek2LayoutMergesKVB() throws {
        // The packed attn_kv_b layout of the same deepseek2 weights: the kv_b delta merged into the packed copy.
        let fixture = Fixture.load("deepseek2")
        let legacy = ModelFixture.folder.appendingPathComponent("deepseek2-legacy-kvb.gguf").path
        let ours = try Self.logits(try Self.open(legacy, [(fixture.peftFolder, 1)]), fixture.tokens)
        #expect(Self.error(fixture.positions.map { ours[$0] }, fixture.peft) <= 1e-3)
    }

    @Test func batchedRowsRunTheirOwnAdapters() throws {
        // One pass over three sequences: the model's adapter (default), none, and the adapter at 0.5; each row
        // equals the same sequence run alone; decoding token by token equals the prompt pass.
        for fixture in Fixture.all {
            // (deepseek2: the adapter without attn_kv_b deltas, which are merged at load and not switchable per sequence)
            let model = try Self.open(fixture.model, [(fixture.llamaCppAdapter, 1)])
            let t = model.transformer, vocab = model.config.vocabularySize
            let adapter = t.adapters[0].adapter
            let prompts = [Array(fixture.tokens), Array(fixture.tokens.prefix(9)), Array(fixture.tokens.suffix(6))]
            let own: [[AdapterUse]?] = [nil, [], [AdapterUse(adapter: adapter, scale: 0.5)]]
            let caches = zip(prompts, own).map { prompt, uses -> KVCache in
                let cache = t.makeCache(capacity: prompt.count + 2)
                cache.adapters = uses
                return cache
            }
            let batched = Array(try t.forward(batch: zip(prompts, caches).map { .init(tokens: $0, cache: $1) }))
            for (i, (prompt, uses)) in zip(prompts, own).enumerated() {
                let alone = try Self.open(fixture.model, (uses ?? t.adapters).map { ($0.adapter.path, $0.scale) })
                let single = try Self.logits(alone, prompt).last!
                #expect(Self.error([Array(batched[(i * vocab)..<((i + 1) * vocab)])], [single]) <= 1e-5, "\(fixture.name) \(i)")
            }
            // Decode: the last prompt position fed alone after the others.
            let cache = t.makeCache(capacity: fixture.tokens.count)
            _ = try t.forward(Array(fixture.tokens.dropLast()), cache: cache)
            let step = Array(try t.forward([fixture.tokens.last!], cache: cache))
            let all = try Self.logits(model, fixture.tokens)
            #expect(Self.error([step], [all.last!]) <= 1e-5)
        }
    }

    @Test func sharedCachesCannotRunOtherAdapters() throws {
        let fixture = Fixture.load("llama")
        let model = try Self.open(fixture.model)
        let cache = model.transformer.makeSharedCache(capacity: 32)
        cache.adapters = [AdapterUse(adapter: try LoRAAdapter.load(path: fixture.gguf), scale: 1)]
        #expect(throws: ModelError.self) { try model.transformer.forward(fixture.tokens, cache: cache) }
    }

    // MARK: - Errors

    static func message(_ body: () throws -> Void) -> String {
        do { try body() } catch let error as ModelError { return error.message } catch { return "\(error)" }
        return "(no error)"
    }

    /// Writes a GGUF adapter with the given lora_a/lora_b dims (zeros) and returns its path.
    static func adapterFile(_ tensors: [(String, [Int])], architecture: String = "llama", type: String = "adapter") throws -> String {
        let writer = GGUFWriter()
        writer.set("general.architecture", .string(architecture))
        writer.set("general.type", .string(type))
        writer.set("adapter.type", .string("lora"))
        writer.set("adapter.lora.alpha", .float32(8))
        for (name, dims) in tensors {
            try writer.addTensor(name: name, dimensions: dims, type: .f32,
                                 bytes: [UInt8](repeating: 0, count: dims.reduce(4, *)))
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lora-\(UUID().uuidString).gguf").path
        try writer.write(to: path)
        return path
    }

    @Test func badAdaptersAreRefusedWithTheTensorAndWhatWasExpected() throws {
        let llama = Fixture.load("llama").model
        let model = try LanguageModel(path: llama, threads: 1)
        func attach(_ path: String) -> String {
            defer { try? FileManager.default.removeItem(atPath: path) }
            return Self.message {
                try model.transformer.setAdapters([AdapterUse(adapter: try LoRAAdapter.load(path: path, config: model.config))])
            }
        }
        let shape = attach(try Self.adapterFile([("blk.0.attn_q.weight.lora_a", [32, 4]), ("blk.0.attn_q.weight.lora_b", [4, 64])]))
        #expect(shape.contains("blk.0.attn_q.weight") && shape.contains("expected lora_a [64, r] and lora_b [r, 64]"), "\(shape)")
        let unknown = attach(try Self.adapterFile([("blk.0.attn_qkv.weight.lora_a", [64, 4]), ("blk.0.attn_qkv.weight.lora_b", [4, 64])]))
        #expect(unknown.contains("blk.0.attn_qkv.weight"), "\(unknown)")
        let missing = attach(try Self.adapterFile([("blk.0.attn_q_a.weight.lora_a", [64, 4]), ("blk.0.attn_q_a.weight.lora_b", [4, 32])]))
        #expect(missing.contains("blk.0.attn_q_a.weight") && missing.contains("does not have"), "\(missing)")
        let arch = attach(try Self.adapterFile([("blk.0.attn_q.weight.lora_a", [64, 4]), ("blk.0.attn_q.weight.lora_b", [4, 64])],
                                               architecture: "qwen2moe"))
        #expect(arch.contains("'qwen2moe'") && arch.contains("'llama'"), "\(arch)")
        let notAdapter = Self.message { _ = try LoRAAdapter.load(path: llama) }
        #expect(notAdapter.contains("not a LoRA adapter") && notAdapter.contains("--model"), "\(notAdapter)")
        let half = attach(try Self.adapterFile([("blk.0.attn_q.weight.lora_a", [64, 4])]))
        #expect(half.contains("no lora_b"), "\(half)")
        let embeddings = attach(try Self.adapterFile([("token_embd.weight.lora_a", [64, 4]), ("token_embd.weight.lora_b", [4, 320])]))
        #expect(embeddings.contains("token_embd.weight"), "\(embeddings)")
    }

    /// A random GGUF adapter (rank 2, alpha 4) on every tensor of `model` the engine can adapt, for architectures
    /// without PEFT fixtures: the merged model must equal the unmerged adapter (the delta computed two ways).
    static func randomAdapter(for path: String, seed: UInt64) throws -> String {
        let file = try GGUFFile(path: path)
        let writer = GGUFWriter()
        writer.set("general.architecture", .string(file.architecture ?? "?"))
        writer.set("general.type", .string("adapter"))
        writer.set("adapter.type", .string("lora"))
        writer.set("adapter.lora.alpha", .float32(4))
        var state = seed
        func random() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 1000
        }
        func floats(_ count: Int, _ scale: Float) -> [UInt8] {
            (0..<count).map { _ in random() * scale }.withUnsafeBytes { Array($0) }
        }
        var adapted = 0
        for t in file.tensors {
            guard let tensor = t.name.split(separator: ".").dropFirst(2).first, t.name.hasPrefix("blk."), t.name.hasSuffix(".weight"),
                  LoRASite.names[String(tensor)] != nil, t.dimensions.count >= 2 else { continue }
            let cols = t.dimensions[0], rows = t.dimensions[1], experts = t.dimensions.count == 3 ? [t.dimensions[2]] : []
            let e = experts.first ?? 1
            try writer.addTensor(name: t.name + ".lora_a", dimensions: [cols, 2] + experts, type: .f32,
                                 bytes: floats(2 * cols * e, 1 / Float(cols).squareRoot()))
            try writer.addTensor(name: t.name + ".lora_b", dimensions: [2, rows] + experts, type: .f32,
                                 bytes: floats(2 * rows * e, 0.3))
            adapted += 1
        }
        #expect(adapted > 0)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("lora-random-\(UUID().uuidString).gguf").path
        try writer.write(to: out)
        return out
    }

    @Test(arguments: ["mixtral", "qwen2", "qwen3", "qwen3moe", "gptoss", "deepseek"])
    func otherArchitecturesMergeAsTheyRun(name: String) throws {
        let model = ModelFixture.folder.appendingPathComponent("\(name).gguf").path
        let adapter = try Self.randomAdapter(for: model, seed: 7)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("lora-merged-\(UUID().uuidString).gguf").path
        defer { try? FileManager.default.removeItem(atPath: adapter); try? FileManager.default.removeItem(atPath: out) }
        _ = try LoRAMerger.merge(base: model, adapters: [AdapterUse(adapter: try LoRAAdapter.load(path: adapter))],
                                 output: out, f32: true)
        let tokens = try #require(ModelFixture.load("\(name).json")?.prompts.first?.tokens)
        let unmerged = try Self.logits(try Self.open(model, [(adapter, 1)]), tokens)
        let merged = try Self.logits(try Self.open(out), tokens)
        let base = try Self.logits(try Self.open(model), tokens)
        print("\(name): merged vs unmerged \(Self.error(merged, unmerged)), adapter effect \(Self.error(base, unmerged))")
        #expect(Self.error(merged, unmerged) <= 1e-4)
        #expect(Self.error(base, unmerged) > 0.01)
    }

    @Test func peftNamesMapToGGUFTensors() {
        #expect(LoRAAdapter.ggufName(hfModule: "base_model.model.model.layers.3.self_attn.q_proj")! == ("blk.3.attn_q.weight", nil))
        #expect(LoRAAdapter.ggufName(hfModule: "base_model.model.model.layers.1.mlp.experts.5.down_proj")!
                == ("blk.1.ffn_down_exps.weight", 5))
        #expect(LoRAAdapter.ggufName(hfModule: "base_model.model.model.layers.0.block_sparse_moe.experts.2.w3")!
                == ("blk.0.ffn_up_exps.weight", 2))
        #expect(LoRAAdapter.ggufName(hfModule: "base_model.model.model.layers.2.mlp.shared_experts.up_proj")!
                == ("blk.2.ffn_up_shexp.weight", nil))
        #expect(LoRAAdapter.ggufName(hfModule: "base_model.model.model.layers.2.self_attn.kv_a_proj_with_mqa")!
                == ("blk.2.attn_kv_a_mqa.weight", nil))
        #expect(LoRAAdapter.ggufName(hfModule: "base_model.model.lm_head") == nil)
    }
}
