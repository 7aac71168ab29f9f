import Foundation
import Syntax

/// Re-lays out code without changing tokens' meaning: splits one-line call arguments over several lines or joins
/// multi-line ones onto one line (inside brackets, where line breaks are free), and switches simple string
/// literals between single and double quotes where the content has neither quote nor backslash.
public struct Reformat: PythonTransform {
    public let name = "reformat"
    public let summary = "line breaks inside call brackets (split or join) and quote style of simple strings"
    public init() {}

    public func plan(_ file: PyFile, _ context: inout TransformContext) -> TransformPlan {
        var plan = TransformPlan()
        var split = 0, joined = 0, quoted = 0
        var argumentLists: [Node] = [], strings: [Node] = []
        file.tree.root.walk { n in
            if n.type == "argument_list" { argumentLists.append(n) }
            if n.type == "string" { strings.append(n); return false }
            return true
        }
        for args in argumentLists {
            if args.ancestor(ofType: ["interpolation", "string"]) != nil { continue }
            let items = args.namedChildren
            guard !items.isEmpty, !items.contains(where: { $0.type == "comment" }) else { continue }
            let startRow = args.start.line, endRow = args.end.line
            guard context.rng.chance(context.rate) else { continue }
            if startRow == endRow {
                // Only the outermost call of a line is split (as a formatter would), never one nested in it.
                guard args.parent?.ancestor(ofType: ["argument_list"]) == nil else { continue }
                guard items.count >= 2, items.allSatisfy({ !$0.text.contains("\n") }),
                      let lineIndent = lineIndentation(file, args.startByte) else { continue }
                let inner = lineIndent + file.indentUnit(near: lineIndent)
                let text = "(\n" + items.map { inner + $0.text }.joined(separator: ",\n") + "\n" + lineIndent + ")"
                plan.add(SourceEdit(args.byteRange, text)); split += 1
            } else {
                guard items.allSatisfy({ !$0.text.contains("\n") }), !containsBackslashNewline(file, args) else {
                    plan.skip("arguments span lines themselves"); continue
                }
                let text = "(" + items.map(\.text).joined(separator: ", ") + ")"
                let column = args.start.column
                guard column + text.count <= 100 else { plan.skip("joined line would be too long"); continue }
                plan.add(SourceEdit(args.byteRange, text)); joined += 1
            }
        }
        // Quotes: the whole file moves towards the style its simple strings use less (consistently, like a
        // formatter's setting), for strings whose content has neither quote nor backslash.
        var simple: [(node: Node, prefix: String, quote: Character, content: Substring)] = []
        for string in strings {
            if string.ancestor(ofType: ["interpolation"]) != nil { continue }
            let text = string.text
            let prefixLength = text.prefix { $0.isLetter }.count
            let prefix = String(text.prefix(prefixLength))
            let body = text.dropFirst(prefixLength)
            guard !prefix.lowercased().contains("f"), body.count >= 2, let q = body.first, q == "'" || q == "\"",
                  !body.hasPrefix(String(repeating: q, count: 3)) || body.count == 2 else { continue }
            let content = body.dropFirst().dropLast()
            guard !content.contains("'"), !content.contains("\""), !content.contains("\\"), !content.contains("\n")
            else { continue }
            simple.append((string, prefix, q, content))
        }
        let singles = simple.filter { $0.quote == "'" }.count
        let target: Character = singles * 2 >= simple.count ? "\"" : "'"
        let requote = context.rng.chance(context.rate)  // all or none: one style per file
        for s in simple where requote && s.quote != target {
            plan.add(SourceEdit(s.node.byteRange, s.prefix + String(target) + s.content + String(target)))
            quoted += 1
        }
        if split > 0 { plan.notes.append("split \(split) argument list(s) over lines") }
        if joined > 0 { plan.notes.append("joined \(joined) argument list(s) onto one line") }
        if quoted > 0 { plan.notes.append("switched the quotes of \(quoted) string(s)") }
        return plan
    }

    /// The indentation of the line holding `offset`.
    func lineIndentation(_ file: PyFile, _ offset: Int) -> String? {
        let row = file.source.lineIndex(ofByte: offset)
        let start = file.source.lineStarts[row]
        var end = start
        while end < file.bytes.count, file.bytes[end] == 0x20 || file.bytes[end] == 0x09 { end += 1 }
        return String(decoding: file.bytes[start..<end], as: UTF8.self)
    }

    func containsBackslashNewline(_ file: PyFile, _ node: Node) -> Bool {
        let bytes = file.bytes
        for i in node.startByte..<max(node.startByte, node.endByte - 1) where bytes[i] == UInt8(ascii: "\\") && bytes[i + 1] == 0x0A {
            return true
        }
        return false
    }
}

/// `if c: A else: B` becomes `if not c: B else: A` (no `elif`, no comments inside, both branches indented alike).
public struct InvertIf: PythonTransform {
    public let name = "invert-if"
    public let summary = "swap the branches of if/else and negate the condition"
    public init() {}

    public func plan(_ file: PyFile, _ context: inout TransformContext) -> TransformPlan {
        var plan = TransformPlan()
        var statements: [Node] = []
        file.tree.root.walk { n in
            if n.type == "if_statement" { statements.append(n) }
            return true
        }
        for statement in statements {
            let alternatives = statement.children.filter { $0.type == "elif_clause" || $0.type == "else_clause" }
            guard alternatives.count == 1, alternatives[0].type == "else_clause",
                  let condition = statement.child(byField: "condition"),
                  let consequence = statement.child(byField: "consequence"),
                  let alternative = alternatives[0].child(byField: "body") else { continue }
            if file.containsComment(statement) { plan.skip("comment inside"); continue }
            let a = file.indentation(of: consequence), b = file.indentation(of: alternative)
            guard a == b else { plan.skip("branches laid out differently"); continue }
            guard context.rng.chance(context.rate) else { continue }
            plan.add(SourceEdit(condition.byteRange, Self.negate(condition)))
            plan.add(SourceEdit(consequence.byteRange, alternative.text))
            plan.add(SourceEdit(alternative.byteRange, consequence.text))
            plan.notes.append("inverted if at line \(statement.start.line)")
        }
        return plan
    }

    /// The negation of a condition, as text that means `not (condition)` for truthiness.
    static func negate(_ condition: Node) -> String {
        switch condition.type {
        case "not_operator":
            if let arg = condition.child(byField: "argument") {
                return arg.type == "named_expression" || arg.type == "lambda" ? "(\(arg.text))" : arg.text
            }
        case "comparison_operator":
            let ops = condition.children.filter { !$0.isNamed }
            if ops.count == 1 {
                let flipped = ["is": "is not", "is not": "is", "in": "not in", "not in": "in"][ops[0].type]
                if let flipped {
                    let t = condition.text
                    let lo = ops[0].startByte - condition.startByte, hi = ops[0].endByte - condition.startByte
                    let bytes = Array(t.utf8)
                    return String(decoding: bytes[..<lo], as: UTF8.self) + flipped + String(decoding: bytes[hi...], as: UTF8.self)
                }
            }
            return "not (\(condition.text))"
        case "identifier", "call", "attribute", "subscript", "parenthesized_expression", "integer", "string",
             "true", "false", "none", "list", "tuple", "dictionary", "set":
            return "not \(condition.text)"
        default:
            break
        }
        return "not (\(condition.text))"
    }
}
