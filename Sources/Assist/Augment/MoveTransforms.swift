import Foundation
import Syntax

extension Flow {
    /// The blocks of a function's own body (not those of nested functions, classes or lambdas).
    static func ownBlocks(_ function: Node) -> [Node] {
        guard let body = function.child(byField: "body") else { return [] }
        var blocks: [Node] = []
        body.walk { n in
            if n != body, ["function_definition", "class_definition", "lambda"].contains(n.type) { return false }
            if n.type == "block" { blocks.append(n) }
            return true
        }
        return blocks
    }

    /// The expression a simple statement evaluates first-to-last that code may move into or out of: a return's
    /// value, an assignment's right side (not a chained one), a bare expression.
    static func evaluatedRoot(_ statement: Node) -> Node? {
        if statement.type == "return_statement" { return statement.namedChild(0) }
        guard statement.type == "expression_statement", statement.namedChildCount == 1, let e = statement.namedChild(0)
        else { return nil }
        if e.type == "assignment" {
            guard e.child(byField: "type") == nil, let r = e.child(byField: "right"),
                  r.type != "assignment", r.type != "yield" else { return nil }
            return r
        }
        if e.type == "augmented_assignment" || e.type == "yield" { return nil }
        return e
    }

    /// Chained comparisons evaluate later operands lazily.
    static func chainedComparison(_ target: Node, within root: Node) -> Bool {
        var node: Node? = target
        while let n = node, n != root {
            if n.type == "comparison_operator", n.namedChildCount > 2 { return true }
            node = n.parent
        }
        return root.type == "comparison_operator" && root.namedChildCount > 2
    }

    static func atomic(_ e: Node) -> Bool {
        ["identifier", "call", "attribute", "subscript", "string", "concatenated_string", "integer", "float", "list",
         "dictionary", "set", "tuple", "parenthesized_expression", "true", "false", "none", "list_comprehension",
         "set_comprehension", "dictionary_comprehension"].contains(e.type)
    }
}

/// Moves a sub-expression (a call or operator expression evaluated before anything with effects in its
/// statement) into a new local assigned just before the statement.
public struct ExtractLocal: PythonTransform {
    public let name = "extract-local"
    public let summary = "extract a call or operator sub-expression into a new local assigned just before its statement"
    public init() {}

    public func plan(_ file: PyFile, _ context: inout TransformContext) -> TransformPlan {
        var plan = TransformPlan()
        for function in file.functions {
            let scope = file.scope(of: function)
            for block in Flow.ownBlocks(function) {
                for statement in block.namedChildren {
                    guard Flow.simpleStatement(statement, file), let indent = file.indentation(of: statement),
                          let root = Flow.evaluatedRoot(statement) else { continue }
                    if let reason = scope.unsafeReason { plan.skip(reason); continue }
                    var candidates: [Node] = []
                    root.walk { n in
                        if Flow.deferring.contains(n.type) { return false }
                        // (tree-sitter reads `[*f()]` as a call of `*f`: never extract a starred text.)
                        if (n.type == "call" || n.type == "binary_operator"), !n.text.contains("\n"), !n.text.hasPrefix("*"),
                           !(n == root && statement.type == "expression_statement" && root.type == "call"),
                           !contains(n, types: ["yield", "named_expression"]),
                           Flow.evaluatedFirst(n, within: root), !Flow.chainedComparison(n, within: root) {
                            candidates.append(n)
                        }
                        return true
                    }
                    guard !candidates.isEmpty else { continue }
                    guard context.rng.chance(context.rate) else { continue }
                    let chosen = context.rng.pick(candidates)
                    var hint = "value"
                    if chosen.type == "call", let f = chosen.child(byField: "function") {
                        let last = f.type == "attribute" ? f.child(byField: "attribute")?.text : f.text
                        if let last, last.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) { hint = last }
                    }
                    let newName = context.namer == nil ? freshExtractName(hint, &context) : context.freshName(for: hint, kind: "extract")
                    plan.add(SourceEdit(statement.startByte..<statement.startByte, "\(newName) = \(chosen.text)\n\(indent)"))
                    plan.add(SourceEdit(chosen.byteRange, newName),
                             note: "extracted \(newName) at line \(statement.start.line)")
                }
            }
        }
        return plan
    }

    func freshExtractName(_ hint: String, _ context: inout TransformContext) -> String {
        let base = hint.trimmingCharacters(in: CharacterSet(charactersIn: "_")).lowercased()
        var options = ["result", "value", "tmp", "res"]
        if !base.isEmpty, base != "value" {
            options += ["\(base)_result", "\(base)_value", "\(base)_res"]
            if base.hasPrefix("get_"), base.count > 4 { options.append(String(base.dropFirst(4))) }
        }
        var name = context.rng.pick(options), k = 2
        let start = name
        while context.taken.contains(name) { name = "\(start)\(k)"; k += 1 }
        context.taken.insert(name)
        return name
    }
}

