/// Turns the lexer's segments into a tree of nodes, following Jinja2's grammar and operator precedence.
struct Parser {
    private let segments: [Segment]
    private var index = 0
    /// Blocks open around the current position; bounded so that parsing and rendering cannot exhaust the stack.
    private var blockDepth = 0
    static let maxNesting = 64

    init(segments: [Segment]) { self.segments = segments }

    mutating func parse() throws -> [Node] {
        let (nodes, end) = try parseBody(until: [])
        if let end {
            throw TemplateError(kind: .syntax, message: "unexpected '\(end.keyword)'", position: end.position)
        }
        return nodes
    }

    private struct EndTag {
        var keyword: String
        var position: SourcePosition
        var stream: TokenStream
    }

    /// Nodes up to one of the `until` tags (returned with its remaining tokens), or to the end of the template.
    private mutating func parseBody(until: Set<String>, opening: (String, SourcePosition)? = nil) throws
        -> ([Node], EndTag?) {
        var nodes: [Node] = []
        while index < segments.count {
            let segment = segments[index]
            index += 1
            switch segment {
            case .text(let text):
                nodes.append(.text(text))
            case .output(let tokens, _):
                var stream = TokenStream(tokens)
                let expr = try stream.parseTuple()
                try stream.expectEnd("'}}'")
                nodes.append(.output(expr))
            case .statement(let tokens, let position):
                var stream = TokenStream(tokens)
                guard stream.current.kind == .name else {
                    throw TemplateError(kind: .syntax, message: "expected a tag name after '{%'",
                                        position: stream.current.position)
                }
                let keyword = stream.next().text
                if until.contains(keyword) { return (nodes, EndTag(keyword: keyword, position: position, stream: stream)) }
                nodes.append(try parseStatement(keyword, &stream, position))
            }
        }
        if let opening {
            let expected = until.sorted().map { "'\($0)'" }.joined(separator: " or ")
            throw TemplateError(kind: .syntax,
                                message: "unexpected end of template: the '\(opening.0)' tag opened here needs \(expected)",
                                position: opening.1)
        }
        return (nodes, nil)
    }

