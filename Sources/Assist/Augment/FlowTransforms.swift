import Foundation
import Syntax

/// Facts shared by the transforms that move code inside a function.
enum Flow {
    /// Node types under which a sub-expression is evaluated lazily, repeatedly, or in another scope.
    static let deferring: Set<String> = ["lambda", "list_comprehension", "set_comprehension",
                                         "dictionary_comprehension", "generator_expression", "conditional_expression",
                                         "boolean_operator", "interpolation", "string"]
    static let effectful: Set<String> = ["yield", "await", "named_expression", "lambda"]

    /// Whether every node evaluated before `target` within `root` (left to right, Python's order for the
    /// expressions these transforms touch) is pure, and `target` is not under a deferring construct.
    static func evaluatedFirst(_ target: Node, within root: Node) -> Bool {
        var node = target
        while node != root {
            guard let parent = node.parent else { return false }
            if deferring.contains(parent.type) { return false }
            // Siblings before `node` are evaluated earlier: each must be pure.
            for sibling in parent.namedChildren {
                if sibling == node { break }
                if sibling.type == "comment" { continue }
                if sibling.type == "keyword_argument" {
                    guard let v = sibling.child(byField: "value"), isPure(v) else { return false }
                    continue
                }
                if !isPure(sibling) { return false }
            }
            node = parent
        }
        return true
    }

    /// The statements of a function body that a single-use local may be moved between: expression statements
    /// (`x = call(...)`, `call(...)`) and returns, each alone on its lines.
    static func simpleStatement(_ statement: Node, _ file: PyFile) -> Bool {
        guard statement.type == "expression_statement" || statement.type == "return_statement" else { return false }
        return file.indentation(of: statement) != nil && file.endsLine(statement) && !file.containsComment(statement)
    }

    /// Whether `name` occurs as a variable anywhere in the function outside `inside`.
    static func usedOutside(_ name: String, _ scope: FunctionScope, _ inside: [Node]) -> Bool {
        for ref in scope.references[name] ?? [] {
            if !inside.contains(where: { $0.byteRange.contains(ref.startByte) }) { return true }
        }
        return false
    }
}

/// Converts `xs = []` + `for v in it: xs.append(e)` (optionally under one `if`) into `xs = [e for v in it if c]`
/// and back, inside functions only (a class body's comprehension cannot see class names), when the loop variable is
/// used nowhere else in the function, `xs` is not used by the loop's expressions, and no `try`/`with` could observe
/// a partly built list.
public struct LoopComprehension: PythonTransform {
    public let name = "loop-comprehension"
    public let summary = "turn an append loop into a list comprehension and back, where provably equivalent"
    public init() {}

    struct Parts { var target: Node; var iterable: Node; var condition: Node?; var element: Node }

    public func plan(_ file: PyFile, _ context: inout TransformContext) -> TransformPlan {
        var plan = TransformPlan()
        for function in file.functions {
            let scope = file.scope(of: function)
            guard let body = function.child(byField: "body") else { continue }
            var blocks: [Node] = []
            body.walk { n in
                if n.type == "function_definition" || n.type == "class_definition" || n.type == "lambda" { return n == body }
                if n.type == "block" { blocks.append(n) }
                return true
            }
            for block in blocks {
                let statements = block.namedChildren
                for (i, statement) in statements.enumerated() {
                    guard let (list, rhs) = assignment(statement) else { continue }
                    if let reason = scope.unsafeReason { plan.skip(reason); continue }
                    if functionContext(of: statement).inTry { plan.skip("inside try/with"); continue }
                    if scope.globals.contains(list) || scope.nonlocals.contains(list) { plan.skip("global list"); continue }
                    if rhs.type == "list", rhs.namedChildCount == 0, i + 1 < statements.count,
                       let parts = loopParts(statements[i + 1], list: list) {
                        guard check(parts, list: list, scope: scope, region: [statement, statements[i + 1]], &plan),
                              Flow.simpleStatement(statement, file), !file.containsComment(statements[i + 1]),
                              context.rng.chance(context.rate) else { continue }
                        var iterable = parts.iterable.text
                        if parts.iterable.type == "expression_list" { iterable = "(\(iterable))" }
                        var text = "\(list) = [\(parts.element.text) for \(parts.target.text) in \(iterable)"
                        if let c = parts.condition { text += " if " + parenthesizedCondition(c) }
                        text += "]"
                        plan.add(SourceEdit(statement.startByte..<statements[i + 1].endByte, text),
                                 note: "loop -> comprehension for \(list) at line \(statement.start.line)")
                    } else if rhs.type == "list_comprehension", let parts = comprehensionParts(rhs) {
                        guard Flow.simpleStatement(statement, file), let indent = file.indentation(of: statement),
                              check(parts, list: list, scope: scope, region: [statement], &plan),
                              context.rng.chance(context.rate) else { continue }
                        let unit = file.indentUnit(near: indent)
                        var text = "\(list) = []\n\(indent)for \(parts.target.text) in \(parts.iterable.text):\n"
                        if let c = parts.condition {
                            text += "\(indent)\(unit)if \(c.text):\n\(indent)\(unit)\(unit)\(list).append(\(parts.element.text))"
                        } else {
                            text += "\(indent)\(unit)\(list).append(\(parts.element.text))"
                        }
                        plan.add(SourceEdit(statement.byteRange, text),
                                 note: "comprehension -> loop for \(list) at line \(statement.start.line)")
                    }
                }
            }
        }
        return plan
    }

