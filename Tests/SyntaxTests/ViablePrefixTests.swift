import Foundation
import Testing
@testable import Syntax

/// Viable-prefix judgements from the grammar's own tables.
@Suite struct ViablePrefixTests {
    func viable(_ text: String, _ language: String = "python") throws -> Bool {
        try ViablePrefix.isViable(text, language: try Language.named(language))
    }

    @Test(arguments: [
        "", "def", "def f", "def f(", "def f(x", "def f(x):", "def f(x):\n", "def f(x):\n    return x +",
        "def f(x):\n    return x + 1\n", "print(\"abc", "x = '''doc\nstring", "# a comment", "x = [1, 2,",
        "class A(B):\n    def m(self):\n        pass\n    x = 1\ny = 2\n", "if x:\n    pass\nelif y", "x = 1e",
        "import os.pa", "@decorator\ndef g(): ...", "lambda x: x +", "f(a, *args, **kw", "x: int =",
        "for i in range(10):\n    if i % 2 == 0:\n        continue\n", "try:\n    x\nexcept ValueError as e:\n    raise",
        "async def f():\n    await g()", "with open(p) as f, open(q) as g:", "x = {k: v for k, v in d.items() if",
        "x = 1 i", "def f(x) -", "while (n :", "return return",
    ])
    func pythonViablePrefixes(text: String) throws {
        #expect(try viable(text), "\(text.debugDescription) should be viable")
    }

    @Test(arguments: [
        "def f(:", "x = )", "def f(x)):", "x = 1 +* 2 ]", "class :", "x = [1, 2)", "def 1f():", "import 3",
        "f(a b)", "x = = 2", ")", "lambda: :", "def f(x) -> :", "for in x:", "x = (1, 2]",
    ])
    func pythonDeadEnds(text: String) throws {
        #expect(try !viable(text), "\(text.debugDescription) should be a dead end")
    }

    @Test func otherLanguages() throws {
        #expect(try viable("function f(a, b) {\n  return a +", "javascript"))
        #expect(try viable("const s = `hello ${name", "javascript"))
        #expect(try !viable("function f(a, b)) {", "javascript"))
        #expect(try viable("package main\n\nfunc main() {\n\tx := []int{1, 2", "go"))
        #expect(try !viable("package main\n\nfunc main() {\n\tx := )", "go"))
        #expect(try viable("fn main() { let x: Vec<u8> = vec![1", "rust"))
        #expect(try viable("int main(void) { return (1 +", "c"))
        #expect(try !viable("int main(void) { return ) }", "c"))
    }

    @Test func incrementalEqualsWhole() throws {
        let python = try Language.named("python")
        let text = "def f(x, y=2):\n    '''Doc.'''\n    return [i * y for i in range(x) if i % 2]\n\nprint(f(3))\n"
        let state = try ViablePrefix(language: python)
        var accumulated = ""
        for piece in text.split(separator: " ", omittingEmptySubsequences: false).map({ String($0) + " " }) {
            accumulated += piece
            #expect(state.check(piece) == (try viable(accumulated)))
            #expect(state.append(piece) == (try viable(accumulated)))
        }
        #expect(state.isViable)
        #expect(!state.check(")))"))
        #expect(state.isViable, "check leaves the state alone")
    }

