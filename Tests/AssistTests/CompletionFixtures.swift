import Foundation
import Syntax
import Tokenizer
@testable import Assist

/// Shared helpers of the completion tests: fixture paths, cursors marked in source text, and the stop rules
/// run over a hand-made completion.
enum CompletionFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func modelPath(_ name: String) -> String {
        root.appendingPathComponent("Tests/Fixtures/models/\(name).gguf").path
    }

    static func tokenizer(_ family: String) throws -> BPETokenizer {
        try BPETokenizer(tokenizerJSON: root.appendingPathComponent("Tests/Fixtures/tokenizers/\(family)/tokenizer.json").path)
    }

    /// The cursor mark in test sources.
    static let mark = "‸"

    /// `marked` without its cursor mark, and the cursor's byte offset.
    static func split(_ marked: String) -> (source: String, cursor: Int) {
        guard let range = marked.range(of: mark) else { return (marked, marked.utf8.count) }
        return (marked.replacingCharacters(in: range, with: ""), marked[..<range.lowerBound].utf8.count)
    }

    /// Feeds `completion` to the stop rules a few characters at a time, as tokens arrive, and returns the text
    /// that would be inserted and the rule that stopped it (nil: none did, the model ended it).
    static func stop(_ marked: String, _ language: String, after completion: String,
                     piece: Int = 3) throws -> (text: String, reason: CompletionStop?) {
        let (source, cursor) = split(marked)
        let context = try CursorContext(language: try Language.named(language), source: Array(source.utf8),
                                        cursor: cursor)
        var rules = StopRules(context: context)
        var rest = Substring(completion)
        while !rest.isEmpty, rules.stop == nil {
            _ = rules.append(String(rest.prefix(piece)))
            rest = rest.dropFirst(piece)
        }
        let reason = rules.finish()?.reason
        return (rules.finalText(), reason)
    }

    /// The context the stop rules see at the marked cursor.
    static func context(_ marked: String, _ language: String) throws -> CursorContext {
        let (source, cursor) = split(marked)
        return try CursorContext(language: try Language.named(language), source: Array(source.utf8), cursor: cursor)
    }
}
