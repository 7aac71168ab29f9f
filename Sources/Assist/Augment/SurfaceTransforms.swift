import Foundation
import Syntax

/// Reorders runs of consecutive imports (module level or a function body) that bind distinct names; relative,
/// `__future__` and `*` imports, and imports inside `try`, stay where they are.
public struct ReorderImports: PythonTransform {
    public let name = "reorder-imports"
    public let summary = "shuffle runs of consecutive independent imports (distinct names; no relative, * or __future__ imports)"
    public init() {}

    static func boundNames(_ statement: Node) -> [String]? {
        var names: [String] = []
        for child in statement.namedChildren {
            if child.type == "wildcard_import" || child.type == "relative_import" { return nil }
            if child.type == "comment" { return nil }
            if statement.type == "import_from_statement", statement.child(byField: "module_name") == child { continue }
            if child.type == "aliased_import" {
                guard let alias = child.child(byField: "alias") else { return nil }
                names.append(alias.text)
            } else if child.type == "dotted_name" {
                guard let first = child.namedChildren.first else { return nil }
                names.append(statement.type == "import_statement" ? first.text : child.text)
            }
        }
        return names.isEmpty ? nil : names
    }

    public func plan(_ file: PyFile, _ context: inout TransformContext) -> TransformPlan {
        var plan = TransformPlan()
        var containers: [Node] = [file.tree.root]
        for f in file.functions { if let b = f.child(byField: "body") { containers.append(b) } }
        for container in containers {
            var run: [Node] = []
            var names = Set<String>()
            func flush() {
                defer { run = []; names = [] }
                guard run.count >= 2 else { return }
                guard context.rng.chance(context.rate) else { return }
                var order = Array(run.indices)
                while order == Array(run.indices) { context.rng.shuffle(&order) }
                for (slot, source) in order.enumerated() where slot != source {
                    plan.add(SourceEdit(run[slot].byteRange, run[source].text))
                }
                plan.notes.append("reordered \(run.count) imports at line \(run[0].start.line)")
            }
            for statement in container.namedChildren {
                let isImport = statement.type == "import_statement" || statement.type == "import_from_statement"
                guard isImport, file.indentation(of: statement) != nil, file.endsLine(statement),
                      !file.containsComment(statement),
                      let bound = Self.boundNames(statement), names.isDisjoint(with: bound)
                else {
                    flush()
                    if isImport { plan.skip("import not independent of its neighbours") }
                    // An independent import can still start a new run.
                    if isImport, file.indentation(of: statement) != nil, file.endsLine(statement),
                       let bound = Self.boundNames(statement) {
                        run = [statement]; names = Set(bound)
                    }
                    continue
                }
                run.append(statement)
                names.formUnion(bound)
            }
            flush()
        }
        return plan
    }
}

/// Adds or removes type annotations of functions that no decorator or introspection could read: removes
/// parameter/return annotations and annotations of local assignments, or adds `-> None` and annotations of
/// parameters with literal defaults.
public struct TypeAnnotations: PythonTransform {
    public let name = "annotations"
    public let summary = "remove parameter/return/local annotations, or add `-> None` and `int`/`str`/`float`/`bool` for literal defaults"
    public init() {}

    static let harmlessDecorators: Set<String> = ["staticmethod", "classmethod", "property"]
    static let introspection: Set<String> = ["__annotations__", "get_type_hints", "signature", "register",
                                              "singledispatch", "singledispatchmethod", "dataclass", "NamedTuple",
                                              "TypedDict", "get_annotations", "getfullargspec", "annotations"]

