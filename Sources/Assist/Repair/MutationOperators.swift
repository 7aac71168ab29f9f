import Foundation
import Syntax

/// Candidate patches at a suspicious line of a Python file, from mutation operators over its tree-sitter
/// nodes: comparison, arithmetic, boolean and augmented-assignment operator swaps; off-by-one on integers,
/// ranges, indices and slices; negated conditions; swapped arguments and operands; another variable of the
/// function in place of one; a missing return; None/empty guards; another index; a call to the sibling
/// function (`min`/`max`, …); removing the statement.
struct MutationOperators {
    let tree: Tree
    var source: String { tree.source.string }
    /// The one-argument functions and argument-less methods the file calls (its own vocabulary of wraps).
    let wrappers: (functions: [String], methods: [String])

    init(tree: Tree) {
        self.tree = tree
        self.wrappers = Self.wrappers(in: tree)
    }

    static let comparisons: [String: [String]] = [
        "<": ["<=", ">", ">="], "<=": ["<", ">=", ">"], ">": [">=", "<", "<="], ">=": [">", "<=", "<"],
        "==": ["!=", "is"], "!=": ["==", "is not"], "in": ["not in"], "not in": ["in"], "is": ["is not", "=="],
        "is not": ["is", "!="],
    ]
    static let arithmetic: [String: [String]] = [
        "+": ["-", "*"], "-": ["+"], "*": ["/", "+", "**"], "/": ["//", "*"], "//": ["/", "%"], "%": ["//"],
        "**": ["*"], "<<": [">>"], ">>": ["<<"], "&": ["|"], "|": ["&"],
    ]
    static let augmented: [String: [String]] = [
        "+=": ["-=", "="], "-=": ["+=", "="], "*=": ["/=", "+="], "/=": ["*=", "//="], "//=": ["/="],
    ]
    static let siblingFunctions: [String: [String]] = [
        "min": ["max"], "max": ["min"], "any": ["all"], "all": ["any"], "floor": ["ceil"], "ceil": ["floor"],
        "lower": ["upper"], "upper": ["lower"], "startswith": ["endswith"], "endswith": ["startswith"],
        "lstrip": ["rstrip", "strip"], "rstrip": ["lstrip", "strip"], "append": ["extend", "insert"],
        "extend": ["append"], "pop": ["popleft"], "sorted": ["reversed"], "find": ["rfind", "index"],
        "remove": ["discard"], "keys": ["values", "items"], "values": ["keys", "items"],
    ]

