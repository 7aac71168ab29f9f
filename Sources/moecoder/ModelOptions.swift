import ArgumentParser
import Engine
import Foundation
import Syntax

/// Options every model-using command shares.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("GGUF model file.", valueName: "path.gguf"))
    var model: String?

    @Option(help: "Worker threads for the matrix products (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: ArgumentHelp(
        "Exact float products: no 8-bit rounding of the activations for quantized weights (slower; the reference "
            + "for golden tests). Also set by the environment variable MOECODER_EXACT=1."))
    var exact = false

    func validate() throws {
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    /// Opens the model, turning load errors into messages that say what to do.
    func load() throws -> LanguageModel {
        guard let path = model ?? Self.defaultModelPath() else {
            throw CLIFailure(message: "no default model is installed yet: pass --model PATH.gguf")
        }
        guard FileManager.default.fileExists(atPath: path) else {
            throw CLIFailure(message: "cannot read the model '\(path)': no such file")
        }
        do {
            let model = try LanguageModel(path: path, threads: threads)
            if exact { model.transformer.activations = .exact }
            return model
        } catch let error as ModelError {
            throw CLIFailure(message: error.message)
        }
    }

    /// The shipped default model, when one is installed (models/default.gguf below the data roots).
    static func defaultModelPath() -> String? { Resources.locate("models/default.gguf") }
}

/// Parses "1,2,3" into token ids.
func parseTokenList(_ text: String) throws -> [Int32] {
    try text.split(separator: ",").map { part in
        guard let id = Int32(part.trimmingCharacters(in: .whitespaces)) else {
            throw ValidationError("'\(part)' is not a token id; give comma-separated integers like 1,2,3")
        }
        return id
    }
}
