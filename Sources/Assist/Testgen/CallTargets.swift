import Syntax

/// Something a test can exercise: a function, a constructor, a method, a property or a protocol method
/// (`len(obj)`, `list(obj)`), with the candidate values of each parameter.
struct CallTarget {
    /// `attribute`: setting a public attribute of an instance (`obj.debug = 1`), only ever a step before the
    /// call under test, never a target of its own.
    enum Kind { case function, constructor, method, staticMethod, property, dunder(String), attribute }

    var isStatic: Bool {
        if case .staticMethod = kind { return true }
        return false
    }

    var isAttribute: Bool {
        if case .attribute = kind { return true }
        return false
    }

    var kind: Kind
    /// `parse_line`, `Account`, `Account.withdraw`, `Account.__len__`.
    var name: String
    var className: String?
    var parameters: [ParameterSpec]
    var pools: [[String]]
    /// How many values at the head of each pool fit the parameter's type hint.
    var typed: [Int]
    /// For methods: the class's constructor, used to make the receiver.
    var constructor: Int?
    /// Pool sizes before the search added mutated values; of those added, the ones derived from a value outside
    /// the hint.
    var baseCounts: [Int] = []
    var untypedAdded: [Set<Int>] = []
}

/// Builds the targets of a module and turns chosen arguments into test steps.
struct CaseBuilder {
    let surface: ModuleSurface
    let pool: InputPool
    private(set) var targets: [CallTarget] = []

    init(surface: ModuleSurface) {
        self.surface = surface
        self.pool = InputPool(surface: surface)
        for function in surface.functions {
            let (values, typed) = pools(function.parameters, function)
            targets.append(CallTarget(kind: .function, name: function.name, className: nil,
                                      parameters: function.parameters, pools: values, typed: typed))
        }
        // Exception classes count when they have public methods or properties of their own (configparser's
        // `ParsingError.filename`, `append`). Not for a constructor alone: getopt's `GetoptError(msg, opt)` as a
        // target cost getopt 6-10 branch points in two seeded runs (95.3/93.1 -> 90.7/84.5 and 89.7/82.8 %).
        for info in surface.classes where info.enumMembers.isEmpty && (!info.isException || !info.methods.isEmpty) {
            let constructorIndex = targets.count
            let constructorPools = info.initParameters.map {
                pool.pool(for: $0, of: nil, extraConstants: info.constants + info.methods.flatMap(\.constants))
            }
            targets.append(CallTarget(kind: .constructor, name: info.name, className: info.name,
                                      parameters: info.initParameters, pools: constructorPools.map(\.values),
                                      typed: constructorPools.map(\.typed)))
            for method in info.methods {
                let kind: CallTarget.Kind
                switch method.kind {
                case .property: kind = .property
                case .staticMethod, .classMethod: kind = .staticMethod
                default: kind = .method
                }
                let (values, typed) = pools(method.parameters, method)
                targets.append(CallTarget(kind: kind, name: method.qualifiedName, className: info.name,
                                          parameters: method.parameters, pools: values, typed: typed,
                                          constructor: constructorIndex))
            }
            // (`operator.setitem` is the standard library's: not for a module that is itself named `operator`.)
            for dunder in Self.protocolDunders where info.dunders.contains(dunder)
                && !(surface.moduleName == "operator" && ["__setitem__", "__delitem__"].contains(dunder)) {
                let isOperator = Self.binaryOperators[dunder] != nil
                let parameter = ParameterSpec(name: "other", type: isOperator ? info.name : nil, defaultValue: nil,
                                              kind: .regular)
                let takesArgument = isOperator || Self.keyedDunders.contains(dunder)
                var parameters = takesArgument ? [parameter] : []
                if dunder == "__setitem__" {
                    parameters.append(ParameterSpec(name: "value", type: nil, defaultValue: nil, kind: .regular))
                }
                var argumentPools = parameters.map { pool.candidates(for: $0, of: nil, extraConstants: info.constants) }
                if isOperator {
                    // Other operand types too: the int, float and complex branches of numeric types, and the
                    // `NotImplemented` path for the rest.
                    argumentPools = argumentPools.map {
                        ModuleSurface.uniqueValues($0.prefix(6) + Self.otherOperands + $0.dropFirst(6))
                    }
                }
                if Self.keyedDunders.contains(dunder) {
                    argumentPools = [ModuleSurface.uniqueValues(["0", "-1", "1", "'a'", "5"] + info.constants
                                                                + info.methods.flatMap(\.constants))]
                }
                if dunder == "__setitem__" {
                    // The value stored: plain values, a mapping (a section of sections), the class's constants.
                    argumentPools.append(ModuleSurface.uniqueValues(["'x'", "1", "None", "{'a': '1', 'b': 'x'}", "[1, 2]", "''"]
                                                                    + info.constants.prefix(10)))
                }
                targets.append(CallTarget(kind: .dunder(dunder), name: "\(info.name).\(dunder)", className: info.name,
                                          parameters: parameters, pools: argumentPools,
                                          typed: argumentPools.map(\.count), constructor: constructorIndex))
            }
            // `round(obj, n)` beside `round(obj)`; copying and pickling through `copy` and `pickle`.
            if info.dunders.contains("__round__") {
                let ndigits = ParameterSpec(name: "ndigits", type: "int", defaultValue: nil, kind: .regular)
                let values = ["0", "1", "2", "-1", "-2", "3"]
                targets.append(CallTarget(kind: .dunder("__round__"), name: "\(info.name).__round__", className: info.name,
                                          parameters: [ndigits], pools: [values], typed: [values.count],
                                          constructor: constructorIndex))
            }
            for (dunder, _) in Self.copyDunders where info.dunders.contains(dunder) {
                targets.append(CallTarget(kind: .dunder(dunder), name: "\(info.name).\(dunder)", className: info.name,
                                          parameters: [], pools: [], typed: [], constructor: constructorIndex))
            }
            if let dunder = Self.pickleDunders.first(where: { info.dunders.contains($0) }) {
                targets.append(CallTarget(kind: .dunder(dunder), name: "\(info.name).\(dunder)", className: info.name,
                                          parameters: [], pools: [], typed: [], constructor: constructorIndex))
            }
            let methodNames = Set(info.methods.map(\.name))
            for field in info.fields where !methodNames.contains(field.name) {
                let values = pool.pool(for: field, of: nil, extraConstants: info.constants + info.methods.flatMap(\.constants))
                targets.append(CallTarget(kind: .attribute, name: "\(info.name).\(field.name)", className: info.name,
                                          parameters: [field], pools: [values.values], typed: [values.typed],
                                          constructor: constructorIndex))
            }
        }
        // Private helpers last: the sweep reaches the public API first.
        for function in surface.privateFunctions {
            let (values, typed) = pools(function.parameters, function)
            targets.append(CallTarget(kind: .function, name: function.name, className: nil,
                                      parameters: function.parameters, pools: values, typed: typed))
        }
    }

