import ArgumentParser
import Engine
import Foundation
import GGUF
import Kernels

/// `moecoder quantize`: re-encode a model's weight matrices with one of llama.cpp's named mixes.
struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Quantize a GGUF model: q8_0, q6_k, q5_k_m, q5_k_s, q5_0, q4_k_m, q4_k_s, q4_0, q3_k_m, q2_k, f16, bf16…",
        discussion: """
            The mixes are llama.cpp's: most weight matrices take the named type, some a higher one (the output \
            matrix, attention V and ffn_down of some layers, by llama.cpp's rules); norms, biases and the expert \
            routers are stored as F32; metadata (tokenizer included) is copied. The output is written tensor by \
            tensor, so memory stays near one piece of one tensor whatever the model's size. An importance matrix \
            (--imatrix, llama.cpp's imatrix GGUF, e.g. from `moecoder imatrix`) steers the search towards the \
            columns the model's activations use most.
            """)

    @Argument(help: ArgumentHelp("The model to read.", valueName: "in.gguf"))
    var input: String

    @Argument(help: ArgumentHelp("Where to write the quantized model.", valueName: "out.gguf"))
    var output: String

    @Option(help: "Target mix: \(Quantizer.mixes.map(\.name).joined(separator: ", ")).")
    var type: String = "q8_0"

    @Option(name: .customLong("keep"), help: ArgumentHelp(
        "Store tensors whose name equals or contains TENSOR as TYPE (repeatable), e.g. output.weight=q8_0.",
        valueName: "TENSOR=TYPE"))
    var keep: [String] = []

    @Option(help: ArgumentHelp("An importance matrix (llama.cpp's imatrix GGUF format).", valueName: "imatrix.gguf"))
    var imatrix: String?

    @Option(help: "Threads that quantize rows.")
    var threads: Int = 2

    @Flag(help: "Print the summary (and every tensor's conversion) as JSON on stdout.")
    var json = false

    @Flag(help: "List every tensor's conversion.")
    var verbose = false

    @Flag(help: "No progress line on stderr.")
    var quiet = false

    func validate() throws {
        if Quantizer.mix(named: type) == nil {
            throw ValidationError("--type must be one of " + Quantizer.mixes.map(\.name).joined(separator: ", "))
        }
        if input == output { throw ValidationError("the output must be a different file from the input") }
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
        _ = try parsedKeep()
    }

    static func tensorType(named name: String) -> TensorType? {
        TensorType.allCases.first { $0.name.lowercased() == name.lowercased() && $0.canQuantizeWeights }
    }

    func parsedKeep() throws -> [(pattern: String, type: TensorType)] {
        try keep.map { item in
            guard let equals = item.lastIndex(of: "="), equals != item.startIndex else {
                throw ValidationError("--keep takes TENSOR=TYPE, got '\(item)'")
            }
            let typeName = String(item[item.index(after: equals)...])
            guard let type = Self.tensorType(named: typeName) else {
                let names = TensorType.allCases.filter(\.canQuantizeWeights).map { $0.name.lowercased() }
                throw ValidationError("--keep \(item): '\(typeName)' is not one of " + names.joined(separator: ", "))
            }
            return (String(item[..<equals]), type)
        }
    }

    func run() throws {
        guard FileManager.default.fileExists(atPath: input) else {
            throw CLIFailure(message: "cannot read the model '\(input)': no such file")
        }
        var options = Quantizer.Options(mix: Quantizer.mix(named: type)!)
        options.keep = try parsedKeep()
        options.threads = threads
        if let imatrix {
            do { options.importance = try ImportanceMatrix.read(path: imatrix).weights } catch let error as ModelError {
                throw CLIFailure(message: error.message)
            }
        }
        let showProgress = !quiet && isatty(2) != 0 || ProcessInfo.processInfo.environment["MOECODER_PROGRESS"] == "1"
        let started = Date()
        if !quiet {
            options.progress = { index, count, name, type in
                let padded = name.count < 40 ? name + String(repeating: " ", count: 40 - name.count) : name
                let line = String(format: "[%4d/%4d] ", index + 1, count) + padded + " -> " + type.name
                FileHandle.standardError.write(Data(((showProgress ? "\r\u{1B}[K" : "") + line + (showProgress ? "" : "\n")).utf8))
            }
        }
        let changes: [Quantizer.Change]
        do {
            changes = try Quantizer.convert(inputPath: input, outputPath: output, options: options)
        } catch let error as ModelError {
            if showProgress { FileHandle.standardError.write(Data("\n".utf8)) }
            throw CLIFailure(message: error.message)
        }
        if showProgress { FileHandle.standardError.write(Data("\n".utf8)) }
        let seconds = Date().timeIntervalSince(started)
        let fileBytes = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
        let before = changes.reduce(0) { $0 + $1.bytesBefore }, after = changes.reduce(0) { $0 + $1.bytesAfter }
        let elements = changes.reduce(0) { $0 + $1.elements }
        let bitsPerWeight = elements > 0 ? Double(after) * 8 / Double(elements) : 0
        var histogram: [String: Int] = [:]
        for c in changes { histogram[c.to.name, default: 0] += 1 }
        if json {
            let object: [String: Any] = [
                "input": input, "output": output, "type": options.mix.name, "file_bytes": fileBytes,
                "tensor_bytes_before": before, "tensor_bytes_after": after, "elements": elements,
                "bits_per_weight": bitsPerWeight, "seconds": seconds, "types": histogram,
                "tensors": changes.map { ["name": $0.name, "from": $0.from.name, "to": $0.to.name, "bytes": $0.bytesAfter] },
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        if verbose {
            for c in changes { print("\(c.name): \(c.from.name) -> \(c.to.name)") }
        }
        let mix = histogram.sorted { $0.value > $1.value }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        print(String(format: "%@: %@, %d tensors (%@); %.2f MB -> %.2f MB, %.2f bits per weight, %.1f s", output,
                     options.mix.name, changes.count, mix, Double(before) / 1_048_576, Double(fileBytes) / 1_048_576,
                     bitsPerWeight, seconds))
    }
}
