import Foundation
import Syntax

/// A parsed Python file and the facts the transforms share.
public final class PyFile {
    public let source: SourceText
    public let tree: Tree
    /// Every identifier spelled anywhere in the file (new names must avoid all of them).
    public let identifiers: Set<String>
    /// The file's functions (`function_definition` nodes), outermost first.
    public let functions: [Node]
    private var scopeCache: [Int: FunctionScope] = [:]

    public init(tree: Tree) {
        self.tree = tree
        self.source = tree.source
        var names = Set<String>(), functions: [Node] = []
        tree.root.walk { node in
            if node.type == "identifier" { names.insert(node.text) }
            if node.type == "function_definition" { functions.append(node) }
            return true
        }
        self.identifiers = names
        self.functions = functions
    }

    public var bytes: [UInt8] { source.bytes }

    /// The scope facts of a function (cached).
    func scope(of function: Node) -> FunctionScope {
        if let cached = scopeCache[function.startByte] { return cached }
        let scope = FunctionScope(function)
        scopeCache[function.startByte] = scope
        return scope
    }

    /// The whitespace before the node on its line, or nil when code precedes it on that line.
    func indentation(of node: Node) -> String? { indentation(atByte: node.startByte) }

    func indentation(atByte offset: Int) -> String? {
        let row = source.lineIndex(ofByte: offset)
        let start = source.lineStarts[row]
        let prefix = source.bytes[start..<offset]
        guard prefix.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) else { return nil }
        return String(decoding: prefix, as: UTF8.self)
    }

    /// Whether nothing but whitespace (or a comment) follows the node on its last line.
    func endsLine(_ node: Node) -> Bool {
        var i = node.endByte
        let bytes = source.bytes
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 { i += 1 }
        return i >= bytes.count || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == UInt8(ascii: "#")
    }

    /// The byte range of the whole lines the node covers, newline included.
    func lineRange(of node: Node) -> Range<Int> {
        let startRow = source.lineIndex(ofByte: node.startByte)
        let endRow = source.lineIndex(ofByte: max(node.startByte, node.endByte - 1))
        let lo = source.lineStarts[startRow]
        let hi = endRow + 1 < source.lineStarts.count ? source.lineStarts[endRow + 1] : source.count
        return lo..<hi
    }

    /// One indentation step in the style of the file's line at `offset` (a tab where it uses tabs).
    func indentUnit(near indent: String) -> String { indent.contains("\t") ? "\t" : "    " }

    /// Whether any comment lies inside the node.
    func containsComment(_ node: Node) -> Bool {
        var found = false
        node.walk { n in
            if found { return false }
            if n.type == "comment" { found = true }
            return true
        }
        return found
    }
}

/// Node kinds that open a new Python scope.
let scopeNodeTypes: Set<String> = ["function_definition", "lambda", "class_definition", "list_comprehension",
                                   "set_comprehension", "dictionary_comprehension", "generator_expression"]

/// The nearest enclosing scope node (function, lambda, class, comprehension), or nil for module level.
func enclosingScope(_ node: Node) -> Node? { node.ancestor(ofType: scopeNodeTypes) }

/// Whether an identifier is a use of a variable (not an attribute name, keyword-argument name or module path).
func isNameReference(_ id: Node) -> Bool {
    guard let parent = id.parent else { return true }
    switch parent.type {
    case "attribute":
        return parent.child(byField: "attribute") != id
    case "keyword_argument":
        return parent.child(byField: "name") != id
    case "dotted_name", "aliased_import", "import_statement", "import_from_statement", "relative_import",
         "future_import_statement":
        return false
    case "keyword_pattern", "class_pattern":
        return false
    default:
        return true
    }
}

/// Identifiers an assignment-like target binds (names, tuples/lists of names, starred names).
func boundIdentifiers(inTarget target: Node) -> [Node] {
    switch target.type {
    case "identifier": return [target]
    case "pattern_list", "tuple_pattern", "list_pattern", "tuple", "list", "parenthesized_expression",
         "list_splat_pattern", "list_splat", "expression_list":
        return target.namedChildren.flatMap(boundIdentifiers(inTarget:))
    default: return []
    }
}

/// Identifiers a parameter list binds.
func parameterIdentifiers(_ parameters: Node) -> [Node] {
    var out: [Node] = []
    for p in parameters.namedChildren {
        switch p.type {
        case "identifier": out.append(p)
        case "default_parameter", "typed_default_parameter":
            if let name = p.child(byField: "name"), name.type == "identifier" { out.append(name) }
        case "typed_parameter":
            if let first = p.namedChildren.first {
                if first.type == "identifier" { out.append(first) }
                else if let inner = first.namedChildren.first, inner.type == "identifier" { out.append(inner) }
            }
        case "list_splat_pattern", "dictionary_splat_pattern":
            if let inner = p.namedChildren.first, inner.type == "identifier" { out.append(inner) }
        default: break
        }
    }
    return out
}