    private func pools(_ parameters: [ParameterSpec], _ callable: ModuleSurface.Callable) -> ([[String]], [Int]) {
        let all = parameters.map { parameter -> InputPool.Candidates in
            switch parameter.kind {
            case .variadic: return InputPool.Candidates(values: ["1", "'a'", "2.5", "None"], typed: 4)
            case .variadicKeyword:
                // `**kwargs`: dicts with string keys, some of them the module's own strings.
                let mined = pool.values(of: .dict, constants: callable.constants + surface.moduleConstants, depth: 0)
                    .filter { $0.hasPrefix("{'") || $0.hasPrefix("{\"") }
                let values = ModuleSurface.uniqueValues(["{'a': 1}", "{'name': 'x', 'value': 2}"] + mined)
                return InputPool.Candidates(values: values, typed: values.count)
            default:
                var parameter = parameter
                // A path the body opens: the pool adds files to the name's kinds (`InputPool.pool`), no type.
                if parameter.type == nil, let used = callable.usage[parameter.name], used != "path" {
                    parameter.type = used == "list" ? "list" : used == "dict" ? "dict" : used
                }
                if parameter.type == nil, let info = instanceClass(parameter.name, callable.attributes[parameter.name] ?? []) {
                    parameter.type = info
                }
                return pool.pool(for: parameter, of: callable)
            }
        }
        return (all.map(\.values), all.map(\.typed))
    }

    /// The module class an unannotated parameter most likely holds: the one whose methods and attributes cover
    /// most of what the body uses on it (at least one method), or the one the parameter is named after
    /// (`lexer` for `Lexer`).
    func instanceClass(_ name: String, _ used: Set<String>) -> String? {
        let candidates = surface.classes.filter { !$0.isException && $0.enumMembers.isEmpty }
        if !used.isEmpty {
            var best: (String, Int)?
            for info in candidates {
                let methods = Set(info.methods.map(\.name)).union(info.dunders)
                let fields = Set(info.initParameters.map(\.name))
                let hits = used.filter { methods.contains($0) }.count
                let all = hits + used.filter { fields.contains($0) }.count
                if hits > 0, all * 2 >= used.count, all > (best?.1 ?? 0) { best = (info.name, all) }
            }
            if let best { return best.0 }
        }
        let plain = name.lowercased().replacingOccurrences(of: "_", with: "")
        return candidates.first { info in
            let className = info.name.lowercased().replacingOccurrences(of: "_", with: "")
            return className.count >= 3 && plain == className
        }?.name
    }

