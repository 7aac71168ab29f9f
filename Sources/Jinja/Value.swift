import Foundation

/// A value in a template: the Python objects Jinja2 templates see (None, bool, int, float, str, list, dict), plus
/// Jinja2's default `Undefined`, `namespace()` objects and callables (macros, globals, bound methods).
public enum Value: Sendable {
    /// Jinja2's default Undefined: renders as "", is falsy, iterates as empty; most other uses are errors.
    case undefined(String)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([Value])
    /// A Python tuple: like a list, but shown as `(a, b)` and never equal to a list.
    case tuple([Value])
    case dict(Dict)
    case namespace(Namespace)
    case callable(Callable)

    /// An insertion-ordered string-keyed dictionary (Python dicts keep insertion order).
    public struct Dict: Sendable {
        public private(set) var keys: [String] = []
        public private(set) var storage: [String: Value] = [:]

        public init() {}
        public init(_ pairs: [(String, Value)]) {
            for (k, v) in pairs { self[k] = v }
        }

        public subscript(key: String) -> Value? {
            get { storage[key] }
            set {
                if let newValue {
                    if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
                } else if storage.removeValue(forKey: key) != nil {
                    keys.removeAll { $0 == key }
                }
            }
        }

        public var count: Int { keys.count }
        public var pairs: [(String, Value)] { keys.map { ($0, storage[$0]!) } }

        // Keys that are not strings (ints, floats, bools, None) are stored under an encoded string and remembered.
        private var otherKeys: [String: Value] = [:]

        /// The storage key of a Python dict key; nil for unhashable keys. 1, 1.0 and True are the same key.
        static func encode(_ key: Value) -> String? {
            switch key {
            case .string(let s): return s
            case .int(let i): return "\u{1}\(i)"
            case .bool(let b): return b ? "\u{1}1" : "\u{1}0"
            case .double(let d): return d == d.rounded() && abs(d) < 1e18 ? "\u{1}\(Int(d))" : "\u{1}\(d)"
            case .none: return "\u{1}None"
            default: return nil
            }
        }

        /// The key as the template sees it.
        func keyValue(_ stored: String) -> Value { otherKeys[stored] ?? .string(stored) }

        /// Keys as values, in insertion order.
        var keyValues: [Value] { keys.map(keyValue) }
        var valuePairs: [(Value, Value)] { keys.map { (keyValue($0), storage[$0]!) } }

        subscript(value key: Value) -> Value? {
            guard let k = Self.encode(key) else { return nil }
            return storage[k]
        }

        /// Sets `value` under any hashable key; false for unhashable keys (lists, dicts).
        mutating func set(_ key: Value, _ value: Value) -> Bool {
            guard let k = Self.encode(key) else { return false }
            if case .string = key {} else if storage[k] == nil { otherKeys[k] = key }
            self[k] = value
            return true
        }
    }

    /// The object `namespace(...)` returns: attributes that `{% set ns.x = ... %}` may change from any scope.
    public final class Namespace: @unchecked Sendable {
        public var attributes: Dict
        init(_ attributes: Dict) { self.attributes = attributes }
    }

    /// A function a template can call: positional and keyword arguments in, a value out.
    public struct Callable: Sendable {
        public let name: String
        let body: @Sendable (_ args: [Value], _ kwargs: [(String, Value)], _ ctx: CallContext) throws -> Value

        public init(name: String,
                    _ body: @escaping @Sendable (_ args: [Value], _ kwargs: [(String, Value)]) throws -> Value) {
            self.name = name
            self.body = { args, kwargs, _ in try body(args, kwargs) }
        }

        init(name: String, context body: @escaping @Sendable ([Value], [(String, Value)], CallContext) throws -> Value) {
            self.name = name
            self.body = body
        }
    }
}

/// Where a call happens, for callables that need the interpreter (macros).
struct CallContext {
    let interpreter: Interpreter
    let position: SourcePosition
}

