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
    /// The syntax constraint for a completion (`CompletionConstraint.syntax`), or nil while there is none.
    ///
    /// The default constrained path: the syntax constraint (Sources/Assist/Constraint) is built here from
    /// `context`, and `Completion.constrained` reports whether one was used. Until it lands this returns nil,
    /// and completions say so in their notes.
    static func syntaxConstraint(for context: ConstraintContext) throws -> (any LogitProcessor)? {
        nil
    }
}
