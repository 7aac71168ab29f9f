import Foundation

/// Python methods templates call on strings, dicts and lists (`s.strip()`, `d.items()`, ...), and helpers shared
/// with the filters.
enum Methods {
    static func fail(_ message: String) -> TemplateError { TemplateError(kind: .runtime, message: message, position: nil) }

    /// A bound method of `object`, or nil when it has no such attribute.
    static func method(of object: Value, _ name: String) -> Value? {
        switch object {
        case .string(let s): return stringMethod(s, name)
        case .dict(let d): return dictMethod(d, name)
        case .array(let a), .tuple(let a): return listMethod(a, name)
        default: return nil
        }
    }

    private static func bound(_ name: String, _ body: @escaping @Sendable (Arguments) throws -> Value) -> Value {
        .callable(Value.Callable(name: name) { args, kwargs in
            try body(Arguments(args: args, kwargs: kwargs, name: name, position: nil))
        })
    }

    private static func dictMethod(_ d: Value.Dict, _ name: String) -> Value? {
        switch name {
        case "items": return bound(name) { _ in .array(d.valuePairs.map { .tuple([$0.0, $0.1]) }) }
        case "keys": return bound(name) { _ in .array(d.keyValues) }
        case "values": return bound(name) { _ in .array(d.pairs.map(\.1)) }
        case "get":
            return bound(name) { a in
                guard let key = a.get(0, "key") else { throw fail("get expected at least 1 argument, got 0") }
                if let v = d[value: key] { return v }
                return a.get(1, "default") ?? .none
            }
        case "copy": return bound(name) { _ in .dict(d) }
        case "update", "pop", "popitem", "setdefault", "clear":
            return bound(name) { _ in throw fail("access to attribute '\(name)' of 'dict' object is unsafe.") }
        default: return nil
        }
    }

    private static func listMethod(_ a: [Value], _ name: String) -> Value? {
        switch name {
        case "index":
            return bound(name) { args in
                guard let x = args.get(0, "value"), let i = a.firstIndex(where: { Value.equal($0, x) }) else {
                    throw fail("value is not in list")
                }
                return .int(i)
            }
        case "count":
            return bound(name) { args in
                guard let x = args.get(0, "value") else { throw fail("count() takes exactly one argument") }
                return .int(a.filter { Value.equal($0, x) }.count)
            }
        case "copy": return bound(name) { _ in .array(a) }
        case "append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse":
            return bound(name) { _ in throw fail("access to attribute '\(name)' of 'list' object is unsafe.") }
        default: return nil
        }
    }

