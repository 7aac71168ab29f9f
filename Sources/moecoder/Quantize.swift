import ArgumentParser
import Engine
import Foundation
import Kernels

/// `moecoder quantize`: re-encode a model's weight matrices in another tensor type.
struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a GGUF model's weight matrices to Q8_0, Q4_0, F16, BF16 or F32.",
        discussion: """
            Weight matrices whose rows are whole blocks of the target type are converted; norms, biases and \
            the expert routers are stored as F32; metadata (tokenizer included) is copied.
            """)

    @Argument(help: ArgumentHelp("The model to read.", valueName: "in.gguf"))
    var input: String

    @Argument(help: ArgumentHelp("Where to write the converted model.", valueName: "out.gguf"))
    var output: String

    @Option(help: "Target type: q8_0, q4_0, f16, bf16 or f32.")
    var type: String = "q8_0"

    @Flag(help: "List every tensor's conversion.")
    var verbose = false

    func validate() throws {
        if targetType == nil {
            throw ValidationError("--type must be one of "
                                  + Quantizer.targets.map { $0.name.lowercased() }.joined(separator: ", "))
        }
        if input == output { throw ValidationError("the output must be a different file from the input") }
    }

    private var targetType: TensorType? {
        Quantizer.targets.first { $0.name.lowercased() == type.lowercased() }
    }

    func run() throws {
        guard FileManager.default.fileExists(atPath: input) else {
            throw CLIFailure(message: "cannot read the model '\(input)': no such file")
        }
        let changes: [Quantizer.Change]
        do { changes = try Quantizer.convert(inputPath: input, outputPath: output, to: targetType!) } catch let error as ModelError {
            throw CLIFailure(message: error.message)
        }
        if verbose {
            for c in changes {
                print("\(c.name): \(c.from.name) -> \(c.to.name)")
            }
        }
        let before = changes.reduce(0) { $0 + $1.bytesBefore }, after = changes.reduce(0) { $0 + $1.bytesAfter }
        let converted = changes.filter { $0.to == targetType! && $0.from != $0.to }.count
        print(String(format: "%@: %d tensors, %d converted to %@; tensor data %.2f MB -> %.2f MB", output,
                     changes.count, converted, targetType!.name, Double(before) / 1_048_576, Double(after) / 1_048_576))
    }
}
