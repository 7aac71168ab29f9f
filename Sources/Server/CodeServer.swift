import Assist
import Engine
import Foundation
import Hummingbird
import Syntax
import Tokenizer

/// How `moecoder serve` runs.
public struct ServerSettings: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// With a key, every route but `/health` needs `Authorization: Bearer KEY`.
    public var apiKey: String?
    /// Sequences in one forward pass at most.
    public var maxBatch = 32
    /// Requests decoded concurrently at most (the rest wait in the queue).
    public var parallel = 32
    public var maxWaitMilliseconds = 2
    /// Positions per sequence (prompt + generated); nil: the model's context length.
    public var contextSize: Int?
    /// Waiting requests beyond which the server answers 503.
    public var maxQueue = 256
    /// Request bodies above this answer 413.
    public var maxBodyBytes = 8 << 20
    /// The model's name in the API (`model` fields).
    public var modelID = "moecoder"
    /// LoRA adapters requests may choose (`"lora": [{"id": ..., "scale": ...}]`) besides those the model runs
    /// with by default (`Transformer.adapters`, from --lora); they run only when a request names them.
    public var adapters: [AdapterUse] = []
    /// Above 0: reuse cached chunks of at least this many tokens at shifted positions (`--cache-reuse`).
    public var cacheReuse = 0

    public init() {}
}

/// The HTTP service: OpenAI-compatible and llama.cpp-compatible routes and the assistant's own, over the
/// continuous-batching scheduler.
public final class CodeServer: Sendable {
    let model: LanguageModel
    let settings: ServerSettings
    let scheduler: BatchScheduler
    let metrics = ServerMetrics()
    /// Test generation and repair jobs (Python subprocesses, off the engine thread), one at a time.
    let longJobs = LongJobs(limit: 1)
    let chat: ChatFormatter
    let fim: FIMFormat?
    let contextSize: Int
    let created = Int(Date().timeIntervalSince1970)

    public init(model: LanguageModel, settings: ServerSettings) {
        self.model = model
        self.settings = settings
        contextSize = settings.contextSize ?? model.config.contextLength
        var scheduling = BatchScheduler.Settings(contextSize: contextSize)
        scheduling.maxBatch = settings.maxBatch
        scheduling.maxRunning = max(settings.parallel, 1)
        scheduling.maxWaitMilliseconds = settings.maxWaitMilliseconds
        scheduling.maxQueue = settings.maxQueue
        scheduling.cacheReuse = settings.cacheReuse
        scheduler = BatchScheduler(model: model, settings: scheduling)
        chat = ChatFormatter(template: model.transformer.file.metadata["tokenizer.chat_template"]?.string,
                             tokenizer: model.tokenizer) { FileHandle.standardError.write(Data("moecoder: \($0)\n".utf8)) }
        fim = FIMFormat(tokenizer: model.tokenizer)
        let metrics = self.metrics
        scheduler.onStep = { info in
            metrics.batchSize.record(info.sequences)
            metrics.queueDepth.record(info.waiting)
            metrics.runningSequences.record(info.running)
            metrics.cacheBytes.record(info.cacheBytes)
            metrics.record(kv: info.kv)
            if info.sequences > 0 {
                metrics.stepSeconds.recordNanoseconds(Int64(info.seconds * 1e9))
                metrics.promptTokens.increment(by: info.promptTokens)
                metrics.generatedTokens.increment(by: info.decodeTokens)
            }
        }
    }

