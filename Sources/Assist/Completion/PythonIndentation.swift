import Foundation
import Engine

/// Python's indentation rules, which tree-sitter-python does not enforce: it accepts a line indented deeper
/// than the one before without a block header (`IndentationError: unexpected indent`), a dedent to a level no
/// enclosing block has (`unindent does not match any outer indentation level`), and a block header followed
/// by no deeper line (`expected an indented block`). Completions are held to them, so that a completion never
/// leaves a file CPython cannot compile for its indentation.
///
/// Only the first line of each logical line counts (not lines inside brackets, inside a triple-quoted string,
/// or after a backslash), blank and comment-only lines do not, and tabs go to the next multiple of 8, as in
/// CPython's tokenizer. Text is read as it grows (`append`), so decoding can ask where the next line may start.
struct PythonIndentation {
    private var scanner: CodeScanner
    /// Everything read so far; `position` is how far the scanner got (it may wait for more bytes to tell a
    /// lexeme, e.g. a quote that may open a triple-quoted string).
    private var bytes: [UInt8] = []
    private var position = 0
    /// Indentation widths of the open blocks, outermost first.
    private(set) var levels = [0]
    /// The last logical line ended with `:`: the next one must be indented deeper.
    private(set) var expectIndent = false
    /// The current physical line starts a logical line.
    private(set) var startsLogicalLine = true
    /// Width of the current line's leading whitespace so far.
    private(set) var indent = 0
    /// Code was seen on the current physical line.
    private(set) var sawCode = false
    private var lineStart = 0
    /// Offset of the first line whose indentation Python rejects.
    private(set) var error: Int?
    /// Where the logical lines with code start (the line, and its first code byte), with their indentation
    /// width (nil when tabs or form feeds make it up), in order.
    private var statementStarts: [(line: Int, code: Int, width: Int?)] = []
    /// Where the current (or last) logical line with code starts.
    private(set) var logicalLineStart = 0

    init(syntax: LexicalSyntax) { scanner = CodeScanner(syntax: syntax) }

    /// The byte offset of the first line whose indentation Python rejects (the end of `bytes` when the text
    /// ends after a block header), or nil when there is none.
    static func firstError(in bytes: [UInt8], syntax: LexicalSyntax) -> Int? {
        var state = PythonIndentation(syntax: syntax)
        state.append(bytes)
        return state.finish()
    }

    /// Reads more text.
    mutating func append<Bytes: Sequence<UInt8>>(_ more: Bytes) {
        bytes.append(contentsOf: more)
        read(final: false)
    }

    /// The text ends here: the first error, counting a block header left without its block.
    mutating func finish() -> Int? {
        read(final: true)
        if error == nil, expectIndent { error = bytes.count }
        return error
    }

    /// Whether the text is at the leading whitespace of a logical line, everything read, in code.
    var atLineIndentation: Bool {
        error == nil && position == bytes.count && startsLogicalLine && !sawCode && scanner.mode == .code
    }

    /// Whether a line break appended now would end a logical line that holds code (CPython's NEWLINE token):
    /// everything read, in code or a comment, outside brackets, not after a backslash. Nil when that cannot be
    /// told yet (the scanner waits for more bytes).
    var lineBreakEndsStatement: Bool? {
        guard position == bytes.count else { return nil }
        guard scanner.mode == .code || scanner.mode == .lineComment else { return false }
        return scanner.depth == 0 && scanner.lastCode.1 != ascii("\\") && (sawCode || !startsLogicalLine)
    }

    /// The last byte of code read (a string counts as a quote), 0 before any.
    var lastCodeByte: UInt8 { scanner.lastCode.1 }
    /// Whether the scanner is in a comment that runs to the end of the line.
    var inLineComment: Bool { scanner.mode == .lineComment }

