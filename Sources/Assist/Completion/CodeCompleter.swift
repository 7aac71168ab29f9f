import Engine
import Foundation
import Syntax
import Tokenizer

/// A fill-in-the-middle request: a file, the cursor in it, and how to generate.
public struct CompletionRequest {
    /// The whole file.
    public var source: String
    /// Its language: the stop rules and the parse check use its grammar.
    public var language: Language
    /// The cursor as a byte offset into `source`'s UTF-8, at a character boundary.
    public var cursor: Int
    /// At most this many tokens are generated (fewer when the context window is small).
    public var maxTokens = 64
    /// Temperature 0 (the default) is greedy.
    public var sampling = SamplingParameters()
    public var constraint = CompletionConstraint.syntax
    /// Set from another thread to stop the completion at its next step (prompt chunks included).
    public var cancellation: CancellationFlag?
    /// When the file does not parse with the whole completion, cut it back to its longest whole-line part
    /// after which it does, else cut it where it ran out and close the brackets and string it opened, else
    /// cut it to its longest part that fits (on by default).
    public var trimToParse = true
    /// When the file does not parse with a completion, other decodings are tried, up to this many in all
    /// (1: the first decoding only). Each reuses the processed prompt, so an attempt costs only its tokens.
    public var attempts = 12
    /// No further attempt starts once this many seconds have passed since the request began.
    public var attemptSeconds = 2.0
    /// Leave the prefix's last token out of the prompt and let the completion write it again (see
    /// `CompletionPrompt.healing`). Not with a `.custom` constraint.
    public var tokenHealing = true

    public init(source: String, language: Language, cursor: Int) {
        self.source = source
        self.language = language
        self.cursor = cursor
    }

    /// The cursor at a 1-based line and column (columns count characters); throws when it is not in the file.
    public init(source: String, language: Language, line: Int, column: Int) throws {
        let text = SourceText(source)
        let lines = text.lineStarts.count
        guard line >= 1, line <= lines else {
            throw CompletionError("line \(line) is not in the file: it has \(lines) line\(lines == 1 ? "" : "s"), "
                                  + "counted from 1")
        }
        let lineEnd = line < lines ? text.lineStarts[line] - 1 : text.count
        let length = text.location(ofByte: lineEnd).column - 1
        guard column >= 1, column <= length + 1, let cursor = text.byteOffset(line: line, column: column) else {
            throw CompletionError("column \(column) is not on line \(line): it has \(length) character"
                                  + "\(length == 1 ? "" : "s"), so columns go from 1 to \(length + 1) (the end)")
        }
        self.init(source: source, language: language, cursor: cursor)
    }
}

/// A completion and how it was made.
public struct Completion: Sendable {
    /// The code to insert at the cursor.
    public var text: String
    /// The whole file with `text` inserted.
    public var insertedSource: String
    /// Tokens generated (including any after the point where the stop rules cut).
    public var tokens: Int
    /// Tokens of the prompt (FIM control tokens and the code that fitted the context).
    public var promptTokens: Int
    /// Whether a syntax constraint guided decoding.
    public var constrained: Bool
    /// Whether the whole file parses with the completion inserted.
    public var parseOK: Bool
    public var stopReason: CompletionStop
    /// From the request to the result, prompt and stop rules included.
    public var seconds: Double
    /// The FIM layout used; nil when the model has no FIM tokens and saw only the code before the cursor.
    public var fimFamily: FIMFamily?
    /// What the caller should know: fallbacks taken, context trimmed.
    public var notes: [String]
    /// Decodings made: more than one when the file did not parse with the first (see
    /// `CompletionRequest.attempts`).
    public var attempts: Int = 1
    /// Prompt tokens taken from the KV cache (the same file's prefix from an earlier request) instead of computed.
    public var cachedPromptTokens = 0
    /// Decoding time and tokens decoded, over all decodings made (`attempts`).
    public var decodeSeconds = 0.0
    public var decodedTokens = 0
    /// The syntax constraint's counters and times, over all decodings made (nil without one).
    public var constraintStatistics: ConstraintStatistics?
}

