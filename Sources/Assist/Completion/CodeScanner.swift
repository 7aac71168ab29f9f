import Syntax

/// The lexical rules the stop rules need of a language: where strings and comments begin and end, so that
/// brackets and line breaks inside them are not taken for code.
struct LexicalSyntax: Sendable {
    struct Quote: Sendable {
        var open: [UInt8]
        var close: [UInt8]
        /// A backslash escapes the next byte.
        var escapes = true
        /// The literal may span lines; otherwise a line break ends it (as the languages' lexers recover).
        var multiline = false
    }

    var lineComments: [[UInt8]]
    var blockComment: (open: [UInt8], close: [UInt8])?
    /// Longest opening delimiter first.
    var quotes: [Quote]
    /// Rust: `'` opens a character literal only when one follows (`'a'`, `'\n'`); otherwise it is a lifetime.
    var apostropheMayBeLifetime = false
    /// Blocks are made by indentation (Python), not braces.
    var indentationBlocks = false

    static func of(_ language: Language) -> LexicalSyntax {
        let slashes = [Array("//".utf8)], block = (Array("/*".utf8), Array("*/".utf8))
        func quote(_ text: String, escapes: Bool = true, multiline: Bool = false) -> Quote {
            Quote(open: Array(text.utf8), close: Array(text.utf8), escapes: escapes, multiline: multiline)
        }
        switch language.name {
        case "python":
            return LexicalSyntax(lineComments: [Array("#".utf8)], blockComment: nil,
                                 quotes: [quote("\"\"\"", multiline: true), quote("'''", multiline: true),
                                          quote("\""), quote("'")],
                                 indentationBlocks: true)
        case "javascript":
            return LexicalSyntax(lineComments: slashes, blockComment: block,
                                 quotes: [quote("\""), quote("'"), quote("`", multiline: true)])
        case "go":
            return LexicalSyntax(lineComments: slashes, blockComment: block,
                                 quotes: [quote("\""), quote("'"), quote("`", escapes: false, multiline: true)])
        case "rust":
            return LexicalSyntax(lineComments: slashes, blockComment: block,
                                 quotes: [quote("\"", multiline: true), quote("'")], apostropheMayBeLifetime: true)
        case "java", "swift":
            return LexicalSyntax(lineComments: slashes, blockComment: block,
                                 quotes: [quote("\"\"\"", multiline: true), quote("\"")]
                                    + (language.name == "java" ? [quote("'")] : []))
        default:
            return LexicalSyntax(lineComments: slashes, blockComment: block, quotes: [quote("\""), quote("'")])
        }
    }
}

/// Reads code a lexeme at a time and keeps what the stop rules ask about: the open brackets, whether the
/// position is inside a string or comment, and the last two bytes of code.
struct CodeScanner {
    enum Mode: Equatable {
        case code, lineComment, blockComment
        /// Inside a string or character literal: its index in `LexicalSyntax.quotes`.
        case string(Int)
    }

    /// What one step read.
    enum Lexeme: Equatable {
        /// A line break; `inCode` when it ends a line of code (not one inside a string or block comment).
        case newline(inCode: Bool)
        case space
        case open(UInt8)
        case close(UInt8)
        /// Any other byte of code.
        case code(UInt8)
        /// Part of a string (delimiters included) or of a comment.
        case string, comment
    }

    let syntax: LexicalSyntax
    private(set) var mode = Mode.code
    /// Open brackets, innermost last.
    private(set) var open: [UInt8] = []
    /// The last two bytes of code (a string counts as `"`), most recent last; 0 before any.
    private(set) var lastCode: (UInt8, UInt8) = (0, 0)
    private var escaped = false
    /// The first bytes of the comment markers and opening quotes (bit `b % 64` of word `b / 64`): a byte of code
    /// that is none of them is plain code, told without trying each marker and quote (which cost ~40 % of
    /// reading code, a byte at a time).
    private let starters: (UInt64, UInt64, UInt64, UInt64)

    init(syntax: LexicalSyntax) {
        self.syntax = syntax
        var words: [UInt64] = [0, 0, 0, 0]
        for marker in syntax.lineComments + (syntax.blockComment.map { [$0.open] } ?? []) + syntax.quotes.map(\.open) {
            // (An empty marker matches anywhere: then no byte is plain code.)
            guard let first = marker.first else { words = [.max, .max, .max, .max]; break }
            words[Int(first) / 64] |= 1 << UInt64(first % 64)
        }
        starters = (words[0], words[1], words[2], words[3])
    }

    /// Whether `b` is the first byte of a comment marker or an opening quote.
    @inline(__always) private func mayStartLiteral(_ b: UInt8) -> Bool {
        let word: UInt64
        switch b / 64 {
        case 0: word = starters.0
        case 1: word = starters.1
        case 2: word = starters.2
        default: word = starters.3
        }
        return word & (1 << UInt64(b % 64)) != 0
    }

    var depth: Int { open.count }
    /// The last byte read was a backslash that escapes the next one (inside a string).
    var isEscaped: Bool { escaped }