    private static func stringMethod(_ s: String, _ name: String) -> Value? {
        switch name {
        case "strip", "lstrip", "rstrip":
            return bound(name) { a in
                .string(strip(s, chars: try a.string(0, "chars"), left: name != "rstrip", right: name != "lstrip"))
            }
        case "upper": return bound(name) { _ in .string(s.uppercased()) }
        case "lower": return bound(name) { _ in .string(s.lowercased()) }
        case "title": return bound(name) { _ in .string(pythonTitle(s)) }
        case "capitalize": return bound(name) { _ in .string(capitalize(s)) }
        case "swapcase":
            return bound(name) { _ in
                .string(String(s.map { $0.isUppercase ? Character($0.lowercased()) : Character($0.uppercased()) }))
            }
        case "startswith", "endswith":
            return bound(name) { a in
                guard let p = a.get(0, "prefix") else { throw fail("\(name)() takes at least 1 argument (0 given)") }
                let candidates: [Value]
                if case .array(let list) = p { candidates = list } else if case .tuple(let list) = p { candidates = list } else { candidates = [p] }
                var subject = Array(s.unicodeScalars)
                if let start = try a.int(1, "start") {
                    let st = start < 0 ? max(0, start + subject.count) : min(start, subject.count)
                    subject = Array(subject[st...])
                }
                let text = String(String.UnicodeScalarView(subject))
                return .bool(try candidates.contains { c in
                    guard case .string(let t) = c else {
                        throw fail("\(name) first arg must be str or a tuple of str, not \(c.typeName)")
                    }
                    return name == "startswith" ? text.unicodeScalars.starts(with: t.unicodeScalars)
                        : text.unicodeScalars.reversed().starts(with: t.unicodeScalars.reversed())
                })
            }
        case "split", "rsplit":
            return bound(name) { a in
                let sep = try a.string(0, "sep")
                let maxsplit = try a.int(1, "maxsplit") ?? -1
                return .array(try split(s, sep: sep, maxsplit: maxsplit, fromRight: name == "rsplit").map { .string($0) })
            }
        case "splitlines":
            return bound(name) { _ in
                var lines = s.components(separatedBy: "\n")
                if lines.last == "" { lines.removeLast() }
                return .array(lines.map { .string($0.hasSuffix("\r") ? String($0.dropLast()) : $0) })
            }
        case "replace":
            return bound(name) { a in
                guard let old = try a.string(0, "old"), let new = try a.string(1, "new") else {
                    throw fail("replace expected at least 2 arguments")
                }
                return .string(replace(s, old, new, count: try a.int(2, "count") ?? -1))
            }
        case "join":
            return bound(name) { a in
                guard let iterable = a.get(0, "iterable"), case .array(let items) = iterable.asList else { throw fail("join() needs a list") }
                return .string(try items.map { item in
                    guard case .string(let t) = item else {
                        throw fail("sequence item: expected str instance, \(item.typeName) found")
                    }
                    return t
                }.joined(separator: s))
            }
        case "find", "rfind", "index", "rindex", "count":
            return bound(name) { a in
                guard let sub = try a.string(0, "sub") else { throw fail("\(name)() takes at least 1 argument") }
                let hay = Array(s.unicodeScalars), needle = Array(sub.unicodeScalars)
                var positions: [Int] = []
                if needle.isEmpty { positions = Array(0...hay.count) } else if needle.count <= hay.count {
                    var i = 0
                    while i <= hay.count - needle.count {
                        if Array(hay[i..<(i + needle.count)]) == needle {
                            positions.append(i)
                            if name == "count" { i += needle.count; continue }
                        }
                        i += 1
                    }
                }
                switch name {
                case "count": return .int(positions.count)
                case "find": return .int(positions.first ?? -1)
                case "rfind": return .int(positions.last ?? -1)
                default:
                    guard let p = name == "index" ? positions.first : positions.last else { throw fail("substring not found") }
                    return .int(p)
                }
            }
        case "isdigit", "isnumeric", "isdecimal":
            return bound(name) { _ in .bool(!s.isEmpty && s.allSatisfy { $0.isNumber }) }
        case "isalpha": return bound(name) { _ in .bool(!s.isEmpty && s.allSatisfy { $0.isLetter }) }
        case "isalnum": return bound(name) { _ in .bool(!s.isEmpty && s.allSatisfy { $0.isLetter || $0.isNumber }) }
        case "isspace": return bound(name) { _ in .bool(!s.isEmpty && s.allSatisfy { $0.isWhitespace }) }
        case "islower": return bound(name) { _ in .bool(s.contains { $0.isCased } && s == s.lowercased()) }
        case "isupper": return bound(name) { _ in .bool(s.contains { $0.isCased } && s == s.uppercased()) }
        case "format":
            return bound(name) { a in .string(try braceFormat(s, a.args, a.kwargs)) }
        default: return nil
        }
    }

    // MARK: helpers

    static func isPythonSpace(_ s: Unicode.Scalar) -> Bool { s.properties.isWhitespace || (s.value >= 0x1C && s.value <= 0x1F) }

    static func strip(_ s: String, chars: String?, left: Bool, right: Bool) -> String {
        let set = chars.map { Set($0.unicodeScalars) }
        func strippable(_ c: Unicode.Scalar) -> Bool { set.map { $0.contains(c) } ?? isPythonSpace(c) }
        let scalars = Array(s.unicodeScalars)
        var lo = 0, hi = scalars.count
        if left { while lo < hi && strippable(scalars[lo]) { lo += 1 } }
        if right { while hi > lo && strippable(scalars[hi - 1]) { hi -= 1 } }
        return String(String.UnicodeScalarView(scalars[lo..<hi]))
    }