/// Inlines a local assigned once and read once, in the very next statement, where nothing with effects is
/// evaluated before the read.
public struct InlineLocal: PythonTransform {
    public let name = "inline-local"
    public let summary = "inline a local that is assigned once and read once in the next statement"
    public init() {}

    public func plan(_ file: PyFile, _ context: inout TransformContext) -> TransformPlan {
        var plan = TransformPlan()
        for function in file.functions {
            let scope = file.scope(of: function)
            for block in Flow.ownBlocks(function) {
                let statements = block.namedChildren
                var i = 0
                while i + 1 < statements.count {
                    defer { i += 1 }
                    let first = statements[i], second = statements[i + 1]
                    guard first.type == "expression_statement", first.namedChildCount == 1,
                          let a = first.namedChild(0), a.type == "assignment", a.child(byField: "type") == nil,
                          let left = a.child(byField: "left"), left.type == "identifier",
                          let value = a.child(byField: "right"), value.type != "assignment",
                          Flow.simpleStatement(first, file), Flow.simpleStatement(second, file),
                          let root = Flow.evaluatedRoot(second) else { continue }
                    let name = left.text
                    if let reason = scope.renamable(name) { plan.skip(reason); continue }
                    if scope.parameters.contains(where: { $0.text == name }) { continue }
                    let refs = scope.references[name] ?? []
                    guard refs.count == 2, refs.contains(left),
                          let use = refs.first(where: { $0 != left }), root.byteRange.contains(use.startByte) else {
                        plan.skip("not a single use in the next statement"); continue
                    }
                    guard !contains(value, types: ["yield"]), Flow.evaluatedFirst(use, within: root),
                          !Flow.chainedComparison(use, within: root) else {
                        plan.skip("something with effects runs before the use"); continue
                    }
                    guard context.rng.chance(context.rate) else { continue }
                    // Parentheses only where precedence could bind differently (not as a plain call argument).
                    let plainArgument = ["argument_list", "keyword_argument"].contains(use.parent?.type ?? "")
                        && !["expression_list", "yield", "named_expression", "generator_expression"].contains(value.type)
                    let text = Flow.atomic(value) || plainArgument ? value.text : "(\(value.text))"
                    plan.add(SourceEdit(file.lineRange(of: first), ""))
                    plan.add(SourceEdit(use.byteRange, text), note: "inlined \(name) at line \(first.start.line)")
                    i += 1
                }
            }
        }
        return plan
    }
}

/// Shuffles runs of keyword arguments whose values are pure (names, literals, attribute reads), except for callees
/// that keep keyword order (`dict`, `OrderedDict`, functions of the file taking `**kwargs`, …).
public struct ReorderKeywordArguments: PythonTransform {
    public let name = "reorder-kwargs"
    public let summary = "shuffle keyword arguments with side-effect-free values (not for order-keeping callees)"
    public init() {}

    static let orderSensitive: Set<String> = ["dict", "OrderedDict", "SimpleNamespace", "namedtuple", "Namespace",
                                              "update", "setdefault", "partial", "make_dataclass", "Enum",
                                              "substitute", "safe_substitute", "format", "format_map", "Struct",
                                              "defaultdict", "Counter", "ChainMap", "fromkeys", "__init__", "super"]

