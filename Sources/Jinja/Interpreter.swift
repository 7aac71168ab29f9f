import Foundation

/// Variables visible at one level: the template's globals, a for-loop iteration, a macro call.
final class Scope: @unchecked Sendable {
    var vars: [String: Value] = [:]
    let parent: Scope?
    init(parent: Scope?) { self.parent = parent }

    func lookup(_ name: String) -> Value? {
        var scope: Scope? = self
        while let s = scope {
            if let v = s.vars[name] { return v }
            scope = s.parent
        }
        return nil
    }
}

extension Expr: @unchecked Sendable {}
extension Node: @unchecked Sendable {}
extension MacroDefinition: @unchecked Sendable {}

/// Runs a parsed template the way Jinja2's sandboxed environment does (as Hugging Face transformers sets it up).
final class Interpreter {
    let now: Date
    let timeZone: TimeZone

    init(now: Date, timeZone: TimeZone) {
        self.now = now
        self.timeZone = timeZone
    }

    enum Flow { case normal, breakLoop, continueLoop }

    /// Macro calls in progress, and how deep they may nest: an endless recursion must end in an error, not in a
    /// stack overflow (a server renders on threads with small stacks).
    var callDepth = 0
    static let maxCallDepth = 32

    func enterCall(_ name: String, _ position: SourcePosition) throws {
        guard callDepth < Self.maxCallDepth else {
            throw error("macro '\(name)' nested more than \(Self.maxCallDepth) calls deep (an endless recursion?)", position)
        }
        callDepth += 1
    }

    func error(_ message: String, _ position: SourcePosition?) -> TemplateError {
        TemplateError(kind: .runtime, message: message, position: position)
    }

    // MARK: statements

    func execute(_ nodes: [Node], _ scope: Scope, _ out: inout String) throws -> Flow {
        for node in nodes {
            switch node {
            case .text(let text):
                out += text
            case .output(let expr):
                out += try evaluate(expr, scope).pythonString
            case .ifChain(let branches, let otherwise):
                var taken = false
                for (condition, body) in branches where try evaluate(condition, scope).truthy {
                    taken = true
                    let flow = try execute(body, scope, &out)
                    if flow != .normal { return flow }
                    break
                }
                if !taken {
                    let flow = try execute(otherwise, scope, &out)
                    if flow != .normal { return flow }
                }
            case .forLoop(let target, let iterableExpr, let condition, let body, let otherwise, let position):
                let iterable = try evaluate(iterableExpr, scope)
                var items = try iterate(iterable, iterableExpr.position)
                if let condition {
                    items = try items.filter { item in
                        let s = Scope(parent: scope)
                        try assign(target, item, s, position)
                        return try evaluate(condition, s).truthy
                    }
                }
                if items.isEmpty {
                    let flow = try execute(otherwise, scope, &out)
                    if flow != .normal { return flow }
                    continue
                }
                let length = items.count
                for (i, item) in items.enumerated() {
                    let s = Scope(parent: scope)
                    try assign(target, item, s, position)
                    var loop = Value.Dict()
                    loop["index0"] = .int(i)
                    loop["index"] = .int(i + 1)
                    loop["revindex0"] = .int(length - i - 1)
                    loop["revindex"] = .int(length - i)
                    loop["first"] = .bool(i == 0)
                    loop["last"] = .bool(i == length - 1)
                    loop["length"] = .int(length)
                    loop["depth"] = .int(1)
                    loop["depth0"] = .int(0)
                    loop["previtem"] = i > 0 ? items[i - 1] : .undefined("there is no previous item")
                    loop["nextitem"] = i < length - 1 ? items[i + 1] : .undefined("there is no next item")
                    loop["cycle"] = .callable(Value.Callable(name: "cycle") { args, _ in
                        guard !args.isEmpty else {
                            throw TemplateError(kind: .runtime, message: "no items for cycling given", position: nil)
                        }
                        return args[i % args.count]
                    })
                    s.vars["loop"] = .dict(loop)
                    if try execute(body, s, &out) == .breakLoop { break }
                }
            case .set(let target, let expr, let position):
                try assign(target, try evaluate(expr, scope), scope, position)
            case .setBlock(let target, let body, let filters, let position):
                var captured = ""
                _ = try execute(body, Scope(parent: scope), &captured)
                var value = Value.string(captured)
                for (name, args, kwargs, p) in filters {
                    value = try applyFilter(name, value, args.map { try evaluate($0, scope) },
                                            kwargs.map { ($0.0, try evaluate($0.1, scope)) }, p, scope)
                }
                try assign(target, value, scope, position)
            case .macro(let definition):
                scope.vars[definition.name] = makeMacro(definition, scope)
            case .callBlock(let call, let parameters, let body):
                guard case .call(let calleeExpr, let argExprs, let kwargExprs) = call.kind else { continue }
                let callee = try evaluate(calleeExpr, scope)
                let caller = Value.callable(Value.Callable(name: "caller", context: { args, kwargs, ctx in
                    try ctx.interpreter.enterCall("caller", ctx.position)
                    defer { ctx.interpreter.callDepth -= 1 }
                    let s = Scope(parent: scope)
                    try ctx.interpreter.bind(parameters, args, kwargs, into: s, name: "caller", ctx.position)
                    var text = ""
                    _ = try ctx.interpreter.execute(body, s, &text)
                    return .string(text)
                }))
                let args = try argExprs.map { try evaluate($0, scope) }
                var kwargs = try kwargExprs.map { ($0.0, try evaluate($0.1, scope)) }
                kwargs.append(("caller", caller))
                out += try invoke(callee, args, kwargs, call.position).pythonString
            case .filterBlock(let filters, let body):
                var captured = ""
                _ = try execute(body, Scope(parent: scope), &captured)
                var value = Value.string(captured)
                for (name, args, kwargs, p) in filters {
                    value = try applyFilter(name, value, args.map { try evaluate($0, scope) },
                                            kwargs.map { ($0.0, try evaluate($0.1, scope)) }, p, scope)
                }
                out += value.pythonString
            case .doExpr(let expr):
                _ = try evaluate(expr, scope)
            case .breakLoop:
                return .breakLoop
            case .continueLoop:
                return .continueLoop
            }
        }
        return .normal
    }

