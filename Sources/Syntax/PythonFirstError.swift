/// The first syntax error of Python text where CPython 3.11 reports it, with CPython's message class.
///
/// tree-sitter's error recovery does not fail where CPython's parser fails (a line break after `x = ` is white
/// space to it; `import a b` parses), and CPython's messages come from three sources in a fixed order, which
/// this mirrors:
///
/// 1. The parser runs over the tokens of `PythonTokenizer`; its first pass fails at the furthest token it
///    looked at. A tokenizer error at or before that token wins (`unindent does not match any outer indentation
///    level`, `unterminated string literal`, `'(' was never closed` at the end of the file).
/// 2. A second pass with CPython's `invalid_*` rules finds the specific message, in parse order: `expected ':'`,
///    `invalid syntax. Perhaps you forgot a comma?`, `expected an indented block after 'if' statement on line N`,
///    `expected 'else' after 'if' expression`, `Maybe you meant '==' or ':=' instead of '='?`, the dictionary
///    and argument-order messages. Otherwise the message is `invalid syntax` at the furthest token
///    (`unexpected indent` when that token is an INDENT).
/// 3. CPython then tokenizes the rest of the file: an error its tokenizer raises there (strings, brackets that
///    do not match, bad literals) replaces the parser's, and a bracket never closed replaces it when the bracket
///    opened on an earlier line.
///
/// The parser is a recursive-descent rendering of CPython 3.11's PEG grammar (python.gram), written for this
/// purpose: it accepts what the grammar accepts (checked on the standard library) and looks at tokens in the
/// same order, which is what places the error. It builds no tree; expressions carry only what the target
/// checks need. Compile-time errors after a successful parse (`'return' outside function`, …) are
/// `PythonValidity`'s.
public enum PythonFirstError {
    /// The first error, or nil when the text parses (as far as this grammar tells).
    /// `baseIndentation`: the text is a run of statements taken from a block indented this many spaces (the
    /// syntax constraint reads from the start of the statement it is in, not from the top of the file).
    /// `partial`: the text may go on (the syntax constraint's window ends where a completion stands): a
    /// compile-time error CPython reports only once the whole file parses (a late `from __future__`, and a
    /// parameter named twice or a default `except:` before another handler, which this reports only here:
    /// `PythonValidity` reports them to diagnostics) is reported when the text parses or fails only at its end,
    /// since no continuation undoes it.
    public static func find(in bytes: [UInt8], baseIndentation: Int = 0, partial: Bool = false) -> PythonViolation? {
        var deferred: PythonViolation?
        let error = first(in: bytes, baseIndentation: baseIndentation, deferred: &deferred)
        if partial, let deferred, error.map({ $0.byteOffset >= bytes.count }) ?? true { return deferred }
        return error
    }

    static func first(in bytes: [UInt8], baseIndentation: Int, deferred: inout PythonViolation?) -> PythonViolation? {
        let tokenizer = PythonTokenizer.tokenize(bytes, baseIndentation: baseIndentation)
        var tokens = tokenizer.tokens
        let tokenError = tokenizer.error
        if tokenError != nil {
            // The token the tokenizer failed on: matches nothing.
            let unclosed = tokenError!.kind == .unclosed
            let at = unclosed ? bytes.count : tokenError!.byteOffset
            tokens.append(PythonToken(kind: .op, start: at, end: at, line: unclosed ? line(of: at, in: bytes) : tokenError!.line,
                                      level: 0))
        }
        func tokenizerViolation(_ e: PythonTokenizerError) -> PythonViolation {
            PythonViolation(byteOffset: e.byteOffset, message: e.message, isIndentation: e.isIndentation)
        }
        var parser = PythonGrammarParser(tokens: tokens, errorToken: tokenError != nil, bytes: bytes)
        let (ok, forced) = parser.parseFile()
        deferred = (parser.deferred ?? parser.compileError)?.violation
        if ok, tokenError == nil { return parser.deferred?.violation }
        let furthest = min(parser.furthest, tokens.count - 1)
        if let tokenError, furthest >= tokens.count - 1 { return tokenizerViolation(tokenError) }
        if ok { return tokenError.map(tokenizerViolation) }
        var error: PythonViolation
        // Second pass (unless the first failed with a message): CPython's invalid_* rules.
        var second = PythonGrammarParser(tokens: tokens, errorToken: tokenError != nil, bytes: bytes)
        second.invalidRules = true
        second.firstPassFurthest = furthest
        if let forced {
            error = forced.violation
        } else if let specific = second.parseForSpecificError() {
            if let tokenError, specific.reachedErrorToken { return tokenizerViolation(tokenError) }
            error = specific.violation
        } else if let tokenError, tokenError.kind == .state, second.furthest >= tokens.count - 1 {
            return tokenizerViolation(tokenError)
        } else {
            let token = tokens[furthest]
            switch token.kind {
            case .indent, .dedent:
                // Reported as is: CPython does not tokenize the rest of the file for these.
                return PythonViolation(byteOffset: token.start, message: token.kind == .indent ? "unexpected indent"
                                       : "unexpected unindent", isIndentation: true)
            default: error = PythonViolation(byteOffset: token.start, message: "invalid syntax")
            }
        }
        // CPython tokenizes the rest of the file. A bracket never closed counts when it opened on a line before
        // the last token the parser fetched (in either pass).
        if let tokenError {
            switch tokenError.kind {
            case .raised: return tokenizerViolation(tokenError)
            case .unclosed:
                let last = tokens[min(max(furthest, second.furthest), tokens.count - 1)]
                if tokenError.line < last.line { return tokenizerViolation(tokenError) }
            case .state: break
            }
        }
        return error
    }

    static func line(of offset: Int, in bytes: [UInt8]) -> Int {
        var line = 1
        for i in 0..<min(offset, bytes.count) where bytes[i] == 0x0A { line += 1 }
        return line
    }
}

/// What an expression is, as far as target checks go.
struct PyExpr {
    enum Kind { case name, attribute, `subscript`, starred, tuple, list, other }
    var start: Int
    var kind: Kind
    /// Whether it can be assigned to (a name, attribute, subscript, or a tuple/list/starred of those).
    var target: Bool
    /// CPython's name for it in "cannot assign to …" (a static string: the type stays trivial, so the packrat
    /// memo of these is created and dropped without reference counting).
    var what: StaticString