    func parenthesizedCondition(_ c: Node) -> String {
        ["conditional_expression", "lambda", "named_expression"].contains(c.type) ? "(\(c.text))" : c.text
    }

    /// `name = value` alone in an expression statement.
    func assignment(_ statement: Node) -> (String, Node)? {
        guard statement.type == "expression_statement", statement.namedChildCount == 1,
              let a = statement.namedChild(0), a.type == "assignment", a.child(byField: "type") == nil,
              let left = a.child(byField: "left"), left.type == "identifier",
              let right = a.child(byField: "right") else { return nil }
        return (left.text, right)
    }

    func loopParts(_ loop: Node, list: String) -> Parts? {
        guard loop.type == "for_statement", !loop.children.contains(where: { $0.type == "async" }),
              loop.child(byField: "alternative") == nil,
              let target = loop.child(byField: "left"), let iterable = loop.child(byField: "right"),
              let body = loop.child(byField: "body"), body.namedChildCount == 1, let only = body.namedChild(0)
        else { return nil }
        if only.type == "if_statement" {
            guard only.child(byField: "alternative") == nil, !only.children.contains(where: { $0.type == "else_clause" || $0.type == "elif_clause" }),
                  let c = only.child(byField: "condition"), let inner = only.child(byField: "consequence"),
                  inner.namedChildCount == 1, let append = inner.namedChild(0), let e = appended(append, list) else { return nil }
            return Parts(target: target, iterable: iterable, condition: c, element: e)
        }
        guard let e = appended(only, list) else { return nil }
        return Parts(target: target, iterable: iterable, condition: nil, element: e)
    }

    /// The `e` of a statement `list.append(e)`.
    func appended(_ statement: Node, _ list: String) -> Node? {
        guard statement.type == "expression_statement", statement.namedChildCount == 1, let call = statement.namedChild(0),
              call.type == "call", let f = call.child(byField: "function"), f.type == "attribute",
              f.child(byField: "object")?.type == "identifier", f.child(byField: "object")?.text == list,
              f.child(byField: "attribute")?.text == "append",
              let args = call.child(byField: "arguments"), args.type == "argument_list", args.namedChildCount == 1,
              let e = args.namedChild(0), !["keyword_argument", "list_splat", "dictionary_splat", "comment"].contains(e.type)
        else { return nil }
        return e
    }

    func comprehensionParts(_ comp: Node) -> Parts? {
        let clauses = comp.namedChildren
        guard let body = comp.child(byField: "body"), clauses.count <= 3,
              let forClause = clauses.first(where: { $0.type == "for_in_clause" }),
              clauses.filter({ $0.type == "for_in_clause" }).count == 1,
              clauses.filter({ $0.type == "if_clause" }).count <= 1,
              !forClause.children.contains(where: { $0.type == "async" }),
              let target = forClause.child(byField: "left"), let iterable = forClause.child(byField: "right")
        else { return nil }
        let condition = clauses.first { $0.type == "if_clause" }?.namedChildren.first
        return Parts(target: target, iterable: iterable, condition: condition, element: body)
    }

    func check(_ parts: Parts, list: String, scope: FunctionScope, region: [Node], _ plan: inout TransformPlan) -> Bool {
        let targets = boundIdentifiers(inTarget: parts.target)
        guard !targets.isEmpty, targets.count == parts.target.namedChildren.count || parts.target.type == "identifier" else {
            plan.skip("complex loop target"); return false
        }
        for t in targets {
            if Flow.usedOutside(t.text, scope, region) || scope.globals.contains(t.text) || scope.nonlocals.contains(t.text)
                || t.text == list {
                plan.skip("loop variable used elsewhere"); return false
            }
        }
        var exprs = [parts.element, parts.iterable]
        if let c = parts.condition { exprs.append(c) }
        for p in exprs {
            if referencedNames(p).contains(list) { plan.skip("list used while it is built"); return false }
            if contains(p, types: Flow.effectful) || referencedNames(p).contains("super") {
                plan.skip("yield/await/walrus/lambda/super in the loop"); return false
            }
        }
        return true
    }
}
