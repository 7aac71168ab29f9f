import Engine
import Foundation

/// Constant-guided mutation of argument values: a string argument gets one of the module's own string literals
/// (or a character that often has a meaning in structured text) inserted, substituted or appended, loses a
/// character, or is spliced with another literal; an integer moves to a neighbour, its negation, its double or
/// one of the module's integers; a list literal gets an element mutated, dropped, repeated or added.
///
/// Values that reach new arcs stay in their parameter's pool, so later mutations start from them: a pattern
/// grows toward what the module's comparisons and `in` tests look for (`'[!a-'`, `'--name='`, `'${x}'`).
struct ValueMutator {
    /// Decoded contents of the module's short string literals, then generic structural characters.
    private(set) var mined: [String]
    private(set) var integers: [Int]
    private var known: Set<String>
    /// Values learnt from the module's comparisons while it ran (`learn`), at most `learnLimit`.
    private(set) var learnt = 0
    static let learnLimit = 300
    static let streamWrappers = [("io.StringIO(", "''"), ("io.BytesIO(", "b''")]

    /// A value that wraps literal contents: a stream (`io.StringIO('...')`) or a file written in the test's
    /// `tmp_path` (`InputPool.fileWithContents`); (text before the contents, the contents, text after, the empty
    /// contents), or nil.
    static func contentsWrapper(_ value: String) -> (prefix: String, inner: String, suffix: String, empty: String)? {
        for (wrapper, empty) in streamWrappers where value.hasPrefix(wrapper) && value.hasSuffix(")") {
            return (wrapper, String(value.dropFirst(wrapper.count).dropLast()), ")", empty)
        }
        for (wrapper, empty) in streamWrappers where value.hasPrefix(wrapper) && value.hasSuffix(").readline") {
            return (wrapper, String(value.dropFirst(wrapper.count).dropLast(").readline".count)), ").readline", empty)
        }
        guard value.hasPrefix("str(tmp_path / "), value.hasSuffix(InputPool.fileSuffix) else { return nil }
        for (writer, empty) in [(").write_text(", "''"), (").write_bytes(", "b''")] {
            guard let range = value.range(of: writer) else { continue }
            let inner = String(value[range.upperBound..<value.index(value.endIndex, offsetBy: -InputPool.fileSuffix.count)])
            guard !inner.isEmpty else { return nil }
            return (String(value[..<range.upperBound]), inner, InputPool.fileSuffix, empty)
        }
        return nil
    }
    static let generic = ["a", "Z", "0", "9", " ", "-", "_", ".", ",", ":", "=", "/", "\\", "\n", "\t", "*", "?",
                          "!", "[", "]", "(", ")", "{", "}", "$", "%", "#", "'", "\"", "@", "+", "é"]

    init(surface: ModuleSurface) {
        var literals = surface.moduleConstants
        for callable in surface.callables { literals += callable.constants }
        for info in surface.classes { literals += info.constants }
        var strings: [String] = [], seen = Set<String>()
        var integers: [Int] = [], seenInts = Set<Int>()
        for literal in literals {
            if let text = Self.stringContent(literal) ?? Self.bytesContent(literal), !text.isEmpty, text.count <= 12,
               seen.insert(text).inserted {
                strings.append(text)
            } else if let n = Int(literal), abs(n) < 1 << 40, seenInts.insert(n).inserted {
                integers.append(n)
            }
        }
        mined = strings
        self.integers = integers
        known = seen.union(integers.map { "#\($0)" })
    }

    /// Adds a value the module compared an input with (a Python literal from the comparison log) to the strings
    /// and integers mutations insert; false when it was known, too long, or the limit is reached.
    @discardableResult
    mutating func learn(_ literal: String) -> Bool {
        guard learnt < Self.learnLimit else { return false }
        if let text = Self.stringContent(literal) ?? Self.bytesContent(literal), !text.isEmpty, text.count <= 16 {
            guard known.insert(text).inserted else { return false }
            mined.append(text)
        } else if let n = Int(literal), abs(n) < 1 << 40 {
            guard known.insert("#\(n)").inserted else { return false }
            integers.append(n)
        } else {
            return false
        }
        learnt += 1
        return true
    }

