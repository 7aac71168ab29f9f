import Assist
import Engine
import Foundation
import Hummingbird

/// `POST /v1/code/testgen` and `POST /v1/code/repair`: the JSON of `moecoder testgen --json` and
/// `moecoder repair --json` for code sent in the request. They run in a scratch folder on a thread of their own
/// (Python subprocesses do the work; the batch keeps decoding meanwhile), at most `limit` at once (503 beyond).
/// With `"stream": true` they answer with server-sent events: `{"progress": LINE}` while they work, then
/// `{"report": ...}` or `{"error": ...}`, then `[DONE]`. A client that goes away cancels the job.
final class LongJobs: @unchecked Sendable {
    private let lock = NSLock()
    private var running = 0
    private var flags: [UUID: CancellationFlag] = [:]
    let limit: Int

    init(limit: Int) { self.limit = limit }

    /// Cancels every running job (the server is stopping).
    func cancelAll() { lock.withLock { for flag in flags.values { flag.cancel() } } }

    /// What a job gets: its scratch folder (removed afterwards), a progress sink and its cancellation flag.
    struct Context: Sendable {
        let folder: URL
        let cancellation: CancellationFlag
        let progress: @Sendable (String) -> Void
    }

    /// Runs `work` on a thread of its own and answers with its report (or its error), as JSON or as events.
    func respond(stream: Bool, name: String,
                 work: @escaping @Sendable (Context) throws -> [String: Any]) async throws -> Response {
        try lock.withLock {
            guard running < limit else {
                throw APIError(.serviceUnavailable, "the server is already running \(limit) \(name) job(s); retry later",
                               type: "server_error", code: "busy")
            }
            running += 1
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("moecoder-\(name)-\(UUID().uuidString)")
        let flag = CancellationFlag(), id = UUID()
        lock.withLock { flags[id] = flag }
        let (events, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .unbounded)
        let sink = Unchecked(continuation)
        let context = Context(folder: folder, cancellation: flag, progress: { sink.value.yield(.progress($0)) })
        let thread = Thread { [self] in
            let outcome: Event
            do {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                outcome = .report(Unchecked(try work(context)))
            } catch let error as APIError {
                outcome = .failed(error)
            } catch {
                outcome = .failed(APIError.badRequest("\(error)"))
            }
            try? FileManager.default.removeItem(at: folder)
            // The slot is free before the answer goes out: a client that sends its next job as soon as it has
            // the answer must not be told the server is busy.
            lock.withLock {
                running -= 1
                flags[id] = nil
            }
            sink.value.yield(outcome)
            sink.value.finish()
        }
        thread.name = "moecoder-\(name)"
        thread.stackSize = 8 << 20
        thread.start()
        let stream_ = Unchecked(events)
        guard stream else {
            // Waits for the report; the job is cancelled when the request is (the client went away).
            return try await withTaskCancellationHandler {
                for await event in stream_.value {
                    switch event {
                    case .progress: continue
                    case .report(let report): return JSONResponse.make(report.value)
                    case .failed(let error): throw error
                    }
                }
                throw APIError(.internalServerError, "the \(name) job ended without a report", type: "server_error")
            } onCancel: {
                flag.cancel()
            }
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                        body: ResponseBody { writer in
                            let out = WriterBox(writer)
                            func send(_ object: Any) async throws {
                                var buffer = ByteBuffer(string: "data: ")
                                buffer.writeBytes(object is String ? Data((object as! String).utf8) : JSONResponse.data(object))
                                buffer.writeString("\n\n")
                                try await out.write(buffer)
                            }
                            do {
                                for await event in stream_.value {
                                    switch event {
                                    case .progress(let line): try await send(["progress": line])
                                    case .report(let report): try await send(["report": report.value])
                                    case .failed(let error): try await send(error.body)
                                    }
                                }
                                try await send("[DONE]")
                                try await out.finish()
                            } catch {
                                flag.cancel()   // the client went away: stop the job
                                throw error
                            }
                        })
    }

    enum Event: Sendable {
        case progress(String)
        case report(Unchecked<[String: Any]>)
        case failed(APIError)
    }

    /// Writes `text` to `name` inside `folder`, refusing names that leave it.
    static func write(_ text: String, named name: String, in folder: URL, field: String) throws -> URL {
        let parts = name.split(separator: "/")
        guard !name.isEmpty, !name.hasPrefix("/"), !parts.contains(where: { $0 == ".." || $0 == "." }) else {
            throw APIError.badRequest("'\(name)' is not a relative file name inside the project", param: field)
        }
        let url = folder.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// An Encodable value as a JSON object.
    static func object<T: Encodable>(_ value: T) throws -> [String: Any] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(value)
        return (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }
}
