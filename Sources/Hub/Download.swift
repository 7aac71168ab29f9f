import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a pull tells its caller while it works.
public enum PullEvent: Sendable {
    /// A line for the user (resuming, checking, no checksum, …).
    case note(String)
    /// Bytes of `file` on disk so far, of `total` when known; `startedAt` is where this run began (for speed).
    case progress(file: String, received: Int64, total: Int64?, startedAt: Int64)
    /// `file` is complete (downloaded or already there).
    case finished(file: String)
}

/// A file now in the cache.
public struct PulledFile: Sendable, Equatable {
    public var name: String
    public var path: String
    public var size: Int64
    /// The sha256 of the bytes on disk.
    public var sha256: String
    /// Whether the hub published a checksum and the file matched it.
    public var verified: Bool
    /// False when the file was already in the cache.
    public var downloaded: Bool
}

/// Mutable state shared with the transfer's delegate queue; the caller waits for the transfer, so accesses never
/// overlap.
private final class DownloadState: @unchecked Sendable {
    var hasher = SHA256()
    var offset: Int64 = 0
    var handle: FileHandle
    var restartedFromZero = false
    /// Body bytes received by the current request.
    var attemptBytes: Int64 = 0
    init(handle: FileHandle) { self.handle = handle }
}

/// The file a `.part` file belongs to (`.part.json`).
private struct PartIdentity: Codable, Equatable {
    var sha256: String?
    var size: Int64?
}

/// Internal signal: the server cannot serve the requested range; start over.
private struct RangeNotSatisfiable: Error {}

