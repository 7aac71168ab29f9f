import CTreeSitter

/// A tree-sitter parser for one language. Not thread-safe: use one parser per thread.
public final class Parser {
    private let pointer: OpaquePointer
    /// The language this parser reads.
    public let language: Language

    /// Creates a parser; throws when the grammar is missing from the build or the runtime refuses it.
    public init(language: Language) throws {
        let grammar = try language.grammar()
        guard let parser = ts_parser_new() else { throw SyntaxLayerError.parseFailed("ts_parser_new failed") }
        guard ts_parser_set_language(parser, grammar) else {
            ts_parser_delete(parser)
            throw SyntaxLayerError.incompatibleGrammar(language.name, abi: Int(ts_language_version(grammar)))
        }
        self.pointer = parser
        self.language = language
    }

    deinit { ts_parser_delete(pointer) }

    /// Stops a parse that takes longer than this (0 = no limit); such a parse throws.
    public var timeoutMicroseconds: UInt64 {
        get { ts_parser_timeout_micros(pointer) }
        set { ts_parser_set_timeout_micros(pointer, newValue) }
    }

    /// Parses `source`. With `previous` (a tree already edited to match `source`), unchanged subtrees are reused.
    public func parse(_ source: SourceText, previous: Tree? = nil) throws -> Tree {
        let empty: [CChar] = [0]
        let result: OpaquePointer? = source.bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                empty.withUnsafeBufferPointer { fallback in
                    ts_parser_parse_string(pointer, previous?.pointer, chars.baseAddress ?? fallback.baseAddress!,
                                           UInt32(chars.count))
                }
            }
        }
        guard let tree = result else {
            ts_parser_reset(pointer)
            throw SyntaxLayerError.parseFailed("timed out or cancelled")
        }
        return Tree(pointer: tree, source: source, language: language)
    }

    /// Parses a string.
    public func parse(_ string: String) throws -> Tree { try parse(SourceText(string)) }

    /// Parses `source`, which is `previous.source` with the bytes `replaced` (offsets in the old text) replaced by
    /// `replacementCount` bytes, reusing every subtree of `previous` the change did not touch (`previous` itself
    /// is not changed).
    public func parse(_ source: SourceText, replacing replaced: Range<Int>, replacementCount: Int,
                      in previous: Tree) throws -> Tree {
        let old = previous.source
        let start = old.point(ofByte: replaced.lowerBound), oldEnd = old.point(ofByte: replaced.upperBound)
        let newEndByte = replaced.lowerBound + replacementCount
        let newEnd = source.point(ofByte: newEndByte)
        var edit = TSInputEdit(
            start_byte: UInt32(replaced.lowerBound), old_end_byte: UInt32(replaced.upperBound),
            new_end_byte: UInt32(newEndByte),
            start_point: TSPoint(row: UInt32(start.row), column: UInt32(start.column)),
            old_end_point: TSPoint(row: UInt32(oldEnd.row), column: UInt32(oldEnd.column)),
            new_end_point: TSPoint(row: UInt32(newEnd.row), column: UInt32(newEnd.column)))
        let edited = Tree(pointer: previous.copyPointer(), source: old, language: language)
        ts_tree_edit(edited.pointer, &edit)
        return try parse(source, previous: edited)
    }
}