    static func other(_ start: Int, _ what: StaticString) -> PyExpr { PyExpr(start: start, kind: .other, target: false, what: what) }
}

extension StaticString {
    var isEmpty: Bool { utf8CodeUnitCount == 0 }
}

struct SpecificError: Error {
    var violation: PythonViolation
    var reachedErrorToken = false
}

struct PythonGrammarParser {
    let tokens: [PythonToken]
    let errorToken: Bool
    var pos = 0
    var furthest = 0
    var invalidRules = false
    /// A compile-time error CPython reports only when the whole text parses (a late `from __future__`).
    var deferred: SpecificError?
    /// The first error of CPython's symbol table or compiler that the parse meets (a parameter named twice, a
    /// default `except:` before another handler): reported after the parse, and only to `find(partial:)`.
    var compileError: SpecificError?
    /// Whether a `from __future__` import may stand here (only among the first statements of the module).
    var futureAllowed = true
    /// Blocks the parser is in (a `from __future__` import in one is a compile-time error).
    var blocks = 0
    /// Where the first pass stopped: CPython's RAISE_SYNTAX_ERROR without a location points at the last token
    /// fetched in either pass.
    var firstPassFurthest = 0
    /// Nesting guard (CPython stops at 200 nested parentheses; deep recursion here would overflow).
    var depth = 0
    /// `disjunction`'s results by start token and `invalidRules` (the packrat memo; CPython memoizes the same
    /// rule). A flat array: a dictionary here cost more in hashing and growth than the parse itself.
    var memo: [(end: Int, expr: PyExpr?)?]

    let bytes: [UInt8]

    init(tokens: [PythonToken], errorToken: Bool, bytes: [UInt8]) {
        self.tokens = tokens
        self.errorToken = errorToken
        self.bytes = bytes
        memo = Array(repeating: nil, count: 2 * tokens.count + 2)
    }

    func source(_ i: Int) -> UInt8 { i < bytes.count ? bytes[i] : 0 }

    struct TooDeep: Error {}

    // MARK: Tokens

    mutating func peek(_ k: Int = 0) -> PythonToken {
        let i = min(pos + k, tokens.count - 1)
        if i > furthest { furthest = i }
        return tokens[i]
    }

    /// The index of the token `k` after the current one, as `peek` reads it (without copying the token).
    @inline(__always) mutating func index(_ k: Int) -> Int {
        let i = min(pos + k, tokens.count - 1)
        if i > furthest { furthest = i }
        return i
    }

    /// Whether token `i`'s text is `s`: its bytes in the source (an operator's or a name's text is its bytes),
    /// compared without making strings (a `String` comparison per alternative cost more than the rest of the
    /// parse).
    @inline(__always) func spells(_ i: Int, _ s: StaticString) -> Bool {
        let start = tokens[i].start, count = s.utf8CodeUnitCount
        guard tokens[i].end - start == count, start + count <= bytes.count else { return false }
        let p = s.utf8Start
        for j in 0..<count where bytes[start + j] != p[j] { return false }
        return true
    }

    @inline(__always) mutating func isOp(_ s: StaticString, _ k: Int = 0) -> Bool {
        let i = index(k)
        return tokens[i].kind == .op && spells(i, s)
    }
    @inline(__always) mutating func isKeyword(_ s: StaticString, _ k: Int = 0) -> Bool {
        let i = index(k)
        return tokens[i].kind == .name && spells(i, s)
    }
    mutating func at(_ kind: PythonToken.Kind) -> Bool { peek().kind == kind }
    mutating func isName() -> Bool { let i = index(0); return tokens[i].kind == .name && !tokens[i].hard }

    /// Token `i`'s text (made only where a message or a choice among many names needs it).
    func text(_ i: Int) -> String { String(decoding: bytes[tokens[i].start..<min(tokens[i].end, bytes.count)], as: UTF8.self) }

    mutating func eatOp(_ s: StaticString) -> Bool {
        if isOp(s) { pos += 1; return true }
        return false
    }

    mutating func eatKeyword(_ s: StaticString) -> Bool {
        if isKeyword(s) { pos += 1; return true }
        return false
    }

    mutating func eatName() -> Bool {
        if isName() { pos += 1; return true }
        return false
    }

    /// A message at the last token fetched (CPython's RAISE_SYNTAX_ERROR and RAISE_INDENTATION_ERROR).
    func failHere(_ message: String, indentation: Bool = false) -> SpecificError {
        fail(max(furthest, firstPassFurthest), message, indentation: indentation)
    }

    func fail(_ index: Int, _ message: String, indentation: Bool = false) -> SpecificError {
        let i = min(index, tokens.count - 1)
        let reached = errorToken && i == tokens.count - 1
        return SpecificError(violation: PythonViolation(byteOffset: tokens[i].start, message: message,
                                                        isIndentation: indentation), reachedErrorToken: reached)
    }

    // MARK: Entry points

    /// First pass: true when the text parses; a forced token (`&&':'`) fails with its message at once.
    mutating func parseFile() -> (ok: Bool, forced: SpecificError?) {
        do {
            var first = true, sawOther = false
            while !at(.endmarker) {
                let start = pos
                let future = isKeyword("from") && isKeyword("__future__", 1)
                futureAllowed = !sawOther
                guard try statement() else { return (false, nil) }
                let docstring = first && tokens[start].kind == .string && pos >= 2 && tokens[pos - 2].kind == .string
                    && tokens[start..<(pos - 1)].allSatisfy { $0.kind == .string }
                if !future && !docstring { sawOther = true }
                first = false
            }
            return (!errorToken, nil)
        } catch let e as SpecificError {
            return (false, e)
        } catch {
            return (false, nil)
        }
    }

    mutating func parseForSpecificError() -> SpecificError? {
        do {
            while !at(.endmarker) {
                guard try statement() else { return nil }
            }
            return nil
        } catch let e as SpecificError {
            return e
        } catch {
            return nil
        }
    }

    // MARK: Statements