    /// Reads the lexeme at `bytes[i]` and returns its length, or nil when it cannot be told yet because
    /// `bytes` may continue (a `/` could start a comment); with `final`, the bytes end there.
    mutating func step(_ bytes: [UInt8], at i: Int, final: Bool) -> (length: Int, lexeme: Lexeme)? {
        let b = bytes[i]
        switch mode {
        case .lineComment:
            if b == ascii("\n") { mode = .code; return (1, .newline(inCode: true)) }
            return (1, .comment)
        case .blockComment:
            if b == ascii("\n") { return (1, .newline(inCode: false)) }
            guard let close = syntax.blockComment?.close else { mode = .code; return (1, .comment) }
            switch Self.match(close, in: bytes, at: i, final: final) {
            case nil: return nil
            case true?: mode = .code; return (close.count, .comment)
            case false?: return (1, .comment)
            }
        case .string(let index):
            let quote = syntax.quotes[index]
            if escaped { escaped = false; return (1, .string) }
            if b == ascii("\\"), quote.escapes { escaped = true; return (1, .string) }
            if b == ascii("\n") {
                if !quote.multiline { mode = .code; return (1, .newline(inCode: true)) }
                return (1, .newline(inCode: false))
            }
            switch Self.match(quote.close, in: bytes, at: i, final: final) {
            case nil: return nil
            case true?:
                mode = .code
                remember(ascii("\""))
                return (quote.close.count, .string)
            case false?: return (1, .string)
            }
        case .code:
            return stepInCode(bytes, at: i, final: final)
        }
    }

    private mutating func stepInCode(_ bytes: [UInt8], at i: Int, final: Bool) -> (length: Int, lexeme: Lexeme)? {
        let b = bytes[i]
        switch b {
        case ascii("\n"): return (1, .newline(inCode: true))
        case ascii(" "), ascii("\t"), ascii("\r"), 0x0C: return (1, .space)
        case ascii("("), ascii("["), ascii("{"):
            open.append(b)
            remember(b)
            return (1, .open(b))
        case ascii(")"), ascii("]"), ascii("}"):
            if !open.isEmpty { open.removeLast() }
            remember(b)
            return (1, .close(b))
        default: break
        }
        if !mayStartLiteral(b) {
            remember(b)
            return (1, .code(b))
        }
        for marker in syntax.lineComments {
            switch Self.match(marker, in: bytes, at: i, final: final) {
            case nil: return nil
            case true?: mode = .lineComment; return (marker.count, .comment)
            case false?: continue
            }
        }
        if let marker = syntax.blockComment?.open {
            switch Self.match(marker, in: bytes, at: i, final: final) {
            case nil: return nil
            case true?: mode = .blockComment; return (marker.count, .comment)
            case false?: break
            }
        }
        for (index, quote) in syntax.quotes.enumerated() {
            switch Self.match(quote.open, in: bytes, at: i, final: final) {
            case nil: return nil
            case true?:
                if syntax.apostropheMayBeLifetime, quote.open == [ascii("'")] {
                    guard let isCharacter = Self.startsCharacterLiteral(bytes, at: i, final: final) else { return nil }
                    if !isCharacter { break }
                }
                mode = .string(index)
                return (quote.open.count, .string)
            case false?: continue
            }
        }
        remember(b)
        return (1, .code(b))
    }

    private mutating func remember(_ byte: UInt8) { lastCode = (lastCode.1, byte) }

    /// Whether `pattern` is at `bytes[i...]`; nil when `bytes` ends inside a partial match and may go on.
    private static func match(_ pattern: [UInt8], in bytes: [UInt8], at i: Int, final: Bool) -> Bool? {
        for k in pattern.indices {
            guard i + k < bytes.count else { return final ? false : nil }
            if bytes[i + k] != pattern[k] { return false }
        }
        return true
    }

    /// Rust: `'\…'` or `'c'` (one character, maybe several UTF-8 bytes) is a character literal.
    private static func startsCharacterLiteral(_ bytes: [UInt8], at i: Int, final: Bool) -> Bool? {
        guard i + 1 < bytes.count else { return final ? false : nil }
        let first = bytes[i + 1]
        if first == ascii("\\") { return true }
        let width = first < 0x80 ? 1 : first >= 0xF0 ? 4 : first >= 0xE0 ? 3 : 2
        guard i + 1 + width < bytes.count else { return final ? false : nil }
        return bytes[i + 1 + width] == ascii("'")
    }

    /// Reads all of `bytes` (the code before the cursor, or after it), telling `onLexeme` each lexeme, its
    /// first byte and the bracket depth after it.
    mutating func scanAll(_ bytes: [UInt8], onLexeme: (Lexeme, UInt8, Int) -> Void) {
        var i = 0
        while i < bytes.count {
            let (length, lexeme) = step(bytes, at: i, final: true)!
            onLexeme(lexeme, bytes[i], open.count)
            i += length
        }
    }
}

@inline(__always)
func ascii(_ character: Unicode.Scalar) -> UInt8 { UInt8(ascii: character) }
