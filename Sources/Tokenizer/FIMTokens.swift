/// The fill-in-the-middle control tokens of a code model: the prompt is
/// `prefix <code before> suffix <code after> middle`, and the model writes the middle part.
public struct FIMTokens: Sendable, Equatable {
    public var prefix: Int32
    public var suffix: Int32
    public var middle: Int32
    public var pad: Int32?
    public var endOfText: Int32?
    public var fileSeparator: Int32?

    public init(prefix: Int32, suffix: Int32, middle: Int32, pad: Int32? = nil, endOfText: Int32? = nil,
                fileSeparator: Int32? = nil) {
        self.prefix = prefix
        self.suffix = suffix
        self.middle = middle
        self.pad = pad
        self.endOfText = endOfText
        self.fileSeparator = fileSeparator
    }

    /// The token texts of each known FIM convention: (prefix, suffix, middle, pad, end of text, file separator).
    static let conventions: [(String, String, String, [String], [String], [String])] = [
        // DeepSeek-Coder: <｜fim▁begin｜>prefix<｜fim▁hole｜>suffix<｜fim▁end｜>
        ("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>", [], ["<｜end▁of▁sentence｜>", "<|EOT|>"], []),
        // Qwen2.5-Coder
        ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", ["<|fim_pad|>"], ["<|endoftext|>"], ["<|file_sep|>"]),
        // StarCoder 1/2 and our own model
        ("<fim_prefix>", "<fim_suffix>", "<fim_middle>", ["<fim_pad>"], ["<|endoftext|>"], ["<file_sep>"]),
        // CodeLlama (SentencePiece-style texts)
        ("▁<PRE>", "▁<SUF>", "▁<MID>", [], ["▁<EOT>"], []),
    ]

    /// The first convention whose prefix, suffix and middle tokens all exist.
    static func detect(_ id: (String) -> Int32?) -> FIMTokens? {
        for (prefix, suffix, middle, pad, end, fileSeparator) in conventions {
            guard let p = id(prefix), let s = id(suffix), let m = id(middle) else { continue }
            return FIMTokens(prefix: p, suffix: s, middle: m, pad: pad.lazy.compactMap(id).first,
                             endOfText: end.lazy.compactMap(id).first,
                             fileSeparator: fileSeparator.lazy.compactMap(id).first)
        }
        return nil
    }
}
