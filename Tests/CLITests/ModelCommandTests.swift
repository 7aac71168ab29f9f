import Foundation
import Testing

/// The model commands (`info`, `tokenize`, `logits`, `generate`, `bench`) on a tiny fixture model.
@Suite struct ModelCommandTests {
    static let models = CLI.packageRoot.appendingPathComponent("Tests/Fixtures/models")
    /// A fixture model with experts, and its reference file.
    static let model = models.appendingPathComponent("qwen2moe.gguf").path
    static let reference = models.appendingPathComponent("qwen2moe.json")

    func json(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func infoDescribesTheModel() throws {
        let result = try CLI.moecoder(["info", "--model", Self.model, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let info = try json(result.stdout)
        #expect(info["architecture"] as? String == "qwen2moe")
        #expect((info["n_vocab"] as? Int ?? 0) > 0)
        #expect((info["n_expert"] as? Int ?? 0) > 0)
        #expect((info["parameters"] as? Int ?? 0) > (info["active_parameters"] as? Int ?? 0))
        let human = try CLI.moecoder(["info", "--model", Self.model])
        #expect(human.stdout.contains("experts"))
    }

    @Test func logitsMatchTheReferenceFile() throws {
        let reference = try json(String(decoding: try Data(contentsOf: Self.reference), as: UTF8.self))
        let prompt = try #require((reference["prompts"] as? [[String: Any]])?.first)
        let tokens = try #require(prompt["tokens"] as? [Int])
        let expected = try #require((prompt["logits"] as? [[Double]])?.last)
        let result = try CLI.moecoder(["logits", "--model", Self.model, "--tokens",
                                       tokens.map(String.init).joined(separator: ","), "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let output = try json(result.stdout)
        let logits = try #require(output["logits"] as? [Double])
        #expect(output["n_vocab"] as? Int == expected.count)
        let scale = max(1, expected.map(abs).max() ?? 1)
        let worst = zip(logits, expected).map { abs($0 - $1) }.max() ?? 1
        #expect(worst / scale < 1e-3)
    }

    @Test func tokenizeAndGenerate() throws {
        let tokens = try CLI.moecoder(["tokenize", "--model", Self.model, "def f(x):\n    return x", "--json"])
        #expect(tokens.status == 0, "\(tokens.stderr)")
        let ids = try #require(try json(tokens.stdout)["ids"] as? [Int])
        #expect(!ids.isEmpty)
        let run = try CLI.moecoder(["generate", "--model", Self.model, "--prompt", "def f(x):", "--max-tokens", "8",
                                    "--ignore-eos", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try json(run.stdout)
        #expect((report["tokens"] as? [Int])?.count == 8)
        #expect(report["stop_reason"] as? String == "max_tokens")
        // Same seed, same sample.
        let args = ["generate", "--model", Self.model, "--prompt", "x = ", "--max-tokens", "6", "--temperature", "1",
                    "--seed", "7", "--ignore-eos", "--json"]
        let first = try json(try CLI.moecoder(args).stdout), second = try json(try CLI.moecoder(args).stdout)
        #expect(first["tokens"] as? [Int] == second["tokens"] as? [Int])
        #expect((first["tokens"] as? [Int])?.count == 6)
    }

    @Test func benchReportsSpeedAndMemory() throws {
        let result = try CLI.moecoder(["bench", "--model", Self.model, "--prompt-tokens", "16", "--gen-tokens", "4",
                                       "--repetitions", "1", "--threads", "1", "--batch", "6", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try json(result.stdout)
        #expect((report["prompt_tokens_per_s"] as? Double ?? 0) > 0)
        #expect((report["decode_tokens_per_s"] as? Double ?? 0) > 0)
        #expect((report["peak_rss_mb"] as? Double ?? 0) > 0)
        // Batched decode and the rates per CPU-second (finite: the CPU time of a timed run is never zero).
        #expect(report["batch"] as? Int == 6)
        // With --batch the KV cache is serve's default: q8_0, or f16 for heads that are not multiples of 32.
        #expect(["q8_0", "f16"].contains(report["kv_type"] as? String ?? ""), "\(String(describing: report["kv_type"]))")
        for key in ["batch_decode_tokens_per_s", "prompt_tokens_per_cpu_s", "decode_tokens_per_cpu_s",
                    "batch_decode_tokens_per_cpu_s", "batch_speedup_cpu"] {
            let value = report[key] as? Double ?? 0
            #expect(value > 0 && value.isFinite, "\(key): \(String(describing: report[key]))")
        }
    }

    @Test func kernelLevelAndExactModeCanBeChosen() throws {
        let args = ["bench", "--model", Self.model, "--prompt-tokens", "8", "--gen-tokens", "2", "--repetitions", "1",
                    "--json"]
        let portable = try json(try CLI.moecoder(args, environment: ["MOECODER_KERNELS": "portable"]).stdout)
        #expect(portable["kernels"] as? String == "portable")
        #expect(portable["activations"] as? String == "8-bit")
        #expect(portable["kv_type"] as? String == "f16")  // the default cache follows llama.cpp's precision
        let exact = try json(try CLI.moecoder(args + ["--exact"]).stdout)
        #expect(exact["activations"] as? String == "exact")
        #expect(exact["kv_type"] as? String == "f32")  // and exact mode keeps the exact one
        let viaEnvironment = try json(try CLI.moecoder(args, environment: ["MOECODER_EXACT": "1"]).stdout)
        #expect(viaEnvironment["activations"] as? String == "exact")
    }

    @Test func portableAndVectorKernelsGiveTheSameLogits() throws {
        // The whole forward pass with the portable C kernels and with the best this CPU has: the integer sums
        // are identical, only float rounding order differs.
        let q8 = Self.models.appendingPathComponent("qwen2moe-q8_0.gguf").path
        let args = ["logits", "--model", q8, "--tokens", "1,5,9,12,3,7,2,11", "--json"]
        let best = try json(try CLI.moecoder(args).stdout)["logits"] as? [Double] ?? []
        let portable = try json(try CLI.moecoder(args, environment: ["MOECODER_KERNELS": "portable"]).stdout)["logits"]
            as? [Double] ?? []
        #expect(!best.isEmpty && best.count == portable.count)
        let scale = max(1, best.map(abs).max() ?? 1)
        let worst = zip(best, portable).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst / scale < 1e-4, "max |Δ| \(worst) of scale \(scale)")
    }

    @Test func badModelInputsAreClearErrors() throws {
        let missing = try CLI.moecoder(["info", "--model", "/no/such/model.gguf"])
        #expect(missing.status == 2 && missing.stderr.contains("no such file"))
        let dir = try CLI.scratch(["not-a-model.gguf": "hello, this is not GGUF"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let garbage = try CLI.moecoder(["info", "--model", dir.appendingPathComponent("not-a-model.gguf").path])
        #expect(garbage.status == 2)
        #expect(garbage.stderr.lowercased().contains("magic"), "\(garbage.stderr)")
        let badTokens = try CLI.moecoder(["logits", "--model", Self.model, "--tokens", "1,x"])
        #expect(badTokens.status == 2 && badTokens.stderr.contains("not a token id"))
        let outOfRange = try CLI.moecoder(["logits", "--model", Self.model, "--tokens", "99999999"])
        #expect(outOfRange.status == 2 && outOfRange.stderr.contains("outside the vocabulary"))
    }
}
