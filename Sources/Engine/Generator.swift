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
    /// `cachedPrefix`: how many of the prompt's first tokens `cache` already holds from an earlier call with the
    /// same prompt (to try other continuations without processing the prompt again); the cache is cut back to
    /// them, and at least the prompt's last token is processed again.
    public func generate(prompt: [Int32], options: GenerationOptions, cache: KVCache? = nil, cachedPrefix: Int = 0,
                         processors: [any LogitProcessor] = [], constraint: (any TokenConstraint)? = nil,
                         stopRule: (any GenerationStopRule)? = nil, cancellation: CancellationFlag? = nil,
                         onText: (String) -> Bool = { _ in true }) throws -> GenerationResult {
        guard !prompt.isEmpty else { throw ModelError("the prompt is empty: give at least one token") }
        let transformer = model.transformer, tokenizer = model.tokenizer
        let cache = cache ?? transformer.makeCache(capacity: min(model.config.contextLength,
                                                                 prompt.count + options.maxTokens))
        let reused = cachedPrefix > 0 ? min(cachedPrefix, prompt.count - 1, cache.count) : 0
        cache.truncate(to: reused)
        let sampler = Sampler(options.sampling, processors: processors, constraint: constraint)
        var history = prompt, generated: [Int32] = []
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        var text = "", emitted = 0
        let holdBack = (options.stopStrings.map(\.count).max() ?? 1) - 1
        var reason = StopReason.maxTokens

        let promptStart = Date()
        // The prompt goes through in chunks, so a cancel does not wait for a long prefill.
        var logits = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
        var offset = reused
        while offset < prompt.count {
            if cancellation?.isCancelled == true {
                return GenerationResult(tokens: [], text: "", stopReason: .cancelled, promptTokens: prompt.count,
                                        promptSeconds: Date().timeIntervalSince(promptStart), decodeSeconds: 0)
            }
            let end = min(prompt.count, offset + Self.prefillChunk)
            logits = try transformer.forward(Array(prompt[offset..<end]), cache: cache)
            offset = end
        }
        let promptSeconds = Date().timeIntervalSince(promptStart)
        let decodeStart = Date()
        loop: while generated.count < options.maxTokens {
            if cancellation?.isCancelled == true {
                reason = .cancelled
                break
            }
            let token = sampler.sample(logits, history: history)
            if !options.ignoreEOS, token == tokenizer.eos || tokenizer.isEndOfGeneration(token) {
                reason = .endOfText
                break
            }
            if options.stopTokens.contains(token) {
                reason = .stopToken
                break
            }
            generated.append(token)
            history.append(token)
            text += decoder.append(token)
            for stop in options.stopStrings {
                if let range = text.range(of: stop) {
                    text = String(text[..<range.lowerBound])
                    reason = .stopString
                    break loop
                }
            }
            if let stopRule, stopRule.shouldStop(text) {
                reason = .stopRule
                break
            }
            let ready = text.count - holdBack
            if ready > emitted {
                let piece = String(text.dropFirst(emitted).prefix(ready - emitted))
                emitted = ready
                if !onText(piece) {
                    reason = .cancelled
                    break
                }
            }
            if generated.count == options.maxTokens { break }
            if cache.count >= cache.capacity {
                reason = .contextFull
                break
            }
            logits = try transformer.forward([token], cache: cache)
        }
        if reason != .stopString { text += decoder.finish() }
        if text.count > emitted, reason != .cancelled { _ = onText(String(text.dropFirst(emitted))) }
        return GenerationResult(tokens: generated, text: text, stopReason: reason, promptTokens: prompt.count,
                                promptSeconds: promptSeconds, decodeSeconds: Date().timeIntervalSince(decodeStart))
    }
}

extension BPETokenizer {
    /// End-of-turn style tokens that also end a completion (`<|endoftext|>`, `<|im_end|>`, `<｜end▁of▁sentence｜>`, `<EOT>`).
    func isEndOfGeneration(_ token: Int32) -> Bool {
        if let fim = fim, token == fim.endOfText { return true }
        return false
    }
}
