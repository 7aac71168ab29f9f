import Foundation

/// Where the server's outgoing messages go. Thread-safe: the reader, the worker and progress callbacks
/// all send.
public protocol MessageSink: AnyObject, Sendable {
    func send(_ message: JSONValue)
}

/// Writes framed messages to a file descriptor (the real standard output, kept apart from fd 1 so that a
/// stray `print` can never corrupt the stream).
public final class FileDescriptorSink: MessageSink, @unchecked Sendable {
    private let fd: Int32
    private let lock = NSLock()
    private let encoder: JSONEncoder

    public init(fd: Int32) {
        self.fd = fd
        encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
    }

    public func send(_ message: JSONValue) {
        guard let body = try? encoder.encode(message) else { return }
        let data = MessageFramer.frame(body)
        lock.lock()
        defer { lock.unlock() }
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n > 0 { offset += n } else if n < 0, errno == EINTR { continue } else { return }
            }
        }
    }
}

/// Reads framed messages from a file descriptor until end of input, handing each frame to `handle`.
public enum FrameReader {
    public static func run(fd: Int32, handle: (MessageFramer.Frame) -> Bool) {
        var framer = MessageFramer()
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return }
            for frame in framer.append(chunk[..<n]) {
                if !handle(frame) { return }
            }
        }
    }
}