    /// Files of this machine's Python standard library, sampled deterministically.
    static func stdlibSample(count: Int) -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"]
        let pipe = Pipe()
        process.standardOutput = pipe
        guard (try? process.run()) != nil else { return [] }
        process.waitUntilExit()
        let root = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let names = ["json/decoder.py", "textwrap.py", "string.py", "fnmatch.py", "dataclasses.py", "shlex.py",
                     "email/quoprimime.py", "graphlib.py", "heapq.py", "bisect.py", "colorsys.py", "html/__init__.py"]
        return names.prefix(count).map { root + "/" + $0 }.filter { FileManager.default.fileExists(atPath: $0) }
    }

    /// Every prefix of real, valid files is viable (checked after every appended chunk of 1–8 bytes).
    @Test func everyPrefixOfRealFilesIsViable() throws {
        let python = try Language.named("python")
        let files = Self.stdlibSample(count: 12)
        #expect(files.count >= 8, "standard library not found")
        var rng = IncrementalTests.SplitMix64(state: 99)
        for file in files {
            let bytes = Array(try String(contentsOfFile: file, encoding: .utf8).utf8)
            let state = try ViablePrefix(language: python)
            var offset = 0
            while offset < bytes.count {
                var end = min(bytes.count, offset + Int.random(in: 1...8, using: &rng))
                while end < bytes.count, bytes[end] & 0xC0 == 0x80 { end += 1 }   // whole characters
                let ok = state.append(bytes: Array(bytes[offset..<end]))
                if !ok {
                    let line = bytes[..<end].filter { $0 == 10 }.count + 1
                    Issue.record("\(file): judged dead at byte \(end) (line \(line))")
                    break
                }
                offset = end
            }
        }
    }

    @Test(arguments: LanguageSample.all)
    func everyPrefixOfSamplesIsViable(sample: LanguageSample) throws {
        let language = try Language.named(sample.language)
        let state = try ViablePrefix(language: language)
        for (i, character) in sample.valid.enumerated() {
            if !state.append(String(character)) {
                Issue.record("\(sample.language): dead after \(sample.valid.prefix(i + 1).debugDescription)")
                break
            }
        }
    }

    /// The recognizer's exact shortcuts (a shift action settles that a version takes a token, without copying it
    /// and following every action) must not change a verdict: along real files, every probe's check and every
    /// append agree with a state that decides without them (`useReference`).
    @Test func shortcutsAgreeWithTheReference() throws {
        let python = try Language.named("python")
        let probes = ["a", " ", "(", ")", ":", "\n", "i", "in", " i", " in", " is", ".", "=", "'", "\"", "#", "0",
                      "1.", ",", "]", "}", "*", "**", "-", "->", "\\", "lambda", "el", "f'", "@", "\n    ", "\nx", ";",
                      " if", " else", "not", ":=", "...", "<", "<>"]
        var rng = IncrementalTests.SplitMix64(state: 7)
        var compared = 0, disagreements: [String] = []
        let files = Self.stdlibSample(count: 12).filter { ["bisect.py", "colorsys.py", "fnmatch.py", "graphlib.py"].contains(($0 as NSString).lastPathComponent) }
        #expect(files.count >= 3, "standard library not found")
        for file in files {
            let bytes = Array(try String(contentsOfFile: file, encoding: .utf8).utf8)
            let fast = try ViablePrefix(language: python)
            let reference = try ViablePrefix(language: python)
            reference.useReference()
            var offset = 0
            while offset < bytes.count {
                for probe in probes {
                    compared += 1
                    if fast.check(probe) != reference.check(probe) {
                        disagreements.append("\(file) at \(offset): \(probe.debugDescription)")
                    }
                }
                var end = min(bytes.count, offset + Int.random(in: 1...12, using: &rng))
                while end < bytes.count, bytes[end] & 0xC0 == 0x80 { end += 1 }
                let chunk = Array(bytes[offset..<end])
                #expect(fast.append(bytes: chunk) == reference.append(bytes: chunk))
                offset = end
            }
        }
        #expect(compared > 20_000)
        #expect(disagreements.count == 0, "\(disagreements.count) disagreements, first: \(disagreements.prefix(10))")
    }

    /// A check is what appending to a copy decides, and leaves the state as it was (its key unchanged); a copy made
    /// by overwriting a reused state (`assign(from:)`) is the state. Along a real file and along deeply nested
    /// blocks (an indentation stack longer than a version keeps inline).
    @Test func checkEqualsAppendingToAnAssignedCopy() throws {
        let python = try Language.named("python")
        var nested = ""
        for depth in 0..<40 { nested += String(repeating: " ", count: depth) + "if x\(depth):\n" }
        nested += String(repeating: " ", count: 40) + "pass\n"
        for depth in stride(from: 39, through: 0, by: -3) { nested += String(repeating: " ", count: depth) + "y = 1\n" }
        let files = Self.stdlibSample(count: 12).filter { ($0 as NSString).lastPathComponent == "textwrap.py" }
        #expect(files.count == 1, "standard library not found")
        let texts = [nested] + (try files.map { String(decoding: try String(contentsOfFile: $0, encoding: .utf8).utf8.prefix(6000), as: UTF8.self) })
        let probes = ["a", " ", "(", ")", ":", "\n", " in", ".", "'", "\"abc", "#", "1.", "]", "\\", "\n    ", "\nx", ";",
                      "é", "x = (", "\n" + String(repeating: " ", count: 44) + "z"]
        var rng = IncrementalTests.SplitMix64(state: 11)
        var compared = 0, disagreements: [String] = []
        for text in texts {
            let bytes = Array(text.utf8)
            let state = try ViablePrefix(language: python)
            let spare = try ViablePrefix(language: python)
            var offset = 0
            while offset < bytes.count {
                let key = state.key
                for probe in probes {
                    compared += 1
                    #expect(spare.assign(from: state))
                    #expect(spare.key == key)
                    if state.check(probe) != spare.append(probe) {
                        disagreements.append("at \(offset): \(probe.debugDescription)")
                    }
                }
                #expect(state.key == key, "checks changed the state at \(offset)")
                var end = min(bytes.count, offset + Int.random(in: 1...12, using: &rng))
                while end < bytes.count, bytes[end] & 0xC0 == 0x80 { end += 1 }
                #expect(state.append(bytes: Array(bytes[offset..<end])))
                offset = end
            }
        }
        #expect(compared > 10_000)
        #expect(disagreements.isEmpty, "\(disagreements.count) disagreements, first: \(disagreements.prefix(10))")
    }
}