    /// Patches at `line` (1-based), each tagged with `score`.
    func patches(at line: Int, score: Double) -> [Patch] {
        var out: [Patch] = []
        let text = tree.source
        func add(_ range: Range<Int>, _ replacement: String, _ op: String, _ why: String) {
            let old = text.text(range)
            guard old != replacement else { return }
            let new = TextEdit(startByte: range.lowerBound, endByte: range.upperBound, replacement: replacement)
                .apply(to: source)
            var patch = Patch(source: new, origin: .mutation, operatorName: op, rationale: why + " (line \(line))",
                              line: line, cost: Self.editCost(old, replacement))
            patch.suspiciousness = score
            out.append(patch)
        }
        guard let statement = statement(at: line) else { return [] }
        let function = statement.ancestor(ofType: ["function_definition"])
        let variables = function.map(localVariables) ?? []
        statement.walk { node in
            guard node.start.line == line || (node.start.line < line && node.end.line >= line) else { return false }
            // Only the header of a compound statement belongs to its line; its body has lines of its own.
            if node != statement, ["block"].contains(node.type) { return false }
            switch node.type {
            case "comparison_operator":
                for child in node.children where !child.isNamed {
                    let op = operatorText(child, in: node)
                    for alternative in Self.comparisons[op.text] ?? [] {
                        add(op.range, alternative, "comparison", "compare with '\(alternative)' instead of '\(op.text)'")
                    }
                }
                swapOperands(node, add)
                for operand in node.namedChildren where operand.type != "integer" {
                    offByOne(operand, add, what: "compared value")
                }
            case "binary_operator":
                if let op = node.child(byField: "operator") {
                    for alternative in Self.arithmetic[op.text] ?? [] {
                        add(op.byteRange, alternative, "arithmetic", "use '\(alternative)' instead of '\(op.text)'")
                    }
                    if ["-", "/", "//", "%", "**"].contains(op.text) { swapOperands(node, add) }
                    // `x + 1` / `x - 1` → `x`: an offset that should not be there.
                    if ["+", "-"].contains(op.text), let left = node.child(byField: "left"),
                       let right = node.child(byField: "right"), right.type == "integer", right.text == "1" {
                        add(node.byteRange, left.text, "off-by-one", "drop the '\(op.text) 1' from '\(node.text)'")
                    }
                    if ["*", "//", "%"].contains(op.text) {
                        for operand in node.namedChildren where operand.type == "identifier" {
                            offByOne(operand, add, what: "operand")
                        }
                    }
                }
            case "assignment":
                // `x = e` → `x += e` / `x -= e`: an update written as a reset.
                if let left = node.child(byField: "left"), let right = node.child(byField: "right"),
                   ["identifier", "attribute", "subscript"].contains(left.type),
                   let equals = node.children.first(where: { !$0.isNamed && $0.text == "=" }),
                   equals.startByte >= left.endByte, equals.endByte <= right.startByte {
                    for op in ["+=", "-="] {
                        add(equals.byteRange, op, "arithmetic", "update with '\(op)' instead of assigning")
                    }
                }
            case "augmented_assignment":
                if let op = node.child(byField: "operator") {
                    for alternative in Self.augmented[op.text] ?? [] {
                        add(op.byteRange, alternative, "arithmetic", "use '\(alternative)' instead of '\(op.text)'")
                    }
                }
            case "boolean_operator":
                if let op = node.child(byField: "operator") {
                    let alternative = op.text == "and" ? "or" : "and"
                    add(op.byteRange, alternative, "boolean", "use '\(alternative)' instead of '\(op.text)'")
                    for (kept, dropped) in [(node.child(byField: "left"), node.child(byField: "right")),
                                            (node.child(byField: "right"), node.child(byField: "left"))] {
                        if let kept, let dropped {
                            add(node.byteRange, kept.text, "drop-clause", "drop the clause '\(dropped.text)'")
                        }
                    }
                }
            case "not_operator":
                if let argument = node.child(byField: "argument") {
                    add(node.byteRange, argument.text, "negation", "drop the 'not' before '\(argument.text)'")
                }
            case "if_statement", "elif_clause", "while_statement":
                if let condition = node.child(byField: "condition"), condition.type != "not_operator" {
                    let wrapped = ["boolean_operator", "conditional_expression", "named_expression"]
                        .contains(condition.type) ? "not (\(condition.text))" : "not \(condition.text)"
                    add(condition.byteRange, wrapped, "negation", "negate the condition '\(condition.text)'")
                }
            case "integer":
                if let value = Int(node.text) {
                    let inIndex = node.parent?.type == "subscript" || node.parent?.type == "slice"
                    add(node.byteRange, String(value + 1), "off-by-one", "use \(value + 1) instead of \(value)")
                    if value > 0 { add(node.byteRange, String(value - 1), "off-by-one", "use \(value - 1) instead of \(value)") }
                    if inIndex && value == 0 { add(node.byteRange, "-1", "index", "index the last element instead of the first") }
                }
            case "unary_operator":
                if node.text == "-1", node.parent?.type == "subscript" {
                    add(node.byteRange, "0", "index", "index the first element instead of the last")
                }
                if let operand = node.child(byField: "argument"), node.text.hasPrefix("-"), operand.type != "integer" {
                    add(node.byteRange, operand.text, "sign", "drop the minus of '\(node.text)'")
                }
            case "tuple", "expression_list", "list":
                if node.parent?.type != "assignment" || node.parent?.child(byField: "left") != node {
                    let items = node.namedChildren.filter { $0.type != "comment" }
                    if items.count >= 2 && items.count <= 4 {
                        for i in 0..<(items.count - 1) {
                            let a = items[i], b = items[i + 1]
                            let between = tree.source.text(a.endByte..<b.startByte)
                            add(a.startByte..<b.endByte, b.text + between + a.text, "swap-elements",
                                "swap '\(a.text)' and '\(b.text)'")
                        }
                    }
                }
            case "true": add(node.byteRange, "False", "constant", "use False instead of True")
            case "false": add(node.byteRange, "True", "constant", "use True instead of False")
            case "call":
                callMutations(node, add)
                unwrap(node, add)
                if node.parent?.type != "call" { wrap(node, add) }
            case "subscript":
                wrap(node, add)
                for index in node.children where node.fieldName(ofChild: indexOf(index, in: node)) == "subscript" {
                    offByOne(index, add, what: "index")
                }
            case "slice":
                for bound in node.namedChildren { offByOne(bound, add, what: "slice bound") }
            case "identifier":
                wrongVariable(node, variables: variables, add)
                if isReference(node) {
                    if node.parent?.type == "argument_list", variables.contains(node.text) {
                        add(node.byteRange, "-" + node.text, "sign", "negate the argument '\(node.text)'")
                    }
                    wrap(node, add)
                }
            case "return_statement":
                if let value = node.namedChild(0), value.type != "identifier", function != nil {
                    for name in variables.prefix(8) {
                        add(value.byteRange, name, "return-variable", "return '\(name)' instead of '\(value.text)'")
                    }
                }
                if node.namedChildCount == 0, let function {
                    for name in variables.prefix(6) {
                        add(node.byteRange, "return \(name)", "missing-return", "return '\(name)' instead of nothing")
                    }
                    _ = function
                }
            case "expression_statement":
                if node.parent?.type == "block", let function, node.parent == function.child(byField: "body"),
                   node.nextNamedSibling == nil, let expression = node.namedChild(0),
                   !["assignment", "augmented_assignment", "call", "string", "yield", "await"].contains(expression.type) {
                    add(node.byteRange, "return " + node.text, "missing-return", "return '\(node.text)'")
                }
            default: break
            }
            return true
        }
        if let function { out += functionLevel(function, statement: statement, line: line, score: score, variables: variables) }
        out += moves(statement, line: line, score: score)
        // Remove the statement (last resort: costs double its length).
        if statement.type != "function_definition", statement.type != "return_statement",
           let lineRange = lineRange(of: statement) {
            var patch = Patch(source: TextEdit(startByte: lineRange.lowerBound, endByte: lineRange.upperBound,
                                               replacement: "").apply(to: source),
                              origin: .mutation, operatorName: "remove-statement",
                              rationale: "remove the statement '\(firstLine(statement.text))' (line \(line))", line: line,
                              cost: 2 * statement.text.count)
            patch.suspiciousness = score
            if ["expression_statement", "break_statement", "continue_statement"].contains(statement.type)
                || statement.type.hasSuffix("assignment") { out.append(patch) }
        }
        return out
    }

