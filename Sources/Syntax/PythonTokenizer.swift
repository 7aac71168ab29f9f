/// Python's tokens as CPython 3.11's tokenizer makes them, with its errors.
///
/// CPython reports a syntax error from two places: its tokenizer (unterminated strings, brackets that do not
/// match, indentation that matches no outer level, bad number literals, characters that are no token) and its
/// parser. Which one speaks first depends on how far the parser got, so `PythonFirstError` needs the token
/// stream exactly as CPython's parser sees it: NEWLINE only at the end of a logical line (not inside brackets,
/// not on blank or comment lines), INDENT/DEDENT from the indentation stack (tabs to multiples of 8, checked
/// against tabs as 1 column), and the first tokenizer error where tokenizing stops.
struct PythonToken {
    enum Kind: UInt8 { case name, number, string, op, newline, indent, dedent, endmarker }
    var kind: Kind
    /// Byte range of the token's text (empty for NEWLINE at end of file, INDENT, DEDENT, ENDMARKER).
    var start: Int
    var end: Int
    /// 1-based line of the token's start, as CPython numbers it.
    var line: Int
    /// A name that is one of Python's hard keywords (a name's and an operator's text is its bytes in the source:
    /// tokens hold no strings, so that making and copying them costs no reference counting).
    var hard = false
    /// Open brackets after this token (CPython's `level`).
    var level: Int = 0
}

struct PythonTokenizerError {
    enum Kind {
        /// Raised by the tokenizer itself (CPython's `syntaxerror()`): it wins over a parser error even when
        /// the tokenizer reaches it only after the parser failed (CPython tokenizes the rest of the file).
        case raised
        /// A tokenizer state (indentation, line continuation): reported only when the parser asks for the token.
        case state
        /// End of file inside brackets: `'(' was never closed`, at the innermost open bracket.
        case unclosed
    }
    var kind: Kind
    var byteOffset: Int
    var line: Int
    var message: String
    var isIndentation = false
}

struct PythonTokenizer {
    let bytes: [UInt8]
    private(set) var tokens: [PythonToken] = []
    private(set) var error: PythonTokenizerError?

    private var i = 0
    private var line = 1
    private var lineStart = 0
    private var indents: [Int] = [0]
    private var altIndents: [Int] = [0]
    private var brackets: [(char: UInt8, offset: Int, line: Int)] = []

