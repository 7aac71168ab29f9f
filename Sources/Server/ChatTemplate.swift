import Engine
import Foundation
import Jinja
import Tokenizer

/// How chat messages become a prompt: the GGUF's `tokenizer.chat_template` run by the Jinja interpreter (as
/// transformers' apply_chat_template does: bos_token/eos_token from the tokenizer, add_generation_prompt true), or,
/// when the file has no template or it fails to parse or render, the built-in layout its markers point to.
public final class ChatFormatter: Sendable {
    /// The built-in layout: the fallback, and where the end-of-turn texts of well-known formats come from.
    public let layout: ChatTemplate
    let renderer: ChatTemplateRenderer?
    let bosText: String?
    let eosText: String?
    /// Whether the built-in layouts start with BOS (the tokenizer's add_bos_token).
    let addBOS: Bool
    /// Texts that end the assistant's turn when the Jinja template renders the prompt.
    let jinjaStops: [String]
    private let log: @Sendable (String) -> Void
    private let warned = WarnOnce()

    /// "jinja" when the model's template is used, else the built-in layout's name.
    public var name: String { renderer != nil ? "jinja" : layout.rawValue }

    /// Texts that commonly end a turn; those the template writes are stops for the Jinja path.
    static let endOfTurnMarkers = ["<|im_end|>", "<|eot_id|>", "<｜end▁of▁sentence｜>", "<|return|>", "<|call|>",
                                   "<|user|>", "<|observation|>", "<|endoftext|>", "<end_of_turn>", "<|end_of_text|>"]

    /// `log` gets one line when the template cannot be used (once per reason).
    public init(template: String?, tokenizer: BPETokenizer, log: @escaping @Sendable (String) -> Void = { _ in }) {
        layout = ChatTemplate.detect(template: template, tokenizer: tokenizer)
        bosText = tokenizer.bos.flatMap { tokenizer.token(of: $0) }
        eosText = tokenizer.eos.flatMap { tokenizer.token(of: $0) }
        addBOS = tokenizer.addBOS
        self.log = log
        var renderer: ChatTemplateRenderer?
        var stops: [String] = []
        if let template, !template.isEmpty {
            do {
                renderer = try ChatTemplateRenderer(source: template)
            } catch {
                log("the model's chat template cannot be parsed (\(error)); using the built-in '\(layout.rawValue)' layout")
            }
            if ChatTemplate.recognises(template) { stops = layout.stops }
            for marker in Self.endOfTurnMarkers where template.contains(marker) && !stops.contains(marker) {
                stops.append(marker)
            }
        }
        if let eosText, !stops.contains(eosText) { stops.append(eosText) }
        self.renderer = renderer
        jinjaStops = stops
    }

    /// The prompt text (special tokens written out, to be encoded with special-token parsing, without adding BOS)
    /// and the texts that end the assistant's turn.
    public func render(_ messages: [ChatTemplate.Message]) -> (text: String, stops: [String]) {
        if let renderer {
            do {
                let text = try renderer.render(
                    messages: messages.map { ChatTemplateRenderer.Message(role: $0.role, content: $0.content) },
                    addGenerationPrompt: true, bosToken: bosText, eosToken: eosText)
                return (text, jinjaStops)
            } catch {
                if warned.first("render") {
                    log("the model's chat template failed to render (\(error)); using the built-in '\(layout.rawValue)' layout")
                }
            }
        }
        return layout.render(messages, bos: addBOS ? bosText : nil)
    }
}

/// Remembers which warnings were given.
final class WarnOnce: @unchecked Sendable {
    private let lock = NSLock()
    private var given: Set<String> = []

    func first(_ key: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return given.insert(key).inserted
    }
}

/// The built-in prompt layouts. A `tokenizer.chat_template` is recognised by its markers; files without one get
/// ChatML when the vocabulary has its tokens, else a plain "User:/Assistant:" transcript.
public enum ChatTemplate: String, Sendable, CaseIterable {
    case chatml, llama3, deepseek3, deepseek2, plain

    public static func detect(template: String?, tokenizer: BPETokenizer) -> ChatTemplate {
        if let template, let layout = fromMarkers(template) { return layout }
        if tokenizer.id(of: "<|im_start|>") != nil && tokenizer.id(of: "<|im_end|>") != nil { return .chatml }
        return .plain
    }

    static func fromMarkers(_ template: String) -> ChatTemplate? {
        if template.contains("<|im_start|>") { return .chatml }
        if template.contains("<|start_header_id|>") { return .llama3 }
        if template.contains("<｜User｜>") { return .deepseek3 }
        if template.contains("User: ") && template.contains("Assistant:") { return .deepseek2 }
        return nil
    }

    /// Whether a template's markers name one of the built-in layouts.
    static func recognises(_ template: String) -> Bool { fromMarkers(template) != nil }

    /// The texts that end the assistant's turn in this layout.
    public var stops: [String] { render([], bos: nil).stops }

    public struct Message: Sendable {
        public var role: String
        public var content: String
        public init(role: String, content: String) {
            self.role = role
            self.content = content
        }
    }

    /// The prompt text (special tokens written out, to be encoded with special-token parsing) and the texts
    /// that end the assistant's turn.
    public func render(_ messages: [Message], bos: String?) -> (text: String, stops: [String]) {
        var text = ""
        switch self {
        case .chatml:
            for m in messages { text += "<|im_start|>\(m.role)\n\(m.content)<|im_end|>\n" }
            return (text + "<|im_start|>assistant\n", ["<|im_end|>"])
        case .llama3:
            text = bos ?? "<|begin_of_text|>"
            for m in messages { text += "<|start_header_id|>\(m.role)<|end_header_id|>\n\n\(m.content)<|eot_id|>" }
            return (text + "<|start_header_id|>assistant<|end_header_id|>\n\n", ["<|eot_id|>"])
        case .deepseek3:
            text = bos ?? ""
            for m in messages where m.role == "system" { text += m.content }
            for m in messages where m.role != "system" {
                text += m.role == "assistant" ? "<｜Assistant｜>\(m.content)<｜end▁of▁sentence｜>" : "<｜User｜>\(m.content)"
            }
            return (text + "<｜Assistant｜>", ["<｜end▁of▁sentence｜>"])
        case .deepseek2:
            text = bos ?? ""
            for m in messages where m.role == "system" { text += m.content + "\n\n" }
            for m in messages where m.role != "system" {
                text += m.role == "assistant" ? "Assistant: \(m.content)<｜end▁of▁sentence｜>" : "User: \(m.content)\n\n"
            }
            return (text + "Assistant:", ["<｜end▁of▁sentence｜>", "\nUser:"])
        case .plain:
            for m in messages {
                switch m.role {
                case "system": text += m.content + "\n\n"
                case "assistant": text += "Assistant: \(m.content)\n"
                default: text += "User: \(m.content)\n"
                }
            }
            return (text + "Assistant:", ["\nUser:"])
        }
    }
}
