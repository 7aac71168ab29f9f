import Syntax

/// The public API of a Python module as tree-sitter sees it: what testgen can call, with the hints it needs to
/// build inputs (parameters, type hints, defaults, literal constants in the code, docstring examples).
public struct ModuleSurface: Sendable {
    /// A function, method or constructor to call.
    public struct Callable: Sendable {
        public enum Kind: String, Sendable { case function, method, staticMethod, classMethod, property }
        public var kind: Kind
        public var name: String
        /// `name` for functions, `Owner.name` for methods.
        public var qualifiedName: String
        public var owner: String?
        /// Without the receiver (`self`/`cls`).
        public var parameters: [ParameterSpec]
        public var returnType: String?
        /// Literals in the body; those compared against come first.
        public var constants: [String]
        /// Calls from `>>>` lines of the docstring, as written (names not yet qualified).
        public var examples: [String]
        public var line: Int
        /// Types inferred from how the body uses an unannotated parameter (`x * 0.5` → float, `s.split()` → str).
        public var usage: [String: String] = [:]
        /// Attributes the body reads or calls on each unannotated parameter (`p.get_token()` → get_token), to
        /// recognise instances of the module's own classes.
        public var attributes: [String: Set<String>] = [:]
    }

    /// A class of the module.
    public struct ClassInfo: Sendable {
        public var name: String
        public var bases: [String]
        /// Parameters of `__init__` (or the dataclass fields), without `self`.
        public var initParameters: [ParameterSpec]
        public var methods: [Callable]
        /// `Color.RED` for enum classes: the values to use instead of constructing.
        public var enumMembers: [String]
        public var isException: Bool
        /// Dunder methods the class defines (`__len__`, `__iter__`, `__eq__`, …).
        public var dunders: Set<String>
        public var constants: [String]
        /// Public attributes `__init__` sets on `self` other than from its parameters (`self.debug = 0`), with the
        /// literal assigned as the default: state a test can change before calling methods.
        public var fields: [ParameterSpec] = []
    }

    public var moduleName: String
    public var functions: [Callable]
    /// Top-level functions named `_like_this` (not dunders): helpers the public API may never reach with the
    /// inputs a search finds (a parser's `_parse_x`), and the whole API of a module that is private itself
    /// (`_strptime`). Call targets after the public ones.
    public var privateFunctions: [Callable] = []
    public var classes: [ClassInfo]
    /// Literals assigned to module-level names and used anywhere in the module.
    public var moduleConstants: [String]
    /// Every top-level name the module defines (functions, classes, constants), to qualify docstring examples.
    public var topLevelNames: Set<String>

    /// Every callable under test: functions, then public methods of each class.
    public var callables: [Callable] { functions + classes.flatMap(\.methods) }

    public func classNamed(_ name: String) -> ClassInfo? { classes.first { $0.name == name } }
}

/// Builds a `ModuleSurface` from Python source.
public struct SurfaceExtractor {
    let parser: Parser
    let extractor: DefinitionExtractor

    public init() throws {
        let python = try Language.named("python")
        parser = try Parser(language: python)
        extractor = try DefinitionExtractor(language: python)
    }