    // MARK: Operators

    private func swapOperands(_ node: Node, _ add: (Range<Int>, String, String, String) -> Void) {
        let named = node.namedChildren
        guard named.count == 2 else { return }
        let a = named[0], b = named[1]
        let between = tree.source.text(a.endByte..<b.startByte)
        add(node.byteRange, b.text + between + a.text, "swap-operands", "swap '\(a.text)' and '\(b.text)'")
    }

    private func callMutations(_ node: Node, _ add: (Range<Int>, String, String, String) -> Void) {
        guard let function = node.child(byField: "function"), let arguments = node.child(byField: "arguments") else { return }
        let name = function.type == "attribute" ? function.child(byField: "attribute") : function
        if let name, name.type == "identifier" {
            for alternative in Self.siblingFunctions[name.text] ?? [] {
                add(name.byteRange, alternative, "sibling-call", "call '\(alternative)' instead of '\(name.text)'")
            }
        }
        let positional = arguments.namedChildren.filter { !["keyword_argument", "comment"].contains($0.type)
            && !$0.type.contains("splat") }
        if positional.count >= 2 {
            for i in 0..<(positional.count - 1) {
                let a = positional[i], b = positional[i + 1]
                let between = tree.source.text(a.endByte..<b.startByte)
                add(a.startByte..<b.endByte, b.text + between + a.text, "swap-arguments",
                    "swap the arguments '\(a.text)' and '\(b.text)' of \(function.text)()")
            }
        }
        if function.text == "range" || function.text == "len" || function.text == "enumerate" {
            for argument in positional where argument.type != "integer" {
                offByOne(argument, add, what: "\(function.text)() argument")
            }
        }
        if function.text == "len", node.parent?.type != "binary_operator" {
            add(node.byteRange, node.text + " - 1", "off-by-one", "use '\(node.text) - 1'")
        }
    }