    static func split(_ s: String, sep: String?, maxsplit: Int, fromRight: Bool) throws -> [String] {
        let scalars = Array(s.unicodeScalars)
        func str(_ r: ArraySlice<Unicode.Scalar>) -> String { String(String.UnicodeScalarView(r)) }
        guard let sep else {
            // Runs of whitespace separate; leading and trailing whitespace make no empty pieces.
            var words: [Range<Int>] = []
            var i = 0
            while i < scalars.count {
                while i < scalars.count && isPythonSpace(scalars[i]) { i += 1 }
                if i >= scalars.count { break }
                let start = i
                while i < scalars.count && !isPythonSpace(scalars[i]) { i += 1 }
                words.append(start..<i)
            }
            guard maxsplit >= 0 && words.count > maxsplit + 1 else { return words.map { str(scalars[$0]) } }
            if fromRight {
                let kept = words.suffix(maxsplit)
                let headEnd = kept.first?.lowerBound ?? scalars.count
                let head = strip(str(scalars[0..<headEnd]), chars: nil, left: true, right: true)
                return [head] + kept.map { str(scalars[$0]) }
            }
            let kept = words.prefix(maxsplit)
            let tail = strip(str(scalars[words[maxsplit].lowerBound...]), chars: nil, left: false, right: true)
            return kept.map { str(scalars[$0]) } + [tail]
        }
        let needle = Array(sep.unicodeScalars)
        guard !needle.isEmpty else { throw fail("empty separator") }
        var cuts: [Int] = []
        var i = 0
        while i + needle.count <= scalars.count {
            if Array(scalars[i..<(i + needle.count)]) == needle { cuts.append(i); i += needle.count } else { i += 1 }
        }
        if maxsplit >= 0 && cuts.count > maxsplit { cuts = fromRight ? Array(cuts.suffix(maxsplit)) : Array(cuts.prefix(maxsplit)) }
        var pieces: [String] = []
        var start = 0
        for c in cuts {
            pieces.append(str(scalars[start..<c]))
            start = c + needle.count
        }
        pieces.append(str(scalars[start...]))
        return pieces
    }

    static func replace(_ s: String, _ old: String, _ new: String, count: Int) -> String {
        let scalars = Array(s.unicodeScalars), needle = Array(old.unicodeScalars)
        var out = String.UnicodeScalarView()
        var done = 0
        if needle.isEmpty {
            for (i, c) in scalars.enumerated() {
                if count < 0 || done < count { out.append(contentsOf: new.unicodeScalars); done += 1 }
                out.append(c)
                _ = i
            }
            if count < 0 || done < count { out.append(contentsOf: new.unicodeScalars) }
            return String(out)
        }
        var i = 0
        while i < scalars.count {
            if (count < 0 || done < count) && i + needle.count <= scalars.count && Array(scalars[i..<(i + needle.count)]) == needle {
                out.append(contentsOf: new.unicodeScalars)
                i += needle.count
                done += 1
            } else {
                out.append(scalars[i])
                i += 1
            }
        }
        return String(out)
    }

    static func capitalize(_ s: String) -> String {
        guard let first = s.first else { return s }
        return first.uppercased() + s.dropFirst().lowercased()
    }

    /// Python's str.title(): a letter after a non-letter starts a word.
    static func pythonTitle(_ s: String) -> String {
        var out = ""
        var previousCased = false
        for ch in s {
            out += previousCased ? ch.lowercased() : ch.uppercased()
            previousCased = ch.isCased
        }
        return out
    }