    /// Whether every chosen value fits its parameter's type hint.
    func fitsHints(_ targetIndex: Int, _ choice: Choice) -> Bool {
        let target = targets[targetIndex]
        return choice.enumerated().allSatisfy { i, index in
            guard let index, i < target.pools.count, !target.pools[i].isEmpty else { return true }
            let position = index % target.pools[i].count
            if i < target.baseCounts.count, position >= target.baseCounts[i] {
                return !target.untypedAdded[i].contains(position)
            }
            return position < target.typed[i]
        }
    }

    /// Adds a value found by the search (a mutation of the value at `from`) to a parameter's pool; its index.
    mutating func addValue(_ value: String, target: Int, parameter: Int, from: Int) -> Int {
        if targets[target].baseCounts.isEmpty {
            targets[target].baseCounts = targets[target].pools.map(\.count)
            targets[target].untypedAdded = targets[target].pools.map { _ in [] }
        }
        let index = targets[target].pools[parameter].count
        targets[target].pools[parameter].append(value)
        if !fitsHints(target, targets[target].parameters.indices.map { $0 == parameter ? from : nil }) {
            targets[target].untypedAdded[parameter].insert(index)
        }
        return index
    }

    /// The variable name of a class's instance in tests (`Account` → `account`).
    func instanceName(_ className: String) -> String {
        var name = ""
        for (i, c) in className.enumerated() {
            if c.isUppercase && i > 0 { name += "_" }
            name += c.lowercased()
        }
        // Not a keyword either: a class `Class` (pyclbr) must not make `class = …`.
        if name == surface.moduleName || Self.reserved.contains(name) || PythonValidity.isKeyword(Array(name.utf8)[...]) {
            name += "_obj"
        }
        return name
    }

    static let reserved: Set<String> = ["result", "pytest", "math", "io", "pathlib", "sys", "tmp_path", "list",
                                        "dict", "str", "int", "float", "len", "type", "id", "input", "object",
                                        "set", "iter", "next", "min", "max", "sum", "format", "hash", "repr"]

    /// Arguments chosen by index into each parameter's pool; nil leaves a parameter with a default out.
    typealias Choice = [Int?]

    /// The steps of a case for `target`: the receiver's construction (with `receiverChoice`), optional earlier
    /// method calls, then the call under test.
    func steps(for targetIndex: Int, choice: Choice, receiverChoice: Choice? = nil,
               prelude: [(Int, Choice)] = [], origin: String) -> TestCase {
        let target = targets[targetIndex]
        var steps: [TestStep] = []
        var watch: [String] = []
        var usedNames = Set<String>()
        let module = surface.moduleName
        var receiver = ""
        if let constructor = target.constructor, let className = target.className {
            if case .staticMethod = target.kind {
                receiver = "\(module).\(className)"
            } else {
                receiver = instanceName(className)
                let ctor = targets[constructor]
                let (lets, arguments) = argumentText(ctor, receiverChoice ?? defaultChoice(constructor), &usedNames)
                steps += lets
                steps.append(TestStep("\(module).\(className)(\(arguments))", bind: receiver))
                usedNames.insert(receiver)
                watch.append(receiver)
                for (index, choice) in prelude {
                    let (lets, arguments) = argumentText(targets[index], choice, &usedNames)
                    steps += lets
                    steps.append(TestStep(callText(targets[index], receiver: receiver, arguments: arguments)))
                }
            }
        }
        let (lets, arguments) = argumentText(target, choice, &usedNames)
        steps += lets
        watch += lets.compactMap(\.bind)
        if case .constructor = target.kind {
            let name = instanceName(target.name)
            steps.append(TestStep("\(module).\(target.name)(\(arguments))", bind: name))
            watch.append(name)
        } else {
            steps.append(TestStep(callText(target, receiver: receiver, arguments: arguments)))
        }
        var testCase = TestCase(target: target.name, steps: steps, watch: watch, origin: origin)
        testCase.fitsHints = fitsHints(targetIndex, choice)
            && (target.constructor.map { fitsHints($0, receiverChoice ?? defaultChoice($0)) } ?? true)
            && prelude.allSatisfy { fitsHints($0.0, $0.1) }
        return testCase
    }

