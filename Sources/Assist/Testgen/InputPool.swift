import Syntax

/// Candidate argument values per parameter, as Python expressions.
///
/// Sources, in order of preference: the type hint (or the default value's type, or the parameter's name),
/// constants mined from the function and the module with their ±1 neighbours, and boundary/edge values
/// (0, -1, empty containers, None, NaN, ±inf, huge ints, long and non-ASCII strings, nested structures).
/// Parameters typed with one of the module's classes get constructor calls.
public struct InputPool: Sendable {
    let surface: ModuleSurface
    let module: String

    public init(surface: ModuleSurface) {
        self.surface = surface
        self.module = surface.moduleName
    }

    /// Candidate values of one parameter: those that fit its type hint first (`typed` of them), then edge values
    /// outside the hint (None, 0, '', [] for every parameter). Never empty.
    public struct Candidates: Sendable {
        public var values: [String]
        public var typed: Int
    }

    public func candidates(for parameter: ParameterSpec, of callable: ModuleSurface.Callable?, depth: Int = 0,
                           extraConstants: [String] = []) -> [String] {
        pool(for: parameter, of: callable, depth: depth, extraConstants: extraConstants).values
    }

    public func pool(for parameter: ParameterSpec, of callable: ModuleSurface.Callable?, depth: Int = 0,
                     extraConstants: [String] = []) -> Candidates {
        let constants = (callable?.constants ?? []) + extraConstants + surface.moduleConstants
        var kinds = typeKinds(parameter.type)
        if kinds.isEmpty, let value = parameter.defaultValue { kinds = kindsOfLiteral(value) }
        // Neither a hint, a default nor the body's uses say what it takes: the name guesses.
        let unknown = kinds.isEmpty || kinds == [.any]
        if kinds.isEmpty { kinds = kindsFromName(parameter.name) }
        let guessed = unknown && (kinds == [.any] || Self.genericNames.contains(parameter.name.lowercased()))
        var values: [String] = []
        if let value = parameter.defaultValue.flatMap(qualifiedDefault) { values.append(value) }
        for kind in kinds { values += self.values(of: kind, constants: constants, depth: depth) }
        // A string named like a whole text (`read_string(string)`, `parse(source)`) also gets the documents text
        // streams hold (sectioned key/value lines, CSV, lines of the module's strings), after the first few.
        if kinds.contains(.str), Self.nameHasWord(parameter.name, Self.documentWords),
           let at = values.firstIndex(of: "'Hello World'").map({ $0 + 1 }) {
            values.insert(contentsOf: Self.contents(of: textStreams(constants)).filter { !values.contains($0) }, at: at)
        }
        if kinds.isEmpty || kinds == [.any] {
            var guesses: [TypeKind] = [.int, .str, .list(.int), .float, .dict, .none]
            if Self.hasBytes(constants) { guesses.insert(.bytes, at: 2) }
            for kind in guesses {
                values += self.values(of: kind, constants: constants, depth: depth).prefix(6)
            }
            values += minedValues(constants, numeric: true, strings: true)
        }
        // A parameter that names a file (`filename`, `path`, `file`) or that the body opens, lists or tests with
        // `os.path` also gets paths of files the test writes first (and of a folder), after its other values.
        if !kinds.contains(.path), callable?.usage[parameter.name] == "path" || Self.nameHasWord(parameter.name, Self.pathWords) {
            values += self.values(of: .path, constants: constants, depth: depth)
        }
        let typed = ModuleSurface.uniqueValues(values.filter { !Self.outsideAnyHint.contains($0) })
        // Edge values every parameter meets, whatever its type: the crash finders.
        var edges = ["None", "0", "''", "[]", "[[1, 2], [3]]", "[None]"].filter { !typed.contains($0) }
        // A parameter only its name types (`x`, `obj`, `value`) may take anything, and code that dispatches on
        // the type (`isinstance`, `type(x).__name__`) needs a value of each kind: the assorted values follow.
        if guessed { edges += Self.assorted.filter { !typed.contains($0) && !edges.contains($0) } }
        return Candidates(values: typed + edges, typed: typed.count)
    }

