import Foundation

/// One statement of a generated test: a Python expression, optionally bound to a name.
///
/// Expressions are source text written by the generator (`shop.Cart(limit=2)`, `cart.add('pen', 3)`), so the
/// sandbox evaluates exactly what the test file will contain.
public struct TestStep: Sendable, Codable, Hashable {
    public var expr: String
    public var bind: String?

    public init(_ expr: String, bind: String? = nil) {
        self.expr = expr
        self.bind = bind
    }
}

/// A candidate test: a short sequence of steps aimed at one callable of the module.
public struct TestCase: Sendable, Codable, Hashable {
    /// The callable under test (`parse_line`, `Account.withdraw`).
    public var target: String
    public var steps: [TestStep]
    /// Names whose final state the test asserts on (instances, mutable arguments).
    public var watch: [String]
    /// Where the input came from: "sweep", "random", "mutation", "docstring", "model".
    public var origin: String
    /// True when every generated argument fits its parameter's type hint (a crash then is a likely bug, not misuse).
    public var fitsHints = true

    public init(target: String, steps: [TestStep], watch: [String] = [], origin: String) {
        self.target = target
        self.steps = steps
        self.watch = watch
        self.origin = origin
    }

    enum CodingKeys: String, CodingKey { case target, steps, watch, origin, fitsHints = "fits_hints" }

    /// The call under test as one line, for reports (`Account(100).withdraw(-1)` style, steps joined by `; `).
    public var reproduction: String {
        steps.map { step in step.bind.map { "\($0) = \(step.expr)" } ?? step.expr }.joined(separator: "; ")
    }

    /// A size used to prefer minimal reproductions: fewer steps, then shorter text.
    var size: Int { steps.count * 1000 + reproduction.count }
}

/// How the sandbox describes a value, so that a test can assert on it.
public struct Observation: Sendable, Codable, Hashable {
    /// `none`, `bool`, `eq` (repr round-trips), `float`, `nan`, `len`, `iter`, `iter_len`, `iter_raises`,
    /// `instance` (a class of the module, with its simple attributes), `type` (anything else).
    public var kind: String
    public var repr: String?
    public var value: Bool?
    public var type: String?
    public var len: Int?
    public var attrs: [String: Observation]?
    /// `str()` of an object that has no literal, when short and without an address.
    public var str: String?
}

/// An exception a step raised.
public struct RaisedError: Sendable, Codable, Hashable {
    /// The exception's class name.
    public var type: String
    /// The nearest class a test can name (a builtin or one of the module's: `ValueError`, `shop.OutOfStock`).
    public var expressible: String
    public var message: String
    /// The innermost line of the target module in the traceback.
    public var line: Int?
    /// True when that line is a `raise` statement: the module rejects the input on purpose.
    public var explicit: Bool
}

/// What one step did.
public struct StepOutcome: Sendable, Codable, Hashable {
    public var value: Observation?
    public var raised: RaisedError?
    public var timeout: Bool?
}

/// The sandbox's answer for one case.
public struct CaseResult: Sendable, Codable, Hashable {
    public var steps: [StepOutcome]
    public var state: [String: Observation]
    /// Line arcs executed in the target file (negative numbers: function entry and exit, as coverage.py writes them).
    public var arcs: [[Int]]
    /// Set by the Swift side when the worker died or stopped answering during the case.
    public var crashed: String?
    /// How many processes the case started (the worker killed them); such a case is a finding, never a test.
    public var spawned: Int?
    /// Comparisons the module made while the case ran, not reported before: `[seen, wanted]` as Python literals
    /// (`seen` was compared with `wanted`; an empty `seen`: `wanted` was looked for in a value). The search
    /// substitutes them into the case's arguments (input-to-state feedback).
    public var cmps: [[String]]?
    /// Set by the worker when a step is not a valid Python expression (nothing ran).
    public var invalid: String?

    public init(steps: [StepOutcome], state: [String: Observation], arcs: [[Int]], crashed: String? = nil,
                spawned: Int? = nil, cmps: [[String]]? = nil) {
        self.steps = steps
        self.state = state
        self.arcs = arcs
        self.crashed = crashed
        self.spawned = spawned
        self.cmps = cmps
    }

    enum CodingKeys: String, CodingKey { case steps, state, arcs, crashed, spawned, cmps, invalid }

    /// The observable behaviour (no coverage): two runs of a deterministic case give equal behaviours.
    var behaviour: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys  // dictionaries print in a different order per instance
        let copy = CaseResult(steps: steps, state: state, arcs: [], crashed: crashed, spawned: spawned)
        return (try? encoder.encode(copy)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    /// The final value's description, stable across runs (for grouping equal behaviours).
    var lastValueKey: String {
        guard let value = steps.last?.value else { return "" }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    var timedOut: Bool { crashed != nil || steps.contains { $0.timeout == true } }

    /// The exception the case ended with, if any.
    var finalError: RaisedError? { steps.last?.raised }
}
