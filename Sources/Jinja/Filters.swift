import Foundation

/// Positional and keyword arguments of a filter or method, looked up the way Python binds them.
struct Arguments {
    var args: [Value]
    var kwargs: [(String, Value)]
    var name: String
    var position: SourcePosition?

    func get(_ index: Int, _ keyword: String) -> Value? {
        if index < args.count { return args[index] }
        return kwargs.first { $0.0 == keyword }?.1
    }

    func string(_ index: Int, _ keyword: String) throws -> String? {
        guard let v = get(index, keyword) else { return nil }
        if case .none = v { return nil }
        guard case .string(let s) = v else {
            throw TemplateError(kind: .runtime, message: "\(name)(): argument '\(keyword)' must be a string, not \(v.typeName)",
                                position: position)
        }
        return s
    }

    func int(_ index: Int, _ keyword: String) throws -> Int? {
        guard let v = get(index, keyword) else { return nil }
        switch v {
        case .none: return nil
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        default:
            throw TemplateError(kind: .runtime, message: "\(name)(): argument '\(keyword)' must be an integer, not \(v.typeName)",
                                position: position)
        }
    }

    func bool(_ index: Int, _ keyword: String, _ fallback: Bool) -> Bool {
        get(index, keyword)?.truthy ?? fallback
    }
}

extension Interpreter {
    private func stringValue(_ v: Value) -> String { v.pythonString }

