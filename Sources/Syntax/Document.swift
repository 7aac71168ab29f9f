import CTreeSitter

/// A text buffer kept parsed as it is edited: each edit is told to the old tree, and the re-parse
/// reuses every subtree the edit did not touch.
public final class Document {
    public let language: Language
    private let parser: Parser
    /// The current text.
    public private(set) var source: SourceText
    /// The tree of the current text.
    public private(set) var tree: Tree

    public init(language: Language, text: String) throws {
        self.language = language
        self.parser = try Parser(language: language)
        self.source = SourceText(text)
        self.tree = try parser.parse(source)
    }

    /// The current text as a string.
    public var text: String { source.string }

    /// Replaces the bytes in `range` with `replacement` and re-parses incrementally.
    public func replace(bytes range: Range<Int>, with replacement: String) throws {
        precondition(range.lowerBound >= 0 && range.upperBound <= source.count, "edit range outside the document")
        var edited = source
        let newEndByte = edited.replace(range, with: Array(replacement.utf8))
        // The old `Tree` value, which callers may still hold, keeps describing the old text.
        tree = try parser.parse(edited, replacing: range, replacementCount: newEndByte - range.lowerBound, in: tree)
        source = edited
    }

    /// Replaces the text between two 1-based (line, column) locations; see `SourceText.byteOffset`.
    public func replace(from: (line: Int, column: Int), to: (line: Int, column: Int), with replacement: String) throws {
        guard let lo = source.byteOffset(line: from.line, column: from.column),
              let hi = source.byteOffset(line: to.line, column: to.column), lo <= hi
        else { throw SyntaxLayerError.parseFailed("edit range \(from)-\(to) is outside the document") }
        try replace(bytes: lo..<hi, with: replacement)
    }

    /// Replaces the whole text (full sync); still reuses what it can.
    public func setText(_ text: String) throws {
        try replace(bytes: 0..<source.count, with: text)
    }
}
