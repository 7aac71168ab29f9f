import Foundation

/// Requests the server sends to the client (`window/workDoneProgress/create`) and the wait for their answers,
/// which arrive on the reading thread while a worker waits.
final class ServerRequests: @unchecked Sendable {
    private let sink: any MessageSink
    private let lock = NSLock()
    private var next = 1
    private var waiting: [RequestID: (semaphore: DispatchSemaphore, ok: Bool)] = [:]

    init(sink: any MessageSink) { self.sink = sink }

    /// Sends a request and waits up to `timeout` seconds for a successful answer.
    func call(_ method: String, params: JSONValue, timeout: Double = 5) -> Bool {
        let semaphore = DispatchSemaphore(value: 0)
        let id: RequestID = lock.withLock {
            defer { next += 1 }
            let id = RequestID.string("moecoder-\(next)")
            waiting[id] = (semaphore, false)
            return id
        }
        sink.send(OutgoingMessage.request(id: id, method: method, params: params))
        let answered = semaphore.wait(timeout: .now() + timeout) == .success
        let ok = lock.withLock { waiting.removeValue(forKey: id)?.ok ?? false }
        return answered && ok
    }

    /// Hands a client's response to the waiting caller; false when nobody waits for that id.
    @discardableResult
    func resolve(id: RequestID?, ok: Bool) -> Bool {
        guard let id else { return false }
        let semaphore: DispatchSemaphore? = lock.withLock {
            guard waiting[id] != nil else { return nil }
            waiting[id]!.ok = ok
            return waiting[id]!.semaphore
        }
        semaphore?.signal()
        return semaphore != nil
    }
}

/// Reports work-done progress (`$/progress` begin, report, end) under one token.
struct ProgressReporter: Sendable {
    let token: RequestID?
    let sink: any MessageSink

    private func send(_ value: ProgressParams.Value) {
        guard let token, let params = try? JSONValue(encoding: ProgressParams(token: token, value: value)) else { return }
        sink.send(OutgoingMessage.notification(method: "$/progress", params: params))
    }

    func begin(_ title: String, message: String? = nil) {
        send(.init(kind: "begin", title: title, message: message, percentage: nil, cancellable: false))
    }

    func report(_ message: String) {
        send(.init(kind: "report", title: nil, message: message, percentage: nil, cancellable: nil))
    }

    func end(_ message: String) {
        send(.init(kind: "end", title: nil, message: message, percentage: nil, cancellable: nil))
    }
}
