import Foundation
import Syntax

/// What a transform wants to change in one file: the edits, a short account of them, and the sites it saw but
/// left alone, with the reason.
public struct TransformPlan {
    public var edits: [SourceEdit] = []
    /// One short note per change ("count -> cnt", "swapped 2 imports", …).
    public var notes: [String] = []
    /// Reasons for leaving eligible-looking sites alone, with how often each occurred.
    public var skipped: [String: Int] = [:]

    mutating func skip(_ reason: String) { skipped[reason, default: 0] += 1 }
    mutating func add(_ edit: SourceEdit, note: String? = nil) {
        edits.append(edit)
        if let note { notes.append(note) }
    }
}

/// A semantics-preserving source transform of Python files.
public protocol PythonTransform: Sendable {
    /// The name used on the command line (`rename-locals`, …).
    var name: String { get }
    /// One line for `--list`.
    var summary: String { get }
    /// The edits for one file. Must only produce edits that keep the program's behaviour.
    func plan(_ file: PyFile, _ context: inout TransformContext) -> TransformPlan
}

/// The twelve transforms, in the order `--list` shows them.
public enum PythonTransforms {
    public static let all: [any PythonTransform] = [
        RenameLocals(), RenameParameters(), ReorderImports(), TypeAnnotations(), DocstringsAndComments(),
        Reformat(), LoopComprehension(), InvertIf(), ExtractLocal(), InlineLocal(), ReorderKeywordArguments(),
        ReorderStatements(),
    ]

    public static func named(_ name: String) -> (any PythonTransform)? { all.first { $0.name == name } }
}