    private mutating func parseStatement(_ keyword: String, _ stream: inout TokenStream, _ position: SourcePosition)
        throws -> Node {
        guard blockDepth < Self.maxNesting else {
            throw TemplateError(kind: .syntax, message: "blocks nested more than \(Self.maxNesting) deep", position: position)
        }
        blockDepth += 1
        defer { blockDepth -= 1 }
        switch keyword {
        case "if":
            var branches: [(Expr, [Node])] = []
            var condition = try stream.parseExpression()
            try stream.expectEnd("'%}'")
            while true {
                let (body, end) = try parseBody(until: ["elif", "else", "endif"], opening: ("if", position))
                branches.append((condition, body))
                var endStream = end!.stream
                switch end!.keyword {
                case "elif":
                    condition = try endStream.parseExpression()
                    try endStream.expectEnd("'%}'")
                case "else":
                    try endStream.expectEnd("'%}'")
                    let (otherwise, last) = try parseBody(until: ["endif"], opening: ("if", position))
                    var lastStream = last!.stream
                    try lastStream.expectEnd("'%}'")
                    return .ifChain(branches, otherwise: otherwise)
                default:
                    try endStream.expectEnd("'%}'")
                    return .ifChain(branches, otherwise: [])
                }
            }
        case "for":
            let target = try stream.parseAssignTarget(namespace: false)
            try stream.expectName("in")
            let iterable = try stream.parseTuple(conditional: false, endNames: ["if", "recursive"])
            var condition: Expr?
            if stream.skipName("if") { condition = try stream.parseExpression() }
            if stream.skipName("recursive") {
                throw TemplateError(kind: .syntax, message: "recursive for loops are not supported", position: position)
            }
            try stream.expectEnd("'%}'")
            let (body, end) = try parseBody(until: ["else", "endfor"], opening: ("for", position))
            var endStream = end!.stream
            try endStream.expectEnd("'%}'")
            var otherwise: [Node] = []
            if end!.keyword == "else" {
                let (elseBody, last) = try parseBody(until: ["endfor"], opening: ("for", position))
                var lastStream = last!.stream
                try lastStream.expectEnd("'%}'")
                otherwise = elseBody
            }
            return .forLoop(target, iterable: iterable, condition: condition, body: body, otherwise: otherwise,
                            position: position)
        case "set":
            let target = try stream.parseAssignTarget(namespace: true)
            if stream.skipOp("=") {
                let value = try stream.parseTuple()
                try stream.expectEnd("'%}'")
                return .set(target, value, position)
            }
            var filters: [(String, [Expr], [(String, Expr)], SourcePosition)] = []
            while stream.skipOp("|") { filters.append(try stream.parseFilterCall()) }
            try stream.expectEnd("'=' or '%}'")
            let (body, end) = try parseBody(until: ["endset"], opening: ("set", position))
            var endStream = end!.stream
            try endStream.expectEnd("'%}'")
            return .setBlock(target, body: body, filters: filters, position)
        case "macro":
            let name = try stream.expectIdentifier()
            let parameters = try stream.parseSignature()
            try stream.expectEnd("'%}'")
            let (body, end) = try parseBody(until: ["endmacro"], opening: ("macro", position))
            var endStream = end!.stream
            _ = endStream.skipName(name)
            try endStream.expectEnd("'%}'")
            return .macro(MacroDefinition(name: name, parameters: parameters, body: body))
        case "call":
            var parameters: [(String, Expr?)] = []
            if stream.current.kind == .op && stream.current.text == "(" { parameters = try stream.parseSignature() }
            let call = try stream.parseExpression()
            guard case .call = call.kind else {
                throw TemplateError(kind: .syntax, message: "expected a call after 'call'", position: call.position)
            }
            try stream.expectEnd("'%}'")
            let (body, end) = try parseBody(until: ["endcall"], opening: ("call", position))
            var endStream = end!.stream
            try endStream.expectEnd("'%}'")
            return .callBlock(call: call, parameters: parameters, body: body)
        case "filter":
            var filters = [try stream.parseFilterCall()]
            while stream.skipOp("|") { filters.append(try stream.parseFilterCall()) }
            try stream.expectEnd("'%}'")
            let (body, end) = try parseBody(until: ["endfilter"], opening: ("filter", position))
            var endStream = end!.stream
            try endStream.expectEnd("'%}'")
            return .filterBlock(filters, body: body)
        case "generation":
            // transformers' {% generation %} marks assistant text for training masks; rendering outputs the body,
            // run in its own scope (transformers implements the tag as a call block).
            try stream.expectEnd("'%}'")
            let (body, end) = try parseBody(until: ["endgeneration"], opening: ("generation", position))
            var endStream = end!.stream
            try endStream.expectEnd("'%}'")
            return .filterBlock([], body: body)
        case "do":
            let expr = try stream.parseTuple()
            try stream.expectEnd("'%}'")
            return .doExpr(expr)
        case "break":
            try stream.expectEnd("'%}'")
            return .breakLoop(position)
        case "continue":
            try stream.expectEnd("'%}'")
            return .continueLoop(position)
        case "elif", "else", "endif", "endfor", "endset", "endmacro", "endcall", "endfilter", "endgeneration":
            throw TemplateError(kind: .syntax, message: "unexpected '\(keyword)'", position: position)
        default:
            throw TemplateError(kind: .syntax, message: "unknown tag '\(keyword)'", position: position)
        }
    }
}

/// A cursor over one tag's tokens, with the expression grammar.
struct TokenStream {
    private let tokens: [Token]
    private var index = 0
    /// Nested sub-expressions (brackets, unary operators) around the current token; bounded like blocks.
    private var depth = 0

    init(_ tokens: [Token]) { self.tokens = tokens }

    var current: Token { tokens[index] }
    private var peek: Token { tokens[min(index + 1, tokens.count - 1)] }

    @discardableResult
    mutating func next() -> Token {
        let t = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return t
    }

    private func isOp(_ op: String) -> Bool { current.kind == .op && current.text == op }
    private func isName(_ name: String) -> Bool { current.kind == .name && current.text == name }

    mutating func skipOp(_ op: String) -> Bool {
        if isOp(op) { next(); return true }
        return false
    }