/// An error in a completion request, with a message that says what to do.
public struct CompletionError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Completes code at a cursor with a model: builds the prompt, generates, and stops by the syntax-aware rules.
public final class CodeCompleter {
    public let model: LanguageModel

    public init(model: LanguageModel) { self.model = model }

    /// Completes at `request.cursor`. Throws `CompletionError` for a cursor outside the file, `ModelError` when
    /// generation fails, `SyntaxLayerError` when the language's grammar is not built in.
    public func complete(_ request: CompletionRequest) throws -> Completion {
        let start = Date()
        let source = Array(request.source.utf8)
        guard request.cursor >= 0, request.cursor <= source.count,
              request.cursor == source.count || source[request.cursor] & 0xC0 != 0x80 else {
            throw CompletionError("the cursor (byte \(request.cursor)) is not at a character of the file")
        }
        let prefix = String(decoding: source[..<request.cursor], as: UTF8.self)
        let suffix = String(decoding: source[request.cursor...], as: UTF8.self)
        let context = try CursorContext(language: request.language, source: source, cursor: request.cursor)
        var notes: [String] = []

        let contextLength = model.config.contextLength
        let maxTokens = max(1, min(request.maxTokens, contextLength / 2))
        if maxTokens < request.maxTokens {
            notes.append("max tokens lowered to \(maxTokens): half of the model's \(contextLength)-token context "
                         + "is kept for the code around the cursor")
        }
        // A caller's own constraint decides every token itself: no healing then.
        var custom = false
        if case .custom = request.constraint { custom = true }
        let prompt = CompletionPrompt(tokenizer: model.tokenizer, prefix: prefix, suffix: suffix,
                                      budget: contextLength - maxTokens, heal: request.tokenHealing && !custom,
                                      windowStarts: .shared)
        // The constraint reads the completion as generated, which starts by writing the healed bytes again.
        let constrainedPrefix = String(decoding: source[..<(request.cursor - prompt.healing.count)], as: UTF8.self)
        if prompt.format == nil {
            notes.append("the model has no fill-in-the-middle tokens: it completes from the code before the cursor "
                         + "only (the code after it still guides where the completion stops)")
        }
        if prompt.droppedPrefixLines > 0 || prompt.droppedSuffixLines > 0 {
            notes.append("the model's \(contextLength)-token context holds only part of the file: "
                         + "\(prompt.droppedPrefixLines) lines above and \(prompt.droppedSuffixLines) below "
                         + "the cursor were left out")
        }

        var processor: (any LogitProcessor)?
        var constraint: SyntaxConstraint?
        switch request.constraint {
        case .none:
            break
        case .custom(let custom):
            processor = custom
        case .syntax:
            constraint = try Self.syntaxConstraint(
                for: ConstraintContext(language: request.language, tokenizer: model.tokenizer,
                                       prefix: constrainedPrefix, suffix: suffix),
                endTokens: prompt.stopTokens)
            if let why = constraint?.degraded { notes.append(why) }
        }

        // The prompt is processed once; other attempts reuse its cache, and it starts from the longest prefix
        // the model's shared cache holds (the same file a keystroke ago).
        let cache = model.transformer.makeSharedCache(capacity: min(contextLength, prompt.tokens.count + maxTokens))
        let attempts = processor == nil ? max(1, request.attempts) : 1
        var banned: Set<Int32> = []
        let completionStart = CompletionStart(tokenizer: model.tokenizer, promptLength: prompt.tokens.count,
                                              healing: prompt.healing)
        // Python: the syntax constraint also keeps the completion's lines at indentations Python accepts.
        let indentation = constraint?.isActive == true && context.syntax.indentationBlocks
            ? PythonIndentationProcessor(prefix: Array(constrainedPrefix.utf8), suffix: Array(suffix.utf8),
                                         syntax: context.syntax, start: completionStart)
            : nil
        // The rule is checked with the constraint, token by token, not as a processor over the whole row.
        let checked: (any TokenConstraint)? = indentation.flatMap { indentation in
            constraint.map { IndentedConstraint(syntax: $0, indentation: indentation) }
        } ?? constraint
        var decodeSeconds = 0.0, decodedTokens = 0
        func decode(_ number: Int) throws -> Attempt {
            if number > 0 {
                constraint?.restart()
                indentation?.reset()
            }
            // Other attempts: a repetition penalty against loops, and from the third on, starts other than
            // those already tried (the next most likely first tokens, decoded the same way).
            var sampling = request.sampling
            if number > 0 {
                sampling.repetitionPenalty = max(sampling.repetitionPenalty, 1.2)
                sampling.seed &+= UInt64(number)
            }
            var processors: [any LogitProcessor] = processor.map { [$0] } ?? []
            if !prompt.healing.isEmpty { processors.append(HealingProcessor(completionStart)) }
            if number >= 2, !banned.isEmpty { processors.append(FirstTokenBan(completionStart, tokens: banned)) }
            let attempt = try generateAttempt(
                number: number, prompt: prompt, context: context, request: request, maxTokens: maxTokens,
                sampling: sampling, processors: processors, constraint: checked, cache: cache)
            decodeSeconds += attempt.result.decodeSeconds
            decodedTokens += attempt.result.tokens.count
            if !attempt.parseOK, number + 1 < attempts {
                if let first = completionStart.firstToken(of: attempt.result.tokens) {
                    banned.insert(first)
                } else {
                    // It ended at once: the next ones may not.
                    banned.formUnion(prompt.stopTokens)
                    if let eos = model.tokenizer.eos { banned.insert(eos) }
                }
            }
            return attempt
        }
        var best = try decode(0)
        let cachedPromptTokens = best.result.cachedPromptTokens
        var made = 1
        while !best.parseOK, made < attempts, request.cancellation?.isCancelled != true,
              Date().timeIntervalSince(start) < request.attemptSeconds {
            let attempt = try decode(made)
            made += 1
            if attempt.parseOK { best = attempt }
        }
        notes += best.notes
        if made > 1 {
            notes.append(best.parseOK
                ? "decoding \(best.number + 1) of \(made) was kept: the file did not parse with the earlier ones"
                : "none of \(made) decodings made the file parse; the first is shown")
        }
        return Completion(
            text: best.text, insertedSource: prefix + best.text + suffix, tokens: best.result.tokens.count,
            promptTokens: prompt.tokens.count,
            constrained: processor != nil || (constraint?.isActive ?? false),
            parseOK: best.parseOK, stopReason: best.stop,
            seconds: Date().timeIntervalSince(start), fimFamily: prompt.format?.family, notes: notes,
            attempts: made, cachedPromptTokens: cachedPromptTokens, decodeSeconds: decodeSeconds,
            decodedTokens: decodedTokens, constraintStatistics: constraint.map { constraint in
                var statistics = constraint.statistics
                statistics.indentationMicroseconds = indentation?.microseconds ?? 0
                statistics.setupMicroseconds += indentation?.setupMicroseconds ?? 0
                return statistics
            })
    }

