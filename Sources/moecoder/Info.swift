import ArgumentParser
import Engine
import Foundation

/// `moecoder info`: what a model file holds.
struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a model: architecture, hyper-parameters, vocabulary, tensor types and sizes.")

    @OptionGroup var modelOptions: ModelOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let model = try modelOptions.load()
        let c = model.config
        let params = model.parameterCounts
        let fileBytes = model.transformer.file.fileSize
        let tokenizer = model.tokenizer
        if json {
            let object: [String: Any] = [
                "path": model.path, "architecture": c.architecture.rawValue, "name": c.name.map { $0 as Any } ?? NSNull(),
                "n_vocab": c.vocabularySize, "n_ctx": c.contextLength, "n_embd": c.embeddingLength,
                "n_layer": c.blockCount, "n_head": c.headCount, "n_head_kv": c.headCountKV,
                "n_ff": c.feedForwardLength, "head_dim_k": c.keyLength, "head_dim_v": c.valueLength,
                "rms_eps": c.rmsEpsilon, "rope": ["type": c.rope.type.rawValue, "base": c.rope.base,
                                                  "dims": c.rope.dimensions, "scaling": c.rope.scaling.rawValue,
                                                  "factor": c.rope.factor],
                "n_expert": c.expertCount, "n_expert_used": c.expertUsedCount, "n_ff_expert": c.expertFeedForwardLength,
                "n_expert_shared": c.sharedExpertCount, "n_layer_dense_lead": c.leadingDenseBlockCount,
                "q_lora_rank": c.qLoraRank, "kv_lora_rank": c.kvLoraRank,
                "parameters": params.total, "active_parameters": params.active, "file_bytes": fileBytes,
                "tensor_types": Dictionary(uniqueKeysWithValues: model.tensorTypes.map {
                    ($0.type, ["count": $0.count, "bytes": $0.bytes])
                }),
                "tokenizer": ["bos": tokenizer.bos.map { Int($0) as Any } ?? NSNull(), "eos": tokenizer.eos.map { Int($0) as Any } ?? NSNull(),
                              "fim": tokenizer.fim != nil],
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("model       \(model.path)")
        if let name = c.name { print("name        \(name)") }
        for (key, value) in c.summary { print(key.padding(toLength: 14, withPad: " ", startingAt: 0) + value) }
        print(String(format: "parameters  %.2f M (%.2f M active per token)", Double(params.total) / 1e6, Double(params.active) / 1e6))
        print(String(format: "file        %.1f MB", Double(fileBytes) / 1_048_576))
        for t in model.tensorTypes {
            print(String(format: "  %-6@ %4d tensors, %.1f MB", t.type, t.count, Double(t.bytes) / 1_048_576))
        }
        print("tokenizer   bos \(tokenizer.bos.map(String.init) ?? "-"), eos \(tokenizer.eos.map(String.init) ?? "-"), "
              + "fill-in-the-middle \(tokenizer.fim != nil ? "yes" : "no")")
    }
}