    func assign(_ target: Target, _ value: Value, _ scope: Scope, _ position: SourcePosition) throws {
        switch target {
        case .name(let name):
            scope.vars[name] = value
        case .tuple(let names):
            let items = try iterate(value, position)
            guard items.count == names.count else {
                throw error(items.count > names.count ? "too many values to unpack (expected \(names.count))"
                                : "not enough values to unpack (expected \(names.count), got \(items.count))", position)
            }
            for (name, item) in zip(names, items) { scope.vars[name] = item }
        case .attribute(let ns, let attribute):
            guard case .namespace(let object)? = scope.lookup(ns) else {
                throw error("cannot assign attribute on non-namespace object '\(ns)'", position)
            }
            object.attributes[attribute] = value
        }
    }

    /// The items a for loop (or a filter) walks over: list items, dict keys, string characters.
    func iterate(_ value: Value, _ position: SourcePosition?) throws -> [Value] {
        switch value {
        case .array(let a), .tuple(let a): return a
        case .dict(let d): return d.keyValues
        case .string(let s): return s.unicodeScalars.map { .string(String($0)) }
        case .undefined: return []
        case .namespace(let ns): return ns.attributes.keys.map { .string($0) }
        default: throw error("'\(value.typeName)' object is not iterable", position)
        }
    }

    // MARK: macros

    func makeMacro(_ definition: MacroDefinition, _ scope: Scope) -> Value {
        .callable(Value.Callable(name: definition.name, context: { args, kwargs, ctx in
            try ctx.interpreter.enterCall(definition.name, ctx.position)
            defer { ctx.interpreter.callDepth -= 1 }
            let s = Scope(parent: scope)
            try ctx.interpreter.bind(definition.parameters, args, kwargs, into: s, name: definition.name, ctx.position)
            var text = ""
            _ = try ctx.interpreter.execute(definition.body, s, &text)
            return .string(text)
        }))
    }