    /// Where a parser may start over without the text before it, and the indentation (in spaces) it starts at:
    /// the nearest logical line before the current one that no line between them (the current one included)
    /// is indented less than, so that what follows it is its own statement and the statements nested in it.
    /// Lines that continue a statement (`else`, `elif`, `except`, `finally`, `case`) are passed over for the
    /// statement they continue, and so are lines indented with tabs (the parser starts at spaces). So a header
    /// left open before the current line (a `try:` without its `except`) is part of what is read. (0, 0) when
    /// there is none.
    ///
    /// One shortcut: when the statement before the current line at the same indentation is a compound one that
    /// is complete (it has a block, it is not a `try` that still needs its `except`, and the current line does
    /// not continue it), the parser starts at the current line itself.
    var restartPoint: (offset: Int, indentation: Int) {
        var lowest = Int.max
        var current: (line: Int, code: Int, width: Int?)?
        var between = 0   // logical lines between a candidate and the current line
        for start in statementStarts.reversed() {
            if start.line >= logicalLineStart {
                if start.line == logicalLineStart {
                    current = start
                    lowest = start.width ?? PythonIndentation.width(bytes[start.line..<start.code])
                }
                continue
            }
            defer { between += 1 }
            guard let width = start.width else {
                // Tabs: the line still bounds the indentation of what follows (as 8-column tab stops).
                lowest = min(lowest, PythonIndentation.width(bytes[start.line..<start.code]))
                continue
            }
            if width > lowest { continue }
            if let current, let currentWidth = current.width, width == currentWidth, between > 0,
               !Self.startsWith(bytes, at: start.code, keyword: "try"),
               !Self.continuesStatement(bytes, at: current.code) {
                return (current.line, currentWidth)
            }
            lowest = width
            if !Self.continuesStatement(bytes, at: start.code) { return (start.line, width) }
        }
        return (0, 0)
    }

    /// Whether the current logical line is in the body of a function, as the headers around it tell: the nearest
    /// enclosing header that is a `def` or a `class` (each indented less than the line, or the line itself when
    /// its body is on the same line: `def f(): return 1`) is a `def` or `async def`. False at module level, in a
    /// class body, and where it cannot tell (indentation with tabs or form feeds). A `return` there is never
    /// "outside function".
    var insideFunction: Bool {
        var lowest: Int?
        for start in statementStarts.reversed() {
            if start.line > logicalLineStart { continue }
            guard let width = start.width else { return false }
            if let low = lowest, width >= low { continue }
            if Self.startsWith(bytes, at: start.code, keyword: "def") { return true }
            if Self.startsWith(bytes, at: start.code, keyword: "async") {
                var k = start.code + 5
                while k < bytes.count, bytes[k] == 0x20 || bytes[k] == 0x09 { k += 1 }
                if Self.startsWith(bytes, at: k, keyword: "def") { return true }
            }
            if Self.startsWith(bytes, at: start.code, keyword: "class") { return false }
            // The line itself first (lowest nil), then each header indented less than the last one.
            if lowest == nil, start.line != logicalLineStart { return false }
            lowest = width
            if width == 0 { return false }
        }
        return false
    }

    /// Whether the code at `at` starts with the keyword `keyword` (not a longer name).
    static func startsWith(_ bytes: [UInt8], at: Int, keyword: String) -> Bool {
        let w = Array(keyword.utf8)
        guard at + w.count <= bytes.count, Array(bytes[at..<(at + w.count)]) == w else { return false }
        let next = at + w.count < bytes.count ? bytes[at + w.count] : 0x20
        return !(next == 0x5F || (next >= 0x30 && next <= 0x39) || (next | 0x20 >= 0x61 && next | 0x20 <= 0x7A) || next >= 0x80)
    }

    /// Indentation width with tabs to the next multiple of 8 (a form feed starts over).
    static func width(_ whitespace: ArraySlice<UInt8>) -> Int {
        var w = 0
        for b in whitespace { w = b == 0x09 ? (w / 8 + 1) * 8 : b == 0x0C ? 0 : w + 1 }
        return w
    }

    /// Whether the line at `at` starts with a clause keyword that continues the statement before it.
    static func continuesStatement(_ bytes: [UInt8], at: Int) -> Bool {
        ["else", "elif", "except", "finally", "case"].contains { startsWith(bytes, at: at, keyword: $0) }
    }

