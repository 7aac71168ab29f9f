import Foundation
import Testing

/// `moecoder parse`, run as a user runs it: exit status, messages, JSON.
@Suite struct ParseCommandTests {
    let good = "def f(x):\n    '''Double.'''\n    return 2 * x\n"
    let bad = "def f(x):\n    return (x\n"

    @Test func validFileExitsZeroAndPrintsNothing() throws {
        let dir = try CLI.scratch(["ok.py": good])
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try CLI.moecoder(["parse", dir.appendingPathComponent("ok.py").path])
        #expect(result.status == 0)
        #expect(result.stdout.isEmpty)
    }

    @Test func syntaxErrorsExitOneCompilerStyle() throws {
        let dir = try CLI.scratch(["bad.py": bad])
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("bad.py").path
        let result = try CLI.moecoder(["parse", path])
        #expect(result.status == 1)
        #expect(result.stdout == "\(path):2:12: error: '(' was never closed\n")
    }

    @Test func jsonOutput() throws {
        let dir = try CLI.scratch(["bad.py": bad, "ok.py": good])
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try CLI.moecoder(["parse", "--json", "--defs", dir.appendingPathComponent("ok.py").path,
                                       dir.appendingPathComponent("bad.py").path])
        #expect(result.status == 1)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 2)
        let ok = try #require(JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(ok["ok"] as? Bool == true)
        #expect(ok["language"] as? String == "python")
        let defs = try #require(ok["definitions"] as? [[String: Any]])
        #expect(defs.first?["name"] as? String == "f")
        #expect(defs.first?["docstring"] as? String == "Double.")
        #expect((defs.first?["parameters"] as? [[String: Any]])?.first?["name"] as? String == "x")
        let badReport = try #require(JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
        #expect(badReport["ok"] as? Bool == false)
        let error = try #require((badReport["errors"] as? [[String: Any]])?.first)
        #expect(error["message"] as? String == "'(' was never closed")
        #expect((error["start"] as? [String: Any])?["line"] as? Int == 2)
    }

    @Test func definitionsListing() throws {
        let dir = try CLI.scratch(["m.go": "package m\n\n// Sum adds.\nfunc Sum(a, b int) int { return a + b }\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("m.go").path
        let result = try CLI.moecoder(["parse", "--defs", path])
        #expect(result.status == 0)
        #expect(result.stdout == "\(path):4:1: function Sum(a: int, b: int) -> int  # Sum adds.\n")
    }

    @Test func standardInputNeedsLanguage() throws {
        let withLanguage = try CLI.moecoder(["parse", "-", "--language", "javascript"], input: "let x = ;\n")
        #expect(withLanguage.status == 1)
        #expect(withLanguage.stdout.hasPrefix("-:1:9: error: unexpected ';'"))
        let without = try CLI.moecoder(["parse", "-"], input: "x = 1\n")
        #expect(without.status == 2)
        #expect(without.stderr.contains("--language"))
    }

    @Test func badUsageExitsTwoWithAMessage() throws {
        let cases: [([String], String)] = [
            (["parse", "/no/such/file.py"], "cannot read '/no/such/file.py'"),
            (["parse", "notes.txt"], "cannot tell the language of 'notes.txt'"),
            (["parse", "--language", "cobol", "x.cob"], "unknown language 'cobol'"),
            (["parse"], "give at least one file"),
            (["parse", "--no-such-flag", "x.py"], "no-such-flag"),
            (["frobnicate"], "frobnicate"),
        ]
        for (arguments, message) in cases {
            let result = try CLI.moecoder(arguments)
            #expect(result.status == 2, "\(arguments): status \(result.status)")
            #expect(result.stderr.contains(message), "\(arguments): stderr was \(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
    }

    @Test func folderIsSearchedAndSummarised() throws {
        let dir = try CLI.scratch(["a.py": good, "sub/b.js": "let x = 1;\n", "README.md": "# not code"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try CLI.moecoder(["parse", dir.path])
        #expect(result.status == 0)
        #expect(result.stderr.contains("parsed 2 files"))
    }

    @Test func helpExplainsExitStatus() throws {
        let result = try CLI.moecoder(["parse", "--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("Exit status"))
        #expect(result.stdout.contains("--defs"))
    }
}
