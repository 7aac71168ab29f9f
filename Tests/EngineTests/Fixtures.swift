import Foundation
import Testing
@testable import Engine

/// The golden fixtures made by tools/make_fixtures.py: tiny random models as GGUF, with reference logits
/// and greedy continuations recorded from an independent implementation (see each file's "reference").
struct ModelFixture: CustomStringConvertible, Sendable {
    struct Prompt: Sendable { var tokens: [Int32]; var logits: [[Float]] }
    struct Greedy: Sendable { var prompt: [Int32]; var continuation: [Int32] }

    var name: String
    var architecture: String
    var reference: String
    var gguf: String
    var prompts: [Prompt]
    var greedy: [Greedy]
    var variants: [String: String]
    /// Only quantized variants are kept (no F32 file, no transformers logits).
    var quantizedOnly = false

    var description: String { name }

    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/models")

    /// Fixtures with an F32 model and its reference logits.
    static func all() -> [ModelFixture] { everything().filter { !$0.quantizedOnly } }

    /// Fixtures with quantized variants compared with llama.cpp (the quant zoo keeps only its variants).
    static func withVariants() -> [ModelFixture] { everything().filter { !$0.variants.isEmpty } }

    static func everything() -> [ModelFixture] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return files.filter { $0.hasSuffix(".json") && !$0.hasSuffix(".reference.json") }.sorted().compactMap { load($0) }
    }

    static func load(_ file: String) -> ModelFixture? {
        guard let data = try? Data(contentsOf: folder.appendingPathComponent(file)),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let name = json["name"] as? String else { return nil }
        func ints(_ any: Any?) -> [Int32] { (any as? [NSNumber] ?? []).map { $0.int32Value } }
        let prompts = (json["prompts"] as? [[String: Any]] ?? []).map { p in
            Prompt(tokens: ints(p["tokens"]),
                   logits: (p["logits"] as? [[NSNumber]] ?? []).map { $0.map(\.floatValue) })
        }
        let greedy = (json["greedy"] as? [[String: Any]] ?? []).map {
            Greedy(prompt: ints($0["prompt"]), continuation: ints($0["continuation"]))
        }
        let gguf = (json["gguf"] as? String) ?? "\(name).gguf"
        return ModelFixture(name: name, architecture: json["architecture"] as? String ?? "?",
                            reference: json["reference"] as? String ?? "?", gguf: gguf, prompts: prompts,
                            greedy: greedy, variants: json["variants"] as? [String: String] ?? [:],
                            quantizedOnly: json["quantized_only"] as? Bool ?? false)
    }

    /// llama.cpp's logits for a variant file, from `<file>.reference.json`.
    static func referencePrompts(for file: String) -> [Prompt]? {
        let url = folder.appendingPathComponent(file.replacingOccurrences(of: ".gguf", with: ".reference.json"))
        guard let data = try? Data(contentsOf: url),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let prompts = json["prompts"] as? [[String: Any]] else { return nil }
        return prompts.map { p in
            Prompt(tokens: (p["tokens"] as? [NSNumber] ?? []).map(\.int32Value),
                   logits: (p["logits"] as? [[NSNumber]] ?? []).map { $0.map(\.floatValue) })
        }
    }

    func path(_ file: String? = nil) -> String { ModelFixture.folder.appendingPathComponent(file ?? gguf).path }
}
