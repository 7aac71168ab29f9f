/// Why a vocabulary or tokenizer.json could not be loaded; the description says what to fix.
public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    /// The file could not be read or is not JSON.
    case unreadable(path: String, reason: String)
    /// A required field is missing or has the wrong shape; `field` is its JSON path.
    case malformed(field: String, reason: String)
    /// Valid, but uses a feature this engine does not implement.
    case unsupported(String)
    /// Inconsistent vocabulary data (e.g. a merge naming a token that does not exist).
    case invalidVocabulary(String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "cannot read tokenizer file \(path): \(reason)"
        case .malformed(let field, let reason): return "malformed tokenizer.json: \(field) \(reason)"
        case .unsupported(let what): return "unsupported tokenizer: \(what)"
        case .invalidVocabulary(let what): return "invalid vocabulary: \(what)"
        }
    }
}
