import Engine
import Foundation
import Syntax
import Tokenizer

/// Counters a constraint keeps, for `--json` output and benchmarks.
public struct ConstraintStatistics: Sendable, Codable {
    /// Tokens checked one by one (the sampler's pick, before any mask).
    public var checks = 0
    /// Tokens the constraint refused: the sampler's picks, and the candidates its ranked scan checked.
    public var refusals = 0
    /// Full masks computed, and how many came from the cache.
    public var masks = 0
    public var cachedMasks = 0
    /// Time spent in checks and masks.
    public var checkMicroseconds = 0.0
    public var maskMicroseconds = 0.0
    /// Time spent taking in the sampled tokens (the recognizer, the string scanner and the Python gate follow
    /// the text).
    public var acceptMicroseconds = 0.0
    /// Python: time the completion's indentation rule (`PythonIndentationProcessor`, checked with the constraint
    /// through `IndentedConstraint`) spent judging and taking in tokens and on full masks.
    public var indentationMicroseconds = 0.0
    /// Steps where no token was allowed and the constraint let everything through.
    public var fallbacks = 0
    /// Time the constraint took for each sampled token (checks, the mask when the sampler asked for it, and
    /// taking in the token; not the indentation rule's time).
    public var stepMicroseconds: [Double] = []
    /// Python: logical line ends judged by `PythonValidity` (each a parse), and line-break tokens it refused.
    public var pythonJudged = 0
    public var pythonRefused = 0
    /// Time spent in the Python validity gate (within the checks and masks).
    public var pythonMicroseconds = 0.0
    /// The sampler's constrained-only time, measured around it (`TokenConstraint.sampled`): everything after the
    /// pick it makes without a constraint. It contains the checks, masks, accepting tokens and the indentation
    /// rule, and adds the sampler's own work on refusals (redraws, the ranking, the ranked scan, the pick after a
    /// mask). 0 where no sampler reported it.
    public var sampledMicroseconds = 0.0
    /// The sampler's own part: `sampledMicroseconds` less the parts counted by the constraint.
    public var samplerMicroseconds: Double {
        max(0, sampledMicroseconds - (checkMicroseconds + maskMicroseconds + acceptMicroseconds + indentationMicroseconds))
    }
    /// All of the constraint's per-token time: checks, masks, accepting tokens, the indentation rule and the
    /// sampler's work on refusals.
    public var totalMicroseconds: Double {
        checkMicroseconds + maskMicroseconds + acceptMicroseconds + indentationMicroseconds + samplerMicroseconds
    }
    /// Time the constraint took to set up (before the first token: reading the prefix, and once per process
    /// warming the Python gate); not part of the per-token times.
    public var setupMicroseconds = 0.0

    /// Mean and 99th percentile of the per-token time, in microseconds.
    public var stepMean: Double { stepMicroseconds.isEmpty ? 0 : stepMicroseconds.reduce(0, +) / Double(stepMicroseconds.count) }
    public var stepP99: Double {
        guard !stepMicroseconds.isEmpty else { return 0 }
        let sorted = stepMicroseconds.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1)]
    }

    enum CodingKeys: String, CodingKey {
        case checks, refusals, masks, cachedMasks = "cached_masks", checkMicroseconds = "check_us"
        case maskMicroseconds = "mask_us", acceptMicroseconds = "accept_us"
        case indentationMicroseconds = "indentation_us", totalMicroseconds = "total_us", fallbacks, stepMean = "step_us_mean", stepP99 = "step_us_p99"
        case pythonJudged = "python_judged", pythonRefused = "python_refused", pythonMicroseconds = "python_us"
        case setupMicroseconds = "setup_us", sampledMicroseconds = "sampled_us", samplerMicroseconds = "sampler_us"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(checks, forKey: .checks)
        try c.encode(refusals, forKey: .refusals)
        try c.encode(masks, forKey: .masks)
        try c.encode(cachedMasks, forKey: .cachedMasks)
        try c.encode(checkMicroseconds, forKey: .checkMicroseconds)
        try c.encode(maskMicroseconds, forKey: .maskMicroseconds)
        try c.encode(acceptMicroseconds, forKey: .acceptMicroseconds)
        try c.encode(indentationMicroseconds, forKey: .indentationMicroseconds)
        try c.encode(totalMicroseconds, forKey: .totalMicroseconds)
        try c.encode(fallbacks, forKey: .fallbacks)
        try c.encode(stepMean, forKey: .stepMean)
        try c.encode(stepP99, forKey: .stepP99)
        try c.encode(pythonJudged, forKey: .pythonJudged)
        try c.encode(pythonRefused, forKey: .pythonRefused)
        try c.encode(pythonMicroseconds, forKey: .pythonMicroseconds)
        try c.encode(setupMicroseconds, forKey: .setupMicroseconds)
        try c.encode(sampledMicroseconds, forKey: .sampledMicroseconds)
        try c.encode(samplerMicroseconds, forKey: .samplerMicroseconds)
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        checks = try c.decode(Int.self, forKey: .checks)
        refusals = try c.decode(Int.self, forKey: .refusals)
        masks = try c.decode(Int.self, forKey: .masks)
        cachedMasks = try c.decode(Int.self, forKey: .cachedMasks)
        checkMicroseconds = try c.decode(Double.self, forKey: .checkMicroseconds)
        maskMicroseconds = try c.decode(Double.self, forKey: .maskMicroseconds)
        acceptMicroseconds = try c.decodeIfPresent(Double.self, forKey: .acceptMicroseconds) ?? 0
        indentationMicroseconds = try c.decodeIfPresent(Double.self, forKey: .indentationMicroseconds) ?? 0
        fallbacks = try c.decode(Int.self, forKey: .fallbacks)
        pythonJudged = try c.decodeIfPresent(Int.self, forKey: .pythonJudged) ?? 0
        pythonRefused = try c.decodeIfPresent(Int.self, forKey: .pythonRefused) ?? 0
        pythonMicroseconds = try c.decodeIfPresent(Double.self, forKey: .pythonMicroseconds) ?? 0
        setupMicroseconds = try c.decodeIfPresent(Double.self, forKey: .setupMicroseconds) ?? 0
        sampledMicroseconds = try c.decodeIfPresent(Double.self, forKey: .sampledMicroseconds) ?? 0
    }
}

