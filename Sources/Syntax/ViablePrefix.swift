import Grammars

/// Tells whether text is still a prefix of some program the grammar accepts, driven by the grammar's own
/// LR tables and lexer (see Sources/Grammars/viable_prefix.c), incrementally as text is appended.
///
/// Not thread-safe; copies share the grammar's external-scanner instance, so use them from one thread.
public final class ViablePrefix: @unchecked Sendable {
    private let state: OpaquePointer
    public let language: Language

    /// The state for empty text.
    public init(language: Language) throws {
        guard let created = vp_create(UnsafeRawPointer(try language.grammar())) else {
            throw SyntaxLayerError.parseFailed("could not create a parser state for \(language.name)")
        }
        state = created
        self.language = language
    }

    private init(state: OpaquePointer, language: Language) {
        self.state = state
        self.language = language
    }

    deinit { vp_destroy(state) }

    /// An independent copy.
    public func copy() -> ViablePrefix {
        ViablePrefix(state: vp_clone(state)!, language: language)
    }

    /// Makes this state a copy of `other` (of the same language), reusing the storage it has: cheaper than
    /// `copy()` for a state kept to be overwritten again and again. Returns false (the state is then dead) only
    /// when memory ran out.
    @discardableResult
    public func assign(from other: ViablePrefix) -> Bool {
        precondition(language == other.language, "assign(from:) across languages")
        return vp_assign(state, other.state) != 0
    }

    /// Appends text; returns whether it is still a viable prefix (once false, it stays false).
    @discardableResult
    public func append(_ text: String) -> Bool { append(bytes: Array(text.utf8)) }

    @discardableResult
    public func append(bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { vp_append(state, $0.baseAddress, UInt32($0.count)) != 0 }
        }
    }

    /// Whether appending `bytes` would keep the text viable (the state is unchanged).
    public func check(bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        bytes.withMemoryRebound(to: CChar.self) { vp_check(state, $0.baseAddress, UInt32($0.count)) != 0 }
    }

    public func check(_ text: String) -> Bool {
        Array(text.utf8).withUnsafeBufferPointer { check(bytes: $0) }
    }

    public var isViable: Bool { vp_is_viable(state) != 0 }
    /// Tests: decide without the recognizer's exact shortcuts (copies keep the setting), as the reference that
    /// they must agree with.
    func useReference() { vp_set_reference(state, 1) }
    /// Parser stack versions alive (> 1 where the text is still ambiguous).
    public var versionCount: Int { Int(vp_version_count(state)) }
    /// Bytes appended so far.
    public var length: Int { Int(vp_length(state)) }
    /// Equal keys mean the same continuations are viable (for caching masks).
    public var key: UInt64 { vp_key(state) }

    /// Whether a whole text is a viable prefix.
    public static func isViable(_ text: String, language: Language) throws -> Bool {
        try ViablePrefix(language: language).append(text)
    }
}
