import Engine
import Foundation
import LSP
import Syntax

/// Drives a `LanguageServer` in-process: sends JSON messages as a client would and collects what it sends back.
final class TestClient: MessageSink, @unchecked Sendable {
    private let lock = NSLock()
    private var received: [JSONValue] = []
    private(set) var server: LanguageServer!

    init(completion: any CompletionService = FixedCompletion("x")) {
        server = LanguageServer(sink: self, configuration: .init(completion: completion))
    }

    func send(_ message: JSONValue) { lock.withLock { received.append(message) } }

    var messages: [JSONValue] { lock.withLock { received } }

    @discardableResult
    func deliver(_ message: JSONValue) -> Bool {
        server.handle(.message(try! JSONEncoder().encode(message)))
    }

    func request(_ id: Int, _ method: String, _ params: JSONValue) {
        deliver(["jsonrpc": "2.0", "id": .number(Double(id)), "method": .string(method), "params": params])
    }

    func notify(_ method: String, _ params: JSONValue) {
        deliver(["jsonrpc": "2.0", "method": .string(method), "params": params])
    }

    /// The response to request `id`, waiting up to `timeout` seconds for it.
    func response(_ id: Int, timeout: Double = 10) -> JSONValue? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let found = messages.first(where: { $0["id"] == .number(Double(id)) }) { return found }
            usleep(1000)
        }
        return nil
    }

    func initialize(encodings: [String] = []) {
        request(0, "initialize", ["capabilities": ["general": ["positionEncodings": .array(encodings.map { .string($0) })]]])
        notify("initialized", [:])
    }

    func open(_ uri: String, _ text: String, language: String = "python") {
        notify("textDocument/didOpen", ["textDocument": ["uri": .string(uri), "languageId": .string(language),
                                                         "version": 1, "text": .string(text)]])
    }

    /// Text of the diagnostics last published for `uri`.
    func diagnostics(_ uri: String) -> [JSONValue] {
        messages.last { $0["method"] == "textDocument/publishDiagnostics" && $0["params"]?["uri"] == .string(uri) }?[
            "params"]?["diagnostics"]?.arrayValue ?? []
    }
}

/// A completion service that answers a fixed text.
struct FixedCompletion: CompletionService {
    let text: String
    init(_ text: String) { self.text = text }

    func complete(source: String, language: Language, cursor: Int, cancellation: CancellationFlag) throws
        -> CompletionOutcome {
        CompletionOutcome(text: text, parseOK: true, tokens: 1, milliseconds: 0)
    }
}

/// A completion service that blocks until released or cancelled, to catch requests in flight.
final class BlockingCompletion: CompletionService, @unchecked Sendable {
    let started = DispatchSemaphore(value: 0)
    private let release = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var sawCancel = false

    var observedCancellation: Bool { lock.withLock { sawCancel } }

    func finish() { release.signal() }

    func complete(source: String, language: Language, cursor: Int, cancellation: CancellationFlag) throws
        -> CompletionOutcome {
        started.signal()
        while release.wait(timeout: .now() + .milliseconds(5)) == .timedOut {
            if cancellation.isCancelled {
                lock.withLock { sawCancel = true }
                throw ResponseError.requestCancelled
            }
        }
        return CompletionOutcome(text: "done", parseOK: true, tokens: 1, milliseconds: 0)
    }
}