    public func plan(_ file: PyFile, _ context: inout TransformContext) -> TransformPlan {
        var plan = TransformPlan()
        var kwargsFunctions = Set<String>()
        for f in file.functions {
            if let p = f.child(byField: "parameters"), p.namedChildren.contains(where: { $0.type == "dictionary_splat_pattern" }),
               let n = f.child(byField: "name") { kwargsFunctions.insert(n.text) }
        }
        var calls: [Node] = []
        file.tree.root.walk { n in
            if n.type == "call" { calls.append(n) }
            return n.type != "string"
        }
        for call in calls {
            guard let f = call.child(byField: "function"), let args = call.child(byField: "arguments"),
                  args.type == "argument_list" else { continue }
            let callee = f.type == "attribute" ? (f.child(byField: "attribute")?.text ?? "") : f.text
            if Self.orderSensitive.contains(callee) || kwargsFunctions.contains(callee) {
                if args.namedChildren.filter({ $0.type == "keyword_argument" }).count >= 2 { plan.skip("callee may keep keyword order") }
                continue
            }
            if args.namedChildren.contains(where: { $0.type == "comment" }) { continue }
            var run: [Node] = []
            func flush() {
                defer { run = [] }
                guard run.count >= 2 else { return }
                guard run.allSatisfy({ $0.child(byField: "value").map { isPure($0) } ?? false }) else {
                    plan.skip("argument values with possible side effects"); return
                }
                guard context.rng.chance(context.rate) else { return }
                var order = Array(run.indices)
                while order == Array(run.indices) { context.rng.shuffle(&order) }
                for (slot, source) in order.enumerated() where slot != source {
                    plan.add(SourceEdit(run[slot].byteRange, run[source].text))
                }
                plan.notes.append("reordered \(run.count) keyword arguments of \(callee) at line \(call.start.line)")
            }
            for arg in args.namedChildren {
                if arg.type == "keyword_argument" { run.append(arg) } else { flush() }
            }
            flush()
        }
        return plan
    }
}

/// Swaps adjacent independent assignments (`a = …` / `b = …` whose right sides are side-effect free and do not
/// read the other's target) in function bodies and at module level (never in class bodies, whose order is
/// visible, e.g. in enums).
public struct ReorderStatements: PythonTransform {
    public let name = "reorder-statements"
    public let summary = "swap adjacent independent side-effect-free assignments where data flow allows"
    public init() {}

    struct Assign { var node: Node; var targets: Set<String>; var reads: Set<String> }

    func assignment(_ s: Node, _ file: PyFile) -> Assign? {
        guard s.type == "expression_statement", s.namedChildCount == 1, let a = s.namedChild(0), a.type == "assignment",
              a.child(byField: "type") == nil, let left = a.child(byField: "left"), let right = a.child(byField: "right"),
              file.indentation(of: s) != nil, file.endsLine(s), !file.containsComment(s),
              isPure(right, operators: true) else { return nil }
        let targets = boundIdentifiers(inTarget: left)
        guard !targets.isEmpty, left.type == "identifier" || left.type == "pattern_list" || left.type == "tuple_pattern",
              targets.count == max(1, left.namedChildCount) else { return nil }
        return Assign(node: s, targets: Set(targets.map(\.text)), reads: referencedNames(right))
    }

    public func plan(_ file: PyFile, _ context: inout TransformContext) -> TransformPlan {
        var plan = TransformPlan()
        var blocks: [Node] = [file.tree.root]
        file.tree.root.walk { n in
            if n.type == "block", n.ancestor(ofType: ["function_definition", "class_definition"])?.type != "class_definition" {
                blocks.append(n)
            }
            return true
        }
        for block in blocks {
            if functionContext(of: block.namedChildren.first ?? block).inTry { continue }
            let statements = block.namedChildren
            var i = 0
            while i + 1 < statements.count {
                defer { i += 1 }
                guard let a = assignment(statements[i], file), let b = assignment(statements[i + 1], file),
                      b.node.start.line == a.node.end.line + 1 else { continue }  // same paragraph: no blank line between
                guard a.targets.isDisjoint(with: b.targets.union(b.reads)), b.targets.isDisjoint(with: a.reads) else {
                    plan.skip("data dependence"); continue
                }
                guard context.rng.chance(context.rate) else { continue }
                plan.add(SourceEdit(a.node.byteRange, b.node.text))
                plan.add(SourceEdit(b.node.byteRange, a.node.text), note: "swapped statements at line \(a.node.start.line)")
                i += 1
            }
        }
        return plan
    }
}
