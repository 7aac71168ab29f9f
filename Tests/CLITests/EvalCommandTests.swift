import Foundation
import Testing

/// `moecoder eval` and `moecoder quantize` on the tiny qwen2moe fixture model.
@Suite struct EvalCommandTests {
    static let model = CLI.packageRoot.appendingPathComponent("Tests/Fixtures/models/qwen2moe.gguf").path
    static let example = CLI.packageRoot.appendingPathComponent("examples/python/inventory.py").path

    @Test func evalReportsPerplexityAndNextLineMatch() throws {
        let result = try CLI.moecoder(["eval", "--model", Self.model, "--threads", "1", "--lines", "2",
                                       "--samples", "1", "--completions", "2", "--window", "64", "--json",
                                       Self.example])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let summary = try #require(report["summary"] as? [String: Any])
        #expect(summary["files"] as? Int == 1)
        #expect((summary["scoredTokens"] as? Int ?? 0) > 100)
        #expect((summary["perplexity"] as? Double ?? 0) > 1)
        #expect(summary["lineProbes"] as? Int == 2)
        let completions = try #require(report["completions"] as? [String: Any])
        #expect(completions["holes"] as? Int == 2)
        #expect((completions["parsed"] as? Int ?? -1) >= 0 && completions["parse_rate"] is Double)
        let human = try CLI.moecoder(["eval", "--model", Self.model, "--threads", "1", "--lines", "1", "--samples", "0",
                                      "--completions", "1", "--window", "64", Self.example])
        #expect(human.status == 0 && human.stdout.contains("perplexity") && human.stdout.contains("completions parse"))
    }

    @Test func evalNeedsFilesOrHeldOut() throws {
        #expect(try CLI.moecoder(["eval", "--model", Self.model]).status == 2)
        #expect(try CLI.moecoder(["eval", "--model", Self.model, "--held-out", Self.example]).status == 2)
    }

    @Test func quantizeWritesALoadableModel() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("q-\(UUID().uuidString).gguf").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let result = try CLI.moecoder(["quantize", Self.model, out, "--type", "q8_0"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("Q8_0") && result.stdout.contains("bits per weight"), "\(result.stdout)")
        let info = try CLI.moecoder(["info", "--model", out, "--json"])
        #expect(info.status == 0 && info.stdout.contains("Q8_0"))
        #expect(try CLI.moecoder(["quantize", Self.model, out, "--type", "q3_k"]).status == 2)
        #expect(try CLI.moecoder(["quantize", Self.model, out, "--keep", "attn_v"]).status == 2)
        #expect(try CLI.moecoder(["quantize", Self.model, out, "--keep", "attn_v.weight=iq2_xxs"]).status == 2)
        #expect(try CLI.moecoder(["quantize", "/no/such.gguf", out]).status != 0)

        // A K-quant mix with an override, as JSON: every tensor listed with its type.
        let json = try CLI.moecoder(["quantize", Self.model, out, "--type", "q4_k_m", "--keep", "attn_q.weight=q8_0",
                                     "--json", "--quiet"])
        #expect(json.status == 0, "\(json.stderr)")
        let summary = try #require(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let tensors = try #require(summary["tensors"] as? [[String: Any]])
        for t in tensors where (t["name"] as? String ?? "").hasSuffix("attn_q.weight") { #expect(t["to"] as? String == "Q8_0") }
        #expect((summary["bits_per_weight"] as? Double ?? 0) > 4)
        #expect(try CLI.moecoder(["info", "--model", out, "--json"]).status == 0)
    }

    /// `imatrix` writes llama.cpp's importance-matrix GGUF and `quantize --imatrix` reads it.
    @Test func imatrixFeedsTheQuantizer() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("imatrix-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let matrix = dir.appendingPathComponent("imatrix.gguf").path, out = dir.appendingPathComponent("q.gguf").path
        let made = try CLI.moecoder(["imatrix", "--model", Self.model, "--text", Self.example, "-o", matrix, "--ctx", "64",
                                     "--chunks", "2", "--threads", "1"])
        #expect(made.status == 0, "\(made.stderr)")
        let quantized = try CLI.moecoder(["quantize", Self.model, out, "--type", "q4_k_m", "--imatrix", matrix, "--quiet"])
        #expect(quantized.status == 0, "\(quantized.stderr)")
        #expect(try CLI.moecoder(["quantize", Self.model, out, "--imatrix", Self.example, "--quiet"]).status != 0)
    }

    /// Without --model every command uses the shipped models/default.gguf: a qwen2moe with FIM tokens, at most
    /// 40 MB, that predicts a held-out file far better than chance (its unigram baseline is ~1190).
    @Test func theShippedModelIsTheDefault() throws {
        let info = try CLI.moecoder(["info", "--json"])
        #expect(info.status == 0, "\(info.stderr)")
        let object = try #require(JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any])
        #expect((object["path"] as? String)?.hasSuffix("models/default.gguf") == true)
        #expect(object["architecture"] as? String == "qwen2moe")
        #expect((object["file_bytes"] as? Int ?? .max) <= 40_000_000)
        #expect((object["tokenizer"] as? [String: Any])?["fim"] as? Bool == true)

        let file = CLI.packageRoot.appendingPathComponent("models/heldout/stdlib___weakrefset.py").path
        let eval = try CLI.moecoder(["eval", "--lines", "1", "--samples", "1", "--completions", "3", "--window", "256",
                                     "--json", file])
        #expect(eval.status == 0, "\(eval.stderr)")
        let report = try #require(JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any])
        let perplexity = try #require((report["summary"] as? [String: Any])?["perplexity"] as? Double)
        #expect(perplexity > 1 && perplexity < 200)
        // Constrained completions of whole-line holes leave the file parsing.
        let completions = try #require(report["completions"] as? [String: Any])
        #expect(completions["holes"] as? Int == 3 && completions["parsed"] as? Int == 3)
    }
}