    /// A mutated copy of `literal` (Python source text), or nil when it is not a value this mutator knows.
    func mutate(_ literal: String, using random: inout SeededGenerator) -> String? {
        // A stream's contents (`io.StringIO('...')`, `io.BytesIO(b'...')`), or a file's.
        if let (prefix, inner, suffix, empty) = Self.contentsWrapper(literal) {
            guard let changed = mutate(inner.isEmpty ? empty : inner, using: &random) else { return nil }
            return prefix + changed + suffix
        }
        if let text = Self.stringContent(literal) {
            let mutated = mutateText(text, using: &random)
            return mutated.count <= 200 ? pythonString(mutated) : nil
        }
        if let text = Self.bytesContent(literal) {
            let mutated = mutateText(text, using: &random)
            return mutated.count <= 200 ? Self.bytesLiteral(mutated) : nil
        }
        if let n = Int(literal) {
            let options = [n + 1, n - 1, -n, n * 2, n / 2] + integers.flatMap { [$0, $0 + 1, $0 - 1] }
            let value = options.randomElement(using: &random)!
            return String(value)
        }
        if literal.hasPrefix("{"), literal.hasSuffix("}"), literal == "{}" || literal.contains(":") {
            // A dict literal: a key from the module's strings added (what lookups and `in` tests look for), an
            // item dropped, or an item's value mutated.
            var items = literal == "{}" ? [] : TestWriter.splitArguments(String(literal.dropFirst().dropLast()))
            switch Int.random(in: 0..<4, using: &random) {
            case 0 where !items.isEmpty:
                items.remove(at: Int.random(in: 0..<items.count, using: &random))
            case 1 where !items.isEmpty:
                let i = Int.random(in: 0..<items.count, using: &random)
                guard let colon = items[i].range(of: ": ") else { return nil }
                let value = String(items[i][colon.upperBound...]).trimmingCharacters(in: .whitespaces)
                guard let changed = mutate(value, using: &random) else { return nil }
                items[i] = String(items[i][..<colon.upperBound]) + changed
            default:
                let value = Bool.random(using: &random) ? pythonString(token(using: &random))
                    : String(Int.random(in: 0...3, using: &random))
                items.append("\(pythonString(token(using: &random))): \(value)")
            }
            guard items.count <= 12 else { return nil }
            return "{" + items.joined(separator: ", ") + "}"
        }
        if literal.hasPrefix("["), literal.hasSuffix("]"), !literal.hasPrefix("[[") {
            var items = TestWriter.splitArguments(String(literal.dropFirst().dropLast()))
            let stringsInside = items.isEmpty || items.contains { Self.stringContent($0) != nil }
            switch Int.random(in: 0..<5, using: &random) {
            case 0 where !items.isEmpty:
                let i = Int.random(in: 0..<items.count, using: &random)
                guard let changed = mutate(items[i], using: &random) else { return nil }
                items[i] = changed
            case 1 where !items.isEmpty:
                items.remove(at: Int.random(in: 0..<items.count, using: &random))
            case 2 where !items.isEmpty:
                let i = Int.random(in: 0..<items.count, using: &random)
                items.insert(items[i], at: Int.random(in: 0...items.count, using: &random))
            default:
                let item: String
                if stringsInside {
                    item = pythonString(token(using: &random))
                } else if let n = Int(items.randomElement(using: &random) ?? "") {
                    item = String(n + Int.random(in: -2...2, using: &random))
                } else {
                    return nil
                }
                items.insert(item, at: Int.random(in: 0...items.count, using: &random))
            }
            guard items.count <= 12 else { return nil }
            return "[" + items.joined(separator: ", ") + "]"
        }
        return nil
    }

