import CTreeSitter
import Foundation

/// A syntax error found in a tree: an ERROR node (text the grammar could not place) or a MISSING node
/// (a token the parser had to assume, such as a closing bracket).
public struct SyntaxDiagnostic: Sendable, Codable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Codable { case error, missing }

    public var kind: Kind
    public var message: String
    public var start: SourceLocation
    public var end: SourceLocation

    /// `line:column: error: message`, as compilers print it (prefix the file name yourself).
    public var description: String { "\(start.line):\(start.column): error: \(message)" }
}

extension Tree {
    /// Every syntax error, in document order. An ERROR node is reported once, at the token the parser
    /// first failed on inside it (see `ErrorTrace`); its subtree is not searched further.
    ///
    /// For Python, what CPython rejects and tree-sitter-python accepts is reported too (see `PythonValidity`),
    /// in the same document order.
    public func syntaxErrors(limit: Int = .max) -> [SyntaxDiagnostic] {
        guard language.name == "python" else { return treeErrors(limit: limit) }
        let recovered = pythonRecoveredErrors(limit: limit)
        // CPython's first error (tokenizer, parser, invalid_* rules, in CPython's order) replaces whatever
        // tree-sitter's recovery and the validity walk put at or before it; what they found later stays.
        guard let first = PythonFirstError.find(in: source.bytes) else { return recovered }
        let at = source.location(ofByte: first.byteOffset)
        // The kind stays tree-sitter's where it failed at the same place (`missing` when it assumed a token).
        let kind = recovered.first { $0.start.byteOffset == first.byteOffset }?.kind ?? .error
        var found = [SyntaxDiagnostic(kind: kind, message: first.message, start: at, end: at)]
        found += recovered.filter { $0.start.line > at.line }
        return Array(found.prefix(limit))
    }

    /// For Python, the errors as tree-sitter's recovery finds them (CPython's wording where it is known,
    /// merged with `PythonValidity`'s), without CPython's first error put in front: where the recovery fails
    /// moves as edits fix a file, which a repair search can use to measure progress.
    public func recoveredSyntaxErrors(limit: Int = .max) -> [SyntaxDiagnostic] {
        language.name == "python" ? pythonRecoveredErrors(limit: limit) : treeErrors(limit: limit)
    }

    /// tree-sitter's errors with CPython's wording where it is known, merged with `PythonValidity`'s.
    private func pythonRecoveredErrors(limit: Int) -> [SyntaxDiagnostic] {
        var found = treeErrors(limit: limit)
        // CPython's message classes: a missing ':' is "expected ':'", anything else the parser cannot place
        // "invalid syntax".
        for i in found.indices {
            found[i].message = found[i].message == "missing ':'" ? "expected ':'" : "invalid syntax"
        }
        var invalid = PythonValidity.violations(in: self, limit: limit)
        if !found.isEmpty {
            // CPython's tokenizer speaks first: a stray closing bracket before the parser's error, and an
            // opening bracket never closed when the parser fails on a later line (`def f(x:` then `return x`).
            let first = min(found[0].start.byteOffset, invalid.first?.byteOffset ?? .max)
            let (stray, unclosed) = PythonValidity.bracketErrors(in: source.bytes)
            if let stray, stray.byteOffset <= first {
                found.removeAll { $0.start.byteOffset >= stray.byteOffset }
                invalid.removeAll { $0.byteOffset >= stray.byteOffset }
                invalid.append(stray)
            } else if let unclosed, source.location(ofByte: unclosed.byteOffset).line < source.location(ofByte: first).line {
                // What follows an unclosed bracket is all inside it: the parser's errors there are its echo.
                found.removeAll { $0.start.byteOffset > unclosed.byteOffset }
                invalid.removeAll { $0.byteOffset > unclosed.byteOffset }
                invalid.append(unclosed)
            }
        }
        if let first = found.first, invalid.allSatisfy({ $0.byteOffset >= first.start.byteOffset }),
           let header = PythonValidity.headerWithoutColon(before: first.start.byteOffset, in: source) {
            // A block header whose `:` is missing: CPython points past its last token.
            found[0].message = "expected ':'"
            found[0].start = source.location(ofByte: header)
            found[0].end = found[0].start
        }
        guard !invalid.isEmpty else { return found }
        var seen = Set(found.map(\.start.byteOffset))
        invalid.removeAll { !seen.insert($0.byteOffset).inserted }
        for violation in invalid {
            let at = source.location(ofByte: violation.byteOffset)
            found.append(SyntaxDiagnostic(kind: .error, message: violation.message, start: at, end: at))
        }
        found.sort { $0.start.byteOffset < $1.start.byteOffset }
        return Array(found.prefix(limit))
    }

    /// The ERROR and MISSING nodes of the tree, as diagnostics, where tree-sitter's parser failed (for Python
    /// without CPython's wording and positions; `syntaxErrors` has those).
    public func treeErrors(limit: Int = .max) -> [SyntaxDiagnostic] {
        var found: [SyntaxDiagnostic] = []
        guard hasErrors else { return found }
        let failures = ErrorTrace.failures(source: source, language: language)
        root.walk { node in
            guard found.count < limit, node.hasError else { return false }
            if node.isMissing {
                let what = node.isNamed ? node.type.replacingUnderscores() : "'\(node.type)'"
                found.append(SyntaxDiagnostic(kind: .missing, message: "missing \(what)", start: node.start,
                                              end: node.end))
                return false
            }
            if node.isError {
                // The failing token can be just past the ERROR node (end of file, a closing token).
                var reach = node.endByte
                while reach < source.count, [0x20, 0x09, 0x0A, 0x0D, 0x0C].contains(source.bytes[reach]) { reach += 1 }
                let failure = failures.first { node.startByte <= $0.byteOffset && $0.byteOffset <= reach }
                found.append(errorDiagnostic(node, failure: failure))
                return false
            }
            return true
        }
        return found
    }

