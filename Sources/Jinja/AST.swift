/// An expression, with where it starts in the template (for error messages).
final class Expr {
    indirect enum Kind {
        case literal(Value)
        case name(String)
        case list([Expr])
        case tuple([Expr])
        case dict([(Expr, Expr)])
        case attribute(Expr, String)
        case item(Expr, Expr)
        case slice(Expr, Expr?, Expr?, Expr?)
        case call(Expr, [Expr], [(String, Expr)])
        case filter(Expr, String, [Expr], [(String, Expr)])
        case test(Expr, String, [Expr], negated: Bool)
        case unary(String, Expr)
        case binary(String, Expr, Expr)
        case and(Expr, Expr)
        case or(Expr, Expr)
        case not(Expr)
        case compare(Expr, [(String, Expr)])
        case conditional(Expr, test: Expr, otherwise: Expr?)
    }
    let kind: Kind
    let position: SourcePosition
    init(_ kind: Kind, _ position: SourcePosition) {
        self.kind = kind
        self.position = position
    }
}

/// What `{% set %}` and `{% for %}` assign to.
enum Target {
    case name(String)
    case tuple([String])
    case attribute(String, String)  // namespace attribute: ns.x
}

struct MacroDefinition {
    var name: String
    var parameters: [(String, Expr?)]
    var body: [Node]
}

/// A statement or piece of output.
indirect enum Node {
    case text(String)
    case output(Expr)
    case ifChain([(Expr, [Node])], otherwise: [Node])
    case forLoop(Target, iterable: Expr, condition: Expr?, body: [Node], otherwise: [Node], position: SourcePosition)
    case set(Target, Expr, SourcePosition)
    case setBlock(Target, body: [Node], filters: [(String, [Expr], [(String, Expr)], SourcePosition)], SourcePosition)
    case macro(MacroDefinition)
    case callBlock(call: Expr, parameters: [(String, Expr?)], body: [Node])
    case filterBlock([(String, [Expr], [(String, Expr)], SourcePosition)], body: [Node])
    case doExpr(Expr)
    case breakLoop(SourcePosition)
    case continueLoop(SourcePosition)
}
