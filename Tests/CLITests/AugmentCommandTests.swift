import Foundation
import Testing

/// `moecoder augment`, run as the finetune command and a user run it.
@Suite struct AugmentCommandTests {
    let program = """
        import os
        import sys


        def total(values, start=0):
            \"\"\"Add up values.\"\"\"
            result = start  # running sum
            for value in values:
                result += value
            return result


        def evens(xs):
            out = []
            for x in xs:
                if x % 2 == 0:
                    out.append(x)
            return out


        if __name__ == "__main__":
            print(total([1, 2, 3], start=1), evens(range(5)), os.sep, sys.byteorder)

        """

    @Test func listsTheTwelveTransforms() throws {
        let result = try CLI.moecoder(["augment", "--list"])
        #expect(result.status == 0)
        let names = result.stdout.split(separator: "\n").map { String($0.split(separator: " ").first ?? "") }
        #expect(names == ["rename-locals", "rename-params", "reorder-imports", "annotations", "docs-comments", "reformat",
                          "loop-comprehension", "invert-if", "extract-local", "inline-local", "reorder-kwargs",
                          "reorder-statements"])
    }

    @Test func clearErrors() throws {
        let dir = try CLI.scratch(["a.py": program, "b.js": "let x = 1;\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let unknown = try CLI.moecoder(["augment", dir.path, "--out", dir.path + "/o", "--transforms", "rename-locals,shuffle"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("unknown transform 'shuffle'; known transforms: rename-locals, rename-params"))
        let js = try CLI.moecoder(["augment", dir.appendingPathComponent("b.js").path, "--out", dir.path + "/o"])
        #expect(js.status == 2)
        #expect(js.stderr.contains("is not a Python file (it looks like javascript): augment supports Python only"))
        let missing = try CLI.moecoder(["augment", dir.path + "/nope.py", "--out", dir.path + "/o"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("no such file"))
    }

    @Test func stdoutAppliesTheNamedTransform() throws {
        let dir = try CLI.scratch(["a.py": program])
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try CLI.moecoder(["augment", dir.appendingPathComponent("a.py").path, "--transforms",
                                       "loop-comprehension", "--rate", "1", "--stdout"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("    out = [x for x in xs if x % 2 == 0]\n    return out\n"))
        #expect(result.stdout.contains("    for value in values:\n"))
    }

    @Test func copiesAreReproducibleCheckedAndReported() throws {
        let dir = try CLI.scratch(["pkg/a.py": program, "pkg/sub/b.py": "def f(a, b):\n    s = a + b\n    return s\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        func run(_ seed: Int, _ out: String) throws -> [[String: Any]] {
            let result = try CLI.moecoder(["augment", dir.appendingPathComponent("pkg").path, "--out", dir.path + "/" + out,
                                           "--copies", "3", "--seed", String(seed), "--json"])
            #expect(result.status == 0, "\(result.stderr)")
            return try result.stdout.split(separator: "\n").map {
                try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
        }
        let first = try run(7, "o1"), again = try run(7, "o2"), other = try run(8, "o3")
        #expect(first.count == 6)
        let outputs = first.compactMap { $0["output"] as? String }.map { $0.replacingOccurrences(of: dir.path + "/o1/", with: "") }
        #expect(outputs == ["a.aug1.py", "a.aug2.py", "a.aug3.py", "sub/b.aug1.py", "sub/b.aug2.py", "sub/b.aug3.py"])
        var differs = false
        for name in outputs {
            let a = try String(contentsOfFile: dir.path + "/o1/" + name, encoding: .utf8)
            let b = try String(contentsOfFile: dir.path + "/o2/" + name, encoding: .utf8)
            let c = try String(contentsOfFile: dir.path + "/o3/" + name, encoding: .utf8)
            #expect(a == b, "same seed, same output")
            if a != c { differs = true }
        }
        #expect(differs, "another seed gives other copies")
        for report in first {
            #expect(report["compile_checked"] as? Bool == true)
            let applied = try #require(report["applied"] as? [[String: Any]])
            let skipped = try #require(report["skipped"] as? [[String: Any]])
            #expect(applied.count + skipped.count == 12)
            for a in applied { #expect((a["changes"] as? Int ?? 0) > 0) }
            for s in skipped { #expect(!(s["reason"] as? String ?? "").isEmpty) }
        }
        // Every copy of the program still prints the same.
        let expected = try CLI.run("/usr/bin/env", ["python3", dir.path + "/pkg/a.py"]).stdout
        #expect(expected.hasPrefix("7 [0, 2, 4]"))
        for k in 1...3 {
            #expect(try CLI.run("/usr/bin/env", ["python3", dir.path + "/o1/a.aug\(k).py"]).stdout == expected)
        }
    }

    @Test func invalidInputIsReportedAndSkipped() throws {
        let dir = try CLI.scratch(["ok.py": "x = 1\n", "bad.py": "def f(:\n", "py2.py": "print 'hi'\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try CLI.moecoder(["augment", dir.path, "--out", dir.path + "/o", "--json"])
        #expect(result.status == 0)
        let reports = try result.stdout.split(separator: "\n").map {
            try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(reports.count == 3)
        #expect(reports.filter { $0["error"] != nil }.count == 2)
        #expect(FileManager.default.fileExists(atPath: dir.path + "/o/ok.aug1.py"))
        let none = try CLI.moecoder(["augment", dir.appendingPathComponent("bad.py").path, "--out", dir.path + "/o2"])
        #expect(none.status == 1)
        #expect(none.stderr.contains("syntax errors"))
    }
}