    /// `e` → `e + 1`, `e - 1`; `e ± 1` → `e` is the binary operator's rule. Parenthesized where the
    /// surrounding operator binds tighter (`[1] * i` → `[1] * (i + 1)`).
    private func offByOne(_ node: Node, _ add: (Range<Int>, String, String, String) -> Void, what: String) {
        guard node.isNamed, node.type != "integer", node.type != "comment" else { return }
        if node.type == "binary_operator", node.child(byField: "right")?.text == "1" { return }
        // `a - b` shifted is `a - b + 1` (same precedence, left to right); other compound values get parentheses.
        let additive = node.type == "binary_operator" && ["+", "-"].contains(node.child(byField: "operator")?.text ?? "")
        let text = ["identifier", "call", "attribute", "subscript", "parenthesized_expression"].contains(node.type)
            || additive ? node.text : "(\(node.text))"
        var tight = false
        if let parent = node.parent {
            if parent.type == "binary_operator", let op = parent.child(byField: "operator") {
                tight = !["+", "-"].contains(op.text) || (op.text == "-" && parent.child(byField: "right") == node)
            }
            if ["unary_operator", "attribute", "await"].contains(parent.type) { tight = true }
            if parent.type == "subscript", parent.child(byField: "value") == node { tight = true }
        }
        for sign in ["+", "-"] {
            let shifted = tight || (additive && text == node.text && node.parent?.type == "binary_operator")
                ? "(\(text) \(sign) 1)" : "\(text) \(sign) 1"
            add(node.byteRange, shifted, "off-by-one",
                "\(sign == "+" ? "add 1 to" : "subtract 1 from") the \(what) '\(node.text)'")
        }
    }

    /// An identifier that is read: not a callee, attribute name, keyword name, parameter or assignment target.
    private func isReference(_ node: Node) -> Bool {
        guard let parent = node.parent else { return false }
        if parent.type == "call" && parent.child(byField: "function") == node { return false }
        if parent.type == "attribute" { return false }
        if parent.type == "keyword_argument" && parent.child(byField: "name") == node { return false }
        if ["function_definition", "parameters", "default_parameter", "typed_parameter", "class_definition",
            "pattern_list", "for_statement", "for_in_clause", "import_from_statement", "dotted_name",
            "aliased_import", "global_statement", "nonlocal_statement", "lambda_parameters"].contains(parent.type) {
            if parent.type == "for_statement" || parent.type == "for_in_clause" {
                return parent.child(byField: "right") == node
            }
            return false
        }
        if parent.type == "assignment" || parent.type == "augmented_assignment" {
            return parent.child(byField: "left") != node
        }
        return true
    }

    /// `f(x)` → `x` for a call of a named function with one positional argument; `x.m()` → `x`.
    private func unwrap(_ node: Node, _ add: (Range<Int>, String, String, String) -> Void) {
        guard let function = node.child(byField: "function"), let arguments = node.child(byField: "arguments"),
              arguments.type == "argument_list" else { return }
        let items = arguments.namedChildren.filter { $0.type != "comment" }
        if function.type == "identifier", items.count == 1, items[0].type != "keyword_argument",
           !items[0].type.contains("splat"), function.text.first?.isUppercase == false {
            add(node.byteRange, items[0].text, "unwrap-call", "use '\(items[0].text)' without \(function.text)()")
        }
        if function.type == "attribute", items.isEmpty, let object = function.child(byField: "object") {
            add(node.byteRange, object.text, "unwrap-call",
                "use '\(object.text)' without .\(function.child(byField: "attribute")?.text ?? "")()")
        }
    }

