/// Why a completion ended.
public enum CompletionStop: String, Sendable, Codable {
    /// The model wrote its end-of-text (or end-of-turn, FIM padding, file separator) token.
    case endOfText = "eos"
    case maxTokens = "max_tokens"
    /// The context window is full.
    case contextFull = "context_full"
    /// The completion closed the bracket or brace the cursor was in.
    case closedConstruct = "closed_construct"
    /// The cursor was inside a line (code after it, or in a string or comment): one line at most. In front of
    /// the code of a line, that one line ends with a line break and the code's indentation.
    case endOfLine = "end_of_line"
    /// The statement begun on the cursor's line is complete.
    case endOfStatement = "end_of_statement"
    /// A line went left of the cursor's block (Python), or a block the completion opened closed.
    case endOfBlock = "end_of_block"
    /// A blank line after complete code.
    case blankLine = "blank_line"
    /// The completion began to repeat the line after the cursor.
    case suffixOverlap = "suffix_overlap"
    /// The completion wrote the same line twice in a row (a loop small models fall into).
    case repetition
    /// The caller cancelled generation.
    case cancelled
}

/// Where a stop rule ends the completion: the first `end` bytes are kept.
struct StopPoint: Equatable {
    var end: Int
    var reason: CompletionStop
}

/// Decides, as the completion grows, where it should end:
/// - when it closes the bracket or brace the cursor was in (before the closer when the code after the cursor
///   already closes it, else at the end of that line);
/// - in a line's middle, at the end of the line;
/// - after the statement begun on the cursor's line, once it is complete;
/// - on a line of its own: at a blank line after complete code, at a line indented left of the cursor's block
///   (Python), or after a line that closes a block it opened (brace languages);
/// - when a whole line repeats the first line after the cursor, or the completion's line before it.
/// "Complete" means complete lexically (brackets closed, no string open, no operator or `:` at the end) and,
/// where errors elsewhere in the file do not hide it, in the tree: no syntax error touches the inserted code.
struct StopRules {
    private let context: CursorContext
    private var scanner: CodeScanner
    private let baseDepth: Int
    /// The completion so far, as UTF-8.
    private(set) var bytes: [UInt8] = []
    private var scanned = 0
    private(set) var stop: StopPoint?

    // The line being read; line 0 is the cursor's line.
    private var lineNumber = 0
    private var lineStart = 0
    private var lineIndent: Int
    private var lineHasText: Bool
    private var lineHasCode: Bool
    /// The line starts inside brackets or a string, or after a backslash: not a new statement.
    private var lineContinues = false
    /// A brace closed on this line, and the line is back at the cursor's depth: a block the completion
    /// opened is closed.
    private var lineClosedBrace = false
    private var lineClosedBlock = false
    private var wroteText = false
    private var wroteCode = false
    private var blockIndent: Int?
    private var constructClosed = false
    /// Python, statement scope: the statement ended here unless the next line is indented deeper.
    private var pendingEnd: Int?
    /// The completion's last whole line, trimmed.
    private var previousLine = ""

    init(context: CursorContext) {
        self.context = context
        scanner = context.scanner
        baseDepth = context.scanner.depth
        lineIndent = context.cursorIndent
        lineHasText = !context.cursorLineBlank
        lineHasCode = !context.cursorLineBlank
        blockIndent = context.blockIndent
    }

    /// Python's indentation rules apply outside brackets only.
    private var usesIndentation: Bool { context.syntax.indentationBlocks && baseDepth == 0 }

    /// Adds generated text; returns the stop point once a rule fires (later text is ignored).
    mutating func append(_ text: String) -> StopPoint? {
        guard stop == nil else { return stop }
        bytes.append(contentsOf: text.utf8)
        read(final: false)
        return stop
    }