    /// At `atLineIndentation`: whether code may start after `width` columns of indentation.
    func codeMayStart(at width: Int) -> Bool {
        expectIndent ? width > levels[levels.count - 1] : levels.contains(width)
    }

    /// At `atLineIndentation`: whether the indentation may grow to `width` columns (and code follow later).
    func indentationMayReach(_ width: Int) -> Bool {
        expectIndent || width <= levels[levels.count - 1]
    }

    private mutating func read(final: Bool) {
        while error == nil, position < bytes.count,
              let (length, lexeme) = scanner.step(bytes, at: position, final: final) {
            handle(lexeme, at: position, length: length)
            position += length
        }
    }

    private mutating func handle(_ lexeme: CodeScanner.Lexeme, at i: Int, length: Int) {
        switch lexeme {
        case .space:
            if !sawCode { indent = CursorContext.widen(indent, by: bytes[i]) }
        case .comment:
            break
        case .open, .close, .code, .string:
            if !sawCode, startsLogicalLine {
                if !codeMayStart(at: indent) {
                    error = lineStart
                    return
                }
                if expectIndent {
                    levels.append(indent)
                    expectIndent = false
                } else {
                    while let last = levels.last, indent < last { levels.removeLast() }
                }
                logicalLineStart = lineStart
                let spaces = bytes[lineStart..<i].allSatisfy { $0 == 0x20 }
                statementStarts.append((lineStart, i, spaces ? indent : nil))
            }
            sawCode = true
        case .newline(let inCode):
            if sawCode {
                // Where the logical line ends, the next physical line starts one.
                let ends = inCode && scanner.depth == 0 && scanner.lastCode.1 != ascii("\\")
                if ends { expectIndent = scanner.lastCode.1 == ascii(":") }
                startsLogicalLine = ends
            }
            // A blank or comment-only line leaves `startsLogicalLine` as it was.
            lineStart = i + length
            indent = 0
            sawCode = false
        }
    }
}

/// Keeps a Python completion's lines where Python allows them: at the start of a logical line, whitespace may
/// not go deeper than the current block (or, after a block header, must go deeper), and code may only start at
/// an open block's indentation. When the cursor stands after indentation where code may start, the first line's
/// code starts at the cursor. Tree-sitter's tables, which the syntax constraint follows, do not say this.
final class PythonIndentationProcessor: LogitProcessor {
    private let start: CompletionStart
    private let initial: PythonIndentation
    private var state: PythonIndentation
    private var fed = 0
    /// The cursor stands after indentation where code may start: the completion's first line starts its code
    /// there (it does not indent further).
    private let cursorWidth: Int?
    /// The code after the cursor goes on indented deeper than the cursor: the cursor's line must open a block,
    /// so its code starts with a compound statement's keyword (not a comment or a blank line).
    private let needsHeader: Bool
    private var wroteLineBreak = false
    /// Tokens refused at the step with `blockedAt` tokens generated (-1: none yet).
    private var blocked: [Int32] = []
    private var blockedAt = -1

    static let blockKeywords = ["if", "elif", "else", "for", "while", "try", "except", "finally", "with", "def",
                                "class", "async", "match", "case"].map { Array($0.utf8) }

    /// - Parameters:
    ///   - prefix: the code before the completion (without any healed bytes: the completion writes them).
    ///   - suffix: the code after the cursor.
    init(prefix: [UInt8], suffix: [UInt8] = [], syntax: LexicalSyntax, start: CompletionStart) {
        let started = DispatchTime.now().uptimeNanoseconds
        defer { setupMicroseconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1000 }
        self.start = start
        // The vocabulary's tables (built once per tokenizer, on first use) are read here rather than at the
        // first line start of the completion, where they cost ~0.5 ms of decoding time.
        _ = start.indentationGroups
        _ = start.tokenBytes
        _ = start.special
        var state = PythonIndentation(syntax: syntax)
        state.append(prefix)
        initial = state
        self.state = state
        var atCursor = state
        atCursor.append(start.healing)
        cursorWidth = atCursor.atLineIndentation && atCursor.codeMayStart(at: atCursor.indent) ? atCursor.indent : nil
        if let cursorWidth, let next = Self.firstCodeWidth(after: suffix) {
            needsHeader = next > cursorWidth
        } else {
            needsHeader = false
        }
    }

