import Foundation
import Testing

/// `moecoder complete` as users and scripts run it, on a tiny fixture model (which writes noise: these tests
/// check the contract — fields, exit codes, inputs — not the code it writes).
@Suite struct CompleteCommandTests {
    static let model = CLI.packageRoot.appendingPathComponent("Tests/Fixtures/models/qwen2moe.gguf").path
    static let source = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    \n\nprint(add(1, 2))\n"

    func json(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not JSON: \(text)")
    }

    func withFile(_ name: String = "calc.py", _ text: String = source, _ body: (String) throws -> Void) throws {
        let dir = try CLI.scratch([name: text])
        defer { try? FileManager.default.removeItem(at: dir) }
        try body(dir.appendingPathComponent(name).path)
    }

    @Test func jsonReportsTheCompletion() throws {
        try withFile { path in
            let result = try CLI.moecoder(["complete", path, "--line", "6", "--column", "5", "--model", Self.model,
                                           "--max-tokens", "8", "--json"])
            #expect(result.status == 0, "\(result.stderr)")
            let report = try json(result.stdout)
            #expect(report["completion"] is String)
            let tokens = try #require(report["tokens"] as? Int)
            #expect(tokens >= 1 && tokens <= 8)
            let notes = try #require(report["notes"] as? [String])
            #expect(report["constrained"] as? Bool == !notes.contains { $0.contains("syntax constraint is not available") })
            #expect(report["parse_ok"] is Bool)
            let reasons = ["eos", "max_tokens", "context_full", "closed_construct", "end_of_line", "end_of_statement",
                           "end_of_block", "blank_line", "suffix_overlap"]
            #expect(reasons.contains(report["stop_reason"] as? String ?? ""))
            #expect((report["ms"] as? Double ?? -1) >= 0)
            #expect((report["prompt_tokens"] as? Int ?? 0) > 0)
            #expect(report["fim"] is NSNull, "the fixture model has no FIM tokens")
            let free = try CLI.moecoder(["complete", path, "--line", "6", "--column", "5", "--model", Self.model,
                                         "--max-tokens", "4", "--json", "--no-constrain"])
            #expect(try json(free.stdout)["constrained"] as? Bool == false)
        }
    }

    @Test func plainOutputIsTheCompletionAndInsertIsTheWholeFile() throws {
        try withFile { path in
            let args = ["complete", path, "--line", "6", "--column", "5", "--model", Self.model, "--max-tokens", "6"]
            let report = try json(try CLI.moecoder(args + ["--json"]).stdout)
            let completion = try #require(report["completion"] as? String)
            let plain = try CLI.moecoder(args)
            #expect(plain.status == 0)
            #expect(plain.stdout == completion + "\n")
            #expect(plain.stderr.contains("no fill-in-the-middle tokens"), "the fallback is announced")
            let inserted = try CLI.moecoder(args + ["--insert"])
            #expect(inserted.status == 0)
            let cursor = Self.source.index(Self.source.startIndex, offsetBy: 53)
            #expect(inserted.stdout == Self.source[..<cursor] + completion + Self.source[cursor...])
        }
    }

    @Test func standardInputNeedsALanguage() throws {
        let args = ["complete", "-", "--line", "2", "--column", "5", "--model", Self.model, "--max-tokens", "4"]
        let withLanguage = try CLI.moecoder(args + ["--language", "python", "--json"], input: "def f(x):\n    \n")
        #expect(withLanguage.status == 0, "\(withLanguage.stderr)")
        #expect(try json(withLanguage.stdout)["completion"] is String)
        let without = try CLI.moecoder(args, input: "def f(x):\n    \n")
        #expect(without.status == 2)
        #expect(without.stderr.contains("--language"))
    }

    @Test func theFileIsNeverModified() throws {
        try withFile { path in
            let before = try Data(contentsOf: URL(fileURLWithPath: path))
            let modified = try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date
            for extra in [["--json"], ["--insert"], [], ["--no-constrain", "--temperature", "0.8", "--seed", "3"]] {
                let result = try CLI.moecoder(["complete", path, "--line", "2", "--column", "17", "--model", Self.model,
                                               "--max-tokens", "4"] + extra)
                #expect(result.status == 0, "\(result.stderr)")
            }
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
            #expect(try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date == modified)
        }
    }

    @Test func samplingIsRepeatableWithASeed() throws {
        try withFile { path in
            let args = ["complete", path, "--line", "6", "--column", "5", "--model", Self.model, "--max-tokens", "6",
                        "--temperature", "1", "--seed", "11", "--json"]
            let first = try json(try CLI.moecoder(args).stdout), second = try json(try CLI.moecoder(args).stdout)
            #expect(first["completion"] as? String == second["completion"] as? String)
        }
    }

    @Test(arguments: [
        (["--line", "40", "--column", "1"], "line 40 is not in the file"),
        (["--line", "6", "--column", "9"], "column 9 is not on line 6"),
        (["--line", "0", "--column", "1"], "line 0"),
    ])
    func cursorsOutsideTheFileExitTwo(arguments: [String], message: String) throws {
        try withFile { path in
            let result = try CLI.moecoder(["complete", path, "--model", Self.model] + arguments)
            #expect(result.status == 2)
            #expect(result.stderr.contains(message), "\(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
    }

    @Test func badInputsExitTwoWithWhatToDo() throws {
        let missing = try CLI.moecoder(["complete", "/nonexistent/x.py", "--line", "1", "--column", "1",
                                        "--model", Self.model])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("cannot read '/nonexistent/x.py'"))
        try withFile("notes.txt", "x = 1\n") { path in
            let unknown = try CLI.moecoder(["complete", path, "--line", "1", "--column", "1", "--model", Self.model])
            #expect(unknown.status == 2)
            #expect(unknown.stderr.contains("pass --language"))
            let named = try CLI.moecoder(["complete", path, "--line", "1", "--column", "1", "--model", Self.model,
                                          "--language", "cobol"])
            #expect(named.status == 2)
            #expect(named.stderr.contains("unknown language 'cobol'"))
        }
        try withFile { path in
            let noModel = try CLI.moecoder(["complete", path, "--line", "1", "--column", "1",
                                            "--model", "/nonexistent/model.gguf"])
            #expect(noModel.status == 2)
            #expect(noModel.stderr.contains("cannot read the model"))
            let both = try CLI.moecoder(["complete", path, "--line", "1", "--column", "1", "--json", "--insert"])
            #expect(both.status == 2)
        }
    }
}
