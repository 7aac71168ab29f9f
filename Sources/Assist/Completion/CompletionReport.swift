import Foundation

/// What `complete --json` prints and `POST /v1/code/complete` answers.
public struct CompletionReport: Encodable, Sendable {
    public var completion: String
    public var tokens: Int
    public var constrained: Bool
    public var parseOK: Bool
    public var stopReason: CompletionStop
    public var ms: Double
    public var promptTokens: Int
    public var fim: FIMFamily?
    public var notes: [String]
    public var attempts: Int
    public var cachedPromptTokens: Int
    /// The KV cache after the completion (blocks, hits, evictions), when the caller adds it.
    public var kvCache: [String: Int]?
    /// Decoding time over all decodings made, and the syntax constraint's counters and times (its `step_us_*`
    /// are per generated token; `setup_us` is its one-time set-up).
    public var decodeMs: Double
    public var decodedTokens: Int
    public var constraint: ConstraintStatistics?

    public init(_ c: Completion) {
        completion = c.text
        tokens = c.tokens
        constrained = c.constrained
        parseOK = c.parseOK
        stopReason = c.stopReason
        ms = (c.seconds * 1000 * 100).rounded() / 100
        promptTokens = c.promptTokens
        fim = c.fimFamily
        notes = c.notes
        attempts = c.attempts
        cachedPromptTokens = c.cachedPromptTokens
        decodeMs = (c.decodeSeconds * 1000 * 1000).rounded() / 1000
        decodedTokens = c.decodedTokens
        constraint = c.constraintStatistics
    }

    enum CodingKeys: String, CodingKey {
        case completion, tokens, constrained, parseOK = "parse_ok", stopReason = "stop_reason", ms
        case promptTokens = "prompt_tokens", fim, notes, attempts
        case cachedPromptTokens = "cached_prompt_tokens"
        case kvCache = "kv_cache"
        case decodeMs = "decode_ms", decodedTokens = "decoded_tokens", constraint
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(completion, forKey: .completion)
        try container.encode(tokens, forKey: .tokens)
        try container.encode(constrained, forKey: .constrained)
        try container.encode(parseOK, forKey: .parseOK)
        try container.encode(stopReason, forKey: .stopReason)
        try container.encode(ms, forKey: .ms)
        try container.encode(promptTokens, forKey: .promptTokens)
        try container.encode(fim, forKey: .fim)  // null when the model has no FIM tokens
        try container.encode(notes, forKey: .notes)
        try container.encode(attempts, forKey: .attempts)
        try container.encode(cachedPromptTokens, forKey: .cachedPromptTokens)
        try container.encodeIfPresent(kvCache, forKey: .kvCache)
        try container.encode(decodeMs, forKey: .decodeMs)
        try container.encode(decodedTokens, forKey: .decodedTokens)
        try container.encodeIfPresent(constraint, forKey: .constraint)
    }
}
