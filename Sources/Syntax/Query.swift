import CTreeSitter

/// A compiled tree-sitter query (S-expression patterns with `@captures`).
///
/// Predicates such as `#eq?` are not evaluated: tree-sitter's C API leaves them to the host, and our query
/// files do not use them.
public final class Query: @unchecked Sendable {
    // Unchecked: a TSQuery is immutable after creation and may be shared by threads (cursors are per call).
    let pointer: OpaquePointer
    public let language: Language
    /// Capture names by capture id.
    public let captureNames: [String]

    /// One match of one pattern.
    public struct Match {
        public let patternIndex: Int
        public let captures: [(name: String, node: Node)]

        /// The first node captured under `name`.
        public func first(_ name: String) -> Node? { captures.first { $0.name == name }?.node }
        /// Every node captured under `name`.
        public func all(_ name: String) -> [Node] { captures.filter { $0.name == name }.map(\.node) }
    }

    /// Compiles `source`; `file` names it in errors.
    public init(language: Language, source: String, file: String = "<query>") throws {
        let grammar = try language.grammar()
        var errorOffset: UInt32 = 0
        var errorType = TSQueryErrorNone
        let compiled = source.withCString { ts_query_new(grammar, $0, UInt32(source.utf8.count), &errorOffset, &errorType) }
        guard let query = compiled else {
            let kinds = [TSQueryErrorSyntax: "syntax", TSQueryErrorNodeType: "unknown node type",
                         TSQueryErrorField: "unknown field", TSQueryErrorCapture: "capture",
                         TSQueryErrorStructure: "impossible pattern", TSQueryErrorLanguage: "language"]
            throw SyntaxLayerError.badQuery(language: language.name, file: file, offset: Int(errorOffset),
                                            kind: kinds[errorType] ?? "unknown")
        }
        self.pointer = query
        self.language = language
        self.captureNames = (0..<ts_query_capture_count(query)).map { id in
            var length: UInt32 = 0
            let name = ts_query_capture_name_for_id(query, id, &length)!
            return String(decoding: UnsafeRawBufferPointer(start: name, count: Int(length)), as: UTF8.self)
        }
    }

    deinit { ts_query_delete(pointer) }

    /// Every match in `node`'s subtree, in document order, optionally limited to a byte range.
    public func matches(in node: Node, bytes range: Range<Int>? = nil) -> [Match] {
        guard let cursor = ts_query_cursor_new() else { return [] }
        defer { ts_query_cursor_delete(cursor) }
        if let range { ts_query_cursor_set_byte_range(cursor, UInt32(range.lowerBound), UInt32(range.upperBound)) }
        ts_query_cursor_exec(cursor, pointer, node.raw)
        var results: [Match] = []
        var match = TSQueryMatch()
        while ts_query_cursor_next_match(cursor, &match) {
            let captures = (0..<Int(match.capture_count)).map { i -> (name: String, node: Node) in
                let capture = match.captures[i]
                return (captureNames[Int(capture.index)], Node(raw: capture.node, tree: node.tree))
            }
            results.append(Match(patternIndex: Int(match.pattern_index), captures: captures))
        }
        return results
    }
}
