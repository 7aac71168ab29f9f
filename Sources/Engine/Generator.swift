import Foundation
import Tokenizer

/// What to generate and when to stop.
public struct GenerationOptions: Sendable {
    public var maxTokens: Int = 128
    public var sampling = SamplingParameters()
    /// Extra tokens that end generation (the tokenizer's end-of-sequence always does, unless `ignoreEOS`).
    public var stopTokens: Set<Int32> = []
    /// Text that ends generation; the result's text stops before it.
    public var stopStrings: [String] = []
    public var ignoreEOS = false
    /// Report each generated token's log-probability under the model (its raw logits, before sampling
    /// settings) and those of the `logprobs` most likely tokens at that step; nil: none.
    public var logprobs: Int?

    public init(maxTokens: Int = 128, sampling: SamplingParameters = SamplingParameters(),
                stopTokens: Set<Int32> = [], stopStrings: [String] = [], ignoreEOS: Bool = false) {
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.stopTokens = stopTokens
        self.stopStrings = stopStrings
        self.ignoreEOS = ignoreEOS
    }
}

/// Why generation ended.
public enum StopReason: String, Sendable, Codable {
    case maxTokens = "max_tokens", endOfText = "eos", stopString = "stop_string", stopToken = "stop_token"
    case contextFull = "context_full", cancelled, stopRule = "stop_rule"
}

public struct GenerationResult: Sendable {
    public var tokens: [Int32]
    public var text: String
    public var stopReason: StopReason
    public var promptTokens: Int
    public var promptSeconds: Double
    public var decodeSeconds: Double
    /// Prompt tokens whose keys and values came from the cache (a prefix computed before), not computed.
    public var cachedPromptTokens = 0
    /// Per generated token, with `GenerationOptions.logprobs`.
    public var logprobs: [TokenLogprob]?
}

/// A generated token's log-probability and the most likely alternatives at its step.
public struct TokenLogprob: Sendable {
    public var token: Int32
    public var logprob: Float
    public var top: [(token: Int32, logprob: Float)]
}

/// Set from another thread to stop a generation at the next step, prompt processing included (the prompt
/// is processed in chunks so a cancel takes effect within one chunk).
public final class CancellationFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false

    public init() {}

    public func cancel() { lock.withLock { cancelled = true } }
    public var isCancelled: Bool { lock.withLock { cancelled } }
}

/// Decides, from the text generated so far, whether generation is finished (e.g. at the end of a statement).
public protocol GenerationStopRule: AnyObject {
    func shouldStop(_ generated: String) -> Bool
}

/// Runs the decode loop: prefill the prompt, then sample, stream and stop.
public final class Generator {
    public let model: LanguageModel

    public init(model: LanguageModel) { self.model = model }

    /// Prompt tokens per forward call during prefill (the granularity of cancellation).
    static let prefillChunk = 128

    /// Generates after `prompt`. `onText` receives text as it becomes final (never a split character, never
    /// text that could still turn out to be a stop string); return false from it to cancel.
    /// `constraint` masks tokens (a grammar); `stopRule` is asked after each token with the text generated so
    /// far and ends generation (reason `.stopRule`) when it says so.
    /// The prompt's longest prefix that `cache` holds already (from an earlier call), or that its pool has
    /// cached from other sequences, is not computed again (at least the prompt's last token is). Without a
    /// `cache`, one in the model's shared pool is used.
    public func generate(prompt: [Int32], options: GenerationOptions, cache: KVCache? = nil,
                         processors: [any LogitProcessor] = [], constraint: (any TokenConstraint)? = nil,
                         stopRule: (any GenerationStopRule)? = nil, cancellation: CancellationFlag? = nil,
                         onText: (String) -> Bool = { _ in true }) throws -> GenerationResult {
        guard !prompt.isEmpty else { throw ModelError("the prompt is empty: give at least one token") }
        let transformer = model.transformer
        let cache = cache ?? transformer.makeSharedCache(capacity: min(model.config.contextLength,
                                                                       prompt.count + options.maxTokens))
        let reused = cache.reusePrefix(of: prompt, limit: prompt.count - 1)
        let sequence = SequenceDecoder(prompt: prompt, options: options, tokenizer: model.tokenizer,
                                       processors: processors, constraint: constraint, stopRule: stopRule)

        let promptStart = Date()
        // The prompt goes through in chunks, so a cancel does not wait for a long prefill.
        var logits = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
        var offset = reused
        while offset < prompt.count {
            if cancellation?.isCancelled == true {
                return GenerationResult(tokens: [], text: "", stopReason: .cancelled, promptTokens: prompt.count,
                                        promptSeconds: Date().timeIntervalSince(promptStart), decodeSeconds: 0,
                                        cachedPromptTokens: reused)
            }
            let end = min(prompt.count, offset + Self.prefillChunk)
            logits = try transformer.forward(Array(prompt[offset..<end]), cache: cache)
            offset = end
        }
        let promptSeconds = Date().timeIntervalSince(promptStart)
        let decodeStart = Date()
        while sequence.stopReason == nil {
            if cancellation?.isCancelled == true {
                _ = sequence.finish(.cancelled)
                break
            }
            let piece = sequence.step(logits)
            if !piece.isEmpty, !onText(piece) {
                _ = sequence.finish(.cancelled)
                break
            }
            if sequence.stopReason != nil { break }
            if cache.count >= cache.capacity {
                _ = sequence.finish(.contextFull)
                break
            }
            logits = try transformer.forward([sequence.lastToken!], cache: cache)
        }
        let tail = sequence.finish()
        if !tail.isEmpty { _ = onText(tail) }
        var result = sequence.result(promptSeconds: promptSeconds, decodeSeconds: Date().timeIntervalSince(decodeStart))
        result.cachedPromptTokens = reused
        return result
    }
}