    /// Serves until SIGINT or SIGTERM, then stops taking requests, cancels what runs and returns.
    public func run(onListening: @escaping @Sendable (_ host: String, _ port: Int) -> Void) async throws {
        scheduler.start()
        let router = Router()
        router.add(middleware: GateMiddleware(apiKey: settings.apiKey, metrics: metrics))
        addRoutes(router)
        let host = settings.host
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: settings.port), serverName: "moecoder"),
            onServerRunning: { channel in onListening(host, channel.localAddress?.port ?? 0) }
        )
        // Hummingbird stops gracefully on these signals and waits for open requests: long jobs end at once.
        let stops = [SIGTERM, SIGINT].map { number -> DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [longJobs] in longJobs.cancelAll() }
            source.resume()
            return source
        }
        defer { stops.forEach { $0.cancel() } }
        do {
            try await app.runService()
        } catch {
            scheduler.shutdown(cancelRunning: true)
            throw error
        }
        scheduler.shutdown(cancelRunning: true)
    }

    // MARK: - Routes

    private func addRoutes(_ router: Router<BasicRequestContext>) {
        router.get("/health") { _, _ in JSONResponse.make(["status": "ok"]) }
        for path in ["/lora-adapters", "/v1/lora-adapters"] {
            router.get(RouterPath(path)) { _, _ in JSONResponse.make(["object": "list", "data": self.adapterEntries]) }
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(string: self.metrics.text())))
        }
        for path in ["/v1/models", "/models"] {
            router.get(RouterPath(path)) { _, _ in JSONResponse.make(["object": "list", "data": [self.modelEntry]]) }
        }
        router.post("/v1/completions") { request, _ in try await self.openAICompletion(request) }
        router.post("/completions") { request, _ in try await self.openAICompletion(request) }
        router.post("/v1/chat/completions") { request, _ in try await self.chatCompletion(request) }
        router.post("/chat/completions") { request, _ in try await self.chatCompletion(request) }
        router.post("/completion") { request, _ in try await self.llamaCompletion(request, infill: false) }
        router.post("/infill") { request, _ in try await self.llamaCompletion(request, infill: true) }
        router.post("/tokenize") { request, _ in try await self.tokenize(request) }
        router.post("/detokenize") { request, _ in try await self.detokenize(request) }
        router.post("/v1/code/complete") { request, _ in try await self.codeComplete(request) }
        router.post("/v1/code/testgen") { request, _ in try await self.codeTestgen(request) }
        router.post("/v1/code/repair") { request, _ in try await self.codeRepair(request) }
    }

    private var modelEntry: [String: Any] {
        ["id": settings.modelID, "object": "model", "created": created, "owned_by": "moecoder",
         "meta": ["n_ctx": contextSize, "n_vocab": model.config.vocabularySize, "architecture": model.config.architecture.rawValue,
                  "chat_template": chat.name, "fim": fim?.family.rawValue ?? NSNull()] as [String: Any]]
    }

    private func body(_ request: Request) async throws -> JSONBody {
        let buffer: ByteBuffer
        do { buffer = try await request.body.collect(upTo: settings.maxBodyBytes) } catch {
            throw APIError(.contentTooLarge, "the request body is larger than \(settings.maxBodyBytes) bytes",
                           code: "request_too_large")
        }
        return try JSONBody(buffer)
    }

    private func checkModel(_ body: JSONBody) throws {
        guard let name = try body.string("model"), !name.isEmpty else { return }
        let accepted = [settings.modelID, "default", "moecoder"]
        guard accepted.contains(name) || name == URL(fileURLWithPath: model.path).lastPathComponent else {
            throw APIError(.notFound, "the model '\(name)' does not exist here; this server serves '\(settings.modelID)' "
                           + "(GET /v1/models lists it)", code: "model_not_found", param: "model")
        }
    }

    // MARK: - Parameters

    struct Sampling {
        var maxTokens: Int
        var parameters: SamplingParameters
        var stops: [String]
        var n = 1
        var stream = false
        var constrain: Language?
        var ignoreEOS = false
        /// Log-probabilities: nil none, else the chosen token's and this many alternatives.
        var logprobs: Int?
        /// LoRA adapters of this request (nil: the server's defaults).
        var lora: [AdapterUse]?
    }

    /// Every adapter a request can choose: the defaults (--lora) first, then the others (--lora-choice); ids are
    /// the index here or the file's name without .gguf.
    var adapterChoices: [(use: AdapterUse, enabled: Bool)] {
        model.transformer.adapters.map { ($0, true) }
            + settings.adapters.filter { use in !model.transformer.adapters.contains { $0.adapter === use.adapter } }.map { ($0, false) }
    }

    private var adapterEntries: [[String: Any]] {
        adapterChoices.enumerated().map { index, choice in
            ["id": index, "name": choice.use.adapter.id, "path": choice.use.adapter.path, "format": choice.use.adapter.format,
             "scale": Double(choice.use.scale), "default": choice.enabled]
        }
    }

    /// `"lora": [{"id": 0 | "name", "scale": 0.5}, ...]`: the adapters this request runs with instead of the
    /// defaults (`[]`: none); an entry without a scale takes the adapter's default scale.
    private func loraSelection(_ body: JSONBody) throws -> [AdapterUse]? {
        guard body.has("lora") else { return nil }
        guard let list = body.object["lora"] as? [Any] else {
            throw APIError.badRequest("'lora' must be an array of {\"id\": ..., \"scale\": ...} objects", param: "lora")
        }
        let choices = adapterChoices
        let known = choices.enumerated().map { "\($0.offset) (\($0.element.use.adapter.id))" }.joined(separator: ", ")
        var uses: [AdapterUse] = []
        for item in list {
            guard let entry = item as? [String: Any], let id = entry["id"] ?? entry["name"] else {
                throw APIError.badRequest("each 'lora' entry needs an \"id\" (GET /lora-adapters lists them)", param: "lora")
            }
            let found: AdapterUse?
            if let name = id as? String {
                found = choices.first { $0.use.adapter.id == name }?.use
            } else if let number = id as? NSNumber, number.doubleValue == Double(number.intValue),
                      number.intValue >= 0, number.intValue < choices.count {
                found = choices[number.intValue].use
            } else {
                found = nil
            }
            guard let use = found else {
                throw APIError(.badRequest, "'lora' names the adapter \(id), which this server has not loaded; it has: "
                               + (known.isEmpty ? "none (start it with --lora or --lora-choice)" : known),
                               code: "adapter_not_found", param: "lora")
            }
            var scale = use.scale
            if entry["scale"] != nil {
                guard let value = entry["scale"] as? NSNumber, value.doubleValue.isFinite, !body.isBool(value) else {
                    throw APIError.badRequest("'lora' scale must be a number", param: "lora")
                }
                scale = value.floatValue
            }
            uses.append(AdapterUse(adapter: use.adapter, scale: scale))
        }
        if uses != model.transformer.adapters,
           let merged = (uses + model.transformer.adapters).first(where: { $0.adapter.adaptsMergedTensors }) {
            throw APIError.badRequest("the adapter '\(merged.adapter.id)' adapts attn_kv_b, which is merged into the model at "
                                      + "load; this server cannot switch adapters per request", param: "lora")
        }
        return uses
    }

    private func sampling(_ body: JSONBody, openAI: Bool, defaultMaxTokens: Int) throws -> Sampling {
        var p = openAI ? SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0)
                       : SamplingParameters(temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05)
        if let t = try body.double("temperature", in: 0...2) { p.temperature = Float(t) }
        if let v = try body.double("top_p", in: 0...1) { p.topP = Float(v) }
        if let v = try body.int("top_k", in: 0...1_000_000) { p.topK = v }
        if let v = try body.double("min_p", in: 0...1) { p.minP = Float(v) }
        if let v = try body.double("repeat_penalty", in: 0...10) { p.repetitionPenalty = Float(v) }
        if let v = try body.double("repetition_penalty", in: 0...10) { p.repetitionPenalty = Float(v) }
        if let v = try body.int("seed", in: Int(Int32.min)...Int.max) { p.seed = UInt64(bitPattern: Int64(v)) }
        else { p.seed = UInt64.random(in: 1...UInt64.max) }
        var maxTokens = defaultMaxTokens
        for key in ["max_tokens", "max_completion_tokens", "n_predict"] {
            if let v = try body.int(key, in: -1...contextSize) { maxTokens = v < 0 ? contextSize : v }
        }
        var s = Sampling(maxTokens: maxTokens, parameters: p, stops: try body.strings("stop", max: 16))
        if let n = try body.int("n", in: 1...16) { s.n = n }
        s.stream = try body.bool("stream") ?? false
        s.ignoreEOS = try body.bool("ignore_eos") ?? false
        s.lora = try loraSelection(body)
        if let name = try body.string("constrain") {
            do { s.constrain = try Language.named(name) } catch {
                throw APIError.badRequest("'constrain' is '\(name)'; shipped grammars: "
                                          + Language.all.map(\.name).joined(separator: ", "), param: "constrain")
            }
        }
        return s
    }

    /// The prompt as tokens: a string (special tokens parsed, BOS as the model wants) or token ids.
    private func promptTokens(_ body: JSONBody, key: String = "prompt") throws -> (tokens: [Int32], text: String) {
        if let tokens = try body.tokens(key) { return (tokens, model.tokenizer.decode(tokens)) }
        if let list = body.object[key] as? [Any] {
            guard list.count == 1, let only = list[0] as? String else {
                throw APIError.badRequest("'\(key)' must be a string, one string in an array, or an array of token ids; "
                                          + "send several prompts as several requests", param: key)
            }
            return (model.tokenizer.encode(only, addSpecial: true, parseSpecial: true), only)
        }
        guard let text = try body.string(key) else {
            throw APIError.badRequest("'\(key)' is required", param: key)
        }
        return (model.tokenizer.encode(text, addSpecial: true, parseSpecial: true), text)
    }

    // MARK: - Generation

    /// (choice index, event) for every choice of a request, ending after the last choice finishes.
    typealias ChoiceEvents = AsyncStream<(Int, BatchScheduler.Event)>

    private func generate(_ prompt: [Int32], _ s: Sampling, constraintPrefix: String, extraStops: [String] = [])
        throws -> (ChoiceEvents, [BatchScheduler.Job]) {
        let (stream, continuation) = ChoiceEvents.makeStream()
        let remaining = Countdown(s.n)
        var jobs: [BatchScheduler.Job] = []
        for index in 0..<s.n {
            var parameters = s.parameters
            parameters.seed &+= UInt64(index)
            var constraint: SyntaxConstraint?
            if let language = s.constrain {
                do {
                    constraint = try SyntaxConstraint(language: language, tokenizer: model.tokenizer, prefix: constraintPrefix,
                                                      endTokens: fim?.stopTokens ?? [])
                } catch { throw APIError(.internalServerError, "the syntax constraint failed: \(error)", type: "server_error") }
            }
            var options = GenerationOptions(maxTokens: s.maxTokens, sampling: parameters,
                                            stopTokens: fim?.stopTokens ?? [], stopStrings: s.stops + extraStops,
                                            ignoreEOS: s.ignoreEOS)
            options.logprobs = s.logprobs
            do {
                let job = try scheduler.submit(prompt: prompt, options: options, constraint: constraint,
                                               adapters: s.lora) { event in
                    continuation.yield((index, event))
                    switch event {
                    case .finished, .failed: if remaining.decrement() == 0 { continuation.finish() }
                    case .text: break
                    }
                }
                jobs.append(job)
            } catch let error as BatchScheduler.SubmitError {
                jobs.forEach { $0.cancel() }
                switch error {
                case .queueFull: throw APIError(.serviceUnavailable, error.description, type: "server_error", code: "queue_full", retryAfter: 1)
                case .stopped: throw APIError(.serviceUnavailable, error.description, type: "server_error", code: "shutting_down")
                case .promptTooLong: throw APIError(.badRequest, error.description, code: "context_length_exceeded", param: "prompt")
                case .badToken, .emptyPrompt: throw APIError.badRequest(error.description, param: "prompt")
                }
            }
        }
        let all = jobs
        continuation.onTermination = { _ in all.forEach { $0.cancel() } }
        return (stream, all)
    }

    /// Hands a request's events to `text` and `finished` in order, recording time to first token and the
    /// per-token latency; a failed choice throws. The one loop behind every answer, streamed or not.
    private func relay(_ events: ChoiceEvents, started: Date, text: (Int, String) async throws -> Void,
                       finished: (Int, GenerationResult) async throws -> Void) async throws {
        var first = true
        for await (index, event) in events {
            switch event {
            case .text(let piece):
                if first {
                    metrics.timeToFirstToken.recordSeconds(Date().timeIntervalSince(started))
                    first = false
                }
                try await text(index, piece)
            case .finished(let result):
                if result.tokens.count > 1 {
                    metrics.tokenLatency.recordSeconds(result.decodeSeconds / Double(result.tokens.count))
                }
                try await finished(index, result)
            case .failed(let message): throw APIError(.internalServerError, message, type: "server_error")
            }
        }
    }

    /// Waits for every choice; cancelled when the client goes away.
    private func collect(_ events: ChoiceEvents, jobs: [BatchScheduler.Job], started: Date) async throws
        -> [(text: String, result: GenerationResult?)] {
        var texts = Array(repeating: "", count: jobs.count)
        var results = [GenerationResult?](repeating: nil, count: jobs.count)
        try await withTaskCancellationHandler {
            try await relay(events, started: started, text: { texts[$0] += $1 }, finished: { results[$0] = $1 })
        } onCancel: {
            jobs.forEach { $0.cancel() }
        }
        return zip(texts, results).map { ($0, $1) }
    }

    /// A server-sent-events answer: `opening` events, then one per piece of text (`text`) and one per finished
    /// choice (`finished`), then `closing` (OpenAI's "[DONE]"); a failure mid-stream is sent as an error event.
    /// A client that goes away ends the writes, which ends the event stream and cancels its jobs.
    private func sse(_ events: ChoiceEvents, started: Date, opening: [Any] = [], closing: String? = nil,
                     text: @escaping @Sendable (Int, String) -> Any,
                     finished: @escaping @Sendable (Int, GenerationResult) -> Any) -> Response {
        let opened = Unchecked(opening)
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                        body: ResponseBody { writer in
                            let box = WriterBox(writer)
                            func send(_ object: Any) async throws {
                                let data = object is String ? Data((object as! String).utf8) : JSONResponse.data(object)
                                var buffer = ByteBuffer(string: "data: ")
                                buffer.writeBytes(data)
                                buffer.writeString("\n\n")
                                try await box.write(buffer)
                            }
                            for event in opened.value { try await send(event) }
                            do {
                                try await self.relay(events, started: started, text: { try await send(text($0, $1)) },
                                                     finished: { try await send(finished($0, $1)) })
                            } catch let error as APIError {
                                try await send(error.body)
                            }
                            if let closing { try await send(closing) }
                            try await box.finish()
                        })
    }

    static func finishReason(_ reason: StopReason?) -> String {
        switch reason {
        case .maxTokens?, .contextFull?: return "length"
        case .cancelled?: return "cancelled"
        default: return "stop"
        }
    }

    private func usage(_ prompt: Int, _ results: [GenerationResult?]) -> [String: Any] {
        let completion = results.reduce(0) { $0 + ($1?.tokens.count ?? 0) }
        // As OpenAI reports prompt caching: the prompt tokens served from the KV cache (the first choice's).
        let cached = results.first??.cachedPromptTokens ?? 0
        return ["prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                "prompt_tokens_details": ["cached_tokens": cached]]
    }

    // MARK: OpenAI

    /// The legacy completions' `logprobs` object (tokens, their log-probabilities, the top alternatives, text
    /// offsets counted from the start of the prompt text), or null.
    private func completionLogprobs(_ logprobs: [TokenLogprob]?, offset: Int) -> Any {
        guard let logprobs else { return NSNull() }
        var tokens: [String] = [], values: [Double] = [], tops: [Any] = [], offsets: [Int] = []
        var at = offset
        for item in logprobs {
            let piece = model.tokenizer.decode([item.token])
            tokens.append(piece)
            values.append(Double(item.logprob))
            offsets.append(at)
            at += piece.count
            var top: [String: Double] = [:]
            for alternative in item.top {
                let key = model.tokenizer.decode([alternative.token])
                top[key] = max(top[key] ?? -.infinity, Double(alternative.logprob))
            }
            tops.append(item.top.isEmpty ? NSNull() : top)
        }
        return ["tokens": tokens, "token_logprobs": values, "top_logprobs": tops, "text_offset": offsets]
    }

    /// Chat completions' `logprobs` object ({content: [{token, logprob, bytes, top_logprobs}]}), or null.
    private func chatLogprobs(_ logprobs: [TokenLogprob]?) -> Any {
        guard let logprobs else { return NSNull() }
        func entry(_ token: Int32, _ logprob: Float) -> [String: Any] {
            ["token": model.tokenizer.decode([token]), "logprob": Double(logprob),
             "bytes": model.tokenizer.bytes(of: token).map { Int($0) }]
        }
        return ["content": logprobs.map { item -> [String: Any] in
            var e = entry(item.token, item.logprob)
            e["top_logprobs"] = item.top.map { entry($0.token, $0.logprob) }
            return e
        }]
    }

    private func openAICompletion(_ request: Request) async throws -> Response {
        let started = Date()
        let body = try await body(request)
        try checkModel(body)
        var s = try sampling(body, openAI: true, defaultMaxTokens: 16)
        s.logprobs = try body.int("logprobs", in: 0...20)
        let prompt: [Int32], prefixText: String
        if let suffix = try body.string("suffix") {
            guard let fim else {
                throw APIError.badRequest("this model has no fill-in-the-middle tokens, so 'suffix' cannot be used",
                                          param: "suffix")
            }
            guard let text = try body.string("prompt") else {
                throw APIError.badRequest("'prompt' must be a string when 'suffix' is given", param: "prompt")
            }
            prompt = fim.prompt(prefix: fim.encodePrefix(text, tokenizer: model.tokenizer),
                                suffix: fim.encodeSuffix(suffix, tokenizer: model.tokenizer))
            prefixText = text
        } else {
            (prompt, prefixText) = try promptTokens(body)
        }
        s.maxTokens = min(s.maxTokens, contextSize)
        let (events, jobs) = try generate(prompt, s, constraintPrefix: prefixText)
        let id = "cmpl-\(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(24))"
        let modelName = settings.modelID, created = Int(started.timeIntervalSince1970)
        let offset = prefixText.count
        if s.stream {
            @Sendable func chunk(_ index: Int, _ text: String, _ reason: Any, _ logprobs: Any = NSNull()) -> Any {
                ["id": id, "object": "text_completion", "created": created, "model": modelName,
                 "choices": [["text": text, "index": index, "logprobs": logprobs, "finish_reason": reason]]]
            }
            // Log-probabilities, when asked for, come with the last chunk (every token's at once).
            return sse(events, started: started, closing: "[DONE]", text: { chunk($0, $1, NSNull()) },
                       finished: { chunk($0, "", Self.finishReason($1.stopReason),
                                         self.completionLogprobs($1.logprobs, offset: offset)) })
        }
        let outcome = try await collect(events, jobs: jobs, started: started)
        let choices: [[String: Any]] = outcome.enumerated().map { index, item in
            ["text": item.text, "index": index, "logprobs": completionLogprobs(item.result?.logprobs, offset: offset),
             "finish_reason": Self.finishReason(item.result?.stopReason)]
        }
        return JSONResponse.make(["id": id, "object": "text_completion", "created": created, "model": modelName,
                                  "choices": choices, "usage": usage(prompt.count, outcome.map(\.result))])
    }

    private func chatCompletion(_ request: Request) async throws -> Response {
        let started = Date()
        let body = try await body(request)
        try checkModel(body)
        guard let raw = body.object["messages"] as? [Any], !raw.isEmpty else {
            throw APIError.badRequest("'messages' must be a non-empty array of {role, content}", param: "messages")
        }
        var messages: [ChatTemplate.Message] = []
        for (i, item) in raw.enumerated() {
            guard let m = item as? [String: Any], let role = m["role"] as? String else {
                throw APIError.badRequest("messages[\(i)] must be an object with a 'role' string", param: "messages")
            }
            guard ["system", "user", "assistant", "developer", "tool"].contains(role) else {
                throw APIError.badRequest("messages[\(i)].role is '\(role)'; use system, user or assistant", param: "messages")
            }
            var content = ""
            if let text = m["content"] as? String { content = text }
            else if let parts = m["content"] as? [Any] {
                for part in parts {
                    guard let p = part as? [String: Any], p["type"] as? String == "text", let text = p["text"] as? String else {
                        throw APIError.badRequest("messages[\(i)].content: only text parts are supported", param: "messages")
                    }
                    content += text
                }
            } else if !(m["content"] is NSNull) && m["content"] != nil {
                throw APIError.badRequest("messages[\(i)].content must be a string or an array of text parts", param: "messages")
            }
            messages.append(.init(role: role == "developer" ? "system" : role, content: content))
        }
        var s = try sampling(body, openAI: true, defaultMaxTokens: contextSize)
        let top = try body.int("top_logprobs", in: 0...20)
        if try body.bool("logprobs") == true {
            s.logprobs = top ?? 0
        } else if let top, top > 0 {
            throw APIError.badRequest("'top_logprobs' needs 'logprobs': true", param: "top_logprobs")
        }
        let rendered = chat.render(messages)
        let prompt = model.tokenizer.encode(rendered.text, addSpecial: false, parseSpecial: true)
        var limited = s
        limited.maxTokens = min(s.maxTokens, max(0, contextSize - prompt.count))
        let (events, jobs) = try generate(prompt, limited, constraintPrefix: "", extraStops: rendered.stops)
        let id = "chatcmpl-\(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(24))"
        let modelName = settings.modelID, created = Int(started.timeIntervalSince1970)
        if s.stream {
            @Sendable func chunk(_ index: Int, _ delta: [String: Any], _ reason: Any) -> Any {
                ["id": id, "object": "chat.completion.chunk", "created": created, "model": modelName,
                 "choices": [["index": index, "delta": delta, "finish_reason": reason]]]
            }
            return sse(events, started: started,
                       opening: (0..<s.n).map { chunk($0, ["role": "assistant", "content": ""], NSNull()) },
                       closing: "[DONE]", text: { chunk($0, ["content": $1], NSNull()) },
                       finished: { index, result in
                           var last = chunk(index, [:], Self.finishReason(result.stopReason)) as! [String: Any]
                           if let logprobs = self.chatLogprobs(result.logprobs) as? [String: Any],
                              var choices = last["choices"] as? [[String: Any]] {
                               choices[0]["logprobs"] = logprobs
                               last["choices"] = choices
                           }
                           return last
                       })
        }
        let outcome = try await collect(events, jobs: jobs, started: started)
        let choices: [[String: Any]] = outcome.enumerated().map { index, item in
            ["index": index, "message": ["role": "assistant", "content": item.text],
             "logprobs": chatLogprobs(item.result?.logprobs), "finish_reason": Self.finishReason(item.result?.stopReason)]
        }
        return JSONResponse.make(["id": id, "object": "chat.completion", "created": created, "model": modelName,
                                  "choices": choices, "usage": usage(prompt.count, outcome.map(\.result))])
    }

    // MARK: llama.cpp

    /// `POST /completion` and `POST /infill` as llama.cpp's server answers them (llama.vim, llama.vscode).
    private func llamaCompletion(_ request: Request, infill: Bool) async throws -> Response {
        let started = Date()
        let body = try await body(request)
        var s = try sampling(body, openAI: false, defaultMaxTokens: infill ? 64 : contextSize)
        s.n = 1
        let prompt: [Int32], prefixText: String
        if infill {
            guard let fim else {
                throw APIError.badRequest("this model has no fill-in-the-middle tokens, so /infill cannot be used")
            }
            let prefix = try body.string("input_prefix") ?? ""
            let suffix = try body.string("input_suffix") ?? ""
            let current = try body.string("prompt") ?? ""
            var extra: [Int32] = []
            if let chunks = body.object["input_extra"] as? [Any] {
                for (i, chunk) in chunks.enumerated() {
                    guard let c = chunk as? [String: Any], let text = c["text"] as? String else {
                        throw APIError.badRequest("input_extra[\(i)] must be an object with a 'text' string", param: "input_extra")
                    }
                    let name = c["filename"] as? String ?? ""
                    if let separator = fim.tokens.fileSeparator {
                        extra += [separator] + model.tokenizer.encode("\(name)\n\(text)", addSpecial: false, parseSpecial: false)
                    } else {
                        extra += model.tokenizer.encode("\(name)\n\(text)\n\n", addSpecial: false, parseSpecial: false)
                    }
                }
            } else if body.has("input_extra") {
                throw APIError.badRequest("'input_extra' must be an array of {filename, text}", param: "input_extra")
            }
            var pre = fim.encodePrefix(prefix, tokenizer: model.tokenizer)
            var suf = fim.encodeSuffix(suffix, tokenizer: model.tokenizer)
            let middle = model.tokenizer.encode(current, addSpecial: false, parseSpecial: false)
            // Keep what is nearest the cursor when the context is short: drop extra context, then the far ends.
            let budget = contextSize - s.maxTokens - fim.overhead - middle.count - 1
            if extra.count + pre.count + suf.count > budget { extra = [] }
            if pre.count + suf.count > budget {
                let keepSuffix = min(suf.count, max(budget / 4, budget - pre.count))
                suf = Array(suf.prefix(max(0, keepSuffix)))
                pre = Array(pre.suffix(max(0, budget - suf.count)))
            }
            var tokens = fim.prompt(prefix: pre, suffix: suf) + middle
            if !extra.isEmpty { tokens = fim.leading + extra + Array(tokens.dropFirst(fim.leading.count)) }
            prompt = tokens
            prefixText = prefix + current
        } else {
            (prompt, prefixText) = try promptTokens(body)
        }
        s.maxTokens = min(s.maxTokens, max(0, contextSize - prompt.count))
        let (events, jobs) = try generate(prompt, s, constraintPrefix: prefixText)
        let modelName = settings.modelID
        @Sendable func final(_ result: GenerationResult?, _ content: String) -> [String: Any] {
            let r = result
            var stopType = "none"
            switch r?.stopReason {
            case .endOfText?, .stopToken?: stopType = "eos"
            case .stopString?: stopType = "word"
            case .maxTokens?, .contextFull?: stopType = "limit"
            default: break
            }
            let promptMs = (r?.promptSeconds ?? 0) * 1000, decodeMs = (r?.decodeSeconds ?? 0) * 1000
            let predicted = r?.tokens.count ?? 0, cached = r?.cachedPromptTokens ?? 0
            return ["content": content, "stop": true, "model": modelName, "tokens_predicted": predicted,
                    "tokens_evaluated": prompt.count, "tokens_cached": cached, "stop_type": stopType, "truncated": false,
                    "timings": ["prompt_n": prompt.count - cached, "cache_n": cached, "prompt_ms": promptMs,
                                "prompt_per_second": promptMs > 0 ? Double(prompt.count - cached) / promptMs * 1000 : 0,
                                "predicted_n": predicted, "predicted_ms": decodeMs,
                                "predicted_per_second": decodeMs > 0 ? Double(predicted) / decodeMs * 1000 : 0] as [String: Any]]
        }
        if s.stream {
            return sse(events, started: started, text: { ["content": $1, "stop": false] }, finished: { final($1, "") })
        }
        let outcome = try await collect(events, jobs: jobs, started: started)
        return JSONResponse.make(final(outcome[0].result, outcome[0].text))
    }

    private func tokenize(_ request: Request) async throws -> Response {
        let body = try await body(request)
        guard let content = try body.string("content") else { throw APIError.badRequest("'content' is required", param: "content") }
        let tokens = model.tokenizer.encode(content, addSpecial: try body.bool("add_special") ?? false,
                                            parseSpecial: try body.bool("parse_special") ?? true)
        if try body.bool("with_pieces") ?? false {
            return JSONResponse.make(["tokens": tokens.map { ["id": Int($0), "piece": model.tokenizer.decode([$0])] as [String: Any] }])
        }
        return JSONResponse.make(["tokens": tokens.map { Int($0) }])
    }

    private func detokenize(_ request: Request) async throws -> Response {
        let body = try await body(request)
        guard let tokens = try body.tokens("tokens") else {
            throw APIError.badRequest("'tokens' must be an array of token ids", param: "tokens")
        }
        let vocab = model.config.vocabularySize
        if let bad = tokens.first(where: { $0 < 0 || Int($0) >= vocab }) {
            throw APIError.badRequest("token id \(bad) is outside the vocabulary (0..<\(vocab))", param: "tokens")
        }
        return JSONResponse.make(["content": model.tokenizer.decode(tokens)])
    }

    // MARK: The assistant

    /// `POST /v1/code/complete`: {source, language, cursor | line+column, max_tokens?, constrain?: bool}, answered
    /// with the JSON of `moecoder complete --json`. Runs on the engine between batch steps.
    private func codeComplete(_ request: Request) async throws -> Response {
        let body = try await body(request)
        guard let source = try body.string("source") ?? body.string("text") else {
            throw APIError.badRequest("'source' (the file's text) is required", param: "source")
        }
        let language: Language
        if let name = try body.string("language") {
            do { language = try Language.named(name) } catch {
                throw APIError.badRequest("'language' is '\(name)'; shipped grammars: "
                                          + Language.all.map(\.name).joined(separator: ", "), param: "language")
            }
        } else if let path = try body.string("path"), let found = Language.forPath(path) {
            language = found
        } else {
            throw APIError.badRequest("'language' is required (or a 'path' with a known extension)", param: "language")
        }
        var completionRequest: CompletionRequest
        if let cursor = try body.int("cursor", in: 0...source.count) {
            completionRequest = CompletionRequest(source: source, language: language, cursor: cursor)
        } else if let line = try body.int("line", in: 1...Int.max), let column = try body.int("column", in: 1...Int.max) {
            do { completionRequest = try CompletionRequest(source: source, language: language, line: line, column: column) } catch {
                throw APIError.badRequest("\(error)", param: "line")
            }
        } else {
            completionRequest = CompletionRequest(source: source, language: language, cursor: source.count)
        }
        if let maxTokens = try body.int("max_tokens", in: 1...1024) { completionRequest.maxTokens = maxTokens }
        if try body.bool("constrain") == false { completionRequest.constraint = .none }
        let prepared = Unchecked(completionRequest)
        let report = try await scheduler.exclusive { model -> CompletionReport in
            CompletionReport(try CodeCompleter(model: model).complete(prepared.value))
        }
        return try JSONResponse.make(encodable: report)
    }

    /// `POST /v1/code/testgen`: {source, module?, budget?, seed?, stream?} → the JSON of `moecoder testgen --json`
    /// with the test file's text as `test_source` (paths relative to the module's folder).
    private func codeTestgen(_ request: Request) async throws -> Response {
        let body = try await body(request)
        guard let source = try body.string("source") else {
            throw APIError.badRequest("'source' (the Python module's text) is required", param: "source")
        }
        let module = try body.string("module") ?? "module"
        guard let first = module.unicodeScalars.first, first == "_" || first.properties.isAlphabetic,
              module.unicodeScalars.allSatisfy({ $0 == "_" || $0.properties.isAlphabetic || ("0"..."9").contains($0) }) else {
            throw APIError.badRequest("'module' must be a Python identifier (the module's name), not '\(module)'",
                                      param: "module")
        }
        let budget = try body.double("budget", in: 0.5...300) ?? 10
        let seed = try body.int("seed", in: 0...Int(Int32.max)) ?? 0
        return try await longJobs.respond(stream: try body.bool("stream") ?? false, name: "testgen") { context in
            let path = try LongJobs.write(source, named: module + ".py", in: context.folder, field: "source")
            var options = TestGenerator.Options(modulePath: path.path)
            let output = context.folder.appendingPathComponent("tests/test_\(module).py").path
            options.outputPath = output
            options.budget = budget
            options.seed = UInt64(seed)
            options.cancellation = context.cancellation
            var report: TestgenReport
            do { report = try TestGenerator(options: options).run(model: nil, progress: context.progress) } catch let error as TestgenError {
                switch error {
                case .pythonUnavailable, .missingRuntime:
                    throw APIError(.internalServerError, error.description, type: "server_error")
                default:
                    throw APIError.badRequest(error.description.replacingOccurrences(of: context.folder.path + "/", with: ""),
                                              param: "source")
                }
            }
            report.module = "\(module).py"
            report.testFile = "tests/test_\(module).py"
            var object = try LongJobs.object(report)
            object["test_source"] = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            return object
        }
    }

    /// `POST /v1/code/repair`: {source, file?, tests?: {name: text}, cmd?, traceback?, top?, budget?, stream?} →
    /// the JSON of `moecoder repair --json` (syntax fixes, or patches validated against the tests; mutation
    /// operators only: the model's rewrites stay with the command line, so the batch never pauses for a repair).
    private func codeRepair(_ request: Request) async throws -> Response {
        let body = try await body(request)
        guard let source = try body.string("source") else {
            throw APIError.badRequest("'source' (the Python file's text) is required", param: "source")
        }
        let file = try body.string("file") ?? "code.py"
        guard file.hasSuffix(".py") else { throw APIError.badRequest("'file' must name a .py file", param: "file") }
        var tests: [(String, String)] = []
        if body.has("tests") {
            guard let map = body.object["tests"] as? [String: Any],
                  let pairs = Optional(map.compactMap { key, value in (value as? String).map { (key, $0) } }),
                  pairs.count == map.count else {
                throw APIError.badRequest("'tests' must map test file names to their text", param: "tests")
            }
            tests = pairs.sorted { $0.0 < $1.0 }
        }
        let command = try body.string("cmd")
        if command != nil && !tests.isEmpty {
            throw APIError.badRequest("give 'tests' or 'cmd', not both", param: "cmd")
        }
        let traceback = try body.string("traceback")
        let top = try body.int("top", in: 1...10) ?? 3
        let budget = try body.double("budget", in: 1...300) ?? 30
        let testFiles = tests
        return try await longJobs.respond(stream: try body.bool("stream") ?? false, name: "repair") { context in
            let path = try LongJobs.write(source, named: file, in: context.folder, field: "file")
            var options = RepairOptions(filePath: path.path)
            options.tests = try testFiles.map { try LongJobs.write($0.1, named: $0.0, in: context.folder, field: "tests").path }
            options.command = command
            if let traceback {
                options.tracebackPath = try LongJobs.write(traceback, named: ".moecoder-traceback.txt", in: context.folder,
                                                           field: "traceback").path
            }
            options.top = top
            options.budget = budget
            options.cancellation = context.cancellation
            let report: RepairReport
            do {
                report = try Repairer(options: options).run(model: nil) { line in
                    if !context.cancellation.isCancelled { context.progress(line) }
                }
            } catch let error as RepairError {
                throw APIError.badRequest(error.description.replacingOccurrences(of: context.folder.path + "/", with: ""))
            }
            // Paths inside the scratch folder are reported relative to it.
            let data = try JSONSerialization.data(withJSONObject: try LongJobs.object(report),
                                                  options: .withoutEscapingSlashes)
            let text = String(decoding: data, as: UTF8.self).replacingOccurrences(of: context.folder.path + "/", with: "")
            return (try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:]
        }
    }
}

