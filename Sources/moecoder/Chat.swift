import ArgumentParser
import Engine
import Foundation
import Server

/// `moecoder chat`: an interactive conversation with the model, streamed as it is generated.
struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Chat with the model, one user turn per line of input.",
        discussion: """
            Reads user turns from standard input, one per line, and streams each answer to standard output as it \
            is generated (followed by a newline). The whole conversation is sent with every turn, formatted by the \
            model's chat template (the GGUF's tokenizer.chat_template, run by the built-in Jinja interpreter) or, \
            when the file has none or it cannot be rendered, by a built-in layout. Input from a pipe works too: \
            each line is a turn, and the chat ends at the end of the input.

            Commands (alone on a line): /reset forgets the conversation (the --system prompt stays), /exit quits.

            After each answer a summary line goes to standard error: prompt tokens, generated tokens, speed and \
            why the answer stopped. Temperature 0 (the default) is greedy.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var kvOptions: KVOptions

    @Option(help: ArgumentHelp("A system prompt that starts the conversation.", valueName: "text"))
    var system: String?

    @Option(help: "Maximum number of tokens per answer.")
    var maxTokens: Int = 512

    @OptionGroup var sampling: SamplingOptions

    func validate() throws {
        if maxTokens < 1 { throw ValidationError("--max-tokens must be at least 1") }
    }

    func run() throws {
        let model = try modelOptions.load()
        let store = kvOptions.apply(to: model)
        defer { KVOptions.save(store, model: model) }
        let formatter = ChatFormatter(template: model.transformer.file.metadata["tokenizer.chat_template"]?.string,
                                      tokenizer: model.tokenizer) { warn($0) }
        let interactive = isatty(STDIN_FILENO) != 0
        let start: [ChatTemplate.Message] = system.map { [ChatTemplate.Message(role: "system", content: $0)] } ?? []
        var history = start
        if interactive {
            warn("chatting with \(model.config.architecture.rawValue) (prompt format: \(formatter.name)); "
                 + "type a message, /reset to start over, /exit or Ctrl-D to quit")
        }
        let contextLength = model.config.contextLength
        var turn = 0
        while true {
            if interactive { FileHandle.standardError.write(Data("> ".utf8)) }
            guard let line = readLine(strippingNewline: true) else { break }
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            if text == "/exit" || text == "/quit" { break }
            if text == "/reset" {
                history = start
                warn("conversation cleared")
                continue
            }
            if text.hasPrefix("/") && !text.contains(" ") {
                warn("unknown command '\(text)'; the commands are /reset and /exit")
                continue
            }
            history.append(ChatTemplate.Message(role: "user", content: line))
            let rendered = formatter.render(history)
            let tokens = model.tokenizer.encode(rendered.text, addSpecial: false, parseSpecial: true)
            guard !tokens.isEmpty, tokens.count < contextLength else {
                warn("the conversation (\(tokens.count) tokens) no longer fits the model's context of \(contextLength) "
                     + "tokens; /reset to start over")
                history.removeLast()
                continue
            }
            let options = GenerationOptions(
                maxTokens: min(maxTokens, contextLength - tokens.count),
                sampling: sampling.parameters(seedOffset: UInt64(turn)),
                stopStrings: rendered.stops)
            let result: GenerationResult
            do {
                result = try Generator(model: model).generate(prompt: tokens, options: options) { piece in
                    FileHandle.standardOutput.write(Data(piece.utf8))
                    return true
                }
            } catch let error as ModelError {
                throw CLIFailure(message: error.message)
            }
            FileHandle.standardOutput.write(Data("\n".utf8))
            turn += 1
            history.append(ChatTemplate.Message(role: "assistant",
                                                content: result.text.trimmingCharacters(in: .whitespacesAndNewlines)))
            warn(String(format: "turn %d: %d prompt tokens (%d cached), %d generated in %.2f s (%.1f tokens/s), stop: %@",
                        turn, result.promptTokens, result.cachedPromptTokens, result.tokens.count, result.decodeSeconds,
                        Double(result.tokens.count) / max(result.decodeSeconds, 1e-9), result.stopReason.rawValue))
        }
    }
}
