import ArgumentParser
import Engine
import Foundation

/// `moecoder logits`: the model's next-token logits after a token sequence.
struct Logits: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the logits for the last position of a token sequence.",
        discussion: "With --json: {\"n_vocab\": V, \"logits\": [...]}; otherwise the ten most likely tokens.")

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: ArgumentHelp("Comma-separated token ids.", valueName: "1,2,3"))
    var tokens: String

    @Flag(help: "Print every position's logits (\"logits\" becomes a list of lists).")
    var all = false

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let ids = try parseTokenList(tokens)
        guard !ids.isEmpty else { throw ValidationError("--tokens is empty") }
        let model = try modelOptions.load()
        let vocab = model.config.vocabularySize
        let values: [Float]
        do {
            let transformer = model.transformer
            values = try transformer.logits(ids, cache: transformer.makeCache(capacity: ids.count), allLogits: all)
        } catch let error as ModelError {
            throw CLIFailure(message: error.message)
        }
        if json {
            struct Last: Encodable { var n_vocab: Int; var logits: [Float] }
            struct Every: Encodable { var n_vocab: Int; var logits: [[Float]] }
            if all {
                let rows = stride(from: 0, to: values.count, by: vocab).map { Array(values[$0..<($0 + vocab)]) }
                print(try JSON.line(Every(n_vocab: vocab, logits: rows)))
            } else {
                print(try JSON.line(Last(n_vocab: vocab, logits: values)))
            }
        } else {
            let last = values.suffix(vocab)
            let top = last.enumerated().sorted { $0.element > $1.element }.prefix(10)
            for (id, value) in top {
                let piece = String(decoding: model.tokenizer.bytes(of: Int32(id)), as: UTF8.self)
                print(String(format: "%6d  %10.4f  %@", id, value, piece.debugDescription))
            }
        }
    }
}