    private func errorDiagnostic(_ node: Node, failure: ErrorTrace.Failure?) -> SyntaxDiagnostic {
        if let failure {
            return SyntaxDiagnostic(kind: .error, message: failure.message,
                                    start: source.location(ofByte: failure.byteOffset),
                                    end: source.location(ofByte: max(failure.byteOffset, node.endByte)))
        }
        // No trace (should not happen): point at the first token of the ERROR node.
        var leaf = node
        while let first = leaf.child(0) { leaf = first }
        let message = leaf.text.isEmpty ? "unexpected end of file" : "unexpected '\(ErrorTrace.shorten(leaf.text))'"
        return SyntaxDiagnostic(kind: .error, message: message, start: leaf.start, end: node.end)
    }
}

/// Where the parser got stuck, read from tree-sitter's debug log during a second parse.
///
/// The recovered tree does not say which token broke the parse: an ERROR node wraps the abandoned partial
/// constructs and the skipped tokens alike. The parser's log does: each step logs its position
/// (`process version:…, row:R, col:C`), each token it lexes (`lexed_lookahead sym:S, size:N`), a stack
/// version that cannot use its token (`detect_error`), and the start of recovery once every version is
/// stuck (`resume version:…`). The failing token at each recovery is a syntax error's true location.
/// Only files that have errors pay for this second, logged parse.
enum ErrorTrace {
    struct Failure {
        var byteOffset: Int
        var message: String
    }

    private final class Recorder {
        let source: SourceText
        var position = 0
        var lookahead: (symbol: String, size: Int) = ("", 0)
        var candidates: [(position: Int, lookahead: (symbol: String, size: Int))] = []
        var failures: [Failure] = []

        init(source: SourceText) { self.source = source }

        func handle(_ line: String) {
            if line.hasPrefix("process version:") {
                let row = Self.number(after: "row:", in: line), col = Self.number(after: "col:", in: line)
                if let row, let col, row < source.lineStarts.count { position = source.lineStarts[row] + col }
            } else if line.hasPrefix("lexed_lookahead sym:") {
                let body = line.dropFirst("lexed_lookahead sym:".count)
                if let comma = body.range(of: ", size:", options: .backwards) {
                    lookahead = (String(body[..<comma.lowerBound]), Int(body[comma.upperBound...]) ?? 0)
                }
            } else if line == "detect_error" {
                candidates.append((position, lookahead))
            } else if line.hasPrefix("resume version:") {
                if let worst = candidates.max(by: { $0.position < $1.position }) { failures.append(failure(worst)) }
                candidates.removeAll()
            }
        }

        private func failure(_ c: (position: Int, lookahead: (symbol: String, size: Int))) -> Failure {
            // The lookahead's size includes the whitespace before it; its text starts after that.
            let bytes = source.bytes
            let end = min(bytes.count, c.position + c.lookahead.size)
            var start = c.position
            let newlineToken = c.lookahead.symbol.contains("newline")
            while start < end, [0x20, 0x09, 0x0C, 0x0D].contains(bytes[start])
                || (!newlineToken && bytes[start] == 0x0A) { start += 1 }
            // A failing token followed by nothing but white space (a final newline, dedents) is the file's end.
            var rest = start
            while rest < bytes.count, [0x20, 0x09, 0x0A, 0x0C, 0x0D].contains(bytes[rest]) { rest += 1 }
            if c.lookahead.symbol == "end" || rest >= bytes.count {
                return Failure(byteOffset: bytes.count, message: "unexpected end of file")
            }
            if start >= bytes.count {
                return Failure(byteOffset: min(start, bytes.count), message: "unexpected end of file")
            }
            if newlineToken || bytes[start] == 0x0A {
                return Failure(byteOffset: start, message: "unexpected end of line")
            }
            var text = source.text(start..<max(end, start + 1))
            if let newline = text.firstIndex(of: "\n") { text = String(text[..<newline]) }
            return Failure(byteOffset: start, message: "unexpected '\(ErrorTrace.shorten(text))'")
        }

        static func number(after key: String, in line: String) -> Int? {
            guard let r = line.range(of: key) else { return nil }
            return Int(line[r.upperBound...].prefix { $0.isNumber })
        }
    }

    static func failures(source: SourceText, language: Language) -> [Failure] {
        guard let grammar = try? language.grammar(), let parser = ts_parser_new() else { return [] }
        defer { ts_parser_delete(parser) }
        guard ts_parser_set_language(parser, grammar) else { return [] }
        let recorder = Recorder(source: source)
        let payload = Unmanaged.passUnretained(recorder).toOpaque()
        ts_parser_set_logger(parser, TSLogger(payload: payload, log: { payload, type, message in
            guard type == TSLogTypeParse, let payload, let message else { return }
            Unmanaged<Recorder>.fromOpaque(payload).takeUnretainedValue().handle(String(cString: message))
        }))
        let tree: OpaquePointer? = withExtendedLifetime(recorder) {
            source.bytes.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { chars in
                    ts_parser_parse_string(parser, nil, chars.baseAddress, UInt32(chars.count))
                }
            }
        }
        if let tree { ts_tree_delete(tree) }
        return recorder.failures
    }

    static func shorten(_ text: String) -> String {
        let cut = text.count > 24 ? String(text.prefix(24)) + "…" : text
        return cut.escapingNewlines()
    }
}

extension String {
    func replacingUnderscores() -> String { String(map { $0 == "_" ? " " : $0 }) }

    func escapingNewlines() -> String {
        var out = ""
        for c in self {
            switch c {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r\n", "\r": out += "\\r"
            default: out.append(c)
            }
        }
        return out
    }
}