    func defaultChoice(_ targetIndex: Int) -> Choice {
        targets[targetIndex].parameters.map {
            $0.defaultValue == nil && $0.kind != .variadic && $0.kind != .variadicKeyword ? 0 : nil
        }
    }

    private func callText(_ target: CallTarget, receiver: String, arguments: String) -> String {
        let method = String(target.name.split(separator: ".").last ?? "")
        switch target.kind {
        case .function: return "\(surface.moduleName).\(target.name)(\(arguments))"
        case .constructor: return "\(surface.moduleName).\(target.name)(\(arguments))"
        case .method, .staticMethod: return "\(receiver).\(method)(\(arguments))"
        case .property: return "\(receiver).\(method)"
        // An expression, as the worker evaluates steps; the test file writes it as an assignment.
        case .attribute: return "setattr(\(receiver), '\(method)', \(arguments))"
        case .dunder(let name):
            switch name {
            case "__len__": return "len(\(receiver))"
            case "__iter__": return "list(\(receiver))"
            case "__repr__": return "repr(\(receiver))"
            case "__str__": return "str(\(receiver))"
            case "__hash__": return "(hash(\(receiver)) == hash(\(receiver)))"
            case "__bool__": return "bool(\(receiver))"
            // Parenthesised: `assert (a == 0) is True`, not the chained `a == 0 is True`.
            case "__contains__": return "(\(arguments) in \(receiver))"
            // Expressions (a step is one): `operator.setitem(obj, key, value)` for `obj[key] = value`.
            case "__setitem__": return "operator.setitem(\(receiver), \(arguments))"
            case "__delitem__": return "operator.delitem(\(receiver), \(arguments))"
            case _ where Self.binaryOperators[name] != nil:
                let symbol = Self.binaryOperators[name]!
                if name.hasPrefix("__r") && !["__rshift__"].contains(name) {
                    return "(\(arguments) \(symbol) \(receiver))"  // reflected: the other operand on the left
                }
                return symbol == "divmod" ? "divmod(\(receiver), \(arguments))" : "(\(receiver) \(symbol) \(arguments))"
            case "__round__" where !arguments.isEmpty: return "round(\(receiver), \(arguments))"
            case _ where Self.copyDunders[name] != nil: return "\(Self.copyDunders[name]!)(\(receiver))"
            case _ where Self.pickleDunders.contains(name): return "pickle.loads(pickle.dumps(\(receiver)))"
            case _ where Self.unaryOperators[name] != nil:
                let form = Self.unaryOperators[name]!
                return form.hasSuffix("(") ? "\(form)\(receiver))" : "(\(form)\(receiver))"
            default: return "\(receiver)[\(arguments)]"
            }
        }
    }

    /// Protocol methods that take a key (or an item): called with the class's constants and a few plain keys.
    static let keyedDunders: Set<String> = ["__contains__", "__getitem__", "__delitem__", "__setitem__"]
    /// Protocol and operator methods exercised through the syntax or built-in that calls them.
    static let protocolDunders = ["__len__", "__iter__", "__repr__", "__str__", "__contains__", "__getitem__",
                                  "__setitem__", "__delitem__", "__hash__", "__bool__"] + binaryOperators.keys.sorted() + unaryOperators.keys.sorted()
    static let binaryOperators: [String: String] = [
        "__eq__": "==", "__ne__": "!=", "__lt__": "<", "__le__": "<=", "__gt__": ">", "__ge__": ">=",
        "__add__": "+", "__sub__": "-", "__mul__": "*", "__truediv__": "/", "__floordiv__": "//", "__mod__": "%",
        "__pow__": "**", "__and__": "&", "__or__": "|", "__xor__": "^", "__lshift__": "<<", "__rshift__": ">>",
        "__matmul__": "@", "__divmod__": "divmod",
        "__radd__": "+", "__rsub__": "-", "__rmul__": "*", "__rtruediv__": "/", "__rfloordiv__": "//",
        "__rmod__": "%", "__rpow__": "**", "__rand__": "&", "__ror__": "|", "__rxor__": "^",
    ]
    static let unaryOperators: [String: String] = [
        "__neg__": "-", "__pos__": "+", "__invert__": "~", "__abs__": "abs(", "__int__": "int(",
        "__float__": "float(", "__complex__": "complex(", "__round__": "round(", "__trunc__": "math.trunc(",
        "__floor__": "math.floor(", "__ceil__": "math.ceil(", "__index__": "hex(",
    ]
    static let copyDunders = ["__copy__": "copy.copy", "__deepcopy__": "copy.deepcopy"]
    static let pickleDunders = ["__reduce__", "__reduce_ex__", "__getstate__", "__setstate__", "__getnewargs__",
                                "__getnewargs_ex__"]
    /// Operands of other types for binary operators (after the few instances of the class itself).
    static let otherOperands = ["1", "0", "-2", "2.5", "(1+2j)", "'a'", "None"]

