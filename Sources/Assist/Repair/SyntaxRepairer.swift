import Foundation
import Syntax

/// Edits that make a Python file with syntax errors parse, found around the errors tree-sitter and CPython
/// report: the MISSING tokens tree-sitter assumed, a colon after a compound statement's header, closing brackets,
/// indentation changes, removal of a stray token, a missing comma or quote, `=` for `==`, a `pass` body.
///
/// Each candidate must parse without ERROR or MISSING nodes and compile with CPython (tree-sitter's grammar is
/// more lenient). When no single edit suffices, the best partial edits (fewer errors, or an error further on)
/// are extended for a few more rounds.
/// Quick fixes for code that does not parse, without tests: the smallest edits after which it parses (and,
/// for Python, compiles in CPython), best first. What editors offer as code actions.
public enum SyntaxQuickFixes {
    public static func fixes(for source: String, language: Language, limit: Int = 3) throws -> [Patch] {
        let compile: ([String]) -> [SyntaxRepairer.CompileError?]? = language.name == "python"
            ? SyntaxRepairer.pythonCompiler(PythonRun(sandbox: SandboxWorker.Configuration()))
            : { sources in sources.map { _ in nil } }
        let parser = try Parser(language: language)
        return Array(SyntaxRepairer(parser: parser, compile: compile).repairs(of: source, limit: limit).prefix(limit))
    }
}

struct SyntaxRepairer {
    let parser: Parser
    /// Compiles sources with CPython; nil entries compile. Returns nil when Python cannot be run (tree-sitter's
    /// verdict stands alone then).
    let compile: ([String]) -> [CompileError?]?
    var rounds = 3
    var beam = 3

    struct CompileError: Decodable, Hashable {
        var line: Int
        var message: String
    }

    /// Fixes for `source`, smallest first, at most `limit`.
    /// CPython's verdict on each source (nil: compiles), through runtime/python/repair_compile.py; nil when
    /// Python could not be run.
    static func pythonCompiler(_ python: PythonRun) -> ([String]) -> [CompileError?]? {
        { sources in
            guard !sources.isEmpty else { return [] }
            guard let input = try? JSONEncoder().encode(sources),
                  let (status, output) = try? python.run(script: "repair_compile.py", arguments: [], input: input, timeout: 60),
                  status == 0 else { return nil }
            return try? JSONDecoder().decode([CompileError?].self, from: output)
        }
    }

    func repairs(of source: String, limit: Int) -> [Patch] {
        var frontier = [Patch(source: source, origin: .syntax, operatorName: "", rationale: "", line: 0, cost: 0)]
        var found: [Patch] = []
        var seen: Set<String> = [source]
        for round in 0..<rounds {
            var next: [(patch: Patch, badness: Int)] = []
            for base in frontier {
                let errorLines = self.errorLines(base.source)
                let candidates = edits(of: base.source, near: errorLines).filter { seen.insert($0.source).inserted }
                let parsed = candidates.map { ($0, treeErrors($0.source)) }
                let clean = parsed.filter { $0.1 == 0 }.map(\.0)
                let verdicts = compile(clean.map(\.source))
                for (i, candidate) in clean.enumerated() {
                    if let error = verdicts?[i] {
                        next.append((combine(base, candidate), 1000 - error.line))
                    } else {
                        found.append(combine(base, candidate))
                    }
                }
                // Progress: where tree-sitter's recovery fails (CPython's first error may stay put while an
                // edit moves the real problem on, as when a bracket closed too late becomes a missing comma).
                let firstError = recoveredLines(base.source).min() ?? 0
                for (candidate, errors) in parsed where errors > 0 {
                    let current = treeErrors(base.source)
                    let laterError = (recoveredLines(candidate.source).min() ?? 0) > firstError
                    if errors < current || (errors == current && laterError) {
                        next.append((combine(base, candidate), 10 * errors))
                    }
                }
            }
            if found.count >= limit || round == rounds - 1 { break }
            frontier = next.sorted { ($0.badness, $0.patch.cost) < ($1.badness, $1.patch.cost) }.prefix(beam).map(\.patch)
            if frontier.isEmpty { break }
        }
        let firstLine = errorLines(source).min() ?? 0
        return found.sorted {
            ($0.cost, abs($0.line - firstLine), $0.line) < ($1.cost, abs($1.line - firstLine), $1.line)
        }
        .prefix(limit).map { $0 }
    }