    mutating func statement() throws -> Bool {
        let t = peek()
        // Only keywords (and the soft keyword `match`) start what the switch looks for.
        if t.kind == .name, t.hard || spells(pos, "match") {
            switch text(pos) {
            case "def", "if", "class", "with", "for", "try", "while": return try compound()
            case "async" where isKeyword("def", 1) || isKeyword("with", 1) || isKeyword("for", 1): return try compound()
            case "match":
                let save = pos
                if try matchStatement() { return true }
                pos = save
            default: break
            }
        } else if isOp("@") {
            while eatOp("@") {
                guard try namedExpression() != nil, at(.newline) else { return false }
                pos += 1
            }
            if isKeyword("def") || isKeyword("class") || (isKeyword("async") && isKeyword("def", 1)) { return try compound() }
            return false
        }
        return try simpleStatements()
    }

    mutating func simpleStatements() throws -> Bool {
        guard try simpleStatement() else { return false }
        while eatOp(";") {
            if at(.newline) { break }
            guard try simpleStatement() else { return false }
        }
        guard at(.newline) else { return false }
        pos += 1
        return true
    }

    mutating func atStatementEnd() -> Bool { at(.newline) || isOp(";") }

    mutating func simpleStatement() throws -> Bool {
        let t = peek()
        let start = pos
        // Every statement the switch looks for starts with a keyword.
        if t.kind == .name, t.hard {
            switch text(pos) {
            case "pass", "break", "continue":
                pos += 1
                return true
            case "return":
                pos += 1
                if atStatementEnd() { return true }
                return try starExpressions() != nil
            case "raise":
                pos += 1
                if atStatementEnd() { return true }
                guard try expression() != nil else { return false }
                if eatKeyword("from") { return try expression() != nil }
                return true
            case "global", "nonlocal":
                pos += 1
                guard eatName() else { return false }
                while eatOp(",") { guard eatName() else { return false } }
                return true
            case "del":
                pos += 1
                guard let targets = try targetList(star: false) else { return false }
                guard atStatementEnd() else { return false }
                if !targets.target {
                    if invalidRules { throw fail(start + 1, "cannot delete \(targets.what)") }
                    return false
                }
                return true
            case "assert":
                pos += 1
                guard try expression() != nil else { return false }
                if eatOp(",") { return try expression() != nil }
                return true
            case "import":
                pos += 1
                repeat {
                    guard try dottedName() else { return false }
                    if eatKeyword("as") { guard eatName() else { return false } }
                } while eatOp(",")
                return true
            case "from":
                if deferred == nil, isKeyword("__future__", 1), !futureAllowed || blocks > 0 {
                    deferred = fail(start, "from __future__ imports must occur at the beginning of the file")
                }
                pos += 1
                var dots = 0
                while isOp(".") || isOp("...") { dots += 1; pos += 1 }
                if !isKeyword("import") || dots == 0 { guard try dottedName() else { return false } }
                guard eatKeyword("import") else { return false }
                if eatOp("*") { return true }
                let parenthesized = eatOp("(")
                var names = 0
                repeat {
                    if parenthesized, isOp(")") { break }
                    if !parenthesized, names > 0, invalidRules, at(.newline) {
                        throw failHere("trailing comma not allowed without surrounding parentheses")
                    }
                    names += 1
                    guard eatName() else { return false }
                    if eatKeyword("as") { guard eatName() else { return false } }
                } while eatOp(",")
                if parenthesized { guard eatOp(")") else { return false } }
                else if isOp(",") { return false }
                return true
            default: break
            }
        }
        // Annotated assignment to a name.
        if isName(), isOp(":", 1) {
            pos += 2
            guard try expression() != nil else { return false }
            if eatOp("=") { return try annotatedValue() }
            return true
        }
        guard let first = try isKeyword("yield") ? yieldExpression() : starExpressions() else { return false }
        if isOp("=") {
            var target = first
            while eatOp("=") {
                if !target.target {
                    if invalidRules {
                        throw fail(target.start, "cannot assign to \(target.what)")
                    }
                    return false
                }
                guard let value = try isKeyword("yield") ? yieldExpression() : starExpressions() else { return false }
                target = value
            }
            return true
        }
        if isOp(":") {
            // An annotated assignment to an attribute, a subscript or a parenthesized single target.
            guard first.kind == .name || first.kind == .attribute || first.kind == .subscript else {
                pos += 1
                if invalidRules, try expression() != nil {
                    let what = first.kind == .tuple ? "only single target (not tuple) can be annotated"
                        : first.kind == .list ? "only single target (not list) can be annotated"
                        : "illegal target for annotation"
                    throw fail(first.start, what)
                }
                return false
            }
            pos += 1
            guard try expression() != nil else { return false }
            if eatOp("=") { return try annotatedValue() }
            return true
        }
        let t2 = peek()
        if t2.kind == .op, Self.augmentedOps.contains(where: { spells(pos, $0) }) {
            guard first.kind == .name || first.kind == .attribute || first.kind == .subscript else {
                if invalidRules {
                    throw fail(first.start, "'\(first.what)' is an illegal expression for augmented assignment")
                }
                return false
            }
            pos += 1
            return try (isKeyword("yield") ? yieldExpression() : starExpressions()) != nil
        }
        if invalidRules, first.kind == .name, spells(first.start, "print") || spells(first.start, "exec"), pos == first.start + 1,
           !atStatementEnd() {
            let save = pos
            if try starExpressions() != nil {
                let name = text(first.start)
                throw fail(first.start, "Missing parentheses in call to '\(name)'. Did you mean \(name)(...)?")
            }
            pos = save
        }
        return true
    }

    mutating func annotatedValue() throws -> Bool {
        try (isKeyword("yield") ? yieldExpression() : starExpressions()) != nil
    }

    mutating func dottedName() throws -> Bool {
        guard eatName() else { return false }
        while isOp(".") {
            pos += 1
            guard eatName() else { return false }
        }
        return true
    }

    // MARK: Compound statements

    /// `:` after a block header. `forced`: CPython's `&&':'` (def, try, else, finally), which fails at once.
    mutating func colon(forced: Bool = false) throws -> Bool {
        if eatOp(":") { return true }
        if forced { throw fail(pos, "expected ':'") }
        if invalidRules && at(.newline) { throw failHere("expected ':'") }
        return false
    }

    mutating func block(_ what: String, line: Int) throws -> Bool {
        blocks += 1
        defer { blocks -= 1 }
        if at(.newline) {
            pos += 1
            guard at(.indent) else {
                if invalidRules {
                    throw failHere("expected an indented block after \(what) on line \(line)", indentation: true)
                }
                return false
            }
            pos += 1
            while !at(.dedent) {
                if at(.endmarker) { return false }
                guard try statement() else { return false }
            }
            pos += 1
            return true
        }
        return try simpleStatements()
    }