    /// One decoding of the completion, cut by the stop rules and, when the file does not parse with it, repaired
    /// or cut back to a part after which it does.
    private struct Attempt {
        var number: Int
        var result: GenerationResult
        var text: String
        var parseOK: Bool
        var stop: CompletionStop
        var notes: [String]
    }

    private func generateAttempt(number: Int, prompt: CompletionPrompt, context: CursorContext, request: CompletionRequest,
                                 maxTokens: Int, sampling: SamplingParameters, processors: [any LogitProcessor],
                                 constraint: (any TokenConstraint)?, cache: KVCache) throws -> Attempt {
        var rules = StopRules(context: context)
        let options = GenerationOptions(maxTokens: maxTokens, sampling: sampling,
                                        stopTokens: prompt.stopTokens)
        var healed = prompt.healing.count   // bytes of the text still to drop: the prefix's own end
        let result = try Generator(model: model).generate(prompt: prompt.tokens, options: options, cache: cache,
                                                          processors: processors, constraint: constraint,
                                                          cancellation: request.cancellation) { piece in
            guard healed > 0 else { return rules.append(piece) == nil }
            var bytes = Array(piece.utf8)
            let drop = min(healed, bytes.count)
            bytes.removeFirst(drop)
            healed -= drop
            return bytes.isEmpty || rules.append(String(decoding: bytes, as: UTF8.self)) == nil
        }
        let stop = rules.finish()
        var text = rules.finalText()
        var notes: [String] = []
        let check = context.check
        var parseOK = check.parses(with: Array(text.utf8)[...])
        if !parseOK, request.trimToParse {
            // Never leave the file broken when part of the completion fits: whole lines first, else a cut with
            // what it opened closed, else the longest part.
            if let trimmed = Self.longestParsingLines(of: text, check: check) {
                notes.append("the completion was cut back to its longest whole lines after which the file parses")
                text = trimmed
                parseOK = true
            } else if let closed = Self.closingOpenConstructs(of: text, context: context) {
                notes.append("the completion was cut where it ran out and the brackets and string it had opened "
                             + "were closed")
                text = closed
                parseOK = true
            } else if let trimmed = Self.longestParsingPrefix(of: text, check: check) {
                notes.append("the completion was cut back to its longest part after which the file parses")
                text = trimmed
                parseOK = true
            }
        }
        return Attempt(number: number, result: result, text: text, parseOK: parseOK,
                       stop: stop?.reason ?? Self.reason(result.stopReason), notes: notes)
    }