    private func combine(_ base: Patch, _ step: Patch) -> Patch {
        guard !base.rationale.isEmpty else { return step }
        var patch = step
        patch.cost += base.cost
        patch.rationale = base.rationale + "; " + step.rationale
        patch.line = base.line
        return patch
    }

    private func treeErrors(_ source: String) -> Int {
        guard let tree = try? parser.parse(source) else { return .max }
        return tree.hasErrors ? max(1, tree.recoveredSyntaxErrors(limit: 20).count) : 0
    }

    private func recoveredLines(_ source: String) -> [Int] {
        guard let tree = try? parser.parse(source) else { return [] }
        return (tree.recoveredSyntaxErrors(limit: 5) + tree.treeErrors(limit: 5)).map(\.start.line)
    }

    /// 1-based lines where tree-sitter or CPython report an error.
    func errorLines(_ source: String) -> [Int] {
        var lines: Set<Int> = []
        if let tree = try? parser.parse(source) {
            // Where CPython would report it and where tree-sitter's parser failed (after an unclosed bracket
            // the two differ, and the fix may sit at either).
            for error in tree.syntaxErrors(limit: 5) + tree.treeErrors(limit: 5) { lines.insert(error.start.line) }
            if lines.isEmpty, let verdict = compile([source])?.first, let error = verdict { lines.insert(max(1, error.line)) }
        }
        return lines.sorted()
    }

    // MARK: Candidate edits

    static let headerKeywords: Set<String> = ["if", "elif", "else", "for", "while", "def", "class", "try", "except",
                                              "finally", "with", "async", "match", "case", "lambda"]