    mutating func compound() throws -> Bool {
        depth += 1
        defer { depth -= 1 }
        if depth > 100 { throw TooDeep() }
        let t = peek()
        let line = t.line
        if spells(pos, "async") { pos += 1 }
        let keyword = text(index(0))
        pos += 1
        switch keyword {
        case "def":
            guard eatName() else { return false }
            if !isOp("(") { throw fail(pos, "expected '('") }
            pos += 1
            guard try parameters(closing: ")", lambda: false) else { return false }
            guard eatOp(")") else { return false }
            if eatOp("->") { guard try expression() != nil else { return false } }
            guard try colon(forced: true) else { return false }
            return try block("function definition", line: line)
        case "class":
            guard eatName() else { return false }
            if eatOp("(") {
                if !isOp(")") { guard try arguments(generator: false) else { return false } }
                guard eatOp(")") else { return false }
            }
            guard try colon() else { return false }
            return try block("class definition", line: line)
        case "if", "while":
            guard try namedExpression() != nil, try colon() else { return false }
            guard try block("'\(keyword)' statement", line: line) else { return false }
            if keyword == "if" {
                while isKeyword("elif") {
                    let elifLine = peek().line
                    pos += 1
                    guard try namedExpression() != nil, try colon() else { return false }
                    guard try block("'elif' statement", line: elifLine) else { return false }
                }
            }
            return try elseBlock()
        case "for":
            guard let targets = try targetList(star: true) else { return false }
            guard eatKeyword("in") else {
                if invalidRules, !targets.target { throw fail(targets.start, "cannot assign to \(targets.what)") }
                return false
            }
            if !targets.target {
                if invalidRules { throw fail(targets.start, "cannot assign to \(targets.what)") }
                return false
            }
            guard try starExpressions() != nil, try colon() else { return false }
            guard try block("'for' statement", line: line) else { return false }
            return try elseBlock()
        case "with":
            let save = pos
            if eatOp("(") {
                if try withItems(parenthesized: true), eatOp(")"), isOp(":") {
                    pos += 1
                    return try block("'with' statement", line: line)
                }
                pos = save
            }
            guard try withItems(parenthesized: false), try colon() else { return false }
            return try block("'with' statement", line: line)
        case "try":
            guard try colon(forced: true), try block("'try' statement", line: line) else { return false }
            var handlers = 0
            var starred: Bool?, bare: Int?
            while isKeyword("except") {
                let exceptLine = peek().line
                let clause = pos
                // A default `except:` must be the last handler (CPython's compiler says so after the parse).
                if let bare, compileError == nil {
                    compileError = fail(bare, "default 'except:' must be last")
                }
                pos += 1
                let star = eatOp("*")
                if let starred, starred != star {
                    // CPython's invalid_try_stmt.
                    if invalidRules { throw fail(clause, "cannot have both 'except' and 'except*' on the same 'try'") }
                    return false
                }
                starred = star
                if !star, isOp(":") { bare = clause }
                if !isOp(":") {
                    guard let e = try expression() else { return false }
                    if invalidRules, isOp(",") {
                        throw fail(e.start, "multiple exception types must be parenthesized")
                    }
                    if eatKeyword("as") { guard eatName() else { return false } }
                }
                guard try colon() else { return false }
                guard try block(star ? "'except*' statement" : "'except' statement", line: exceptLine) else { return false }
                handlers += 1
            }
            if handlers > 0 { guard try elseBlock() else { return false } }
            if isKeyword("finally") {
                let finallyLine = peek().line
                pos += 1
                guard try colon(forced: true), try block("'finally' statement", line: finallyLine) else { return false }
                return true
            }
            if handlers == 0 {
                if invalidRules { throw failHere("expected 'except' or 'finally' block") }
                return false
            }
            return true
        default:
            return false
        }
    }

    mutating func elseBlock() throws -> Bool {
        guard isKeyword("else") else { return true }
        let line = peek().line
        pos += 1
        guard try colon(forced: true) else { return false }
        return try block("'else' statement", line: line)
    }

    mutating func withItems(parenthesized: Bool) throws -> Bool {
        repeat {
            if parenthesized, isOp(")") { return true }
            guard try expression() != nil else { return false }
            if eatKeyword("as") {
                guard let target = try target(star: true), target.target else { return false }
                guard isOp(",") || isOp(")") || isOp(":") else { return false }
            }
        } while eatOp(",")
        return true
    }

    mutating func matchStatement() throws -> Bool {
        let line = peek().line
        pos += 1
        // The subject: a starred or named expression, or a tuple of them.
        guard let first = try starNamedExpression() else { return false }
        _ = first
        if eatOp(",") {
            while !isOp(":"), try starNamedExpression() != nil { if !eatOp(",") { break } }
        }
        guard isOp(":") else {
            if invalidRules, at(.newline) { throw failHere("expected ':'") }
            return false
        }
        pos += 1
        guard at(.newline) else { return false }
        pos += 1
        guard at(.indent) else {
            if invalidRules { throw failHere("expected an indented block after 'match' statement on line \(line)", indentation: true) }
            return false
        }
        pos += 1
        var cases = 0
        while isKeyword("case") {
            let caseLine = peek().line
            pos += 1
            guard try patterns() else { return false }
            if eatKeyword("if") { guard try namedExpression() != nil else { return false } }
            guard try colon() else { return false }
            guard try block("'case' statement", line: caseLine) else { return false }
            cases += 1
        }
        guard cases > 0, at(.dedent) else { return false }
        pos += 1
        return true
    }

    /// Patterns, approximately: expressions (calls, displays, `|`) with `as NAME` after any item.
    mutating func patterns() throws -> Bool {
        repeat {
            if isOp(":") || isKeyword("if") { return true }
            if eatOp("*") { guard eatName() else { return false }; continue }
            guard try pattern() else { return false }
        } while eatOp(",")
        return true
    }