/// Keeps generated code parsable: a token is allowed when the text with it appended is still a prefix of
/// some program of the language (see `ViablePrefix`). Strings and comments are free text because the
/// grammar's lexer says so. End-of-text tokens are always allowed; other special tokens never are.
///
/// Python: at each logical line end, also what CPython rejects and tree-sitter-python accepts (see
/// `PythonValidityGate`): the token that would end an invalid statement is refused.
///
/// When the text is already not viable (a broken prefix) or nothing is allowed, it degrades: it lets every
/// token through, says so in `degraded`, and tries again once the text becomes viable.
public final class SyntaxConstraint: TokenConstraint {
    public let language: Language
    public private(set) var statistics = ConstraintStatistics()
    /// Why the constraint is not filtering, when it is not.
    public private(set) var degraded: String?

    private let tokenizer: BPETokenizer
    private var state: ViablePrefix
    /// Bytes of a UTF-8 character split across tokens, not yet given to the recognizer.
    private var pending: [UInt8] = []
    private let tokenBytes: [[UInt8]]
    /// Tokens whose bytes are whole, valid UTF-8 characters.
    private let completeUTF8: [Bool]
    /// Per token: 1 always allowed (end of text), 2 never (other special tokens), 0 judged by the grammar
    /// (an array rather than sets: a full mask asks for every token of the vocabulary).
    private let kinds: [UInt8]
    private var maskCache: [UInt64: [Bool]] = [:]
    /// Time spent on the current step so far.
    private var stepTime = 0.0
    /// All text so far (prefix and accepted tokens), used to start over after degrading.
    private var text: [UInt8]
    /// The recognizer, pending bytes, text and degradation right after the prefix, for `restart()`.
    private let start: (state: ViablePrefix, pending: [UInt8], text: [UInt8], degraded: String?,
                        lexical: CodeScanner?, lexicalPosition: Int)
    /// Python's validity at logical line ends (nil for other languages or with `pythonValidity: false`).
    private let gate: PythonValidityGate?
    /// Tokens with a line break in them: the gate judges these on top of the (cached) viable-prefix mask.
    private let lineBreakTokens: [Int]
    /// Tokens with a `#` in them (a comment may start there): the gate judges these too.
    private let commentTokenIds: [Int]
    private let commentTokens: [Bool]
    /// Tokens that are spaces and then an ASCII name (see `Tables.nameShapes`), for the mask's shortcut.
    private let nameShapes: [UInt8]
    /// Per token: its first byte (0 when empty), its length, and the slot of its first two bytes in `pairStamp`
    /// (-1 unless it is longer than two bytes and both are ASCII). Read by the full mask and `startAllowed` instead
    /// of the token's byte array (taking each of 8,192 arrays out of `tokenBytes` retained and released it: a
    /// fifth of a mask's cost).
    private let firstBytes: [UInt8]
    private let tokenLengths: [Int32]
    private let pairSlots: [Int32]
    /// Python: where strings and comments are in the accepted text (read up to `lexicalPosition`), so that
    /// tokens of plain text inside them are allowed without the recognizer. Its lexer reads a string or comment
    /// from its start at every check, which made each token inside a long docstring cost as much as the whole
    /// docstring so far. Such tokens' bytes wait in `deferred` and reach the recognizer in one piece with the
    /// next token that is not plain text (or when a mask is asked for).
    private var lexical: CodeScanner?
    private var lexicalPosition = 0
    /// Python: the escapes of the string the accepted text ends in (read with `lexical`), and their state right
    /// after the prefix, for `restart()`.
    private var escapes: PythonEscapes?
    private var startEscapes: PythonEscapes?
    private var deferred: [UInt8] = []
    /// The recognizer after the text and the token checked last (while nothing else was appended since).
    private var checked: (token: Int32, state: ViablePrefix)?
    /// A recognizer no one else holds (the one `accept` replaced, or a `checked` one it dropped), overwritten
    /// with `state` for the next kept check instead of a fresh copy.
    private var spare: ViablePrefix?
    /// Refusals in the current step. From `stormRefusals` on, a token is first checked by its first two
    /// (ASCII) bytes, and their verdict kept for the step: at a point where few tokens fit (after `except e`
    /// most of the model's favourites are ` word` tokens), the sampler's retries and ranked scan then cost a
    /// check per distinct two-byte start instead of one per token. (A prefix of a viable text is viable, so a
    /// refused start refuses the token.)
    private var stepRefusals = 0
    private static let stormRefusals = 8
    /// Verdicts of two-byte starts, valid where the stamp equals `step` (1 allowed, 0 refused).
    /// Slots below 128 * 128 are two-byte starts; the 128 after them, single first bytes (`firstByteAllowed`).
    private var pairStamp = [UInt32](repeating: 0, count: 128 * 128 + 128)
    private var pairAllowed = [Bool](repeating: false, count: 128 * 128 + 128)
    private var step: UInt32 = 1
    /// Tokens the last full mask checked whole (for the trace).
    private var maskWholeChecks = 0
    /// `MOECODER_CONSTRAINT_TRACE=1`: one line per step on stderr (time, running counters, the token).
    /// (`getenv`, not `ProcessInfo.environment`: that builds a dictionary of the whole environment, ~370 K
    /// instructions, which landed on the first token of every completion.)
    private static let trace = getenv("MOECODER_CONSTRAINT_TRACE") != nil

