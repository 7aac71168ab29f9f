/// A place in the template source (1-based line and column, in Unicode scalars).
public struct SourcePosition: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var description: String { "line \(line), column \(column)" }
}

/// Why a template could not be parsed or rendered.
public struct TemplateError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case syntax, runtime, raised }
    public var kind: Kind
    public var message: String
    public var position: SourcePosition?

    public var description: String {
        let what = kind == .syntax ? "template syntax error" : kind == .raised ? "template raised" : "template error"
        if let position { return "\(what) at \(position): \(message)" }
        return "\(what): \(message)"
    }
}

/// One token inside `{{ }}` or `{% %}`.
struct Token: Equatable {
    enum Kind: Equatable { case name, string, int, float, op, end }
    var kind: Kind
    var text: String
    var position: SourcePosition
}

/// The template cut into literal text and tags, with Jinja2's whitespace control already applied.
enum Segment {
    case text(String)
    case output([Token], SourcePosition)
    case statement([Token], SourcePosition)
}

/// Whitespace options, as Hugging Face transformers sets them (trim_blocks, lstrip_blocks, no trailing newline).
public struct LexOptions: Sendable {
    public var trimBlocks = true
    public var lstripBlocks = true
    public var keepTrailingNewline = false
    public init(trimBlocks: Bool = true, lstripBlocks: Bool = true, keepTrailingNewline: Bool = false) {
        self.trimBlocks = trimBlocks
        self.lstripBlocks = lstripBlocks
        self.keepTrailingNewline = keepTrailingNewline
    }
}

struct Lexer {
    private var src: [Unicode.Scalar]
    private var lineStarts: [Int] = [0]
    private let options: LexOptions

    init(_ source: String, options: LexOptions) {
        // Jinja2 normalises newlines to "\n" and drops one trailing newline unless told to keep it.
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(source.unicodeScalars.count)
        var it = source.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = it.next()
        while let s = pending {
            pending = it.next()
            if s == "\r" {
                scalars.append("\n")
                if pending == "\n" { pending = it.next() }
            } else {
                scalars.append(s)
            }
        }
        if !options.keepTrailingNewline && scalars.last == "\n" { scalars.removeLast() }
        src = scalars
        self.options = options
        for (i, s) in src.enumerated() where s == "\n" { lineStarts.append(i + 1) }
    }

