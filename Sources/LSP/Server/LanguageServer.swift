import Foundation
import Syntax

/// The language server: reads messages on one thread (lifecycle, document sync, cancellation and
/// diagnostics run there, so they are answered while a completion runs) and hands model work to one serial
/// queue and test generation to another. It holds no feature logic: each feature is an Assist service.
public final class LanguageServer: @unchecked Sendable {
    /// The services and settings the server runs with.
    public struct Configuration: Sendable {
        public var completion: any CompletionService
        public var repair: any RepairService
        public var testGeneration: any TestGenerationService
        /// Seconds of input search for `moecoder.generateTests` when the command does not say.
        public var testBudget: Double
        public var log: @Sendable (String) -> Void

        public init(completion: any CompletionService, repair: any RepairService = AssistRepairService(),
                    testGeneration: any TestGenerationService = AssistTestGeneration(), testBudget: Double = 10,
                    log: @escaping @Sendable (String) -> Void = { _ in }) {
            self.completion = completion
            self.repair = repair
            self.testGeneration = testGeneration
            self.testBudget = testBudget
            self.log = log
        }
    }

    enum State { case uninitialized, running, shuttingDown }

    public static let generateTestsCommand = "moecoder.generateTests"

    let configuration: Configuration
    let sink: any MessageSink
    let modelQueue = RequestQueue(label: "moecoder.lsp.model")
    let toolQueue = RequestQueue(label: "moecoder.lsp.tools")
    let serverRequests: ServerRequests

    // Reading-thread state: only `handle` touches it.
    var state = State.uninitialized
    var encoding = PositionEncoding.utf16
    var clientCreatesProgress = false
    var documents: [String: OpenDocument] = [:]

    /// Set by the `exit` notification: 0 after `shutdown`, 1 without.
    public private(set) var exitCode: Int32?

    public init(sink: any MessageSink, configuration: Configuration) {
        self.sink = sink
        self.configuration = configuration
        serverRequests = ServerRequests(sink: sink)
    }

    func log(_ message: String) { configuration.log(message) }

    // MARK: Reading

    /// Handles one frame from the transport; false once the server should stop reading (`exit`).
    public func handle(_ frame: MessageFramer.Frame) -> Bool {
        switch frame {
        case .malformedHeader(let why):
            log("malformed header: \(why)")
            sink.send(OutgoingMessage.error(id: nil, .parseError("malformed message header: \(why)")))
            return true
        case .message(let body):
            return handle(body: body)
        }
    }

    func handle(body: Data) -> Bool {
        let json: JSONValue
        do { json = try JSONDecoder().decode(JSONValue.self, from: body) } catch {
            log("invalid JSON (\(body.count) bytes)")
            sink.send(OutgoingMessage.error(id: nil, .parseError("the message body is not valid JSON")))
            return true
        }
        switch IncomingMessage.classify(json) {
        case .failure(let invalid):
            log("invalid message: \(invalid.error.message)")
            sink.send(OutgoingMessage.error(id: invalid.id, invalid.error))
            return true
        case .success(.response(let id, _, let error)):
            if !serverRequests.resolve(id: id, ok: error == nil) { log("response to an unknown request \(id?.description ?? "null")") }
            return true
        case .success(.notification(let method, let params)):
            return notification(method, params: params)
        case .success(.request(let id, let method, let params)):
            let reply = Reply(id: id, sink: sink)
            do { try request(method, params: params, reply: reply) } catch let error as ResponseError {
                reply.error(error)
            } catch {
                reply.error(.internalError("\(error)"))
            }
            return true
        }
    }

    /// Decodes typed params, answering -32602 with what was wrong.
    func params<T: Decodable>(_ type: T.Type, _ params: JSONValue?) throws -> T {
        do { return try (params ?? .object([:])).decode(T.self) } catch let error as DecodingError {
            throw ResponseError.invalidParams("invalid params for \(T.self): \(Self.describe(error))")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let p = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            return p.isEmpty ? "" : " at \(p)"
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing '\(key.stringValue)'\(path(context))"
        case .typeMismatch(let type, let context): return "expected \(type)\(path(context))"
        case .valueNotFound(let type, let context): return "expected \(type)\(path(context)), found null"
        case .dataCorrupted(let context): return context.debugDescription + path(context)
        @unknown default: return "\(error)"
        }
    }

    // MARK: Requests

