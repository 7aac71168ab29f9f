import Engine
import Syntax

/// Where a generation can end, read from the syntax tree of the text.
public enum SyntaxStopRule: String, Sendable, CaseIterable {
    /// Never stop on syntax.
    case none
    /// At the end of the first complete statement: a newline after which the whole text parses cleanly.
    case statement
    /// When the block the generation started in is complete: the text parses cleanly and the generated
    /// part has come back (a newline, then a line no more indented than where it started, or a closing
    /// bracket it did not open).
    case block
}

/// Decides, after each token, whether a completion is finished.
public final class SyntaxStopper: GenerationStopRule {
    public let rule: SyntaxStopRule
    private let parser: Parser
    private let prefix: String
    private let suffix: String
    private let startIndent: Int

    public init(rule: SyntaxStopRule, language: Language, prefix: String, suffix: String = "") throws {
        self.rule = rule
        parser = try Parser(language: language)
        self.prefix = prefix
        self.suffix = suffix
        let lastLine = prefix.split(separator: "\n", omittingEmptySubsequences: false).last ?? ""
        startIndent = lastLine.prefix { $0 == " " || $0 == "\t" }.count
    }

    /// Whether `generated` (the text after the prefix so far) ends the completion.
    public func shouldStop(_ generated: String) -> Bool {
        guard rule != .none, generated.last == "\n" else { return false }
        let body = generated.dropLast()
        guard !body.allSatisfy(\.isWhitespace) else { return false }
        if rule == .block {
            // The block is done when a line comes back to (or before) the starting indentation.
            let lines = body.split(separator: "\n", omittingEmptySubsequences: true)
            guard lines.count >= 2 || prefix.last == "\n" || prefix.isEmpty else { return false }
            guard let last = lines.last, last.prefix(while: { $0 == " " || $0 == "\t" }).count <= startIndent
            else { return false }
        }
        guard let tree = try? parser.parse(prefix + generated + suffix) else { return false }
        return !tree.hasErrors
    }
}
