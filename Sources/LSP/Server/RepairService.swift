import Engine
import Foundation
import Syntax

/// One replacement in a document, by UTF-8 byte range of the text it was computed on.
public struct ByteEdit: Sendable, Equatable {
    public var range: Range<Int>
    public var replacement: String

    public init(range: Range<Int>, replacement: String) {
        self.range = range
        self.replacement = replacement
    }
}

/// A ranked fix for a file: a title for the quick-fix menu and the edits that apply it.
public struct RepairCandidate: Sendable, Equatable {
    public var title: String
    public var edits: [ByteEdit]
    /// Why this fix, for the menu's tooltip or a log.
    public var rationale: String

    public init(title: String, edits: [ByteEdit], rationale: String) {
        self.title = title
        self.edits = edits
        self.rationale = rationale
    }
}

/// Repairs for a broken file, best first. `moecoder repair` (Assist/Repair) will provide the real one; until
/// it lands, `SyntaxRepairCandidates` stands in.
public protocol RepairService: Sendable {
    func repairs(source: String, language: Language, path: String?, limit: Int,
                 cancellation: CancellationFlag) throws -> [RepairCandidate]
}

/// TODO(repair): interim stand-in for Assist's repair until Sources/Assist/Repair lands; then this file goes
/// and `RepairService` wraps repair's API. It tries small edits around the first syntax errors (insert a
/// closing bracket or colon, delete the unexpected token, comment out or delete the line), keeps those after
/// which the file has fewer syntax errors, and ranks them by errors left, then by edit size.
public struct SyntaxRepairCandidates: RepairService {
    public init() {}

    public func repairs(source: String, language: Language, path: String?, limit: Int,
                        cancellation: CancellationFlag) throws -> [RepairCandidate] {
        let parser = try Parser(language: language)
        let text = SourceText(source)
        let errors = try parser.parse(text).syntaxErrors(limit: 3)
        guard !errors.isEmpty else { return [] }
        let before = try parser.parse(text).syntaxErrors().count
        var scored: [(candidate: RepairCandidate, errors: Int, size: Int, order: Int)] = []
        var seen: Set<[UInt8]> = []
        for candidate in errors.flatMap({ Self.proposals(for: $0, in: text, language: language) }) {
            if cancellation.isCancelled { return [] }
            var fixed = text
            for edit in candidate.edits.sorted(by: { $0.range.lowerBound > $1.range.lowerBound }) {
                fixed.replace(edit.range, with: Array(edit.replacement.utf8))
            }
            guard seen.insert(fixed.bytes).inserted else { continue }
            let left = try parser.parse(fixed).syntaxErrors().count
            guard left < before else { continue }
            let size = candidate.edits.reduce(0) { $0 + $1.range.count + $1.replacement.utf8.count }
            scored.append((candidate, left, size, scored.count))
        }
        // Ties keep the order proposed: line ends before mid-line positions.
        return scored.sorted { ($0.errors, $0.size, $0.order) < ($1.errors, $1.size, $1.order) }.prefix(limit)
            .map(\.candidate)
    }

    static func proposals(for error: SyntaxDiagnostic, in text: SourceText, language: Language) -> [RepairCandidate] {
        var out: [RepairCandidate] = []
        let at = error.start.byteOffset
        let line = text.lineIndex(ofByte: min(at, max(0, text.count - 1)))
        let lineEnd = text.lineEnd(line)
        var previous = line - 1
        while previous > 0, text.text(text.lineStarts[previous]..<text.lineEnd(previous)).allSatisfy(\.isWhitespace) {
            previous -= 1
        }
        let previousEnd = previous >= 0 ? text.lineEnd(previous) : lineEnd
        if error.kind == .missing, let token = Self.quoted(error.message) {
            out.append(.init(title: "Insert '\(token)' at \(error.start)", edits: [.init(range: at..<at, replacement: token)],
                             rationale: "the parser expected '\(token)' here"))
        }
        for closer in [")", "]", "}", ":"] {
            for (offset, place) in [(previousEnd, "the end of line \(previous + 1)"),
                                    (lineEnd, "the end of line \(line + 1)"), (at, "\(error.start)")] {
                out.append(.init(title: "Insert '\(closer)' at \(place)", edits: [.init(range: offset..<offset,
                                                                                       replacement: closer)],
                                 rationale: "an unclosed construct before the error"))
            }
        }
        if error.kind == .error, let token = Self.quoted(error.message), !token.hasSuffix("…"),
           text.text(at..<min(text.count, at + token.utf8.count)) == token {
            out.append(.init(title: "Delete '\(token)' at \(error.start)",
                             edits: [.init(range: at..<(at + token.utf8.count), replacement: "")],
                             rationale: "the parser could not place this token"))
        }
        // The line of the error, and the line before it (where an unclosed construct often starts).
        for index in Set([line, max(0, previous)]).sorted() {
            let start = text.lineStarts[index], end = text.lineEnd(index)
            let indent = text.text(start..<end).prefix { $0 == " " || $0 == "\t" }
            let comment = language.name == "python" ? "# " : "// "
            let afterIndent = start + indent.utf8.count
            out.append(.init(title: "Comment out line \(index + 1)",
                             edits: [.init(range: afterIndent..<afterIndent, replacement: comment)],
                             rationale: "keep the broken line as a comment"))
            out.append(.init(title: "Delete line \(index + 1)",
                             edits: [.init(range: start..<min(text.count, end + 1), replacement: "")],
                             rationale: "drop the broken line"))
        }
        return out
    }

    /// The text between the first and last single quote of a diagnostic message (`missing ')'` → `)`).
    static func quoted(_ message: String) -> String? {
        guard let first = message.firstIndex(of: "'"), let last = message.lastIndex(of: "'"), first < last else {
            return nil
        }
        let inner = String(message[message.index(after: first)..<last])
        return inner.isEmpty || inner.contains("\\") ? nil : inner
    }
}
