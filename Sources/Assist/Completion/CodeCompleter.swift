import Engine
import Foundation
import Syntax

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
    /// after which it does (on by default).
    public var trimToParse = true

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
        let prompt = CompletionPrompt(tokenizer: model.tokenizer, prefix: prefix, suffix: suffix,
                                      budget: contextLength - maxTokens)
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
                for: ConstraintContext(language: request.language, tokenizer: model.tokenizer, prefix: prefix,
                                       suffix: suffix),
                endTokens: prompt.stopTokens)
            if let why = constraint?.degraded { notes.append(why) }
        }

        var rules = StopRules(context: context)
        let options = GenerationOptions(maxTokens: maxTokens, sampling: request.sampling,
                                        stopTokens: prompt.stopTokens)
        let result = try Generator(model: model).generate(prompt: prompt.tokens, options: options,
                                                          processors: processor.map { [$0] } ?? [],
                                                          constraint: constraint,
                                                          cancellation: request.cancellation) { piece in
            rules.append(piece) == nil
        }
        let stop = rules.finish()
        var text = rules.finalText()
        var parseOK = context.check.parses(with: Array(text.utf8)[...])
        if !parseOK, request.trimToParse,
           let trimmed = Self.longestParsingLines(of: text, check: context.check)
               ?? Self.longestParsingPrefix(of: text, check: context.check) {
            // Never leave the file broken when part of the completion fits: keep the longest such part,
            // whole lines first.
            notes.append("the completion was cut back to its longest part after which the file parses")
            text = trimmed
            parseOK = true
        }
        return Completion(
            text: text, insertedSource: prefix + text + suffix, tokens: result.tokens.count,
            promptTokens: prompt.tokens.count,
            constrained: processor != nil || (constraint?.isActive ?? false),
            parseOK: parseOK,
            stopReason: stop?.reason ?? Self.reason(result.stopReason),
            seconds: Date().timeIntervalSince(start), fimFamily: prompt.format?.family, notes: notes)
    }

    /// The longest non-empty prefix of `text` ending at a line end after which the file parses.
    static func longestParsingLines(of text: String, check: InsertionCheck) -> String? {
        let bytes = Array(text.utf8)
        var cuts = bytes.indices.filter { bytes[$0] == UInt8(ascii: "\n") }.reversed().map { $0 }
        cuts = cuts.flatMap { [$0 + 1, $0] }   // with and without the line break
        for cut in cuts where cut > 0 && cut < bytes.count {
            let part = bytes[..<cut]
            if part.contains(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x09 }), check.parses(with: part) {
                return String(decoding: part, as: UTF8.self)
            }
        }
        return nil
    }

    /// The longest non-blank prefix of `text` (at a character boundary) after which the file parses.
    static func longestParsingPrefix(of text: String, check: InsertionCheck) -> String? {
        let bytes = Array(text.utf8)
        for cut in stride(from: bytes.count - 1, to: 0, by: -1) where bytes[cut] & 0xC0 != 0x80 {
            let part = bytes[..<cut]
            if part.contains(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x09 }), check.parses(with: part) {
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
