import CTreeSitter
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A parsed syntax tree. Owns its `TSTree` and the source text it was parsed from.
public final class Tree: @unchecked Sendable {
    // Unchecked: the TSTree is never mutated after creation except through `edit`, which the owner
    // (a `Document`) serialises; reading a tree from several threads is safe in tree-sitter.
    let pointer: OpaquePointer
    /// The source the tree describes.
    public let source: SourceText
    /// The grammar the tree was parsed with.
    public let language: Language
    /// Node type names by symbol id (`Node.type` reads them rather than building a string each time).
    let typeNames: [String]
    /// The grammar the tree was parsed with (its `TSLanguage`).
    var grammarPointer: OpaquePointer? { ts_tree_language(pointer) }

    init(pointer: OpaquePointer, source: SourceText, language: Language) {
        self.pointer = pointer
        self.source = source
        self.language = language
        typeNames = TypeNames.table(ts_tree_language(pointer))
    }

    deinit { ts_tree_delete(pointer) }

    /// The root node (`module`, `program`, `source_file`, …).
    public var root: Node { Node(raw: ts_tree_root_node(pointer), tree: self) }

    /// Whether any ERROR or MISSING node is in the tree.
    public var hasErrors: Bool { ts_node_has_error(ts_tree_root_node(pointer)) }

    /// Where the root's children start, up to and including the first one with an error (or to the last child),
    /// in order. Read with a cursor: no `Node` per child.
    public func topLevelStartsToFirstError() -> [Int] {
        var cursor = ts_tree_cursor_new(ts_tree_root_node(pointer))
        defer { ts_tree_cursor_delete(&cursor) }
        guard ts_tree_cursor_goto_first_child(&cursor) else { return [] }
        var starts: [Int] = []
        repeat {
            let node = ts_tree_cursor_current_node(&cursor)
            starts.append(Int(ts_node_start_byte(node)))
            if ts_node_has_error(node) || ts_node_is_missing(node) { break }
        } while ts_tree_cursor_goto_next_sibling(&cursor)
        return starts
    }

    /// An independent copy (cheap: tree-sitter shares the nodes), used when the original will be edited.
    func copyPointer() -> OpaquePointer { ts_tree_copy(pointer)! }
}

/// The names of a grammar's symbols, built once per grammar.
enum TypeNames {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var tables: [OpaquePointer: [String]] = [:]

    static func table(_ grammar: OpaquePointer?) -> [String] {
        guard let grammar else { return [] }
        lock.lock()
        defer { lock.unlock() }
        if let table = tables[grammar] { return table }
        let table = (0..<ts_language_symbol_count(grammar)).map { symbol in
            ts_language_symbol_name(grammar, TSSymbol(symbol)).map { String(cString: $0) } ?? ""
        }
        tables[grammar] = table
        return table
    }
}

/// A node of a `Tree`. Keeps its tree alive.
public struct Node: @unchecked Sendable, CustomStringConvertible {
    let raw: TSNode
    /// The tree this node belongs to.
    public let tree: Tree

    init(raw: TSNode, tree: Tree) {
        self.raw = raw
        self.tree = tree
    }

    init?(_ raw: TSNode, tree: Tree) {
        if ts_node_is_null(raw) { return nil }
        self.init(raw: raw, tree: tree)
    }

    /// The node type (`function_definition`, `identifier`, `ERROR`, `(`, …).
    public var type: String {
        // The public symbol's name is the node's type (aliases included); ERROR's symbol is outside the table.
        let symbol = Int(ts_node_symbol(raw))
        return symbol < tree.typeNames.count ? tree.typeNames[symbol] : String(cString: ts_node_type(raw))
    }
    /// The grammar's symbol id of the node type.
    public var symbol: UInt16 { ts_node_symbol(raw) }
    public var isNamed: Bool { ts_node_is_named(raw) }
    /// A node the parser inserted to recover from an error; it has no text.
    public var isMissing: Bool { ts_node_is_missing(raw) }
    /// A node for text the parser could not fit into the grammar.
    public var isError: Bool { ts_node_symbol(raw) == Self.errorSymbol }
    /// Tree-sitter's symbol for ERROR nodes (`ts_builtin_sym_error`, `(TSSymbol)-1`).
    static let errorSymbol = UInt16.max
    /// Whether this node or a descendant is an ERROR or MISSING node.
    public var hasError: Bool { ts_node_has_error(raw) }
    /// Comments and other tokens allowed anywhere.
    public var isExtra: Bool { ts_node_is_extra(raw) }