    public func plan(_ file: PyFile, _ context: inout TransformContext) -> TransformPlan {
        var plan = TransformPlan()
        if let used = Self.introspection.first(where: { file.identifiers.contains($0) }) {
            plan.skip("file uses \(used) (annotations may be read at run time)")
            return plan
        }
        // Builtin type names must not be rebound anywhere in the file for added annotations to mean the builtin.
        let rebound = Set(["int", "str", "float", "bool"]).intersection(boundAnywhere(file))
        for function in file.functions {
            if let decorated = function.parent, decorated.type == "decorated_definition" {
                let names = decorated.namedChildren.filter { $0.type == "decorator" }.map {
                    $0.text.dropFirst().trimmingCharacters(in: .whitespaces)
                }
                if !names.allSatisfy({ Self.harmlessDecorators.contains($0) || $0.hasSuffix(".setter") }) {
                    plan.skip("decorated function"); continue
                }
            }
            guard let params = function.child(byField: "parameters") else { continue }
            let removable = params.namedChildren.contains { $0.type == "typed_parameter" || $0.type == "typed_default_parameter" }
                || function.child(byField: "return_type") != nil
            let remove = removable  // annotated functions lose their annotations; the others gain some
            if remove {
                guard context.rng.chance(context.rate) else { continue }
                var count = 0
                for p in params.namedChildren {
                    if p.type == "typed_parameter", let first = p.namedChildren.first {
                        plan.add(SourceEdit(p.byteRange, first.text)); count += 1
                    } else if p.type == "typed_default_parameter", let n = p.child(byField: "name"),
                              let v = p.child(byField: "value") {
                        plan.add(SourceEdit(p.byteRange, "\(n.text)=\(v.text)")); count += 1
                    }
                }
                if let r = function.child(byField: "return_type") {
                    plan.add(SourceEdit(params.endByte..<r.endByte, "")); count += 1
                }
                // Local `name: T = value` (never evaluated for simple local names) loses its annotation.
                if let body = function.child(byField: "body") {
                    body.walk { n in
                        if n.type == "function_definition" || n.type == "class_definition" || n.type == "lambda" { return false }
                        if n.type == "assignment", let left = n.child(byField: "left"), left.type == "identifier",
                           let t = n.child(byField: "type"), n.child(byField: "right") != nil {
                            plan.add(SourceEdit(left.endByte..<t.endByte, "")); count += 1
                        }
                        return true
                    }
                }
                if count > 0 { plan.notes.append("removed \(count) annotation(s) of \(function.child(byField: "name")?.text ?? "?")") }
            } else if canAdd(function, params, rebound) {
                guard context.rng.chance(context.rate) else { continue }
                var count = 0
                for p in params.namedChildren where p.type == "default_parameter" {
                    guard let n = p.child(byField: "name"), n.type == "identifier", let v = p.child(byField: "value"),
                          let type = Self.literalType(v), !rebound.contains(type) else { continue }
                    plan.add(SourceEdit(p.byteRange, "\(n.text): \(type) = \(v.text)")); count += 1
                }
                if function.child(byField: "return_type") == nil, Self.returnsNothing(function) {
                    plan.add(SourceEdit(params.endByte..<params.endByte, " -> None")); count += 1
                }
                if count > 0 { plan.notes.append("added \(count) annotation(s) to \(function.child(byField: "name")?.text ?? "?")") }
            }
        }
        return plan
    }

    func canAdd(_ function: Node, _ params: Node, _ rebound: Set<String>) -> Bool {
        let literalDefaults = params.namedChildren.contains {
            $0.type == "default_parameter" && $0.child(byField: "value").flatMap(Self.literalType).map { !rebound.contains($0) } == true
        }
        return literalDefaults || (function.child(byField: "return_type") == nil && Self.returnsNothing(function))
    }

    static func literalType(_ value: Node) -> String? {
        switch value.type {
        case "integer": return "int"
        case "float": return "float"
        case "true", "false": return "bool"
        case "string": return value.text.first.map { "'\"".contains($0) } == true
            && !value.namedChildren.contains { $0.type == "interpolation" } ? "str" : nil
        default: return nil
        }
    }

    /// A function with real statements that never returns a value and is not a generator.
    static func returnsNothing(_ function: Node) -> Bool {
        guard let body = function.child(byField: "body") else { return false }
        let statements = body.namedChildren.filter { $0.type != "comment" }
        let trivial = statements.allSatisfy {
            $0.type == "pass_statement" || $0.type == "raise_statement"
                || ($0.type == "expression_statement" && ($0.namedChildren.first.map { ["string", "ellipsis"].contains($0.type) } ?? false))
        }
        if trivial { return false }
        var ok = true
        body.walk { n in
            if !ok { return false }
            switch n.type {
            case "function_definition", "class_definition", "lambda": return false
            case "yield": ok = false
            case "return_statement": if n.namedChildCount > 0 { ok = false }
            default: break
            }
            return ok
        }
        return ok
    }

    /// Names bound anywhere in the file (assignments, defs, classes, imports, parameters).
    func boundAnywhere(_ file: PyFile) -> Set<String> {
        var out = Set<String>()
        file.tree.root.walk { n in
            switch n.type {
            case "assignment", "augmented_assignment", "for_statement", "for_in_clause":
                if let left = n.child(byField: "left") { out.formUnion(boundIdentifiers(inTarget: left).map(\.text)) }
            case "function_definition", "class_definition":
                if let name = n.child(byField: "name") { out.insert(name.text) }
                if let params = n.child(byField: "parameters") { out.formUnion(parameterIdentifiers(params).map(\.text)) }
            case "aliased_import":
                if let alias = n.child(byField: "alias") { out.insert(alias.text) }
            case "import_from_statement", "import_statement":
                for c in n.namedChildren where c.type == "dotted_name" { out.formUnion(c.namedChildren.map(\.text)) }
                if n.namedChildren.contains(where: { $0.type == "wildcard_import" }) { out.formUnion(["int", "str", "float", "bool"]) }
            case "named_expression":
                if let name = n.child(byField: "name") { out.insert(name.text) }
            default: break
            }
            return true
        }
        return out
    }
}

