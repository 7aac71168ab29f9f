import Foundation

/// A candidate repair: the whole patched source, the one byte range it replaces, and why it was proposed.
public struct Patch: Sendable, Hashable {
    /// Where a patch came from.
    public enum Origin: String, Sendable, Codable {
        /// An edit that makes a file with syntax errors parse.
        case syntax
        /// A mutation operator applied at a suspicious statement.
        case mutation
        /// The model's rewrite of a suspicious line.
        case model
    }

    public var source: String
    public var origin: Origin
    /// The operator's name (`comparison`, `off-by-one`, `close-bracket`, …).
    public var operatorName: String
    /// One line saying what the patch changes.
    public var rationale: String
    /// The 1-based line the patch was made at.
    public var line: Int
    /// Edit size: characters removed plus characters inserted (an indentation change counts 1; removed code
    /// counts double, since deleting what the user wrote is the least likely intent).
    public var cost: Int
    /// Suspiciousness of the patched line (0 for syntax repairs), used to order equally small patches.
    public var suspiciousness: Double = 0
    /// Mean log-probability per token when the model wrote the patch.
    public var modelLogProbability: Double?

    public init(source: String, origin: Origin, operatorName: String, rationale: String, line: Int, cost: Int) {
        self.source = source
        self.origin = origin
        self.operatorName = operatorName
        self.rationale = rationale
        self.line = line
        self.cost = cost
    }
}

/// A replacement of a byte range of a UTF-8 text.
public struct TextEdit: Sendable, Hashable, Codable {
    public var startByte: Int
    public var endByte: Int
    public var replacement: String

    public init(startByte: Int, endByte: Int, replacement: String) {
        self.startByte = startByte
        self.endByte = endByte
        self.replacement = replacement
    }

    enum CodingKeys: String, CodingKey {
        case startByte = "start_byte", endByte = "end_byte", replacement
    }

    /// The text with the edit applied.
    public func apply(to text: String) -> String {
        var bytes = Array(text.utf8)
        bytes.replaceSubrange(startByte..<endByte, with: Array(replacement.utf8))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The smallest single edit that turns `old` into `new` (common prefix and suffix trimmed, kept on
    /// character boundaries).
    public static func between(_ old: String, _ new: String) -> TextEdit {
        let a = Array(old.utf8), b = Array(new.utf8)
        var prefix = 0
        while prefix < a.count, prefix < b.count, a[prefix] == b[prefix] { prefix += 1 }
        while prefix > 0, prefix < a.count, a[prefix] & 0xC0 == 0x80 { prefix -= 1 }
        var suffix = 0
        while suffix < a.count - prefix, suffix < b.count - prefix, a[a.count - 1 - suffix] == b[b.count - 1 - suffix] {
            suffix += 1
        }
        while suffix > 0, a.count - suffix < a.count, a[a.count - suffix] & 0xC0 == 0x80 { suffix -= 1 }
        return TextEdit(startByte: prefix, endByte: a.count - suffix,
                        replacement: String(decoding: b[prefix..<(b.count - suffix)], as: UTF8.self))
    }

    /// Edit size of replacing `old` by `new`: characters changed once the common ends are trimmed; removed
    /// characters count double, and a change of white space only counts 1.
    public static func cost(replacing old: String, with new: String) -> Int {
        let a = Array(old), b = Array(new)
        var prefix = 0
        while prefix < a.count, prefix < b.count, a[prefix] == b[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < a.count - prefix, suffix < b.count - prefix, a[a.count - 1 - suffix] == b[b.count - 1 - suffix] {
            suffix += 1
        }
        let removed = a[prefix..<(a.count - suffix)], inserted = b[prefix..<(b.count - suffix)]
        if (removed + inserted).allSatisfy({ $0 == " " || $0 == "\t" }) { return removed.isEmpty && inserted.isEmpty ? 0 : 1 }
        return 2 * removed.count + inserted.count
    }
}