    /// Binds call arguments to a macro's parameters; extras go to `varargs`/`kwargs` as in Jinja2.
    func bind(_ parameters: [(String, Expr?)], _ args: [Value], _ kwargs: [(String, Value)], into scope: Scope,
              name: String, _ position: SourcePosition) throws {
        var extraKwargs = Value.Dict()
        var given: [String: Value] = [:]
        for (k, v) in kwargs {
            if k == "caller" { scope.vars["caller"] = v; continue }
            if parameters.contains(where: { $0.0 == k }) { given[k] = v } else { extraKwargs[k] = v }
        }
        for (i, (pname, defaultExpr)) in parameters.enumerated() {
            if i < args.count {
                if given[pname] != nil { throw error("macro '\(name)' got multiple values for argument '\(pname)'", position) }
                scope.vars[pname] = args[i]
            } else if let v = given[pname] {
                scope.vars[pname] = v
            } else if let defaultExpr {
                scope.vars[pname] = try evaluate(defaultExpr, scope)
            } else {
                scope.vars[pname] = .undefined("parameter '\(pname)' was not provided")
            }
        }
        scope.vars["varargs"] = .array(args.count > parameters.count ? Array(args[parameters.count...]) : [])
        scope.vars["kwargs"] = .dict(extraKwargs)
    }

    // MARK: expressions

    func evaluate(_ expr: Expr, _ scope: Scope) throws -> Value {
        switch expr.kind {
        case .literal(let v):
            return v
        case .name(let name):
            return scope.lookup(name) ?? .undefined("'\(name)' is undefined")
        case .list(let items):
            return .array(try items.map { try evaluate($0, scope) })
        case .tuple(let items):
            return .tuple(try items.map { try evaluate($0, scope) })
        case .dict(let pairs):
            var d = Value.Dict()
            for (k, v) in pairs {
                let key = try evaluate(k, scope)
                guard d.set(key, try evaluate(v, scope)) else { throw error("unhashable type: '\(key.typeName)'", k.position) }
            }
            return .dict(d)
        case .attribute(let objectExpr, let name):
            return try attribute(try evaluate(objectExpr, scope), name, expr.position)
        case .item(let objectExpr, let keyExpr):
            return try item(try evaluate(objectExpr, scope), try evaluate(keyExpr, scope), expr.position)
        case .slice(let objectExpr, let startExpr, let stopExpr, let stepExpr):
            let object = try evaluate(objectExpr, scope)
            func bound(_ e: Expr?) throws -> Int? {
                guard let e else { return nil }
                switch try evaluate(e, scope) {
                case .none: return nil
                case .int(let i): return i
                case .bool(let b): return b ? 1 : 0
                default: throw error("slice indices must be integers or None", e.position)
                }
            }
            return try slice(object, try bound(startExpr), try bound(stopExpr), try bound(stepExpr), expr.position)
        case .call(let calleeExpr, let argExprs, let kwargExprs):
            let callee = try evaluate(calleeExpr, scope)
            let args = try argExprs.map { try evaluate($0, scope) }
            let kwargs = try kwargExprs.map { ($0.0, try evaluate($0.1, scope)) }
            return try invoke(callee, args, kwargs, expr.position)
        case .filter(let valueExpr, let name, let argExprs, let kwargExprs):
            let value = try evaluate(valueExpr, scope)
            if ["e", "escape"].contains(name) && Self.isMarkup(valueExpr) { return value }  // already safe
            let args = try argExprs.map { try evaluate($0, scope) }
            let kwargs = try kwargExprs.map { ($0.0, try evaluate($0.1, scope)) }
            return try applyFilter(name, value, args, kwargs, expr.position, scope)
        case .test(let valueExpr, let name, let argExprs, let negated):
            let value = try evaluate(valueExpr, scope)
            let args = try argExprs.map { try evaluate($0, scope) }
            let result = try applyTest(name, value, args, expr.position, scope)
            return .bool(result != negated)
        case .unary(let op, let operandExpr):
            let operand = try evaluate(operandExpr, scope)
            switch operand {
            case .int(let i): return .int(op == "-" ? -i : i)
            case .bool(let b): return .int(op == "-" ? -(b ? 1 : 0) : (b ? 1 : 0))
            case .double(let d): return .double(op == "-" ? -d : d)
            case .undefined(let message): throw error(message, expr.position)
            default: throw error("bad operand type for unary \(op): '\(operand.typeName)'", expr.position)
            }
        case .binary(let op, let leftExpr, let rightExpr):
            var left = try evaluate(leftExpr, scope), right = try evaluate(rightExpr, scope)
            // Markup (`|safe`, `|e`) joined with `+` or formatted with `%` escapes the plain strings it meets.
            let markupLeft = Self.isMarkup(leftExpr), markupRight = Self.isMarkup(rightExpr)
            if op == "+" && markupLeft != markupRight {
                if markupLeft, case .string(let s) = right { right = .string(Methods.htmlEscape(s)) }
                if markupRight, case .string(let s) = left { left = .string(Methods.htmlEscape(s)) }
            } else if op == "%" && markupLeft {
                right = Self.escapeStrings(right)
            }
            return try binary(op, left, right, expr.position)
        case .and(let leftExpr, let rightExpr):
            let left = try evaluate(leftExpr, scope)
            return left.truthy ? try evaluate(rightExpr, scope) : left
        case .or(let leftExpr, let rightExpr):
            let left = try evaluate(leftExpr, scope)
            return left.truthy ? left : try evaluate(rightExpr, scope)
        case .not(let operandExpr):
            return .bool(!(try evaluate(operandExpr, scope).truthy))
        case .compare(let firstExpr, let ops):
            var left = try evaluate(firstExpr, scope)
            for (op, rightExpr) in ops {
                let right = try evaluate(rightExpr, scope)
                if !(try compare(op, left, right, rightExpr.position)) { return .bool(false) }
                left = right
            }
            return .bool(true)
        case .conditional(let valueExpr, let testExpr, let otherwiseExpr):
            if try evaluate(testExpr, scope).truthy { return try evaluate(valueExpr, scope) }
            if let otherwiseExpr { return try evaluate(otherwiseExpr, scope) }
            return .undefined("the inline if-expression on \(expr.position) evaluated to false and no else section was defined.")
        }
    }