    /// A default value as a test can write it: a module-level name qualified (`_sentinel` → `m._sentinel`); nil
    /// for a name the test cannot reach (imported under another name, a private alias).
    func qualifiedDefault(_ value: String) -> String? {
        guard let first = value.split(separator: ".", maxSplits: 1).first.map(String.init),
              !first.isEmpty, first.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }),
              first.first?.isNumber == false else { return value }
        if surface.topLevelNames.contains(first) { return "\(module).\(value)" }
        return Self.builtinNames.contains(first) ? value : nil
    }

    static let builtinNames: Set<String> = ["None", "True", "False", "str", "int", "float", "len", "object", "list",
                                            "dict", "set", "tuple", "bool", "bytes", "repr", "sorted", "min", "max",
                                            "sum", "abs", "type", "id", "iter", "next", "Ellipsis", "frozenset",
                                            "range", "zip", "map", "filter", "print", "math", "io", "NotImplemented"]

    /// Whether bytes literals (`b'...'`) are among the constants: the code then likely handles bytes.
    static func hasBytes(_ constants: [String]) -> Bool {
        constants.contains { $0.hasPrefix("b'") || $0.hasPrefix("b\"") || $0.hasPrefix("rb'") || $0.hasPrefix("br'") }
    }

    /// One value of each common kind, with sizes past the usual truncation limits (strings over 40 characters,
    /// containers over 6 items, nesting over 6 levels), for parameters nothing types. Sets hold numbers only: a
    /// set of strings iterates in an order that changes with the hash seed of the process.
    static let assorted = ["'a string longer than forty characters, cut by limits'", "(1, 'a', 2.5)",
                           "{'a': 1, 'b': [1, 2], 'c': {'d': None}}", "{1: 'a', 2: 'b', 3: 'c', 4: 'd', 5: 'e', 6: 'f'}",
                           "{3, 1, 2}", "frozenset({1, 2})", "list(range(12))", "tuple(range(12))", "set(range(10))",
                           "[1, [2, [3, [4, [5, [6, [7, [8]]]]]]]]", "b'bytes value'", "-7", "2.5", "True", "10**40",
                           "__import__('collections').deque([1, 2, 3])", "__import__('array').array('i', [1, 2, 3])",
                           "()", "{}", "set()"]

    /// Names that say nothing of the type (`x` also reads as a number, but is as often any object).
    static let genericNames: Set<String> = ["x", "y", "obj", "object", "o", "value", "val", "v", "item", "elem",
                                            "element", "thing", "arg", "data", "other", "node", "target", "what"]

    /// Values that only probe robustness: never counted as fitting a hint.
    static let outsideAnyHint: Set<String> = ["[[1, 2], [3]]", "[None]"]

    // MARK: Kinds of values

    indirect enum TypeKind: Equatable {
        case int, float, str, bool, bytes, none, any, dict, set, callable, stream, path, binaryStream, lineReader
        case list(TypeKind)
        case tuple([TypeKind])
        case instance(String)
        case enumeration(String)
    }

    func typeKinds(_ hint: String?) -> [TypeKind] {
        guard var hint = hint?.replacingOccurrences(of: " ", with: ""), !hint.isEmpty else { return [] }
        if hint.hasPrefix("'") || hint.hasPrefix("\"") { hint = String(hint.dropFirst().dropLast()) }
        let parts = splitTopLevel(hint, separator: "|")
        if parts.count > 1 { return parts.flatMap { typeKinds($0) } }
        let (head, arguments) = splitGeneric(hint)
        switch head.split(separator: ".").last.map(String.init) ?? head {
        case "Optional": return arguments.flatMap { typeKinds($0) } + [.none]
        case "Union": return arguments.flatMap { typeKinds($0) }
        case "int", "SupportsInt", "Integral": return [.int]
        case "float", "Real", "Number", "SupportsFloat", "Decimal": return [.float, .int]
        case "complex": return [.float]
        case "str", "AnyStr", "Text": return [.str]
        case "bool": return [.bool]
        case "bytes", "bytearray", "ByteString", "Buffer": return [.bytes]
        case "BinaryIO", "BytesIO", "BufferedIOBase", "RawIOBase": return [.binaryStream]
        case "None", "NoneType": return [.none]
        case "list", "List", "Sequence", "Iterable", "Collection", "MutableSequence", "Iterator", "Deque", "deque":
            return [.list(arguments.first.flatMap { typeKinds($0).first } ?? .int)]
        case "tuple", "Tuple":
            let items = arguments.filter { $0 != "..." }.map { typeKinds($0).first ?? .int }
            return [.tuple(items.isEmpty ? [.int, .int] : items)]
        case "dict", "Dict", "Mapping", "MutableMapping", "defaultdict", "Counter": return [.dict]
        case "set", "Set", "frozenset", "FrozenSet", "AbstractSet": return [.set]
        case "Callable": return [.callable]
        case "TextIO", "IO", "StringIO", "TextIOBase", "IOBase": return [.stream]
        case "Path", "PathLike": return [.path]
        case "Any", "object": return [.any]
        default:
            if let info = surface.classNamed(head) {
                return info.enumMembers.isEmpty ? [.instance(head)] : [.enumeration(head)]
            }
            return [.any]
        }
    }

    func kindsOfLiteral(_ value: String) -> [TypeKind] {
        if value == "None" { return [] }
        if value == "True" || value == "False" { return [.bool] }
        if Int(value) != nil { return [.int] }
        if Double(value) != nil { return [.float] }
        if value.hasPrefix("'") || value.hasPrefix("\"") { return [.str] }
        if value.hasPrefix("[") { return [.list(.int)] }
        if value.hasPrefix("{") { return [.dict] }
        if value.hasPrefix("(") { return [.tuple([.int, .int])] }
        return []
    }

    func kindsFromName(_ name: String) -> [TypeKind] {
        let lower = name.lowercased()
        let words = Set(lower.split(separator: "_").map(String.init))
        func has(_ candidates: [String]) -> Bool { candidates.contains { words.contains($0) } }
        if has(["n", "count", "size", "index", "i", "j", "k", "depth", "level", "limit", "width", "height",
                "length", "num", "number", "times", "capacity", "year", "month", "day", "quantity", "qty", "id"]) {
            return [.int]
        }
        if has(["x", "y", "z", "rate", "ratio", "amount", "price", "value", "weight", "factor", "total", "balance",
                "score", "threshold", "tolerance", "temperature", "celsius", "fahrenheit"]) { return [.float, .int] }
        let stringWords = ["s", "text", "name", "line", "word", "string", "label", "key", "title", "message", "prefix",
                           "suffix", "sep", "delimiter", "pattern", "query", "email", "code", "expr", "expression",
                           "source", "url", "token", "char", "path", "filename", "pat", "fmt", "template", "txt",
                           "spec", "chars", "format", "arg", "opt", "value_str", "ident", "identifier"]
        if has(stringWords) { return [.str] }
        // Plurals of string words, and argument vectors: lists of strings.
        if has(["args", "argv", "strings", "lines", "words", "names", "labels", "tokens", "keys", "paths", "pats",
                "patterns", "filenames", "longopts"]) { return [.list(.str)] }
        if has(["stream", "fp", "file", "out", "output", "infile", "outfile", "reader", "writer", "buffer",
                "fileobj", "fobj", "fin", "fout", "instream", "outstream", "ifp", "ofp", "sink", "f", "fh", "fo"])
            || (lower.hasSuffix("file") && lower.count > 4) {
            return [.stream]
        }
        if has(["input", "inp"]) { return [.stream, .str] }  // a file or the text itself
        if has(["bytes", "raw", "blob", "octets", "buf", "bdata"]) {
            return [.bytes]
        }
        if lower.hasSuffix("s") && lower.count > 3 || has(["data", "items", "values", "seq", "xs", "nums",
                                                              "numbers", "list", "elements", "arr", "array"]) {
            return [.list(.int)]
        }
        if has(["flag", "strict", "verbose", "enabled", "reverse", "inclusive"]) || lower.hasPrefix("is_")
            || lower.hasPrefix("allow") { return [.bool] }
        if has(["mapping", "config", "options", "table", "counts", "env", "settings", "headers", "params"]) {
            return [.dict]
        }
        if has(["func", "fn", "callback", "key_func", "predicate", "transform"]) { return [.callable] }
        // A function that hands out lines (`tokenize(readline)`, `detect_encoding(readline)`).
        if has(["readline", "readlines", "getline", "nextline", "readfunc"]) { return [.lineReader] }
        return [.any]
    }

    func values(of kind: TypeKind, constants: [String], depth: Int) -> [String] {
        switch kind {
        case .int:
            return ["1", "0", "-1", "2", "3", "10", "100", "-100", "7"] + minedValues(constants, numeric: true,
                                                                                    strings: false)
                + ["2**63", "10**100", "-2**63"]
        case .float:
            return ["1.5", "0.0", "-2.5", "100.0", "0.1", "1e-09", "0.5", "1.0", "0.25", "0.75", "2.0"] + minedValues(constants, numeric: true, strings: false)
                + ["float('nan')", "float('inf')", "float('-inf')", "1e+308"]
        case .str:
            return ["'hello'", "''", "'a'", "'Hello World'"] + minedValues(constants, numeric: false, strings: true)
                + ["' '", "'42'", "'-7'", "'3.5'", "'a,b,c'", "'key=value'", "'x' * 1000", "'héllo wörld ✓'",
                   "'\\n'", "'ab\\tcd'", "'ÄÖÜ日本'", "'0'", "'abc123'", "'  padded  '", "'UPPER lower'",
                   "'1/3'", "'-1.5e3'", "'0x1f'"]
        case .bool: return ["True", "False"]
        case .bytes:
            return ["b'abc'", "b''", "b'\\x00\\xff'", "'text'.encode()"] + minedBytes(constants)
                + ["b'hello world\\n'", "b'a=b\\tc\\r\\n'", "b'x' * 100", "bytes(range(256))", "bytearray(b'abc')"]
        case .binaryStream:
            return binaryStreams(constants)
        case .none: return ["None"]
        case .any: return []
        case .dict:
            let keys = minedValues(constants, numeric: false, strings: true).prefix(3)
            var result = ["{'a': 1, 'b': 2}", "{}", "{'a': 1}", "{1: 'one'}", "{'nested': {'x': [1, 2]}}"]
            if !keys.isEmpty { result.append("{" + keys.enumerated().map { "\($1): \($0 + 1)" }.joined(separator: ", ") + "}") }
            return result
        case .set: return ["{1, 2, 3}", "set()", "{'a'}", "frozenset({1})"]
        case .callable: return ["str.upper", "len", "abs", "lambda *args: None", "lambda x: x"]
        case .stream:
            // Code with bytes literals most likely reads binary streams: those come first.
            if Self.hasBytes(constants) { return binaryStreams(constants) + textStreams(constants) }
            return textStreams(constants) + binaryStreams(constants).prefix(3)
        case .path: return ["'data.txt'", "str(tmp_path / 'missing.txt')"] + filesWithContents(constants)
        case .lineReader:
            // A stream's bound `readline`: its contents are mutated and substituted into like the stream's.
            let streams = Self.hasBytes(constants) ? binaryStreams(constants) + textStreams(constants)
                : textStreams(constants) + binaryStreams(constants)
            return streams.filter { $0 != "io.StringIO()" && $0 != "io.BytesIO()" }.map { $0 + ".readline" }
        case .list(.list(let element)):
            // Rectangular nested lists (tables, matrices) of a few shapes, then ragged and empty ones.
            let items = values(of: element, constants: constants, depth: depth + 1).prefix(3)
            guard items.count == 3, depth < 2 else { return ["[[1, 2], [3, 4]]", "[]", "[[]]"] }
            let (x, y, z) = (items[items.startIndex], items[items.startIndex + 1], items[items.startIndex + 2])
            return ["[[\(x), \(y)], [\(z), \(x)]]", "[[\(x)]]", "[[\(x), \(y), \(z)], [\(y), \(z), \(x)], [\(z), \(x), \(y)]]",
                    "[[\(x), \(y)]]", "[[\(x)], [\(y)]]", "[[1, 2], [3, 4]]", "[[2, 0, 1], [1, 3, 2], [1, 1, 1]]", "[]",
                    "[[\(x), \(y)], [\(z)]]", "[[]]"]
        case .list(let element):
            let items = depth < 2 ? Array(values(of: element, constants: constants, depth: depth + 1).prefix(6)) : ["1", "2"]
            guard items.count >= 3 else { return ["[]", "[\(items.joined(separator: ", "))]"] }
            return ["[\(items[0]), \(items[1]), \(items[3 % items.count])]", "[]", "[\(items[0])]",
                    "[\(items[2]), \(items[0]), \(items[1])]", "[\(items[0]), \(items[0])]",
                    "[\(items.joined(separator: ", "))]", "[[1, 2], [3]]", "[None]", "list(range(50))"]
        case .tuple(let elements):
            let parts = elements.map { values(of: $0, constants: constants, depth: depth + 1).first ?? "0" }
            let seconds = elements.map { values(of: $0, constants: constants, depth: depth + 1).dropFirst().first ?? "0" }
            return ["(\(parts.joined(separator: ", "))\(parts.count == 1 ? "," : ""))",
                    "(\(seconds.joined(separator: ", "))\(seconds.count == 1 ? "," : ""))", "()"]
        case .instance(let name):
            guard depth < 2, let info = surface.classNamed(name) else { return [] }
            return constructorCalls(info, depth: depth + 1, limit: 4)
        case .enumeration(let name):
            return surface.classNamed(name)?.enumMembers.map { "\(module).\($0)" } ?? []
        }
    }

    /// A few `module.Class(args)` expressions with typical arguments.
    public func constructorCalls(_ info: ModuleSurface.ClassInfo, depth: Int, limit: Int) -> [String] {
        if !info.enumMembers.isEmpty { return info.enumMembers.map { "\(module).\($0)" } }
        let required = info.initParameters.filter { $0.defaultValue == nil && $0.kind != .variadic && $0.kind != .variadicKeyword }
        let pools = required.map { candidates(for: $0, of: nil, depth: depth, extraConstants: info.constants) }
        var calls: [String] = []
        for variant in 0..<limit {
            let args = zip(required, pools).map { parameter, pool in
                let value = pool[min(variant, pool.count - 1)]
                return parameter.kind == .keywordOnly ? "\(parameter.name)=\(value)" : value
            }
            calls.append("\(module).\(info.name)(\(args.joined(separator: ", ")))")
        }
        return ModuleSurface.uniqueValues(calls)
    }

    /// Mined literals and, for numbers, their ±1 neighbours; for separators, strings that contain them.
    func minedValues(_ constants: [String], numeric: Bool, strings: Bool) -> [String] {
        var result: [String] = []
        for constant in constants {
            if numeric, let value = Int(constant), abs(value) < 1 << 60 {
                result += [constant, String(value - 1), String(value + 1)]
            } else if numeric, let value = Double(constant), value.isFinite {
                result += [constant, String(value - 1), String(value + 1)]
            } else if strings, constant.first == "'" || constant.first == "\"" || constant.hasPrefix("r'") {
                result.append(constant)
                let inner = constant.dropFirst(constant.hasPrefix("r") ? 2 : 1).dropLast()
                if !inner.isEmpty, inner.count <= 2, !inner.contains(where: { $0.isLetter || $0.isNumber || $0 == "'" || $0 == "\\" }) {
                    result += ["'key\(inner)value'", "'1\(inner)2\(inner)3'", "'\(inner)'", "'a \(inner) b'"]
                    let closing: [Substring: String] = ["[": "]", "(": ")", "{": "}", "<": ">"]
                    if let close = closing[inner] { result += ["'\(inner)a\(close)'", "'\(inner)a'"] }
                } else if !inner.isEmpty, !inner.contains("'"), !inner.contains("\\") {
                    result += ["'\(inner) 1'", "'\(inner.uppercased())'", "'x\(inner)'"]
                }
            }
        }
        return result
    }

    /// Text streams: line-oriented documents (plain lines, CSV, key/value config with sections) and lines made
    /// of the strings the code looks for.
    func textStreams(_ constants: [String]) -> [String] {
        var result = ["io.StringIO('line one\\nline two\\n')", "io.StringIO()", "io.StringIO('a,b\\n1,2\\n')",
                      "io.StringIO('# comment\\n\\nkey = value\\n')",
                      "io.StringIO('[a]\\na = 1\\nhello = yes\\n')", "io.StringIO('a,b\\n1\\n')",
                      "io.StringIO('name,amount\\nx,1.5\\ny,\\n')",
                      "io.StringIO('import os\\n\\nclass A(object):\\n    def f(self, x=1, *a, **k):\\n        return [x, 0x1f, 2.5, \\'s\\']  # note\\n')"]
        let lines = minedValues(constants, numeric: false, strings: true)
            .filter { $0.hasPrefix("'") && !$0.contains("\\") }.map { $0.dropFirst().dropLast() }
        for chunk in stride(from: 0, to: min(lines.count, 12), by: 3) {
            let part = lines[chunk..<min(chunk + 3, lines.count)]
            result.append("io.StringIO('\(part.joined(separator: "\\n"))\\n')")
        }
        return result
    }

    /// Binary streams (`io.BytesIO`): lines of text, bytes with tabs, trailing spaces, `=`, high and control
    /// bytes, and lines made of the module's bytes literals.
    func binaryStreams(_ constants: [String]) -> [String] {
        var result = ["io.BytesIO(b'line one\\nline two\\n')", "io.BytesIO()", "io.BytesIO(b'')",
                      "io.BytesIO(b'a=b \\tc\\r\\nx\\xff\\x00 \\n')", "io.BytesIO(b'hello world')",
                      "io.BytesIO(b'x' * 200 + b'\\n')",
                      "io.BytesIO(b'# -*- coding: latin-1 -*-\\nx = (1, \\'\\xe9\\')\\n')"]
        let mined = minedBytes(constants).compactMap(ValueMutator.bytesContent)
        for chunk in stride(from: 0, to: min(mined.count, 12), by: 3) {
            let part = mined[chunk..<min(chunk + 3, mined.count)]
            result.append("io.BytesIO(\(ValueMutator.bytesLiteral("a" + part.joined(separator: "a\n") + "\n")))")
        }
        return result
    }

    /// Words of parameter names that hold a whole text to parse.
    static let documentWords: Set<String> = ["string", "text", "source", "src", "content", "contents", "document",
                                             "doc", "body", "input", "data", "s", "txt", "lines"]

    /// Whether one of the `_`-separated words of `name` (lowercased) is in `words`.
    static func nameHasWord(_ name: String, _ words: Set<String>) -> Bool {
        name.lowercased().split(separator: "_").contains { words.contains(String($0)) }
    }

    /// The non-empty contents of streams (`io.StringIO('...')`, `io.BytesIO(b'...')`).
    static func contents(of streams: [String]) -> [String] {
        streams.compactMap { stream in
            guard let (_, inner, _, _) = ValueMutator.contentsWrapper(stream), !inner.isEmpty,
                  inner != "''", inner != "b''" else { return nil }
            return inner
        }
    }

    /// Words of parameter names that hold a file's or folder's name.
    static let pathWords: Set<String> = ["path", "filename", "fname", "filepath", "pathname", "file", "dirname",
                                         "directory", "dir", "folder", "filenames", "paths", "files"]

    /// What follows a file's contents in `fileWithContents` (the text a test writes).
    static let fileSuffix = ") >= 0 else ''"

    /// A path (as `str`) to a file the test writes in its `tmp_path` first, `contents` being a str or bytes
    /// literal: `str(tmp_path / 'data.txt') if (tmp_path / 'data.txt').write_text('a = 1\n') >= 0 else ''`.
    static func fileWithContents(_ contents: String, name: String) -> String {
        let file = "(tmp_path / \(pythonString(name)))"
        let writer = ValueMutator.bytesContent(contents) != nil && ValueMutator.stringContent(contents) == nil
            ? "write_bytes" : "write_text"
        return "str\(file) if \(file).\(writer)(\(contents)\(fileSuffix)"
    }

    /// Paths of files with contents (the text and binary streams' contents, binary first when the module has
    /// bytes literals), named with the first file extension among the module's strings (`'.py'`) or `.txt`, and
    /// of a folder that holds one such file.
    func filesWithContents(_ constants: [String]) -> [String] {
        let extensionLiteral = constants.lazy.compactMap(ValueMutator.stringContent).first { text in
            text.count >= 2 && text.count <= 6 && text.first == "." && text.dropFirst().allSatisfy { $0.isLetter || $0.isNumber }
        }
        let name = "data" + (extensionLiteral ?? ".txt")
        let text = Self.contents(of: textStreams(constants)).prefix(5)
        let binary = Self.contents(of: binaryStreams(constants)).prefix(3)
        let all = Self.hasBytes(constants) ? Array(binary) + Array(text) : Array(text) + Array(binary)
        var result = all.map { Self.fileWithContents($0, name: name) }
        if let first = text.first {
            // A folder with one file in it: `(file written) and str(tmp_path)`.
            result.append("str(tmp_path) if (tmp_path / \(pythonString(name))).write_text(\(first)\(Self.fileSuffix)")
        }
        return result
    }

    /// The bytes literals among the constants (plain `b'...'` ones).
    func minedBytes(_ constants: [String]) -> [String] {
        constants.filter { ValueMutator.bytesContent($0) != nil }
    }

    // MARK: Type hint text

    private func splitGeneric(_ hint: String) -> (String, [String]) {
        guard let open = hint.firstIndex(of: "["), hint.hasSuffix("]") else { return (hint, []) }
        let inner = String(hint[hint.index(after: open)..<hint.index(before: hint.endIndex)])
        return (String(hint[..<open]), splitTopLevel(inner, separator: ","))
    }

    private func splitTopLevel(_ text: String, separator: Character) -> [String] {
        var parts: [String] = []
        var depth = 0
        var current = ""
        for c in text {
            if c == "[" || c == "(" { depth += 1 }
            if c == "]" || c == ")" { depth -= 1 }
            if c == separator && depth == 0 {
                parts.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        parts.append(current)
        return parts.filter { !$0.isEmpty }
    }
}

extension ModuleSurface {
    static func uniqueValues(_ values: [String]) -> [String] {
        var seen = Set<String>()
        return values.filter { seen.insert($0).inserted }
    }
}
