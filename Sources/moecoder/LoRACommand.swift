import ArgumentParser
import Engine
import Foundation
import GGUF
import Kernels

/// `moecoder lora`: inspect adapters and bake them into a model.
struct LoRACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lora",
        abstract: "Inspect LoRA adapters (info) and merge them into a model (merge).",
        discussion: """
            Adapters are llama.cpp's GGUF LoRA files (general.type "adapter", adapter.type "lora", \
            adapter.lora.alpha; NAME.weight.lora_a [n_in, r] and NAME.weight.lora_b [r, n_out], a trailing expert \
            dimension for ffn_*_exps) or PEFT folders (adapter_config.json + adapter_model.safetensors, Hugging Face \
            module names mapped to the model's GGUF tensors). An adapter adds scale · alpha/r · B·A·x to each \
            adapted product (alpha/√r for PEFT's use_rslora). To run one without merging, pass --lora FILE[:SCALE] \
            to generate, complete, chat, eval, serve or lsp.
            """,
        subcommands: [Info.self, Merge.self])

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the tensors an adapter adapts, with rank and shape.")

        @Argument(help: ArgumentHelp("A GGUF adapter file or a PEFT folder.", valueName: "adapter"))
        var adapter: String

        @Flag(help: "Print JSON on stdout.")
        var json = false

        func run() throws {
            let a: LoRAAdapter
            do { a = try LoRAAdapter.load(path: adapter) } catch let error as ModelError {
                throw CLIFailure(message: error.message)
            }
            let rows: [[String: Any]] = a.deltas.map { d in
                var row: [String: Any] = ["tensor": d.name, "rank": d.rank, "inputs": d.cols, "outputs": d.rows,
                                          "factor": Double(d.factor)]
                if d.experts > 0 { row["experts"] = d.experts }
                return row
            }
            if json {
                var doc: [String: Any] = ["path": a.path, "format": a.format, "tensors": rows,
                                          "parameters": a.deltas.reduce(0) { $0 + $1.a.count + $1.b.count }]
                if let arch = a.architecture { doc["architecture"] = arch }
                if let alpha = a.alpha { doc["alpha"] = Double(alpha) }
                let data = try JSONSerialization.data(withJSONObject: doc, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            print("\(a.path): \(a.format == "gguf" ? "GGUF LoRA adapter" : "PEFT LoRA folder")"
                  + (a.architecture.map { " for \($0) models" } ?? "")
                  + (a.alpha.map { ", alpha \($0)" } ?? ""))
            print("\(a.deltas.count) tensors, \(a.deltas.reduce(0) { $0 + $1.a.count + $1.b.count }) parameters")
            for d in a.deltas {
                let shape = "\(d.cols) → \(d.rows)" + (d.experts > 0 ? " × \(d.experts) experts" : "")
                print("  \(d.name)  rank \(d.rank)  \(shape)  scale factor \(d.factor)")
            }
        }
    }

    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Bake adapters into a copy of a model.",
            discussion: """
                Each adapted tensor is dequantized, gets scale · alpha/r · B·A added, and is written back in its \
                own type (llama.cpp's rounding for the block types; exact for F32 bases), or as F32 with --f32. \
                Everything else is copied unchanged. Extra adapters can be given with --lora.
                """)

        @Argument(help: ArgumentHelp("The model to read.", valueName: "base.gguf"))
        var base: String

        @Argument(help: ArgumentHelp("A GGUF adapter file or a PEFT folder.", valueName: "adapter"))
        var adapter: String

        @Argument(help: ArgumentHelp("Where to write the merged model.", valueName: "out.gguf"))
        var output: String

        @Option(help: "Scale of the adapter (default 1).")
        var scale: Float = 1

        @Option(name: .customLong("lora"), help: ArgumentHelp("Another adapter to merge as well (repeatable).",
                                                              valueName: "file[:scale]"))
        var more: [String] = []

        @Flag(help: "Write the merged tensors as F32 instead of their own type.")
        var f32 = false

        @Flag(help: "Print the merged tensors as JSON on stdout.")
        var json = false

        func validate() throws {
            if base == output { throw ValidationError("the output must be a different file from the base model") }
            if !scale.isFinite { throw ValidationError("--scale must be a number") }
        }

        func run() throws {
            guard FileManager.default.fileExists(atPath: base) else {
                throw CLIFailure(message: "cannot read the model '\(base)': no such file")
            }
            let config: ModelConfig
            do {
                config = try ModelConfig(gguf: try GGUFFile(path: base))
            } catch let error as GGUFError {
                throw CLIFailure(message: "\(base): \(error.message)")
            } catch let error as ModelError {
                throw CLIFailure(message: "\(base): \(error.message)")
            }
            var uses = [try ModelOptions.adapter(adapter, config: config)]
            uses[0] = AdapterUse(adapter: uses[0].adapter, scale: scale)
            for item in more { uses.append(try ModelOptions.adapter(item, config: config)) }
            let changes: [LoRAMerger.Change]
            do {
                changes = try LoRAMerger.merge(base: base, adapters: uses, output: output, f32: f32)
            } catch let error as ModelError {
                throw CLIFailure(message: error.message)
            }
            if json {
                let doc: [String: Any] = ["output": output, "tensors": changes.map {
                    ["tensor": $0.name, "from": $0.from.name, "to": $0.to.name]
                }]
                let data = try JSONSerialization.data(withJSONObject: doc, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                for change in changes {
                    print("  \(change.name)  \(change.from.name)\(change.to != change.from ? " → \(change.to.name)" : "")")
                }
                print("merged \(uses.count) adapter\(uses.count == 1 ? "" : "s") into \(changes.count) tensors: \(output)")
            }
        }
    }
}
