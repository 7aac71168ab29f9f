import Foundation
import Tokenizer

/// The golden fixtures written by tools/make_tokenizer_fixtures.py with HF `tokenizers`.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tokenizers")

    static let families = ["gpt2", "llama3", "deepseek-llm", "deepseek-coder", "qwen2", "starcoder"]

    struct EncodeCase: Decodable {
        let text: String
        let ids: [Int32]
        let ids_add_special: [Int32]
        let ids_no_parse_special: [Int32]
        let decoded: String
        let decoded_skip_special: String
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
        try BPETokenizer(tokenizerJSON: tokenizerPath(family))
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