    /// `e` → `f(e)` for the one-argument functions the file calls, and `e.m()` for its argument-less methods.
    private func wrap(_ node: Node, _ add: (Range<Int>, String, String, String) -> Void) {
        guard let parent = node.parent, !["attribute", "keyword_argument"].contains(parent.type) else { return }
        if parent.type == "call", parent.child(byField: "function") == node { return }
        if parent.type == "assignment" || parent.type == "augmented_assignment",
           parent.child(byField: "left") == node { return }
        let enclosing = parent.type == "argument_list" ? parent.parent?.child(byField: "function")?.text : nil
        for name in wrappers.functions where name != enclosing {
            add(node.byteRange, "\(name)(\(node.text))", "wrap-call", "call \(name)() on '\(node.text)'")
        }
        if node.type == "identifier" || node.type == "subscript" {
            for name in wrappers.methods {
                add(node.byteRange, "\(node.text).\(name)()", "wrap-call", "call .\(name)() on '\(node.text)'")
            }
        }
    }

    static func wrappers(in tree: Tree) -> (functions: [String], methods: [String]) {
        var functions: [String] = [], methods: [String] = []
        tree.root.walk { node in
            // The file's own one-parameter functions (a recursive call the bug dropped is called nowhere else).
            if node.type == "function_definition", let name = node.child(byField: "name")?.text,
               let parameters = node.child(byField: "parameters"),
               parameters.namedChildren.filter({ !["self", "cls"].contains($0.text) && $0.type != "comment" }).count == 1,
               node.ancestor(ofType: ["class_definition"]) == nil, !functions.contains(name) {
                functions.append(name)
            }
            guard node.type == "call", let function = node.child(byField: "function"),
                  let arguments = node.child(byField: "arguments"), arguments.type == "argument_list" else { return true }
            let items = arguments.namedChildren.filter { $0.type != "comment" }
            if function.type == "identifier", items.count == 1, items[0].type != "keyword_argument",
               function.text.first?.isUppercase == false, !["print", "isinstance", "iter", "next", "range", "super",
                                                             "id", "type", "hash", "repr"].contains(function.text),
               !functions.contains(function.text) {
                functions.append(function.text)
            }
            if function.type == "attribute", items.isEmpty, let name = function.child(byField: "attribute")?.text,
               !["pop", "popleft", "clear", "copy", "close", "items", "keys", "values", "split", "reverse", "sort"]
                .contains(name), !methods.contains(name) {
                methods.append(name)
            }
            return true
        }
        return (Array(functions.prefix(8)), Array(methods.prefix(4)))
    }

    /// The statement moved one place up or down in its block (an `append` before or after an update).
    private func moves(_ statement: Node, line: Int, score: Double) -> [Patch] {
        guard statement.parent?.type == "block", statement.start.line == statement.end.line,
              let range = lineRange(of: statement) else { return [] }
        var out: [Patch] = []
        for neighbour in [statement.previousNamedSibling, statement.nextNamedSibling] {
            guard let neighbour, neighbour.type != "comment", neighbour.start.line == neighbour.end.line,
                  let other = lineRange(of: neighbour) else { continue }
            let first = min(range.lowerBound, other.lowerBound), second = max(range.lowerBound, other.lowerBound)
            let a = first == range.lowerBound ? range : other, b = first == range.lowerBound ? other : range
            guard a.upperBound == b.lowerBound else { continue }
            let swapped = tree.source.text(b) + tree.source.text(a)
            let new = TextEdit(startByte: first, endByte: b.upperBound, replacement: swapped).apply(to: source)
            _ = second
            var patch = Patch(source: new, origin: .mutation, operatorName: "move-statement",
                              rationale: "move '\(firstLine(statement.text))' \(neighbour.startByte < statement.startByte ? "up" : "down") (line \(line))",
                              line: line, cost: statement.text.count + 1)
            patch.suspiciousness = score
            out.append(patch)
        }
        return out
    }

