import Foundation
import Tokenizer

/// The golden fixtures written by tools/make_tokenizer_fixtures.py with HF `tokenizers`.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tokenizers")

    /// Byte-level BPE families (directory name = `PreTokenizer.rawValue`).
    static let families = ["gpt2", "llama3", "deepseek-llm", "deepseek-coder", "qwen2", "starcoder", "gpt-4o",
                           "deepseek-v3", "qwen35"]
    /// Families whose tokenizer.json NFC-normalizes (the GGUF path does not).
    static let normalizing: Set<String> = ["qwen2", "qwen35"]
    /// The SentencePiece-style fixture.
    static let sentencePiece = "spm"

    struct EncodeCase: Decodable {
        let text: String
        let ids: [Int32]
        let ids_add_special: [Int32]
        let ids_no_parse_special: [Int32]
        let decoded: String
        let decoded_skip_special: String
        /// The regex pieces (HF pre_tokenize_str before ByteLevel), for the newer families.
        let pieces: [String]?
    }

    struct DecodeCase: Decodable {
        let name: String
        let ids: [Int32]
        let text: String
    }

    struct Expected: Decodable {
        let encode: [EncodeCase]
        let decode: [DecodeCase]
    }

    static func tokenizerPath(_ family: String) -> String {
        directory.appendingPathComponent("\(family)/tokenizer.json").path
    }

    static func tokenizer(_ family: String) throws -> BPETokenizer {
        if family == sentencePiece { return try sentencePieceTokenizer() }
        return try BPETokenizer(tokenizerJSON: tokenizerPath(family))
    }

    /// The GGUF metadata of the SentencePiece fixture, as llama.cpp's converter writes it.
    struct SentencePieceVocabulary: Decodable {
        let tokens: [String]
        let scores: [Float]
        let token_type: [Int]
        let bos_token_id: Int32
        let eos_token_id: Int32
        let unknown_token_id: Int32
        let add_bos_token: Bool
        let add_space_prefix: Bool
    }

    static func sentencePieceVocabulary() throws -> SentencePieceVocabulary {
        let data = try Data(contentsOf: directory.appendingPathComponent("\(sentencePiece)/vocab.json"))
        return try JSONDecoder().decode(SentencePieceVocabulary.self, from: data)
    }

    static func sentencePieceTokenizer() throws -> BPETokenizer {
        let v = try sentencePieceVocabulary()
        return try BPETokenizer(sentencePieceTokens: v.tokens, scores: v.scores, tokenTypes: v.token_type,
                                bos: v.bos_token_id, eos: v.eos_token_id, unknown: v.unknown_token_id,
                                addBOS: v.add_bos_token, addSpacePrefix: v.add_space_prefix)
    }

    static func expected(_ family: String) throws -> Expected {
        let data = try Data(contentsOf: directory.appendingPathComponent("\(family)/expected.json"))
        return try JSONDecoder().decode(Expected.self, from: data)
    }

    static func corpus() throws -> [String] {
        let data = try Data(contentsOf: directory.appendingPathComponent("corpus.json"))
        return try JSONDecoder().decode([String].self, from: data)
    }
}