    /// Whether an expression gives Markup in Jinja2 (autoescape off): `|safe` and `|e`, kept through `|string`,
    /// `|trim` and `+`/`*`/`%` with Markup on the left. Markup held in variables is not tracked.
    static func isMarkup(_ expr: Expr) -> Bool {
        switch expr.kind {
        case .filter(let inner, let name, _, _):
            if ["safe", "e", "escape", "forceescape"].contains(name) { return true }
            return ["string", "trim"].contains(name) && isMarkup(inner)
        case .binary(let op, let left, let right):
            return (["+", "*", "%"].contains(op) && isMarkup(left)) || (op == "+" && isMarkup(right))
        default:
            return false
        }
    }

    static func escapeStrings(_ value: Value) -> Value {
        switch value {
        case .string(let s): return .string(Methods.htmlEscape(s))
        case .tuple(let items): return .tuple(items.map(escapeStrings))
        default: return value
        }
    }

    func invoke(_ callee: Value, _ args: [Value], _ kwargs: [(String, Value)], _ position: SourcePosition) throws -> Value {
        switch callee {
        case .callable(let c):
            do {
                return try c.body(args, kwargs, CallContext(interpreter: self, position: position))
            } catch var e as TemplateError {
                if e.position == nil { e.position = position }
                throw e
            }
        case .undefined(let message):
            throw error(message, position)
        default:
            throw error("'\(callee.typeName)' object is not callable", position)
        }
    }

    /// `a.b`: Python attributes (methods of str, dict and list) first, then items, as Jinja2's getattr does.
    func attribute(_ object: Value, _ name: String, _ position: SourcePosition) throws -> Value {
        switch object {
        case .undefined(let message):
            throw error(message, position)
        case .dict(let d):
            if let method = Methods.method(of: object, name) { return method }
            return d[name] ?? .undefined("'dict object' has no attribute '\(name)'")
        case .namespace(let ns):
            return ns.attributes[name] ?? .undefined("'Namespace object' has no attribute '\(name)'")
        default:
            if let method = Methods.method(of: object, name) { return method }
            return .undefined("'\(object.typeName) object' has no attribute '\(name)'")
        }
    }

    /// `a[b]`: items first, then attributes, as Jinja2's getitem does.
    func item(_ object: Value, _ key: Value, _ position: SourcePosition) throws -> Value {
        switch (object, key) {
        case (.undefined(let message), _):
            throw error(message, position)
        case (.dict(let d), .string(let k)):
            if let v = d[k] { return v }
            if let method = Methods.method(of: object, k) { return method }
            return .undefined("'dict object' has no attribute '\(k)'")
        case (.dict(let d), _):
            return d[value: key] ?? .undefined("'dict object' has no attribute \(key.pythonRepr)")
        case (.namespace, .string(let k)):
            return try attribute(object, k, position)
        case (.array(let a), .int(let i)), (.tuple(let a), .int(let i)):
            let j = i < 0 ? i + a.count : i
            return j >= 0 && j < a.count ? a[j] : .undefined("list object has no element \(i)")
        case (.array(let a), .bool(let b)), (.tuple(let a), .bool(let b)):
            let j = b ? 1 : 0
            return j < a.count ? a[j] : .undefined("list object has no element \(j)")
        case (.string(let s), .int(let i)):
            let scalars = Array(s.unicodeScalars)
            let j = i < 0 ? i + scalars.count : i
            return j >= 0 && j < scalars.count ? .string(String(scalars[j])) : .undefined("str object has no element \(i)")
        case (_, .string(let k)):
            return try attribute(object, k, position)
        default:
            return .undefined("'\(object.typeName) object' has no attribute \(key.pythonRepr)")
        }
    }