    /// The longest non-empty prefix of `text` ending at a line end after which the file parses.
    static func longestParsingLines(of text: String, check: InsertionCheck) -> String? {
        let bytes = Array(text.utf8)
        var cuts = bytes.indices.filter { bytes[$0] == UInt8(ascii: "\n") }.reversed().map { $0 }
        cuts = cuts.flatMap { [$0 + 1, $0] }   // with and without the line break
        for cut in cuts where cut > 0 && cut < bytes.count {
            let part = bytes[..<cut]
            if part.contains(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x09 }), check.parsesIncrementally(with: part) {
                return String(decoding: part, as: UTF8.self)
            }
        }
        return nil
    }

    /// A completion that ran out inside brackets or a string it opened, closed: cut at the end or before a space,
    /// comma or line break (the last 48 such places), with the string and brackets still open there closed, the
    /// longest such that the file parses. Brackets or a string open before the cursor are left to the code after it.
    static func closingOpenConstructs(of text: String, context: CursorContext) -> String? {
        let bytes = Array(text.utf8)
        var scanner = context.scanner
        let base = scanner.depth, startedInCode = scanner.mode == .code
        // `opened`: where the string the scanner is in began (its first byte after the opening quote), for the
        // string escapes that closing it must not cut in two.
        var states: [(end: Int, scanner: CodeScanner, opened: Int)] = []
        var position = 0, opened = 0
        while position < bytes.count {
            let wasInCode = scanner.mode == .code
            guard let (length, _) = scanner.step(bytes, at: position, final: true) else { break }
            if wasInCode, case .string = scanner.mode { opened = position + length }
            position += length
            let next = position < bytes.count ? bytes[position] : nil
            if next == nil || next == ascii(" ") || next == ascii(",") || next == ascii("\n") {
                states.append((position, scanner, opened))
            }
        }
        let closers: [UInt8: UInt8] = [ascii("("): ascii(")"), ascii("["): ascii("]"), ascii("{"): ascii("}")]
        for (end, state, opened) in states.suffix(48).reversed() {
            var closing: [UInt8] = []
            var kept = end
            while kept > 0, CursorContext.isBlank(bytes[kept - 1]) { kept -= 1 }
            switch state.mode {
            case .string(let index) where startedInCode:
                closing += context.syntax.quotes[index].close
                // A Python string cut inside an escape (`\xd`, a lone backslash) does not compile once closed:
                // close it before that escape.
                if context.language.name == "python", opened <= kept,
                   let bad = Self.pythonEscapeError(in: bytes, from: opened, to: kept) {
                    kept = bad
                }
            case .code: break
            default: continue   // inside a comment, or a string begun before the cursor
            }
            for opener in state.open.dropFirst(base).reversed() { closing.append(closers[opener] ?? opener) }
            guard !closing.isEmpty else { continue }
            let candidate = Array(bytes[..<kept]) + closing
            if context.check.parses(with: candidate[...]) { return String(decoding: candidate, as: UTF8.self) }
        }
        return nil
    }

    /// Where the first escape that CPython refuses to compile begins in the body of a Python string literal,
    /// `bytes[from..<to]` (the bytes after the opening quote), as `PythonEscapes` reads it: a truncated `\x`, `\u`,
    /// `\U` or `\N{…}` escape, or one cut by the end (a lone backslash would escape the closing quote). Nil when
    /// every escape is whole.
    static func pythonEscapeError(in bytes: [UInt8], from: Int, to: Int) -> Int? {
        guard from > 0 else { return nil }
        var quoteAt = from - 1
        while quoteAt > 0, from - quoteAt < 3, bytes[quoteAt - 1] == bytes[from - 1] { quoteAt -= 1 }
        var escapes = PythonEscapes()
        escapes.open(in: bytes, quoteAt: quoteAt, quote: bytes[from - 1])
        return escapes.firstBrokenEscape(in: bytes, from..<to)
    }

    /// The longest non-blank prefix of `text` (at a character boundary) after which the file parses.
    static func longestParsingPrefix(of text: String, check: InsertionCheck) -> String? {
        let bytes = Array(text.utf8)
        func isWord(_ b: UInt8) -> Bool { b == ascii("_") || b >= 0x80 || (b | 0x20 >= ascii("a") && b | 0x20 <= ascii("z")) || (b >= ascii("0") && b <= ascii("9")) }
        // Cuts between tokens only: not inside a word, not after blanks (the same cut without them is tried):
        // each try parses the whole file, and a cut inside a name only makes another name.
        for cut in stride(from: bytes.count - 1, to: 0, by: -1) where bytes[cut] & 0xC0 != 0x80
            && !CursorContext.isBlank(bytes[cut - 1]) && bytes[cut - 1] != ascii("\n")
            && !(isWord(bytes[cut - 1]) && isWord(bytes[cut])) {
            let part = bytes[..<cut]
            if part.contains(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x09 }), check.parsesIncrementally(with: part) {
                return String(decoding: part, as: UTF8.self)
            }
        }
        return nil
    }

    private static func reason(_ reason: StopReason) -> CompletionStop {
        switch reason {
        case .maxTokens: .maxTokens
        case .endOfText, .stopToken, .stopString: .endOfText
        case .contextFull: .contextFull
        case .cancelled: .cancelled
        case .stopRule: .endOfStatement
        }
    }
}

