import Assist
import Engine
import Foundation
import Syntax

/// The Assist features the server exposes, each behind a small protocol so tests can stand in for the model
/// and a feature's implementation can change without touching the protocol handlers.

/// Code completion at a cursor.
public protocol CompletionService: Sendable {
    /// Completes `source` at byte offset `cursor`. Throws `ResponseError` with a message for the user
    /// (no model, say).
    func complete(source: String, language: Language, cursor: Int, cancellation: CancellationFlag) throws
        -> CompletionOutcome
}

/// What a completion produced.
public struct CompletionOutcome: Sendable {
    public var text: String
    public var parseOK: Bool
    public var tokens: Int
    public var milliseconds: Double
    /// Prompt tokens, and how many of them came from the KV cache (the file's prefix from an earlier request)
    /// rather than being computed.
    public var promptTokens: Int
    public var cachedPromptTokens: Int

    public init(text: String, parseOK: Bool, tokens: Int, milliseconds: Double, promptTokens: Int = 0,
                cachedPromptTokens: Int = 0) {
        self.text = text
        self.parseOK = parseOK
        self.tokens = tokens
        self.milliseconds = milliseconds
        self.promptTokens = promptTokens
        self.cachedPromptTokens = cachedPromptTokens
    }
}

/// Completion by Assist's `CodeCompleter` with a model loaded on first use (on the model queue).
public final class ModelCompletionService: CompletionService, @unchecked Sendable {
    /// nil: no model is installed and none was given.
    public let modelPath: String?
    public let threads: Int
    public let maxTokens: Int
    private let lock = NSLock()
    private var loaded: Result<LanguageModel, ResponseError>?

    public init(modelPath: String?, threads: Int, maxTokens: Int = 64) {
        self.modelPath = modelPath
        self.threads = threads
        self.maxTokens = maxTokens
    }

    /// Loads the model now (the server does this on the model queue right after start, off the reader).
    @discardableResult
    public func model() -> Result<LanguageModel, ResponseError> {
        lock.withLock {
            if let loaded { return loaded }
            let result: Result<LanguageModel, ResponseError>
            if let modelPath {
                do { result = .success(try LanguageModel(path: modelPath, threads: threads)) } catch {
                    result = .failure(.requestFailed("cannot load the model '\(modelPath)': \(error); "
                                                     + "start the server with --model PATH.gguf"))
                }
            } else {
                result = .failure(.requestFailed("no model: no default model is installed; start `moecoder lsp` "
                                                 + "with --model PATH.gguf to get completions (diagnostics and "
                                                 + "quick fixes work without one)"))
            }
            loaded = result
            return result
        }
    }

    public func complete(source: String, language: Language, cursor: Int, cancellation: CancellationFlag) throws
        -> CompletionOutcome {
        let model = try model().get()
        var request = CompletionRequest(source: source, language: language, cursor: cursor)
        request.maxTokens = maxTokens
        request.cancellation = cancellation   // stops prompt processing and decoding at the next step
        // An editor waits while the user types: other decodings, when the file does not parse with the first,
        // get half a second in all (the command line allows 2 s).
        request.attemptSeconds = 0.5
        guard !cancellation.isCancelled else { throw ResponseError.requestCancelled }
        do {
            let completion = try CodeCompleter(model: model).complete(request)
            if completion.stopReason == .cancelled { throw ResponseError.requestCancelled }
            return CompletionOutcome(text: completion.text, parseOK: completion.parseOK, tokens: completion.tokens,
                                     milliseconds: completion.seconds * 1000, promptTokens: completion.promptTokens,
                                     cachedPromptTokens: completion.cachedPromptTokens)
        } catch let error as CompletionError {
            throw ResponseError.invalidParams(error.message)
        } catch let error as ModelError {
            throw ResponseError.requestFailed(error.message)
        }
    }
}

/// Test generation for a Python module on disk.
public protocol TestGenerationService: Sendable {
    /// Writes the tests and returns the report; `progress` receives one-line status messages.
    func generateTests(modulePath: String, outputPath: String?, budget: Double,
                       progress: @escaping (String) -> Void) throws -> JSONValue
}

/// Assist's `TestGenerator` (without model proposals, so it never waits for the model queue).
public struct AssistTestGeneration: TestGenerationService {
    public init() {}

    public func generateTests(modulePath: String, outputPath: String?, budget: Double,
                              progress: @escaping (String) -> Void) throws -> JSONValue {
        var options = TestGenerator.Options(modulePath: modulePath)
        options.outputPath = outputPath
        options.budget = budget
        do {
            let report = try TestGenerator(options: options).run(progress: progress)
            return try JSONValue(encoding: report)
        } catch let error as TestgenError {
            throw ResponseError.requestFailed(error.description)
        }
    }
}