    mutating func pattern() throws -> Bool {
        repeat {
            if isOp("[") || isOp("(") {
                let closing: StaticString = isOp("[") ? "]" : ")"
                pos += 1
                guard try patterns(closing: closing) else { return false }
            } else if isOp("{") {
                pos += 1
                while !isOp("}") {
                    if eatOp("**") { guard eatName() else { return false } } else {
                        guard try bitwiseOr() != nil, eatOp(":"), try pattern() else { return false }
                    }
                    if !eatOp(",") { break }
                }
                guard eatOp("}") else { return false }
            } else if isName(), try classPattern() {
            } else {
                guard try bitwiseOr(patternMode: true) != nil else { return false }
            }
        } while eatOp("|")
        if eatKeyword("as") { return eatName() }
        return true
    }

    /// `Name(pattern, …, keyword=pattern, …)`; false (nothing consumed) when no `(` follows the dotted name.
    mutating func classPattern() throws -> Bool {
        let start = pos
        guard try dottedName(), eatOp("(") else { pos = start; return false }
        while !isOp(")") {
            if isName(), isOp("=", 1) { pos += 2 }
            guard try pattern() else { pos = start; return false }
            if !eatOp(",") { break }
        }
        guard eatOp(")") else { pos = start; return false }
        return true
    }

    mutating func patterns(closing: StaticString) throws -> Bool {
        while !isOp(closing) {
            if eatOp("*") { guard eatName() else { return false } } else { guard try pattern() else { return false } }
            if !eatOp(",") { break }
        }
        return eatOp(closing)
    }

    // MARK: Parameters and arguments

    mutating func parameters(closing: StaticString, lambda: Bool) throws -> Bool {
        var sawDefault = false, sawStar = false, sawSlash = false, count = 0
        // The parameters' name tokens, for CPython's symbol-table error on a name given twice (reported only when
        // the whole text parses, as CPython's compiler reports it after the parser): in the order its symbol
        // table takes them, positional ones, then keyword-only ones, then `*args`, then `**kwargs`.
        var positional: [Int] = [], keywordOnly: [Int] = [], variadic: [Int] = []
        func named(_ index: Int) { if sawStar { keywordOnly.append(index) } else { positional.append(index) } }
        defer {
            var seen: [String] = []
            for index in positional + keywordOnly + variadic {
                let name = text(index)
                if seen.contains(name) {
                    if compileError == nil {
                        compileError = SpecificError(violation: PythonViolation(
                            byteOffset: tokens[index].start, message: "duplicate argument '\(name)' in function definition"))
                    }
                    break
                }
                seen.append(name)
            }
        }
        while !isOp(closing) {
            let start = pos
            if isOp("/") {
                // CPython's invalid_parameters: a `/` first, twice, or after `*`.
                let message = count == 0 ? "at least one argument must precede /"
                    : sawSlash ? "/ may appear only once" : sawStar ? "/ must be ahead of *" : nil
                if let message {
                    if invalidRules { throw fail(pos, message) }
                    return false
                }
                pos += 1
                sawSlash = true
            } else if isOp("*") {
                if sawStar {
                    if invalidRules { throw fail(pos, "* argument may appear only once") }
                    return false
                }
                pos += 1
                sawStar = true
                if isName() { variadic.append(pos) }
                if eatName() {
                    if !lambda, eatOp(":") {
                        if isOp("*") { pos += 1 }
                        guard try expression() != nil else { return false }
                    }
                    if isOp("=") {
                        if invalidRules { throw fail(pos, "var-positional argument cannot have default value") }
                        return false
                    }
                } else if isOp(closing) || (isOp(",") && (isOp(closing, 1) || isOp("**", 1))) {
                    if invalidRules { throw failHere("named arguments must follow bare *") }
                    return false
                }
            } else if eatOp("**") {
                if isName() { variadic.append(pos) }
                guard eatName() else { return false }
                if !lambda, eatOp(":") { guard try expression() != nil else { return false } }
                if isOp("=") {
                    if invalidRules { throw fail(pos, "var-keyword argument cannot have default value") }
                    return false
                }
                if isOp(","), !isOp(closing, 1) {
                    if invalidRules { throw fail(pos + 1, "arguments cannot follow var-keyword argument") }
                    return false
                }
            } else {
                if isName() { named(pos) }
                guard eatName() else { return false }
                if !lambda, eatOp(":") { guard try expression() != nil else { return false } }
                if isOp("=") {
                    let equals = pos
                    pos += 1
                    if isOp(",") || isOp(closing) {
                        if invalidRules { throw fail(equals, "expected default value expression") }
                        return false
                    }
                    guard try expression() != nil else { return false }
                    sawDefault = true
                } else if sawDefault, !sawStar, isOp(",") || isOp(closing) {
                    if invalidRules { throw fail(start, "non-default argument follows default argument") }
                    return false
                }
            }
            count += 1
            if !eatOp(",") { break }
        }
        return true
    }

    /// Call arguments up to (not including) `)`.
    /// `generator`: a generator expression may be the only argument (a call's, not a class's bases).
    mutating func arguments(generator: Bool = true) throws -> Bool {
        var sawKeyword = false, sawDoubleStar = false
        var count = 0
        var pending: String?
        while !isOp(")") {
            let start = pos
            if eatOp("*") {
                guard try expression() != nil else { return false }
                if sawDoubleStar {
                    if invalidRules { throw fail(start, "iterable argument unpacking follows keyword argument unpacking") }
                    return false
                }
            } else if eatOp("**") {
                guard try expression() != nil else { return false }
                sawDoubleStar = true
            } else if isName(), isOp("=", 1) {
                pos += 2
                guard try expression() != nil else { return false }
                sawKeyword = true
            } else {
                let t = peek()
                if invalidRules, t.kind == .name, spells(pos, "True") || spells(pos, "False") || spells(pos, "None"),
                   isOp("=", 1) {
                    throw fail(start, "cannot assign to \(text(pos))")
                }
                guard let e = try namedExpression(argument: true) else { return false }
                if isKeyword("for") || (isKeyword("async") && isKeyword("for", 1)) {
                    // Without its own brackets a generator expression must be a call's only argument, with no
                    // comma after it (CPython's `primary genexp`; `args` takes none).
                    if !generator, count == 0 { return false }
                    guard try comprehensionClauses() else { return false }
                    if count > 0 || isOp(",") {
                        if invalidRules { throw fail(start, "Generator expression must be parenthesized") }
                        return false
                    }
                } else if isOp("=") {
                    if invalidRules { throw fail(start, "expression cannot contain assignment, perhaps you meant \"==\"?") }
                    return false
                }
                _ = e
                if sawKeyword || sawDoubleStar {
                    _ = peek()
                    // CPython's invalid_arguments (`args ',' args`) reads the remaining arguments first, and
                    // its message points at the last token read.
                    guard invalidRules else { return false }
                    if pending == nil {
                        pending = sawDoubleStar ? "positional argument follows keyword argument unpacking"
                                                : "positional argument follows keyword argument"
                    }
                }
            }
            count += 1
            if !eatOp(",") { break }
        }
        if let pending { throw failHere(pending) }
        return true
    }