/// Binding facts of one function: which names it binds, which nested scopes bind or declare which names, and
/// whether anything in it looks at its variables by name (then renaming is unsafe).
final class FunctionScope {
    let node: Node
    /// Names bound in the function's own scope, and the nodes that bind them.
    private(set) var bound: [String: [Node]] = [:]
    private(set) var parameters: [Node] = []
    private(set) var globals = Set<String>(), nonlocals = Set<String>()
    /// Names bound by `import`, `def` or `class` in the function's own scope.
    private(set) var specialBound = Set<String>()
    /// Names bound, or declared global/nonlocal, in any scope nested inside the function.
    private(set) var nestedBound = Set<String>()
    /// Every identifier in the subtree that is a variable reference (reads, writes, declarations).
    private(set) var references: [String: [Node]] = [:]
    /// Why no local of this function may be renamed, if so.
    private(set) var unsafeReason: String?

    init(_ function: Node) {
        node = function
        if let params = function.child(byField: "parameters") {
            parameters = parameterIdentifiers(params)
            for p in parameters { bound[p.text, default: []].append(p) }
        }
        guard let body = function.child(byField: "body") else { return }
        // The parameters' defaults and annotations are evaluated outside, but their identifiers are still
        // references we must see when renaming a parameter of this function... they refer to the outer scope, so
        // they are not collected here.
        collect(body, nested: false)
        if let params = function.child(byField: "parameters") {
            for p in parameters { references[p.text, default: []].append(p) }
            _ = params
        }
    }

    private func bind(_ id: Node, nested: Bool) {
        if nested { nestedBound.insert(id.text) } else { bound[id.text, default: []].append(id) }
    }

    private func collect(_ root: Node, nested: Bool) {
        root.walk { n in
            switch n.type {
            case "identifier":
                if isNameReference(n) {
                    references[n.text, default: []].append(n)
                    if PythonNames.frameIntrospection.contains(n.text), unsafeReason == nil {
                        unsafeReason = "uses \(n.text)()"
                    }
                }
                return false
            case "function_definition", "class_definition":
                if let name = n.child(byField: "name") {
                    bind(name, nested: nested)
                    if !nested { specialBound.insert(name.text) }
                }
                if n.type == "function_definition" {
                    // Defaults, annotations and the return annotation are evaluated in this scope.
                    if let params = n.child(byField: "parameters") {
                        for p in parameterIdentifiers(params) { nestedBound.insert(p.text) }
                        for p in params.namedChildren {
                            for field in ["value", "type"] { if let v = p.child(byField: field) { collect(v, nested: nested) } }
                        }
                    }
                    if let r = n.child(byField: "return_type") { collect(r, nested: nested) }
                    if let b = n.child(byField: "body") { collect(b, nested: true) }
                } else {
                    if let s = n.child(byField: "superclasses") { collect(s, nested: nested) }
                    if let b = n.child(byField: "body") { collect(b, nested: true) }
                }
                return false
            case "lambda":
                if let params = n.child(byField: "parameters") {
                    for p in parameterIdentifiers(params) { nestedBound.insert(p.text) }
                    for p in params.namedChildren {
                        if let v = p.child(byField: "value") { collect(v, nested: nested) }
                    }
                }
                if let b = n.child(byField: "body") { collect(b, nested: true) }
                return false
            case "list_comprehension", "set_comprehension", "dictionary_comprehension", "generator_expression":
                // Everything inside counts as nested (conservative: the first iterable is really evaluated outside).
                for clause in n.namedChildren where clause.type == "for_in_clause" {
                    if let left = clause.child(byField: "left") {
                        for id in boundIdentifiers(inTarget: left) { nestedBound.insert(id.text) }
                    }
                }
                for child in n.namedChildren { collect(child, nested: true) }
                return false
            case "assignment", "augmented_assignment":
                if let left = n.child(byField: "left") {
                    for id in boundIdentifiers(inTarget: left) { bind(id, nested: nested) }
                }
                return true
            case "for_statement", "for_in_clause":
                if let left = n.child(byField: "left") {
                    for id in boundIdentifiers(inTarget: left) { bind(id, nested: nested) }
                }
                return true
            case "as_pattern":
                if let alias = n.child(byField: "alias") {
                    for id in boundIdentifiers(inTarget: alias.namedChildren.first ?? alias) { bind(id, nested: nested) }
                    if alias.type == "identifier" { bind(alias, nested: nested) }
                }
                return true
            case "except_clause":
                // `except E as name` (some grammar versions put the name straight in the clause).
                var sawAs = false
                for child in n.children {
                    if child.type == "as" { sawAs = true; continue }
                    if sawAs, child.type == "identifier" { bind(child, nested: nested); sawAs = false }
                }
                return true
            case "named_expression":
                if let name = n.child(byField: "name") { bind(name, nested: nested) }
                return true
            case "global_statement", "nonlocal_statement":
                for id in n.namedChildren where id.type == "identifier" {
                    if nested { nestedBound.insert(id.text) }
                    else if n.type == "global_statement" { globals.insert(id.text) } else { nonlocals.insert(id.text) }
                    references[id.text, default: []].append(id)
                }
                return false
            case "delete_statement":
                for target in n.namedChildren {
                    for id in boundIdentifiers(inTarget: target) { bind(id, nested: nested) }
                }
                return true
            case "import_statement", "import_from_statement", "future_import_statement":
                for child in n.namedChildren {
                    var name: Node?
                    if child.type == "aliased_import" { name = child.child(byField: "alias") }
                    else if child.type == "dotted_name", n.child(byField: "module_name") != child {
                        name = child.namedChildren.first
                    }
                    if let name {
                        bind(name, nested: nested)
                        if !nested { specialBound.insert(name.text) }
                    }
                    if child.type == "wildcard_import", unsafeReason == nil { unsafeReason = "uses import *" }
                }
                return false
            case "match_statement":
                if unsafeReason == nil { unsafeReason = "has a match statement" }
                return true
            case "interpolation":
                if n.children.contains(where: { $0.type == "=" }), unsafeReason == nil {
                    unsafeReason = "an f-string prints a variable's name ({x=})"
                }
                return true
            default:
                return true
            }
        }
    }

