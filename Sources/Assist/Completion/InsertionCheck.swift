import Syntax

/// Parses the file with a completion inserted at the cursor, to tell whether the inserted code is complete
/// (no new syntax error touches it) and whether the whole file parses.
final class InsertionCheck {
    /// An ERROR node (its whole span, not looked into) or a MISSING node (empty, where it was inserted).
    struct ErrorSite {
        var range: Range<Int>
        /// nil for an ERROR node.
        var missing: MissingNode?
    }

    /// A missing node told by its type and the code after it: a missing `}` that moves with the code before
    /// it is still the same error.
    struct MissingNode: Hashable {
        var type: String
        /// Bytes other than whitespace after the node.
        var codeAfter: Int
    }

    private let parser: Parser
    private let prefix: [UInt8]
    private let suffix: [UInt8]
    /// False when errors already in the file span from above the cursor's line across the cursor: then an
    /// error touching the completion says nothing about the completion, and the lexical rules decide alone.
    let treeIsUsable: Bool
    /// Errors of the file without the completion that the completion cannot have caused: ERROR nodes wholly
    /// before the cursor or after it (moved by the completion's length), and missing nodes.
    private let errorsBefore: Set<Range<Int>>
    private let errorsAfter: [Range<Int>]
    private let missing: Set<MissingNode>
    /// Python: indentation is checked too (tree-sitter-python does not enforce it).
    private let indentation: LexicalSyntax?
    /// Python: what CPython rejects in the file without the completion (`PythonValidity`), before the cursor
    /// and after it (as offsets from the cursor); nil for other languages.
    private let knownInvalid: (before: Set<Int>, after: Set<Int>)?
    /// Python: CPython's first syntax error in the file without the completion (`PythonFirstError`), which a
    /// completion may leave in place (moved by its length when after the cursor) but not add to.
    private let knownFirstError: PythonViolation?

    init(language: Language, prefix: [UInt8], suffix: [UInt8]) throws {
        parser = try Parser(language: language)
        self.prefix = prefix
        self.suffix = language.name == "python" ? try Self.ownPart(of: suffix, after: prefix, parser: parser) : suffix
        let cursor = prefix.count
        let lineStart = (prefix.lastIndex(of: ascii("\n")) ?? -1) + 1
        let original = try parser.parse(SourceText(bytes: prefix + suffix))   // (the whole suffix, as given)
        let baseline = Self.errorSites(original)
        treeIsUsable = !baseline.contains { $0.range.lowerBound < lineStart && $0.range.upperBound > cursor }
        errorsBefore = Set(baseline.filter { $0.missing == nil && $0.range.upperBound <= cursor }.map(\.range))
        errorsAfter = baseline.filter { $0.missing == nil && $0.range.lowerBound >= cursor }.map(\.range)
        missing = Set(baseline.compactMap(\.missing))
        indentation = language.name == "python" ? LexicalSyntax.of(language) : nil
        if language.name == "python" {
            let found = PythonValidity.violations(in: original).map(\.byteOffset)
            knownInvalid = (Set(found.filter { $0 < cursor }), Set(found.filter { $0 >= cursor }.map { $0 - cursor }))
            knownFirstError = PythonFirstError.find(in: prefix + suffix)
        } else {
            knownInvalid = nil
            knownFirstError = nil
        }
    }

    /// Python: the part of `suffix` this check judges. When the code after the cursor goes on, past the
    /// top-level statement the cursor is in, with top-level statements that fail by themselves (another function
    /// left unfinished further down), no completion can make the whole file parse, and every decoding would be
    /// refused: those statements are the file's own problem, so the check stops before them. The part kept ends
    /// where a line at column 0 starts a statement (not `else`, `elif`, `except`, `finally`, a closing bracket or
    /// a comment), outside brackets and strings, when the rest fails on its own (tree-sitter or CPython's
    /// grammar); otherwise the whole suffix is kept.
    static func ownPart(of suffix: [UInt8], after prefix: [UInt8], parser: Parser) throws -> [UInt8] {
        let continuations = ["else", "elif", "except", "finally"].map { Array($0.utf8) }
        var start = (suffix.firstIndex(of: ascii("\n")) ?? suffix.count) + 1
        while start < suffix.count {
            let end = suffix[start...].firstIndex(of: ascii("\n")) ?? suffix.count
            let first = suffix[start]
            let line = suffix[start..<end]
            let startsStatement = first != ascii(" ") && first != ascii("\t") && first != ascii("\n")
                && first != ascii("\r") && first != ascii("#") && !")]}".utf8.contains(first)
                && !continuations.contains { keyword in
                    line.starts(with: keyword) && (line.count == keyword.count
                        || !(line[line.startIndex + keyword.count] == ascii("_")
                             || (0x30...0x39).contains(line[line.startIndex + keyword.count])
                             || (0x41...0x5A).contains(line[line.startIndex + keyword.count] & 0xDF)))
                }
            if startsStatement {
                // A statement boundary only outside brackets and strings (and with the indentation readable).
                var lines = PythonIndentation(syntax: LexicalSyntax.of(parser.language))
                lines.append(prefix + suffix[..<start])
                let rest = Array(suffix[start...])
                if lines.atLineIndentation,
                   try parser.parse(SourceText(bytes: rest)).hasErrors || PythonFirstError.find(in: rest) != nil {
                    return Array(suffix[..<start])
                }
                return suffix
            }
            start = end + 1
        }
        return suffix
    }

