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

    /// - Parameters:
    ///   - prefix: the code before the cursor; `suffix`: the code after it.
    ///   - budget: tokens the prompt may take (the context length minus the tokens kept for the completion).
    public init(tokenizer: BPETokenizer, prefix: String, suffix: String, budget: Int) {
        format = FIMFormat(tokenizer: tokenizer)
        if let format {
            let window = PromptWindow(prefix: prefix, suffix: suffix, budget: budget - format.overhead,
                                      encodePrefix: { format.encodePrefix($0, tokenizer: tokenizer) },
                                      encodeSuffix: { format.encodeSuffix($0, tokenizer: tokenizer) })
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
                                      encodePrefix: { tokenizer.encode($0, addSpecial: false, parseSpecial: false) },
                                      encodeSuffix: { _ in [] })
            tokens = leading + window.prefixTokens
            if tokens.isEmpty, let separator = tokenizer.bos ?? tokenizer.eos { tokens = [separator] }
            stopTokens = tokenizer.eos.map { [$0] } ?? []
            droppedPrefixLines = window.droppedPrefixLines
            droppedSuffixLines = 0
        }
    }
}