    private func wrongVariable(_ node: Node, variables: [String], _ add: (Range<Int>, String, String, String) -> Void) {
        guard variables.contains(node.text), let parent = node.parent else { return }
        // References only: not a callee, an attribute name, a keyword argument's name, or a definition's name.
        if parent.type == "call" && parent.child(byField: "function") == node { return }
        if parent.type == "attribute" && parent.child(byField: "attribute") == node { return }
        if parent.type == "keyword_argument" && parent.child(byField: "name") == node { return }
        if ["function_definition", "parameters", "default_parameter", "typed_parameter"].contains(parent.type) { return }
        if parent.type == "assignment" && parent.child(byField: "left") == node { return }
        for other in variables where other != node.text {
            add(node.byteRange, other, "wrong-variable", "use '\(other)' instead of '\(node.text)'")
        }
    }

    /// Guards and returns added to the function: `if p is None: return None`, `if not p: return …` for the
    /// parameters the line uses, and `return v` at the end of a function that never returns a value.
    private func functionLevel(_ function: Node, statement: Node, line: Int, score: Double,
                               variables: [String]) -> [Patch] {
        guard let body = function.child(byField: "body"), let first = body.namedChild(0) else { return [] }
        var out: [Patch] = []
        let indent = String(repeating: " ", count: first.start.column - 1)
        let parameters = function.child(byField: "parameters").map(parameterNames) ?? []
        var used: Set<String> = []
        statement.walk { node in
            if node.type == "identifier", node.start.line == line { used.insert(node.text) }
            return node.start.line <= line
        }
        // After a docstring, if any.
        var anchor = first
        if first.type == "expression_statement", first.namedChild(0)?.type == "string", let next = first.nextNamedSibling {
            anchor = next
        }
        let insertAt = tree.source.lineStarts[anchor.start.line - 1]
        for parameter in parameters where used.contains(parameter) && parameter != "self" {
            let guards = [("\(parameter) is None", "None"), ("not \(parameter)", "None"), ("not \(parameter)", "0"),
                          ("not \(parameter)", "[]"), ("not \(parameter)", "\"\"")]
            for (condition, value) in guards {
                let text = "\(indent)if \(condition):\n\(indent)    return \(value)\n"
                var patch = Patch(source: TextEdit(startByte: insertAt, endByte: insertAt, replacement: text).apply(to: source),
                                  origin: .mutation, operatorName: "guard",
                                  rationale: "return \(value) early when \(condition) (line \(anchor.start.line))",
                                  line: anchor.start.line, cost: text.trimmingCharacters(in: .whitespaces).count)
                patch.suspiciousness = score
                out.append(patch)
            }
        }
        var returnsValue = false
        function.walk { node in
            if node.type == "return_statement", node.namedChildCount > 0 { returnsValue = true }
            return node == function || !["function_definition", "lambda"].contains(node.type)
        }
        let endsInReturn = ["return_statement", "raise_statement"].contains(body.namedChildren.last?.type ?? "")
        if !endsInReturn, let last = body.namedChildren.last {
            let end = lineRange(of: last)?.upperBound ?? body.endByte
            // When some branch already returns a value, the variables assigned last are the likely results.
            let names = returnsValue ? Array(variables.reversed()) : variables
            for name in names.prefix(6) {
                let text = "\(indent)return \(name)\n"
                let prefix = end > 0 && Array(source.utf8)[end - 1] != 0x0A ? "\n" : ""
                var patch = Patch(source: TextEdit(startByte: end, endByte: end, replacement: prefix + text).apply(to: source),
                                  origin: .mutation, operatorName: "missing-return",
                                  rationale: "return '\(name)' at the end of \(function.child(byField: "name")?.text ?? "the function")()",
                                  line: last.end.line + 1, cost: text.trimmingCharacters(in: .whitespaces).count)
                patch.suspiciousness = score
                out.append(patch)
            }
        }
        return out
    }

    // MARK: Helpers