    // MARK: Targets

    /// A single target (`for`, `with … as`, `del`): a primary that is a name, attribute or subscript, or a
    /// parenthesized or bracketed list of targets.
    mutating func target(star: Bool) throws -> PyExpr? {
        let start = pos
        if star, eatOp("*") {
            guard var inner = try target(star: false) else { return nil }
            inner.start = start
            inner.kind = .starred
            return inner
        }
        guard let e = try primary() else { return nil }
        return e
    }

    mutating func targetList(star: Bool) throws -> PyExpr? {
        let start = pos
        guard let first = try target(star: star) else { return nil }
        guard isOp(",") else { return first }
        var ok = first.target
        var what: StaticString = first.target ? "" : first.what
        while eatOp(",") {
            if isKeyword("in") || isOp("=") || atStatementEnd() { break }
            guard let next = try target(star: star) else { return nil }
            if !next.target, ok { ok = false; what = next.what }
        }
        return PyExpr(start: start, kind: .tuple, target: ok, what: what.isEmpty ? "tuple" : what)
    }

    // MARK: Expressions

    mutating func starExpressions() throws -> PyExpr? {
        let start = pos
        guard let first = try starExpression() else { return nil }
        guard isOp(",") else { return first }
        var ok = first.target
        var what: StaticString = first.target ? "" : first.what
        while eatOp(",") {
            let save = pos
            guard let next = try starExpression() else { pos = save; break }
            if !next.target, ok { ok = false; what = next.what }
        }
        return PyExpr(start: start, kind: .tuple, target: ok, what: what.isEmpty ? "tuple" : what)
    }

    mutating func starExpression() throws -> PyExpr? {
        let start = pos
        if eatOp("*") {
            guard let inner = try bitwiseOr() else { pos = start; return nil }
            return PyExpr(start: start, kind: .starred, target: inner.target, what: "starred")
        }
        return try expression()
    }

    mutating func starNamedExpression() throws -> PyExpr? {
        let start = pos
        if eatOp("*") {
            guard let inner = try bitwiseOr() else { pos = start; return nil }
            return PyExpr(start: start, kind: .starred, target: inner.target, what: "starred")
        }
        return try namedExpression()
    }

    mutating func namedExpression(argument: Bool = false) throws -> PyExpr? {
        let start = pos
        if isName(), isOp(":=", 1) {
            pos += 2
            guard try expression() != nil else { pos = start; return nil }
            return .other(start, "named expression")
        }
        if invalidRules, !argument {
            // invalid_named_expression
            if isName(), isOp("=", 1) {
                pos += 2
                if try bitwiseOr() != nil, !isOp("="), !isOp(":=") {
                    throw fail(start, "invalid syntax. Maybe you meant '==' or ':=' instead of '='?")
                }
                pos = start
            } else if !(isOp("[") || isOp("(") || isKeyword("True") || isKeyword("None") || isKeyword("False")) {
                if let a = try bitwiseOr(), isOp("=") {
                    pos += 1
                    if try bitwiseOr() != nil, !isOp("="), !isOp(":=") {
                        throw fail(start, "cannot assign to \(a.what) here. Maybe you meant '==' instead of '='?")
                    }
                }
                pos = start
            }
        }
        guard let e = try expression() else { return nil }
        if isOp(":=") {
            if invalidRules {
                pos += 1
                if try expression() != nil { throw fail(start, "cannot use assignment expressions with \(e.what)") }
            }
            pos = start
            return nil
        }
        return e
    }

    mutating func expression() throws -> PyExpr? {
        depth += 1
        defer { depth -= 1 }
        if depth > 200 { throw TooDeep() }
        let start = pos
        if invalidRules {
            try invalidExpression()
            pos = start
        }
        if isKeyword("lambda") { return try lambda() }
        guard let d = try disjunction() else { return nil }
        guard isKeyword("if") else { return d }
        let afterD = pos
        pos += 1
        guard try disjunction() != nil, eatKeyword("else"), try expression() != nil else { pos = afterD; return d }
        return .other(start, "conditional expression")
    }

    /// CPython's invalid_expression: two expressions side by side in brackets ("Perhaps you forgot a comma?"),
    /// and `a if b` without `else`.
    mutating func invalidExpression() throws {
        let start = pos
        let t = peek()
        let soft = t.kind == .name && (spells(pos, "match") || spells(pos, "case") || spells(pos, "_"))
        let nameString = t.kind == .name && peek(1).kind == .string
        if !soft && !nameString, let a = try disjunction() {
            let afterA = pos
            if !isKeyword("if") {
                invalidRules = false
                defer { invalidRules = true }
                if try expression() != nil {
                    let legacy = a.kind == .name && (spells(start, "print") || spells(start, "exec")) && afterA == start + 1
                    if !legacy, pos > 0, tokens[pos - 1].level > 0 {
                        invalidRules = true
                        throw fail(start, "invalid syntax. Perhaps you forgot a comma?")
                    }
                }
            } else {
                pos += 1
                if try disjunction() != nil, !isKeyword("else"), !isOp(":") {
                    throw fail(start, "expected 'else' after 'if' expression")
                }
            }
        }
        pos = start
    }

    mutating func lambda() throws -> PyExpr? {
        let start = pos
        pos += 1
        guard try parameters(closing: ":", lambda: true) else { pos = start; return nil }
        guard eatOp(":"), try expression() != nil else { pos = start; return nil }
        return .other(start, "lambda")
    }

    mutating func yieldExpression() throws -> PyExpr? {
        let start = pos
        pos += 1
        if eatKeyword("from") {
            guard try expression() != nil else { pos = start; return nil }
        } else if !atStatementEnd(), !isOp(")"), !isOp("]"), !isOp("}"), !isOp("=") {
            let save = pos
            if try starExpressions() == nil { pos = save }
        }
        return .other(start, "yield expression")
    }

