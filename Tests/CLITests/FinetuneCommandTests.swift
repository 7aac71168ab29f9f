import Foundation
import Testing

/// `moecoder finetune`: argument and input errors (no Python needed), and a tiny end-to-end run on the qwen2moe
/// fixture model when a Python with torch, transformers and gguf is at hand (skipped otherwise: CI has none).
@Suite struct FinetuneCommandTests {
    static let model = CLI.packageRoot.appendingPathComponent("Tests/Fixtures/models/qwen2moe.gguf").path
    static let code = """
        import os


        def join_all(parts, sep="/"):
            result = []
            for part in parts:
                if part:
                    result.append(part.strip(sep))
            return sep.join(result)


        class Counter:
            def __init__(self):
                self.counts = {}

            def add(self, key):
                self.counts[key] = self.counts.get(key, 0) + 1
                return self.counts[key]

        """

    static func repo() throws -> URL {
        try CLI.scratch((0..<4).reduce(into: [String: String]()) { files, i in
            files["pkg/mod\(i).py"] = code.replacingOccurrences(of: "join_all", with: "join_\(i)")
        })
    }

    @Test func badArgumentsAreUsageErrors() throws {
        let dir = try Self.repo()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("a.gguf").path
        for args in [
            ["finetune", dir.path],  // no --out
            ["finetune", dir.path, "--out", out, "--steps", "3", "--minutes", "1"],
            ["finetune", dir.path, "--out", out, "--steps", "0"],
            ["finetune", dir.path, "--out", out, "--rank", "0"],
            ["finetune", dir.path, "--out", out, "--lines", "-1"],
            ["finetune", dir.path, "--out", out, "--lines", "some"],
            ["finetune", dir.path, "--out", out, "--probes", "docstrings"],
            ["finetune", dir.path, "--out", out, "--holdout", "1"],
            ["finetune", dir.path, "--out", out, "--replay", "1"],
            ["finetune", dir.path, "--out", out, "--replay", "-0.1"],
            ["finetune", dir.path, "--out", dir.appendingPathComponent("a.bin").path],
        ] {
            let result = try CLI.moecoder(args)
            #expect(result.status == 2, "\(args): \(result.stderr)")
        }
    }

    @Test func badInputIsReportedBeforeAnyTraining() throws {
        let dir = try Self.repo()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("a.gguf").path
        let missing = try CLI.moecoder(["finetune", "/no/such/repo", "--out", out, "--no-augment"])
        #expect(missing.status == 2 && missing.stderr.contains("does not exist"), "\(missing.stderr)")
        let empty = try CLI.scratch(["README.md": "# nothing to train on\n"])
        defer { try? FileManager.default.removeItem(at: empty) }
        let noPython = try CLI.moecoder(["finetune", empty.path, "--out", out, "--no-augment"])
        #expect(noPython.status == 2 && noPython.stderr.contains("no Python files"), "\(noPython.stderr)")
        let noModel = try CLI.moecoder(["finetune", dir.path, "--out", out, "--no-augment", "--model", "/no/such.gguf"])
        #expect(noModel.status == 2 && noModel.stderr.contains("no such file"), "\(noModel.stderr)")
        let noFolder = try CLI.moecoder(["finetune", dir.path, "--out", "/no/such/dir/a.gguf", "--no-augment",
                                         "--model", Self.model])
        #expect(noFolder.status == 2 && noFolder.stderr.contains("does not exist"), "\(noFolder.stderr)")
        let badPython = try CLI.moecoder(["finetune", dir.path, "--out", out, "--no-augment", "--model", Self.model,
                                          "--python", "/no/such/python3"])
        #expect(badPython.status == 2 && badPython.stderr.contains("--python"), "\(badPython.stderr)")
        let badReplay = try CLI.moecoder(["finetune", dir.path, "--out", out, "--no-augment", "--model", Self.model,
                                          "--replay-dir", "/no/such/folder"])
        #expect(badReplay.status == 2 && badReplay.stderr.contains("--replay-dir"), "\(badReplay.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
        // Without `moecoder augment` in this build, augmenting is refused with a way out.
        let help = try CLI.moecoder(["--help"])
        if !help.stdout.contains("augment") {
            let noAugment = try CLI.moecoder(["finetune", dir.path, "--out", out, "--model", Self.model])
            #expect(noAugment.status == 2 && noAugment.stderr.contains("--no-augment"), "\(noAugment.stderr)")
        }
    }