    static func errorSites(_ tree: Tree) -> [ErrorSite] {
        var sites: [ErrorSite] = []
        guard tree.hasErrors else { return sites }
        let bytes = tree.source.bytes
        func codeAfter(_ offset: Int) -> Int {
            bytes[offset...].reduce(0) { $0 + (CursorContext.isBlank($1) || $1 == ascii("\n") ? 0 : 1) }
        }
        tree.root.walk { node in
            guard node.hasError else { return false }
            if node.isMissing {
                sites.append(ErrorSite(range: node.startByte..<node.startByte,
                                       missing: MissingNode(type: node.type, codeAfter: codeAfter(node.startByte))))
                return false
            }
            if node.isError {
                sites.append(ErrorSite(range: node.byteRange, missing: nil))
                return false
            }
            return true
        }
        return sites
    }

    /// The error sites of the file with `inserted` at the cursor.
    func errorSites(with inserted: ArraySlice<UInt8>) -> [ErrorSite] {
        guard let tree = try? parser.parse(SourceText(bytes: prefix + inserted + suffix)) else { return [] }
        return Self.errorSites(tree)
    }

    /// Whether no new syntax error reaches into `inserted` or ends it (a missing `)` right after it).
    func isComplete(_ inserted: ArraySlice<UInt8>) -> Bool {
        let start = prefix.count, end = prefix.count + inserted.count
        let moved = Set(errorsAfter.map { ($0.lowerBound + inserted.count)..<($0.upperBound + inserted.count) })
        return !errorSites(with: inserted).contains { site in
            if let node = site.missing {
                return !missing.contains(node) && (start...end).contains(site.range.lowerBound)
            }
            let known = errorsBefore.contains(site.range) || moved.contains(site.range)
            return !known && site.range.lowerBound <= end && site.range.upperBound > start
        }
    }

    /// Whether the whole file parses with `inserted` at the cursor (for Python, with its indentation rules, and
    /// with nothing CPython rejects that the file did not have before: see `PythonValidity`).
    func parses(with inserted: ArraySlice<UInt8>) -> Bool {
        let bytes = prefix + inserted + suffix
        guard let tree = try? parser.parse(SourceText(bytes: bytes)), !tree.hasErrors else { return false }
        return indentationAllows(bytes) && validityAllows(tree, inserted: inserted.count)
            && grammarAllows(bytes, inserted: inserted.count)
    }

    /// Python: whether CPython's tokenizer and parser (as `PythonFirstError` mirrors them) accept the file with
    /// the completion, or fail at the error the file already had (prefix + suffix is what the check judges:
    /// the completion must fit the code after the cursor).
    func grammarAllows(_ bytes: [UInt8], inserted: Int) -> Bool {
        guard knownInvalid != nil, let error = PythonFirstError.find(in: bytes) else { return true }
        guard let known = knownFirstError, error.message == known.message else { return false }
        let cursor = prefix.count
        if known.byteOffset < cursor { return error.byteOffset == known.byteOffset }
        return error.byteOffset == known.byteOffset + inserted
    }

    /// Python: whether the file with `inserted` bytes at the cursor has no problem CPython rejects that the file
    /// without them did not have (always, for other languages).
    func validityAllows(_ tree: Tree, inserted: Int) -> Bool {
        guard let (before, after) = knownInvalid else { return true }
        let cursor = prefix.count
        return PythonValidity.violations(in: tree).allSatisfy { v in
            v.byteOffset < cursor ? before.contains(v.byteOffset)
                : v.byteOffset >= cursor + inserted && after.contains(v.byteOffset - cursor - inserted)
        }
    }

    /// The last tree `parsesIncrementally` made and the insertion it holds.
    private var incremental: (inserted: [UInt8], tree: Tree)?

    /// `parses(with:)` for a sequence of insertions that differ little from one to the next (cutting a completion
    /// back byte by byte): each file is parsed from the previous one's tree, re-reading only what changed. A
    /// "parses" answer is confirmed by a parse from scratch, so an incremental re-parse can only make a candidate
    /// be passed over, never accepted wrongly.
    func parsesIncrementally(with inserted: ArraySlice<UInt8>) -> Bool {
        let bytes = prefix + inserted + suffix, source = SourceText(bytes: bytes)
        var tree: Tree?
        if let (last, previous) = incremental {
            var same = 0
            while same < min(last.count, inserted.count), last[same] == inserted[inserted.startIndex + same] { same += 1 }
            var sameEnd = 0
            while sameEnd < min(last.count, inserted.count) - same,
                  last[last.count - 1 - sameEnd] == inserted[inserted.endIndex - 1 - sameEnd] { sameEnd += 1 }
            let start = prefix.count + same
            tree = try? parser.parse(source, replacing: start..<(prefix.count + last.count - sameEnd),
                                     replacementCount: inserted.count - same - sameEnd, in: previous)
        } else {
            tree = try? parser.parse(source)
        }
        guard let tree else { incremental = nil; return false }
        incremental = (Array(inserted), tree)
        return !tree.hasErrors && parses(with: inserted)
    }

    /// Whether the file's indentation is as Python wants it (always, for other languages). Like the parse, this
    /// judges the whole file: an indentation error anywhere, even one the file had before, fails it (taking a
    /// header out shows up lines later, as a dedent to a level that no longer exists).
    func indentationAllows(_ bytes: [UInt8]) -> Bool {
        guard let indentation else { return true }
        return PythonIndentation.firstError(in: bytes, syntax: indentation) == nil
    }
}