    /// The indentation of the first line of code after the cursor's line, when the rest of the cursor's line is
    /// blank (nil otherwise, or when there is none).
    static func firstCodeWidth(after suffix: [UInt8]) -> Int? {
        var lines = suffix.split(separator: ascii("\n"), omittingEmptySubsequences: false)[...]
        guard let rest = lines.popFirst(), rest.allSatisfy(CursorContext.isBlank) else { return nil }
        for line in lines {
            let code = line.drop(while: CursorContext.isBlank)
            guard let first = code.first, first != ascii("#") else { continue }
            return line.prefix(while: CursorContext.isBlank).reduce(0, CursorContext.widen)
        }
        return nil
    }

    /// Whether `code` (a token's text from its first non-blank byte) may begin a compound statement's keyword.
    static func mayOpenBlock(_ code: ArraySlice<UInt8>) -> Bool {
        let isName: (UInt8) -> Bool = { $0 == ascii("_") || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0)
            || (0x61...0x7A).contains($0) || $0 >= 0x80 }
        let word = code.prefix(while: isName)
        return blockKeywords.contains { keyword in
            word.count == code.count ? keyword.starts(with: word) : word.elementsEqual(keyword)
        }
    }

    /// The group of a token at a line's indentation: its leading spaces (0..<256) and what follows them
    /// (0 nothing, 1 a line break or comment, 2 code), as `kind << 8 | spaces`.
    static func slot(spaces: Int32, next: Int16) -> Int {
        let kind = next < 0 ? 0 : next == 0x0A || next == 0x0D || next == 0x23 || next == 0x0C ? 1 : 2   // \n \r # \f
        return kind << 8 | Int(spaces)
    }

    /// Time spent judging tokens and logits (`process`, `allows`, `mask`, `take`), and in `init` (reported with
    /// the syntax constraint's times).
    private(set) var microseconds = 0.0
    private(set) var setupMicroseconds = 0.0

    func process(_ logits: UnsafeMutableBufferPointer<Float>, history: [Int32]) {
        let started = DispatchTime.now().uptimeNanoseconds
        defer { microseconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1000 }
        guard history.count >= start.promptLength else { return }
        let generated = history.count - start.promptLength
        if generated < fed { reset() }
        while fed < generated { feed(history[start.promptLength + fed]) }
        refuse(in: logits, step: generated)
    }

    /// Back to the state right after the prefix (another decoding of the same completion).
    func reset() {
        state = initial
        fed = 0
        wroteLineBreak = false
        blockedAt = -1
    }

    private func feed(_ token: Int32) {
        if Int(token) >= 0, Int(token) < start.tokenBytes.count {
            state.append(start.tokenBytes[Int(token)])
            if start.tokenBytes[Int(token)].contains(ascii("\n")) { wroteLineBreak = true }
        }
        fed += 1
    }

    // MARK: As part of the syntax constraint (`IndentedConstraint`): the tokens come through `take`, and a
    // token is judged when the sampler checks it rather than by setting thousands of logits at each line start.

    /// Takes in a sampled token.
    func take(_ token: Int32) {
        let started = DispatchTime.now().uptimeNanoseconds
        feed(token)
        microseconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1000
    }

    /// Whether `token` may come next (what `process` would leave).
    func allows(_ token: Int32) -> Bool {
        guard state.atLineIndentation, Int(token) >= 0, Int(token) < start.tokenBytes.count,
              !start.special[Int(token)] else { return true }
        let started = DispatchTime.now().uptimeNanoseconds
        defer { microseconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1000 }
        let cursorWidth = wroteLineBreak ? nil : self.cursorWidth
        return verdict(start.tokenBytes[Int(token)], cursorWidth: cursorWidth, header: needsHeader && cursorWidth != nil)
    }

    /// Sets the logits of every token refused at this point to -inf.
    func mask(_ logits: UnsafeMutableBufferPointer<Float>) {
        let started = DispatchTime.now().uptimeNanoseconds
        defer { microseconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1000 }
        refuse(in: logits, step: fed)
    }

    /// The refusals at a line's indentation (`step`: tokens generated so far, to reuse them within a step).
    private func refuse(in logits: UnsafeMutableBufferPointer<Float>, step generated: Int) {
        guard state.atLineIndentation else { return }
        // The sampler may ask again in the same step (after refusals): the tokens refused are the same.
        if blockedAt == generated {
            for i in blocked where Int(i) < logits.count { logits[Int(i)] = -.infinity }
            return
        }
        let cursorWidth = wroteLineBreak ? nil : self.cursorWidth
        let header = needsHeader && cursorWidth != nil
        blocked.removeAll(keepingCapacity: true)
        let tokenBytes = start.tokenBytes
        if header {
            // The first line after a header's cursor: each token on its own (it must open a block).
            let special = start.special
            for i in 0..<min(logits.count, tokenBytes.count) where !special[i] {
                if !verdict(tokenBytes[i], cursorWidth: cursorWidth, header: true) { blocked.append(Int32(i)) }
            }
        } else {
            // One verdict per group of tokens with the same leading spaces and kind of what follows them.
            let groups = start.indentationGroups
            for (slot, tokens) in groups.slots {
                let spaces = slot & 0xFF
                let width = state.indent + spaces
                let ok = switch slot >> 8 {
                case 0: cursorWidth.map { width <= $0 } ?? state.indentationMayReach(width)
                case 1: true
                default: cursorWidth.map { width == $0 } ?? state.codeMayStart(at: width)
                }
                if !ok { blocked.append(contentsOf: tokens) }
            }
            for i in groups.others where !verdict(tokenBytes[Int(i)], cursorWidth: cursorWidth, header: false) {
                blocked.append(i)
            }
        }
        blockedAt = generated
        for i in blocked where Int(i) < logits.count { logits[Int(i)] = -.infinity }
    }

    /// The verdict on one token at a line's indentation, byte by byte (tabs widen to the next multiple of 8).
    private func verdict(_ bytes: [UInt8], cursorWidth: Int?, header: Bool) -> Bool {
        var width = state.indent, j = 0
        while j < bytes.count, bytes[j] == ascii(" ") || bytes[j] == ascii("\t") {
            width = CursorContext.widen(width, by: bytes[j])
            j += 1
        }
        if j == bytes.count {
            return cursorWidth.map { width <= $0 } ?? state.indentationMayReach(width)
        }
        let next = bytes[j]
        return (!header && (next == ascii("\n") || next == ascii("\r") || next == ascii("#") || next == 0x0C))
            || (cursorWidth.map { width == $0 && (!header || Self.mayOpenBlock(bytes[j...])) }
                ?? state.codeMayStart(at: width))
    }

    func accept(_ token: Int32) {}
}

/// A completion's syntax constraint with Python's indentation rule (`PythonIndentationProcessor`) checked like
/// the rest of the constraint: a token is judged when the sampler asks about it, and the rule masks only where
/// the sampler asks for a full mask.
final class IndentedConstraint: TokenConstraint {
    let syntax: SyntaxConstraint
    let indentation: PythonIndentationProcessor

    init(syntax: SyntaxConstraint, indentation: PythonIndentationProcessor) {
        self.syntax = syntax
        self.indentation = indentation
    }

    func allows(_ token: Int32) -> Bool { indentation.allows(token) && syntax.allows(token) }

    func mask(_ logits: UnsafeMutableBufferPointer<Float>) {
        syntax.mask(logits)
        indentation.mask(logits)
    }

    func accept(_ token: Int32) {
        syntax.accept(token)
        indentation.take(token)
    }

    func sampled(nanoseconds: UInt64) { syntax.sampled(nanoseconds: nanoseconds) }
}
