/// Why a GGUF file could not be read or written: what is wrong and where (a byte offset when there is one).
public struct GGUFError: Error, CustomStringConvertible, Equatable {
    /// What is wrong and where, as one sentence for the user.
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
