import Engine
import Foundation
import Syntax

/// One replacement of a byte range of the source (offsets in the text the transform was given).
public struct SourceEdit: Sendable, Equatable {
    public var range: Range<Int>
    public var replacement: String
    public init(_ range: Range<Int>, _ replacement: String) {
        self.range = range
        self.replacement = replacement
    }
}

/// A small deterministic generator (the engine's SplitMix64 `SeededGenerator`): the same seed gives the same
/// augmentation on every platform and Swift version, which the standard library's generators and `shuffle` do not
/// promise.
public struct AugmentRandom: Sendable {
    private var base: SeededGenerator
    public init(seed: UInt64) { base = SeededGenerator(seed: seed &+ 0x9E37_79B9_7F4A_7C15) }

    /// A generator for one (seed, file, copy) triple, independent of the order files are processed in.
    public init(seed: UInt64, key: String, copy: Int) {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325  // FNV-1a of the key
        for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        self.init(seed: seed ^ hash ^ (UInt64(copy) &* 0xD1B5_4A32_D192_ED03))
    }

    public mutating func next() -> UInt64 { base.next() }

    /// Uniform in 0..<bound (bound > 0).
    public mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(max(bound, 1))) }
    /// True with probability p.
    public mutating func chance(_ p: Double) -> Bool {
        if p >= 1 { return true }
        if p <= 0 { return false }
        return Double(next() >> 11) / Double(1 << 53) < p
    }
    public mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
    public mutating func shuffle<T>(_ items: inout [T]) {
        guard items.count > 1 else { return }
        for i in stride(from: items.count - 1, to: 0, by: -1) { items.swapAt(i, below(i + 1)) }
    }
}

/// What a transform is told besides the file.
public struct TransformContext {
    /// Fraction of the eligible sites a transform changes (1 = every one; tests use 1).
    public var rate: Double
    public var rng: AugmentRandom
    /// Picks a fresh name for `original` (of `kind`: "local", "param"); nil lets the built-in vocabulary choose.
    public var namer: ((String, String) -> String)?
    /// Names that may not be introduced (every identifier of the file, builtins, keywords, names already chosen).
    public var taken: Set<String>

    public init(rate: Double, rng: AugmentRandom, namer: ((String, String) -> String)? = nil, taken: Set<String>) {
        self.rate = rate
        self.rng = rng
        self.namer = namer
        self.taken = taken
    }

    /// A new identifier that does not occur in the file and is not a builtin or keyword.
    public mutating func freshName(for original: String, kind: String) -> String {
        if let namer {
            var name = namer(original, kind), k = 2
            let base = name
            while taken.contains(name) { name = "\(base)\(k)"; k += 1 }
            taken.insert(name)
            return name
        }
        var candidates: [String] = NameVocabulary.related(to: original)
        candidates += [rng.pick(NameVocabulary.generic), rng.pick(NameVocabulary.generic)]
        var name = rng.pick(candidates)
        if taken.contains(name) {
            let base = name
            var k = 2
            while taken.contains(name) { name = "\(base)\(k)"; k += 1 }
        }
        taken.insert(name)
        return name
    }
}

/// Words for new local names: plausible names a person would write.
enum NameVocabulary {
    static let generic = ["value", "item", "result", "tmp", "data", "current", "entry", "element", "obj", "val",
                          "res", "acc", "buf", "part", "piece", "thing", "x", "y", "z", "k", "v", "target",
                          "out", "node", "cursor", "holder", "temp", "aux", "candidate", "arg"]
    static let synonyms: [[String]] = [
        ["i", "j", "k", "idx", "index", "n", "pos", "position"],
        ["result", "res", "ret", "out", "output", "rv"],
        ["count", "cnt", "num", "total", "n"],
        ["item", "elem", "element", "entry", "x"],
        ["key", "k", "name", "ident"],
        ["value", "val", "v", "obj"],
        ["line", "ln", "row", "text", "s"],
        ["path", "fname", "filename", "file_path", "p"],
        ["data", "payload", "buf", "content", "blob"],
        ["node", "n", "cur", "current"],
        ["msg", "message", "text", "note"],
        ["err", "exc", "e", "error", "ex"],
        ["args", "arguments", "params", "rest"],
        ["kwargs", "kw", "options", "extra"],
        ["lst", "items", "seq", "values", "elements"],
        ["start", "begin", "lo", "first"],
        ["end", "stop", "hi", "last"],
        ["size", "length", "width", "n"],
        ["f", "fp", "fh", "stream", "handle"],
    ]