    /// Parses `source`; throws `TestgenError.syntax` with the errors when it does not parse.
    public func surface(of source: String, moduleName: String) throws -> ModuleSurface {
        let tree = try parser.parse(source)
        let errors = tree.syntaxErrors(limit: 20)
        if !errors.isEmpty { throw TestgenError.syntax(errors.map(\.description)) }
        let definitions = extractor.definitions(in: tree)

        // Only module-level functions and classes, and methods directly in those classes, are public API.
        var topLevel: [Int: Node] = [:]
        var topLevelNames = Set<String>()
        var moduleConstants: [String] = []
        for statement in tree.root.namedChildren {
            let inner = statement.type == "decorated_definition" ? statement.child(byField: "definition") : statement
            guard let node = inner else { continue }
            if node.type == "function_definition" || node.type == "class_definition" {
                topLevel[node.start.line] = node
                if let name = node.child(byField: "name")?.text { topLevelNames.insert(name) }
            } else if node.type == "expression_statement", let assignment = node.namedChild(0),
                      assignment.type == "assignment", let left = assignment.child(byField: "left"),
                      left.type == "identifier" {
                topLevelNames.insert(left.text)
                if let right = assignment.child(byField: "right") { moduleConstants += Self.literals(in: right) }
            }
        }
        func isMethodOfTopLevelClass(_ definition: Definition) -> Bool {
            guard let owner = definition.owner else { return false }
            return topLevel.values.contains { node in
                node.type == "class_definition" && node.child(byField: "name")?.text == owner
                    && node.child(byField: "body")?.namedChildren.contains { child in
                        let def = child.type == "decorated_definition" ? child.child(byField: "definition") : child
                        return def?.start.line == definition.start.line
                    } == true
            }
        }

        var functions: [ModuleSurface.Callable] = []
        var privateFunctions: [ModuleSurface.Callable] = []
        var classes: [ModuleSurface.ClassInfo] = []
        var privateClasses: [ModuleSurface.ClassInfo] = []
        for definition in definitions {
            let dunder = definition.name.hasPrefix("__")
            switch definition.kind {
            case .function where topLevel[definition.start.line] != nil && !dunder:
                let function = callable(definition, node: topLevel[definition.start.line]!)
                if definition.name.hasPrefix("_") { privateFunctions.append(function) } else { functions.append(function) }
            // Private classes too (a reader's `_Chunk`), after the public ones; their methods named `_x` stay out.
            case .class where topLevel[definition.start.line] != nil && !dunder:
                let info = classInfo(definition, node: topLevel[definition.start.line]!)
                if definition.name.hasPrefix("_") { privateClasses.append(info) } else { classes.append(info) }
            default: break
            }
        }
        classes += privateClasses
        // A class that defines `__new__` but no `__init__` (immutable numeric types) is built through `__new__`.
        var newParameters: [Int: [ParameterSpec]] = [:]
        var hasInit = Set<Int>()
        for definition in definitions where definition.kind == .method && isMethodOfTopLevelClass(definition) {
            guard let index = classes.firstIndex(where: { $0.name == definition.owner }) else { continue }
            let node = Self.node(atLine: definition.start.line, in: tree.root, type: "function_definition")
            if definition.name == "__init__" {
                classes[index].initParameters = definition.parameters.filter { $0.kind != .receiver }.map(ParameterSpec.init)
                hasInit.insert(index)
                if let node {
                    classes[index].fields = Self.instanceFields(in: node,
                                                                excluding: Set(classes[index].initParameters.map(\.name)))
                }
            }
            if definition.name == "__new__" {
                var parameters = definition.parameters.filter { $0.kind != .receiver }.map(ParameterSpec.init)
                if parameters.first?.name == "cls" { parameters.removeFirst() }
                newParameters[index] = parameters.filter { !$0.name.hasPrefix("_") || $0.defaultValue == nil }
            }
            if definition.name.hasPrefix("__") && definition.name.hasSuffix("__") {
                classes[index].dunders.insert(definition.name)
                if let node { classes[index].constants += Self.constants(in: node) }
                continue
            }
            guard !definition.name.hasPrefix("_"), let node else { continue }
            classes[index].methods.append(callable(definition, node: node))
        }
        for (index, parameters) in newParameters where !hasInit.contains(index) && classes[index].initParameters.isEmpty {
            classes[index].initParameters = parameters
        }
        Self.inheritInit(&classes, hasInit: Set(hasInit.map { classes[$0].name }).union(newParameters.keys.map { classes[$0].name }))
        var surface = ModuleSurface(moduleName: moduleName, functions: functions, classes: classes,
                                    moduleConstants: Self.unique(moduleConstants), topLevelNames: topLevelNames)
        surface.privateFunctions = privateFunctions
        return surface
    }