    public var startByte: Int { Int(ts_node_start_byte(raw)) }
    public var endByte: Int { Int(ts_node_end_byte(raw)) }
    public var byteRange: Range<Int> { startByte..<max(startByte, endByte) }
    public var start: SourceLocation { tree.source.location(ofByte: startByte) }
    public var end: SourceLocation { tree.source.location(ofByte: endByte) }

    /// The source text the node covers.
    public var text: String { tree.source.text(byteRange) }

    public var parent: Node? { Node(ts_node_parent(raw), tree: tree) }
    public var childCount: Int { Int(ts_node_child_count(raw)) }
    public var namedChildCount: Int { Int(ts_node_named_child_count(raw)) }

    public func child(_ index: Int) -> Node? { Node(ts_node_child(raw, UInt32(index)), tree: tree) }
    public func namedChild(_ index: Int) -> Node? { Node(ts_node_named_child(raw, UInt32(index)), tree: tree) }

    /// The children in order, read with a cursor (`child(i)` walks from the first child each time).
    public var children: [Node] {
        let count = childCount
        guard count > 0 else { return [] }
        var result: [Node] = []
        result.reserveCapacity(count)
        var cursor = ts_tree_cursor_new(raw)
        defer { ts_tree_cursor_delete(&cursor) }
        guard ts_tree_cursor_goto_first_child(&cursor) else { return [] }
        repeat {
            result.append(Node(raw: ts_tree_cursor_current_node(&cursor), tree: tree))
        } while ts_tree_cursor_goto_next_sibling(&cursor)
        return result
    }
    public var namedChildren: [Node] { (0..<namedChildCount).compactMap { namedChild($0) } }

    /// The child the grammar labels with `field` (`name`, `parameters`, `body`, …).
    public func child(byField field: String) -> Node? {
        field.withCString { Node(ts_node_child_by_field_name(raw, $0, UInt32(field.utf8.count)), tree: tree) }
    }

    /// The field name under which the child at `index` hangs, if any.
    public func fieldName(ofChild index: Int) -> String? {
        ts_node_field_name_for_child(raw, UInt32(index)).map { String(cString: $0) }
    }

    public var nextSibling: Node? { Node(ts_node_next_sibling(raw), tree: tree) }
    public var previousSibling: Node? { Node(ts_node_prev_sibling(raw), tree: tree) }
    public var nextNamedSibling: Node? { Node(ts_node_next_named_sibling(raw), tree: tree) }
    public var previousNamedSibling: Node? { Node(ts_node_prev_named_sibling(raw), tree: tree) }

    /// The smallest node that spans the byte range.
    public func descendant(forBytes range: Range<Int>) -> Node? {
        Node(ts_node_descendant_for_byte_range(raw, UInt32(range.lowerBound), UInt32(range.upperBound)), tree: tree)
    }

    /// The smallest named node that spans the byte range.
    public func namedDescendant(forBytes range: Range<Int>) -> Node? {
        Node(ts_node_named_descendant_for_byte_range(raw, UInt32(range.lowerBound), UInt32(range.upperBound)),
             tree: tree)
    }

    /// The nearest ancestor (not self) whose type is one of `types`.
    public func ancestor(ofType types: Set<String>) -> Node? {
        var current = parent
        while let node = current {
            if types.contains(node.type) { return node }
            current = node.parent
        }
        return nil
    }

    /// Tree-sitter's S-expression of the subtree (named nodes, fields, MISSING/ERROR markers).
    public var sExpression: String {
        guard let cString = ts_node_string(raw) else { return "" }
        defer { free(cString) }
        return String(cString: cString)
    }

    /// Visits the subtree in pre-order. Return false from `visit` to skip a node's children.
    public func walk(_ visit: (Node) -> Bool) {
        // The cursor is rooted at this node: it never moves to the node's siblings or parent.
        var cursor = ts_tree_cursor_new(raw)
        defer { ts_tree_cursor_delete(&cursor) }
        while true {
            let node = Node(raw: ts_tree_cursor_current_node(&cursor), tree: tree)
            if visit(node), ts_tree_cursor_goto_first_child(&cursor) { continue }
            while !ts_tree_cursor_goto_next_sibling(&cursor) {
                if !ts_tree_cursor_goto_parent(&cursor) { return }
            }
        }
    }

    public var description: String { "\(type) [\(start)-\(end)]" }
}

extension Node: Equatable {
    public static func == (a: Node, b: Node) -> Bool { a.tree === b.tree && ts_node_eq(a.raw, b.raw) }
}
