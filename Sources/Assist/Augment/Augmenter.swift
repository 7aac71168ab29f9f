import Foundation
import Syntax

/// What one transform did to one file copy.
public struct AppliedTransform: Codable, Sendable {
    public var transform: String
    /// Edits made (renames count each occurrence).
    public var changes: Int
    public var notes: [String]
    /// Sites the transform looked at but left alone, by reason.
    public var skippedSites: [String: Int]

    enum CodingKeys: String, CodingKey { case transform, changes, notes, skippedSites = "skipped_sites" }
}

/// A transform that changed nothing in a file copy, and why.
public struct SkippedTransform: Codable, Sendable {
    public var transform: String
    public var reason: String
    public var skippedSites: [String: Int]

    enum CodingKeys: String, CodingKey { case transform, reason, skippedSites = "skipped_sites" }
}

/// One augmented copy of a file.
public struct AugmentResult: Sendable {
    public var bytes: [UInt8]
    public var applied: [AppliedTransform]
    public var skipped: [SkippedTransform]
    /// Whether the result was checked with python3's compile() (false with the check off or no python3).
    public var compileChecked: Bool
    public var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// Why a file cannot be augmented at all.
public enum AugmentError: Error, CustomStringConvertible, Equatable {
    case notUTF8
    case syntaxErrors(line: Int)
    case doesNotCompile(String)

    public var description: String {
        switch self {
        case .notUTF8: return "the file is not UTF-8 text"
        case .syntaxErrors(let line): return "the file has syntax errors (first near line \(line)); augment needs valid Python"
        case .doesNotCompile(let why): return "the file does not compile with python3 (\(why)); augment needs valid Python"
        }
    }
}

/// Options of an augmentation run.
public struct AugmentOptions {
    /// The transforms to choose from.
    public var transforms: [any PythonTransform]
    /// Apply a random non-empty subset of `transforms` (in random order) to each copy; false applies all, in order.
    public var randomSubset: Bool
    /// Fraction of eligible sites each transform changes.
    public var rate: Double
    public var seed: UInt64
    /// Overrides new-name choice (tests).
    public var namer: ((String, String) -> String)?

    public init(transforms: [any PythonTransform] = PythonTransforms.all, randomSubset: Bool = true, rate: Double = 0.5,
                seed: UInt64 = 0, namer: ((String, String) -> String)? = nil) {
        self.transforms = transforms
        self.randomSubset = randomSubset
        self.rate = rate
        self.seed = seed
        self.namer = namer
    }
}

/// Applies Python transforms to files, checking every intermediate result: it must parse with no errors
/// (tree-sitter) and, when a checker is given, compile with python3. A transform whose result fails is dropped for
/// that copy; nothing unchecked is ever returned.
public final class Augmenter {
    private let parser: Parser
    public let checker: CompileChecker?

    public init(checker: CompileChecker?) throws {
        self.parser = try Parser(language: Language.named("python"))
        self.checker = checker
    }

    /// Checks that a file can be augmented (UTF-8, parses, compiles).
    public func validate(_ bytes: [UInt8]) throws -> Tree {
        guard String(validating: bytes, as: UTF8.self) != nil else { throw AugmentError.notUTF8 }
        let tree = try parser.parse(SourceText(bytes: bytes))
        if tree.hasErrors { throw AugmentError.syntaxErrors(line: Self.firstErrorLine(tree)) }
        if let checker, let why = compileFailure(checker, bytes) { throw AugmentError.doesNotCompile(why) }
        return tree
    }

    /// One augmented copy of `bytes`. `key` (the file's relative path) and `copy` pick the random stream.
    public func augment(_ bytes: [UInt8], key: String, copy: Int, options: AugmentOptions) throws -> AugmentResult {
        let tree = try validate(bytes)
        // Fast path: check only the final result with python3; if it fails, redo with a check after each step.
        var result = run(tree, key: key, copy: copy, options: options, compileEachStep: false)
        if let checker {
            if result.applied.isEmpty || compileFailure(checker, result.bytes) == nil {
                result.compileChecked = true
            } else {
                result = run(tree, key: key, copy: copy, options: options, compileEachStep: true)
                result.compileChecked = true
            }
        }
        return result
    }

    static func firstErrorLine(_ tree: Tree) -> Int {
        var line = 1, found = false
        tree.root.walk { n in
            if found { return false }
            if n.isError || n.isMissing { line = n.start.line; found = true; return false }
            return n.hasError
        }
        return line
    }

    /// nil when the source compiles; otherwise why not (a broken checker counts as a failure).
    private func compileFailure(_ checker: CompileChecker, _ bytes: [UInt8]) -> String? {
        do { return try checker.check(bytes) } catch { return "the python3 checker stopped" }
    }

    private func run(_ start: Tree, key: String, copy: Int, options: AugmentOptions, compileEachStep: Bool) -> AugmentResult {
        var rng = AugmentRandom(seed: options.seed, key: key, copy: copy)
        var chosen: [any PythonTransform] = options.transforms
        var notChosen: [any PythonTransform] = []
        if options.randomSubset, chosen.count > 1 {
            let picked = chosen.filter { _ in rng.chance(0.5) }
            chosen = picked.isEmpty ? [rng.pick(chosen)] : picked
            notChosen = options.transforms.filter { t in !chosen.contains { $0.name == t.name } }
            rng.shuffle(&chosen)
        }
        var tree = start
        var applied: [AppliedTransform] = [], skipped: [SkippedTransform] = []
        var taken = PythonNames.keywords.union(PythonNames.builtins)
        for transform in chosen {
            let file = PyFile(tree: tree)
            taken.formUnion(file.identifiers)
            var context = TransformContext(rate: options.rate, rng: rng, namer: options.namer, taken: taken)
            let plan = transform.plan(file, &context)
            rng = context.rng
            taken = context.taken
            guard !plan.edits.isEmpty else {
                skipped.append(SkippedTransform(transform: transform.name,
                                                reason: plan.skipped.isEmpty ? "no applicable site" : "no safe site",
                                                skippedSites: plan.skipped))
                continue
            }
            let (bytes, count) = applyEdits(plan.edits, to: tree.source.bytes)
            guard let next = try? parser.parse(SourceText(bytes: bytes)), !next.hasErrors else {
                let line = (try? parser.parse(SourceText(bytes: bytes))).map(Self.firstErrorLine) ?? 0
                skipped.append(SkippedTransform(transform: transform.name,
                                                reason: "result had syntax errors (tree-sitter, near line \(line) of the result); dropped",
                                                skippedSites: plan.skipped))
                continue
            }
            if compileEachStep, let checker, let why = compileFailure(checker, bytes) {
                skipped.append(SkippedTransform(transform: transform.name, reason: "result did not compile (\(why)); dropped",
                                                skippedSites: plan.skipped))
                continue
            }
            applied.append(AppliedTransform(transform: transform.name, changes: count, notes: plan.notes,
                                            skippedSites: plan.skipped))
            tree = next
        }
        for t in notChosen { skipped.append(SkippedTransform(transform: t.name, reason: "not drawn for this copy", skippedSites: [:])) }
        return AugmentResult(bytes: tree.source.bytes, applied: applied, skipped: skipped, compileChecked: false)
    }
}