    /// A class without `__init__` (or `__new__`) of its own is built with the parameters of the nearest base class
    /// of the module that has one (`class InterpolationSyntaxError(InterpolationError)`, `class
    /// ConfigParser(RawConfigParser)`), and can set that base's public fields.
    static func inheritInit(_ classes: inout [ModuleSurface.ClassInfo], hasInit: Set<String>) {
        let byName = Dictionary(classes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for index in classes.indices where !hasInit.contains(classes[index].name) && classes[index].initParameters.isEmpty {
            var visited: Set<String> = [classes[index].name]
            var queue = classes[index].bases.map { String($0.split(separator: "[").first ?? "") }
            while !queue.isEmpty {
                let base = queue.removeFirst()
                guard visited.insert(base).inserted, let info = byName[base] else { continue }
                if hasInit.contains(base) {
                    classes[index].initParameters = info.initParameters
                    if classes[index].fields.isEmpty { classes[index].fields = info.fields }
                    break
                }
                queue += info.bases.map { String($0.split(separator: "[").first ?? "") }
            }
        }
    }

    private func callable(_ definition: Definition, node: Node) -> ModuleSurface.Callable {
        var kind: ModuleSurface.Callable.Kind = definition.owner == nil ? .function : .method
        if definition.decorators.contains(where: { $0.hasPrefix("@staticmethod") }) { kind = .staticMethod }
        if definition.decorators.contains(where: { $0.hasPrefix("@classmethod") }) { kind = .classMethod }
        if definition.decorators.contains(where: { $0.hasPrefix("@property") || $0.hasPrefix("@functools.cached_property")
            || $0.hasPrefix("@cached_property") }) { kind = .property }
        var parameters = definition.parameters.filter { $0.kind != .receiver }.map(ParameterSpec.init)
        if kind == .classMethod, parameters.first?.name == "cls" { parameters.removeFirst() }
        return ModuleSurface.Callable(
            kind: kind, name: definition.name, qualifiedName: definition.qualifiedName, owner: definition.owner,
            parameters: parameters, returnType: definition.returnType, constants: Self.constants(in: node),
            examples: Self.examples(in: definition.docstring), line: definition.start.line,
            usage: Self.usage(of: Set(parameters.filter { $0.type == nil }.map(\.name)), in: node),
            attributes: Self.attributes(of: Set(parameters.filter { $0.type == nil }.map(\.name)), in: node))
    }

    /// For each parameter name, the attributes the body uses on it (`name.attr`).
    static func attributes(of names: Set<String>, in function: Node) -> [String: Set<String>] {
        guard !names.isEmpty, let body = function.child(byField: "body") else { return [:] }
        var found: [String: Set<String>] = [:]
        body.walk { node in
            if node.type == "attribute", let object = node.child(byField: "object"), object.type == "identifier",
               names.contains(object.text), let attribute = node.child(byField: "attribute")?.text {
                found[object.text, default: []].insert(attribute)
            }
            return true
        }
        return found
    }

    // MARK: Types from use

    static let stringMethods: Set<String> = ["lower", "upper", "strip", "lstrip", "rstrip", "split", "rsplit",
        "startswith", "endswith", "replace", "find", "rfind", "splitlines", "isdigit", "isalpha", "isspace", "join",
        "encode", "expandtabs", "partition", "rpartition", "casefold", "isalnum", "isupper", "islower", "title",
        "format", "ljust", "rjust", "center", "zfill", "translate", "removeprefix", "removesuffix"]
    static let listMethods: Set<String> = ["append", "extend", "pop", "insert", "sort", "reverse", "remove"]
    static let dictMethods: Set<String> = ["items", "keys", "values", "get", "setdefault", "update"]
    static let bytesMethods: Set<String> = ["decode", "hex"]
    static let streamMethods: Set<String> = ["read", "readline", "readlines", "write", "writelines", "seek", "tell",
                                             "flush", "getvalue"]

    /// Calls whose argument is a file's or folder's name.
    static let pathFunctions: Set<String> = ["open", "io.open", "builtins.open", "tokenize.open", "codecs.open",
        "gzip.open", "bz2.open", "lzma.open", "os.listdir", "os.scandir", "os.walk", "os.stat", "os.lstat",
        "os.path.isdir", "os.path.isfile", "os.path.exists", "os.path.getsize", "os.path.getmtime", "os.path.islink",
        "os.fspath", "pathlib.Path", "Path", "glob.glob", "os.path.expanduser", "os.access"]

    /// A bytes literal (`b'...'`, `rb"..."`).
    static func isBytesLiteral(_ node: Node) -> Bool {
        guard node.type == "string" else { return false }
        return node.text.prefix { $0 != "'" && $0 != "\"" }.lowercased().contains("b")
    }

    /// For each parameter name, the type its uses in the function body point to, when they agree on one:
    /// arithmetic or comparison with a number (float when a float literal is involved), string methods or
    /// comparison with a string, list and dict methods, `range()`/`int()` arguments.
    static func usage(of names: Set<String>, in function: Node) -> [String: String] {
        guard !names.isEmpty, let body = function.child(byField: "body") else { return [:] }
        var votes: [String: [String: Int]] = [:]
        func vote(_ name: String, _ type: String) { votes[name, default: [:]][type, default: 0] += 1 }
        func numericKind(_ nodes: [Node]) -> String? {
            if nodes.contains(where: { $0.type == "float" || ($0.type == "unary_operator" && $0.text.contains(".")) }) {
                return "float"
            }
            if nodes.contains(where: { $0.type == "integer" || $0.type == "unary_operator" }) { return "int" }
            return nil
        }
        body.walk { node in
            guard node.type == "identifier", names.contains(node.text), let parent = node.parent else { return true }
            let name = node.text
            switch parent.type {
            case "binary_operator":
                let op = parent.child(byField: "operator")?.text ?? ""
                let others = parent.namedChildren.filter { $0 != node }
                if op == "%" && others.first?.type == "string" { break }
                if let numeric = numericKind(others) {
                    vote(name, op == "/" ? "float" : numeric)
                } else if let string = others.first(where: { $0.type == "string" }) {
                    vote(name, isBytesLiteral(string) ? "bytes" : "str")
                } else if ["-", "/", "**", "//"].contains(op) {
                    vote(name, "float")
                }
            case "comparison_operator":
                let others = parent.namedChildren.filter { $0 != node }
                if let numeric = numericKind(others) { vote(name, numeric) }
                if let string = others.first(where: { $0.type == "string" }), !parent.text.contains(" in ") {
                    vote(name, isBytesLiteral(string) ? "bytes" : "str")
                }
            case "attribute":
                guard parent.child(byField: "object") == node, let attribute = parent.child(byField: "attribute")?.text,
                      parent.parent?.type == "call" else { break }
                if stringMethods.contains(attribute) { vote(name, "str") }
                if listMethods.contains(attribute) { vote(name, "list") }
                if dictMethods.contains(attribute) { vote(name, "dict") }
                if bytesMethods.contains(attribute) { vote(name, "bytes") }
                if streamMethods.contains(attribute) { vote(name, "IO") }
            case "argument_list":
                if let call = parent.parent, call.type == "call", let function = call.child(byField: "function")?.text {
                    if ["range", "chr", "bin", "hex"].contains(function) { vote(name, "int") }
                    if ["math.sqrt", "math.floor", "math.ceil", "math.log", "math.exp", "float", "round", "abs",
                        "math.isclose", "math.fabs"].contains(function) { vote(name, "float") }
                    if ["ord"].contains(function) { vote(name, "str") }
                    if pathFunctions.contains(function) { vote(name, "path") }
                }
            case "augmented_assignment":
                if let right = parent.child(byField: "right"), let numeric = numericKind([right]) { vote(name, numeric) }
            default: break
            }
            return true
        }
        var result: [String: String] = [:]
        for (name, counts) in votes {
            let kinds = Set(counts.keys)
            if kinds == ["float"] || kinds == ["int", "float"] { result[name] = "float" }
            else if kinds == ["int"] { result[name] = "int" }
            else if kinds.count == 1 { result[name] = kinds.first! }
        }
        return result
    }

    private func classInfo(_ definition: Definition, node: Node) -> ModuleSurface.ClassInfo {
        let bases = node.child(byField: "superclasses")?.namedChildren.map(\.text) ?? []
        let isException = bases.contains { $0.hasSuffix("Error") || $0.hasSuffix("Exception") || $0 == "Warning" }
        let isEnum = bases.contains { $0.hasSuffix("Enum") || $0 == "Flag" || $0.hasSuffix(".Flag") }
        var fields: [ParameterSpec] = []
        var members: [String] = []
        // Protocol and operator methods bound by assignment (`__add__, __radd__ = _operator_fallbacks(...)`,
        // `__hash__ = None` excluded): exercised through the operators like defined ones.
        var assignedDunders = Set<String>()
        for statement in node.child(byField: "body")?.namedChildren ?? [] {
            guard statement.type == "expression_statement", let assignment = statement.namedChild(0),
                  assignment.type == "assignment", let left = assignment.child(byField: "left"),
                  assignment.child(byField: "right")?.text != "None" else { continue }
            let names = left.type == "identifier" ? [left] : left.namedChildren.filter { $0.type == "identifier" }
            for name in names.map(\.text) where name.count > 4 && name.hasPrefix("__") && name.hasSuffix("__") {
                assignedDunders.insert(name)
            }
        }
        for statement in node.child(byField: "body")?.namedChildren ?? [] {
            guard statement.type == "expression_statement", let assignment = statement.namedChild(0),
                  assignment.type == "assignment", let left = assignment.child(byField: "left"),
                  left.type == "identifier", !left.text.hasPrefix("_") else { continue }
            let type = assignment.child(byField: "type")?.text
            let value = assignment.child(byField: "right")?.text
            if isEnum { members.append("\(definition.name).\(left.text)") } else if type != nil, type?.hasPrefix("ClassVar") == false {
                fields.append(ParameterSpec(name: left.text, type: type, defaultValue: value, kind: .regular))
            }
        }
        let isDataclass = definition.decorators.contains { $0.contains("dataclass") }
        return ModuleSurface.ClassInfo(name: definition.name, bases: bases,
                                       initParameters: isDataclass ? fields : [], methods: [],
                                       enumMembers: members, isException: isException, dunders: assignedDunders,
                                       constants: [])
    }

    static let fieldLimit = 16

    /// Public attributes assigned on `self` in a method body (`self.debug = 0`), other than those named like one
    /// of `excluding` (the parameters), at most `fieldLimit`; the default is the literal assigned, if one is.
    static func instanceFields(in function: Node, excluding: Set<String>) -> [ParameterSpec] {
        guard let body = function.child(byField: "body") else { return [] }
        var fields: [ParameterSpec] = []
        var seen = excluding
        body.walk { node in
            guard node.type == "assignment" else { return true }
            if let left = node.child(byField: "left"), left.type == "attribute",
               left.child(byField: "object")?.text == "self", let name = left.child(byField: "attribute")?.text,
               !name.hasPrefix("_"), fields.count < fieldLimit, seen.insert(name).inserted {
                let right = node.child(byField: "right")
                let literal = right.flatMap { ["integer", "float", "string", "true", "false"].contains($0.type)
                    && $0.text.count <= 80 && !$0.namedChildren.contains { $0.type == "interpolation" } ? $0.text : nil }
                fields.append(ParameterSpec(name: name, type: nil, defaultValue: literal, kind: .regular))
            }
            return true
        }
        return fields
    }

    // MARK: Literal constants

    /// Literals in a function: first those in comparisons (`x > 100`, `s == "end"`), then every other literal.
    static func constants(in function: Node) -> [String] {
        var compared: [String] = []
        var others: [String] = []
        guard let body = function.child(byField: "body") else { return [] }
        body.walk { node in
            if node.type == "comparison_operator" {
                for child in node.namedChildren { compared += literals(in: child, shallow: true) }
            } else if node.type == "call", let name = node.child(byField: "function")?.text,
                      name.hasSuffix("startswith") || name.hasSuffix("endswith") || name.hasSuffix("split")
                        || name.hasSuffix("get") {
                compared += node.child(byField: "arguments").map { literals(in: $0) } ?? []
            } else if ["integer", "float", "string"].contains(node.type) {
                others += literals(in: node, shallow: true)
            }
            return true
        }
        return unique(compared + others)
    }

    /// Literal values at or inside `node`, as Python source (negative numbers keep their sign).
    static func literals(in node: Node, shallow: Bool = false) -> [String] {
        switch node.type {
        case "integer", "float": return [node.text]
        case "true", "false", "none": return [node.text]
        case "string":
            // Plain string literals only: f-strings hold expressions.
            if node.namedChildren.contains(where: { $0.type == "interpolation" }) { return [] }
            return node.text.count <= 80 ? [node.text] : []
        case "unary_operator":
            if let operand = node.child(byField: "argument"), ["integer", "float"].contains(operand.type) {
                return [node.text.replacingOccurrences(of: " ", with: "")]
            }
            return []
        default:
            if shallow && !["tuple", "list", "set", "parenthesized_expression", "argument_list"].contains(node.type) {
                return []
            }
            return node.namedChildren.flatMap { literals(in: $0, shallow: shallow) }
        }
    }

    /// The call expressions of `>>> ` lines in a docstring.
    static func examples(in docstring: String?) -> [String] {
        guard let docstring else { return [] }
        return docstring.split(separator: "\n").compactMap { line in
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            guard trimmed.hasPrefix(">>> ") else { return nil }
            return String(trimmed.dropFirst(4))
        }
    }

    static func node(atLine line: Int, in root: Node, type: String) -> Node? {
        var found: Node?
        root.walk { node in
            if found != nil { return false }
            if node.type == type && node.start.line == line { found = node; return false }
            return node.start.line <= line && line <= node.end.line
        }
        return found
    }

    static func unique(_ values: [String]) -> [String] {
        var seen = Set<String>()
        return values.filter { seen.insert($0).inserted }
    }
}

/// A parameter as testgen uses it (Syntax's `Parameter`, which has no public initializer, plus dataclass fields).
public struct ParameterSpec: Sendable {
    public var name: String
    public var type: String?
    public var defaultValue: String?
    public var kind: Parameter.Kind

    public init(name: String, type: String?, defaultValue: String?, kind: Parameter.Kind) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.kind = kind
    }

    init(_ parameter: Parameter) {
        self.init(name: parameter.name, type: parameter.type, defaultValue: parameter.defaultValue, kind: parameter.kind)
    }
}
