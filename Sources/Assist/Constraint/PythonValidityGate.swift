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
///    through when the constraint fell back) are not held against the completion. Only the logical line being
///    ended is checked (with the constructs around it for context): the lines before it were judged at their
///    own ends. Only asked where the line may hold what this walk alone finds (`PythonValidity.lineNeedsWalk`):
///    the rest of what it finds, step 3 finds too.
///
/// 3. CPython's grammar (`PythonFirstError`: its tokenizer and parser, which also see two statements on one
///    line, `import a b`, a bad literal) must fail nowhere before the end of the text. It reads from the
///    statement before the line being ended, in its block or an enclosing one (the rest was read at earlier
///    line ends).
///
/// Verdicts are cached by the token's bytes before its line break (most tokens with a line break start with
/// it, so a full mask costs a handful of parses).
///
/// A comment does not change what CPython makes of its line, so a line that ends in a comment is judged
/// where the comment starts (`allowsComment`): a `#` after a statement that may not end there is refused, and
/// the line break at the comment's end reuses that verdict instead of parsing again. (Before, the `#` was
/// asked only whether the statement could end there; a comment after, say, a second `else:` was let through
/// and each of the model's attempts to end it cost a parse.)
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
    /// `MOECODER_CONSTRAINT_TRACE=1`: the cost of each judged line end on stderr.
    private static let trace = getenv("MOECODER_CONSTRAINT_TRACE") != nil

    /// `tree`: the prefix's parse, when the caller has it. `checkFrom`: where the last top-level statement of
    /// the prefix starts (`SyntaxConstraint.recognizerStart`), or 0: the problems of the prefix not held
    /// against the completion are looked for from there (the statements before it end before the cursor, so
    /// nothing in them can be reported at a line end the completion writes).
    init(language: Language, syntax: LexicalSyntax, prefix: [UInt8], tree: Tree? = nil, checkFrom: Int = 0) throws {
        parser = try Parser(language: language)
        cursor = prefix.count
        var lines = PythonIndentation(syntax: syntax)
        lines.append(prefix)
        self.lines = lines
        base = try tree ?? parser.parse(SourceText(bytes: prefix))
        known = Set(PythonValidity.violations(in: base, from: checkFrom).map(\.byteOffset))
        start = (lines, base, known)
        Self.warmUp(language: language, syntax: syntax)
    }

    private static let warmLock = NSLock()
    nonisolated(unsafe) private static var warmed = false

    /// Judges two line ends of a small text, once per process. The first judgment in a process costs
    /// 0.2–0.6 ms more than later ones (the incremental parse, the validity walk and CPython's grammar touch
    /// their code and data for the first time); done here, at set-up, that cost does not land on the first
    /// line end a completion writes.
    private static func warmUp(language: Language, syntax: LexicalSyntax) {
        warmLock.lock()
        let done = warmed
        warmed = true
        warmLock.unlock()
        guard !done else { return }
        let prefix = Array("import os\n\n\nclass A(object):\n    @property\n    def f(self, a, *b, c=1, **d):\n        try:\n            x = [i for i in b if i]\n        except (KeyError, ValueError) as e:\n            raise\n        if a:\n            return {'k': f\"{a!r}\"}\n        else:\n            y = ".utf8)
        guard let gate = try? PythonValidityGate(language: language, syntax: syntax, prefix: prefix),
              let viable = try? ViablePrefix(language: language), viable.append(bytes: prefix) else { return }
        var text = prefix
        for line in ["os.path.join(a, *b) + -1", "        while y:", "            y -= 1 if y else 0"] {
            let bytes = Array(line.utf8)
            _ = gate.allows(text: text, pending: [], before: bytes[...], viable: viable)
            let accepted = bytes + [0x0A]
            text += accepted
            guard viable.append(bytes: accepted) else { return }
            gate.accept(accepted, text: text)
        }
    }

    func restart() {
        lines = start.lines
        base = start.base
        known = start.known
        grammarUsable = true
        cache.removeAll()
        commentCache.removeAll()
        commentVerdict = nil
    }

    /// Whether the text `text` (everything accepted), followed by `before` and a line break, stays valid.
    /// `viable`: the recognizer after `text` minus `pending` (bytes it has not been given yet).
    func allows(text: [UInt8], pending: [UInt8], before: ArraySlice<UInt8>, viable: ViablePrefix) -> Bool {
        let entered = DispatchTime.now().uptimeNanoseconds
        // Inside a comment that the accepted text opened, the verdict is the one given at its `#`.
        if lines.inLineComment, let verdict = commentVerdict {
            if !verdict { refused += 1 }
            return verdict
        }
        let key = Array(before)
        if let cached = cache[key] { return cached.ok }
        var ahead = lines
        ahead.append(before)
        guard ahead.lineBreakEndsStatement == true else {
            cache[key] = (true, nil)
            return true
        }
        // 1. The logical line can end here.
        if !Self.statementMayEnd(ahead, text: text, pending: pending, key: key, viable: viable) {
            cache[key] = (false, nil)
            refused += 1
            return false
        }
        // 2. What was written so far is valid Python (`PythonValidity`), where the logical line may hold what only
        //    that walk finds (`PythonValidity.lineNeedsWalk`: a `return` outside a function's body as the headers
        //    around the line tell (`PythonIndentation.insideFunction`), a `*`, a keyword argument named twice,
        //    …); everything else it reports, CPython's grammar (step 3) reports too (the test
        //    `needsTheWalkWhereTheGrammarIsSilent` checks this on every case of the fixtures). Most lines need neither
        //    tree-sitter's parse nor the walk, the costliest part of a judgment.
        let t0 = DispatchTime.now().uptimeNanoseconds
        let appended = key + [0x0A]
        let lineStart = ahead.logicalLineStart
        let line = lineStart < text.count ? Array(text[lineStart...]) + key : Array(key[min(key.count, lineStart - text.count)...])
        var ok = true, all: [UInt8], tree: Tree?
        var t1 = t0, t2 = t0
        // (Always where step 3 is not asked: the text before the cursor has an error of CPython's grammar.)
        // (`insideFunction` only where the line asks for the walk: it reads the headers back to the enclosing one.)
        if !grammarUsable || PythonValidity.lineNeedsWalk(line[...])
            && (!ahead.insideFunction || PythonValidity.lineNeedsWalk(line[...], returnInFunction: true)) {
            judged += 1
            // The tree's text is a prefix of the text: extend it (and its line index) rather than rebuild them.
            let source = base.source.appending(Array(text[base.source.count...]) + appended)
            all = source.bytes
            guard let parsed = try? parser.parse(source, replacing: base.source.count..<base.source.count,
                                                 replacementCount: all.count - base.source.count, in: base)
            else {
                cache[key] = (true, nil)
                return true
            }
            tree = parsed
            t1 = DispatchTime.now().uptimeNanoseconds
            //    Walked from the start of this logical line (earlier lines were judged at their own ends; the nodes
            //    around the line are still followed for their context).
            let lineFrom = max(cursor, lineStart)
            ok = !PythonValidity.violations(in: parsed, from: lineFrom).contains { !known.contains($0.byteOffset) }
            t2 = DispatchTime.now().uptimeNanoseconds
        } else {
            all = text + appended
        }
        // 3. CPython's grammar (as PythonFirstError mirrors it) fails nowhere before the end of the text: at a
        //    logical line end, what is still open (a block after a header, an `if` waiting for `else`) is only
        //    missed at the end of the file. Not asked when the text before the cursor already has an error.
        //    Read from the statement before this logical line in the same block or an enclosing one
        //    (`restartPoint`): what comes before it was read at earlier line ends, so the cost stays that of a
        //    statement or two as the text grows.
        if ok, grammarUsable {
            let (from, indentation) = ahead.restartPoint
            if let error = PythonFirstError.find(in: from == 0 ? all : Array(all[from...]), baseIndentation: indentation,
                                                    partial: true),
               from + error.byteOffset < all.count {
                if from + error.byteOffset < cursor { grammarUsable = false } else { ok = false }
            }
        }
        let t3 = DispatchTime.now().uptimeNanoseconds
        if Self.trace {
            FileHandle.standardError.write(Data("gate: \(all.count) bytes, probe \((t0 - entered) / 1000) us, parse \((t1 - t0) / 1000) us, violations \((t2 - t1) / 1000) us, grammar \((t3 - t2) / 1000) us\n".utf8))
        }
        if !ok { refused += 1 }
        cache[key] = (ok, tree)
        return ok
    }

    /// Verdicts of comment starts, by the bytes between the accepted text and the `#`.
    private var commentCache: [[UInt8]: Bool] = [:]
    /// The verdict given at the `#` of the comment the accepted text ends in (nil when it ends in code, or
    /// when the comment's start was not judged).
    private var commentVerdict: Bool?

    /// Whether a `#` after the accepted text and `before` may start a comment: in code, outside brackets, a
    /// comment runs to the end of the line, so the line must be able to end there as `allows` judges it
    /// (`total = # …` is refused where the model would otherwise write a comment and never the value). White
    /// space before the `#` does not change the verdict, so it is judged (and cached) without it.
    func allowsComment(text: [UInt8], pending: [UInt8], before: ArraySlice<UInt8>, viable: ViablePrefix) -> Bool {
        let key = Array(before)
        if let cached = commentCache[key] { return cached }
        var ahead = lines
        ahead.append(before)
        var ok = true
        if ahead.lineBreakEndsStatement == true {
            var code = before
            while let last = code.last, last == 0x20 || last == 0x09 || last == 0x0C { code = code.dropLast() }
            let refusedBefore = refused
            ok = allows(text: text, pending: pending, before: code, viable: viable)
            refused = refusedBefore + (ok ? 0 : 1)
        }
        commentCache[key] = ok
        return ok
    }

    /// Step 1 of `allows`, also asked at a comment's start: whether the statement can end after the accepted
    /// text and `key` (`ahead` has read both): the text with a `;` there must stay viable. Not asked in a
    /// comment, after a block header's `:` or a `;`, or on a decorator line.
    private static func statementMayEnd(_ ahead: PythonIndentation, text: [UInt8], pending: [UInt8], key: [UInt8],
                                        viable: ViablePrefix) -> Bool {
        let last = ahead.lastCodeByte
        let lineStart = (text.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0)
        let firstCode = (text[lineStart...] + key).first { $0 != 0x20 && $0 != 0x09 && $0 != 0x0C }
        guard !ahead.inLineComment, last != UInt8(ascii: ":"), last != UInt8(ascii: ";"),
              firstCode != UInt8(ascii: "@") else { return true }
        let probe = pending + key + [UInt8(ascii: ";")]
        return probe.withUnsafeBufferPointer { viable.check(bytes: $0) }
    }

    /// The constraint accepted `bytes` (the new text is `text`).
    func accept(_ bytes: [UInt8], text: [UInt8]) {
        let wasInComment = lines.inLineComment
        lines.append(bytes)
        if !lines.inLineComment {
            commentVerdict = nil
        } else if !wasInComment {
            // This token opened the comment: keep the verdict its `#` was given.
            commentVerdict = bytes.firstIndex(of: 0x23).flatMap { commentCache[Array(bytes[..<$0])] }
        }
        if let newline = bytes.firstIndex(of: 0x0A), let entry = cache[Array(bytes[..<newline])], let tree = entry.tree {
            base = tree
            if !entry.ok {
                // Let through (the constraint fell back): do not hold it against what follows.
                known.formUnion(PythonValidity.violations(in: tree, from: cursor).map(\.byteOffset))
            }
        }
        cache.removeAll(keepingCapacity: true)
        commentCache.removeAll(keepingCapacity: true)
    }
}
