import Foundation

/// A failure `pull` or the cache reports to the user: one sentence that says what went wrong and, where it can,
/// what to do about it.
public struct HubError: Error, CustomStringConvertible, Equatable, Sendable {
    public var message: String
    /// HTTP status when the failure was a server's answer.
    public var status: Int?

    public init(_ message: String, status: Int? = nil) {
        self.message = message
        self.status = status
    }

    public var description: String { message }
}

/// A JSON or attribute number as Int64, however Foundation boxed it.
func int64(_ value: Any?) -> Int64? {
    switch value {
    case let v as Int64: return v
    case let v as Int: return Int64(v)
    case let v as UInt64: return Int64(exactly: v)
    case let v as Double: return Int64(exactly: v)
    case let v as NSNumber: return v.int64Value
    default: return nil
    }
}

/// A file's size in bytes, nil when it cannot be read.
func fileSize(atPath path: String) -> Int64? {
    int64((try? FileManager.default.attributesOfItem(atPath: path))?[.size])
}
