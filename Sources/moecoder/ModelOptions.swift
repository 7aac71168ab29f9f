import ArgumentParser
import Engine
import Foundation
import Hub
import Kernels
import Syntax

/// Options every model-using command shares.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "GGUF model file, or OWNER/REPO[:QUANT] for one downloaded with moecoder pull.", valueName: "path.gguf"))
    var model: String?

    @Option(help: "Worker threads for the matrix products (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: ArgumentHelp(
        "Exact float products: no 8-bit rounding of the activations for quantized weights (slower; the reference "
            + "for golden tests). Also set by the environment variable MOECODER_EXACT=1."))
    var exact = false

    @Option(name: .customLong("kv-type"), help: ArgumentHelp(
        "How the KV cache stores keys and values: f32 (exact), f16, or q8_0 (8 bits with a scale per 32 values: "
            + "about a quarter of the memory; see the README for its measured cost). Default: f16 (f32 with "
            + "--exact), but q8_0 for serve and bench --batch (f16 when the model's head sizes are not multiples "
            + "of 32).",
        valueName: "type"))
    var kvType: String?

    @Option(name: .customLong("lora"), help: ArgumentHelp(
        "A LoRA adapter to run with the model, unmerged: a llama.cpp GGUF adapter file or a PEFT folder "
            + "(adapter_config.json + adapter_model.safetensors), at SCALE (default 1). Repeat for several; their "
            + "deltas add up. See `moecoder lora --help`.", valueName: "file[:scale]"))
    var lora: [String] = []

    func validate() throws {
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
        if let kvType, Self.kvTypes[kvType.lowercased()] == nil {
            throw ValidationError("--kv-type must be f32, f16 or q8_0, not '\(kvType)'")
        }
    }

    static let kvTypes: [String: TensorType] = ["f32": .f32, "f16": .f16, "q8_0": .q8_0]

    /// The KV type of the commands that decode many sequences at once (serve, bench --batch): q8_0, which batched
    /// attention reads fastest (a quarter of f32's bytes), or f16 when the model's head sizes do not allow it.
    static func batchKVType(_ config: ModelConfig) -> TensorType {
        KVBlockPool.unsupported(.q8_0, config: config) == nil ? .q8_0 : .f16
    }

    /// Opens the model, turning load errors into messages that say what to do. `batchDefaults`: without
    /// --kv-type, the KV cache is `batchKVType` instead of f32.
    func load(batchDefaults: Bool = false) throws -> LanguageModel {
        guard let given = model ?? Self.defaultModelPath() else {
            throw CLIFailure(message: "no default model is installed yet: pass --model PATH.gguf")
        }
        let path = try Self.resolveCached(given)
        guard FileManager.default.fileExists(atPath: path) else {
            throw CLIFailure(message: "cannot read the model '\(path)': no such file")
        }
        do {
            let model = try LanguageModel(path: path, threads: threads)
            try configure(model, batchDefaults: batchDefaults)
            return model
        } catch let error as ModelError {
            throw CLIFailure(message: error.message)
        }
    }

    /// `OWNER/REPO[:QUANT]` names a model in the cache of `moecoder pull` (when no such file exists); anything
    /// else is a path.
    static func resolveCached(_ text: String) throws -> String {
        guard !FileManager.default.fileExists(atPath: text), ModelReference.looksLikeReference(text),
              let reference = try? ModelReference(parsing: text)
        else { return text }
        do {
            return try ModelCache(root: ModelCache.defaultRoot()).resolve(reference).path
        } catch let error as HubError {
            throw CLIFailure(message: "cannot read the model '\(text)': no such file, and as a pulled model: "
                + error.message)
        }
    }

    /// Applies --exact, --kv-type and --lora to a loaded model (before any cache is made).
    func configure(_ model: LanguageModel, batchDefaults: Bool = false) throws {
        if exact { model.transformer.activations = .exact }
        // Without --kv-type: f32 in exact mode (the reference), else f16 as llama.cpp keeps its cache (half the
        // bytes that decode attention reads a token: V2-Lite shape, 256-token prompt, 17.1 -> 18.0 tokens/s),
        // and q8_0 for the commands that decode many sequences at once.
        let fallback: TensorType = batchDefaults ? Self.batchKVType(model.config)
            : model.transformer.activations == .exact ? .f32 : .f16
        try model.transformer.setKVType(kvType.flatMap { Self.kvTypes[$0.lowercased()] } ?? fallback)
        if !lora.isEmpty {
            do {
                try model.transformer.setAdapters(try lora.map { try Self.adapter($0, config: model.config) })
            } catch let error as ModelError {
                throw CLIFailure(message: error.message)
            }
        }
    }

    /// "FILE[:SCALE]" → the adapter read for `config`'s model, at that scale.
    static func adapter(_ text: String, config: ModelConfig?) throws -> AdapterUse {
        var path = text, scale: Float = 1
        if let colon = text.lastIndex(of: ":"), !FileManager.default.fileExists(atPath: text) {
            let tail = text[text.index(after: colon)...]
            guard let value = Float(tail), value.isFinite else {
                throw CLIFailure(message: "--lora \(text): the scale '\(tail)' after the last ':' is not a number "
                                 + "(write FILE or FILE:SCALE, e.g. adapter.gguf:0.5)")
            }
            path = String(text[..<colon])
            scale = value
        }
        do {
            return AdapterUse(adapter: try LoRAAdapter.load(path: path, config: config), scale: scale)
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
