import Engine
import Foundation

// Requests are cancelled (`$/cancelRequest`, a newer completion for the same document, shutdown) through
// Engine's `CancellationFlag`, which generation checks between prompt chunks and tokens.

/// Answers one request exactly once: the first of the result, an error or a cancellation wins.
final class Reply: @unchecked Sendable {
    let id: RequestID
    private let sink: any MessageSink
    private let lock = NSLock()
    private var sent = false

    init(id: RequestID, sink: any MessageSink) {
        self.id = id
        self.sink = sink
    }

    var isSent: Bool { lock.withLock { sent } }

    /// Sends `message` unless an answer already went; returns whether this one was sent.
    @discardableResult
    private func deliver(_ message: JSONValue) -> Bool {
        let first = lock.withLock { () -> Bool in
            if sent { return false }
            sent = true
            return true
        }
        if first { sink.send(message) }
        return first
    }

    @discardableResult
    func result(_ value: JSONValue) -> Bool { deliver(OutgoingMessage.response(id: id, result: value)) }

    @discardableResult
    func error(_ error: ResponseError) -> Bool { deliver(OutgoingMessage.error(id: id, error)) }
}

/// Requests waiting for or running on a worker queue, by id, so `$/cancelRequest` and supersession can
/// find them. Model work runs on one serial queue (the engine runs one forward pass at a time); test
/// generation, which does not need the model, on another.
final class RequestQueue: @unchecked Sendable {
    struct Entry {
        var flag: CancellationFlag
        var reply: Reply
        /// Completion requests carry their document, so a newer one for it supersedes them.
        var supersedeKey: String?
    }

    private let lock = NSLock()
    private var entries: [RequestID: Entry] = [:]
    private let queue: DispatchQueue

    init(label: String) { queue = DispatchQueue(label: label) }

    /// Queues `work` for request `reply.id`; its outcome answers the request unless it was cancelled.
    /// A request with a `supersedeKey` cancels the earlier ones with the same key.
    func submit(_ reply: Reply, supersedeKey: String? = nil,
                work: @escaping @Sendable (CancellationFlag) throws -> JSONValue) {
        let flag = CancellationFlag()
        let superseded: [Entry] = lock.withLock {
            let older = supersedeKey.map { key in entries.values.filter { $0.supersedeKey == key } } ?? []
            for entry in older { entries[entry.reply.id] = nil }
            entries[reply.id] = Entry(flag: flag, reply: reply, supersedeKey: supersedeKey)
            return older
        }
        for entry in superseded { Self.cancel(entry, why: "superseded by a newer completion request") }
        queue.async { [self] in
            defer { _ = lock.withLock { entries.removeValue(forKey: reply.id) } }
            guard !flag.isCancelled else { return }
            do {
                let value = try work(flag)
                if flag.isCancelled { reply.error(.requestCancelled) } else { reply.result(value) }
            } catch let error as ResponseError {
                reply.error(error)
            } catch {
                reply.error(.requestFailed("\(error)"))
            }
        }
    }

    /// Runs `work` on the queue, outside any request (loading the model, say).
    func run(_ work: @escaping @Sendable () -> Void) { queue.async(execute: work) }

    /// Cancels request `id` if it is queued or running; answers it with RequestCancelled at once.
    @discardableResult
    func cancel(_ id: RequestID) -> Bool {
        guard let entry = lock.withLock({ entries.removeValue(forKey: id) }) else { return false }
        Self.cancel(entry, why: nil)
        return true
    }

    /// Cancels everything (shutdown).
    func cancelAll() {
        let all = lock.withLock { () -> [Entry] in
            defer { entries.removeAll() }
            return Array(entries.values)
        }
        for entry in all { Self.cancel(entry, why: "the server is shutting down") }
    }

    private static func cancel(_ entry: Entry, why: String?) {
        entry.flag.cancel()
        var error = ResponseError.requestCancelled
        if let why { error.message += ": \(why)" }
        entry.reply.error(error)
    }

    /// Waits until all queued work has run (tests, and an orderly exit).
    func drain() { queue.sync {} }
}
