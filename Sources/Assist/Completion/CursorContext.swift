import Syntax

/// What the stop rules know about the cursor before generation starts: how much code the completion should
/// write (its scope), the brackets open at the cursor and whether the code after the cursor closes them,
/// the indentation of the cursor's block, and the lines just after the cursor.
struct CursorContext {
    /// How much the completion writes.
    enum Scope: String, Sendable {
        /// The rest of a line: code follows the cursor on its line, or the cursor is in a string or comment.
        case line
        /// The rest of the statement begun on the cursor's line.
        case statement
        /// Statements on a line of their own (the cursor's line is blank), or the body of a block header
        /// (`:` in Python, `{` elsewhere) that ends just before the cursor.
        case block
    }

    let language: Language
    let syntax: LexicalSyntax
    let scope: Scope
    /// The scanner's state at the cursor.
    let scanner: CodeScanner
    /// Whether the code after the cursor closes the innermost bracket open at the cursor.
    let suffixClosesInnermost: Bool
    /// Only whitespace precedes the cursor on its line.
    let cursorLineBlank: Bool
    /// Width of the whitespace that starts the cursor's line (tabs to multiples of 8).
    let cursorIndent: Int
    /// Indentation languages: the least indentation a line of the completion may have and stay in the cursor's
    /// block; nil when the completion's first line sets it.
    let blockIndent: Int?
    /// The rest of the cursor's line, without surrounding whitespace.
    let restOfLine: String
    /// The first line of code after the completion, without surrounding whitespace: the rest of the cursor's
    /// line when the completion goes in front of it, else the first non-blank line below.
    let nextLine: String
    /// Only whitespace before the cursor and code after it: the completion is a line put in front of that code.
    let insertsLineBefore: Bool
    /// The whitespace before the cursor on its line, when `insertsLineBefore` (it indents the code after).
    let indentation: String
    let check: InsertionCheck

    /// - Parameter cursor: a byte offset in `source`, at a character boundary.
    init(language: Language, source: [UInt8], cursor: Int) throws {
        self.language = language
        syntax = LexicalSyntax.of(language)
        let prefix = Array(source[..<cursor]), suffix = Array(source[cursor...])
        check = try InsertionCheck(language: language, prefix: prefix, suffix: suffix)

        // Scan the code before the cursor, noting where each line outside brackets starts and how it is
        // indented (a block header's indentation is that of the line its statement starts on).
        var scanner = CodeScanner(syntax: syntax)
        var statementIndent = 0, lineIndent = 0, atLineStart = true, lastCodeIndent = 0
        scanner.scanAll(prefix) { lexeme, byte, depth in
            switch lexeme {
            case .newline(let inCode):
                atLineStart = inCode && depth == 0
                lineIndent = 0
            case .space where atLineStart:
                lineIndent = Self.widen(lineIndent, by: byte)
            case .comment where atLineStart:
                atLineStart = false
            case .open, .close, .code, .string:
                if atLineStart { statementIndent = lineIndent }
                atLineStart = false
                lastCodeIndent = statementIndent
            default:
                break
            }
        }
        self.scanner = scanner

        var after = scanner, lowest = scanner.depth
        after.scanAll(suffix) { _, _, depth in lowest = min(lowest, depth) }
        suffixClosesInnermost = lowest < scanner.depth

        let lineStart = (prefix.lastIndex(of: ascii("\n")) ?? -1) + 1
        let cursorLine = prefix[lineStart...]
        cursorLineBlank = cursorLine.allSatisfy(Self.isBlank)
        cursorIndent = cursorLine.prefix(while: Self.isBlank).reduce(0, Self.widen)
        let lines = PromptWindow.lines(String(decoding: suffix, as: UTF8.self))
        restOfLine = lines[0].trimmingWhitespace()
        insertsLineBefore = cursorLineBlank && !restOfLine.isEmpty && scanner.mode == .code
        indentation = insertsLineBefore ? String(decoding: cursorLine, as: UTF8.self) : ""
        nextLine = insertsLineBefore ? restOfLine
            : lines.dropFirst().lazy.map { $0.trimmingWhitespace() }.first { !$0.isEmpty } ?? ""

        let opensBlock = scanner.mode == .code && (syntax.indentationBlocks
            ? scanner.lastCode.1 == ascii(":") && scanner.depth == 0 : scanner.lastCode.1 == ascii("{"))
        if scanner.mode != .code || !restOfLine.isEmpty {
            scope = .line
        } else if cursorLineBlank || opensBlock {
            scope = .block
        } else {
            scope = .statement
        }
        if !syntax.indentationBlocks {
            blockIndent = nil
        } else if opensBlock {
            blockIndent = lastCodeIndent + 1
        } else {
            blockIndent = scope == .statement ? cursorIndent : nil
        }
    }

    static func isBlank(_ byte: UInt8) -> Bool { byte == ascii(" ") || byte == ascii("\t") || byte == ascii("\r") }

    /// Indentation width after `byte`: a tab goes to the next multiple of 8, as Python's tokenizer counts.
    static func widen(_ width: Int, by byte: UInt8) -> Int { byte == ascii("\t") ? (width / 8 + 1) * 8 : width + 1 }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs and line breaks ("\r\n" is one Character).
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
