import Foundation
import GGUF
import Testing
import Tokenizer
@testable import Engine

/// The tokenizer a GGUF file describes: both tokenizer models, llama.cpp's defaults, and clear errors.
@Suite struct TokenizerLoadingTests {
    static let tokenizers = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tokenizers")

    func file(_ keys: [(String, GGUFValue)]) throws -> GGUFFile {
        let writer = GGUFWriter()
        for (key, value) in keys { writer.set(key, value) }
        return try GGUFFile(bytes: try writer.serialized())
    }

    /// The vocab-only GGUF of tools/make_tokenizer_fixtures.py, whose ids llama.cpp, SentencePiece and HF agree on.
    @Test func sentencePieceFileTokenizesLikeLlamaCpp() throws {
        let path = Self.tokenizers.appendingPathComponent("spm/vocab.gguf").path
        let tokenizer = try LanguageModel.tokenizer(from: try GGUFFile(path: path))
        #expect(tokenizer.model == .sentencePiece && tokenizer.addsSpacePrefix && tokenizer.addBOS)
        #expect(tokenizer.bos == 1 && tokenizer.eos == 2 && tokenizer.unknown == 0)
        let data = try Data(contentsOf: Self.tokenizers.appendingPathComponent("spm/expected.json"))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let checks = try #require(root["cross_checks"] as? [String: Any])
        let llama = try #require(checks["llama_cpp"] as? [String: Any])
        #expect(llama["agree"] as? Int == llama["compared"] as? Int)
        let entries = try #require(root["encode"] as? [[String: Any]])
        #expect(entries.count > 60)
        for entry in entries {
            let text = try #require(entry["text"] as? String)
            func ids(_ key: String) -> [Int32] { (entry[key] as? [Int] ?? []).map { Int32($0) } }
            #expect(tokenizer.encode(text) == ids("ids"), "\(text.debugDescription)")
            #expect(tokenizer.encode(text, addSpecial: true) == ids("ids_add_special"), "\(text.debugDescription)")
            #expect(tokenizer.encode(text, parseSpecial: false) == ids("ids_no_parse_special"), "\(text.debugDescription)")
        }
    }

    @Test func sentencePieceDefaultsAreLlamaCpps() throws {
        let tokens = ["<unk>", "<s>", "</s>", "▁", "a", "▁a"]
        let tokenizer = try LanguageModel.tokenizer(from: try file([
            ("tokenizer.ggml.model", .string("llama")), ("tokenizer.ggml.tokens", .array(tokens.map { .string($0) })),
            ("tokenizer.ggml.scores", .array(([0, 0, 0, -1, -2, -3] as [Float]).map { GGUFValue.float32($0) })),
        ]))
        #expect(tokenizer.bos == 1 && tokenizer.eos == 2 && tokenizer.unknown == 0)
        #expect(tokenizer.addBOS && tokenizer.addsSpacePrefix)
        #expect(tokenizer.encode("a", addSpecial: true) == [1, 5])
        let noPrefix = try LanguageModel.tokenizer(from: try file([
            ("tokenizer.ggml.model", .string("llama")), ("tokenizer.ggml.tokens", .array(tokens.map { .string($0) })),
            ("tokenizer.ggml.add_space_prefix", .bool(false)), ("tokenizer.ggml.add_bos_token", .bool(false)),
        ]))
        #expect(noPrefix.encode("a", addSpecial: true) == [4])
    }

    @Test func newPreTokenizersLoad() throws {
        for (name, family) in [("gpt-4o", PreTokenizer.gpt4o), ("deepseek-v3", .deepseekV3), ("glm4", .glm4),
                               ("qwen2", .qwen2), ("qwen35", .qwen35)] {
            let tokenizer = try LanguageModel.tokenizer(from: try file([
                ("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.pre", .string(name)),
                ("tokenizer.ggml.tokens", .array([.string("a"), .string("b"), .string("ab")])),
                ("tokenizer.ggml.merges", .array([.string("a b")])),
            ]))
            #expect(tokenizer.preTokenizer == family && tokenizer.model == .byteLevelBPE)
            #expect(tokenizer.encode("ab") == [2])
        }
    }

    @Test func unknownModelsAndPreTokenizersAreNamed() throws {
        func message(_ keys: [(String, GGUFValue)]) throws -> String? {
            do {
                _ = try LanguageModel.tokenizer(from: try file(keys + [("tokenizer.ggml.tokens", .array([.string("a")]))]))
                return nil
            } catch let error as ModelError {
                return error.message
            }
        }
        let model = try #require(try message([("tokenizer.ggml.model", .string("bert"))]))
        #expect(model.contains("'bert'") && model.contains("'gpt2'") && model.contains("'llama'"))
        let pre = try #require(try message([("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.pre", .string("tekken"))]))
        #expect(pre.contains("'tekken'") && pre.contains("gpt-4o") && pre.contains("deepseek-v3") && pre.contains("glm4"))
    }
}
