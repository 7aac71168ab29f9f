import Foundation
import Testing
@testable import Jinja

/// The chat templates of the models issue 17 lists, rendered for a set of conversations and compared byte for byte
/// with Python's Jinja2 3.1.6 as transformers renders them (goldens made by tools/make_chat_fixtures.py).
struct ChatTemplateGoldenTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/chat")

    static let templates = ["qwen3-coder", "glm-4.7-flash", "deepseek-coder-v2-lite-instruct", "gpt-oss"]

    struct Golden {
        var template: String
        var bos: String?
        var eos: String?
        var now: Date
        var cases: [(name: String, addGenerationPrompt: Bool, messages: Value, expected: String?, error: String?)]
    }

    static func load(_ name: String) throws -> Golden {
        let data = try Data(contentsOf: fixtures.appendingPathComponent("\(name).json"))
        guard case .dict(let root) = try Value.parseJSON(String(decoding: data, as: UTF8.self)),
              case .string(let templatePath)? = root["template"], case .array(let cases)? = root["cases"],
              case .int(let epoch)? = root["now_epoch"] else {
            throw TemplateError(kind: .runtime, message: "malformed golden file \(name).json", position: nil)
        }
        let source = try String(contentsOf: fixtures.appendingPathComponent(templatePath), encoding: .utf8)
        func string(_ v: Value?) -> String? { if case .string(let s)? = v { return s } else { return nil } }
        return Golden(
            template: source, bos: string(root["bos_token"]), eos: string(root["eos_token"]),
            now: Date(timeIntervalSince1970: TimeInterval(epoch)),
            cases: cases.compactMap { c in
                guard case .dict(let d) = c else { return nil }
                return (string(d["name"]) ?? "?", d["add_generation_prompt"]?.truthy ?? false, d["messages"] ?? .array([]),
                        string(d["expected"]), string(d["error"]))
            })
    }

    @Test(arguments: templates)
    func rendersLikeJinja2(_ name: String) throws {
        let golden = try Self.load(name)
        #expect(golden.cases.count >= 16, "\(name): too few golden cases")
        let template = try Template(golden.template)
        let utc = TimeZone(identifier: "UTC")!
        for c in golden.cases {
            var context: [String: Value] = ["messages": c.messages, "tools": .none, "documents": .none,
                                            "add_generation_prompt": .bool(c.addGenerationPrompt)]
            if let bos = golden.bos { context["bos_token"] = .string(bos) }
            if let eos = golden.eos { context["eos_token"] = .string(eos) }
            if let expected = c.expected {
                let output = try template.render(context, now: golden.now, timeZone: utc)
                expectSameBytes(output, expected, "\(name) \(c.name)")
            } else {
                #expect(throws: TemplateError.self, "\(name) \(c.name) should raise") {
                    try template.render(context, now: golden.now, timeZone: utc)
                }
                do {
                    _ = try template.render(context, now: golden.now, timeZone: utc)
                } catch let error as TemplateError {
                    #expect(error.kind == .raised)
                    #expect(error.message == c.error, "\(name) \(c.name)")
                }
            }
        }
    }

    /// The renderer the server and `moecoder chat` use gives the same text as the golden for the plain case.
    @Test func chatRendererMatchesGolden() throws {
        let golden = try Self.load("qwen3-coder")
        let c = try #require(golden.cases.first { $0.name == "multi_turn/gen" })
        guard case .array(let items) = c.messages else { Issue.record("messages"); return }
        let messages = items.compactMap { item -> ChatTemplateRenderer.Message? in
            guard case .dict(let d) = item, case .string(let role)? = d["role"], case .string(let content)? = d["content"]
            else { return nil }
            return ChatTemplateRenderer.Message(role: role, content: content)
        }
        let renderer = try ChatTemplateRenderer(source: golden.template)
        let text = try renderer.render(messages: messages, addGenerationPrompt: true, bosToken: golden.bos, eosToken: golden.eos)
        #expect(text == c.expected)
    }
}