    func slice(_ object: Value, _ start: Int?, _ stop: Int?, _ step: Int?, _ position: SourcePosition) throws -> Value {
        let step = step ?? 1
        guard step != 0 else { throw error("slice step cannot be zero", position) }
        func indices(_ count: Int) -> [Int] {
            var result: [Int] = []
            if step > 0 {
                func clamp(_ v: Int) -> Int { v < 0 ? max(0, v + count) : min(v, count) }
                let s = start.map(clamp) ?? 0, e = stop.map(clamp) ?? count
                var i = s
                while i < e { result.append(i); i += step }
            } else {
                func clamp(_ v: Int) -> Int { v < 0 ? max(-1, v + count) : min(v, count - 1) }
                let s = start.map(clamp) ?? count - 1, e = stop.map(clamp) ?? -1
                var i = s
                while i > e { result.append(i); i += step }
            }
            return result
        }
        switch object {
        case .array(let a): return .array(indices(a.count).map { a[$0] })
        case .tuple(let a): return .tuple(indices(a.count).map { a[$0] })
        case .string(let s):
            let scalars = Array(s.unicodeScalars)
            var view = String.UnicodeScalarView()
            for i in indices(scalars.count) { view.append(scalars[i]) }
            return .string(String(view))
        case .undefined(let message): throw error(message, position)
        default: throw error("'\(object.typeName)' object is not subscriptable", position)
        }
    }

    // MARK: operators

    private enum Number { case int(Int), double(Double) }

    private func number(_ v: Value) -> Number? {
        switch v {
        case .int(let i): return .int(i)
        case .bool(let b): return .int(b ? 1 : 0)
        case .double(let d): return .double(d)
        default: return nil
        }
    }

    private func asDouble(_ n: Number) -> Double {
        switch n {
        case .int(let i): return Double(i)
        case .double(let d): return d
        }
    }