extension Value {
    /// Converts Foundation JSON objects (JSONSerialization output) and Swift literals into template values.
    public init(any object: Any?) {
        switch object {
        case nil, is NSNull: self = .none
        case let v as Value: self = v
        case let s as String: self = .string(s)
        case let n as NSNumber:
            let type = String(cString: n.objCType)
            if type == "c" || type == "B" { self = .bool(n.boolValue) }
            else if type == "d" || type == "f" { self = .double(n.doubleValue) }
            else { self = .int(n.intValue) }
        case let a as [Any?]: self = .array(a.map { Value(any: $0) })
        case let a as [Any]: self = .array(a.map { Value(any: $0) })
        case let d as [String: Any]:
            // JSONSerialization loses key order; callers that care build `.dict` themselves.
            self = .dict(Dict(d.keys.sorted().map { ($0, Value(any: d[$0])) }))
        default: self = .string("\(object!)")
        }
    }

    var isUndefined: Bool { if case .undefined = self { return true } else { return false } }

    /// Python truthiness (Undefined is falsy).
    public var truthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .array(let a), .tuple(let a): return !a.isEmpty
        case .dict(let d): return d.count > 0
        case .namespace, .callable: return true
        }
    }

    /// The Jinja2 type name used in error messages ("dict object", "str object", ...).
    var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .array: return "list"
        case .tuple: return "tuple"
        case .dict: return "dict"
        case .namespace: return "Namespace"
        case .callable: return "function"
        }
    }

    /// Python's `str()`: how `{{ value }}` renders.
    public var pythonString: String {
        switch self {
        case .undefined: return ""
        case .string(let s): return s
        default: return pythonRepr
        }
    }

    /// Python's `repr()`, used inside lists and dicts.
    public var pythonRepr: String {
        switch self {
        case .undefined: return ""
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return pythonFloatRepr(d)
        case .string(let s): return pythonStringRepr(s)
        case .array(let a): return "[" + a.map(\.pythonRepr).joined(separator: ", ") + "]"
        case .tuple(let a): return "(" + a.map(\.pythonRepr).joined(separator: ", ") + (a.count == 1 ? ",)" : ")")
        case .dict(let d):
            return "{" + d.valuePairs.map { $0.0.pythonRepr + ": " + $0.1.pythonRepr }.joined(separator: ", ") + "}"
        case .namespace(let ns):
            return "<Namespace " + Value.dict(ns.attributes).pythonRepr + ">"
        case .callable(let c): return "<function \(c.name)>"
        }
    }
}

/// Python's repr of a float: shortest round-trip digits, fixed notation for exponents in [-4, 16).
func pythonFloatRepr(_ d: Double) -> String {
    if d.isNaN { return "nan" }
    if d.isInfinite { return d < 0 ? "-inf" : "inf" }
    if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
    // Swift's description also gives the shortest round-trip digits; take them apart and lay them out again.
    var text = "\(abs(d))"
    var exponent = 0
    if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
        exponent = Int(text[text.index(after: e)...])!
        text = String(text[..<e])
    }
    var intPart = text, fracPart = ""
    if let dot = text.firstIndex(of: ".") {
        intPart = String(text[..<dot])
        fracPart = String(text[text.index(after: dot)...])
    }
    var digits = intPart + fracPart
    var pointPos = intPart.count + exponent  // decimal point after this many digits
    while digits.hasPrefix("0") && digits.count > 1 { digits.removeFirst(); pointPos -= 1 }
    while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
    let sciExp = pointPos - 1
    var out = d < 0 ? "-" : ""
    if sciExp < -4 || sciExp >= 16 {
        out += String(digits.first!)
        if digits.count > 1 { out += "." + digits.dropFirst() }
        out += "e" + (sciExp < 0 ? "-" : "+") + (abs(sciExp) < 10 ? "0" : "") + String(abs(sciExp))
    } else if pointPos <= 0 {
        out += "0." + String(repeating: "0", count: -pointPos) + digits
    } else if pointPos >= digits.count {
        out += digits + String(repeating: "0", count: pointPos - digits.count) + ".0"
    } else {
        let i = digits.index(digits.startIndex, offsetBy: pointPos)
        out += digits[..<i] + "." + digits[i...]
    }
    return out
}

/// Python's repr of a str: single quotes unless the text has a single quote and no double quote.
func pythonStringRepr(_ s: String) -> String {
    let quote: Character = s.contains("'") && !s.contains("\"") ? "\"" : "'"
    var out = String(quote)
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if Character(scalar) == quote { out += "\\" + String(quote) }
            else if scalar.value < 0x20 || scalar.value == 0x7f { out += String(format: "\\x%02x", scalar.value) }
            else { out.unicodeScalars.append(scalar) }
        }
    }
    return out + String(quote)
}