    mutating func disjunction() throws -> PyExpr? {
        let start = pos
        let key = start * 2 + (invalidRules ? 1 : 0)
        if key < memo.count, let hit = memo[key] { pos = hit.end; return hit.expr }
        var result = try conjunction()
        if result != nil, isKeyword("or") {
            while eatKeyword("or") {
                guard try conjunction() != nil else { result = nil; break }
            }
            if result != nil { result = .other(start, "expression") }
        }
        if result == nil { pos = start }
        if key < memo.count { memo[key] = (pos, result) }
        return result
    }

    mutating func conjunction() throws -> PyExpr? {
        let start = pos
        guard var result = try inversion() else { return nil }
        if isKeyword("and") {
            while eatKeyword("and") {
                guard try inversion() != nil else { pos = start; return nil }
            }
            result = .other(start, "expression")
        }
        return result
    }

    mutating func inversion() throws -> PyExpr? {
        let start = pos
        if eatKeyword("not") {
            guard try inversion() != nil else { pos = start; return nil }
            return .other(start, "expression")
        }
        return try comparison()
    }

    mutating func comparisonOperator() -> Bool {
        let i = index(0)
        if tokens[i].kind == .op, Self.comparisonOps.contains(where: { spells(i, $0) }) { pos += 1; return true }
        if tokens[i].kind == .name {
            if spells(i, "in") { pos += 1; return true }
            if spells(i, "not"), isKeyword("in", 1) { pos += 2; return true }
            if spells(i, "is") { pos += isKeyword("not", 1) ? 2 : 1; return true }
        }
        return false
    }

    mutating func comparison() throws -> PyExpr? {
        let start = pos
        guard var result = try bitwiseOr() else { return nil }
        var compared = false
        while true {
            let save = pos
            guard comparisonOperator() else { break }
            guard try bitwiseOr() != nil else { pos = save; break }
            compared = true
        }
        if compared { result = .other(start, "comparison") }
        return result
    }

    /// Operator tokens of each binary level (arrays of a few: a set literal here was hashed on every call).
    static let orOps: [StaticString] = ["|"], xorOps: [StaticString] = ["^"], andOps: [StaticString] = ["&"]
    static let shiftOps: [StaticString] = ["<<", ">>"], sumOps: [StaticString] = ["+", "-"]
    static let termOps: [StaticString] = ["*", "/", "//", "%", "@"]
    static let comparisonOps: [StaticString] = ["==", "!=", "<", "<=", ">", ">="]
    static let augmentedOps: [StaticString] = ["+=", "-=", "*=", "@=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=", "**=", "//="]

    mutating func binary(_ ops: [StaticString], patternMode: Bool = false,
                         _ next: (inout PythonGrammarParser) throws -> PyExpr?) throws -> PyExpr? {
        let start = pos
        guard var result = try next(&self) else { return nil }
        while true {
            let i = index(0)
            guard tokens[i].kind == .op, ops.contains(where: { spells(i, $0) }) else { break }
            let save = pos
            pos += 1
            guard try next(&self) != nil else { pos = save; break }
            result = .other(start, "expression")
        }
        return result
    }

    mutating func bitwiseOr(patternMode: Bool = false) throws -> PyExpr? {
        if patternMode {
            // `|` separates patterns.
            return try binary(Self.xorOps) { try $0.bitwiseAnd() }
        }
        return try binary(Self.orOps) { try $0.binary(Self.xorOps) { try $0.bitwiseAnd() } }
    }

    mutating func bitwiseAnd() throws -> PyExpr? {
        try binary(Self.andOps) { try $0.binary(Self.shiftOps) { try $0.binary(Self.sumOps) { try $0.term() } } }
    }

    mutating func term() throws -> PyExpr? {
        try binary(Self.termOps) { try $0.factor() }
    }

    mutating func factor() throws -> PyExpr? {
        let start = pos
        if isOp("+") || isOp("-") || isOp("~") {
            pos += 1
            guard try factor() != nil else { pos = start; return nil }
            return .other(start, "expression")
        }
        return try power()
    }

    mutating func power() throws -> PyExpr? {
        let start = pos
        var result: PyExpr
        if isKeyword("await") {
            pos += 1
            guard try primary() != nil else { pos = start; return nil }
            result = .other(start, "await expression")
        } else {
            guard let p = try primary() else { return nil }
            result = p
        }
        if isOp("**") {
            let save = pos
            pos += 1
            guard try factor() != nil else { pos = save; return result }
            result = .other(start, "expression")
        }
        return result
    }

    mutating func primary() throws -> PyExpr? {
        let start = pos
        guard var result = try atom() else { return nil }
        while true {
            let save = pos
            if eatOp(".") {
                guard eatName() else { pos = save; break }
                result = PyExpr(start: start, kind: .attribute, target: true, what: "attribute")
            } else if eatOp("(") {
                guard try callArguments() else { pos = save; break }
                result = .other(start, "function call")
            } else if eatOp("[") {
                guard try slices(), eatOp("]") else { pos = save; break }
                result = PyExpr(start: start, kind: .subscript, target: true, what: "subscript")
            } else {
                break
            }
        }
        return result
    }

    mutating func callArguments() throws -> Bool {
        if eatOp(")") { return true }
        guard try arguments() else { return false }
        return eatOp(")")
    }

    mutating func slices() throws -> Bool {
        guard try slice() else { return false }
        while eatOp(",") {
            if isOp("]") { return true }
            guard try slice() else { return false }
        }
        return true
    }

    mutating func slice() throws -> Bool {
        let start = pos
        if eatOp("*") { if try bitwiseOr() != nil { return true }; pos = start; return false }
        var parts = 0
        if !isOp(":") {
            // A lone expression may be a named expression; a slice bound may not.
            guard try namedExpression() != nil else { return false }
            if !isOp(":") { return true }
            parts = 1
        }
        _ = parts
        pos += 1   // ':'
        if !isOp(":"), !isOp(","), !isOp("]") { guard try expression() != nil else { return false } }
        if eatOp(":") {
            if !isOp(","), !isOp("]") { guard try expression() != nil else { return false } }
        }
        return true
    }