    func applyFilter(_ name: String, _ value: Value, _ args: [Value], _ kwargs: [(String, Value)],
                     _ position: SourcePosition, _ scope: Scope) throws -> Value {
        let a = Arguments(args: args, kwargs: kwargs, name: name, position: position)
        func undefinedCheck() throws {
            if case .undefined(let message) = value { throw error(message, position) }
        }
        switch name {
        case "safe", "forceescape", "striptags":
            return value
        case "string":
            return .string(value.pythonString)
        case "e", "escape":
            return .string(Methods.htmlEscape(value.pythonString))
        case "trim":
            return .string(Methods.strip(value.pythonString, chars: try a.string(0, "chars"), left: true, right: true))
        case "upper":
            return .string(value.pythonString.uppercased())
        case "lower":
            return .string(value.pythonString.lowercased())
        case "capitalize":
            return .string(Methods.capitalize(value.pythonString))
        case "title":
            // Jinja2 splits on runs of '-', whitespace and opening brackets, and capitalises each piece.
            var result = "", word = ""
            func flush() { result += Methods.capitalize(word); word = "" }
            for ch in value.pythonString {
                if ch == "-" || ch.isWhitespace || "({[<".contains(ch) { flush(); result.append(ch) } else { word.append(ch) }
            }
            flush()
            return .string(result)
        case "replace":
            guard let old = try a.string(0, "old"), let new = try a.string(1, "new") else {
                throw error("replace() needs the old and new strings", position)
            }
            return .string(Methods.replace(value.pythonString, old, new, count: try a.int(2, "count") ?? -1))
        case "length", "count":
            switch value {
            case .string(let s): return .int(s.unicodeScalars.count)
            case .array(let x), .tuple(let x): return .int(x.count)
            case .dict(let d): return .int(d.count)
            case .undefined: return .int(0)
            case .namespace(let ns): return .int(ns.attributes.count)
            default: throw error("object of type '\(value.typeName)' has no len()", position)
            }
        case "first":
            try undefinedCheck()
            return try iterate(value, position).first ?? .undefined("No first item, sequence was empty.")
        case "last":
            try undefinedCheck()
            return try iterate(value, position).last ?? .undefined("No last item, sequence was empty.")
        case "list":
            return .array(try iterate(value, position))
        case "reverse":
            if case .string(let s) = value { return .string(String(s.unicodeScalars.reversed().map(Character.init))) }
            return .array(try iterate(value, position).reversed())
        case "join":
            var items = try iterate(value, position)
            if let attribute = a.get(1, "attribute") {
                items = try items.map { try lookupPath($0, attribute, position) }
            }
            return .string(items.map(\.pythonString).joined(separator: try a.string(0, "d") ?? ""))
        case "default", "d":
            let fallback = a.get(0, "default_value") ?? .string("")
            if value.isUndefined || (a.bool(1, "boolean", false) && !value.truthy) { return fallback }
            return value
        case "items":
            switch value {
            case .dict(let d): return .array(d.valuePairs.map { .tuple([$0.0, $0.1]) })
            case .undefined: return .array([])
            default: throw error("Can only get item pairs from a mapping.", position)
            }
        case "dictsort":
            guard case .dict(let d) = value else { throw error("dictsort: expected a mapping", position) }
            let caseSensitive = a.bool(0, "case_sensitive", false)
            let byValue = (try a.string(1, "by") ?? "key") == "value"
            let reverse = a.bool(2, "reverse", false)
            let pairs = try d.valuePairs.sorted { p, q in
                var x: Value = byValue ? p.1 : p.0, y: Value = byValue ? q.1 : q.0
                if !caseSensitive {
                    if case .string(let s) = x { x = .string(s.lowercased()) }
                    if case .string(let s) = y { y = .string(s.lowercased()) }
                }
                guard let o = Value.order(x, y) else { throw error("dictsort: values cannot be compared", position) }
                return reverse ? o > 0 : o < 0
            }
            return .array(pairs.map { .tuple([$0.0, $0.1]) })
        case "int":
            let fallback = a.get(0, "default") ?? .int(0)
            switch value {
            case .int: return value
            case .bool(let b): return .int(b ? 1 : 0)
            case .double(let d): return d.isFinite ? .int(Int(d)) : fallback
            case .string(let s):
                let t = s.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "_", with: "")
                if let i = Int(t, radix: try a.int(1, "base") ?? 10) { return .int(i) }
                if let d = Double(t), d.isFinite { return .int(Int(d)) }
                return fallback
            default: return fallback
            }
        case "float":
            let fallback = a.get(0, "default") ?? .double(0)
            switch value {
            case .double: return value
            case .int(let i): return .double(Double(i))
            case .bool(let b): return .double(b ? 1 : 0)
            case .string(let s): return Double(s.trimmingCharacters(in: .whitespaces)).map { .double($0) } ?? fallback
            default: return fallback
            }
        case "abs":
            switch value {
            case .int(let i): return .int(abs(i))
            case .double(let d): return .double(abs(d))
            case .bool(let b): return .int(b ? 1 : 0)
            default: throw error("bad operand type for abs(): '\(value.typeName)'", position)
            }
        case "round":
            guard let d = value.numeric else { throw error("round: expected a number", position) }
            let precision = try a.int(0, "precision") ?? 0
            let method = try a.string(1, "method") ?? "common"
            let scale = pow(10.0, Double(precision))
            let rule: FloatingPointRoundingRule = method == "ceil" ? .up : method == "floor" ? .down : .toNearestOrEven
            return .double((d * scale).rounded(rule) / scale)
        case "tojson":
            let indent = a.get(0, "indent")
            var indentText: String?
            switch indent {
            case .int(let n)?: indentText = String(repeating: " ", count: max(0, n))
            case .string(let s)?: indentText = s
            default: indentText = nil
            }
            var separators = indentText == nil ? (", ", ": ") : (",", ": ")
            if case .array(let s)? = a.get(2, "separators"), s.count == 2 {
                separators = (s[0].pythonString, s[1].pythonString)
            }
            let ensureASCII = kwargs.first { $0.0 == "ensure_ascii" }?.1.truthy ?? false
            let sortKeys = a.bool(3, "sort_keys", false)
            return .string(try JSON.dump(value, indent: indentText, separators: separators, ensureASCII: ensureASCII,
                                         sortKeys: sortKeys, position: position))
        case "indent":
            var indention = String(repeating: " ", count: 4)
            if let w = a.get(0, "width") {
                if case .string(let s) = w { indention = s } else if case .int(let n) = w { indention = String(repeating: " ", count: n) }
            }
            let first = a.bool(1, "first", false), blank = a.bool(2, "blank", false)
            var lines = (value.pythonString + "\n").components(separatedBy: "\n")
            lines.removeLast()
            var result: String
            if blank {
                result = lines.joined(separator: "\n" + indention)
            } else {
                result = lines.removeFirst()
                if !lines.isEmpty { result += "\n" + lines.map { $0.isEmpty ? $0 : indention + $0 }.joined(separator: "\n") }
            }
            return .string(first ? indention + result : result)
        case "wordcount":
            return .int(value.pythonString.split(whereSeparator: { !$0.isLetter && !$0.isNumber && $0 != "_" }).count)
        case "center":
            let width = try a.int(0, "width") ?? 80
            let s = value.pythonString
            let pad = max(0, width - s.unicodeScalars.count)
            let left = pad / 2 + (pad & width & 1)
            return .string(String(repeating: " ", count: left) + s + String(repeating: " ", count: pad - left))
        case "unique":
            var seen: [Value] = []
            for item in try iterate(value, position) where !seen.contains(where: { Value.equal($0, item) }) {
                seen.append(item)
            }
            return .array(seen)
        case "sort":
            let reverse = a.bool(0, "reverse", false)
            let caseSensitive = a.bool(1, "case_sensitive", false)
            let attribute = a.get(2, "attribute")
            let items = try iterate(value, position)
            let keys = try items.map { item -> Value in
                var k = attribute.map { _ in Value.none } ?? item
                if let attribute { k = try lookupPath(item, attribute, position) }
                if !caseSensitive, case .string(let s) = k { k = .string(s.lowercased()) }
                return k
            }
            var failure: TemplateError?
            let order = Array(items.indices).sorted { i, j in
                guard let o = Value.order(keys[i], keys[j]) else {
                    failure = error("'<' not supported between instances of '\(keys[i].typeName)' and '\(keys[j].typeName)'", position)
                    return false
                }
                return reverse ? o > 0 : o < 0
            }
            if let failure { throw failure }
            return .array(order.map { items[$0] })
        case "sum":
            var total = a.get(1, "start") ?? .int(0)
            for var item in try iterate(value, position) {
                if let attribute = a.get(0, "attribute") { item = try lookupPath(item, attribute, position) }
                total = try binary("+", total, item, position)
            }
            return total
        case "min", "max":
            let items = try iterate(value, position)
            guard var best = items.first else { return .undefined("No aggregated item, sequence was empty.") }
            for item in items.dropFirst() {
                guard let o = Value.order(item, best) else { throw error("\(name): values cannot be compared", position) }
                if name == "min" ? o < 0 : o > 0 { best = item }
            }
            return best
        case "attr":
            return try attribute(value, try a.string(0, "name") ?? "", position)
        case "map":
            // Jinja2's map, select and reject walk nothing when the value is falsy (none included).
            let items = value.truthy ? try iterate(value, position) : []
            if let attribute = kwargs.first(where: { $0.0 == "attribute" })?.1 {
                let fallback = kwargs.first { $0.0 == "default" }?.1
                return .array(try items.map { item in
                    let v = try lookupPath(item, attribute, position)
                    if v.isUndefined, let fallback { return fallback }
                    return v
                })
            }
            guard case .string(let filterName)? = args.first else { throw error("map: give a filter name or attribute=", position) }
            let rest = Array(args.dropFirst())
            return .array(try items.map { try applyFilter(filterName, $0, rest, kwargs, position, scope) })
        case "select", "reject", "selectattr", "rejectattr":
            let byAttribute = name.hasSuffix("attr")
            let keep = name.hasPrefix("select")
            var rest = args
            var attribute: Value?
            if byAttribute {
                guard !rest.isEmpty else { throw error("\(name): missing the attribute name", position) }
                attribute = rest.removeFirst()
            }
            var testName: String?
            if !rest.isEmpty {
                guard case .string(let t) = rest.removeFirst() else { throw error("\(name): the test name must be a string", position) }
                testName = t
            }
            return .array(try (value.truthy ? iterate(value, position) : []).filter { item in
                let subject = try attribute.map { try lookupPath(item, $0, position) } ?? item
                let passed = try testName.map { try applyTest($0, subject, rest, position, scope) } ?? subject.truthy
                return passed == keep
            })
        case "batch":
            let size = max(1, try a.int(0, "linecount") ?? 1)
            let items = try iterate(value, position)
            var out: [Value] = []
            var i = 0
            while i < items.count {
                var chunk = Array(items[i..<min(i + size, items.count)])
                if chunk.count < size, let fill = a.get(1, "fill_with") { chunk += Array(repeating: fill, count: size - chunk.count) }
                out.append(.array(chunk))
                i += size
            }
            return .array(out)
        case "format":
            return .string(try Methods.percentFormat(value.pythonString, .tuple(args), position))
        default:
            throw error("no filter named '\(name)'", position)
        }
    }

    /// `attribute="a.b"` or an index, as Jinja2's make_attrgetter resolves it.
    func lookupPath(_ item: Value, _ path: Value, _ position: SourcePosition) throws -> Value {
        if case .int = path { return try self.item(item, path, position) }
        var v = item
        for part in path.pythonString.split(separator: ".", omittingEmptySubsequences: false) {
            if let i = Int(part) { v = try self.item(v, .int(i), position) } else { v = try self.item(v, .string(String(part)), position) }
        }
        return v
    }

    func applyTest(_ name: String, _ value: Value, _ args: [Value], _ position: SourcePosition, _ scope: Scope) throws -> Bool {
        func arg() throws -> Value {
            guard let first = args.first else { throw error("the test '\(name)' needs an argument", position) }
            return first
        }
        switch name {
        case "defined": return !value.isUndefined
        case "undefined": return value.isUndefined
        case "none": if case .none = value { return true } else { return false }
        case "boolean": if case .bool = value { return true } else { return false }
        case "true": if case .bool(true) = value { return true } else { return false }
        case "false": if case .bool(false) = value { return true } else { return false }
        case "integer": if case .int = value { return true } else { return false }
        case "float": if case .double = value { return true } else { return false }
        case "number": return value.numeric != nil
        case "string": if case .string = value { return true } else { return false }
        case "mapping": if case .dict = value { return true } else { return false }
        case "iterable", "sequence":
            switch value {
            case .string, .array, .tuple, .dict, .undefined: return true
            case .namespace: return name == "iterable"
            default: return false
            }
        case "callable": if case .callable = value { return true } else { return false }
        case "escaped": return false
        case "sameas":
            let other = try arg()
            switch (value, other) {
            case (.none, .none), (.undefined, .undefined): return true
            case (.bool(let x), .bool(let y)): return x == y
            case (.namespace(let x), .namespace(let y)): return x === y
            default: return false
            }
        case "in": return try contains(try arg(), value, position)
        case "eq", "equalto", "==": return Value.equal(value, try arg())
        case "ne", "!=": return !Value.equal(value, try arg())
        case "lt", "lessthan", "<": return try compare("<", value, try arg(), position)
        case "le", "<=": return try compare("<=", value, try arg(), position)
        case "gt", "greaterthan", ">": return try compare(">", value, try arg(), position)
        case "ge", ">=": return try compare(">=", value, try arg(), position)
        case "odd", "even", "divisibleby":
            guard case .int(let i) = value else {
                if case .undefined(let message) = value { throw error(message, position) }
                throw error("the test '\(name)' needs an integer", position)
            }
            if name == "odd" { return i % 2 != 0 }
            if name == "even" { return i % 2 == 0 }
            guard case .int(let d) = try arg(), d != 0 else { throw error("divisibleby needs a non-zero integer", position) }
            return i % d == 0
        case "lower": return value.pythonString == value.pythonString.lowercased()
        case "upper": return value.pythonString == value.pythonString.uppercased()
        case "filter", "test": return false
        default: throw error("no test named '\(name)'", position)
        }
    }
}
