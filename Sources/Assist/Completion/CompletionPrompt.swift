import Tokenizer

/// The prompt for one completion: fill-in-the-middle when the model knows how, else the code before the cursor,
/// fitted to the model's context window with room left for the completion.
public struct CompletionPrompt: Sendable {
    public var tokens: [Int32]
    /// nil when the model has no FIM tokens and only the code before the cursor is in the prompt.
    public var format: FIMFormat?
    /// Tokens that end generation besides the tokenizer's end of sequence.
    public var stopTokens: Set<Int32>
    /// Whole lines left out above and below the cursor to fit the context.
    public var droppedPrefixLines: Int
    public var droppedSuffixLines: Int
    /// The end of the code before the cursor that is left out of the prompt for the completion to write again
    /// (token healing): the text of the prefix's last token, for a prompt of the code before the cursor only. A
    /// cursor after indentation ends that code with a token of spaces that a model reading files left to right
    /// rarely saw before code (it tokenizes `   ` + ` return`); taking that token back lets the model choose the
    /// split it knows. Fill-in-the-middle prompts are not healed: FIM training tokenizes the prefix on its own,
    /// so a prefix ending in a token of spaces is what the model saw there. Empty when nothing is taken back.
    public var healing: [UInt8] = []

    /// - Parameters:
    ///   - prefix: the code before the cursor; `suffix`: the code after it.
    ///   - budget: tokens the prompt may take (the context length minus the tokens kept for the completion).
    ///   - heal: take the prefix's last token back when the prompt is the prefix only (see `healing`).
    ///   - windowStarts: where recent prompts' windows started, to start there again while it fits (the KV
    ///     cache then serves the prefix); nil: the window depends on this request alone.
    public init(tokenizer: BPETokenizer, prefix: String, suffix: String, budget: Int, heal: Bool = false,
                windowStarts: WindowStarts? = nil) {
        format = FIMFormat(tokenizer: tokenizer)
        if let format {
            let window = PromptWindow(prefix: prefix, suffix: suffix, budget: budget - format.overhead,
                                      starts: windowStarts,
                                      encodePrefix: { format.encodePrefix($0, tokenizer: tokenizer) },
                                      encodeSuffix: { format.encodeSuffix($0, tokenizer: tokenizer) })
            // No healing here: FIM training tokenizes the prefix on its own, so its last token is what the model saw.
            tokens = format.prompt(prefix: window.prefixTokens, suffix: window.suffixTokens)
            stopTokens = format.stopTokens
            droppedPrefixLines = window.droppedPrefixLines
            droppedSuffixLines = window.droppedSuffixLines
        } else {
            // Without FIM tokens the model continues the code before the cursor, which starts a document:
            // BOS when the tokenizer adds one, else its end-of-sequence token as document separator if the
            // code before the cursor is empty (a prompt needs one token).
            let leading = tokenizer.addBOS ? tokenizer.bos.map { [$0] } ?? [] : []
            let window = PromptWindow(prefix: prefix, suffix: "", budget: budget - leading.count,
                                      starts: windowStarts,
                                      encodePrefix: { tokenizer.encode($0, addSpecial: false, parseSpecial: false) },
                                      encodeSuffix: { _ in [] })
            var prefixTokens = window.prefixTokens
            if heal { healing = Self.takeBack(&prefixTokens, keep: 1, prefix: prefix, tokenizer: tokenizer) }
            tokens = leading + prefixTokens
            if tokens.isEmpty, let separator = tokenizer.bos ?? tokenizer.eos { tokens = [separator] }
            stopTokens = tokenizer.eos.map { [$0] } ?? []
            droppedPrefixLines = window.droppedPrefixLines
            droppedSuffixLines = 0
        }
    }

    /// Removes the last of `tokens` (leaving at least `keep`) when it is ordinary text that ends `prefix` as
    /// whole characters without a line break, and returns its bytes.
    private static func takeBack(_ tokens: inout [Int32], keep: Int, prefix: String,
                                 tokenizer: BPETokenizer) -> [UInt8] {
        guard tokens.count > keep, let last = tokens.last, !tokenizer.isSpecial(last) else { return [] }
        let bytes = tokenizer.bytes(of: last)
        guard !bytes.isEmpty, bytes.count <= 32, !bytes.contains(ascii("\n")),
              prefix.utf8.count >= bytes.count, prefix.utf8.suffix(bytes.count).elementsEqual(bytes),
              String(validating: bytes, as: UTF8.self) != nil else { return [] }
        tokens.removeLast()
        return bytes
    }
}
