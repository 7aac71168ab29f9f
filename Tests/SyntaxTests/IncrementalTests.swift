import Foundation
import Testing
@testable import Syntax

/// Incremental re-parsing after edits must give exactly the tree a full parse gives.
@Suite struct IncrementalTests {
    /// A real file of this repository (Python we wrote), or a sample when run elsewhere.
    static func realFile(_ relative: String) throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return try String(contentsOf: root.appendingPathComponent(relative), encoding: .utf8)
    }

    /// Deterministic generator so a failure can be replayed.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func checkRandomEdits(language: String, text original: String, edits: Int, seed: UInt64) throws {
        let lang = try Language.named(language)
        let document = try Document(language: lang, text: original)
        let fresh = try Parser(language: lang)
        var rng = SplitMix64(state: seed)
        let pieces = ["(", ")", ":", "\n", "    ", "x", " = ", "def ", "return ", "'", "\"\"\"", "#", "[1, 2]", "{", "}"]
        for step in 0..<edits {
            let bytes = document.source.bytes
            // Edit at character boundaries only (an editor never splits a UTF-8 sequence).
            func boundary(_ i: Int) -> Int {
                var i = min(i, bytes.count)
                while i < bytes.count, bytes[i] & 0xC0 == 0x80 { i += 1 }
                return i
            }
            let start = boundary(Int.random(in: 0...bytes.count, using: &rng))
            let end = boundary(min(bytes.count, start + Int.random(in: 0...12, using: &rng)))
            let insert: String
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: insert = ""
            case 1: insert = pieces.randomElement(using: &rng)!
            default:
                // Re-insert text copied from elsewhere in the file.
                let from = boundary(Int.random(in: 0...bytes.count, using: &rng))
                let to = boundary(min(bytes.count, from + Int.random(in: 0...40, using: &rng)))
                insert = String(decoding: bytes[from..<to], as: UTF8.self)
            }
            try document.replace(bytes: start..<end, with: insert)
            let incremental = document.tree.root.sExpression
            let full = try fresh.parse(document.source).root.sExpression
            #expect(incremental == full, "\(language) edit \(step): replace \(start)..<\(end) with \(insert.debugDescription)")
            if incremental != full { return }
            #expect(document.source.lineStarts == SourceText(bytes: document.source.bytes).lineStarts)
        }
    }

    @Test func randomEditsToARealPythonFile() throws {
        try Self.checkRandomEdits(language: "python", text: try Self.realFile("scripts/fetch_grammars.py"),
                                  edits: 150, seed: 42)
    }

    @Test(arguments: LanguageSample.all.filter { $0.language != "python" })
    func randomEditsToSamples(sample: LanguageSample) throws {
        try Self.checkRandomEdits(language: sample.language, text: sample.valid, edits: 60, seed: 7)
    }

    @Test func lineColumnEditsAndFullSync() throws {
        let document = try Document(language: try Language.named("python"), text: "def f(x):\n    return x\n")
        try document.replace(from: (2, 12), to: (2, 13), with: "x + 1")
        #expect(document.text == "def f(x):\n    return x + 1\n")
        #expect(!document.tree.hasErrors)
        let before = document.tree
        try document.setText("def f(:\n")
        #expect(document.tree.hasErrors)
        #expect(!before.hasErrors && before.source.string.hasPrefix("def f(x)"), "old trees stay valid")
    }
}