/// A thread-safe countdown.
final class Countdown: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int
    init(_ value: Int) { self.value = value }
    func decrement() -> Int { lock.withLock { value -= 1; return value } }
}

/// A value handed to the engine thread that only it touches from then on.
final class Unchecked<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// The response writer, so the SSE closure can be handed around.
final class WriterBox: @unchecked Sendable {
    var writer: any ResponseBodyWriter
    init(_ writer: any ResponseBodyWriter) { self.writer = writer }
    func write(_ buffer: ByteBuffer) async throws { try await writer.write(buffer) }
    func finish() async throws { try await writer.finish(nil) }
}

/// API-key check (every route but /health) and request counts by route and status.
struct GateMiddleware<Context: RequestContext>: RouterMiddleware {
    let apiKey: String?
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        do {
            if let apiKey, path != "/health" {
                let header = request.headers[.authorization] ?? ""
                guard header == "Bearer \(apiKey)" else {
                    throw APIError(.unauthorized, header.isEmpty
                                   ? "this server needs an API key: send 'Authorization: Bearer KEY'"
                                   : "the API key is wrong", type: "authentication_error", code: "invalid_api_key")
                }
            }
            let response = try await next(request, context)
            metrics.request(route: path, status: Int(response.status.code))
            return response
        } catch let error as any HTTPResponseError {
            metrics.request(route: path, status: Int(error.status.code))
            if error is APIError { throw error }
            if error.status == .notFound {
                throw APIError(.notFound, "no route \(request.method) \(path); see the README's HTTP service section",
                               code: "not_found")
            }
            if error.status == .contentTooLarge {
                throw APIError(.contentTooLarge, "the request body is too large", code: "request_too_large")
            }
            throw error
        } catch {
            metrics.request(route: path, status: 500)
            throw APIError(.internalServerError, "\(error)", type: "server_error")
        }
    }
}
