import Tokenizer

/// The fill-in-the-middle prompt conventions moecoder knows, told apart by their control-token texts.
public enum FIMFamily: String, Sendable, CaseIterable, Codable {
    /// `<｜fim▁begin｜>`, `<｜fim▁hole｜>`, `<｜fim▁end｜>`; BOS first.
    case deepSeekCoder = "deepseek-coder"
    /// `<|fim_prefix|>`, `<|fim_suffix|>`, `<|fim_middle|>`; no BOS.
    case qwenCoder = "qwen2.5-coder"
    /// `<fim_prefix>`, `<fim_suffix>`, `<fim_middle>`: StarCoder 1/2 and moecoder's own model.
    case starCoder = "starcoder"
    /// `▁<PRE>`, `▁<SUF>`, `▁<MID>`, ends with `▁<EOT>`; BOS first, and the prefix starts with a space.
    case codeLlama = "codellama"

    /// The prefix-token text that identifies the family.
    var prefixToken: String {
        switch self {
        case .deepSeekCoder: "<｜fim▁begin｜>"
        case .qwenCoder: "<|fim_prefix|>"
        case .starCoder: "<fim_prefix>"
        case .codeLlama: "▁<PRE>"
        }
    }

    /// Tokens after which the family's models have finished the middle (besides the FIM tokens themselves).
    var endTokens: [String] {
        switch self {
        case .deepSeekCoder: ["<｜end▁of▁sentence｜>", "<|EOT|>"]
        case .qwenCoder: ["<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|repo_name|>", "<|im_end|>"]
        case .starCoder: ["<|endoftext|>", "<fim_pad>", "<file_sep>", "<repo_name>"]
        case .codeLlama: ["▁<EOT>", "</s>"]
        }
    }
}

/// How to lay out a fill-in-the-middle prompt for one tokenizer, in prefix-suffix-middle (PSM) order:
///
///     [BOS] PREFIX-TOKEN <code before> SUFFIX-TOKEN <code after> MIDDLE-TOKEN
///
/// The model then writes the code between, and ends with one of `stopTokens`. BOS is added when the tokenizer
/// says so (`add_bos_token`), as llama.cpp does: DeepSeek-Coder and CodeLlama files set it, Qwen and StarCoder
/// files do not. CodeLlama's SentencePiece tokenizer gives the code before the cursor a leading space (its dummy
/// prefix) and none to the code after; `encodePrefix` reproduces that.
public struct FIMFormat: Sendable, Equatable {
    public let family: FIMFamily
    public let tokens: FIMTokens
    /// Prepended to every prompt (the tokenizer's BOS when it adds one).
    public let leading: [Int32]
    /// Tokens that end the middle: end of text, end of turn, padding, file separators and the FIM tokens.
    public let stopTokens: Set<Int32>

    /// The format for `tokenizer`; nil when it has no FIM tokens of a known family.
    public init?(tokenizer: BPETokenizer) {
        guard let fim = tokenizer.fim, let prefixText = tokenizer.token(of: fim.prefix),
              let family = FIMFamily.allCases.first(where: { $0.prefixToken == prefixText }) else { return nil }
        self.family = family
        tokens = fim
        leading = tokenizer.addBOS ? tokenizer.bos.map { [$0] } ?? [] : []
        var stops: Set<Int32> = [fim.prefix, fim.suffix, fim.middle]
        for id in [fim.pad, fim.endOfText, fim.fileSeparator, tokenizer.eos] { if let id { stops.insert(id) } }
        for text in family.endTokens { if let id = tokenizer.id(of: text) { stops.insert(id) } }
        stopTokens = stops
    }

    /// Tokens the layout adds around the code.
    public var overhead: Int { leading.count + 3 }

    /// The code before the cursor as tokens. Special-token texts in code stay plain text.
    public func encodePrefix(_ text: String, tokenizer: BPETokenizer) -> [Int32] {
        // A SentencePiece tokenizer puts the space there itself (`addsSpacePrefix`).
        let spaced = family == .codeLlama && !tokenizer.addsSpacePrefix && !text.isEmpty ? " " + text : text
        return tokenizer.encode(spaced, addSpecial: false, parseSpecial: false)
    }

    /// The code after the cursor as tokens (no SentencePiece space prefix: it continues the hole).
    public func encodeSuffix(_ text: String, tokenizer: BPETokenizer) -> [Int32] {
        tokenizer.encode(text, addSpecial: false, parseSpecial: false, spacePrefix: false)
    }

    /// The whole prompt from already encoded code, in PSM order.
    public func prompt(prefix: [Int32], suffix: [Int32]) -> [Int32] {
        leading + [tokens.prefix] + prefix + [tokens.suffix] + suffix + [tokens.middle]
    }
}