/// The token texts of a vocabulary and the healed bytes a completion starts with, shared by the processors
/// that act on a completion's first tokens.
final class CompletionStart {
    let promptLength: Int
    let healing: [UInt8]
    private let tokenizer: BPETokenizer
    /// Read from the tokenizer on first use (only healing and other attempts need them); the tables are
    /// built once per tokenizer and shared by every completion (see `Tables`).
    private(set) lazy var tokenBytes: [[UInt8]] = tables.bytes
    private(set) lazy var special: [Bool] = tables.special
    /// The vocabulary's ordinary tokens grouped by what decides their fate at a line's indentation: the
    /// leading spaces (0..<256) and whether blank to the end (kind 0), a line break or comment (1) or code (2)
    /// follows them, as `slot = kind << 8 | spaces`; `others`: tokens with a tab among their leading blanks or
    /// more spaces, judged one by one.
    private(set) lazy var indentationGroups: (slots: [(slot: Int, tokens: [Int32])], others: [Int32]) = tables.groups
    private lazy var tables = Self.tableCache.value(for: tokenizer)

    private struct Tables {
        let bytes: [[UInt8]]
        let special: [Bool]
        let groups: (slots: [(slot: Int, tokens: [Int32])], others: [Int32])
    }

    private static let tableCache = TokenizerTableCache<Tables> { tokenizer in
        let bytes = tokenizer.vocabularyBytes
        // Per token: the spaces it starts with (-1 when a tab is among its leading blanks), and the byte after
        // them (-1 when the token is all spaces and tabs).
        let blanks = bytes.map { bytes -> (spaces: Int32, next: Int16) in
            var spaces: Int32 = 0
            for b in bytes {
                if b == ascii(" ") { spaces += 1 } else if b == ascii("\t") { return (-1, 0) } else { return (spaces, Int16(b)) }
            }
            return (spaces, -1)
        }
        let special = (0..<Int32(bytes.count)).map { tokenizer.isSpecial($0) }
        var bySlot = [[Int32]](repeating: [], count: 3 << 8), others: [Int32] = []
        for id in bytes.indices where !special[id] {
            let (spaces, next) = blanks[id]
            guard spaces >= 0, spaces < 256 else { others.append(Int32(id)); continue }
            bySlot[PythonIndentationProcessor.slot(spaces: spaces, next: next)].append(Int32(id))
        }
        let slots = bySlot.indices.filter { !bySlot[$0].isEmpty }.map { (slot: $0, tokens: bySlot[$0]) }
        return Tables(bytes: bytes, special: special, groups: (slots, others))
    }