    /// A Python with the trainer's packages: $MOECODER_PYTHON, the managed environment, or python3.
    static func trainingPython() -> String? {
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
        var candidates = [home + "/.cache/moecoder/finetune-venv/bin/python", "python3"]
        if let env = ProcessInfo.processInfo.environment["MOECODER_PYTHON"] { candidates.insert(env, at: 0) }
        for python in candidates {
            if let result = try? CLI.run("/usr/bin/env", [python, "-c", "import torch, transformers, gguf, tokenizers"]),
               result.status == 0 {
                return python
            }
        }
        return nil
    }

    @Test func trainsATinyAdapterEndToEnd() throws {
        guard let python = Self.trainingPython() else {
            // No torch + transformers + gguf here (CI): the end-to-end run is skipped; bench/finetune_bench.sh runs it.
            return
        }
        let dir = try Self.repo()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("adapter.gguf").path
        // Replay from a folder of general code: here the repository's own first file under another name.
        let general = try CLI.scratch(["general/lib.py": Self.code])
        defer { try? FileManager.default.removeItem(at: general) }
        let result = try CLI.moecoder(["finetune", dir.path, "--out", out, "--no-augment", "--model", Self.model,
                                       "--python", python, "--steps", "3", "--holdout", "0.25", "--lines", "2",
                                       "--threads", "1", "--replay", "0.5", "--replay-dir", general.path, "--replay-kl",
                                       "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(summary["steps"] as? Int == 3)
        #expect(summary["replay"] as? Double == 0.5 && summary["replay_files"] as? Int == 1)
        #expect(summary["replay_kl"] as? Bool == true)
        #expect(summary["probe_rule"] as? String == "code" && summary["line_probes_per_file"] as? Int == 2)
        let before = try #require(summary["before"] as? [String: Any]), after = try #require(summary["after"] as? [String: Any])
        #expect((before["scored_tokens"] as? Int ?? 0) > 50 && before["scored_tokens"] as? Int == after["scored_tokens"] as? Int)
        // Each probe is reported with what the model wrote; two lines of code of the held-out file.
        let probes = try #require(before["probes"] as? [[String: Any]])
        #expect(probes.count == 2 && before["line_probes"] as? Int == 2)
        #expect(probes.allSatisfy { ($0["expected"] as? String)?.isEmpty == false && $0["written"] is String })
        let checks = try #require(summary["checks"] as? [String: Any])
        #expect((checks["tokenizer"] as? [String: Any])?["identical"] as? Bool == true)
        #expect(((checks["logits"] as? [String: Any])?["relative"] as? Double ?? 1) < 1e-3)
        let repository = try #require(summary["repository"] as? [String: Any])
        #expect((repository["heldout_files"] as? [String])?.count == 1 && (repository["train_files"] as? [String])?.count == 3)
        // The adapter: GGUF, with llama.cpp's adapter keys and a lora_a/lora_b pair per adapted attention matrix.
        let data = try Data(contentsOf: URL(fileURLWithPath: out))
        #expect(data.prefix(4) == Data("GGUF".utf8))
        let text = String(decoding: data.prefix(4096), as: UTF8.self)
        for needle in ["general.type", "adapter", "adapter.lora.alpha", "blk.0.attn_q.weight.lora_a",
                       "blk.1.attn_output.weight.lora_b"] {
            #expect(text.contains(needle), "\(needle)")
        }
    }
}