    private func edits(of source: String, near errorLines: [Int]) -> [Patch] {
        let lines = Self.lines(source)
        var patches: [Patch] = []
        func replaceLine(_ index: Int, with text: String, op: String, why: String, cost: Int? = nil) {
            var copy = lines
            copy[index] = text
            let new = copy.joined()
            guard new != source else { return }
            patches.append(Patch(source: new, origin: .syntax, operatorName: op, rationale: why, line: index + 1,
                                 cost: cost ?? TextEdit.cost(replacing: lines[index], with: text)))
        }
        // MISSING tokens: insert what tree-sitter assumed.
        if let tree = try? parser.parse(source) {
            tree.root.walk { node in
                guard node.hasError else { return false }
                if node.isMissing, !node.type.isEmpty, !node.isNamed {
                    let new = TextEdit(startByte: node.startByte, endByte: node.startByte, replacement: node.type)
                        .apply(to: source)
                    patches.append(Patch(source: new, origin: .syntax, operatorName: "insert-missing",
                                         rationale: "insert the missing '\(node.type)' at line \(node.start.line)",
                                         line: node.start.line, cost: node.type.count))
                }
                return true
            }
        }
        var window: Set<Int> = []
        for line in errorLines { for l in (line - 2)...(line) where l >= 1 && l <= lines.count { window.insert(l - 1) } }
        for index in window.sorted() {
            let line = lines[index]
            let (code, comment) = Self.splitComment(line)
            let trimmed = code.trimmingCharacters(in: .whitespaces)
            let indent = String(line.prefix { $0 == " " || $0 == "\t" })
            let newline = line.hasSuffix("\n") ? "\n" : ""
            let body = trimmed.trimmingCharacters(in: .whitespacesAndNewlines)
            if body.isEmpty { continue }
            let firstWord = String(body.prefix { $0.isLetter || $0 == "_" })
            // A header without its colon, or with a semicolon instead.
            if Self.headerKeywords.contains(firstWord) && !body.hasSuffix(":") {
                if body.hasSuffix(";") {
                    replaceLine(index, with: indent + body.dropLast() + ":" + comment + newline, op: "colon",
                                why: "replace ';' by ':' at the end of the '\(firstWord)' header on line \(index + 1)")
                } else {
                    replaceLine(index, with: indent + body + ":" + comment + newline, op: "colon",
                                why: "add the missing ':' after the '\(firstWord)' header on line \(index + 1)")
                }
            }
            // `=` where a condition needs `==`.
            if ["if", "elif", "while"].contains(firstWord), let eq = Self.loneEquals(in: body) {
                var fixed = body
                fixed.insert("=", at: eq)
                replaceLine(index, with: indent + fixed + comment + newline, op: "equals",
                            why: "compare with '==' instead of assigning with '=' on line \(index + 1)")
            }
            // Brackets: close those left open up to here, or drop a closer that has no opener.
            let openers = Self.unclosedBrackets(lines[0...index].joined())
            if !openers.isEmpty {
                let closers = String(openers.reversed().map { Self.closer[$0]! })
                for count in Set([1, closers.count]) {
                    let insert = String(closers.prefix(count))
                    if body.hasSuffix(":") && Self.headerKeywords.contains(firstWord) {
                        replaceLine(index, with: indent + body.dropLast() + insert + ":" + comment + newline,
                                    op: "close-bracket", why: "close '\(insert)' before the ':' on line \(index + 1)")
                    } else {
                        replaceLine(index, with: indent + body + insert + comment + newline, op: "close-bracket",
                                    why: "close the open bracket with '\(insert)' at the end of line \(index + 1)")
                    }
                }
            }
            for stray in Self.strayClosers(in: lines, upTo: index) {
                var text = Array(line)
                text.remove(at: stray)
                replaceLine(index, with: String(text), op: "remove-stray",
                            why: "remove the unmatched '\(line[line.index(line.startIndex, offsetBy: stray)])' on line \(index + 1)")
            }
            // An unterminated string.
            for quote in ["\"", "'"] where body.filter({ String($0) == quote }).count % 2 == 1 && comment.isEmpty {
                replaceLine(index, with: indent + body + quote + newline, op: "close-string",
                            why: "close the string with \(quote) at the end of line \(index + 1)")
            }
            // Missing commas between adjacent operands inside brackets.
            for gap in Self.missingCommaGaps(in: line) {
                var text = Array(line)
                text.insert(",", at: gap)
                replaceLine(index, with: String(text), op: "comma", why: "insert a missing ',' on line \(index + 1)")
            }
            // Indentation: the levels of the lines above, and one level deeper than the line before.
            var levels: [String] = []
            var deepest = Int.max
            for above in lines[..<index].reversed() {
                let t = above.trimmingCharacters(in: .whitespacesAndNewlines)
                if t.isEmpty || t.hasPrefix("#") { continue }
                let level = String(above.prefix { $0 == " " || $0 == "\t" })
                if levels.isEmpty { levels.append(level + "    ") }
                if level.count < deepest || levels.count == 1 {
                    if !levels.contains(level) { levels.append(level) }
                    deepest = min(deepest, level.count)
                }
                if level.isEmpty { break }
            }
            for level in levels where level != indent {
                replaceLine(index, with: level + line.drop { $0 == " " || $0 == "\t" }, op: "indent",
                            why: "indent line \(index + 1) to column \(level.count + 1)")
            }
            // A header whose body is missing.
            if body.hasSuffix(":") {
                let nextIndent = index + 1 < lines.count ? lines[index + 1].prefix { $0 == " " || $0 == "\t" }.count : 0
                if nextIndent <= indent.count {
                    replaceLine(index, with: line + (line.hasSuffix("\n") ? "" : "\n") + indent + "    pass\n",
                                op: "pass", why: "give the block opened on line \(index + 1) a 'pass' body")
                }
            }
            // Remove one token (the least likely intent: it deletes what was written).
            for token in Self.tokens(in: code) {
                var text = Array(line)
                text.removeSubrange(token)
                replaceLine(index, with: String(text), op: "remove-token",
                            why: "remove '\(String(Array(line)[token]))' on line \(index + 1)")
            }
        }
        return patches
    }

    // MARK: Lexical helpers (strings and comments respected)

    static let closer: [Character: Character] = ["(": ")", "[": "]", "{": "}"]

    static func lines(_ text: String) -> [String] {
        var result: [String] = [], current = ""
        for c in text {
            current.append(c)
            if c == "\n" || c == "\r\n" { result.append(current); current = "" }
        }
        if !current.isEmpty { result.append(current) }
        return result
    }