    mutating func comprehensionClauses() throws -> Bool {
        var any = false
        while isKeyword("for") || (isKeyword("async") && isKeyword("for", 1)) {
            if isKeyword("async") { pos += 1 }
            pos += 1
            guard let targets = try targetList(star: true) else { return false }
            guard eatKeyword("in") else { return false }
            if !targets.target {
                if invalidRules { throw fail(targets.start, "cannot assign to \(targets.what)") }
                return false
            }
            guard try disjunction() != nil else { return false }
            while eatKeyword("if") { guard try disjunction() != nil else { return false } }
            any = true
        }
        return any
    }

    mutating func atComprehension() -> Bool { isKeyword("for") || (isKeyword("async") && isKeyword("for", 1)) }

    mutating func atom() throws -> PyExpr? {
        let start = pos
        let t = peek()
        switch t.kind {
        case .name:
            if !t.hard {
                pos += 1
                return PyExpr(start: start, kind: .name, target: true, what: "name")
            }
            if spells(pos, "True") { pos += 1; return .other(start, "True") }
            if spells(pos, "False") { pos += 1; return .other(start, "False") }
            if spells(pos, "None") { pos += 1; return .other(start, "None") }
            return nil
        case .number:
            pos += 1
            return .other(start, "literal")
        case .string:
            var bytes = false, text = false
            while at(.string) {
                let t = tokens[pos]
                // The prefix letters before the quote: a `b` makes a bytes literal.
                var isBytes = false
                for i in t.start..<t.end {
                    let c = source(i)
                    if c == 0x22 || c == 0x27 { break }
                    if c | 0x20 == 0x62 { isBytes = true }
                }
                if isBytes { bytes = true } else { text = true }
                pos += 1
            }
            if bytes && text {
                // Raised by the parser's action in the first pass, at the last token fetched.
                _ = peek()
                throw failHere("cannot mix bytes and nonbytes literals")
            }
            return .other(start, "literal")
        case .op:
            // The operator's byte ("..." as 1: a lone "." starts no atom).
            let op: UInt8 = t.end - t.start == 1 ? bytes[t.start] : spells(pos, "...") ? 1 : 0
            switch op {
            case 1:
                pos += 1
                return .other(start, "ellipsis")
            case 0x28:
                depth += 1
                defer { depth -= 1 }
                if depth > 200 { throw TooDeep() }
                pos += 1
                if eatOp(")") { return PyExpr(start: start, kind: .tuple, target: true, what: "tuple") }
                if isKeyword("yield") {
                    guard try yieldExpression() != nil, eatOp(")") else { pos = start; return nil }
                    return .other(start, "yield expression")
                }
                guard let first = try starNamedExpression() else { pos = start; return nil }
                if atComprehension() {
                    guard try comprehensionClauses(), eatOp(")") else { pos = start; return nil }
                    return .other(start, "generator expression")
                }
                if eatOp(")") {
                    if first.kind == .starred { pos = start; return nil }
                    var inner = first
                    inner.start = start
                    return inner
                }
                var ok = first.target
                var what: StaticString = first.target ? "" : first.what
                while eatOp(",") {
                    if isOp(")") { break }
                    guard let next = try starNamedExpression() else { pos = start; return nil }
                    if !next.target, ok { ok = false; what = next.what }
                }
                guard eatOp(")") else { pos = start; return nil }
                return PyExpr(start: start, kind: .tuple, target: ok, what: what.isEmpty ? "tuple" : what)
            case 0x5B:
                depth += 1
                defer { depth -= 1 }
                if depth > 200 { throw TooDeep() }
                pos += 1
                if eatOp("]") { return PyExpr(start: start, kind: .list, target: true, what: "list") }
                guard let first = try starNamedExpression() else { pos = start; return nil }
                if atComprehension() {
                    guard try comprehensionClauses(), eatOp("]") else { pos = start; return nil }
                    return .other(start, "list comprehension")
                }
                var ok = first.target
                var what: StaticString = first.target ? "" : first.what
                while eatOp(",") {
                    if isOp("]") { break }
                    guard let next = try starNamedExpression() else { pos = start; return nil }
                    if !next.target, ok { ok = false; what = next.what }
                }
                guard eatOp("]") else { pos = start; return nil }
                return PyExpr(start: start, kind: .list, target: ok, what: what.isEmpty ? "list" : what)
            case 0x7B:
                depth += 1
                defer { depth -= 1 }
                if depth > 200 { throw TooDeep() }
                pos += 1
                return try braces(start) ? .other(start, "dict literal") : nil
            default:
                return nil
            }
        default:
            return nil
        }
    }

    /// `{` … `}`: a dict, a set or a comprehension of either (the `{` is consumed).
    mutating func braces(_ start: Int) throws -> Bool {
        if eatOp("}") { return true }
        var isDict: Bool
        if eatOp("**") {
            guard try bitwiseOr() != nil else { pos = start; return false }
            isDict = true
        } else {
            guard let key = try starNamedExpression() else { pos = start; return false }
            if key.kind != .starred, eatOp(":") {
                if invalidRules, isOp("}") || isOp(",") {
                    throw fail(pos - 1, "expression expected after dictionary key and ':'")
                }
                guard try expression() != nil else { pos = start; return false }
                isDict = true
            } else {
                isDict = false
            }
            if atComprehension() {
                guard try comprehensionClauses(), eatOp("}") else { pos = start; return false }
                return true
            }
        }
        while eatOp(",") {
            if isOp("}") { break }
            if isDict {
                if eatOp("**") {
                    guard try bitwiseOr() != nil else { pos = start; return false }
                    continue
                }
                let itemStart = pos
                // After a first key: value pair, CPython's invalid_kvpair speaks before invalid_expression.
                let rules = invalidRules
                invalidRules = false
                let key = try expression()
                invalidRules = rules
                guard key != nil else {
                    if invalidRules { pos = itemStart; _ = try expression() }
                    pos = start
                    return false
                }
                guard eatOp(":") else {
                    if invalidRules { throw fail(pos - 1, "':' expected after dictionary key") }
                    pos = start
                    return false
                }
                if invalidRules, isOp("}") || isOp(",") {
                    throw fail(pos - 1, "expression expected after dictionary key and ':'")
                }
                guard try expression() != nil else { pos = start; return false }
            } else {
                guard try starNamedExpression() != nil else { pos = start; return false }
            }
        }
        guard eatOp("}") else { pos = start; return false }
        return true
    }
}