    static func htmlEscape(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&#34;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }

    /// `"%s and %d" % args`: the conversions templates use (%s, %r, %d, %i, %f, %%).
    static func percentFormat(_ format: String, _ argument: Value, _ position: SourcePosition?) throws -> String {
        var items: [Value]
        if case .tuple(let a) = argument { items = a } else { items = [argument] }
        var out = ""
        var chars = Array(format)
        var i = 0
        var named: Value.Dict?
        if case .dict(let d) = argument { named = d; items = [] }
        while i < chars.count {
            let c = chars[i]
            guard c == "%", i + 1 < chars.count else { out.append(c); i += 1; continue }
            i += 1
            var key: String?
            if chars[i] == "(" {
                var k = ""
                i += 1
                while i < chars.count && chars[i] != ")" { k.append(chars[i]); i += 1 }
                i += 1
                key = k
            }
            guard i < chars.count else { break }
            let conversion = chars[i]
            i += 1
            if conversion == "%" { out += "%"; continue }
            let v: Value
            if let key { v = named?[key] ?? .undefined("") } else {
                guard !items.isEmpty else {
                    throw TemplateError(kind: .runtime, message: "not enough arguments for format string", position: position)
                }
                v = items.removeFirst()
            }
            switch conversion {
            case "s": out += v.pythonString
            case "r": out += v.pythonRepr
            case "d", "i":
                guard let n = v.numeric else {
                    throw TemplateError(kind: .runtime, message: "%d format: a number is required", position: position)
                }
                out += String(Int(n))
            case "f":
                guard let n = v.numeric else {
                    throw TemplateError(kind: .runtime, message: "%f format: a number is required", position: position)
                }
                out += String(format: "%f", n)
            default:
                throw TemplateError(kind: .runtime, message: "unsupported format character '\(conversion)'", position: position)
            }
        }
        chars = []
        return out
    }

    /// `"{} {name}".format(...)`: positional, numbered and named fields; format specs are not supported.
    static func braceFormat(_ format: String, _ args: [Value], _ kwargs: [(String, Value)]) throws -> String {
        var out = ""
        let chars = Array(format)
        var i = 0, auto = 0
        while i < chars.count {
            let c = chars[i]
            if c == "{" {
                if i + 1 < chars.count && chars[i + 1] == "{" { out += "{"; i += 2; continue }
                var field = ""
                i += 1
                while i < chars.count && chars[i] != "}" { field.append(chars[i]); i += 1 }
                i += 1
                if field.contains(":") || field.contains("!") { throw fail("format specs are not supported in '\(format)'") }
                let v: Value?
                if field.isEmpty { v = auto < args.count ? args[auto] : nil; auto += 1 }
                else if let n = Int(field) { v = n < args.count ? args[n] : nil }
                else { v = kwargs.first { $0.0 == field }?.1 }
                guard let v else { throw fail("format: no argument for field '{\(field)}'") }
                out += v.pythonString
            } else if c == "}" {
                if i + 1 < chars.count && chars[i + 1] == "}" { i += 1 }
                out += "}"
                i += 1
            } else {
                out.append(c)
                i += 1
            }
        }
        return out
    }
}

/// Python's json.dumps, as transformers' tojson filter calls it.
enum JSON {
    static func dump(_ value: Value, indent: String?, separators: (String, String), ensureASCII: Bool, sortKeys: Bool,
                     position: SourcePosition?) throws -> String {
        var out = ""
        try write(value, &out, level: 0, indent: indent, separators: separators, ensureASCII: ensureASCII,
                  sortKeys: sortKeys, position: position)
        return out
    }

    private static func write(_ value: Value, _ out: inout String, level: Int, indent: String?,
                              separators: (String, String), ensureASCII: Bool, sortKeys: Bool,
                              position: SourcePosition?) throws {
        func newline(_ l: Int) { if let indent { out += "\n" + String(repeating: indent, count: l) } }
        switch value {
        case .none: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            if d.isNaN { out += "NaN" } else if d.isInfinite { out += d < 0 ? "-Infinity" : "Infinity" } else {
                out += pythonFloatRepr(d)
            }
        case .string(let s): out += quote(s, ensureASCII: ensureASCII)
        case .array(let items), .tuple(let items):
            if items.isEmpty { out += "[]"; return }
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += separators.0 }
                newline(level + 1)
                try write(item, &out, level: level + 1, indent: indent, separators: separators, ensureASCII: ensureASCII,
                          sortKeys: sortKeys, position: position)
            }
            newline(level)
            out += "]"
        case .dict(let d):
            if d.count == 0 { out += "{}"; return }
            out += "{"
            let keys = sortKeys ? d.keys.sorted { Value.order(.string($0), .string($1))! < 0 } : d.keys
            for (i, key) in keys.enumerated() {
                if i > 0 { out += separators.0 }
                newline(level + 1)
                // json.dumps turns int, float, bool and None keys into strings.
                let keyText: String
                switch d.keyValue(key) {
                case .int(let i): keyText = String(i)
                case .double(let x): keyText = pythonFloatRepr(x)
                case .bool(let b): keyText = b ? "true" : "false"
                case .none: keyText = "null"
                default: keyText = key
                }
                out += quote(keyText, ensureASCII: ensureASCII) + separators.1
                try write(d[key]!, &out, level: level + 1, indent: indent, separators: separators, ensureASCII: ensureASCII,
                          sortKeys: sortKeys, position: position)
            }
            newline(level)
            out += "}"
        case .undefined, .namespace, .callable:
            let typeName = value.isUndefined ? "Undefined" : value.typeName
            throw TemplateError(kind: .runtime, message: "Object of type \(typeName) is not JSON serializable",
                                position: position)
        }
    }

    static func quote(_ s: String, ensureASCII: Bool) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 || (ensureASCII && scalar.value > 0x7f) {
                    if scalar.value > 0xFFFF {
                        let v = scalar.value - 0x10000
                        out += String(format: "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF))
                    } else {
                        out += String(format: "\\u%04x", scalar.value)
                    }
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
