import Foundation
import Syntax
import Testing
@testable import Assist

/// The repair's edit space (each a tree-sitter-located edit at a suspicious line) and the reading of a `--cmd`
/// pytest invocation. Each case: a buggy function, the line to edit, and the fix that must be among the patches.
@Suite struct RepairEditSpaceTests {
    static let cases: [(String, String, Int, String)] = [
        ("drop a condition clause", "def f(a, b):\n    if a > 0 and b > 0:\n        return 1\n    return 0\n", 2,
         "def f(a, b):\n    if a > 0:\n        return 1\n    return 0\n"),
        ("shift a compared value", "def f(i, text):\n    return i < len(text)\n", 2,
         "def f(i, text):\n    return i + 1 < len(text)\n"),
        ("parenthesized shift under *", "def f(i):\n    row = [1] * i\n    return row\n", 2,
         "def f(i):\n    row = [1] * (i + 1)\n    return row\n"),
        ("swap tuple elements", "def f(a, b):\n    return (b, a)\n", 2, "def f(a, b):\n    return (a, b)\n"),
        ("negate an argument", "def g(t, k):\n    return t\n\ndef f(t, k):\n    return g(t, k)\n", 5,
         "def g(t, k):\n    return t\n\ndef f(t, k):\n    return g(t, -k)\n"),
        ("drop a minus", "def f(k):\n    return abs(-k)\n", 2, "def f(k):\n    return abs(k)\n"),
        ("unwrap a call", "def f(xs):\n    return sorted(xs)\n", 2, "def f(xs):\n    return xs\n"),
        ("wrap in a call seen in the file", "def flat(xs):\n    out = []\n    for x in xs:\n        if isinstance(x, list):\n            out.extend(x)\n        else:\n            out.append(x)\n    return out\n\ndef g(x):\n    return flat(x)\n", 5,
         "def flat(xs):\n    out = []\n    for x in xs:\n        if isinstance(x, list):\n            out.extend(flat(x))\n        else:\n            out.append(x)\n    return out\n\ndef g(x):\n    return flat(x)\n"),
        ("return another variable", "def f(xs):\n    seen = set()\n    out = []\n    return seen | set()\n", 4,
         "def f(xs):\n    seen = set()\n    out = []\n    return out\n"),
        ("missing final return beside an early one", "def f(xs):\n    if not xs:\n        return []\n    result = [x * 2 for x in xs]\n", 4,
         "def f(xs):\n    if not xs:\n        return []\n    result = [x * 2 for x in xs]\n    return result\n"),
        ("move a statement", "def f(xs):\n    out = []\n    i = 0\n    i += 1\n    out.append(i)\n    return out\n", 4,
         "def f(xs):\n    out = []\n    i = 0\n    out.append(i)\n    i += 1\n    return out\n"),
    ]

    @Test(arguments: 0..<cases.count)
    func editSpaceHasTheFix(_ index: Int) throws {
        let (what, buggy, line, fixed) = Self.cases[index]
        let parser = try Parser(language: try Language.named("python"))
        let tree = try parser.parse(buggy)
        let patches = MutationOperators(tree: tree).patches(at: line, score: 1)
        #expect(patches.contains { $0.source == fixed }, "\(what): not among \(patches.count) patches")
        for patch in patches {
            let patched = try parser.parse(patch.source)
            #expect(!patched.hasErrors, "\(what): '\(patch.rationale)' does not parse")
        }
    }

    @Test func pytestCommands() {
        #expect(PytestCommand.arguments(of: "pytest -q tests/test_x.py") == ["tests/test_x.py"])
        #expect(PytestCommand.arguments(of: "python3 -m pytest -x -k 'add and not slow' t.py") == ["-k", "add and not slow", "t.py"])
        #expect(PytestCommand.arguments(of: "pytest") == [])
        #expect(PytestCommand.arguments(of: "pytest --tb=short --maxfail 2 -p no:randomly") == ["-p", "no:randomly"])
        #expect(PytestCommand.arguments(of: "pytest -q | tee log") == nil)
        #expect(PytestCommand.arguments(of: "make test") == nil)
        #expect(PytestCommand.arguments(of: "pytest -n 4") == nil)
        #expect(PytestCommand.arguments(of: "FOO=1 pytest") == nil)
        #expect(PytestCommand.arguments(of: "pytest $ARGS") == nil)
    }
}

@Suite struct RepairApplyTests {
    @Test func applyRefusesAFileChangedSinceTheRun() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("moecoder-apply-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("m.py").path
        try "x = 1\n".write(toFile: file, atomically: true, encoding: .utf8)
        let patch = RepairReport.RankedPatch(
            rank: 1, status: .plausible, rationale: "use 2", origin: .mutation, operatorName: "off-by-one", line: 1,
            cost: 1, diff: "", edit: TextEdit(startByte: 4, endByte: 5, replacement: "2"), tests: nil,
            modelLogProbability: nil)
        var report = RepairReport(file: file, mode: .tests, tests: [], command: nil, baseline: nil, syntaxErrors: [],
                                  suspicious: [], candidates: 1, validated: 1, tried: 1, patches: [patch], note: nil,
                                  seconds: 0)
        report.originalSource = "x = 1\n"
        try "x = 10\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(throws: RepairError.fileChanged(file)) { try Repairer.apply(1, of: report) }
        try "x = 1\n".write(toFile: file, atomically: true, encoding: .utf8)
        try Repairer.apply(1, of: report)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "x = 2\n")
    }
}
