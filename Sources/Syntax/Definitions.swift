/// A function, method, class or type defined in a source file, found by the language's `definitions.scm`.
public struct Definition: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        case function, method, `class`, type
    }

    public var kind: Kind
    public var name: String
    /// `Owner.name` for methods (the enclosing class, impl or type); `name` otherwise.
    public var qualifiedName: String
    /// The enclosing class/type name for methods.
    public var owner: String?
    public var parameters: [Parameter]
    /// The declared return type, when the language and the code give one.
    public var returnType: String?
    /// Decorators / annotations written before the definition (`@staticmethod`, `@property`, …).
    public var decorators: [String]
    public var docstring: String?
    public var start: SourceLocation
    public var end: SourceLocation
    /// Location of the name, for jumping to the definition.
    public var nameLocation: SourceLocation

    enum CodingKeys: String, CodingKey {
        case kind, name, qualifiedName = "qualified_name", owner, parameters, returnType = "return_type"
        case decorators, docstring, start, end, nameLocation = "name_location"
    }
}

/// One parameter of a function or method.
public struct Parameter: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        /// An ordinary parameter (positional or by name).
        case regular
        /// Only by position (Python, before `/`).
        case positionalOnly = "positional_only"
        /// Only by name (Python, after `*` or `*args`).
        case keywordOnly = "keyword_only"
        /// `*args`, `...rest`, `args ...T`.
        case variadic
        /// `**kwargs`.
        case variadicKeyword = "variadic_keyword"
        /// The receiver: Python's `self`/`cls`, Rust's `self`.
        case receiver
    }

    public var name: String
    public var type: String?
    public var defaultValue: String?
    public var kind: Kind

    enum CodingKeys: String, CodingKey {
        case name, type, defaultValue = "default", kind
    }
}

/// Extracts definitions with the language's query; one extractor per language can be shared by threads.
public final class DefinitionExtractor: Sendable {
    public let language: Language
    private let query: Query

    /// Loads `grammars/queries/<language>/definitions.scm` (see `Resources`).
    public init(language: Language) throws {
        let relative = "grammars/queries/\(language.name)/definitions.scm"
        guard let path = Resources.locate(relative), let text = Resources.readText(path) else {
            throw SyntaxLayerError.queryNotFound(language: language.name, file: relative,
                                                 searched: Resources.searchRoots)
        }
        self.language = language
        self.query = try Query(language: language, source: text, file: path)
    }

    /// Definitions in the tree, in document order.
    public func definitions(in tree: Tree) -> [Definition] {
        let matches = query.matches(in: tree.root)
        // Containers (classes, types, scopes) by byte range, to find the owner of each function.
        var containers: [(range: Range<Int>, name: String)] = []
        for match in matches {
            guard let (node, kind) = definitionNode(match), kind != .function, kind != .method,
                  let name = match.first("name") else { continue }
            containers.append((node.byteRange, ownerName(name)))
        }
        var results: [Definition] = []
        var seen = Set<Int>()
        for match in matches {
            guard let (node, declaredKind) = definitionNode(match), var kind = declaredKind,
                  let nameNode = match.first("name"), seen.insert(node.startByte).inserted else { continue }
            // The innermost container owns a function; for Go, the receiver's type does
            // (`func (p *Point) Scale` → Point).
            let receiverType = match.first("receiver").flatMap { receiver in
                receiver.namedChildren.first?.child(byField: "type").map { ownerName($0).filter { $0 != "*" } }
            }
            let owner = receiverType ?? containers
                .filter { $0.range.lowerBound < node.startByte && node.endByte <= $0.range.upperBound }
                .min { $0.range.count < $1.range.count }?.name
            if kind == .function, owner != nil { kind = .method }
            var parameters = match.first("parameters").map { parameterList($0) } ?? []
            parameters += match.all("parameter").compactMap { parameter($0, keywordOnly: false, positionalOnly: false) }
            if match.first("parameters") == nil && match.first("parameter") == nil {
                // Grammars without a list node (Swift): the parameters are direct children.
                parameters = node.namedChildren.filter { $0.type == "parameter" }
                    .compactMap { parameter($0, keywordOnly: false, positionalOnly: false) }
            }
            // `def substitute(self, mapping=..., /, **kws)`: a `/` makes `self` positional-only, still the receiver.
            if language.name == "python", kind == .method, let first = parameters.first,
               first.kind == .regular || first.kind == .positionalOnly,
               !decorators(of: node).contains(where: { $0 == "@staticmethod" }) {
                parameters[0].kind = .receiver
            }
            let name = nameNode.text
            results.append(Definition(
                kind: kind, name: name, qualifiedName: owner.map { "\($0).\(name)" } ?? name,
                owner: kind == .method ? owner : nil, parameters: parameters,
                returnType: (node.child(byField: "return_type") ?? node.child(byField: "result"))?.text
                    .trimmingLeading(while: { $0 == "-" || $0 == ">" || $0 == " " || $0 == ":" }),
                decorators: decorators(of: node), docstring: docstring(of: node, match: match),
                start: node.start, end: node.end, nameLocation: nameNode.start))
        }
        return results
    }

