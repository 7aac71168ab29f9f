import Foundation
import Testing

/// `moecoder testgen` as a user runs it: clear errors with exit status 2, a report and a passing test file.
@Suite struct TestgenCommandTests {
    @Test func moduleThatDoesNotParseIsAnError() throws {
        let dir = try CLI.scratch(["broken.py": "def f(x:\n    return x\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try CLI.moecoder(["testgen", dir.appendingPathComponent("broken.py").path, "--budget", "1"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("does not parse"))
        // Where CPython reports it (issue 18): the parenthesis never closed, line 1, column 6.
        #expect(result.stderr.contains("broken.py:1:6: error: '(' was never closed"))
    }

    @Test func moduleThatCannotBeImportedIsAnError() throws {
        let dir = try CLI.scratch(["needs.py": "import definitely_not_installed_xyz\n\ndef f(x):\n    return x\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try CLI.moecoder(["testgen", dir.appendingPathComponent("needs.py").path, "--budget", "1"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("cannot be imported"))
        #expect(result.stderr.contains("definitely_not_installed_xyz"))
    }

    @Test func moduleWithoutFunctionsIsAnError() throws {
        let dir = try CLI.scratch(["empty.py": "X = 1\n_hidden = 2\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try CLI.moecoder(["testgen", dir.appendingPathComponent("empty.py").path, "--budget", "1"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("no public functions"))
    }

    @Test func writesPassingTestsAndAJSONReport() throws {
        let source = """
            def safe_div(a: int, b: int) -> float:
                if b == 0:
                    raise ZeroDivisionError("b is zero")
                return a / b


            def first(items: list):
                return items[0]
            """
        let dir = try CLI.scratch(["calc.py": source])
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("tests/test_calc.py").path
        let result = try CLI.moecoder(["testgen", dir.appendingPathComponent("calc.py").path, "--budget", "1",
                                       "--seed", "3", "--out", out, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("runs"))  // progress during the budget
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect((report["verification"] as? [String: Any])?["passed"] as? Bool == true)
        let findings = try #require(report["findings"] as? [[String: Any]])
        #expect(findings.contains { $0["function"] as? String == "first" && $0["kind"] as? String == "IndexError"
                                    && $0["reproduction"] as? String == "calc.first([])" })
        let text = try String(contentsOfFile: out, encoding: .utf8)
        #expect(text.contains("with pytest.raises(ZeroDivisionError, match='b is zero'):"))
        let pytest = try CLI.run("/usr/bin/env", ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", out])
        #expect(pytest.status == 0, "\(pytest.stdout)")
    }

    @Test func modelProposalsAreOptionalAndFiltered() throws {
        // A tiny random model proposes nothing that parses; the run still succeeds on its own inputs.
        let model = CLI.packageRoot.appendingPathComponent("Tests/Fixtures/models/llama.gguf").path
        let dir = try CLI.scratch(["calc.py": "def add(a: int, b: int) -> int:\n    return a + b\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try CLI.moecoder(["testgen", dir.appendingPathComponent("calc.py").path, "--budget", "1",
                                       "--model", model, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("\"model_proposals\""))
        #expect(result.stderr.contains("the model proposed"))
    }
}
