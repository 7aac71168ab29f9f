import Engine
import Tokenizer

/// How chat messages become a prompt. The GGUF's `tokenizer.chat_template` (a Jinja program) is recognised by
/// its markers and rendered by the matching built-in layout; files without one get ChatML when the vocabulary
/// has its tokens, else a plain "User:/Assistant:" transcript.
public enum ChatTemplate: String, Sendable, CaseIterable {
    case chatml, llama3, deepseek3, deepseek2, plain

    public static func detect(template: String?, tokenizer: BPETokenizer) -> ChatTemplate {
        if let template {
            if template.contains("<|im_start|>") { return .chatml }
            if template.contains("<|start_header_id|>") { return .llama3 }
            if template.contains("<｜User｜>") { return .deepseek3 }
            if template.contains("User: ") && template.contains("Assistant:") { return .deepseek2 }
        }
        if tokenizer.id(of: "<|im_start|>") != nil && tokenizer.id(of: "<|im_end|>") != nil { return .chatml }
        return .plain
    }

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