    /// `(let-steps for mutable arguments, "a, b, key=c")`.
    private func argumentText(_ target: CallTarget, _ choice: Choice, _ used: inout Set<String>) -> ([TestStep], String) {
        var lets: [TestStep] = []
        var positional: [String] = []
        var keywords: [String] = []
        var skipped = false
        for (i, parameter) in target.parameters.enumerated() where i < choice.count {
            guard let index = choice[i], !target.pools[i].isEmpty else {
                if parameter.kind != .variadic { skipped = true }
                continue
            }
            var value = target.pools[i][index % target.pools[i].count]
            var isDunder = false
            if case .dunder = target.kind { isDunder = true }
            if !isDunder, parameter.kind != .variadicKeyword, Self.isMutable(value, module: surface.moduleName) {
                var name = parameter.name.isEmpty ? "arg" : parameter.name
                if name == surface.moduleName || Self.reserved.contains(name) { name += "_arg" }
                var unique = name, n = 2
                while used.contains(unique) { unique = "\(name)\(n)"; n += 1 }
                used.insert(unique)
                lets.append(TestStep(value, bind: unique))
                value = unique
            }
            switch parameter.kind {
            case .keywordOnly: keywords.append("\(parameter.name)=\(value)")
            case .variadic: if !skipped && keywords.isEmpty { positional.append(value) }
            case .variadicKeyword: keywords.append("**\(value)")
            case .positionalOnly: positional.append(value)
            default:
                if skipped || !keywords.isEmpty { keywords.append("\(parameter.name)=\(value)") } else { positional.append(value) }
            }
        }
        return (lets, (positional + keywords).joined(separator: ", "))
    }

    static func isMutable(_ value: String, module: String) -> Bool {
        (value.hasPrefix("[") && value != "[]" && !value.hasPrefix("[[")) || value.hasPrefix("{'") || value.hasPrefix("{1:")
            || value.hasPrefix("io.StringIO") || value.hasPrefix("io.BytesIO") || (value.hasPrefix("\(module).") && value.hasSuffix(")"))
    }

    // MARK: Docstring examples

    /// A case from a callable's `>>>` lines: assignments become bindings, module names are qualified.
    func docstringCase(_ callable: ModuleSurface.Callable, parser: Parser) -> TestCase? {
        guard !callable.examples.isEmpty else { return nil }
        var steps: [TestStep] = []
        for line in callable.examples {
            guard let tree = try? parser.parse(line), !tree.hasErrors,
                  let statement = tree.root.namedChild(0), statement.type == "expression_statement",
                  let expression = statement.namedChild(0) else { return nil }
            if expression.type == "assignment" {
                guard let left = expression.child(byField: "left"), left.type == "identifier",
                      let right = expression.child(byField: "right") else { return nil }
                steps.append(TestStep(qualify(right), bind: left.text))
            } else {
                steps.append(TestStep(qualify(expression)))
            }
        }
        let target = callable.owner == nil ? callable.name : callable.qualifiedName
        return TestCase(target: target, steps: steps, watch: [], origin: "docstring")
    }

    /// The expression's text with the module's top-level names written `module.name`.
    func qualify(_ node: Node) -> String {
        var replacements: [Range<Int>] = []
        node.walk { child in
            if child.type == "identifier", surface.topLevelNames.contains(child.text) {
                let parent = child.parent
                let isAttributeName = parent?.type == "attribute" && parent?.child(byField: "attribute") == child
                let isKeyword = parent?.type == "keyword_argument" && parent?.child(byField: "name") == child
                if !isAttributeName && !isKeyword { replacements.append(child.byteRange) }
            }
            return true
        }
        var bytes = Array(node.text.utf8)
        for range in replacements.sorted(by: { $0.lowerBound > $1.lowerBound }) {
            let local = (range.lowerBound - node.startByte)
            bytes.insert(contentsOf: Array("\(surface.moduleName).".utf8), at: local)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