    private func token(using random: inout SeededGenerator) -> String {
        if !mined.isEmpty, Int.random(in: 0..<10, using: &random) < 6 { return mined.randomElement(using: &random)! }
        return Self.generic.randomElement(using: &random)!
    }

    func mutateText(_ text: String, using random: inout SeededGenerator) -> String {
        var characters = Array(text)
        let piece = Array(token(using: &random))
        switch Int.random(in: 0..<6, using: &random) {
        case 0:  // insert
            characters.insert(contentsOf: piece, at: Int.random(in: 0...characters.count, using: &random))
        case 1 where !characters.isEmpty:  // substitute one or two characters
            let start = Int.random(in: 0..<characters.count, using: &random)
            let end = min(characters.count, start + Int.random(in: 1...2, using: &random))
            characters.replaceSubrange(start..<end, with: piece)
        case 2 where !characters.isEmpty:  // delete one or two characters
            let start = Int.random(in: 0..<characters.count, using: &random)
            characters.removeSubrange(start..<min(characters.count, start + Int.random(in: 1...2, using: &random)))
        case 3:  // append
            characters += piece
        case 4:  // prepend
            characters = piece + characters
        default:  // splice: a prefix of this value and a second token around it
            let cut = Int.random(in: 0...characters.count, using: &random)
            characters = Array(characters[..<cut]) + piece + Array(token(using: &random))
        }
        return String(characters)
    }

    /// The content of a plain bytes literal (`b'...'`, `b"..."`) as text, one character a byte; nil otherwise.
    static func bytesContent(_ literal: String) -> String? {
        guard literal.hasPrefix("b'") || literal.hasPrefix("b\"") else { return nil }
        return stringContent(String(literal.dropFirst()))
    }

    /// A bytes literal of `text`: characters above U+00FF become UTF-8 bytes, non-printable bytes `\xNN`.
    static func bytesLiteral(_ text: String) -> String {
        var out = "b'"
        var bytes: [UInt8] = []
        for scalar in text.unicodeScalars {
            if scalar.value <= 0xFF { bytes.append(UInt8(scalar.value)) } else { bytes += Array(String(scalar).utf8) }
        }
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\\"): out += "\\\\"
            case UInt8(ascii: "'"): out += "\\'"
            case UInt8(ascii: "\n"): out += "\\n"
            case UInt8(ascii: "\t"): out += "\\t"
            case UInt8(ascii: "\r"): out += "\\r"
            case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(byte))
            default: out += "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
            }
        }
        return out + "'"
    }

    /// The text of a plain Python string literal (`'...'` or `"..."`, an `r` prefix without backslashes, the
    /// common escapes); nil for anything else (bytes, f-strings, triple quotes, unknown escapes).
    static func stringContent(_ literal: String) -> String? {
        var body = Substring(literal)
        if body.hasPrefix("r") || body.hasPrefix("R") {
            body = body.dropFirst()
            if body.contains("\\") { return nil }
        }
        guard body.count >= 2, let quote = body.first, quote == "'" || quote == "\"", body.last == quote,
              !body.hasPrefix(String(repeating: quote, count: 3)) || body.count < 6 else { return nil }
        let inner = body.dropFirst().dropLast()
        var out = ""
        var iterator = inner.makeIterator()
        while let c = iterator.next() {
            if c == quote { return nil }
            guard c == "\\" else { out.append(c); continue }
            guard let e = iterator.next() else { return nil }
            switch e {
            case "\\": out.append("\\")
            case "'": out.append("'")
            case "\"": out.append("\"")
            case "n": out.append("\n")
            case "t": out.append("\t")
            case "r": out.append("\r")
            case "0": out.append("\0")
            case "x":
                guard let a = iterator.next(), let b = iterator.next(), let v = UInt8(String([a, b]), radix: 16) else {
                    return nil
                }
                out.unicodeScalars.append(Unicode.Scalar(v))
            default: return nil
            }
        }
        return out
    }
}
