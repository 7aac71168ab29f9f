import ArgumentParser
import Engine
import Foundation
import Server

/// `moecoder serve`: the HTTP service.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the model over HTTP: OpenAI- and llama.cpp-compatible routes, continuous batching.",
        discussion: """
            Routes: POST /v1/completions (prompt, suffix for fill-in-the-middle, max_tokens, temperature, top_p, \
            stop, seed, stream, n), POST /v1/chat/completions, GET /v1/models, POST /completion and POST /infill \
            (llama.cpp's, for llama.vim and llama.vscode), POST /tokenize, POST /detokenize, \
            POST /v1/code/complete (the JSON of `moecoder complete --json`), GET /health, GET /metrics \
            (Prometheus). Any completion request may add "constrain": "python" (or another shipped grammar) to \
            keep its output parsable.

            Requests decode together: each step runs one forward pass over every running request, so one read \
            of the weights serves them all; new requests join at step boundaries and long prompts are prefilled \
            in chunks between decode steps. Requests that start with the same text (a file, a system prompt) \
            share its KV cache: only what differs is computed (--kv-budget, --persist-kv). SIGINT or SIGTERM \
            stops the server (exit status 0).
            """
    )

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var kvOptions: KVOptions

    @Option(help: "Address to listen on (loopback by default; 0.0.0.0 exposes the server to the network).")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one; the chosen port is printed).")
    var port = 8080

    @Option(name: .customLong("api-key"), help: "Require 'Authorization: Bearer KEY' on every route but /health.")
    var apiKey: String?

    @Option(name: .customLong("max-batch"), help: "Sequences in one forward pass at most.")
    var maxBatch = 32

    @Option(name: .customLong("max-wait-ms"), help: "When idle, how long a first request waits for others to start with it.")
    var maxWaitMs = 2

    @Option(help: "Requests decoded at once at most (default: --max-batch); more wait in the queue.")
    var parallel: Int?

    @Option(name: .customLong("ctx-size"), help: "Positions per request, prompt plus output (default: the model's context).")
    var ctxSize: Int?

    @Option(name: .customLong("max-queue"), help: "Waiting requests beyond which the server answers 503 with Retry-After.")
    var maxQueue = 256

    @Option(name: .customLong("cache-reuse"), help: ArgumentHelp(
        "Reuse cached chunks of at least N tokens that reappear later in a prompt, at their new positions (keys "
            + "rotated), as llama.cpp's --cache-reuse: approximate, since the moved entries were computed with "
            + "another left context. 0 (the default): exact prefixes only.", valueName: "N"))
    var cacheReuse = 0

    @Option(name: .customLong("lora-choice"), help: ArgumentHelp(
        "A LoRA adapter loaded at start but applied only to requests that name it in their \"lora\" field "
            + "(repeatable; --lora adapters apply to every request that does not say otherwise). GET /lora-adapters "
            + "lists them.", valueName: "file[:scale]"))
    var loraChoices: [String] = []

    func validate() throws {
        if !(0...65535).contains(port) { throw ValidationError("--port must be between 0 and 65535") }
        if maxBatch < 1 { throw ValidationError("--max-batch must be at least 1") }
        if let parallel, parallel < 1 { throw ValidationError("--parallel must be at least 1") }
        if maxWaitMs < 0 { throw ValidationError("--max-wait-ms cannot be negative") }
        if let ctxSize, ctxSize < 16 { throw ValidationError("--ctx-size must be at least 16") }
        if maxQueue < 0 { throw ValidationError("--max-queue cannot be negative") }
        if cacheReuse < 0 { throw ValidationError("--cache-reuse cannot be negative") }
        if let apiKey, apiKey.isEmpty { throw ValidationError("--api-key is empty; give a key or leave the option out") }
    }

    func run() throws {
        let model = try modelOptions.load(batchDefaults: true)
        let store = kvOptions.apply(to: model)
        var settings = ServerSettings()
        settings.host = host
        settings.port = port
        settings.apiKey = apiKey ?? ProcessInfo.processInfo.environment["MOECODER_API_KEY"]
        settings.maxBatch = maxBatch
        settings.parallel = parallel ?? maxBatch
        settings.maxWaitMilliseconds = maxWaitMs
        settings.maxQueue = maxQueue
        settings.cacheReuse = cacheReuse
        if let ctxSize {
            if ctxSize > model.config.contextLength {
                warn("--ctx-size \(ctxSize) is larger than the context the model was trained for "
                     + "(\(model.config.contextLength)): text beyond it may come out worse")
            }
            settings.contextSize = ctxSize
        }
        settings.modelID = URL(fileURLWithPath: model.path).deletingPathExtension().lastPathComponent
        for item in loraChoices {
            let use = try ModelOptions.adapter(item, config: model.config)
            do { try model.transformer.check(use.adapter) } catch let error as ModelError {
                throw CLIFailure(message: error.message)
            }
            if use.adapter.adaptsMergedTensors {
                throw CLIFailure(message: "--lora-choice \(item): the adapter adapts attn_kv_b, which moecoder merges into "
                                 + "the model at load, so it cannot be chosen per request; pass it with --lora instead")
            }
            settings.adapters.append(use)
        }
        if cacheReuse > 0 {
            warn("--cache-reuse \(cacheReuse): cached chunks of at least \(cacheReuse) tokens are reused at shifted "
                 + "positions (\(model.config.architecture.rawValue), \(model.config.rope.type.rawValue) rope); approximate, "
                 + "answers may differ from a run without it")
        }
        let server = CodeServer(model: model, settings: settings)
        let modelID = settings.modelID
        let failure = Box<Error?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            do {
                try await server.run { host, port in
                    FileHandle.standardError.write(Data("moecoder: serving \(modelID) on http://\(host):\(port)\n".utf8))
                }
            } catch {
                failure.value = error
            }
            done.signal()
        }
        done.wait()
        KVOptions.save(store, model: model)
        if let error = failure.value {
            throw CLIFailure(message: "the server stopped: \(error)", status: 1)
        }
    }
}

final class Box<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}