    func position(_ index: Int) -> SourcePosition {
        var lo = 0, hi = lineStarts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if lineStarts[mid] <= index { lo = mid } else { hi = mid - 1 }
        }
        return SourcePosition(line: lo + 1, column: index - lineStarts[lo] + 1)
    }

    private func at(_ i: Int, _ text: String) -> Bool {
        var j = i
        for s in text.unicodeScalars {
            guard j < src.count, src[j] == s else { return false }
            j += 1
        }
        return true
    }

    private func string(_ range: Range<Int>) -> String {
        var s = String.UnicodeScalarView()
        s.append(contentsOf: src[range])
        return String(s)
    }

    private static func isSpace(_ s: Unicode.Scalar) -> Bool { s.properties.isWhitespace }

    func segments() throws -> [Segment] {
        var out: [Segment] = []
        var pos = 0
        var lineStarting = true
        let n = src.count
        while pos < n {
            // The next tag opening.
            var i = pos
            var kind: Unicode.Scalar = " "
            while i + 1 < n {
                if src[i] == "{" && (src[i + 1] == "{" || src[i + 1] == "%" || src[i + 1] == "#") {
                    kind = src[i + 1]
                    break
                }
                i += 1
            }
            if kind == " " {
                out.append(.text(string(pos..<n)))
                break
            }
            var textEnd = i
            var j = i + 2
            var sign: Unicode.Scalar = " "
            if j < n && (src[j] == "-" || src[j] == "+") { sign = src[j]; j += 1 }
            if sign == "-" {
                while textEnd > pos && Self.isSpace(src[textEnd - 1]) { textEnd -= 1 }
            } else if sign != "+" && options.lstripBlocks && kind != "{" {
                // lstrip_blocks: spaces and tabs between the start of the line and a block or comment tag go.
                var lineStart = textEnd
                while lineStart > pos && src[lineStart - 1] != "\n" { lineStart -= 1 }
                if lineStart > pos || lineStarting {
                    if lineStart < textEnd && src[lineStart..<textEnd].allSatisfy({ Self.isSpace($0) }) {
                        textEnd = lineStart
                    }
                }
            }
            if textEnd > pos { out.append(.text(string(pos..<textEnd))) }
            let tagPosition = position(i)
            if kind == "%", let (contentStart, endSign) = rawTag(at: j, endingWith: "raw") {
                // {% raw %}...{% endraw %}: the text between is output as written.
                var k = contentStart
                var found: (start: Int, end: Int, startSign: Unicode.Scalar, endSign: Unicode.Scalar)?
                while k + 1 < n {
                    if src[k] == "{" && src[k + 1] == "%" {
                        var m = k + 2
                        var startSign: Unicode.Scalar = " "
                        if m < n && (src[m] == "-" || src[m] == "+") { startSign = src[m]; m += 1 }
                        if let (end, sign) = rawTag(at: m, endingWith: "endraw") {
                            found = (k, end, startSign, sign)
                            break
                        }
                    }
                    k += 1
                }
                guard let found else {
                    throw TemplateError(kind: .syntax, message: "missing '{% endraw %}' for this raw block",
                                        position: tagPosition)
                }
                var contentEnd = found.start
                if found.startSign == "-" {
                    while contentEnd > contentStart && Self.isSpace(src[contentEnd - 1]) { contentEnd -= 1 }
                } else if found.startSign != "+" && options.lstripBlocks {
                    var lineStart = contentEnd
                    while lineStart > contentStart && src[lineStart - 1] != "\n" { lineStart -= 1 }
                    let atLineStart = lineStart > contentStart || src[contentStart - 1] == "\n"
                    if atLineStart && lineStart < contentEnd && src[lineStart..<contentEnd].allSatisfy({ Self.isSpace($0) }) {
                        contentEnd = lineStart
                    }
                }
                if contentEnd > contentStart { out.append(.text(string(contentStart..<contentEnd))) }
                pos = afterTagEnd(found.end, sign: found.endSign, isBlock: true)
                _ = endSign
            } else if kind == "#" {
                var k = j
                while k + 1 < n && !(src[k] == "#" && src[k + 1] == "}") { k += 1 }
                guard k + 1 < n else {
                    throw TemplateError(kind: .syntax, message: "missing end of comment tag '#}'", position: tagPosition)
                }
                let endSign: Unicode.Scalar = k > j && (src[k - 1] == "-" || src[k - 1] == "+") ? src[k - 1] : " "
                pos = afterTagEnd(k + 2, sign: endSign, isBlock: true)
            } else {
                let isBlock = kind == "%"
                let (tokens, end, endSign) = try tokenize(from: j, isBlock: isBlock, tagPosition: tagPosition)
                out.append(isBlock ? .statement(tokens, tagPosition) : .output(tokens, tagPosition))
                pos = afterTagEnd(end, sign: endSign, isBlock: isBlock)
            }
            lineStarting = pos > 0 && src[pos - 1] == "\n"
        }
        return out
    }

    /// If a block tag's body at `start` is just `word` (`raw`, `endraw`), where its text ends and the closing
    /// delimiter's sign. After `{% raw %}` only `-` strips; trim_blocks does not apply (as in Jinja2).
    private func rawTag(at start: Int, endingWith word: String) -> (Int, Unicode.Scalar)? {
        var p = start
        while p < src.count && Self.isSpace(src[p]) { p += 1 }
        guard at(p, word) else { return nil }
        p += word.unicodeScalars.count
        while p < src.count && Self.isSpace(src[p]) { p += 1 }
        if at(p, "-%}") {
            if word == "raw" {
                p += 3
                while p < src.count && Self.isSpace(src[p]) { p += 1 }
                return (p, "-")
            }
            return (p + 3, "-")
        }
        if word != "raw" && at(p, "+%}") { return (p + 3, "+") }
        if at(p, "%}") { return (p + 2, word == "raw" ? "+" : " ") }
        return nil
    }

    /// Where the text after a tag starts: `-` eats all whitespace, trim_blocks one newline after blocks/comments.
    private func afterTagEnd(_ end: Int, sign: Unicode.Scalar, isBlock: Bool) -> Int {
        var p = end
        if sign == "-" {
            while p < src.count && Self.isSpace(src[p]) { p += 1 }
        } else if sign != "+" && isBlock && options.trimBlocks && p < src.count && src[p] == "\n" {
            p += 1
        }
        return p
    }

    private static let operators = ["//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(",
                                     ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"]

    /// Tokens of one tag, the index just past its closing delimiter, and the delimiter's sign ('-', '+' or ' ').
    private func tokenize(from start: Int, isBlock: Bool, tagPosition: SourcePosition) throws
        -> ([Token], Int, Unicode.Scalar) {
        var tokens: [Token] = []
        var i = start
        var depth: [Unicode.Scalar] = []
        let close = isBlock ? "%}" : "}}"
        let n = src.count
        while true {
            while i < n && Self.isSpace(src[i]) { i += 1 }
            guard i < n else {
                throw TemplateError(kind: .syntax,
                                    message: "unexpected end of template: the tag is never closed with '\(close)'",
                                    position: tagPosition)
            }
            if depth.isEmpty {
                if at(i, "-" + close) { tokens.append(Token(kind: .end, text: "", position: position(i))); return (tokens, i + 3, "-") }
                if isBlock && at(i, "+" + close) { tokens.append(Token(kind: .end, text: "", position: position(i))); return (tokens, i + 3, "+") }
                if at(i, close) { tokens.append(Token(kind: .end, text: "", position: position(i))); return (tokens, i + 2, " ") }
            }
            let p = position(i)
            let c = src[i]
            if c == "'" || c == "\"" {
                var j = i + 1
                var value = String.UnicodeScalarView()
                while j < n && src[j] != c {
                    if src[j] == "\\" && j + 1 < n {
                        j = unescape(at: j, into: &value)
                    } else {
                        value.append(src[j])
                        j += 1
                    }
                }
                guard j < n else { throw TemplateError(kind: .syntax, message: "unterminated string literal", position: p) }
                tokens.append(Token(kind: .string, text: String(value), position: p))
                i = j + 1
            } else if c.properties.numericType == .decimal && c.isASCII {
                var j = i
                func digits() { while j < n && ((src[j].isASCII && src[j].properties.numericType == .decimal) || src[j] == "_") { j += 1 } }
                digits()
                var isFloat = false
                if j + 1 < n && src[j] == "." && src[j + 1].isASCII && src[j + 1].properties.numericType == .decimal {
                    isFloat = true
                    j += 1
                    digits()
                }
                if j < n && (src[j] == "e" || src[j] == "E") {
                    var k = j + 1
                    if k < n && (src[k] == "+" || src[k] == "-") { k += 1 }
                    if k < n && src[k].isASCII && src[k].properties.numericType == .decimal {
                        isFloat = true
                        j = k
                        digits()
                    }
                }
                tokens.append(Token(kind: isFloat ? .float : .int,
                                    text: string(i..<j).replacingOccurrences(of: "_", with: ""), position: p))
                i = j
            } else if c == "_" || c.properties.isAlphabetic {
                var j = i
                while j < n && (src[j] == "_" || src[j].properties.isAlphabetic
                                || (src[j].isASCII && src[j].properties.numericType == .decimal)) { j += 1 }
                tokens.append(Token(kind: .name, text: string(i..<j), position: p))
                i = j
            } else if let op = Self.operators.first(where: { at(i, $0) }) {
                if op == "(" || op == "[" || op == "{" { depth.append(c) }
                if op == ")" || op == "]" || op == "}" {
                    let open: Unicode.Scalar = op == ")" ? "(" : op == "]" ? "[" : "{"
                    guard depth.last == open else {
                        throw TemplateError(kind: .syntax, message: "unexpected '\(op)'", position: p)
                    }
                    depth.removeLast()
                }
                tokens.append(Token(kind: .op, text: op, position: p))
                i += op.unicodeScalars.count
            } else {
                throw TemplateError(kind: .syntax, message: "unexpected character '\(Character(c))'", position: p)
            }
        }
    }

    /// Python's unicode-escape rules for a backslash at `i`; unknown escapes stay as written.
    private func unescape(at i: Int, into value: inout String.UnicodeScalarView) -> Int {
        let c = src[i + 1]
        let simple: [Unicode.Scalar: Unicode.Scalar] = ["n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'",
                                                         "\"": "\"", "a": "\u{07}", "b": "\u{08}", "f": "\u{0C}",
                                                         "v": "\u{0B}", "\n": "\n"]
        if c == "\n" { return i + 2 }  // a backslash-newline continues the line
        if let s = simple[c] { value.append(s); return i + 2 }
        let hexCount = c == "x" ? 2 : c == "u" ? 4 : c == "U" ? 8 : 0
        if hexCount > 0, i + 1 + hexCount < src.count {
            let hex = string((i + 2)..<(i + 2 + hexCount))
            if let v = UInt32(hex, radix: 16), let s = Unicode.Scalar(v) {
                value.append(s)
                return i + 2 + hexCount
            }
        }
        if c.isASCII, let d = Int(String(c)), d < 8 {
            var j = i + 1, v: UInt32 = 0, count = 0
            while j < src.count, count < 3, src[j].isASCII, let dd = UInt32(String(src[j])), dd < 8 {
                v = v * 8 + dd; j += 1; count += 1
            }
            if let s = Unicode.Scalar(v) { value.append(s) }
            return j
        }
        value.append("\\")
        return i + 1
    }
}