    mutating func skipName(_ name: String) -> Bool {
        if isName(name) { next(); return true }
        return false
    }

    private func describe(_ t: Token) -> String {
        switch t.kind {
        case .end: return "end of tag"
        case .string: return "string \(pythonStringRepr(t.text))"
        default: return "'\(t.text)'"
        }
    }

    private func fail(_ expected: String) -> TemplateError {
        TemplateError(kind: .syntax, message: "expected \(expected), got \(describe(current))", position: current.position)
    }

    mutating func expectEnd(_ what: String) throws {
        guard current.kind == .end else { throw fail(what) }
    }

    mutating func expectOp(_ op: String) throws {
        guard skipOp(op) else { throw fail("'\(op)'") }
    }

    mutating func expectName(_ name: String) throws {
        guard skipName(name) else { throw fail("'\(name)'") }
    }

    mutating func expectIdentifier() throws -> String {
        guard current.kind == .name else { throw fail("a name") }
        return next().text
    }

    // MARK: targets and signatures

    mutating func parseAssignTarget(namespace: Bool) throws -> Target {
        if namespace, current.kind == .name, peek.kind == .op, peek.text == "." {
            let ns = next().text
            next()
            return .attribute(ns, try expectIdentifier())
        }
        let parenthesized = skipOp("(")
        var names = [try expectIdentifier()]
        var isTuple = parenthesized
        while skipOp(",") {
            isTuple = true
            if current.kind != .name { break }
            names.append(try expectIdentifier())
        }
        if parenthesized { try expectOp(")") }
        return isTuple ? .tuple(names) : .name(names[0])
    }

    /// `(a, b=default, ...)` of a macro or call block.
    mutating func parseSignature() throws -> [(String, Expr?)] {
        try expectOp("(")
        var parameters: [(String, Expr?)] = []
        while !isOp(")") {
            if !parameters.isEmpty { try expectOp(",") }
            if isOp(")") { break }
            let name = try expectIdentifier()
            var value: Expr?
            if skipOp("=") { value = try parseExpression() }
            else if parameters.contains(where: { $0.1 != nil }) {
                throw TemplateError(kind: .syntax, message: "parameter '\(name)' without a default follows one with a default",
                                    position: current.position)
            }
            parameters.append((name, value))
        }
        try expectOp(")")
        return parameters
    }

    // MARK: expressions

    /// Expressions separated by commas make a tuple (`set a = 1, 2`); one expression is itself.
    mutating func parseTuple(conditional: Bool = true, endNames: Set<String> = [], explicitParentheses: Bool = false)
        throws -> Expr {
        let position = current.position
        var items: [Expr] = []
        var isTuple = false
        while true {
            if !items.isEmpty { try expectOp(",") }
            if current.kind == .end || isOp(")") || (current.kind == .name && endNames.contains(current.text)) { break }
            items.append(conditional ? try parseExpression() : try parseOr())
            if isOp(",") { isTuple = true } else { break }
        }
        if !isTuple {
            if let first = items.first { return first }
            if !explicitParentheses { throw fail("an expression") }
        }
        return Expr(.tuple(items), position)
    }

    mutating func parseExpression() throws -> Expr {
        try enter()
        defer { depth -= 1 }
        return try parseConditional()
    }

    private mutating func enter() throws {
        guard depth < Parser.maxNesting else {
            throw TemplateError(kind: .syntax, message: "expression nested more than \(Parser.maxNesting) deep",
                                position: current.position)
        }
        depth += 1
    }

    private mutating func parseConditional() throws -> Expr {
        let position = current.position
        var expr = try parseOr()
        while skipName("if") {
            let test = try parseOr()
            var otherwise: Expr?
            if skipName("else") { otherwise = try parseConditional() }
            expr = Expr(.conditional(expr, test: test, otherwise: otherwise), position)
        }
        return expr
    }

    private mutating func parseOr() throws -> Expr {
        var left = try parseAnd()
        while isName("or") {
            let p = next().position
            left = Expr(.or(left, try parseAnd()), p)
        }
        return left
    }

    private mutating func parseAnd() throws -> Expr {
        var left = try parseNot()
        while isName("and") {
            let p = next().position
            left = Expr(.and(left, try parseNot()), p)
        }
        return left
    }