    /// Edit size counting only what changes: characters inserted plus twice those removed, outside their longest
    /// common subsequence (`x` → `f(x)` costs 3, `a - b` → `(a - b) + 1` costs 6), like `TextEdit.cost` otherwise.
    static func editCost(_ old: String, _ new: String) -> Int {
        let a = Array(old), b = Array(new)
        guard a.count <= 160, b.count <= 160 else { return TextEdit.cost(replacing: old, with: new) }
        var previous = [Int](repeating: 0, count: b.count + 1), current = previous
        for i in 1...max(1, a.count) where !a.isEmpty {
            for j in 1...max(1, b.count) where !b.isEmpty {
                current[j] = a[i - 1] == b[j - 1] ? previous[j - 1] + 1 : max(previous[j], current[j - 1])
            }
            swap(&previous, &current)
        }
        let common = a.isEmpty || b.isEmpty ? 0 : previous[b.count]
        let removed = a.count - common, inserted = b.count - common
        if removed + inserted == 0 { return 0 }
        return max(1, 2 * removed + inserted)
    }

    /// The innermost statement starting at, or spanning, `line`.
    func statement(at line: Int) -> Node? {
        var best: Node?
        tree.root.walk { node in
            guard node.start.line <= line, node.end.line >= line else { return false }
            if node.type.hasSuffix("_statement") || node.type == "function_definition" || node.type == "elif_clause"
                || node.type == "decorated_definition" {
                best = node
            }
            return true
        }
        if let found = best, found.type == "if_statement" || found.type == "while_statement" || found.type == "for_statement" {
            // A line inside an else/elif header of an if: the clause.
            var clause: Node?
            found.walk { node in
                if node.type == "elif_clause", node.start.line == line { clause = node }
                return node == found || node.type.hasSuffix("_clause")
            }
            return clause ?? found
        }
        return best
    }

    /// Parameters, then the names the function assigns or loops over, in order of appearance.
    func localVariables(_ function: Node) -> [String] {
        var names = function.child(byField: "parameters").map(parameterNames) ?? []
        function.walk { node in
            if node != function, ["function_definition", "lambda", "class_definition"].contains(node.type) { return false }
            var targets: [Node] = []
            if node.type == "assignment" || node.type == "augmented_assignment", let left = node.child(byField: "left") {
                targets.append(left)
            }
            if node.type == "for_statement" || node.type == "for_in_clause", let left = node.child(byField: "left") {
                targets.append(left)
            }
            for target in targets {
                target.walk { part in
                    if part.type == "identifier", part.parent?.type != "attribute" || part.parent?.child(byField: "object") == part,
                       part.parent?.type != "subscript", !names.contains(part.text) {
                        names.append(part.text)
                    }
                    return part.type != "attribute" && part.type != "subscript"
                }
            }
            return true
        }
        return names.filter { $0 != "self" && $0 != "cls" }
    }

    private func parameterNames(_ parameters: Node) -> [String] {
        parameters.namedChildren.compactMap { parameter in
            if parameter.type == "identifier" { return parameter.text }
            if let name = parameter.child(byField: "name"), name.type == "identifier" { return name.text }
            return parameter.namedChild(0).flatMap { $0.type == "identifier" ? $0.text : nil }
        }
    }

    /// The operator token at `child` of a comparison; `not in` and `is not` are two tokens in the tree.
    private func operatorText(_ child: Node, in node: Node) -> (text: String, range: Range<Int>) {
        if child.type == "not", let next = child.nextSibling, next.type == "in" {
            return ("not in", child.startByte..<next.endByte)
        }
        if child.type == "is", let next = child.nextSibling, next.type == "not" {
            return ("is not", child.startByte..<next.endByte)
        }
        return (child.type == "not in" || child.type == "is not" ? child.type : child.text, child.byteRange)
    }

    private func indexOf(_ child: Node, in parent: Node) -> Int {
        parent.children.firstIndex(of: child) ?? 0
    }

    /// The bytes of the statement's whole lines (from the line start through its newline).
    private func lineRange(of node: Node) -> Range<Int>? {
        let text = tree.source
        let start = text.lineStarts[node.start.line - 1]
        let endLine = node.end.line
        let end = endLine < text.lineStarts.count ? text.lineStarts[endLine] : text.count
        return start..<end
    }

    private func firstLine(_ text: String) -> String { String(text.prefix { $0 != "\n" }) }
}
