import ArgumentParser
import Engine
import Foundation
import LSP

/// `moecoder lsp`: the language server over standard input and output.
struct LSPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lsp",
        abstract: "Run the language server (LSP over standard input and output) for editors.",
        discussion: """
            Speaks JSON-RPC 2.0 with Content-Length framing on standard input and output: inline and multi-line \
            completion, syntax-error diagnostics, quick fixes and the moecoder.generateTests command. Logs go \
            to standard error, or to --log. Without a model the server still publishes diagnostics and quick \
            fixes; completions answer with an error that says how to give one. See examples/editors/.

            Exit status: 0 after shutdown and exit, 1 when the client exits or closes the stream without \
            shutdown.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var kvOptions: KVOptions

    @Option(help: ArgumentHelp("Append logs to this file instead of standard error.", valueName: "path"))
    var log: String?

    @Option(help: "Maximum tokens one completion generates.")
    var maxTokens: Int = 64

    @Option(help: "Default seconds of input search for moecoder.generateTests.")
    var testBudget: Double = 10

    func validate() throws {
        if maxTokens < 1 { throw ValidationError("--max-tokens must be at least 1") }
        if testBudget <= 0 { throw ValidationError("--test-budget must be a positive number of seconds") }
    }

    func run() throws {
        // Bad adapters stop the server at once (the model itself loads later, on the first request).
        for item in modelOptions.lora { _ = try ModelOptions.adapter(item, config: nil) }
        let logger = try LogSink(path: log)
        logger.write("started (moecoder \(MoECoder.configuration.version), pid \(getpid()))")
        let completion = ModelCompletionService(modelPath: try modelOptions.model.map(ModelOptions.resolveCached)
                                                    ?? ModelOptions.defaultModelPath(),
                                                threads: modelOptions.threads, maxTokens: maxTokens)
        let configuration = LanguageServer.Configuration(completion: completion, testBudget: testBudget,
                                                         log: { logger.write($0) })
        let store = Box<KVStore?>(nil)
        let status = LanguageServer.runStdio(configuration: configuration) {
            switch completion.model() {
            case .success(let model):
                logger.write("model: \(model.path)")
                do { try modelOptions.configure(model) } catch { logger.write("\(error)") }
                // Completions reuse the KV cache of the file's unchanged prefix from one keystroke to the next.
                store.value = kvOptions.apply(to: model)
                let pool = model.transformer.kvPool
                logger.write("KV cache: budget \(pool.budgetBytes >> 20) MB, \(pool.stats.cachedBlocks * pool.blockTokens) "
                             + "positions cached at start")
            case .failure(let error): logger.write(error.message)
            }
        }
        if case .success(let model) = completion.model() { KVOptions.save(store.value, model: model) }
        throw ExitCode(status)
    }
}

/// Log lines to standard error or a file, one `moecoder lsp:` line each.
final class LogSink: @unchecked Sendable {
    private let handle: FileHandle
    private let lock = NSLock()

    init(path: String?) throws {
        guard let path else { handle = FileHandle.standardError; return }
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw CLIFailure(message: "cannot create the log file '\(path)'")
            }
        }
        guard let file = FileHandle(forWritingAtPath: path) else {
            throw CLIFailure(message: "cannot write the log file '\(path)'")
        }
        file.seekToEndOfFile()
        handle = file
    }

    func write(_ line: String) {
        lock.withLock { handle.write(Data("moecoder lsp: \(line)\n".utf8)) }
    }
}