/// One sequence's decoding after its prompt: sampling, the stop checks and the text that becomes final,
/// token by token. The single-sequence `Generator` and the `BatchScheduler` both decode through it, so a
/// sequence decodes the same either way.
public final class SequenceDecoder {
    public let options: GenerationOptions
    let tokenizer: BPETokenizer
    let sampler: Sampler
    let stopRule: (any GenerationStopRule)?
    public let promptTokens: Int
    public private(set) var history: [Int32]
    public private(set) var generated: [Int32] = []
    public private(set) var text = ""
    /// Set when generation has ended (call `finish` for the remaining text).
    public private(set) var stopReason: StopReason?
    private var decoder: StreamingDecoder
    private var emitted = 0
    private let holdBack: Int
    private var finished = false
    /// With `options.logprobs`: each generated token's, and the step's raw logits.
    private var logprobs: [TokenLogprob] = []
    private var raw: [Float] = []

    public init(prompt: [Int32], options: GenerationOptions, tokenizer: BPETokenizer,
                processors: [any LogitProcessor] = [], constraint: (any TokenConstraint)? = nil,
                stopRule: (any GenerationStopRule)? = nil) {
        self.options = options
        self.tokenizer = tokenizer
        self.stopRule = stopRule
        sampler = Sampler(options.sampling, processors: processors, constraint: constraint)
        history = prompt
        promptTokens = prompt.count
        decoder = StreamingDecoder(tokenizer: tokenizer)
        holdBack = (options.stopStrings.map(\.count).max() ?? 1) - 1
        if options.maxTokens <= 0 { stopReason = .maxTokens }
    }

    /// The token to feed the model next (the last one generated).
    public var lastToken: Int32? { generated.last }

    /// Samples the next token from `logits` (modified in place) and returns the text that became final with
    /// it ("" when none). Afterwards `stopReason` says whether generation has ended.
    public func step(_ logits: UnsafeMutableBufferPointer<Float>) -> String {
        guard stopReason == nil else { return "" }
        // Log-probabilities come from the raw logits (sampling rewrites them in place).
        var normalizer: Float = 0, top: [(token: Int32, logprob: Float)] = []
        if let count = options.logprobs {
            if raw.count != logits.count { raw = [Float](repeating: 0, count: logits.count) }
            raw.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: logits.baseAddress!, count: logits.count) }
            let high = raw.max() ?? 0
            var sum: Double = 0
            for x in raw { sum += Double(expf(x - high)) }
            normalizer = high + Float(log(sum))
            if count > 0 {
                for (i, x) in raw.enumerated() where top.count < count || x > top[top.count - 1].logprob {
                    let at = top.firstIndex { x > $0.logprob } ?? top.count
                    top.insert((Int32(i), x), at: at)
                    if top.count > count { top.removeLast() }
                }
                top = top.map { ($0.token, $0.logprob - normalizer) }
            }
        }
        let token = sampler.sample(logits, history: history)
        if !options.ignoreEOS, token == tokenizer.eos || tokenizer.isEndOfGeneration(token) {
            stopReason = .endOfText
            return ""
        }
        if options.stopTokens.contains(token) {
            stopReason = .stopToken
            return ""
        }
        generated.append(token)
        history.append(token)
        if options.logprobs != nil {
            logprobs.append(TokenLogprob(token: token, logprob: raw[Int(token)] - normalizer, top: top))
        }
        text += decoder.append(token)
        for stop in options.stopStrings {
            if let range = text.range(of: stop) {
                text = String(text[..<range.lowerBound])
                stopReason = .stopString
                return ""
            }
        }
        if let stopRule, stopRule.shouldStop(text) {
            stopReason = .stopRule
            return ""
        }
        var piece = ""
        let ready = text.count - holdBack
        if ready > emitted {
            piece = String(text.dropFirst(emitted).prefix(ready - emitted))
            emitted = ready
        }
        if generated.count >= options.maxTokens { stopReason = .maxTokens }
        return piece
    }

    /// Ends generation (with `reason` when given and it had not ended on its own, or when cancelling) and
    /// returns the text not yet handed out ("" after a cancel). Later calls return "".
    public func finish(_ reason: StopReason? = nil) -> String {
        if let reason, stopReason == nil || reason == .cancelled { stopReason = reason }
        if stopReason == nil { stopReason = .maxTokens }
        guard !finished else { return "" }
        finished = true
        if stopReason != .stopString { text += decoder.finish() }
        guard text.count > emitted, stopReason != .cancelled else { return "" }
        let tail = String(text.dropFirst(emitted))
        emitted = text.count
        return tail
    }

    public func result(promptSeconds: Double, decodeSeconds: Double) -> GenerationResult {
        var result = GenerationResult(tokens: generated, text: text, stopReason: stopReason ?? .maxTokens,
                                      promptTokens: promptTokens, promptSeconds: promptSeconds,
                                      decodeSeconds: decodeSeconds)
        if options.logprobs != nil { result.logprobs = logprobs }
        return result
    }
}

extension BPETokenizer {
    /// End-of-turn style tokens that also end a completion (`<|endoftext|>`, `<|im_end|>`, `<｜end▁of▁sentence｜>`, `<EOT>`).
    func isEndOfGeneration(_ token: Int32) -> Bool {
        if let fim = fim, token == fim.endOfText { return true }
        return false
    }
}