    private mutating func parseNot() throws -> Expr {
        if isName("not") {
            let p = next().position
            return Expr(.not(try parseNot()), p)
        }
        return try parseCompare()
    }

    private mutating func parseCompare() throws -> Expr {
        let position = current.position
        let left = try parseMath1()
        var ops: [(String, Expr)] = []
        while true {
            if current.kind == .op, ["==", "!=", "<", ">", "<=", ">="].contains(current.text) {
                let op = next().text
                ops.append((op, try parseMath1()))
            } else if skipName("in") {
                ops.append(("in", try parseMath1()))
            } else if isName("not") && peek.kind == .name && peek.text == "in" {
                next(); next()
                ops.append(("not in", try parseMath1()))
            } else {
                break
            }
        }
        return ops.isEmpty ? left : Expr(.compare(left, ops), position)
    }

    private mutating func parseMath1() throws -> Expr {
        var left = try parseConcat()
        while current.kind == .op && (current.text == "+" || current.text == "-") {
            let t = next()
            left = Expr(.binary(t.text, left, try parseConcat()), t.position)
        }
        return left
    }

    private mutating func parseConcat() throws -> Expr {
        var left = try parseMath2()
        while isOp("~") {
            let t = next()
            left = Expr(.binary("~", left, try parseMath2()), t.position)
        }
        return left
    }

    private mutating func parseMath2() throws -> Expr {
        var left = try parsePow()
        while current.kind == .op && ["*", "/", "//", "%"].contains(current.text) {
            let t = next()
            left = Expr(.binary(t.text, left, try parsePow()), t.position)
        }
        return left
    }

    private mutating func parsePow() throws -> Expr {
        var left = try parseUnary()
        while isOp("**") {
            let t = next()
            left = Expr(.binary("**", left, try parseUnary()), t.position)
        }
        return left
    }

    private mutating func parseUnary(withFilter: Bool = true) throws -> Expr {
        var node: Expr
        if isOp("-") || isOp("+") {
            let t = next()
            try enter()
            defer { depth -= 1 }
            node = Expr(.unary(t.text, try parseUnary(withFilter: false)), t.position)
        } else {
            node = try parsePrimary()
        }
        node = try parsePostfix(node)
        if withFilter { node = try parseFilterExpr(node) }
        return node
    }

    private mutating func parsePrimary() throws -> Expr {
        let t = current
        switch t.kind {
        case .name:
            next()
            switch t.text {
            case "true", "True": return Expr(.literal(.bool(true)), t.position)
            case "false", "False": return Expr(.literal(.bool(false)), t.position)
            case "none", "None": return Expr(.literal(.none), t.position)
            default: return Expr(.name(t.text), t.position)
            }
        case .string:
            var text = next().text
            while current.kind == .string { text += next().text }
            return Expr(.literal(.string(text)), t.position)
        case .int:
            next()
            guard let v = Int(t.text) else {
                throw TemplateError(kind: .syntax, message: "integer literal \(t.text) is too large", position: t.position)
            }
            return Expr(.literal(.int(v)), t.position)
        case .float:
            next()
            return Expr(.literal(.double(Double(t.text) ?? 0)), t.position)
        case .op:
            switch t.text {
            case "(":
                next()
                let expr = try parseTuple(explicitParentheses: true)
                try expectOp(")")
                return expr
            case "[":
                next()
                var items: [Expr] = []
                while !isOp("]") {
                    if !items.isEmpty { try expectOp(",") }
                    if isOp("]") { break }
                    items.append(try parseExpression())
                }
                try expectOp("]")
                return Expr(.list(items), t.position)
            case "{":
                next()
                var pairs: [(Expr, Expr)] = []
                while !isOp("}") {
                    if !pairs.isEmpty { try expectOp(",") }
                    if isOp("}") { break }
                    let key = try parseExpression()
                    try expectOp(":")
                    pairs.append((key, try parseExpression()))
                }
                try expectOp("}")
                return Expr(.dict(pairs), t.position)
            default: break
            }
        case .end: break
        }
        throw fail("an expression")
    }

