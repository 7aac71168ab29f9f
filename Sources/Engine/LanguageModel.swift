import Foundation
import GGUF
import Kernels
import Tokenizer

/// A model file opened for use: its transformer and its tokenizer.
public final class LanguageModel: @unchecked Sendable {
    public let path: String
    public let transformer: Transformer
    public let tokenizer: BPETokenizer
    public var config: ModelConfig { transformer.config }

    /// Opens a GGUF model; `threads` workers run the matrix products.
    public init(path: String, threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws {
        let file: GGUFFile
        do { file = try GGUFFile(path: path) } catch let error as GGUFError {
            throw ModelError("\(path): \(error.message)")
        }
        self.path = path
        transformer = try Transformer(file: file, threads: threads)
        do { tokenizer = try LanguageModel.tokenizer(from: file) } catch let error as TokenizerError {
            throw ModelError("\(path): the tokenizer is invalid: \(error)")
        }
    }

    /// The tokenizer described by the file's `tokenizer.ggml.*` keys: byte-level BPE (`model` "gpt2") or
    /// SentencePiece-style (`model` "llama"), with llama.cpp's defaults for keys the file leaves out.
    public static func tokenizer(from file: GGUFFile) throws -> BPETokenizer {
        let meta = file.metadata
        let modelName = meta["tokenizer.ggml.model"]?.string ?? "(none)"
        guard let model = TokenizerModel(rawValue: modelName) else {
            throw ModelError("tokenizer model '\(modelName)' is not supported; supported: "
                             + "'gpt2' (byte-level BPE: DeepSeek, Qwen, Llama 3, GLM-4, gpt-oss, StarCoder) and "
                             + "'llama' (SentencePiece: Llama 2, Mistral, Mixtral, CodeLlama)")
        }
        guard let tokens = meta["tokenizer.ggml.tokens"]?.strings else {
            throw ModelError("the file has no tokenizer.ggml.tokens")
        }
        func id(_ key: String) -> Int32? { meta["tokenizer.ggml.\(key)"]?.int.map { Int32($0) } }
        if model == .sentencePiece {
            if let value = meta["tokenizer.ggml.scores"], value.floats == nil {
                throw ModelError("tokenizer.ggml.scores is not an array of numbers")
            }
            // llama.cpp's defaults for SentencePiece vocabularies: <unk> 0, <s> 1, </s> 2, BOS added, space prefix.
            func special(_ key: String, _ fallback: Int32) -> Int32? {
                let value = id(key) ?? fallback
                return value >= 0 && Int(value) < tokens.count ? value : nil
            }
            return try BPETokenizer(
                sentencePieceTokens: tokens, scores: meta["tokenizer.ggml.scores"]?.floats,
                tokenTypes: meta["tokenizer.ggml.token_type"]?.ints,
                bos: special("bos_token_id", 1), eos: special("eos_token_id", 2), unknown: special("unknown_token_id", 0),
                addBOS: meta["tokenizer.ggml.add_bos_token"]?.bool ?? true,
                addEOS: meta["tokenizer.ggml.add_eos_token"]?.bool ?? false,
                addSpacePrefix: meta["tokenizer.ggml.add_space_prefix"]?.bool ?? true)
        }
        let preName = meta["tokenizer.ggml.pre"]?.string ?? "default"
        guard let pre = PreTokenizer(ggufName: preName) else {
            throw ModelError("pre-tokenizer '\(preName)' is not supported; supported: "
                             + PreTokenizer.ggufNames.flatMap(\.names).joined(separator: ", "))
        }
        return try BPETokenizer(
            tokens: tokens, merges: meta["tokenizer.ggml.merges"]?.strings ?? [],
            tokenTypes: meta["tokenizer.ggml.token_type"]?.ints, preTokenizer: pre,
            bos: id("bos_token_id"), eos: id("eos_token_id"),
            addBOS: meta["tokenizer.ggml.add_bos_token"]?.bool ?? false,
            addEOS: meta["tokenizer.ggml.add_eos_token"]?.bool ?? false)
    }

    /// Tensor types by count, for `info`.
    public var tensorTypes: [(type: String, count: Int, bytes: Int)] {
        var table: [String: (Int, Int)] = [:]
        for t in transformer.file.tensors {
            let entry = table[t.type.name] ?? (0, 0)
            table[t.type.name] = (entry.0 + 1, entry.1 + t.byteCount)
        }
        return table.map { ($0.key, $0.value.0, $0.value.1) }.sorted { $0.bytes > $1.bytes }
    }

    /// Parameters in the file, and those one token uses (shared weights plus `expert_used_count` experts).
    public var parameterCounts: (total: Int, active: Int) {
        var total = 0, active = 0
        let c = config
        for t in transformer.file.tensors {
            total += t.elementCount
            if t.name.contains("_exps."), c.expertCount > 0 {
                active += t.elementCount / c.expertCount * c.expertUsedCount
            } else if t.name == "token_embd.weight" {
                active += t.elementCount / max(1, c.vocabularySize)   // one row is looked up
                if transformer.file.tensor("output.weight") == nil { active += t.elementCount }
            } else {
                active += t.elementCount
            }
        }
        return (total, active)
    }
}