    /// The line split before a `#` comment that is not inside a string; the comment keeps its leading space.
    static func splitComment(_ line: String) -> (code: String, comment: String) {
        var quote: Character?
        var previous: Character = " "
        var code = ""
        for (i, c) in line.enumerated() {
            if let q = quote {
                if c == q && previous != "\\" { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "#" {
                var trimmed = code
                var space = ""
                while let last = trimmed.last, last == " " || last == "\t" { space = String(last) + space; trimmed.removeLast() }
                let rest = String(line.dropFirst(i)).trimmingCharacters(in: .newlines)
                return (trimmed, space + rest)
            }
            previous = c
            code.append(c)
        }
        return (code, "")
    }

    /// Open brackets not closed by the end of `text`, outermost first.
    static func unclosedBrackets(_ text: String) -> [Character] {
        var stack: [Character] = []
        scan(text) { c, _ in
            if closer[c] != nil { stack.append(c) } else if let last = stack.last, closer[last] == c { stack.removeLast() }
        }
        return stack
    }

    /// Character offsets, on the line at `index`, of closing brackets without an opener.
    static func strayClosers(in lines: [String], upTo index: Int) -> [Int] {
        var depth: [Character] = []
        var stray: [Int] = []
        let before = lines[..<index].joined()
        scan(before) { c, _ in
            if closer[c] != nil { depth.append(c) } else if let last = depth.last, closer[last] == c { depth.removeLast() }
        }
        scan(lines[index]) { c, offset in
            if closer[c] != nil { depth.append(c) } else if closer.values.contains(c) {
                if let last = depth.last, closer[last] == c { depth.removeLast() } else { stray.append(offset) }
            }
        }
        return stray
    }

    /// Calls `visit` with each character outside strings and comments, and its offset.
    private static func scan(_ text: String, _ visit: (Character, Int) -> Void) {
        var quote: Character?
        var previous: Character = " "
        var comment = false
        for (i, c) in text.enumerated() {
            if comment { if c == "\n" { comment = false }; previous = c; continue }
            if let q = quote {
                if c == q && previous != "\\" { quote = nil }
                if c == "\n" { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "#" {
                comment = true
            } else {
                visit(c, i)
            }
            previous = c
        }
    }

    /// The index of a single `=` (not part of `==`, `<=`, `!=`, `:=`…) outside strings.
    static func loneEquals(in text: String) -> String.Index? {
        let chars = Array(text)
        var found: Int?
        scan(text) { c, i in
            guard found == nil, c == "=" else { return }
            let before = i > 0 ? chars[i - 1] : " ", after = i + 1 < chars.count ? chars[i + 1] : " "
            if !"=<>!:+-*/%&|^".contains(before) && after != "=" { found = i }
        }
        return found.map { text.index(text.startIndex, offsetBy: $0) }
    }

    /// Offsets where two operands meet with only spaces between them inside brackets (`[1 2]`, `f(a b)`).
    static func missingCommaGaps(in line: String) -> [Int] {
        let chars = Array(line)
        var gaps: [Int] = []
        var depth = 0
        scan(line) { c, i in
            if closer[c] != nil { depth += 1 } else if closer.values.contains(c) { depth -= 1 }
            guard depth > 0, c == " ", i > 0, i + 1 < chars.count else { return }
            let before = chars[i - 1], after = chars[i + 1]
            let operandEnd = before.isLetter || before.isNumber || before == "_" || before == ")" || before == "]"
                || before == "\"" || before == "'"
            let operandStart = after.isLetter || after.isNumber || after == "_" || after == "(" || after == "["
                || after == "\"" || after == "'"
            guard operandEnd, operandStart else { return }
            // Not between keywords (`for x in y`, `a if b else c`, `not x`).
            let wordBefore = String(chars[..<i].reversed().prefix { $0.isLetter }.reversed())
            let wordAfter = String(chars[(i + 1)...].prefix { $0.isLetter })
            let keywords: Set<String> = ["for", "in", "if", "else", "not", "and", "or", "is", "lambda", "async", "await",
                                         "from", "yield", "as"]
            if keywords.contains(wordBefore) || keywords.contains(wordAfter) { return }
            gaps.append(i)
        }
        return gaps
    }

    /// Character ranges of the tokens on a line of code (words, numbers, operators, brackets), strings skipped.
    static func tokens(in code: String) -> [Range<Int>] {
        let chars = Array(code)
        var result: [Range<Int>] = []
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == " " || c == "\t" || c == "\n" || c == "\r\n" { i += 1; continue }
            if c == "\"" || c == "'" {
                var j = i + 1
                while j < chars.count && chars[j] != c { j += chars[j] == "\\" ? 2 : 1 }
                i = j + 1
                continue
            }
            var j = i + 1
            if c.isLetter || c.isNumber || c == "_" {
                while j < chars.count, chars[j].isLetter || chars[j].isNumber || chars[j] == "_" || chars[j] == "." { j += 1 }
            } else if "=<>!+-*/%&|^:".contains(c) {
                while j < chars.count, "=<>!+-*/%&|^".contains(chars[j]) { j += 1 }
            }
            result.append(i..<j)
            i = j
        }
        return result
    }
}