    /// Names related to `original`: its synonyms, an abbreviation, a longer spelling.
    static func related(to original: String) -> [String] {
        var out: [String] = []
        for group in synonyms where group.contains(original) { out += group.filter { $0 != original } }
        let consonants = original.enumerated().filter { $0.offset == 0 || !"aeiou".contains($0.element) }
            .map { String($0.element) }.joined()
        if consonants.count >= 2 && consonants != original { out.append(consonants) }
        if original.count <= 3 { out.append("\(original)_val") } else { out.append("the_\(original)") }
        out.append("\(original)_")
        return out.filter { $0.first.map { $0.isLetter || $0 == "_" } ?? false }
    }
}

/// Python keywords and builtins: never introduced as new names.
enum PythonNames {
    static let keywords: Set<String> = [
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
        "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda",
        "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield", "match", "case", "type",
        "_",
    ]
    static let builtins: Set<String> = [
        "abs", "aiter", "all", "anext", "any", "ascii", "bin", "bool", "breakpoint", "bytearray", "bytes", "callable",
        "chr", "classmethod", "compile", "complex", "copyright", "credits", "delattr", "dict", "dir", "divmod",
        "enumerate", "eval", "exec", "exit", "filter", "float", "format", "frozenset", "getattr", "globals", "hasattr",
        "hash", "help", "hex", "id", "input", "int", "isinstance", "issubclass", "iter", "len", "license", "list",
        "locals", "map", "max", "memoryview", "min", "next", "object", "oct", "open", "ord", "pow", "print",
        "property", "quit", "range", "repr", "reversed", "round", "set", "setattr", "slice", "sorted",
        "staticmethod", "str", "sum", "super", "tuple", "type", "vars", "zip", "__import__", "__name__", "__file__",
        "__doc__", "__class__", "__builtins__", "__spec__", "__loader__", "__package__", "__debug__", "self", "cls",
        "Exception", "BaseException", "ValueError", "TypeError", "KeyError", "IndexError", "NotImplemented",
        "Ellipsis", "NotImplementedError", "StopIteration", "RuntimeError", "OSError", "AttributeError",
    ]
    /// Calls that see or change a function's local variables by name: a function using one is left alone.
    static let frameIntrospection: Set<String> = ["locals", "vars", "eval", "exec", "dir", "_getframe", "f_locals",
                                                   "currentframe", "sys._getframe", "getframeinfo", "stack"]
}

/// Applies edits to `bytes` after dropping any that overlap an earlier one in the list.
public func applyEdits(_ edits: [SourceEdit], to bytes: [UInt8]) -> (bytes: [UInt8], applied: Int) {
    // At equal starts an insertion (empty range) sorts first, so it is applied after the replacement behind it.
    let kept = nonOverlapping(edits).sorted {
        ($0.range.lowerBound, $0.range.upperBound) < ($1.range.lowerBound, $1.range.upperBound)
    }
    var out = bytes
    for edit in kept.reversed() { out.replaceSubrange(edit.range, with: Array(edit.replacement.utf8)) }
    return (out, kept.count)
}

/// Drops edits that overlap an earlier one in the list (the caller lists them in priority order). An insertion
/// (empty range) clashes with an edit that strictly contains its position, or with another insertion there.
func nonOverlapping(_ edits: [SourceEdit]) -> [SourceEdit] {
    var kept: [SourceEdit] = []
    for edit in edits {
        var clash = false
        for other in kept {
            let a = edit.range, b = other.range
            if a.overlaps(b) { clash = true }
            else if a.isEmpty, b.isEmpty { clash = a.lowerBound == b.lowerBound }
            else if a.isEmpty { clash = a.lowerBound > b.lowerBound && a.lowerBound < b.upperBound }
            else if b.isEmpty { clash = b.lowerBound > a.lowerBound && b.lowerBound < a.upperBound }
            if clash { break }
        }
        if !clash { kept.append(edit) }
    }
    return kept
}