    private mutating func parsePostfix(_ start: Expr) throws -> Expr {
        var node = start
        while true {
            if isOp(".") {
                let t = next()
                if current.kind == .name {
                    node = Expr(.attribute(node, next().text), t.position)
                } else if current.kind == .int {
                    node = Expr(.item(node, Expr(.literal(.int(Int(next().text) ?? 0)), t.position)), t.position)
                } else {
                    throw fail("an attribute name after '.'")
                }
            } else if isOp("[") {
                let t = next()
                var subscripts: [Expr] = []
                while !isOp("]") {
                    if !subscripts.isEmpty { try expectOp(",") }
                    subscripts.append(try parseSubscribed(on: node))
                }
                try expectOp("]")
                guard subscripts.count == 1 else {
                    throw TemplateError(kind: .syntax, message: "expected one subscript", position: t.position)
                }
                let s = subscripts[0]
                if case .slice = s.kind { node = s } else { node = Expr(.item(node, s), t.position) }
            } else if isOp("(") {
                node = try parseCall(node)
            } else {
                return node
            }
        }
    }

    /// A subscript or a slice (`a:b:c`, any part optional); a slice comes back already applied to `target`.
    private mutating func parseSubscribed(on target: Expr) throws -> Expr {
        let position = current.position
        var start: Expr?
        if !isOp(":") {
            let e = try parseExpression()
            if !isOp(":") { return e }
            start = e
        }
        try expectOp(":")
        var stop: Expr?, step: Expr?
        if !isOp("]") && !isOp(",") && !isOp(":") { stop = try parseExpression() }
        if skipOp(":") {
            if !isOp("]") && !isOp(",") { step = try parseExpression() }
        }
        return Expr(.slice(target, start, stop, step), position)
    }

    private mutating func parseArguments() throws -> ([Expr], [(String, Expr)]) {
        try expectOp("(")
        var args: [Expr] = []
        var kwargs: [(String, Expr)] = []
        while !isOp(")") {
            if !args.isEmpty || !kwargs.isEmpty { try expectOp(",") }
            if isOp(")") { break }
            if current.kind == .name && peek.kind == .op && peek.text == "=" {
                let name = next().text
                next()
                kwargs.append((name, try parseExpression()))
            } else {
                if !kwargs.isEmpty {
                    throw TemplateError(kind: .syntax, message: "positional argument after keyword argument",
                                        position: current.position)
                }
                args.append(try parseExpression())
            }
        }
        try expectOp(")")
        return (args, kwargs)
    }

    private mutating func parseCall(_ callee: Expr) throws -> Expr {
        let position = current.position
        let (args, kwargs) = try parseArguments()
        return Expr(.call(callee, args, kwargs), position)
    }

    mutating func parseFilterCall() throws -> (String, [Expr], [(String, Expr)], SourcePosition) {
        let position = current.position
        var name = try expectIdentifier()
        while isOp(".") { next(); name += "." + (try expectIdentifier()) }
        var args: [Expr] = [], kwargs: [(String, Expr)] = []
        if isOp("(") { (args, kwargs) = try parseArguments() }
        return (name, args, kwargs, position)
    }

    private mutating func parseFilterExpr(_ start: Expr) throws -> Expr {
        var node = start
        while true {
            if isOp("|") {
                next()
                let (name, args, kwargs, position) = try parseFilterCall()
                node = Expr(.filter(node, name, args, kwargs), position)
            } else if isName("is") {
                let t = next()
                let negated = skipName("not")
                var name = try expectIdentifier()
                while isOp(".") { next(); name += "." + (try expectIdentifier()) }
                var args: [Expr] = []
                if isOp("(") {
                    let (a, kw) = try parseArguments()
                    args = a + kw.map(\.1)
                } else if [.name, .string, .int, .float].contains(current.kind) || isOp("(") || isOp("[") || isOp("{") {
                    if !(current.kind == .name && ["else", "or", "and"].contains(current.text)) {
                        if isName("is") { throw fail("a test argument") }
                        args = [try parsePostfix(try parsePrimary())]
                    }
                }
                node = Expr(.test(node, name, args, negated: negated), t.position)
            } else if isOp("(") {
                node = try parseCall(node)
            } else {
                return node
            }
        }
    }
}