    private func definitionNode(_ match: Query.Match) -> (Node, Definition.Kind?)? {
        for capture in match.captures {
            if capture.name == "scope" { return (capture.node, nil) }
            if capture.name.hasPrefix("definition."),
               let kind = Definition.Kind(rawValue: String(capture.name.dropFirst("definition.".count))) {
                return (capture.node, kind)
            }
        }
        return nil
    }

    private func ownerName(_ node: Node) -> String {
        // `impl<T> Stack<T>` → `Stack`; `Foo.Bar` stays.
        let text = node.text
        return String(text.prefix { $0 != "<" && $0 != "[" && $0 != "(" }).trimmingTrailingSpaces()
    }

    // MARK: Parameters

    private func parameterList(_ list: Node) -> [Parameter] {
        if !list.type.contains("parameter") && list.type != "formal_parameters" {
            return parameter(list, keywordOnly: false, positionalOnly: false).map { [$0] } ?? []
        }
        var results: [Parameter] = []
        var keywordOnly = false
        for child in list.namedChildren where !language.commentTypes.contains(child.type) {
            switch child.type {
            case "keyword_separator": keywordOnly = true          // Python `*`
            case "positional_separator":                          // Python `/`
                for i in results.indices where results[i].kind == .regular { results[i].kind = .positionalOnly }
            case "parameter_declaration" where language.name == "go":
                // `a, b int`: several names share one type.
                let names = child.namedChildren.filter { $0.type == "identifier" }
                let type = child.child(byField: "type")?.text
                if names.isEmpty { results.append(Parameter(name: "", type: type, defaultValue: nil, kind: .regular)) }
                for name in names { results.append(Parameter(name: name.text, type: type, defaultValue: nil, kind: .regular)) }
            default:
                if let p = parameter(child, keywordOnly: keywordOnly, positionalOnly: false) {
                    if p.kind == .variadic, language.name == "python" { keywordOnly = true }
                    results.append(p)
                }
            }
        }
        return results
    }

    private func parameter(_ node: Node, keywordOnly: Bool, positionalOnly: Bool) -> Parameter? {
        var type = node.child(byField: "type")?.text
        if type == nil, node.type == "parameter", let last = node.namedChildren.last,
           !last.type.hasSuffix("identifier") {
            type = last.text  // Swift: `name: Type`, where the grammar labels the type `name` too.
        }
        let defaultValue = (node.child(byField: "value") ?? node.child(byField: "right")
                            ?? node.child(byField: "default_value"))?.text
        var kind: Parameter.Kind = keywordOnly ? .keywordOnly : .regular
        switch node.type {
        case "list_splat_pattern", "rest_pattern", "variadic_parameter_declaration", "spread_parameter",
             "variadic_parameter":
            kind = .variadic
        case "dictionary_splat_pattern":
            kind = .variadicKeyword
        case "self_parameter":
            return Parameter(name: "self", type: nil, defaultValue: nil, kind: .receiver)
        default:
            if node.namedChildren.contains(where: { $0.type == "list_splat_pattern" }) { kind = .variadic }
            if node.namedChildren.contains(where: { $0.type == "dictionary_splat_pattern" }) { kind = .variadicKeyword }
        }
        let name = parameterName(node)
        if name.isEmpty, type == nil || type == "void" { return nil }  // C's `f(void)` has no parameter
        return Parameter(name: name, type: type, defaultValue: defaultValue, kind: kind)
    }

    /// The bound name of a parameter node, looking through patterns, splats and C declarators.
    private func parameterName(_ node: Node) -> String {
        if node.type.hasSuffix("identifier") || node.type == "identifier" { return node.text }
        for field in ["name", "pattern", "left", "declarator"] {
            if let child = node.child(byField: field) { return parameterName(child) }
        }
        // `*args`, `...rest`, `object_pattern`: the first identifier inside, or the whole text for destructuring.
        if node.type.hasSuffix("_pattern") && (node.type.hasPrefix("object") || node.type.hasPrefix("array")) {
            return node.text
        }
        for child in node.namedChildren where child.type.hasSuffix("identifier") { return child.text }
        for child in node.namedChildren {
            let inner = parameterName(child)
            if !inner.isEmpty { return inner }
        }
        return ""
    }