    /// `baseIndentation`: the text starts inside a block whose statements are indented this many spaces (the
    /// outermost level; a line indented less is an indentation error).
    static func tokenize(_ bytes: [UInt8], baseIndentation: Int = 0) -> PythonTokenizer {
        var t = PythonTokenizer(bytes: bytes)
        t.tokens.reserveCapacity(bytes.count / 3 + 8)
        t.indents = [baseIndentation]
        t.altIndents = [baseIndentation]
        t.run()
        return t
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private func at(_ k: Int) -> UInt8 { k < bytes.count ? bytes[k] : 0 }

    private mutating func fail(_ kind: PythonTokenizerError.Kind, _ offset: Int, _ line: Int, _ message: String,
                               indentation: Bool = false) {
        error = PythonTokenizerError(kind: kind, byteOffset: offset, line: line, message: message,
                                     isIndentation: indentation)
    }

    private mutating func emit(_ kind: PythonToken.Kind, _ start: Int, _ end: Int, hard: Bool = false) {
        tokens.append(PythonToken(kind: kind, start: start, end: end, line: line, hard: hard, level: brackets.count))
    }

    private mutating func newline(at k: Int) {
        line += 1
        lineStart = k + 1
    }

    private mutating func run() {
        var atLineStart = true
        var continued = false
        while error == nil {
            if atLineStart {
                atLineStart = false
                if brackets.isEmpty && !continued {
                    if !indentation() { return }
                }
                continued = false
            }
            // White space between tokens.
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0C { i += 1 }
            guard i < bytes.count else { finish(continued: continued); return }
            let c = bytes[i]
            if c == 0x23 {   // comment
                while i < bytes.count, bytes[i] != 0x0A, bytes[i] != 0x0D { i += 1 }
                continue
            }
            if c == 0x0D || c == 0x0A {
                let nl = c == 0x0D && at(i + 1) == 0x0A ? i + 1 : i
                if brackets.isEmpty, let last = tokens.last, last.kind != .newline {
                    emit(.newline, i, nl + 1)
                }
                i = nl + 1
                newline(at: nl)
                atLineStart = true
                continue
            }
            if c == 0x5C {   // line continuation
                var k = i + 1
                if at(k) == 0x0D { k += 1 }
                if at(k) == 0x0A {
                    i = k + 1
                    newline(at: k)
                    continued = true
                    if i >= bytes.count { fail(.state, i, line, "unexpected EOF while parsing"); return }
                    atLineStart = true
                    continue
                }
                if k >= bytes.count { fail(.state, i, line, "unexpected EOF while parsing"); return }
                fail(.state, i, line, "unexpected character after line continuation character")
                return
            }
            if c == 0x22 || c == 0x27 { string(from: i, quoteAt: i); continue }
            if isDigit(c) || (c == 0x2E && isDigit(at(i + 1))) { number(); continue }
            if isNameStart(c) { name(); continue }
            op()
        }
    }

    /// Indentation of a new logical line: INDENT/DEDENT tokens or CPython's indentation errors.
    private mutating func indentation() -> Bool {
        var col = 0, alt = 0, k = i
        while k < bytes.count {
            let b = bytes[k]
            if b == 0x20 { col += 1; alt += 1 } else if b == 0x09 { col = (col / 8 + 1) * 8; alt += 1 }
            else if b == 0x0C { col = 0; alt = 0 } else { break }
            k += 1
        }
        let b = at(k)
        // Blank lines and comment-only lines leave the indentation alone (so does the end of the file).
        if k >= bytes.count || b == 0x23 || b == 0x0A || b == 0x0D || (b == 0x5C && (at(k + 1) == 0x0A || at(k + 1) == 0x0D)) {
            return true
        }
        let top = indents[indents.count - 1], altTop = altIndents[altIndents.count - 1]
        if col == top {
            if alt != altTop { tabError(k); return false }
        } else if col > top {
            if indents.count >= 100 {
                fail(.state, k, line, "too many levels of indentation", indentation: true); return false
            }
            if alt <= altTop { tabError(k); return false }
            indents.append(col)
            altIndents.append(alt)
            tokens.append(PythonToken(kind: .indent, start: k, end: k, line: line))
        } else {
            // CPython checks the level before it emits any DEDENT.
            var keep = indents.count
            while keep > 1, col < indents[keep - 1] { keep -= 1 }
            if col != indents[keep - 1] {
                fail(.state, k, line, "unindent does not match any outer indentation level", indentation: true)
                return false
            }
            while indents.count > keep {
                indents.removeLast()
                altIndents.removeLast()
                tokens.append(PythonToken(kind: .dedent, start: k, end: k, line: line))
            }
            if alt != altIndents[altIndents.count - 1] { tabError(k); return false }
        }
        return true
    }

    private mutating func tabError(_ k: Int) {
        fail(.state, k, line, "inconsistent use of tabs and spaces in indentation", indentation: true)
    }

    private mutating func finish(continued: Bool) {
        if let open = brackets.last {
            fail(.unclosed, open.offset, open.line, "'\(String(UnicodeScalar(open.char)))' was never closed")
            return
        }
        if let last = tokens.last, last.kind != .newline, last.kind != .dedent, last.kind != .indent {
            emit(.newline, bytes.count, bytes.count)
        }
        // CPython puts the final DEDENTs and ENDMARKER on the line after the last one.
        if bytes.last == 0x0A || bytes.isEmpty { } else { line += 1 }
        for _ in 1..<indents.count { emit(.dedent, bytes.count, bytes.count) }
        emit(.endmarker, bytes.count, bytes.count)
    }

    private func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    private func isNameStart(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c >= 0x80
    }
    private func isNameChar(_ c: UInt8) -> Bool { isNameStart(c) || isDigit(c) }

    private mutating func name() {
        let start = i
        var ascii = true
        while i < bytes.count, isNameChar(bytes[i]) {
            if bytes[i] >= 0x80 { ascii = false }
            i += 1
        }
        let word = bytes[start..<i]
        // A string prefix: r, u, b, f and the two-letter combinations of r with b or f.
        if at(i) == 0x22 || at(i) == 0x27, Self.isStringPrefix(word) { string(from: start, quoteAt: i); return }
        if !ascii {
            // Identifiers beyond ASCII must be XID_Start XID_Continue*.
            let text = String(decoding: word, as: UTF8.self)
            for (n, scalar) in text.unicodeScalars.enumerated() {
                let ok = n == 0 ? (scalar.properties.isXIDStart || scalar == "_") : scalar.properties.isXIDContinue
                if !ok {
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    let padded = String(repeating: "0", count: max(0, 4 - hex.count)) + hex
                    if scalar.properties.generalCategory == .control || !scalar.properties.isGraphemeBase && scalar.value < 0xA0 {
                        fail(.raised, start, line, "invalid non-printable character U+\(padded)")
                    } else {
                        fail(.raised, start, line, "invalid character '\(Character(scalar))' (U+\(padded))")
                    }
                    return
                }
            }
        }
        emit(.name, start, i, hard: ascii && PythonValidity.isKeyword(word))
    }

    /// r, u, b, f, and br, rb, fr, rf, in either case.
    static func isStringPrefix(_ word: ArraySlice<UInt8>) -> Bool {
        guard let first = word.first.map({ $0 | 0x20 }) else { return false }
        if word.count == 1 { return first == 0x72 || first == 0x75 || first == 0x62 || first == 0x66 }
        guard word.count == 2 else { return false }
        let second = word[word.startIndex + 1] | 0x20
        return first == 0x72 ? second == 0x62 || second == 0x66 : (first == 0x62 || first == 0x66) && second == 0x72
    }

    private mutating func string(from start: Int, quoteAt q: Int) {
        let quote = bytes[q]
        let startLine = line
        let triple = at(q + 1) == quote && at(q + 2) == quote
        var k = q + (triple ? 3 : 1)
        while true {
            guard k < bytes.count else {
                // CPython's line at the end of the file is the last line, even after a final line break.
                let last = bytes.last == 0x0A && line > startLine ? line - 1 : line
                if triple {
                    fail(.raised, start, startLine, "unterminated triple-quoted string literal (detected at line \(last))")
                } else {
                    fail(.raised, start, startLine, "unterminated string literal (detected at line \(line))")
                }
                return
            }
            let b = bytes[k]
            if b == 0x5C {
                k += 1
                if k < bytes.count {
                    if bytes[k] == 0x0D, at(k + 1) == 0x0A { k += 1 }
                    if bytes[k] == 0x0A || bytes[k] == 0x0D { newline(at: k) }
                }
                k += 1
                continue
            }
            if b == 0x0A || b == 0x0D {
                if !triple {
                    fail(.raised, start, startLine, "unterminated string literal (detected at line \(line))")
                    return
                }
                if b == 0x0D, at(k + 1) == 0x0A { k += 1 }
                newline(at: k)
                k += 1
                continue
            }
            if b == quote {
                if !triple { k += 1; break }
                if at(k + 1) == quote && at(k + 2) == quote { k += 3; break }
            }
            k += 1
        }
        tokens.append(PythonToken(kind: .string, start: start, end: k, line: startLine, level: brackets.count))
        i = k
    }

    /// After a number: a name character right after it is an error, except the keywords CPython lets through.
    private mutating func endOfNumber(_ kind: String, start: Int) -> Bool {
        let c = at(i)
        guard isNameStart(c) else { return true }
        for word in ["and", "else", "for", "if", "in", "is", "not", "or"] {
            let w = Array(word.utf8)
            if i + w.count <= bytes.count, Array(bytes[i..<(i + w.count)]) == w { return true }
        }
        fail(.raised, start, line, "invalid \(kind) literal")
        return false
    }

    private mutating func digits(_ ok: (UInt8) -> Bool, kind: String, start: Int) -> Bool {
        // Digits with single underscores between them.
        while true {
            while i < bytes.count, ok(bytes[i]) { i += 1 }
            if at(i) != 0x5F { return true }
            i += 1
            if !ok(at(i)) { fail(.raised, start, line, "invalid \(kind) literal"); return false }
        }
    }

    private mutating func number() {
        let start = i
        let c = bytes[i]
        if c == 0x30, [0x78, 0x58, 0x6F, 0x4F, 0x62, 0x42].contains(at(i + 1)) {
            let x = at(i + 1) | 0x20
            i += 2
            let kind: String
            let ok: (UInt8) -> Bool
            switch x {
            case 0x78:
                kind = "hexadecimal"
                ok = { (b: UInt8) -> Bool in
                    let lower = b | 0x20
                    return (b >= 0x30 && b <= 0x39) || (lower >= 0x61 && lower <= 0x66)
                }
            case 0x6F:
                kind = "octal"
                ok = { (b: UInt8) -> Bool in b >= 0x30 && b <= 0x37 }
            default:
                kind = "binary"
                ok = { (b: UInt8) -> Bool in b == 0x30 || b == 0x31 }
            }
            if at(i) == 0x5F { i += 1 }
            if !ok(at(i)) {
                if isDigit(at(i)) { fail(.raised, i, line, "invalid digit '\(String(UnicodeScalar(at(i))))' in \(kind) literal") }
                else { fail(.raised, start, line, "invalid \(kind) literal") }
                return
            }
            guard digits(ok, kind: kind, start: start) else { return }
            if isDigit(at(i)) { fail(.raised, i, line, "invalid digit '\(String(UnicodeScalar(at(i))))' in \(kind) literal"); return }
            guard endOfNumber(kind, start: start) else { return }
            emit(.number, start, i)
            return
        }
        var isFloat = false
        if c == 0x2E {
            isFloat = true
        } else {
            guard digits(isDigit, kind: "decimal", start: start) else { return }
        }
        if !isFloat, bytes[start] == 0x30 {
            // Leading zeros: only an all-zero integer may have them.
            let body = bytes[start..<i].filter { $0 != 0x5F }
            if body.contains(where: { $0 != 0x30 }), at(i) != 0x2E, at(i) | 0x20 != 0x65, at(i) | 0x20 != 0x6A {
                fail(.raised, start, line, "leading zeros in decimal integer literals are not permitted; use an 0o prefix for octal integers")
                return
            }
        }
        if at(i) == 0x2E {
            i += 1
            isFloat = true
            if isDigit(at(i)) { guard digits(isDigit, kind: "decimal", start: start) else { return } }
        }
        if at(i) | 0x20 == 0x65 {
            let save = i
            i += 1
            if at(i) == 0x2B || at(i) == 0x2D { i += 1 }
            if isDigit(at(i)) {
                guard digits(isDigit, kind: "decimal", start: start) else { return }
            } else {
                i = save
                fail(.raised, start, line, "invalid decimal literal")
                return
            }
        }
        if at(i) | 0x20 == 0x6A {
            i += 1
            guard endOfNumber("imaginary", start: start) else { return }
        } else {
            guard endOfNumber("decimal", start: start) else { return }
        }
        emit(.number, start, i)
    }

    static let threeCharOps: Set<String> = ["**=", "...", "//=", "<<=", ">>="]
    static let twoCharOps: Set<String> = [
        "!=", "%=", "&=", "**", "*=", "+=", "-=", "->", "//", "/=", ":=", "<<", "<=", "<>", "==", ">=", ">>", "@=",
        "^=", "|=",
    ]

    /// The length of the operator at `i`: 3 for one of `threeCharOps`, 2 for one of `twoCharOps`, else 1. Told by
    /// its bytes (building two strings and hashing them for each operator was a fifth of a judged line end's
    /// tokenizing); `operatorLengthMatchesTheSets` compares it with the sets over every byte sequence of
    /// operator characters.
    static func operatorLength(_ bytes: [UInt8], at i: Int) -> Int {
        let a = bytes[i]
        let b: UInt8 = i + 1 < bytes.count ? bytes[i + 1] : 0
        let c: UInt8 = i + 2 < bytes.count ? bytes[i + 2] : 0
        switch (a, b) {
        case (0x2A, 0x2A), (0x2F, 0x2F), (0x3C, 0x3C), (0x3E, 0x3E):   // ** // << >>
            return c == 0x3D ? 3 : 2                                  // **= //= <<= >>=
        case (0x2E, 0x2E):                                            // ..
            return c == 0x2E ? 3 : 1                                  // ...
        case (0x3C, 0x3E), (0x2D, 0x3E):                              // <> ->
            return 2
        case (_, 0x3D):                                               // X=
            switch a {
            case 0x21, 0x25, 0x26, 0x2A, 0x2B, 0x2D, 0x2F, 0x3A, 0x3C, 0x3D, 0x3E, 0x40, 0x5E, 0x7C: return 2
            default: return 1
            }
        default:
            return 1
        }
    }

    private mutating func op() {
        let c = bytes[i]
        if c < 0x20 || c == 0x7F {
            let hex = String(c, radix: 16, uppercase: true)
            fail(.raised, i, line, "invalid non-printable character U+\(String(repeating: "0", count: 4 - hex.count) + hex)")
            return
        }
        let start = i
        i += Self.operatorLength(bytes, at: i)
        switch c {
        case 0x28, 0x5B, 0x7B:
            if brackets.count >= 200 { fail(.raised, start, line, "too many nested parentheses"); return }
            brackets.append((c, start, line))
        case 0x29, 0x5D, 0x7D:
            guard let open = brackets.popLast() else {
                fail(.raised, start, line, "unmatched '\(String(UnicodeScalar(c)))'")
                return
            }
            let expected: UInt8 = open.char == 0x28 ? 0x29 : open.char == 0x5B ? 0x5D : 0x7D
            if c != expected {
                let opener = String(UnicodeScalar(open.char))
                let suffix = open.line != line ? " on line \(open.line)" : ""
                fail(.raised, start, line, "closing parenthesis '\(String(UnicodeScalar(c)))' does not match opening parenthesis '\(opener)'\(suffix)")
                return
            }
        default: break
        }
        emit(.op, start, i)
    }
}