extension HubClient {
    /// Downloads `file` of `reference` to `destination`: through `destination.part`, resuming it with a Range
    /// request, checking the size and the hub's sha256, then renaming into place.
    public func download(_ file: RepoFile, of reference: ModelReference, revision: String? = nil, to destination: URL,
                         events: @escaping (PullEvent) -> Void) throws -> PulledFile {
        let fm = FileManager.default
        let final = destination.path
        let part = final + ".part"
        try fm.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
        let url = try resolveURL(reference, file: file.name, revision: revision)
        let label = (file.name as NSString).lastPathComponent

        if !fm.fileExists(atPath: part) { _ = fm.createFile(atPath: part, contents: nil) }
        guard let handle = FileHandle(forUpdatingAtPath: part) else {
            throw HubError("cannot write '\(part)': check the cache folder's permissions (--cache)")
        }
        defer { try? handle.close() }
        // One pull per file at a time: a second one would interleave writes.
        guard flock(handle.fileDescriptor, LOCK_EX | LOCK_NB) == 0 else {
            throw HubError("another moecoder pull is downloading \(label) (\(part)); wait for it to finish")
        }
        let state = DownloadState(handle: handle)
        var existing = Int64(try handle.seekToEnd())
        // What the part file is a part of: a file that changed on the hub since is not resumed.
        let identityPath = part + ".json"
        let identity = PartIdentity(sha256: file.sha256, size: file.size)
        if existing > 0, let data = fm.contents(atPath: identityPath),
           let earlier = try? JSONDecoder().decode(PartIdentity.self, from: data), earlier != identity {
            events(.note("\(label): the file changed on the hub since the partial download; starting over"))
            try handle.truncate(atOffset: 0)
            try handle.seek(toOffset: 0)
            existing = 0
        }
        try JSONEncoder().encode(identity).write(to: URL(fileURLWithPath: identityPath), options: .atomic)
        defer { if !fm.fileExists(atPath: part) { try? fm.removeItem(atPath: identityPath) } }
        if let expected = file.size, existing > expected {
            events(.note("\(label): the partial download is larger than the file (\(existing) > \(expected) bytes); "
                + "starting over"))
            try handle.truncate(atOffset: 0)
            try handle.seek(toOffset: 0)
            existing = 0
        }
        if existing > 0 {
            events(.note("\(label): resuming at \(ByteCount.format(existing))"
                + (file.size.map { " of \(ByteCount.format($0))" } ?? "")))
            state.hasher = try SHA256.hashFile(at: part, length: existing)
            state.offset = Int64(state.hasher.count)
            if state.offset != existing { throw HubError("cannot read back '\(part)'") }
            try handle.seek(toOffset: UInt64(existing))
        }

        var retriesLeft = configuration.retries
        var restarts = 0
        while file.size.map({ state.offset < $0 }) ?? true {
            let startedAt = state.offset
            state.attemptBytes = 0
            var request = self.request(url)
            if state.offset > 0 { request.setValue("bytes=\(state.offset)-", forHTTPHeaderField: "Range") }
            do {
                let (response, body) = try Transfer.run(request, timeout: configuration.timeout, onResponse: { response in
                    switch response.statusCode {
                    case 206:
                        guard let start = Self.rangeStart(response.value(forHTTPHeaderField: "Content-Range")),
                              start == state.offset
                        else {
                            throw HubError("\(label): the server resumed at the wrong place (Content-Range: "
                                + "\(response.value(forHTTPHeaderField: "Content-Range") ?? "none"), asked for byte "
                                + "\(state.offset))")
                        }
                        return true
                    case 200:
                        if state.offset > 0 {
                            // The server ignored the Range header: it sends the whole file again.
                            try state.handle.truncate(atOffset: 0)
                            try state.handle.seek(toOffset: 0)
                            state.hasher = SHA256()
                            state.offset = 0
                            state.restartedFromZero = true
                        }
                        return true
                    case 416:
                        throw RangeNotSatisfiable()
                    default:
                        return false
                    }
                }, onData: { data in
                    try state.handle.write(contentsOf: data)
                    state.hasher.update(data)
                    state.offset += Int64(data.count)
                    state.attemptBytes += Int64(data.count)
                    events(.progress(file: label, received: state.offset, total: file.size, startedAt: startedAt))
                })
                if state.restartedFromZero {
                    events(.note("\(label): the server does not resume downloads; downloaded it from the start"))
                    state.restartedFromZero = false
                }
                guard response.statusCode == 200 || response.statusCode == 206 else {
                    throw failure(response, body: body, reference: reference, what: "\(reference.id)/\(file.name)")
                }
                if file.size == nil { break }
                if state.attemptBytes == 0 {
                    throw HubError("\(label): the server sent no data at byte \(state.offset) of \(file.size!)")
                }
                // A short body without an error: ask for the rest.
            } catch is RangeNotSatisfiable {
                restarts += 1
                guard restarts <= 1 else { throw HubError("\(label): the server refuses the byte range it should have") }
                events(.note("\(label): the server cannot resume from byte \(state.offset); starting over"))
                try state.handle.truncate(atOffset: 0)
                try state.handle.seek(toOffset: 0)
                state.hasher = SHA256()
                state.offset = 0
            } catch let error as TransportError {
                // `retries` failures in a row; a request that brought bytes starts the count again.
                if state.attemptBytes > 0 { retriesLeft = configuration.retries }
                if retriesLeft > 0 {
                    retriesLeft -= 1
                    events(.note("\(label): \(Self.describe(error.underlying)) at \(ByteCount.format(state.offset)); "
                        + "resuming"))
                    if state.attemptBytes == 0 {
                        Thread.sleep(forTimeInterval: Double(configuration.retries - retriesLeft))
                    }
                    continue
                }
                throw HubError("downloading \(label) failed: \(Self.describe(error.underlying)) at "
                    + "\(ByteCount.format(state.offset)); the partial file is kept: run the same pull again to resume")
            }
        }
        try handle.synchronize()

        let size = state.offset
        let digest = state.hasher.hexDigest()
        if let expected = file.size, size != expected {
            try? fm.removeItem(atPath: part)
            throw HubError("\(label): downloaded \(size) bytes, but the hub lists \(expected); the partial file was "
                + "deleted, run pull again")
        }
        var verified = false
        if let expected = file.sha256 {
            guard expected == digest else {
                try? fm.removeItem(atPath: part)
                throw HubError("checksum mismatch for \(label): the hub lists sha256 \(expected), the download has "
                    + "\(digest); the download was deleted (nothing was added to the cache): run pull again, and if "
                    + "it fails again the file on the server is damaged")
            }
            verified = true
        } else {
            events(.note("\(label): the hub publishes no sha256 for this file; it was not verified"))
        }
        if fm.fileExists(atPath: final) { try fm.removeItem(atPath: final) }
        guard rename(part, final) == 0 else {
            throw HubError("cannot move '\(part)' to '\(final)': \(String(cString: strerror(errno)))")
        }
        events(.finished(file: label))
        return PulledFile(name: file.name, path: final, size: size, sha256: digest, verified: verified, downloaded: true)
    }

    /// `bytes 100-199/200` → 100.
    static func rangeStart(_ header: String?) -> Int64? {
        guard var text = header?.trimmingCharacters(in: .whitespaces), text.lowercased().hasPrefix("bytes") else {
            return nil
        }
        text = String(text.dropFirst(5)).trimmingCharacters(in: .whitespaces)
        return text.split(separator: "-").first.flatMap { Int64($0) }
    }
}

/// Byte counts for people: `1.5 MiB`.
public enum ByteCount {
    public static func format(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(bytes) B" }
        return String(format: value < 10 ? "%.2f" : value < 100 ? "%.1f" : "%.0f", value) + " " + units[unit]
    }
}
