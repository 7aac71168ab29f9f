import ArgumentParser
import Assist
import Engine
import Foundation
import Syntax

/// `moecoder complete`: fill in code at a cursor.
struct Complete: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Complete code at a line and column of a file (fill-in-the-middle).",
        discussion: """
            The model sees the code before and after the cursor in its fill-in-the-middle layout (DeepSeek-Coder, \
            Qwen2.5-Coder, StarCoder2/moecoder or CodeLlama, picked from its tokens), or only the code before the \
            cursor when it has no such tokens. The completion ends when it closes the construct the cursor is in, \
            at the end of the line, statement or block it writes, at the model's end of text, or at --max-tokens. \
            The syntax constraint keeps the code before the cursor plus the completion parsable as it is written; \
            when the whole file with the completion does not parse, up to --attempts decodings are tried, and one \
            that still does not fit is cut back (or its open brackets and string closed) to a part that does. \
            A model without FIM tokens rewrites the last token before the cursor itself (token healing; --no-heal \
            to compare). \
            The file is never modified.

            Exit status: 0 on success, 2 on bad usage, an unreadable file or model, or a cursor outside the file.
            """)

    @Argument(help: ArgumentHelp("The source file; '-' reads standard input (needs --language).", valueName: "file"))
    var file: String

    @Option(help: "Line of the cursor (1-based).")
    var line: Int

    @Option(help: "Column of the cursor in characters (1-based; one past the last character is the line's end).")
    var column: Int

    @Option(name: .shortAndLong, help: "Language of the input, overriding the file extension.")
    var language: String?

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var kvOptions: KVOptions

    @Option(help: "Maximum number of tokens to generate.")
    var maxTokens: Int = 64

    @Option(help: "Sampling temperature; 0 picks the most likely token.")
    var temperature: Float = 0

    @Option(help: "Random seed (same seed, same output).")
    var seed: UInt64 = 0

    @Flag(help: "Decode without the syntax constraint (to compare).")
    var noConstrain = false

    @Flag(help: "Models without FIM tokens: keep the last token before the cursor in the prompt instead of letting the model rewrite it.")
    var noHeal = false

    @Option(help: ArgumentHelp(
        "Decodings to try in all when the file does not parse with the completion (1: only the first).",
        discussion: "Later ones penalise repetition and start with other tokens; the first that parses is kept."))
    var attempts: Int = 12

    @Flag(help: "Print one JSON object: completion, tokens, constrained, parse_ok, stop_reason, ms, prompt_tokens, attempts, decode_ms, decoded_tokens, constraint (its counters and times).")
    var json = false

    @Flag(help: "Print the whole file with the completion inserted.")
    var insert = false

    func validate() throws {
        if maxTokens < 1 { throw ValidationError("--max-tokens must be at least 1") }
        if temperature < 0 { throw ValidationError("--temperature must not be negative") }
        if attempts < 1 { throw ValidationError("--attempts must be at least 1") }
        if json && insert { throw ValidationError("give at most one of --json and --insert") }
        if file == "-" && language == nil {
            throw ValidationError("reading standard input needs --language (one of: \(Language.all.map(\.name).joined(separator: ", ")))")
        }
    }

    func run() throws {
        let language = try resolveLanguage()
        let source = try readSource()
        var request: CompletionRequest
        do {
            request = try CompletionRequest(source: source, language: language, line: line, column: column)
        } catch let error as CompletionError {
            throw CLIFailure(message: "\(file == "-" ? "standard input" : file): \(error.message)")
        }
        request.maxTokens = maxTokens
        request.sampling = SamplingParameters(temperature: temperature, seed: seed)
        request.constraint = noConstrain ? .none : .syntax
        request.attempts = attempts
        request.tokenHealing = !noHeal
        let model = try modelOptions.load()
        let store = kvOptions.apply(to: model, quiet: json)
        let completion: Completion
        do { completion = try CodeCompleter(model: model).complete(request) } catch let error as ModelError {
            throw CLIFailure(message: error.message)
        } catch let error as CompletionError {
            throw CLIFailure(message: error.message)
        }
        KVOptions.save(store, model: model)
        if json {
            var report = CompletionReport(completion)
            let kv = model.transformer.kvPool.stats
            report.kvCache = ["blocks": kv.blocks, "block_bytes": kv.blockBytes, "budget_blocks": kv.budgetBlocks,
                              "hit_tokens": kv.hitTokens, "evicted_blocks": kv.evictions]
            print(try JSON.line(report))
            return
        }
        for note in completion.notes { warn("note: \(note)") }
        print(insert ? completion.insertedSource : completion.text, terminator: insert ? "" : "\n")
    }

    private func resolveLanguage() throws -> Language {
        if let language {
            do { return try Language.named(language) } catch let error as SyntaxLayerError {
                throw CLIFailure(message: error.description)
            }
        }
        guard let found = Language.forPath(file) else {
            throw CLIFailure(message: "cannot tell the language of '\(file)' from its extension; pass --language "
                             + "(\(Language.all.map(\.name).joined(separator: ", ")))")
        }
        return found
    }

    private func readSource() throws -> String {
        let data: Data
        if file == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: file, isDirectory: &isFolder), isFolder.boolValue {
                throw CLIFailure(message: "'\(file)' is a folder; give the source file to complete in")
            }
            do { data = try Data(contentsOf: URL(fileURLWithPath: file)) } catch {
                throw CLIFailure(message: "cannot read '\(file)': \(readFailure(error)); "
                                 + "check the path and its permissions")
            }
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw CLIFailure(message: "'\(file)' is not UTF-8 text; convert it to UTF-8 first")
        }
        return text
    }
}

