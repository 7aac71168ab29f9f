import Foundation

/// `OWNER/REPO[:QUANT]`, the way a user names a model on the Hugging Face hub (`QUANT` may also be a file name).
public struct ModelReference: Equatable, Sendable, CustomStringConvertible {
    public var owner: String
    public var repo: String
    public var quant: String?

    public init(owner: String, repo: String, quant: String? = nil) {
        self.owner = owner
        self.repo = repo
        self.quant = quant
    }

    /// Parses `OWNER/REPO[:QUANT]`; a leading `https://huggingface.co/` or `hf.co/` is accepted too.
    public init(parsing text: String) throws {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        for prefix in ["https://", "http://"] where rest.hasPrefix(prefix) { rest = rest.dropFirst(prefix.count) }
        for prefix in ["huggingface.co/", "hf.co/"] where rest.hasPrefix(prefix) { rest = rest.dropFirst(prefix.count) }
        var quant: String?
        if let colon = rest.lastIndex(of: ":") {
            quant = String(rest[rest.index(after: colon)...])
            rest = rest[..<colon]
            if quant!.isEmpty { quant = nil }
        }
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, Self.isName(parts[0]), Self.isName(parts[1]) else {
            throw HubError("'\(text)' is not a model name: expected OWNER/REPO or OWNER/REPO:QUANT "
                + "(for example unsloth/Qwen3-Coder-30B-A3B-Instruct-GGUF:Q4_K_M)")
        }
        if let quant, quant.contains("..") || quant.hasPrefix("/") {
            throw HubError("'\(quant)' is not a quant type or file name")
        }
        self.init(owner: String(parts[0]), repo: String(parts[1]), quant: quant)
    }

    /// Whether `text` looks like `OWNER/REPO[:QUANT]` rather than a path (used by `--model`).
    public static func looksLikeReference(_ text: String) -> Bool {
        !text.lowercased().hasSuffix(".gguf") && !text.hasPrefix("/") && !text.hasPrefix(".")
            && (try? ModelReference(parsing: text)) != nil
    }

    /// Hub names: letters, digits, `-`, `_`, `.`; never `.` or `..` alone (they become folder names in the cache).
    static func isName(_ part: Substring) -> Bool {
        !part.isEmpty && part != "." && part != ".." && part.count <= 96
            && part.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
    }

    public var id: String { "\(owner)/\(repo)" }
    public var description: String { quant.map { "\(id):\($0)" } ?? id }
}