    func binary(_ op: String, _ left: Value, _ right: Value, _ position: SourcePosition) throws -> Value {
        if op == "~" { return .string(left.pythonString + right.pythonString) }
        if case .undefined(let message) = left { throw error(message, position) }
        if case .undefined(let message) = right { throw error(message, position) }
        if let l = number(left), let r = number(right) {
            switch (l, r) {
            case (.int(let a), .int(let b)):
                switch op {
                case "+": return .int(a &+ b)
                case "-": return .int(a &- b)
                case "*": return .int(a &* b)
                case "/":
                    guard b != 0 else { throw error("division by zero", position) }
                    return .double(Double(a) / Double(b))
                case "//":
                    guard b != 0 else { throw error("integer division or modulo by zero", position) }
                    let q = a / b
                    return .int((a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q)
                case "%":
                    guard b != 0 else { throw error("integer division or modulo by zero", position) }
                    let m = a % b
                    return .int(m != 0 && (m < 0) != (b < 0) ? m + b : m)
                case "**":
                    if b >= 0 {
                        var result = 1
                        for _ in 0..<b { result = result &* a }
                        return .int(result)
                    }
                    return .double(pow(Double(a), Double(b)))
                default: break
                }
            default:
                let a = asDouble(l), b = asDouble(r)
                switch op {
                case "+": return .double(a + b)
                case "-": return .double(a - b)
                case "*": return .double(a * b)
                case "/":
                    guard b != 0 else { throw error("float division by zero", position) }
                    return .double(a / b)
                case "//":
                    guard b != 0 else { throw error("float floor division by zero", position) }
                    return .double((a / b).rounded(.down))
                case "%":
                    guard b != 0 else { throw error("float modulo", position) }
                    let m = fmod(a, b)
                    return .double(m != 0 && (m < 0) != (b < 0) ? m + b : m)
                case "**": return .double(pow(a, b))
                default: break
                }
            }
        }
        switch (op, left, right) {
        case ("+", .string(let a), .string(let b)): return .string(a + b)
        case ("+", .array(let a), .array(let b)): return .array(a + b)
        case ("+", .tuple(let a), .tuple(let b)): return .tuple(a + b)
        case ("*", .string(let s), .int(let n)), ("*", .int(let n), .string(let s)):
            return .string(String(repeating: s, count: max(0, n)))
        case ("*", .array(let a), .int(let n)), ("*", .int(let n), .array(let a)):
            return .array(Array((0..<max(0, n)).map { _ in a }.joined()))
        case ("+", .string, _):
            throw error("can only concatenate str (not \"\(right.typeName)\") to str", position)
        case ("+", .array, _):
            throw error("can only concatenate list (not \"\(right.typeName)\") to list", position)
        case ("%", .string(let format), _):
            return .string(try Methods.percentFormat(format, right, position))
        default:
            throw error("unsupported operand type(s) for \(op): '\(left.typeName)' and '\(right.typeName)'", position)
        }
    }

    func compare(_ op: String, _ left: Value, _ right: Value, _ position: SourcePosition) throws -> Bool {
        switch op {
        case "==": return Value.equal(left, right)
        case "!=": return !Value.equal(left, right)
        case "in": return try contains(right, left, position)
        case "not in": return !(try contains(right, left, position))
        default: break
        }
        if case .undefined(let message) = left { throw error(message, position) }
        if case .undefined(let message) = right { throw error(message, position) }
        guard let order = Value.order(left, right) else {
            throw error("'\(op)' not supported between instances of '\(left.typeName)' and '\(right.typeName)'", position)
        }
        switch op {
        case "<": return order < 0
        case "<=": return order <= 0
        case ">": return order > 0
        default: return order >= 0
        }
    }

    func contains(_ container: Value, _ item: Value, _ position: SourcePosition?) throws -> Bool {
        switch container {
        case .string(let s):
            guard case .string(let needle) = item else {
                throw error("'in <string>' requires string as left operand, not \(item.typeName)", position)
            }
            return needle.isEmpty || s.contains(needle)
        case .array(let a), .tuple(let a): return a.contains { Value.equal($0, item) }
        case .dict(let d):
            return d[value: item] != nil
        case .namespace(let ns):
            if case .string(let k) = item { return ns.attributes[k] != nil }
            return false
        case .undefined: return false
        default: throw error("argument of type '\(container.typeName)' is not iterable", position)
        }
    }
}

extension Value {
    /// Python's `==` (1 == 1.0 == True; Undefined equals only Undefined).
    public static func equal(_ a: Value, _ b: Value) -> Bool {
        switch (a, b) {
        case (.undefined, .undefined), (.none, .none): return true
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)), (.tuple(let x), .tuple(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case (.dict(let x), .dict(let y)):
            return x.count == y.count && x.keys.allSatisfy { k in y[k].map { equal(x[k]!, $0) } ?? false }
        case (.namespace(let x), .namespace(let y)): return x === y
        default:
            switch (a.numeric, b.numeric) {
            case (let x?, let y?): return x == y
            default: return false
            }
        }
    }

    var numeric: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .bool(let b): return b ? 1 : 0
        case .double(let d): return d
        default: return nil
        }
    }

    /// Python ordering for numbers, strings (by code point) and lists; nil where Python raises.
    static func order(_ a: Value, _ b: Value) -> Int? {
        switch (a, b) {
        case (.string(let x), .string(let y)):
            let xs = Array(x.unicodeScalars), ys = Array(y.unicodeScalars)
            for (p, q) in zip(xs, ys) where p != q { return p.value < q.value ? -1 : 1 }
            return xs.count == ys.count ? 0 : (xs.count < ys.count ? -1 : 1)
        case (.array(let x), .array(let y)), (.tuple(let x), .tuple(let y)):
            for (p, q) in zip(x, y) where !equal(p, q) { return order(p, q) }
            return x.count == y.count ? 0 : (x.count < y.count ? -1 : 1)
        default:
            if case .int(let x) = a, case .int(let y) = b { return x == y ? 0 : (x < y ? -1 : 1) }
            guard let x = a.numeric, let y = b.numeric else { return nil }
            return x == y ? 0 : (x < y ? -1 : 1)
        }
    }
}