    /// Generation ended: reads what was held back, and cuts at a pending end of statement when more than
    /// whitespace follows it.
    mutating func finish() -> StopPoint? {
        if stop == nil { read(final: true) }
        if stop == nil, let pendingEnd, bytes[pendingEnd...].contains(where: { !Self.isSpace($0) }) {
            stop = StopPoint(end: pendingEnd, reason: .endOfStatement)
        }
        return stop
    }

    static func isSpace(_ byte: UInt8) -> Bool { CursorContext.isBlank(byte) || byte == ascii("\n") }

    private mutating func read(final: Bool) {
        while stop == nil, scanned < bytes.count, let (length, lexeme) = scanner.step(bytes, at: scanned, final: final) {
            handle(lexeme, at: scanned)
            scanned += length
        }
    }

    private mutating func handle(_ lexeme: CodeScanner.Lexeme, at position: Int) {
        switch lexeme {
        case .newline(let inCode):
            endLine(at: position, inCode: inCode)
            lineNumber += 1
            lineStart = position + 1
            lineIndent = 0
            lineHasText = false
            lineHasCode = false
            lineClosedBrace = false
            lineClosedBlock = false
            lineContinues = !inCode || scanner.depth > baseDepth || scanner.lastCode.1 == ascii("\\")
        case .space:
            if !lineHasText { lineIndent = CursorContext.widen(lineIndent, by: bytes[position]) }
        case .comment:
            lineHasText = true
            wroteText = true
        case .open, .close, .code, .string:
            if !lineHasCode { firstCodeOfLine() }
            guard stop == nil else { return }
            lineHasText = true
            lineHasCode = true
            wroteText = true
            wroteCode = true
            guard case .close(let closer) = lexeme else { return }
            if closer == ascii("}") { lineClosedBrace = true }
            if scanner.depth < baseDepth, !constructClosed {
                if context.suffixClosesInnermost {
                    stop = StopPoint(end: position, reason: .closedConstruct)
                } else {
                    constructClosed = true
                }
            } else if scanner.depth == baseDepth, lineClosedBrace {
                lineClosedBlock = true
            }
        }
    }

    /// Python: the first code of a line decides whether the line leaves the cursor's block.
    private mutating func firstCodeOfLine() {
        guard usesIndentation, !lineContinues else { return }
        if lineNumber == 0 {
            if context.cursorLineBlank, blockIndent == nil { blockIndent = lineIndent }
            return
        }
        guard let blockIndent else {
            blockIndent = lineIndent
            return
        }
        if lineIndent < blockIndent {
            stop = StopPoint(end: lineStart, reason: .endOfBlock)
        } else if let pendingEnd {
            if lineIndent <= context.cursorIndent {
                stop = StopPoint(end: pendingEnd, reason: .endOfStatement)
            } else {
                self.pendingEnd = nil
            }
        }
    }

    /// A line break at `position`; `inCode` when it ends a line of code.
    private mutating func endLine(at position: Int, inCode: Bool) {
        if context.scope == .line, wroteText {
            stop = StopPoint(end: context.insertsLineBefore ? position + 1 : position, reason: .endOfLine)
            return
        }
        let line = String(decoding: bytes[lineStart..<position], as: UTF8.self).trimmingWhitespace()
        if lineNumber > 0, line == previousLine, line.contains(where: { $0.isLetter || $0.isNumber }) {
            stop = StopPoint(end: lineStart, reason: .repetition)
            return
        }
        if !line.isEmpty { previousLine = line }
        guard inCode, scanner.depth <= baseDepth else { return }
        if constructClosed {
            stop = StopPoint(end: position, reason: .closedConstruct)
            return
        }
        guard wroteCode else { return }
        if lineHasCode, !lineContinues, lineNumber > 0 || context.cursorLineBlank,
           repeatsNextLine(bytes[lineStart..<position]) {
            stop = StopPoint(end: lineStart, reason: .suffixOverlap)
            return
        }
        switch context.scope {
        case .line:
            break
        case .statement:
            guard lineHasText, isComplete(upTo: position) else { return }
            if usesIndentation {
                pendingEnd = position
            } else {
                stop = StopPoint(end: position, reason: .endOfStatement)
            }
        case .block:
            if !lineHasText, lineNumber > 0 {
                if isComplete(upTo: lineStart) { stop = StopPoint(end: lineStart, reason: .blankLine) }
            } else if !context.syntax.indentationBlocks, lineClosedBlock, isComplete(upTo: position) {
                stop = StopPoint(end: position, reason: .endOfBlock)
            }
        }
    }