    func request(_ method: String, params: JSONValue?, reply: Reply) throws {
        switch (state, method) {
        case (.uninitialized, "initialize"):
            reply.result(try initialize(params))
            state = .running
            return
        case (.uninitialized, _):
            throw ResponseError.serverNotInitialized
        case (.shuttingDown, _):
            throw ResponseError.invalidRequest("the server is shutting down: only exit is accepted")
        case (.running, "initialize"):
            throw ResponseError.invalidRequest("initialize was already called")
        case (.running, "shutdown"):
            state = .shuttingDown
            modelQueue.cancelAll()
            toolQueue.cancelAll()
            reply.result(.null)
        case (.running, "textDocument/inlineCompletion"):
            try complete(params, reply: reply, inline: true)
        case (.running, "textDocument/completion"):
            try complete(params, reply: reply, inline: false)
        case (.running, "textDocument/codeAction"):
            try codeAction(params, reply: reply)
        case (.running, "workspace/executeCommand"):
            try executeCommand(params, reply: reply)
        default:
            throw ResponseError.methodNotFound(method)
        }
    }

    func initialize(_ params: JSONValue?) throws -> JSONValue {
        guard case .object = params ?? .null else { throw ResponseError.invalidParams("initialize needs its params object") }
        let offered = params?["capabilities"]?["general"]?["positionEncodings"]?.arrayValue?.compactMap(\.stringValue) ?? []
        encoding = offered.contains(PositionEncoding.utf8.rawValue) ? .utf8 : .utf16
        clientCreatesProgress = params?["capabilities"]?["window"]?["workDoneProgress"]?.boolValue ?? false
        log("initialize: position encoding \(encoding.rawValue)")
        return [
            "capabilities": [
                "positionEncoding": .string(encoding.rawValue),
                "textDocumentSync": ["openClose": true, "change": 2],
                "completionProvider": ["resolveProvider": false, "triggerCharacters": []],
                "inlineCompletionProvider": true,
                "codeActionProvider": ["codeActionKinds": ["quickfix"]],
                "executeCommandProvider": ["commands": [.string(Self.generateTestsCommand)]],
            ],
            "serverInfo": ["name": "moecoder", "version": "0.1.0"],
        ]
    }

    // MARK: Notifications

    func notification(_ method: String, params: JSONValue?) -> Bool {
        if method == "exit" {
            exitCode = state == .shuttingDown ? 0 : 1
            return false
        }
        guard state == .running else {
            log("ignored \(method): the server is \(state == .uninitialized ? "not initialized" : "shutting down")")
            return true
        }
        do {
            switch method {
            case "initialized", "$/setTrace", "workspace/didChangeConfiguration", "textDocument/didSave":
                break
            case "$/cancelRequest":
                let id = try self.params(CancelParams.self, params).id
                if !(modelQueue.cancel(id) || toolQueue.cancel(id)) { log("cancel \(id): not running") }
            case "textDocument/didOpen":
                let item = try self.params(DidOpenTextDocumentParams.self, params).textDocument
                let document = OpenDocument(item: item)
                documents[item.uri] = document
                publishDiagnostics(document)
            case "textDocument/didChange":
                let change = try self.params(DidChangeTextDocumentParams.self, params)
                guard let document = documents[change.textDocument.uri] else {
                    log("didChange for a document that is not open: \(change.textDocument.uri)")
                    break
                }
                try document.apply(change.contentChanges, version: change.textDocument.version, encoding: encoding)
                publishDiagnostics(document)
            case "textDocument/didClose":
                let uri = try self.params(DidCloseTextDocumentParams.self, params).textDocument.uri
                documents[uri] = nil
                publish(PublishDiagnosticsParams(uri: uri, version: nil, diagnostics: []))
            default:
                log("ignored notification \(method)")
            }
        } catch {
            log("\(method): \(error)")
        }
        return true
    }

    func publishDiagnostics(_ document: OpenDocument) {
        publish(PublishDiagnosticsParams(uri: document.uri, version: document.version,
                                         diagnostics: document.diagnostics(encoding: encoding)))
    }

    func publish(_ params: PublishDiagnosticsParams) {
        guard let json = try? JSONValue(encoding: params) else { return }
        sink.send(OutgoingMessage.notification(method: "textDocument/publishDiagnostics", params: json))
    }

    /// The open document a request names, or -32602.
    func openDocument(_ uri: String) throws -> OpenDocument {
        guard let document = documents[uri] else {
            throw ResponseError.invalidParams("the document \(uri) is not open: send textDocument/didOpen first")
        }
        return document
    }

    /// Waits for queued work to finish (tests).
    public func drain() {
        modelQueue.drain()
        toolQueue.drain()
    }
}
