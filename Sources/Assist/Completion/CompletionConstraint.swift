import Engine
import Syntax
import Tokenizer

/// Which syntax constraint guides decoding.
public enum CompletionConstraint {
    /// The syntax constraint for the file's language: tokens that would make the code unparsable are masked.
    case syntax
    /// No constraint (`--no-constrain`, to compare).
    case none
    /// A caller's own logit processor, put first in the sampler chain.
    case custom(any LogitProcessor)
}

/// What a syntax constraint needs to know about the hole it fills.
public struct ConstraintContext {
    public let language: Language
    public let tokenizer: BPETokenizer
    /// All the code before the cursor and after it (not only what fits in the prompt).
    public let prefix: String
    public let suffix: String
}

extension CodeCompleter {
    /// The syntax constraint for a completion (`CompletionConstraint.syntax`): tokens after which the code
    /// before the cursor plus the completion is no longer a viable prefix are masked; the stop tokens of the
    /// prompt format stay allowed. The code after the cursor is not part of the mask (the stop rules and
    /// `parseOK` check it).
    static func syntaxConstraint(for context: ConstraintContext, endTokens: Set<Int32>) throws -> SyntaxConstraint {
        try SyntaxConstraint(language: context.language, tokenizer: context.tokenizer, prefix: context.prefix,
                             endTokens: endTokens)
    }
}
