import Foundation

/// Splits a byte stream into LSP messages: `Content-Length: N` (and optionally `Content-Type`) header lines,
/// a blank line, then N bytes of JSON. A header block that cannot be read is reported and skipped, so one
/// bad message never stalls the stream.
public struct MessageFramer: Sendable {
    /// One thing found in the stream.
    public enum Frame: Equatable, Sendable {
        case message(Data)
        /// A header block that was skipped, and why.
        case malformedHeader(String)
    }

    /// Bodies larger than this are refused (their header is reported, the bytes skipped).
    public static let maxBodyBytes = 64 << 20
    /// Header blocks longer than this without a blank line are dropped.
    public static let maxHeaderBytes = 8 << 10

    private var buffer: [UInt8] = []
    private var pendingBody: Int?
    /// Bytes of an oversized body still to throw away.
    private var skipping = 0

    public init() {}

    /// Adds bytes read from the stream and returns every complete frame they finish.
    public mutating func append(_ bytes: some Sequence<UInt8>) -> [Frame] {
        buffer.append(contentsOf: bytes)
        var frames: [Frame] = []
        while let frame = next() { frames.append(frame) }
        return frames
    }

    private mutating func next() -> Frame? {
        if skipping > 0 {
            let n = min(skipping, buffer.count)
            buffer.removeFirst(n)
            skipping -= n
            if skipping > 0 { return nil }
        }
        if let length = pendingBody {
            guard buffer.count >= length else { return nil }
            let body = Data(buffer[..<length])
            buffer.removeFirst(length)
            pendingBody = nil
            return .message(body)
        }
        guard let end = headerEnd() else {
            if buffer.count > Self.maxHeaderBytes {
                buffer.removeAll()
                return .malformedHeader("a header longer than \(Self.maxHeaderBytes) bytes without a blank line "
                                        + "after it; dropped")
            }
            return nil
        }
        let header = String(decoding: buffer[..<end.headerBytes], as: UTF8.self)
        buffer.removeFirst(end.headerBytes + end.separatorBytes)
        switch Self.contentLength(header) {
        case .success(let length) where length > Self.maxBodyBytes:
            skipping = length
            return .malformedHeader("Content-Length \(length) is over the limit of \(Self.maxBodyBytes) bytes")
        case .success(let length):
            pendingBody = length
            return next()
        case .failure(let why):
            return .malformedHeader(why.message)
        }
    }

    /// The end of the header block: a blank line (`\r\n\r\n`, or `\n\n` from lenient writers).
    private func headerEnd() -> (headerBytes: Int, separatorBytes: Int)? {
        var i = 0
        while i < buffer.count {
            if buffer[i] == 0x0A {
                if i + 1 < buffer.count, buffer[i + 1] == 0x0A { return (i, 2) }
                if i + 2 < buffer.count, buffer[i + 1] == 0x0D, buffer[i + 2] == 0x0A { return (i, 3) }
            }
            i += 1
        }
        return nil
    }

    struct HeaderError: Error { var message: String }

    static func contentLength(_ header: String) -> Result<Int, HeaderError> {
        var length: Int?
        for rawLine in header.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            guard let colon = line.firstIndex(of: ":") else {
                return .failure(HeaderError(message: "malformed header line '\(line.prefix(60))': expected 'Name: value'"))
            }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if name == "content-length" {
                guard let n = Int(value), n >= 0 else {
                    return .failure(HeaderError(message: "Content-Length '\(value.prefix(40))' is not a byte count"))
                }
                length = n
            }
        }
        guard let length else { return .failure(HeaderError(message: "the header has no Content-Length")) }
        return .success(length)
    }

    /// The framed form of a message body.
    public static func frame(_ body: Data) -> Data {
        var out = Data("Content-Length: \(body.count)\r\n\r\n".utf8)
        out.append(body)
        return out
    }
}
