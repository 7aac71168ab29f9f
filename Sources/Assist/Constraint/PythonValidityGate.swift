import Foundation
import Syntax

/// The Python part of the syntax constraint: what CPython rejects although tree-sitter-python's tables (which
/// `ViablePrefix` follows) accept it, judged at each logical line end (a line break outside brackets, strings
/// and backslash continuations), so that the token writing that line break is masked when the statement it
/// ends is invalid:
///
/// 1. The statement must be able to end there. Tree-sitter-python takes a line break after `a +` as white
///    space; CPython ends the logical line there and fails. Asked of `ViablePrefix` cheaply: the text with a
///    `;` instead of the line break must stay viable (unless the line ends a block header with `:`, a `;`, a
///    decorator, or a comment).
/// 2. The statements written so far must pass `PythonValidity` (assignment targets, `else` twice, `return`
///    outside a function, duplicate parameters, …). The text is parsed incrementally from the last tree, and
///    only the part after the cursor is walked; problems already in the text before the cursor (or let
///    through when the constraint fell back) are not held against the completion.
///
/// 3. CPython's grammar (`PythonFirstError`: its tokenizer and parser, which also see two statements on one
///    line, `import a b`, a bad literal) must fail nowhere before the end of the text.
///
/// Verdicts are cached by the token's bytes before its line break (most tokens with a line break start with
/// it, so a full mask costs a handful of parses).
final class PythonValidityGate {
    private let parser: Parser
    private let cursor: Int
    /// Lexical state after the accepted text.
    private var lines: PythonIndentation
    /// A tree of some accepted text (always a prefix of the current text), to parse from incrementally.
    private var base: Tree
    /// Offsets of violations not held against the completion.
    private var known: Set<Int>
    /// Verdicts and trees of candidate line ends, by the bytes between the accepted text and the line break.
    private var cache: [[UInt8]: (ok: Bool, tree: Tree?)] = [:]
    private let start: (lines: PythonIndentation, base: Tree, known: Set<Int>)
    /// False once the text before the cursor shows a grammar error of its own (step 3 is then skipped).
    private var grammarUsable = true
    /// Counters: logical line ends judged (parses), and refused.
    private(set) var judged = 0
    private(set) var refused = 0

    init(language: Language, syntax: LexicalSyntax, prefix: [UInt8]) throws {
        parser = try Parser(language: language)
        cursor = prefix.count
        var lines = PythonIndentation(syntax: syntax)
        lines.append(prefix)
        self.lines = lines
        base = try parser.parse(SourceText(bytes: prefix))
        known = Set(PythonValidity.violations(in: base).map(\.byteOffset))
        start = (lines, base, known)
    }

    func restart() {
        lines = start.lines
        base = start.base
        known = start.known
        grammarUsable = true
        cache.removeAll()
    }

    /// Whether the text `text` (everything accepted), followed by `before` and a line break, stays valid.
    /// `viable`: the recognizer after `text` minus `pending` (bytes it has not been given yet).
    func allows(text: [UInt8], pending: [UInt8], before: ArraySlice<UInt8>, viable: ViablePrefix) -> Bool {
        let key = Array(before)
        if let cached = cache[key] { return cached.ok }
        var ahead = lines
        ahead.append(before)
        guard ahead.lineBreakEndsStatement == true else {
            cache[key] = (true, nil)
            return true
        }
        // 1. The logical line can end here.
        let last = ahead.lastCodeByte
        let lineStart = (text.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0)
        let physical = text[lineStart...] + key
        let firstCode = physical.first { $0 != 0x20 && $0 != 0x09 && $0 != 0x0C }
        if !ahead.inLineComment, last != UInt8(ascii: ":"), last != UInt8(ascii: ";"), firstCode != UInt8(ascii: "@") {
            let probe = pending + key + [UInt8(ascii: ";")]
            if !probe.withUnsafeBufferPointer({ viable.check(bytes: $0) }) {
                cache[key] = (false, nil)
                refused += 1
                return false
            }
        }
        // 2. What was written so far is valid Python.
        judged += 1
        let appended = key + [0x0A]
        let all = text + appended
        guard let tree = try? parser.parse(SourceText(bytes: all), replacing: base.source.count..<base.source.count,
                                           replacementCount: all.count - base.source.count, in: base)
        else {
            cache[key] = (true, nil)
            return true
        }
        var ok = !PythonValidity.violations(in: tree, from: cursor).contains { !known.contains($0.byteOffset) }
        // 3. CPython's grammar (as PythonFirstError mirrors it) fails nowhere before the end of the text: at a
        //    logical line end, what is still open (a block after a header, an `if` waiting for `else`) is only
        //    missed at the end of the file. Not asked when the text before the cursor already has an error.
        if ok, grammarUsable {
            if let error = PythonFirstError.find(in: all), error.byteOffset < all.count {
                if error.byteOffset < cursor { grammarUsable = false } else { ok = false }
            }
        }
        if !ok { refused += 1 }
        cache[key] = (ok, tree)
        return ok
    }

    /// The constraint accepted `bytes` (the new text is `text`).
    func accept(_ bytes: [UInt8], text: [UInt8]) {
        lines.append(bytes)
        if let newline = bytes.firstIndex(of: 0x0A), let entry = cache[Array(bytes[..<newline])], let tree = entry.tree {
            base = tree
            if !entry.ok {
                // Let through (the constraint fell back): do not hold it against what follows.
                known.formUnion(PythonValidity.violations(in: tree, from: cursor).map(\.byteOffset))
            }
        }
        cache.removeAll(keepingCapacity: true)
    }
}
