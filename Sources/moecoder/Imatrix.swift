import ArgumentParser
import Engine
import Foundation
import Kernels

/// `moecoder imatrix`: compute an importance matrix (llama.cpp's imatrix GGUF format) for `quantize --imatrix`.
struct Imatrix: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compute an importance matrix: the mean squared activation of each weight matrix's input columns.",
        discussion: """
            The model runs over the text in windows of --ctx tokens; for every product of a weight matrix (each \
            expert matrix of a stacked tensor apart) the squares of its input activations are summed per column \
            and the rows counted. The file is llama.cpp's imatrix GGUF (<tensor>.in_sum2, <tensor>.counts), \
            readable by llama-quantize too. Use the unquantized (F16/F32) model when you have it.
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .customLong("text"), parsing: .upToNextOption,
            help: ArgumentHelp("Text files to run the model over.", valueName: "file"))
    var texts: [String] = []

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Where to write the matrix.", valueName: "imatrix.gguf"))
    var output: String = "imatrix.gguf"

    @Option(help: "Tokens per window.")
    var ctx: Int = 512

    @Option(help: "At most this many windows (0: all).")
    var chunks: Int = 0

    func validate() throws {
        if texts.isEmpty { throw ValidationError("give at least one --text FILE") }
        if ctx < 2 { throw ValidationError("--ctx must be at least 2") }
        if chunks < 0 { throw ValidationError("--chunks must be 0 or more") }
    }

    func run() throws {
        var text = ""
        for path in texts {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CLIFailure(message: "cannot read the text file '\(path)'")
            }
            text += String(decoding: data, as: UTF8.self)
        }
        let model = try modelOptions.load()
        let tokens = model.tokenizer.encode(text, addSpecial: false, parseSpecial: false)
        let window = min(ctx, model.config.contextLength)
        var windows = stride(from: 0, to: tokens.count - 1, by: window).map { Array(tokens[$0..<min(tokens.count, $0 + window)]) }
        if chunks > 0 { windows = Array(windows.prefix(chunks)) }
        guard !windows.isEmpty else { throw CLIFailure(message: "the text is too short: \(tokens.count) tokens") }
        let collector = ImportanceCollector(file: model.transformer.file)
        LinearAlgebra.observer = collector
        defer { LinearAlgebra.observer = nil }
        for (i, piece) in windows.enumerated() {
            var input = piece
            if model.tokenizer.addBOS, let bos = model.tokenizer.bos { input = [bos] + piece.prefix(window - 1) }
            do {
                _ = try model.transformer.logits(input, cache: model.transformer.makeCache(capacity: input.count))
            } catch let error as ModelError {
                throw CLIFailure(message: error.message)
            }
            FileHandle.standardError.write(Data("\r[\(i + 1)/\(windows.count)] windows".utf8))
        }
        FileHandle.standardError.write(Data("\n".utf8))
        LinearAlgebra.observer = nil
        var matrix = collector.matrix
        matrix.datasets = texts
        matrix.chunkCount = windows.count
        matrix.chunkSize = window
        do { try matrix.write(to: output) } catch let error as ModelError { throw CLIFailure(message: error.message) }
        print("\(output): \(matrix.sums.count) weight matrices, \(windows.count) windows of \(window) tokens")
    }
}