/// Removes or rewrites docstrings and comments. Docstrings: removed (`pass` where the body would be empty) or cut
/// to their summary line or given the other triple quote. Comments: removed or re-spaced. Shebang, encoding,
/// `type:`/`noqa`/`pragma` comments are kept.
public struct DocstringsAndComments: PythonTransform {
    public let name = "docs-comments"
    public let summary = "remove docstrings (or cut them to the summary line, or switch \"\"\"/''') and remove or re-space comments"
    public init() {}

    static let protectedComment = try! NSRegularExpression(
        pattern: #"^#\s*(type:|noqa|pragma|fmt:|pylint:|mypy:|isort:|nosec|-\*-|vim:|coding[:=])|coding[:=]"#)

    public func plan(_ file: PyFile, _ context: inout TransformContext) -> TransformPlan {
        var plan = TransformPlan()
        // Docstrings.
        var bodies: [Node] = [file.tree.root]
        file.tree.root.walk { n in
            if n.type == "function_definition" || n.type == "class_definition", let b = n.child(byField: "body") { bodies.append(b) }
            return true
        }
        for body in bodies {
            let statements = body.namedChildren.filter { $0.type != "comment" }
            guard let first = statements.first, first.type == "expression_statement", first.namedChildCount == 1,
                  let string = first.namedChild(0), string.type == "string" else { continue }
            let text = string.text
            let prefixLength = text.prefix { $0.isLetter }.count
            let prefix = text.prefix(prefixLength).lowercased()
            guard !prefix.contains("f"), !prefix.contains("b") else { plan.skip("f-string or bytes docstring"); continue }
            guard context.rng.chance(context.rate) else { continue }
            let quote = String(text.dropFirst(prefixLength).prefix(3))
            let triple = quote == "\"\"\"" || quote == "'''"
            var actions = ["remove"]
            let content = triple ? String(text.dropFirst(prefixLength + 3).dropLast(3)) : ""
            if triple {
                let other = quote == "\"\"\"" ? "'''" : "\"\"\""
                if !content.contains(other.prefix(1)), !content.hasSuffix("\\") { actions.append("requote") }
                if let newline = content.firstIndex(of: "\n") {
                    let summary = content[..<newline].trimmingCharacters(in: .whitespaces)
                    if !summary.isEmpty, !summary.hasSuffix("\\"), !summary.hasSuffix(quote.prefix(1)),
                       content[newline...].contains(where: { !$0.isWhitespace }) { actions.append("summary") }
                }
            }
            let action = context.rng.pick(actions)
            switch action {
            case "requote":
                let other = quote == "\"\"\"" ? "'''" : "\"\"\""
                plan.add(SourceEdit(string.byteRange, String(text.prefix(prefixLength)) + other + content + other),
                         note: "docstring at line \(string.start.line): \(quote) -> \(other)")
            case "summary":
                let summary = content[..<content.firstIndex(of: "\n")!].trimmingCharacters(in: .whitespaces)
                plan.add(SourceEdit(string.byteRange, String(text.prefix(prefixLength)) + quote + summary + quote),
                         note: "docstring at line \(string.start.line) cut to its summary line")
            default:
                if statements.count == 1 || file.indentation(of: first) == nil || !file.endsLine(first) {
                    plan.add(SourceEdit(string.byteRange, "pass"), note: "docstring at line \(string.start.line) -> pass")
                } else {
                    plan.add(SourceEdit(file.lineRange(of: first), ""), note: "removed docstring at line \(string.start.line)")
                }
            }
        }
        // Comments.
        var comments: [Node] = []
        file.tree.root.walk { n in
            if n.type == "comment" { comments.append(n); return false }
            return n.type != "string"
        }
        var removed = 0, respaced = 0
        for comment in comments {
            let text = comment.text
            let nsText = text as NSString
            if comment.start.line <= 2 && (text.hasPrefix("#!") || text.contains("coding")) { plan.skip("shebang or encoding line"); continue }
            if Self.protectedComment.firstMatch(in: text, range: NSRange(location: 0, length: nsText.length)) != nil {
                plan.skip("tool directive comment"); continue
            }
            guard context.rng.chance(context.rate) else { continue }
            let body = text.dropFirst().drop { $0 == " " || $0 == "#" }
            if !body.isEmpty, !text.hasPrefix("# "), !text.hasPrefix("##"), context.rng.chance(0.3) {
                plan.add(SourceEdit(comment.byteRange, "# " + body)); respaced += 1
                continue
            }
            if file.indentation(of: comment) != nil {
                plan.add(SourceEdit(file.lineRange(of: comment), "")); removed += 1
            } else {
                var lo = comment.startByte
                while lo > 0, file.bytes[lo - 1] == 0x20 || file.bytes[lo - 1] == 0x09 { lo -= 1 }
                // Keep a line ending in a backslash continuation intact.
                plan.add(SourceEdit(lo..<comment.endByte, "")); removed += 1
            }
        }
        if removed > 0 { plan.notes.append("removed \(removed) comment(s)") }
        if respaced > 0 { plan.notes.append("re-spaced \(respaced) comment(s)") }
        return plan
    }
}