    /// A constraint for text that continues `prefix`. `allowEndOfText`: whether end-of-text tokens may end
    /// the text anywhere (true for completions; false when generation must not stop on them).
    /// `endTokens`: more tokens that end the text (a FIM format's stop tokens), allowed like end-of-text.
    public init(language: Language, tokenizer: BPETokenizer, prefix: String, allowEndOfText: Bool = true,
                endTokens: Set<Int32> = [], pythonValidity: Bool = true) throws {
        let setupStart = DispatchTime.now().uptimeNanoseconds
        self.language = language
        self.tokenizer = tokenizer
        let tables = Self.tablesCache.value(for: tokenizer)
        let bytes = tables.bytes
        var always: Set<Int32> = [], never = Set(tables.special)
        for end in [tokenizer.eos, tokenizer.fim?.endOfText].compactMap({ $0 }) + Array(endTokens) {
            if allowEndOfText {
                always.insert(end)
                never.remove(end)
            } else {
                never.insert(end)
            }
        }
        tokenBytes = bytes
        completeUTF8 = tables.completeUTF8
        nameShapes = tables.nameShapes
        firstBytes = tables.firstBytes
        tokenLengths = tables.lengths
        pairSlots = tables.pairSlots
        lineBreakTokens = tables.lineBreaks.filter { !never.contains(Int32($0)) && !always.contains(Int32($0)) }
        commentTokenIds = language.name == "python" && pythonValidity
            ? bytes.indices.filter { bytes[$0].contains(0x23) && !never.contains(Int32($0)) && !always.contains(Int32($0)) } : []
        var marks = [Bool](repeating: false, count: bytes.count)
        for id in commentTokenIds { marks[id] = true }
        commentTokens = marks
        var kinds = [UInt8](repeating: 0, count: bytes.count)
        for id in never where Int(id) >= 0 && Int(id) < kinds.count { kinds[Int(id)] = 2 }
        for id in always where Int(id) >= 0 && Int(id) < kinds.count { kinds[Int(id)] = 1 }
        self.kinds = kinds
        state = try ViablePrefix(language: language)
        text = Array(prefix.utf8)
        // Python: the tree of the prefix, for where the recognizer starts reading and for the validity gate.
        let tree = language.name == "python" ? try? Parser(language: language).parse(SourceText(bytes: text)) : nil
        var readFrom = tree.map { Self.recognizerStart(in: $0) } ?? 0
        let (complete, rest) = Self.splitIncompleteUTF8(text)
        pending = rest
        if readFrom > 0, !state.append(bytes: Array(complete[min(readFrom, complete.count)...])) {
            // Tree-sitter's recovery may have cut a statement in two: read it all.
            state = try ViablePrefix(language: language)
            readFrom = 0
        }
        if readFrom == 0, !state.append(bytes: complete) {
            degraded = "the text before the cursor is not valid \(language.name); not constraining"
        }
        if language.name == "python" {
            var scanner = CodeScanner(syntax: LexicalSyntax.of(language))
            var tracked = PythonEscapes()
            lexicalPosition = Self.read(&scanner, &tracked, text, from: 0)
            lexical = scanner
            escapes = tracked
            startEscapes = tracked
        }
        start = (state.copy(), pending, text, degraded, lexical, lexicalPosition)
        gate = language.name == "python" && pythonValidity
            ? try PythonValidityGate(language: language, syntax: LexicalSyntax.of(language), prefix: text, tree: tree,
                                     checkFrom: readFrom) : nil
        statistics.setupMicroseconds = Double(DispatchTime.now().uptimeNanoseconds - setupStart) / 1000
    }

