import ArgumentParser
import Assist
import Engine
import Foundation
import Syntax

/// `moecoder generate`: continue a prompt with the model.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text after a prompt.",
        discussion: "Streams the continuation to standard output. Temperature 0 (the default) is greedy.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var kvOptions: KVOptions

    @Option(name: .shortAndLong, help: "The prompt text.")
    var prompt: String?

    @Option(help: ArgumentHelp("Read the prompt from a file ('-' for standard input).", valueName: "file"))
    var promptFile: String?

    @Option(help: "Maximum number of tokens to generate.")
    var maxTokens: Int = 128

    @OptionGroup var sampling: SamplingOptions

    @Option(help: "Stop when this text is generated (repeatable).")
    var stop: [String] = []

    @Flag(help: "Do not stop at the end-of-sequence token.")
    var ignoreEos = false

    @Flag(help: "Print one JSON object with the text, tokens and timings instead of streaming.")
    var json = false

    @Option(help: ArgumentHelp("Keep the output parsable as this language (prompt included): tokens that would make it invalid are never sampled.", valueName: "language"))
    var constrain: String?

    @Option(help: "With --constrain: stop at the end of a 'statement', a 'block', or 'none'.")
    var stopAt: SyntaxStopRule = .none

    func validate() throws {
        if (prompt == nil) == (promptFile == nil) { throw ValidationError("give exactly one of --prompt or --prompt-file") }
        if maxTokens < 1 { throw ValidationError("--max-tokens must be at least 1") }
        if let constrain { _ = try Parse.language(named: constrain) }
        if stopAt != .none && constrain == nil { throw ValidationError("--stop-at needs --constrain LANGUAGE") }
    }

    func run() throws {
        let text: String
        if let prompt { text = prompt } else if promptFile == "-" {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        } else {
            guard let data = FileManager.default.contents(atPath: promptFile!) else {
                throw CLIFailure(message: "cannot read the prompt file '\(promptFile!)'")
            }
            text = String(decoding: data, as: UTF8.self)
        }
        let model = try modelOptions.load()
        let store = kvOptions.apply(to: model, quiet: json)
        defer { KVOptions.save(store, model: model) }
        let tokens = model.tokenizer.encode(text, addSpecial: true)
        guard !tokens.isEmpty else { throw CLIFailure(message: "the prompt is empty") }
        let options = GenerationOptions(
            maxTokens: maxTokens,
            sampling: sampling.parameters(),
            stopStrings: stop, ignoreEOS: ignoreEos)
        var constraint: SyntaxConstraint?
        var stopper: SyntaxStopper?
        if let constrain {
            let language = try Language.named(constrain)
            constraint = try SyntaxConstraint(language: language, tokenizer: model.tokenizer, prefix: text,
                                              allowEndOfText: !ignoreEos)
            if let why = constraint?.degraded { warn(why) }
            stopper = try SyntaxStopper(rule: stopAt, language: language, prefix: text)
        }
        let result: GenerationResult
        do {
            result = try Generator(model: model).generate(
                prompt: tokens, options: options, constraint: constraint,
                stopRule: stopper) { piece in
                if !json {
                    FileHandle.standardOutput.write(Data(piece.utf8))
                }
                return true
            }
        } catch let error as ModelError {
            throw CLIFailure(message: error.message)
        }
        if json {
            var report = GenerateReport(result)
            report.constraint = constraint.map { ConstraintReport(language: $0.language.name, active: $0.isActive,
                                                                    degraded: $0.degraded, statistics: $0.statistics) }
            print(try JSON.line(report))
        } else {
            print()
            warn(String(format: "%d prompt tokens in %.2f s, %d generated in %.2f s (%.1f tokens/s), stop: %@",
                        result.promptTokens, result.promptSeconds, result.tokens.count, result.decodeSeconds,
                        Double(result.tokens.count) / max(result.decodeSeconds, 1e-9), result.stopReason.rawValue))
        }
    }
}

struct GenerateReport: Encodable {
    var text: String
    var tokens: [Int32]
    var stopReason: StopReason
    var promptTokens: Int
    var promptMs: Double
    var decodeMs: Double
    var constraint: ConstraintReport?

    init(_ r: GenerationResult) {
        text = r.text
        tokens = r.tokens
        stopReason = r.stopReason
        promptTokens = r.promptTokens
        promptMs = r.promptSeconds * 1000
        decodeMs = r.decodeSeconds * 1000
    }

    enum CodingKeys: String, CodingKey {
        case text, tokens, stopReason = "stop_reason", promptTokens = "prompt_tokens", promptMs = "prompt_ms"
        case decodeMs = "decode_ms", constraint
    }
}

struct ConstraintReport: Encodable {
    var language: String
    var active: Bool
    var degraded: String?
    var statistics: ConstraintStatistics
}

extension SyntaxStopRule: ExpressibleByArgument {}