    /// Whether `name` can be renamed consistently inside this function: bound here, not declared
    /// global/nonlocal, not bound or declared in any nested scope, not bound by import/def/class.
    func renamable(_ name: String) -> String? {
        if let unsafeReason { return unsafeReason }
        if globals.contains(name) || nonlocals.contains(name) { return "declared global/nonlocal" }
        if nestedBound.contains(name) { return "also bound in a nested scope" }
        if specialBound.contains(name) { return "bound by import, def or class" }
        if name == "_" || name == "self" || name == "cls" || (name.hasPrefix("__") && name.hasSuffix("__")) {
            return "conventional name"
        }
        return nil
    }

    var isMethod: Bool {
        var p = node.parent
        if p?.type == "decorated_definition" { p = p?.parent }
        return p?.type == "block" && p?.parent?.type == "class_definition"
    }
}

/// Whether the node sits inside a function body (the nearest enclosing function or class is a function), and not
/// inside a `try` block of that function.
func functionContext(of node: Node) -> (function: Node?, inTry: Bool) {
    var current = node.parent
    var inTry = false
    while let n = current {
        if n.type == "try_statement" || n.type == "with_statement" { inTry = true }
        if n.type == "function_definition" { return (n, inTry) }
        if n.type == "class_definition" || n.type == "lambda" { return (nil, inTry) }
        current = n.parent
    }
    return (nil, inTry)
}

/// Names (variable references) used anywhere in the subtree.
func referencedNames(_ node: Node) -> Set<String> {
    var out = Set<String>()
    node.walk { n in
        if n.type == "identifier", isNameReference(n) { out.insert(n.text) }
        return true
    }
    return out
}

/// Whether the subtree contains a node of one of `types`.
func contains(_ node: Node, types: Set<String>) -> Bool {
    var found = false
    node.walk { n in
        if found { return false }
        if types.contains(n.type) { found = true }
        return !found
    }
    return found
}

/// An expression whose evaluation has no side effects we can see and cannot observe other code's: names,
/// literals, attribute chains, containers of those. (Attribute reads are assumed not to run properties with
/// effects.) With `operators`, arithmetic/comparison/boolean operators over such operands too.
func isPure(_ node: Node, operators: Bool = false) -> Bool {
    switch node.type {
    case "identifier", "integer", "float", "true", "false", "none", "ellipsis":
        return true
    case "string":
        return !node.namedChildren.contains { $0.type == "interpolation" }
    case "concatenated_string":
        return node.namedChildren.allSatisfy { isPure($0) }
    case "attribute":
        return node.child(byField: "object").map { isPure($0) } ?? false
    case "unary_operator":
        return node.namedChildren.allSatisfy { isPure($0, operators: operators) }
    case "tuple", "list", "set", "dictionary", "pair", "parenthesized_expression":
        return node.namedChildren.allSatisfy { $0.type != "comment" && isPure($0, operators: operators) }
    case "binary_operator", "comparison_operator", "boolean_operator", "not_operator":
        return operators && node.namedChildren.allSatisfy { isPure($0, operators: operators) }
    default:
        return false
    }
}