    /// Python: where the recognizer can start reading a prefix (`tree` is its parse) and still give the verdicts
    /// it gives after reading all of it: the start of a top-level statement at a line start such that every
    /// top-level statement before it parsed without errors — the last statement (the one the completion
    /// continues, or that an `else:` or `except` may still extend), or, when something in the text is broken,
    /// the last such start at or before the first broken statement (an unclosed docstring being typed). After
    /// complete statements at column 0, tree-sitter-python's tables expect what they expect at the start of a
    /// file (more statements), and its external scanner's state (an indentation stack of one level, no open
    /// string or bracket) equals the initial one. 0 when there is no such statement (read everything, as
    /// before).
    ///
    /// The recognizer reads several microseconds a byte (a GLR replay of the lexer and the tables); reading a
    /// 99 KB prefix took ~0.6 s, which every completion in a large file paid before its first token.
    static func recognizerStart(in tree: Tree) -> Int {
        guard tree.root.type == "module" else { return 0 }
        let bytes = tree.source.bytes
        for start in tree.topLevelStartsToFirstError().reversed() where start > 0 && start <= bytes.count {
            if bytes[start - 1] == 0x0A { return start }
        }
        return 0
    }

    /// A vocabulary's token bytes, special tokens, whole-character tokens and tokens with a line break: built
    /// once per tokenizer (the last one asked for is kept), so that a service's or editor's requests do not
    /// each read the vocabulary again.
    private struct Tables {
        let bytes: [[UInt8]]
        let special: [Int32]
        let completeUTF8: [Bool]
        let lineBreaks: [Int]
        /// Per token: 0, or 1 + the number of its leading spaces when the rest is an ASCII name
        /// (`[A-Za-z_][A-Za-z0-9_]*`; at most `maxNameSpaces` spaces).
        let nameShapes: [UInt8]
        /// Per token: first byte (0 when empty), length, and two-byte slot (see `SyntaxConstraint.pairSlots`).
        let firstBytes: [UInt8]
        let lengths: [Int32]
        let pairSlots: [Int32]
    }

    /// The `pairStamp` slot of a token's first two bytes: -1 unless it has more than two bytes and both are ASCII.
    static func pairSlot(_ bytes: [UInt8]) -> Int32 {
        guard bytes.count > 2, bytes[0] < 0x80, bytes[1] < 0x80 else { return -1 }
        return Int32(bytes[0]) << 7 | Int32(bytes[1])
    }

    static let maxNameSpaces = 16