extension Value {
    /// Parses JSON text into a value, keeping the order of object keys (as Python's json module does) and telling
    /// integers from floats.
    public static func parseJSON(_ text: String) throws -> Value {
        var parser = JSONParser(scalars: Array(text.unicodeScalars))
        parser.skipSpace()
        let value = try parser.parseValue()
        parser.skipSpace()
        guard parser.index == parser.scalars.count else { throw parser.fail("trailing characters") }
        return value
    }
}

private struct JSONParser {
    let scalars: [Unicode.Scalar]
    var index = 0

    func fail(_ message: String) -> TemplateError {
        TemplateError(kind: .runtime, message: "invalid JSON at offset \(index): \(message)", position: nil)
    }

    mutating func skipSpace() {
        while index < scalars.count, [" ", "\n", "\r", "\t"].contains(scalars[index]) { index += 1 }
    }

    mutating func expect(_ word: String) throws {
        for s in word.unicodeScalars {
            guard index < scalars.count, scalars[index] == s else { throw fail("expected '\(word)'") }
            index += 1
        }
    }

    mutating func parseValue() throws -> Value {
        guard index < scalars.count else { throw fail("unexpected end") }
        switch scalars[index] {
        case "{":
            index += 1
            var d = Value.Dict()
            skipSpace()
            if index < scalars.count, scalars[index] == "}" { index += 1; return .dict(d) }
            while true {
                skipSpace()
                guard index < scalars.count, scalars[index] == "\"" else { throw fail("expected a key") }
                let key = try parseString()
                skipSpace()
                try expect(":")
                skipSpace()
                d[key] = try parseValue()
                skipSpace()
                guard index < scalars.count else { throw fail("unexpected end") }
                if scalars[index] == "," { index += 1; continue }
                try expect("}")
                return .dict(d)
            }
        case "[":
            index += 1
            var items: [Value] = []
            skipSpace()
            if index < scalars.count, scalars[index] == "]" { index += 1; return .array(items) }
            while true {
                skipSpace()
                items.append(try parseValue())
                skipSpace()
                guard index < scalars.count else { throw fail("unexpected end") }
                if scalars[index] == "," { index += 1; continue }
                try expect("]")
                return .array(items)
            }
        case "\"": return .string(try parseString())
        case "t": try expect("true"); return .bool(true)
        case "f": try expect("false"); return .bool(false)
        case "n": try expect("null"); return .none
        default:
            let start = index
            var isFloat = false
            while index < scalars.count, "+-0123456789.eE".unicodeScalars.contains(scalars[index]) {
                if [".", "e", "E"].contains(scalars[index]) { isFloat = true }
                index += 1
            }
            let text = String(String.UnicodeScalarView(scalars[start..<index]))
            if !isFloat, let i = Int(text) { return .int(i) }
            guard let d = Double(text) else { throw fail("bad number '\(text)'") }
            return .double(d)
        }
    }

    mutating func parseString() throws -> String {
        index += 1
        var out = String.UnicodeScalarView()
        while index < scalars.count {
            let c = scalars[index]
            index += 1
            if c == "\"" { return String(out) }
            guard c == "\\" else { out.append(c); continue }
            guard index < scalars.count else { break }
            let e = scalars[index]
            index += 1
            switch e {
            case "n": out.append("\n")
            case "t": out.append("\t")
            case "r": out.append("\r")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "u":
                func hex() throws -> UInt32 {
                    guard index + 4 <= scalars.count,
                          let v = UInt32(String(String.UnicodeScalarView(scalars[index..<(index + 4)])), radix: 16)
                    else { throw fail("bad \\u escape") }
                    index += 4
                    return v
                }
                var v = try hex()
                if v >= 0xD800 && v < 0xDC00, index + 1 < scalars.count, scalars[index] == "\\", scalars[index + 1] == "u" {
                    index += 2
                    let low = try hex()
                    v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                }
                out.append(Unicode.Scalar(v) ?? "\u{FFFD}")
            default: out.append(e)
            }
        }
        throw fail("unterminated string")
    }
}

extension Value {
    /// A tuple as a list (other values unchanged).
    var asList: Value { if case .tuple(let a) = self { return .array(a) } else { return self } }
}