    // MARK: Decorators and docs

    private func decorators(of node: Node) -> [String] {
        var result: [String] = []
        if let parent = node.parent, parent.type == "decorated_definition" {
            result += parent.namedChildren.filter { $0.type == "decorator" }.map(\.text)
        }
        if let modifiers = node.namedChildren.first(where: { $0.type == "modifiers" }) {
            result += modifiers.namedChildren.filter { $0.type.contains("annotation") }.map(\.text)
        }
        return result
    }

    private func docstring(of node: Node, match: Query.Match) -> String? {
        switch language.docStyle {
        case .firstStringInBody:
            guard let body = match.first("body") ?? node.child(byField: "body"),
                  let first = body.namedChildren.first(where: { !language.commentTypes.contains($0.type) }),
                  first.type == "expression_statement",
                  let string = first.namedChild(0), string.type == "string" else { return nil }
            return DocText.cleanPythonString(string.text)
        case .precedingComments:
            // Comments directly above the definition, or above the wrapper it sits in (`export`, `type (…)`).
            var anchor = node
            while let parent = anchor.parent, parent.startByte == anchor.startByte || ["export_statement",
                  "type_declaration", "decorated_definition"].contains(parent.type),
                  parent.type != "source_file", parent.type != "program", parent.type != "translation_unit" {
                anchor = parent
            }
            var comments: [String] = []
            var expectedLine = anchor.start.line
            var current = anchor.previousSibling
            while let sibling = current {
                if sibling.type == "attribute_item" || sibling.type == "attribute" {   // Rust #[...], between doc and fn
                    expectedLine = sibling.start.line
                } else if language.commentTypes.contains(sibling.type), sibling.end.line >= expectedLine - 1 {
                    comments.insert(sibling.text, at: 0)
                    expectedLine = sibling.start.line
                } else {
                    break
                }
                current = sibling.previousSibling
            }
            return comments.isEmpty ? nil : DocText.cleanComments(comments)
        }
    }
}

/// Turning source literals and comments into plain documentation text.
enum DocText {
    /// The value of a Python docstring literal, indented the way `inspect.cleandoc` does it.
    static func cleanPythonString(_ literal: String) -> String {
        var body = Substring(literal)
        while let c = body.first, c.isLetter { body = body.dropFirst() }   // r, u, b, f prefixes
        for quote in ["\"\"\"", "'''", "\"", "'"] where body.hasPrefix(quote) {
            body = body.dropFirst(quote.count)
            if body.hasSuffix(quote) { body = body.dropLast(quote.count) }
            break
        }
        return cleandoc(String(body))
    }

    /// Like Python's `inspect.cleandoc`: strip the common indentation of all lines after the first,
    /// then leading and trailing blank lines.
    static func cleandoc(_ text: String) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard !lines.isEmpty else { return "" }
        let indents = lines.dropFirst().filter { !$0.allSatisfy(\.isWhitespace) }
            .map { $0.prefix { $0 == " " || $0 == "\t" }.count }
        let margin = indents.min() ?? 0
        lines[0] = lines[0].trimmingLeading(while: { $0 == " " || $0 == "\t" })
        for i in lines.indices.dropFirst() { lines[i] = String(lines[i].dropFirst(margin)) }
        for i in lines.indices { lines[i] = lines[i].trimmingTrailingSpaces() }
        while let first = lines.first, first.isEmpty { lines.removeFirst() }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        return lines.joined(separator: "\n")
    }

    /// Comment text without the markers (`//`, `///`, `/** … */`, leading `*`, `#`).
    static func cleanComments(_ comments: [String]) -> String {
        var lines: [String] = []
        for comment in comments {
            var text = comment
            if text.hasPrefix("/*") {
                text = String(text.dropFirst(2))
                while text.hasPrefix("*") || text.hasPrefix("!") { text = String(text.dropFirst()) }
                if text.hasSuffix("*/") { text = String(text.dropLast(2)) }
            }
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                var l = Substring(line).drop { $0 == " " || $0 == "\t" }
                for marker in ["///", "//!", "//", "*", "#"] where l.hasPrefix(marker) {
                    l = l.dropFirst(marker.count)
                    break
                }
                if l.hasPrefix(" ") { l = l.dropFirst() }
                lines.append(String(l).trimmingTrailingSpaces())
            }
        }
        while let first = lines.first, first.isEmpty { lines.removeFirst() }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        return lines.joined(separator: "\n")
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = Substring(self)
        while let c = s.last, c == " " || c == "\t" || c == "\r" { s = s.dropLast() }
        return String(s)
    }

    func trimmingLeading(while predicate: (Character) -> Bool) -> String { String(drop(while: predicate)) }
}