    /// 0, or 1 + the leading spaces of a token that is spaces and then an ASCII name.
    static func nameShape(_ bytes: [UInt8]) -> UInt8 {
        var spaces = 0
        while spaces < bytes.count, bytes[spaces] == 0x20 { spaces += 1 }
        guard spaces < bytes.count, spaces <= maxNameSpaces else { return 0 }
        func letter(_ b: UInt8) -> Bool { (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A || b == 0x5F }
        guard letter(bytes[spaces]) else { return 0 }
        for b in bytes[(spaces + 1)...] where !(letter(b) || (b >= 0x30 && b <= 0x39)) { return 0 }
        return UInt8(spaces + 1)
    }

    private static let tablesCache = TokenizerTableCache<Tables> { tokenizer in
        let bytes = tokenizer.vocabularyBytes
        return Tables(bytes: bytes, special: (0..<Int32(bytes.count)).filter { tokenizer.isSpecial($0) },
                      completeUTF8: bytes.map { !$0.isEmpty && isValidUTF8Prefix($0) && splitIncompleteUTF8($0).rest.isEmpty },
                      lineBreaks: bytes.indices.filter { bytes[$0].contains(0x0A) },
                      nameShapes: bytes.map(nameShape), firstBytes: bytes.map { $0.first ?? 0 },
                      lengths: bytes.map { Int32($0.count) }, pairSlots: bytes.map(pairSlot))
    }

    /// Back to the state right after the prefix, to constrain another continuation of it (the mask cache and
    /// the statistics are kept).
    public func restart() {
        state = start.state.copy()
        pending = start.pending
        text = start.text
        degraded = start.degraded
        lexical = start.lexical
        lexicalPosition = start.lexicalPosition
        escapes = startEscapes
        deferred = []
        dropChecked()
        stepTime = 0
        stepRefusals = 0
        step &+= 1
        gate?.restart()
    }

    public var isActive: Bool { degraded == nil }

    @inline(__always) private func alwaysAllowed(_ token: Int32) -> Bool {
        Int(token) >= 0 && Int(token) < kinds.count && kinds[Int(token)] == 1
    }
    @inline(__always) private func neverAllowed(_ token: Int32) -> Bool {
        Int(token) >= 0 && Int(token) < kinds.count && kinds[Int(token)] == 2
    }

    /// Microseconds since `start`, also counted into the current step's time.
    private func elapsed(since start: UInt64) -> Double {
        let spent = Double(DispatchTime.now().uptimeNanoseconds - start) / 1000
        stepTime += spent
        return spent
    }

    // MARK: TokenConstraint

    public func sampled(nanoseconds: UInt64) { statistics.sampledMicroseconds += Double(nanoseconds) / 1000 }

    public func allows(_ token: Int32) -> Bool {
        guard isActive else { return true }
        let start = DispatchTime.now().uptimeNanoseconds
        defer { statistics.checkMicroseconds += elapsed(since: start) }
        statistics.checks += 1
        let ok = check(token)
        if !ok {
            statistics.refusals += 1
            stepRefusals += 1
        }
        return ok
    }

    public func mask(_ logits: UnsafeMutableBufferPointer<Float>) {
        guard isActive else { return }
        let start = DispatchTime.now().uptimeNanoseconds
        defer { statistics.maskMicroseconds += elapsed(since: start) }
        statistics.masks += 1
        flushDeferred()
        let key = state.key ^ (UInt64(pending.count) &* 0x9E37_79B9_7F4A_7C15)
        var allowed: [Bool]
        if pending.isEmpty, let cached = maskCache[key] {
            statistics.cachedMasks += 1
            allowed = cached
        } else {
            let t0 = DispatchTime.now().uptimeNanoseconds
            allowed = computeMask()
            if Self.trace {
                let spent = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1000
                FileHandle.standardError.write(Data(String(format: "mask: %.1f us, %d allowed, %d checked whole\n", spent,
                    allowed.lazy.filter { $0 }.count, maskWholeChecks).utf8))
            }
            if pending.isEmpty {
                if maskCache.count > 256 { maskCache.removeAll(keepingCapacity: true) }
                maskCache[key] = allowed
            }
        }
        if let gate {
            // The cached mask is the viable-prefix one; line breaks also depend on what was written before.
            let t0 = DispatchTime.now().uptimeNanoseconds, judged = gate.judged
            for id in commentTokenIds where allowed[id] { allowed[id] = gateAllowsComment(id, gate) }
            for id in lineBreakTokens where allowed[id] { allowed[id] = gateAllows(id, gate) }
            if Self.trace {
                let spent = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1000
                FileHandle.standardError.write(Data(String(format: "mask gate: %.1f us, %d judged\n", spent, gate.judged - judged).utf8))
            }
            statistics.pythonJudged = gate.judged
            statistics.pythonRefused = gate.refused
        }
        if escapesPending {
            // Not in the cached mask: the same recognizer state holds for any escape state.
            for id in 0..<min(allowed.count, tokenBytes.count) where allowed[id] && kinds[id] == 0 {
                allowed[id] = escapes!.allows(tokenBytes[id])
            }
        }
        let count = min(logits.count, allowed.count)
        if !allowed.contains(where: { $0 }) {
            // Nothing fits: never wedge. Let this step through and say so.
            statistics.fallbacks += 1
            if getenv("MOECODER_DEBUG_CONSTRAINT") != nil {
                FileHandle.standardError.write(Data("constraint: nothing allowed after \(String(decoding: text.suffix(80), as: UTF8.self).debugDescription) pending \(pending)\n".utf8))
            }
            return
        }
        for i in 0..<count where !allowed[i] { logits[i] = -.infinity }
        for i in count..<logits.count { logits[i] = -.infinity }
    }

    public func accept(_ token: Int32) {
        let start = DispatchTime.now().uptimeNanoseconds
        let wasActive = isActive
        take(token)
        guard wasActive else { return }
        let spent = Double(DispatchTime.now().uptimeNanoseconds - start) / 1000
        statistics.acceptMicroseconds += spent
        stepTime += spent
        statistics.stepMicroseconds.append(stepTime)
        if Self.trace {
            let t = statistics
            FileHandle.standardError.write(Data(String(format: "constraint step %d: %.1f us, checks %d, refusals %d, masks %d (cached %d), judged %d, token %@\n",
                t.stepMicroseconds.count, stepTime, t.checks, t.refusals, t.masks, t.cachedMasks, t.pythonJudged,
                Int(token) < tokenBytes.count ? String(decoding: tokenBytes[Int(token)], as: UTF8.self).debugDescription : "\(token)").utf8))
        }
        stepTime = 0
    }

    /// `accept`'s work: the recognizer, the string scanner and the Python gate take in the token.
    private func take(_ token: Int32) {
        stepRefusals = 0
        step &+= 1
        guard Int(token) < tokenBytes.count else { return }
        if alwaysAllowed(token) { return }
        let bytes = tokenBytes[Int(token)]
        let plain = isPlainLiteralText(bytes)
        let checked = self.checked
        self.checked = nil
        defer { if let checked, checked.state !== state { spare = checked.state } }
        text += bytes
        readLexical()
        guard isActive else {
            // Try again once the text is viable as a whole (e.g. after the broken line was left behind).
            return
        }
        if plain {
            deferred += bytes
        } else if pending.isEmpty, completeUTF8[Int(token)] {
            // Whole characters after whole characters (most tokens): nothing to split, no copy of the bytes.
            if let checked, checked.token == token, deferred.isEmpty {
                spare = state
                state = checked.state
            } else if !bytes.isEmpty, !state.append(bytes: deferred.isEmpty ? bytes : deferred + bytes) {
                degraded = "generation left the grammar after \(text.count) bytes; not constraining the rest"
            }
            deferred.removeAll(keepingCapacity: true)
        } else {
            let (complete, rest) = Self.splitIncompleteUTF8(pending + bytes)
            pending = rest
            if let checked, checked.token == token, deferred.isEmpty, rest.isEmpty {
                spare = state
                state = checked.state
            } else if !complete.isEmpty, !state.append(bytes: deferred + complete) {
                degraded = "generation left the grammar after \(text.count) bytes; not constraining the rest"
            }
            deferred.removeAll(keepingCapacity: true)
        }
        gate?.accept(bytes, text: text)
    }

    // MARK: Checking

    private func check(_ token: Int32) -> Bool {
        if Int(token) < tokenBytes.count, !alwaysAllowed(token), !neverAllowed(token) {
            let bytes = tokenBytes[Int(token)]
            // Plain text (no backslash) can break an escape only while one is unfinished.
            let plain = isPlainLiteralText(bytes)
            if plain, escapes?.step ?? .none == .none { return true }
            if escapesPending, !escapes!.allows(bytes) { return false }
            if plain { return true }
        }
        flushDeferred()
        if stepRefusals >= Self.stormRefusals, !firstByteAllowed(token) || !startAllowed(token) { return false }
        guard viable(token, keep: true) else { return false }
        guard let gate, Int(token) < tokenBytes.count, !alwaysAllowed(token) else { return true }
        if commentTokens[Int(token)], !gateAllowsComment(Int(token), gate) {
            statistics.pythonRefused = gate.refused
            return false
        }
        guard tokenBytes[Int(token)].contains(0x0A) else { return true }
        let ok = gateAllows(Int(token), gate)
        statistics.pythonJudged = gate.judged
        statistics.pythonRefused = gate.refused
        return ok
    }

    /// Whether the token's first byte (ASCII) keeps the text viable; true when it is not ASCII or the token is
    /// empty. Verdicts are kept for the step.
    private func firstByteAllowed(_ token: Int32) -> Bool {
        guard pending.isEmpty, Int(token) >= 0, Int(token) < tokenBytes.count, tokenLengths[Int(token)] > 0 else { return true }
        let first = firstBytes[Int(token)]
        guard first < 0x80 else { return true }
        // In a storm most candidates share a handful of first bytes: a refused one refuses every token that
        // starts with it.
        return kept(128 * 128 + Int(first)) { withUnsafeBytes(of: first) { state.check(bytes: $0.bindMemory(to: UInt8.self)) } }
    }

    /// The verdict kept in `slot` for this step, or `judge`'s, then kept.
    private func kept(_ slot: Int, _ judge: () -> Bool) -> Bool {
        if pairStamp[slot] == step { return pairAllowed[slot] }
        let allowed = judge()
        pairStamp[slot] = step
        pairAllowed[slot] = allowed
        return allowed
    }

    /// Whether the token's first two bytes (ASCII, with more after them) keep the text viable; true when the
    /// token is shorter or not ASCII there. Verdicts are kept for the step.
    private func startAllowed(_ token: Int32) -> Bool {
        guard pending.isEmpty, Int(token) >= 0, Int(token) < tokenBytes.count else { return true }
        let slot = Int(pairSlots[Int(token)])
        guard slot >= 0 else { return true }
        let pair = (UInt8(slot >> 7), UInt8(slot & 0x7F))
        return kept(slot) { withUnsafeBytes(of: pair) { state.check(bytes: $0.bindMemory(to: UInt8.self)) } }
    }

    /// The gate's verdict on a token with a `#` that may start a comment (already judged viable): the bytes
    /// before its first `#` must let the statement end there. (A token with both a `#` and a line break has the
    /// `#` first: the line break is then inside the comment.)
    private func gateAllowsComment(_ id: Int, _ gate: PythonValidityGate) -> Bool {
        let bytes = tokenBytes[id]
        guard let hash = bytes.firstIndex(of: 0x23) else { return true }
        if let newline = bytes.firstIndex(of: 0x0A), newline < hash { return true }
        let start = DispatchTime.now().uptimeNanoseconds
        defer { statistics.pythonMicroseconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1000 }
        return gate.allowsComment(text: text, pending: pending, before: bytes[..<hash], viable: state)
    }

    /// The gate's verdict on a token with a line break (already judged viable).
    private func gateAllows(_ id: Int, _ gate: PythonValidityGate) -> Bool {
        let bytes = tokenBytes[id]
        guard let newline = bytes.firstIndex(of: 0x0A) else { return true }
        let start = DispatchTime.now().uptimeNanoseconds
        defer { statistics.pythonMicroseconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1000 }
        return gate.allows(text: text, pending: pending, before: bytes[..<newline], viable: state)
    }

    /// Whether `bytes` is plain text inside the string or comment the accepted text ends in: printable ASCII
    /// (line breaks too inside a triple-quoted string) without quotes, backslashes or braces, so that it can
    /// neither end the literal nor start anything in it (an f-string's replacement field, an escape).
    private func isPlainLiteralText(_ bytes: [UInt8]) -> Bool {
        // The scanner's mode and escape flag are read without copying the scanner (a copy retained and released
        // its syntax tables: a third of this function's cost, which a refusal storm pays for every candidate).
        guard let mode = lexical?.mode, mode != .code, lexical?.isEscaped == false, !bytes.isEmpty,
              lexicalPosition == text.count, pending.isEmpty, isActive else { return false }
        let multiline: Bool
        switch mode {
        case .code, .blockComment: return false
        case .lineComment: multiline = false
        case .string(let index): multiline = lexical!.syntax.quotes[index].multiline
        }
        for b in bytes {
            switch b {
            case 0x22, 0x27, 0x5C, 0x60, 0x7B, 0x7D: return false   // " ' \ ` { }
            case 0x20...0x7E, 0x09: continue
            case 0x0A where multiline: continue
            default: return false
            }
        }
        return true
    }

    /// Gives the recognizer the plain literal text it was spared.
    private func flushDeferred() {
        guard !deferred.isEmpty else { return }
        dropChecked()
        if isActive, !state.append(bytes: deferred) {
            degraded = "generation left the grammar after \(text.count) bytes; not constraining the rest"
        }
        deferred.removeAll(keepingCapacity: true)
    }

    /// Reads the accepted text's strings and comments as far as they can be told.
    private func readLexical() {
        guard lexical != nil, escapes != nil else { return }
        lexicalPosition = Self.read(&lexical!, &escapes!, text, from: lexicalPosition)
    }

    /// Steps `scanner` over `text` from `start` as far as it can tell, following the escapes of Python strings;
    /// returns where it stopped.
    private static func read(_ scanner: inout CodeScanner, _ escapes: inout PythonEscapes, _ text: [UInt8],
                             from start: Int) -> Int {
        var position = start
        while position < text.count {
            let before = scanner.mode
            guard let (length, _) = scanner.step(text, at: position, final: false) else { break }
            switch (before, scanner.mode) {
            case (.code, .string(let index)):
                escapes.open(in: text, quoteAt: position, quote: scanner.syntax.quotes[index].close.first ?? 0x22)
            case (.string, .string):
                for b in text[position..<(position + length)] { _ = escapes.feed(b) }
            case (.string, _):
                escapes.close()
            default: break
            }
            position += length
        }
        return position
    }

    /// The accepted text ends inside a Python string whose escapes count, read to its end: `escapes` judges
    /// the tokens.
    private var escapesPending: Bool {
        guard let escapes, escapes.active else { return false }
        return lexicalPosition == text.count && pending.isEmpty
    }

    /// Whether the text stays a viable prefix with the token appended.
    /// `keep`: remember the recognizer with the token appended (`checked`), for `accept` of the same token.
    private func viable(_ token: Int32, keep: Bool = false) -> Bool {
        if alwaysAllowed(token) { return true }
        if neverAllowed(token) || Int(token) >= tokenBytes.count { return false }
        let bytes = tokenBytes[Int(token)]
        if bytes.isEmpty { return false }
        // Most tokens are whole characters after whole characters: checked without building a byte array.
        let whole = pending.isEmpty && completeUTF8[Int(token)]
        let combined = whole ? bytes : pending + bytes
        if !whole, !Self.isValidUTF8Prefix(combined) { return false }
        let (complete, rest) = whole ? (bytes, []) : Self.splitIncompleteUTF8(combined)
        if rest.isEmpty {
            guard keep else { return complete.withUnsafeBufferPointer { state.check(bytes: $0) } }
            // Append to a copy and keep it, so that accepting this token (the sampler accepts the pick it
            // checked last) does not read it a second time. The copy overwrites the spare recognizer when
            // there is one (no allocation).
            let ahead: ViablePrefix
            if let spare {
                self.spare = nil
                spare.assign(from: state)
                ahead = spare
            } else {
                ahead = state.copy()
            }
            guard ahead.append(bytes: complete) else {
                spare = ahead
                return false
            }
            if let previous = checked { spare = previous.state }
            checked = (token, ahead)
            return true
        }
        // The token ends inside a character: allowed if some character with these first bytes fits.
        let ahead = state.copy()
        if !complete.isEmpty, !ahead.append(bytes: complete) { return false }
        return Self.completions(of: rest).contains { character in
            character.withUnsafeBufferPointer { ahead.check(bytes: $0) }
        }
    }

    /// Forgets the kept check; its recognizer becomes the spare.
    private func dropChecked() {
        if let checked { spare = checked.state }
        checked = nil
    }

    /// Whether some character starting with the byte `lead` keeps the text viable.
    private func viable(lead: UInt8) -> Bool {
        Self.completions(of: [lead]).contains { character in character.withUnsafeBufferPointer { state.check(bytes: $0) } }
    }

    /// Characters that start with `lead` (an incomplete UTF-8 sequence): every choice of the next byte,
    /// with the lowest valid bytes after it (a character block shares its category with its neighbours).
    static func completions(of lead: [UInt8]) -> [[UInt8]] {
        guard let first = lead.first else { return [] }
        let length = first >= 0xF0 ? 4 : first >= 0xE0 ? 3 : 2
        var result: [[UInt8]] = []
        // Every fourth next byte: blocks of 64 (or 4,096) code points in a row share their category, and a
        // refused token ending here costs a check per candidate (a false refusal only drops a candidate; the
        // character is checked whole once the next token completes it).
        for next in stride(from: UInt8(0x80), through: UInt8(0xBF), by: 4) {
            var candidate = lead + [next]
            while candidate.count < length { candidate.append(0x80) }
            if candidate.count == length, isValidUTF8Prefix(candidate) { result.append(candidate) }
        }
        return result
    }

    /// Whether `bytes` is valid UTF-8 except that it may end inside a character.
    static func isValidUTF8Prefix(_ bytes: [UInt8]) -> Bool {
        var i = 0
        while i < bytes.count {
            let lead = bytes[i]
            let length = lead < 0x80 ? 1 : lead >= 0xC2 && lead < 0xE0 ? 2 : lead >= 0xE0 && lead < 0xF0 ? 3
                : lead >= 0xF0 && lead < 0xF5 ? 4 : 0
            if length == 0 { return false }
            var j = 1
            while j < length, i + j < bytes.count {
                let b = bytes[i + j]
                if b & 0xC0 != 0x80 { return false }
                if j == 1 {   // no overlong forms, no surrogates, nothing past U+10FFFF
                    if lead == 0xE0 && b < 0xA0 { return false }
                    if lead == 0xED && b > 0x9F { return false }
                    if lead == 0xF0 && b < 0x90 { return false }
                    if lead == 0xF4 && b > 0x8F { return false }
                }
                j += 1
            }
            i += length
        }
        return true
    }

    /// The allowed flag of every token. A prefix of a viable text is viable, so a token whose first
    /// character is refused is refused without checking it whole.
    private func computeMask() -> [Bool] {
        maskWholeChecks = 0
        var allowed = [Bool](repeating: false, count: tokenBytes.count)
        var firstByte = [Int8](repeating: -1, count: 256)   // -1 unknown, 0 refused, 1 allowed
        let inLiteral: Bool
        switch lexical?.mode {
        case .string?, .lineComment?: inLiteral = true
        default: inLiteral = false
        }
        // Python code where the accepted text has been read to its end (`lexical` knows it is not in a string
        // or comment).
        let namesOnly = language.name == "python" && lexical?.mode == .code && lexicalPosition == text.count
            && pending.isEmpty
        // Whether text starting with the ASCII byte `b` may follow (asked once per byte and mask; a local table:
        // the step's kept verdicts, `kept`, made masks ~20 % slower).
        func asciiStartAllowed(_ b: UInt8) -> Bool {
            if firstByte[Int(b)] == -1 { firstByte[Int(b)] = [b].withUnsafeBufferPointer { state.check(bytes: $0) } ? 1 : 0 }
            return firstByte[Int(b)] == 1
        }
        // Python code: where an identifier may follow `n` spaces, every token of `n` spaces and an ASCII name is
        // allowed, as its check would find: the name can go on into an identifier that is no keyword (`if` into
        // `ifQ_`), and the grammar takes an identifier there whatever its text. Asked by whether `n` spaces and
        // `Q_` (which starts no keyword and no string prefix) fit, once per `n` and mask. Where only a keyword
        // fits (`x i` may become `x in`), the probe fails and such tokens are checked as before. Most of a
        // vocabulary is such tokens, so a mask where names may go costs a few checks instead of thousands.
        var nameStart = [Int8](repeating: -1, count: Self.maxNameSpaces + 1)
        func nameMayStart(afterSpaces n: Int) -> Bool {
            if nameStart[n] == -1 {
                let probe = [UInt8](repeating: 0x20, count: n) + [UInt8(ascii: "Q"), UInt8(ascii: "_")]
                nameStart[n] = probe.withUnsafeBufferPointer { state.check(bytes: $0) } ? 1 : 0
            }
            return nameStart[n] == 1
        }
        for id in 0..<tokenBytes.count {
            let token = Int32(id)
            switch kinds[id] {
            case 1: allowed[id] = true; continue
            case 2: continue
            default: break
            }
            let length = tokenLengths[id]
            guard length > 0 else { continue }
            let first = firstBytes[id]
            // Inside a string or comment, plain text is allowed as `check` allows it (without the recognizer).
            if inLiteral, isPlainLiteralText(tokenBytes[id]) { allowed[id] = true; continue }
            if pending.isEmpty && first >= 0xC2 {
                // A character's lead byte: tokens starting with it fit only if some character starting with it
                // does (asked once per lead byte). In Python code (outside strings and comments) a non-ASCII
                // character can only be part of a name (PEP 3131; CPython refuses other ones, such as U+00A0
                // or U+200B, even where tree-sitter-python takes them for white space): where `a` does not fit,
                // none does. That saves most of a mask's checks (62 lead bytes, up to 16 characters each).
                if firstByte[Int(first)] == -1, namesOnly, !asciiStartAllowed(UInt8(ascii: "a")) { firstByte[Int(first)] = 0 }
                if firstByte[Int(first)] == -1 { firstByte[Int(first)] = viable(lead: first) ? 1 : 0 }
                if firstByte[Int(first)] == 0 { continue }
            }
            if pending.isEmpty && first < 0x80 {
                if !asciiStartAllowed(first) { continue }
                if namesOnly, nameShapes[id] > 0, nameMayStart(afterSpaces: Int(nameShapes[id]) - 1) {
                    allowed[id] = true
                    continue
                }
                if length == 1 { allowed[id] = true; continue }
                // Likewise by the first two bytes: after `to a`, the thousands of ` word` tokens cost a check per
                // distinct two-byte start.
                if !startAllowed(token) { continue }
            }
            maskWholeChecks += 1
            allowed[id] = viable(token)
        }
        return allowed
    }

    /// Splits off a trailing incomplete UTF-8 sequence (held back until its character is complete).
    static func splitIncompleteUTF8(_ bytes: [UInt8]) -> (complete: [UInt8], rest: [UInt8]) {
        var i = bytes.count - 1, continuation = 0
        while i >= 0, bytes[i] & 0xC0 == 0x80, continuation < 3 {
            i -= 1
            continuation += 1
        }
        guard i >= 0 else { return (bytes, []) }
        let lead = bytes[i]
        let needed = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
        if needed > 1 && continuation + 1 < needed {
            return (Array(bytes[..<i]), Array(bytes[i...]))
        }
        return (bytes, [])
    }
}
