import Foundation
import Testing
@testable import Assist

/// Syntax repair: each broken file in a small corpus gets the intended parsing fix ranked first, and the fix
/// compiles with CPython (tree-sitter alone is more lenient).
@Suite struct RepairSyntaxTests {
    /// (what is broken, broken source, the fix expected first)
    static let corpus: [(String, String, String)] = [
        ("missing colon after def", "def total(xs)\n    return sum(xs)\n", "def total(xs):\n    return sum(xs)\n"),
        ("missing colon after if", "def f(x):\n    if x > 0\n        return 1\n    return 0\n",
         "def f(x):\n    if x > 0:\n        return 1\n    return 0\n"),
        ("missing colon after for", "def f(xs):\n    n = 0\n    for x in xs\n        n += x\n    return n\n",
         "def f(xs):\n    n = 0\n    for x in xs:\n        n += x\n    return n\n"),
        ("unclosed call", "def total(prices, tax=0.2):\n    subtotal = sum(prices\n    return subtotal * (1 + tax)\n",
         "def total(prices, tax=0.2):\n    subtotal = sum(prices)\n    return subtotal * (1 + tax)\n"),
        ("unclosed list", "ITEMS = [1, 2, 3\n\ndef f():\n    return ITEMS\n",
         "ITEMS = [1, 2, 3]\n\ndef f():\n    return ITEMS\n"),
        ("stray closing bracket", "def f(x):\n    return x + 1)\n", "def f(x):\n    return x + 1\n"),
        ("over-indented line", "def f(x):\n    y = x + 1\n      return y\n", "def f(x):\n    y = x + 1\n    return y\n"),
        ("body not indented", "def f(x):\nreturn x\n", "def f(x):\n    return x\n"),
        ("assignment in condition", "def f(x):\n    if x = 1:\n        return True\n    return False\n",
         "def f(x):\n    if x == 1:\n        return True\n    return False\n"),
        ("unterminated string", "def greet():\n    return \"hello\n", "def greet():\n    return \"hello\"\n"),
        ("missing comma in list", "def f():\n    return [1 2, 3]\n", "def f():\n    return [1, 2, 3]\n"),
    ]

    @Test(arguments: corpus.indices)
    func parsingFixRankedFirst(_ index: Int) throws {
        let (what, broken, expected) = Self.corpus[index]
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("repair-syntax-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("broken.py").path
        try broken.write(toFile: file, atomically: true, encoding: .utf8)
        let report = try Repairer(options: RepairOptions(filePath: file)).run()
        #expect(report.mode == .syntax, "\(what)")
        let first = try #require(report.patches.first, "\(what): no patch")
        #expect(first.status == .plausible, "\(what)")
        #expect(first.edit.apply(to: broken) == expected, "\(what): got \(first.rationale)\n\(first.diff)")
        #expect(try String(contentsOfFile: file, encoding: .utf8) == broken, "\(what): the file was changed")
    }

    @Test func unifiedDiffHasOneHunkWithContext() {
        let diff = UnifiedDiff.make(old: "a\nb\nc\nd\n", new: "a\nB\nc\nd\n", path: "x.py", context: 1)
        #expect(diff == "--- a/x.py\n+++ b/x.py\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n")
        #expect(UnifiedDiff.make(old: "same\n", new: "same\n", path: "x.py").isEmpty)
    }

    @Test func editBetweenTwoTextsIsMinimal() {
        let edit = TextEdit.between("if x < y:\n", "if x <= y:\n")
        #expect(edit == TextEdit(startByte: 6, endByte: 6, replacement: "="))
        #expect(edit.apply(to: "if x < y:\n") == "if x <= y:\n")
        #expect(TextEdit.cost(replacing: "x < y", with: "x <= y") == 1)
        #expect(TextEdit.cost(replacing: "  return y", with: "    return y") == 1)
    }

    @Test func ochiaiRanksTheLineOnlyFailingTestsRun() {
        var run = TestRun()
        run.outcomes = ["t::a": "failed", "t::b": "passed", "t::c": "passed"]
        run.coverage = ["t::a": [1, 2, 3], "t::b": [1, 2], "t::c": [1, 4]]
        let ranked = FaultLocalizer.rank(baseline: run)
        #expect(ranked.first?.line == 3)
        #expect(ranked.first?.score == 1)
        #expect(!ranked.contains { $0.line == 4 })
    }

    @Test func tracebackLinesOfTheFileOnly() {
        let text = """
            Traceback (most recent call last):
              File "/home/u/app/main.py", line 9, in <module>
                run()
              File "/home/u/app/calc.py", line 4, in run
                return 1 / 0
            ZeroDivisionError: division by zero
            """
        #expect(FaultLocalizer.tracebackLines(text, file: "/elsewhere/calc.py") == [4])
    }
}
