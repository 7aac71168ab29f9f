/// Why a GGUF file could not be read or written: what is wrong and where (a byte offset when there is one).
public struct GGUFError: Error, CustomStringConvertible, Equatable {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