    init(tokenizer: BPETokenizer, promptLength: Int, healing: [UInt8]) {
        self.tokenizer = tokenizer
        self.promptLength = promptLength
        self.healing = healing
    }

    func bytes(of token: Int32) -> Int { Int(token) >= 0 && Int(token) < tokenBytes.count ? tokenBytes[Int(token)].count : 0 }

    /// Bytes generated so far (`history` is the prompt and the generated tokens).
    func written(_ history: [Int32]) -> Int {
        guard history.count > promptLength else { return 0 }
        return history[promptLength...].reduce(0) { $0 + bytes(of: $1) }
    }

    /// The generated token that writes the completion's first byte past the healed ones.
    func firstToken(of generated: [Int32]) -> Int32? {
        var written = 0
        for token in generated {
            written += bytes(of: token)
            if written > healing.count { return token }
        }
        return nil
    }
}

/// Token healing: the first tokens of a completion must write the healed bytes again (the prefix's last
/// token, left out of the prompt): a token is allowed while its text and what is left of them agree, one being
/// the start of the other. Special tokens wait until they are written.
final class HealingProcessor: LogitProcessor {
    let start: CompletionStart

    init(_ start: CompletionStart) { self.start = start }

    func process(_ logits: UnsafeMutableBufferPointer<Float>, history: [Int32]) {
        let written = start.written(history)
        guard written < start.healing.count else { return }
        let rest = start.healing[written...]
        let tokenBytes = start.tokenBytes
        for i in 0..<min(logits.count, tokenBytes.count) {
            let bytes = tokenBytes[i]
            let agrees = !start.special[i] && !bytes.isEmpty && (bytes.count <= rest.count
                ? rest.starts(with: bytes) : bytes.starts(with: rest))
            if !agrees { logits[i] = -.infinity }
        }
        for i in tokenBytes.count..<max(logits.count, tokenBytes.count) { logits[i] = -.infinity }
    }

    func accept(_ token: Int32) {}
}

/// Refuses some tokens as the completion's first (the token that writes its first byte after any healed
/// ones), so that another attempt starts differently.
final class FirstTokenBan: LogitProcessor {
    let start: CompletionStart
    let tokens: Set<Int32>

    init(_ start: CompletionStart, tokens: Set<Int32>) {
        self.start = start
        self.tokens = tokens
    }

    func process(_ logits: UnsafeMutableBufferPointer<Float>, history: [Int32]) {
        guard history.count >= start.promptLength, start.written(history) <= start.healing.count else { return }
        for token in tokens where Int(token) >= 0 && Int(token) < logits.count { logits[Int(token)] = -.infinity }
    }

    func accept(_ token: Int32) {}
}
