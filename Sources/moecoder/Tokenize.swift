import ArgumentParser
import Engine
import Foundation

/// `moecoder tokenize`: the model tokenizer's ids for a text.
struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the token ids of a text.")

    @OptionGroup var modelOptions: ModelOptions

    @Argument(help: "The text ('-' reads standard input).")
    var text: String

    @Flag(help: "Add the model's BOS/EOS tokens as it does for prompts.")
    var addSpecial = false

    @Flag(help: "Treat special-token text (e.g. <|endoftext|>) as plain text.")
    var noParseSpecial = false

    @Flag(help: "Print {\"ids\": [...], \"tokens\": [...]} as JSON.")
    var json = false

    func run() throws {
        let input = text == "-" ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) : text
        let model = try modelOptions.load()
        let tokenizer = model.tokenizer
        let ids = tokenizer.encode(input, addSpecial: addSpecial, parseSpecial: !noParseSpecial)
        let pieces = ids.map { String(decoding: tokenizer.bytes(of: $0), as: UTF8.self) }
        if json {
            struct Report: Encodable { var ids: [Int32]; var tokens: [String] }
            print(try JSON.line(Report(ids: ids, tokens: pieces)))
        } else {
            for (id, piece) in zip(ids, pieces) { print("\(id)\t\(piece.debugDescription)") }
        }
    }
}
