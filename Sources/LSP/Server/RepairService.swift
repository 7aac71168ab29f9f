import Engine
import Foundation
import Assist
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

/// Repairs for a broken file, best first.
public protocol RepairService: Sendable {
    func repairs(source: String, language: Language, path: String?, limit: Int,
                 cancellation: CancellationFlag) throws -> [RepairCandidate]
}

/// Quick fixes from Assist's repair (`SyntaxQuickFixes`): edits after which the buffer parses.
public struct AssistRepairService: RepairService {
    public init() {}

    public func repairs(source: String, language: Language, path: String?, limit: Int,
                        cancellation: CancellationFlag) throws -> [RepairCandidate] {
        guard !cancellation.isCancelled else { return [] }
        return try SyntaxQuickFixes.fixes(for: source, language: language, limit: limit).map { patch in
            let edit = Assist.TextEdit.between(source, patch.source)
            return RepairCandidate(title: patch.rationale,
                                   edits: [ByteEdit(range: edit.startByte..<edit.endByte, replacement: edit.replacement)],
                                   rationale: patch.rationale)
        }
    }
}