    /// Whether a line of the completion is the first line after the cursor again (lines of punctuation only,
    /// such as `}`, never count: they repeat legitimately).
    func repeatsNextLine(_ line: ArraySlice<UInt8>) -> Bool {
        let text = String(decoding: line, as: UTF8.self).trimmingWhitespace()
        return !text.isEmpty && text == context.nextLine && text.contains { $0.isLetter || $0.isNumber }
    }

    /// Whether the completion's first `end` bytes are complete code: lexically (checked as the scanner stands
    /// at a line break or line start) and, when the file's other errors do not hide it, in the tree.
    private func isComplete(upTo end: Int) -> Bool {
        guard scanner.mode == .code, scanner.depth <= baseDepth else { return false }
        let (before, last) = scanner.lastCode
        let continuing: Set<UInt8> = context.syntax.indentationBlocks
            ? Set(",\\+-*/%=<>&|^~.:([{@".utf8) : Set(",\\+-*/%=<>&|^~.([{?:".utf8)
        if continuing.contains(last), !(before == last && (last == ascii("+") || last == ascii("-"))) { return false }
        return !context.check.treeIsUsable || context.check.isComplete(bytes[..<end])
    }
}

extension StopRules {
    /// The completion to insert: cut where the rules stopped it, without trailing whitespace, and without a
    /// last line that repeats the line after the cursor or a tail that repeats the rest of the cursor's line
    /// (that tail goes when the file parses no worse without it; better, when the tail is only punctuation
    /// such as `)`, which the completion may need for itself).
    func finalText() -> String {
        if context.insertsLineBefore, let stop, stop.reason == .endOfLine {
            let line = bytes[..<stop.end]
            return repeatsNextLine(line) ? "" : String(decoding: line, as: UTF8.self) + context.indentation
        }
        var end = trimmingTrailingWhitespace(stop?.end ?? bytes.count)
        let lastLineStart = bytes[..<end].lastIndex(of: ascii("\n")).map { $0 + 1 } ?? 0
        if lastLineStart > 0 || context.cursorLineBlank, repeatsNextLine(bytes[lastLineStart..<end]) {
            end = trimmingTrailingWhitespace(lastLineStart)
        }
        let rest = Array(context.restOfLine.utf8)
        if !rest.isEmpty, end >= rest.count, bytes[(end - rest.count)..<end].elementsEqual(rest) {
            // The spaces before the tail go too: the code after the cursor brings its own.
            var shorter = end - rest.count
            while shorter > 0, Self.isSpace(bytes[shorter - 1]) { shorter -= 1 }
            let check = context.check
            let without = check.errorSites(with: bytes[..<shorter]).count
            let with = check.errorSites(with: bytes[..<end]).count
            if context.restOfLine.contains(where: { $0.isLetter || $0.isNumber }) ? without <= with : without < with {
                end = shorter
            }
        }
        return String(decoding: bytes[..<end], as: UTF8.self)
    }

    /// Where the completion ends without its trailing whitespace. Before code on the cursor's line, spaces
    /// that end the completion's last line separate it from that code, and stay.
    private func trimmingTrailingWhitespace(_ end: Int) -> Int {
        var start = end
        while start > 0, Self.isSpace(bytes[start - 1]) { start -= 1 }
        return context.restOfLine.isEmpty || bytes[start..<end].contains(ascii("\n")) ? start : end
    }
}
