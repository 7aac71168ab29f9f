import Engine
import Foundation

/// Progress of the search, reported about twice a second.
public struct ExplorationProgress: Sendable {
    public var elapsed: Double
    public var runs: Int
    public var kept: Int
    public var linesCovered: Int
    public var arcsCovered: Int
    public var findings: Int
}

/// The coverage-guided loop: runs candidate cases in the sandbox until the deadline and keeps those that reach
/// new arcs (or end in a new kind of exception for their target).
struct Explorer {
    struct Kept {
        var testCase: TestCase
        var result: CaseResult
    }

    /// Its pools grow with the mutated values that reached new arcs or outcomes.
    private(set) var builder: CaseBuilder
    let worker: SandboxWorker
    var mutator: ValueMutator
    /// Mutated values already in a pool: "target|parameter|value" → index.
    private var addedValues: [String: Int] = [:]
    private var addedPerTarget: [Int: Int] = [:]
    static let addedLimit = 400
    let callTimeout: Double
    /// Seeded, so a run with the same `--seed` tries the same inputs in the same order.
    var random: SeededGenerator

    private(set) var kept: [Kept] = []
    /// Cases that crashed, hung or raised an unintended exception: candidates for the edge-case report.
    private(set) var suspicious: [Kept] = []
    /// Cases that added no coverage but returned (or raised) something their target had not, and sweep cases:
    /// candidates that mutation analysis may add to kill survivors (at most `archiveLimit` a target).
    private(set) var archive: [Kept] = []
    private var archivedPerTarget: [String: Int] = [:]
    private var valuesSeen = Set<String>()
    static let archiveLimit = 60
    private(set) var runs = 0
    private(set) var covered = Set<[Int]>()
    private var seen = Set<String>()
    private var hangsByTarget: [String: Int] = [:]
    private var outcomesSeen = Set<String>()
    /// Per target: how many runs since it last found something new (recent gains earn more attention).
    private var staleness: [Int]
    /// How each kept case of a target was built, so that mutations start from it.
    private var recipes: [Int: [Recipe]] = [:]
    /// Recipes derived from the comparison log (a compared value substituted into an argument), run before
    /// random and mutated ones.
    private var pending: [(Recipe, Int)] = []
    static let pendingLimit = 400
    /// Pool values added by substitution, per target (beyond `addedLimit`, which bounds random mutation).
    private var substitutedPerTarget: [Int: Int] = [:]
    static let substitutedLimit = 600
    /// Cases that call what an earlier case returned, when that was a function (a decorator factory, a closure):
    /// `fn1 = m.recursive_repr()`, then `fn2 = fn1(len)`, then `fn2('abc')`. Run before random draws.
    private var chained: [Item] = []
    private var chainedQueued = 0
    static let chainLimit = 240
    /// Values the module produced (returned bytes and strings, streams' final contents) already queued as inputs.
    private var producedSeen = Set<String>()
    /// Cases with a produced value as an argument: a third of the draws while there are some (after the
    /// comparison log's, which they must not crowd out).
    private var producedQueue: [(Recipe, Int)] = []
    static let producedLimit = 48
    static let producedLength = 400
    /// Cases queued for one produced value at most.
    static let producedUses = 24

    struct Recipe {
        var choice: CaseBuilder.Choice
        var receiver: CaseBuilder.Choice?
        var prelude: [(Int, CaseBuilder.Choice)]
    }

    init(builder: CaseBuilder, worker: SandboxWorker, seed: UInt64, callTimeout: Double) {
        self.builder = builder
        self.worker = worker
        self.mutator = ValueMutator(surface: builder.surface)
        self.callTimeout = callTimeout
        self.random = SeededGenerator(seed: seed &+ 0x9E37_79B9_7F4A_7C15)
        self.staleness = Array(repeating: 0, count: builder.targets.count)
        covered.formUnion(worker.importArcs)
    }

    var linesCovered: Int { Set(covered.flatMap { $0 }.filter { $0 > 0 }).count }

    /// Runs seeds first (docstring examples, extra cases such as model proposals, then a one-parameter-at-a-time
    /// sweep of every pool), then random and mutated cases until `deadline`.
    /// `stop` is asked between cases and ends the search early when it says so (a cancelled request).
    mutating func explore(seeds: [TestCase], until deadline: Date, stop: () -> Bool = { false },
                          progress: (ExplorationProgress) -> Void) {
        let start = Date()
        func going() -> Bool { Date() < deadline && !stop() }
        var lastReport = Date.distantPast
        func report() {
            if Date().timeIntervalSince(lastReport) >= 0.5 {
                lastReport = Date()
                progress(ExplorationProgress(elapsed: Date().timeIntervalSince(start), runs: runs, kept: kept.count,
                                             linesCovered: linesCovered, arcsCovered: covered.count,
                                             findings: suspicious.count))
            }
        }
        // Cases go to the worker in batches (pipelined: one write, one answer a case), fewer near the deadline.
        var batch: [Item] = []
        func size() -> Int { max(1, min(Self.batchSize, Int(deadline.timeIntervalSinceNow / (2 * callTimeout)))) }
        for seed in seeds {
            guard going() else { return }
            batch.append(Item(candidate: seed, index: builder.targets.firstIndex { $0.name == seed.target }, recipe: nil))
            if batch.count >= size() { runAll(batch); batch = []; report() }
        }
        // Every target once with typical arguments first, so that a target that hangs or crashes on everything
        // cannot use up a short budget before the others were tried.
        // A case that a hang or crash earlier in its batch kept from running is tried again here (up to three
        // rounds), not left to the later, longer loops: on a 6 s budget those reached the module's ordinary
        // functions only after the hanging ones' other values.
        var sweep = builder.targets.indices.filter { !builder.targets[$0].isAttribute }.map {
            item(Recipe(choice: builder.defaultChoice($0), receiver: nil, prelude: []), $0, origin: "sweep")
        }
        for _ in 0..<3 where !sweep.isEmpty {
            for sweepItem in sweep {
                guard going() else { return }
                batch.append(sweepItem)
                if batch.count >= size() { runAll(batch); batch = []; report() }
            }
            if !batch.isEmpty { runAll(batch); batch = []; report() }
            sweep = sweep.filter { !seen.contains($0.candidate.reproduction) }
        }
        // Strings the module's regular expressions match, in its string arguments and its receivers' (before the
        // sweep: a pattern-driven module does nothing interesting with strings that match none of its patterns).
        // At most a tenth of the search: a slow module (a lexer reading one character at a time) gets few cases.
        let regexEnd = Date().addingTimeInterval(deadline.timeIntervalSinceNow * 0.1)
        for regexItem in regexSeeds(worker.regexStrings) {
            guard going() else { return }
            guard Date() < regexEnd else { break }
            batch.append(regexItem)
            if batch.count >= size() { runAll(batch); batch = []; report() }
        }
        // Argument vectors for the options the module declares, in the parameters that reach its option parser,
        // within the next tenth of the search.
        let argvEnd = Date().addingTimeInterval(deadline.timeIntervalSinceNow * 0.1)
        for argvItem in argvSeeds(worker.argvVectors, into: worker.argvTargets) {
            guard going() else { return }
            guard Date() < argvEnd else { break }
            batch.append(argvItem)
            if batch.count >= size() { runAll(batch); batch = []; report() }
        }
        for (index, target) in builder.targets.enumerated() where !target.isAttribute {
            guard going() else { return }
            for (p, pool) in target.pools.enumerated() {
                for value in pool.indices.prefix(40) {
                    guard going() else { return }
                    var choice = builder.defaultChoice(index)
                    choice[p] = value
                    batch.append(item(Recipe(choice: choice, receiver: nil, prelude: []), index, origin: "sweep"))
                    if batch.count >= size() { runAll(batch); batch = []; report() }
                }
            }
        }
        if !batch.isEmpty, going() { runAll(batch); batch = [] }
        guard !builder.targets.isEmpty else { return }
        while going() {
            for _ in 0..<size() {
                // Most draws follow the comparison log first: those inputs differ from a run one just saw exactly
                // where the module compared them.
                if !chained.isEmpty, Int.random(in: 0..<10, using: &random) < 5 {
                    batch.append(chained.removeFirst())
                    continue
                }
                if !pending.isEmpty, Int.random(in: 0..<10, using: &random) < 6 {
                    let (recipe, index) = pending.removeFirst()
                    batch.append(item(recipe, index, origin: "mutation"))
                    continue
                }
                if !producedQueue.isEmpty, Int.random(in: 0..<10, using: &random) < 3 {
                    let (recipe, index) = producedQueue.removeFirst()
                    batch.append(item(recipe, index, origin: "mutation"))
                    continue
                }
                let index = pickTarget()
                if let mine = recipes[index], !mine.isEmpty, Int.random(in: 0..<10, using: &random) < 5 {
                    batch.append(item(mutate(mine.randomElement(using: &random)!, index), index, origin: "mutation"))
                } else {
                    batch.append(item(randomRecipe(index), index, origin: "random"))
                }
            }
            runAll(batch)
            batch = []
            report()
        }
        progress(ExplorationProgress(elapsed: Date().timeIntervalSince(start), runs: runs, kept: kept.count,
                                     linesCovered: linesCovered, arcsCovered: covered.count, findings: suspicious.count))
    }

    static let regexSeedLimit = 240

    /// Cases with each string the module's regular expressions match (`SandboxWorker.regexStrings`) in one string
    /// (or bytes, or stream) argument of a target, or of its receiver's constructor, the other arguments typical; at most
    /// `regexSeedLimit`, in a seeded order. The strings also join those that value mutations insert.
    private mutating func regexSeeds(_ literals: [String]) -> [Item] {
        guard !literals.isEmpty else { return [] }
        for literal in literals { mutator.learn(literal) }
        let strings = literals.filter { ValueMutator.stringContent($0) != nil }
        let bytes = literals.filter { ValueMutator.bytesContent($0) != nil && ValueMutator.stringContent($0) == nil }
        func matching(_ pool: [String]) -> [String] {
            guard let head = pool.first else { return [] }
            if ValueMutator.stringContent(head) != nil { return strings }
            if ValueMutator.bytesContent(head) != nil { return bytes }
            // A stream: the strings as its contents.
            if head.hasPrefix("io.StringIO(") { return strings.map { "io.StringIO(\($0))" } }
            if head.hasPrefix("io.BytesIO(") { return bytes.map { "io.BytesIO(\($0))" } }
            return []
        }
        func position(_ value: String, _ target: Int, _ p: Int) -> Int {
            builder.targets[target].pools[p].firstIndex(of: value)
                ?? builder.addValue(value, target: target, parameter: p, from: 0)
        }
        var recipes: [(Recipe, Int)] = []
        for index in builder.targets.indices where !builder.targets[index].isAttribute {
            let target = builder.targets[index]
            for p in target.parameters.indices where p < target.pools.count
                && target.parameters[p].kind != .variadic && target.parameters[p].kind != .variadicKeyword {
                for value in matching(target.pools[p]) {
                    var choice = builder.defaultChoice(index)
                    choice[p] = position(value, index, p)
                    recipes.append((Recipe(choice: choice, receiver: nil, prelude: []), index))
                }
            }
            guard let constructor = target.constructor, !target.isStatic else { continue }
            let ctor = builder.targets[constructor]
            for p in ctor.parameters.indices where p < ctor.pools.count {
                for value in matching(ctor.pools[p]) {
                    var receiver = builder.defaultChoice(constructor)
                    receiver[p] = position(value, constructor, p)
                    recipes.append((Recipe(choice: builder.defaultChoice(index), receiver: receiver, prelude: []), index))
                }
            }
        }
        recipes.shuffle(using: &random)
        return recipes.prefix(Self.regexSeedLimit).map { item($0.0, $0.1, origin: "sweep") }
    }

    /// Cases with each argument vector (`SandboxWorker.argvVectors`) in each parameter that reaches an option
    /// parser (`SandboxWorker.argvTargets`, `target|parameter`), the other arguments typical; the vectors join
    /// those parameters' pools, so that later draws and list mutations start from them. (Every parameter named
    /// `args` was too wide: getopt's own helpers got the vectors, and getopt lost 8 branch points in two runs.)
    private mutating func argvSeeds(_ vectors: [String], into targets: Set<String>) -> [Item] {
        guard !vectors.isEmpty, !targets.isEmpty else { return [] }
        var items: [Item] = []
        for index in builder.targets.indices where !builder.targets[index].isAttribute {
            let target = builder.targets[index]
            for p in target.parameters.indices where p < target.pools.count
                && target.parameters[p].kind != .variadic && target.parameters[p].kind != .variadicKeyword
                && targets.contains("\(target.name)|\(target.parameters[p].name)") {
                for vector in vectors {
                    var choice = builder.defaultChoice(index)
                    choice[p] = target.pools[p].firstIndex(of: vector)
                        ?? builder.addValue(vector, target: index, parameter: p, from: 0)
                    items.append(item(Recipe(choice: choice, receiver: nil, prelude: []), index, origin: "sweep"))
                }
            }
        }
        return items
    }

    /// A candidate case, the target it aims at and the recipe it was built from (none for seeds).
    struct Item {
        var candidate: TestCase
        var index: Int?
        var recipe: Recipe?
    }

    static let batchSize = 8

    private func item(_ recipe: Recipe, _ index: Int, origin: String) -> Item {
        Item(candidate: builder.steps(for: index, choice: recipe.choice, receiverChoice: recipe.receiver,
                                      prelude: recipe.prelude, origin: origin), index: index, recipe: recipe)
    }

    /// Runs the items not tried before in one batch and takes in the results: kept cases' recipes join the
    /// target's recipes, comparison logs queue substitutions. A case not run (an earlier one in the batch killed
    /// the worker) may be tried again later.
    private mutating func runAll(_ items: [Item]) {
        let fresh = items.filter { seen.insert($0.candidate.reproduction).inserted }
        guard !fresh.isEmpty else { return }
        let requests = fresh.map { item -> (TestCase, Double) in
            // A target that hung twice gets a short leash: hangs are findings, and each costs the whole limit.
            let hangs = hangsByTarget[item.candidate.target, default: 0]
            return (item.candidate, hangs >= 2 ? min(callTimeout, 0.1) : callTimeout)
        }
        let results = worker.runBatch(requests)
        for (item, result) in zip(fresh, results) {
            guard let result else {
                seen.remove(item.candidate.reproduction)
                continue
            }
            let isKept = absorb(item.candidate, targetIndex: item.index, result: result)
            chainCalls(item, result)
            harvest(result)
            guard let recipe = item.recipe, let index = item.index else { continue }
            if isKept { recipes[index, default: []].append(recipe) }
            noteSetup(recipe, index, result)
            if let pairs = result.cmps, !pairs.isEmpty { follow(pairs, recipe, index) }
        }
    }

    /// Arguments a returned function is called with: functions first (a decorator factory's result takes one),
    /// then plain values (a closure's).
    static let chainArguments = ["len", "lambda *args, **kwargs: args", "str", "'abc'", "1", "[1, 2]", "None", ""]
    static let callableTypes: Set<String> = ["function", "builtin_function_or_method", "method", "partial",
                                             "functools.partial", "method-wrapper"]

    /// When `item`'s last step returned a function, queues cases that call it (at most two calls deep).
    private mutating func chainCalls(_ item: Item, _ result: CaseResult) {
        guard chainedQueued < Self.chainLimit, result.finalError == nil, !result.timedOut, result.crashed == nil,
              result.steps.count == item.candidate.steps.count, let last = item.candidate.steps.last,
              last.bind == nil || last.bind!.hasPrefix("fn"),
              let value = result.steps.last?.value, value.kind == "type" || value.kind == "instance",
              let type = value.type, Self.callableTypes.contains(type) else { return }
        let depth = item.candidate.steps.filter { $0.bind?.hasPrefix("fn") == true }.count
        guard depth < 2 else { return }
        var base = item.candidate
        let name = "fn\(depth + 1)"
        base.steps[base.steps.count - 1].bind = name
        base.origin = "chain"
        for argument in Self.chainArguments {
            var next = base
            next.steps.append(TestStep("\(name)(\(argument))"))
            chained.append(Item(candidate: next, index: item.index, recipe: nil))
            chainedQueued += 1
        }
    }

    /// Values the module produced: the bytes a call returned (a literal), and what a binary or text stream
    /// argument holds afterwards. Each new one (at most `producedLimit`) is queued as an argument of every
    /// parameter (of a target or of its receiver's constructor) that takes that kind of value, as it is or as a
    /// stream's contents: what `compress` returns is what `decompress` takes, what `encode` gives `decode`, what a
    /// writer wrote into a stream a reader reads. Inputs in the module's own format, which no mutation of
    /// typical values reaches.
    private mutating func harvest(_ result: CaseResult) {
        guard producedSeen.count < Self.producedLimit, result.finalError == nil, !result.timedOut,
              result.crashed == nil, result.spawned == nil else { return }
        var found: [String] = []
        // Returned bytes only: returned strings are mostly text made for people or for another library (fnmatch's
        // `translate` gives regular expressions); fed to every string parameter they cost fnmatch 17 line points
        // in a run of the held-out ten (97.4 -> 80.0 %: its mutated `[a-z]` ranges were no longer reached).
        if let value = result.steps.last?.value, value.kind == "eq", let text = value.repr,
           ValueMutator.bytesContent(text) != nil { found.append(text) }
        for name in result.state.keys.sorted() {
            if let value = result.state[name], value.kind == "stream", let text = value.repr { found.append(text) }
        }
        for literal in found {
            let isBytes = ValueMutator.bytesContent(literal) != nil
            let isString = !isBytes && ValueMutator.stringContent(literal) != nil
            // Short strings are everywhere (names, flags): only longer ones are likely a format of the module's.
            guard isBytes || isString, literal.count <= Self.producedLength,
                  (ValueMutator.bytesContent(literal) ?? ValueMutator.stringContent(literal) ?? "").count >= (isBytes ? 3 : 8),
                  producedSeen.count < Self.producedLimit, producedSeen.insert(literal).inserted else { continue }
            var queued = 0
            func argument(for pool: [String]) -> String? {
                let head = pool.prefix(12)
                if isBytes, head.contains(where: { ValueMutator.bytesContent($0) != nil }) { return literal }
                if isString, let first = pool.first, ValueMutator.stringContent(first) != nil { return literal }
                if isBytes, head.contains(where: { $0.hasPrefix("io.BytesIO(") }) { return "io.BytesIO(\(literal))" }
                if isString, head.contains(where: { $0.hasPrefix("io.StringIO(") }) { return "io.StringIO(\(literal))" }
                return nil
            }
            for index in builder.targets.indices where !builder.targets[index].isAttribute {
                guard queued < Self.producedUses, producedQueue.count < Self.pendingLimit else { break }
                let target = builder.targets[index]
                for p in target.parameters.indices where p < target.pools.count && !target.pools[p].isEmpty
                    && target.parameters[p].kind != .variadic && target.parameters[p].kind != .variadicKeyword {
                    guard let value = argument(for: target.pools[p]) else { continue }
                    var choice = builder.defaultChoice(index)
                    choice[p] = target.pools[p].firstIndex(of: value) ?? builder.addValue(value, target: index, parameter: p, from: 0)
                    producedQueue.append((Recipe(choice: choice, receiver: nil, prelude: []), index))
                    queued += 1
                }
                guard let constructor = target.constructor, !target.isStatic, case .method = target.kind else { continue }
                let ctor = builder.targets[constructor]
                for p in ctor.parameters.indices where p < ctor.pools.count && !ctor.pools[p].isEmpty
                    && ctor.parameters[p].kind != .variadic && ctor.parameters[p].kind != .variadicKeyword {
                    guard let value = argument(for: ctor.pools[p]) else { continue }
                    var receiver = builder.defaultChoice(constructor)
                    receiver[p] = ctor.pools[p].firstIndex(of: value) ?? builder.addValue(value, target: constructor, parameter: p, from: 0)
                    producedQueue.append((Recipe(choice: builder.defaultChoice(index), receiver: receiver, prelude: []), index))
                    queued += 1
                }
            }
        }
    }

    /// Input-to-state feedback: for each value the module compared with another (`[seen, wanted]`), the recipe
    /// again with `seen` replaced by `wanted` in one argument (of the call, or of the receiver's constructor),
    /// queued in `pending`; `wanted` also joins the strings and integers that value mutations insert.
    private mutating func follow(_ pairs: [[String]], _ recipe: Recipe, _ index: Int) {
        for pair in pairs where pair.count == 2 {
            let (seen, wanted) = (pair[0], pair[1])
            mutator.learn(wanted)
            guard !seen.isEmpty, pending.count < Self.pendingLimit else { continue }
            var choice = recipe.choice
            if substitute(&choice, target: index, seen: seen, wanted: wanted) {
                var derived = recipe
                derived.choice = choice
                pending.append((derived, index))
            }
            let target = builder.targets[index]
            if let constructor = target.constructor, !target.isStatic {
                var receiver = recipe.receiver ?? builder.defaultChoice(constructor)
                if substitute(&receiver, target: constructor, seen: seen, wanted: wanted) {
                    var derived = recipe
                    derived.receiver = receiver
                    pending.append((derived, index))
                }
            }
        }
    }

    /// Replaces `seen` by `wanted` in the first argument of `choice` that holds it; false when none does.
    private mutating func substitute(_ choice: inout CaseBuilder.Choice, target: Int, seen: String,
                                     wanted: String) -> Bool {
        let pools = builder.targets[target].pools
        for p in choice.indices where p < pools.count && !pools[p].isEmpty {
            guard let from = choice[p].map({ $0 % pools[p].count }),
                  let value = Self.replacing(seen, with: wanted, in: pools[p][from]),
                  value.count <= 400 else { continue }
            if let existing = pools[p].firstIndex(of: value) {
                choice[p] = existing
            } else {
                guard substitutedPerTarget[target, default: 0] < Self.substitutedLimit else { return false }
                substitutedPerTarget[target, default: 0] += 1
                choice[p] = builder.addValue(value, target: target, parameter: p, from: from)
            }
            return true
        }
        return false
    }

    /// `value` (a Python expression) with the literal `seen` replaced by `wanted`: the whole value, a substring
    /// of a string or bytes literal, or a literal token inside a bigger expression (a list, a constructor call);
    /// nil when `seen` is not in it.
    static func replacing(_ seen: String, with wanted: String, in value: String) -> String? {
        if value == seen { return wanted }
        if let text = ValueMutator.stringContent(value), let part = ValueMutator.stringContent(seen), !part.isEmpty,
           let replacement = ValueMutator.stringContent(wanted), let range = text.range(of: part) {
            return pythonString(text.replacingCharacters(in: range, with: replacement))
        }
        if let text = ValueMutator.bytesContent(value), let part = ValueMutator.bytesContent(seen), !part.isEmpty,
           let replacement = ValueMutator.bytesContent(wanted), let range = text.range(of: part) {
            return ValueMutator.bytesLiteral(text.replacingCharacters(in: range, with: replacement))
        }
        if let (prefix, inner, suffix, empty) = ValueMutator.contentsWrapper(value) {
            if let changed = replacing(seen, with: wanted, in: inner.isEmpty ? empty : inner) { return prefix + changed + suffix }
        }
        // A literal token of a compound value: not inside an identifier or a longer number.
        var start = value.startIndex
        while let range = value.range(of: seen, range: start..<value.endIndex) {
            let before = range.lowerBound > value.startIndex ? value[value.index(before: range.lowerBound)] : " "
            let after = range.upperBound < value.endIndex ? value[range.upperBound] : " "
            func isWordCharacter(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "_" || c == "." }
            if !isWordCharacter(before) && !isWordCharacter(after) && (seen.first?.isNumber == true || seen.hasPrefix("-")
                || seen.hasPrefix("'") || seen.hasPrefix("\"") || seen.hasPrefix("b")) {
                return value.replacingCharacters(in: range, with: wanted)
            }
            start = range.upperBound
        }
        return nil
    }

    /// Takes in a case's result; keeps the case (and returns true) when it adds coverage or a new outcome.
    /// An exception the sandbox's guards raised (`SandboxViolation`, "testgen sandbox: …"), not the module.
    static func isSandboxRefusal(_ error: RaisedError) -> Bool {
        error.type == "SandboxViolation" || error.message.hasPrefix("testgen sandbox:")
    }

    @discardableResult
    private mutating func absorb(_ candidate: TestCase, targetIndex: Int?, result: CaseResult) -> Bool {
        runs += 1
        if result.invalid != nil { return false }  // not Python (a substitution gone wrong): never a test
        if result.timedOut { hangsByTarget[candidate.target, default: 0] += 1 }
        let newArcs = result.arcs.filter { !covered.contains($0) }
        covered.formUnion(result.arcs)
        let outcome = candidate.target + "|" + Self.outcomeKey(result)
        let newOutcome = outcomesSeen.insert(outcome).inserted
        if let targetIndex { staleness[targetIndex] = newArcs.isEmpty && !newOutcome ? staleness[targetIndex] + 1 : 0 }
        if Self.isSuspicious(result) {
            suspicious.append(Kept(testCase: attributed(candidate, result), result: result))
            // An exception the module did not raise on purpose (a `LookupError` from an unknown codec, an error
            // of a library it calls) is still an error path: when it reached new arcs it is also a test, which
            // asserts the exception (as long as the replays see the same). Hangs and process findings are not,
            // nor the sandbox's own refusals (`testgen sandbox: starting processes is not allowed`): outside the
            // sandbox the call does what the sandbox stopped (a fork, an hour-long subprocess), and the test
            // would run it.
            if !newArcs.isEmpty, !result.timedOut, result.spawned == nil, result.crashed == nil,
               let error = result.finalError, !Self.isSandboxRefusal(error) {
                kept.append(Kept(testCase: candidate, result: result))
            }
            return !newArcs.isEmpty
        }
        let valueKey = candidate.target + "|" + (result.finalError.map { "\($0.expressible):\($0.message)" }
                                                  ?? result.lastValueKey) + "|" + Self.stateKey(result)
        let newValue = valuesSeen.insert(valueKey).inserted
        guard !newArcs.isEmpty || newOutcome else {
            // Sweep cases (mined constants and their neighbours: boundaries) and new values.
            if newValue || candidate.origin == "sweep", archivedPerTarget[candidate.target, default: 0] < Self.archiveLimit {
                archivedPerTarget[candidate.target, default: 0] += 1
                archive.append(Kept(testCase: candidate, result: result))
            }
            return false
        }
        kept.append(Kept(testCase: candidate, result: result))
        return true
    }

    /// A case cut after the step that failed, aimed at the method that step called (an earlier call in the
    /// sequence may be the one that crashed).
    private func attributed(_ candidate: TestCase, _ result: CaseResult) -> TestCase {
        guard result.crashed == nil, result.steps.count < candidate.steps.count, !result.steps.isEmpty else { return candidate }
        var cut = candidate
        cut.steps = Array(candidate.steps.prefix(result.steps.count))
        let last = cut.steps[cut.steps.count - 1].expr
        if let className = builder.targets.first(where: { $0.name == candidate.target })?.className {
            if last.hasPrefix("\(builder.surface.moduleName).\(className)(") {
                cut.target = className
            } else if let method = TestWriter.methodName(last),
                      let target = builder.targets.first(where: { $0.className == className
                          && $0.name.split(separator: ".").last.map(String.init) == method }) {
                cut.target = target.name
            }
        }
        return cut
    }

    /// The watched names' final state, for telling values apart.
    static func stateKey(_ result: CaseResult) -> String {
        guard !result.state.isEmpty else { return "" }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(result.state)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    static func outcomeKey(_ result: CaseResult) -> String {
        if let crash = result.crashed { return "crash:\(crash)" }
        if result.spawned != nil { return "spawned" }
        if result.timedOut { return "timeout" }
        if let error = result.finalError { return "raise:\(error.expressible)" }
        return "value:\(result.steps.last?.value?.kind ?? "")"
    }

    /// Unintended failures: hangs, crashes, and exceptions the module did not raise on purpose
    /// (a `TypeError` deep in arithmetic, not a `raise ValueError(...)` that validates input).
    static func isSuspicious(_ result: CaseResult) -> Bool {
        if result.timedOut || result.spawned != nil { return true }
        guard let error = result.finalError else { return false }
        return !error.explicit
    }

    private mutating func pickTarget() -> Int {
        // Targets that found something recently are favoured; every target keeps a chance.
        let weights = staleness.enumerated().map { i, stale in builder.targets[i].isAttribute ? 0 : 1.0 + 20.0 / Double(1 + stale) }
        var roll = Double.random(in: 0..<weights.reduce(0, +), using: &random)
        for (i, w) in weights.enumerated() {
            roll -= w
            if roll < 0 { return i }
        }
        return weights.count - 1
    }

    private mutating func randomChoice(_ index: Int) -> CaseBuilder.Choice {
        builder.targets[index].parameters.enumerated().map { p, parameter in
            let pool = builder.targets[index].pools[p]
            if pool.isEmpty { return nil }
            let optional = (parameter.defaultValue != nil && !builder.targets[index].isAttribute)
                || parameter.kind == .variadic || parameter.kind == .variadicKeyword
            if optional && Bool.random(using: &random) { return nil }
            // Half the draws come from the head of the pool (typical and mined values).
            let limit = Bool.random(using: &random) ? min(pool.count, 8) : pool.count
            return Int.random(in: 0..<limit, using: &random)
        }
    }

    /// Arguments with which a setter (`setnchannels`, `set_debug`) returned without an error, called alone on a
    /// fresh instance: per target, at most `setupChoices`.
    private var setupSteps: [Int: [CaseBuilder.Choice]] = [:]
    static let setupChoices = 3
    /// The longest call sequence before the call under test (a whole configuration can be longer than 5).
    static let preludeLimit = 10

    /// Whether a method's name reads like a setter of the instance's configuration (`set…`, `set_…`).
    static func isSetter(_ name: String) -> Bool {
        let method = name.split(separator: ".").last.map(String.init) ?? name
        return method.hasPrefix("set") && method.count > 3 && !method.hasPrefix("setUp")
            && (method.dropFirst(3).first.map { $0 == "_" || $0.isLowercase || $0.isUppercase } ?? false)
            && !["setdefault", "settings", "setup", "setter"].contains(method.lowercased())
    }

    private mutating func noteSetup(_ recipe: Recipe, _ index: Int, _ result: CaseResult) {
        guard recipe.prelude.isEmpty, case .method = builder.targets[index].kind, Self.isSetter(builder.targets[index].name),
              result.finalError == nil, !result.timedOut, result.crashed == nil, result.spawned == nil,
              result.invalid == nil, setupSteps[index, default: []].count < Self.setupChoices,
              !setupSteps[index, default: []].contains(where: { $0 == recipe.choice }) else { return }
        setupSteps[index, default: []].append(recipe.choice)
    }

    /// A whole configuration: every setter of the class that succeeded alone, once each in definition order (a
    /// writer wants its channels, sample width and rate set before its frames); nil when fewer than two did.
    private mutating func setupPrelude(_ index: Int, className: String) -> [(Int, CaseBuilder.Choice)]? {
        let setters = setupSteps.keys.filter { $0 != index && builder.targets[$0].className == className }.sorted()
        guard setters.count >= 2 else { return nil }
        return setters.map { ($0, setupSteps[$0]!.randomElement(using: &random)!) }
    }

    private mutating func randomPrelude(_ index: Int) -> [(Int, CaseBuilder.Choice)] {
        guard let className = builder.targets[index].className else { return [] }
        // A third of the sequences start from a whole configuration when the class has setters that work.
        // (No draw for classes without: their sequences stay as a run without this would make them.)
        if setupSteps.keys.contains(where: { $0 != index && builder.targets[$0].className == className }),
           Int.random(in: 0..<3, using: &random) == 0, var setup = setupPrelude(index, className: className) {
            let methods = builder.targets.indices.filter {
                if case .method = builder.targets[$0].kind { return builder.targets[$0].className == className && $0 != index }
                return false
            }
            if Bool.random(using: &random), let extra = methods.randomElement(using: &random) {
                setup.append((extra, randomChoice(extra)))
            }
            return setup
        }
        let methods = builder.targets.indices.filter {
            if case .method = builder.targets[$0].kind { return builder.targets[$0].className == className }
            return false
        }
        // Public attributes set before the calls: a third of the steps when the class has some.
        let setters = builder.targets.indices.filter {
            builder.targets[$0].isAttribute && builder.targets[$0].className == className
        }
        guard !methods.isEmpty || !setters.isEmpty else { return [] }
        let count = Int.random(in: 0...3, using: &random)
        return (0..<count).map { _ in
            let useSetter = methods.isEmpty || (!setters.isEmpty && Int.random(in: 0..<3, using: &random) == 0)
            let m = (useSetter ? setters : methods).randomElement(using: &random)!
            return (m, randomChoice(m))
        }
    }

    private mutating func randomRecipe(_ index: Int) -> Recipe {
        Recipe(choice: randomChoice(index), receiver: builder.targets[index].constructor.map { randomChoice($0) },
               prelude: randomPrelude(index))
    }

    /// One argument of `choice` replaced by a mutation of its value (`ValueMutator`), added to the pool; false
    /// when no argument's value could be mutated.
    private mutating func mutateValue(_ choice: inout CaseBuilder.Choice, _ targetIndex: Int) -> Bool {
        let target = builder.targets[targetIndex]
        let candidates = choice.indices.filter { $0 < target.pools.count && !target.pools[$0].isEmpty }
        guard let p = candidates.randomElement(using: &random),
              addedPerTarget[targetIndex, default: 0] < Self.addedLimit else { return false }
        let from = (choice[p] ?? Int.random(in: 0..<min(8, target.pools[p].count), using: &random)) % target.pools[p].count
        guard let value = mutator.mutate(target.pools[p][from], using: &random) else { return false }
        let key = "\(targetIndex)|\(p)|\(value)"
        if let known = addedValues[key] {
            choice[p] = known
        } else if let existing = target.pools[p].firstIndex(of: value) {
            choice[p] = existing
        } else {
            let added = builder.addValue(value, target: targetIndex, parameter: p, from: from)
            addedValues[key] = added
            addedPerTarget[targetIndex, default: 0] += 1
            choice[p] = added
        }
        return true
    }

    /// A kept recipe with one or two arguments redrawn, or its receiver or call sequence changed.
    private mutating func mutate(_ recipe: Recipe, _ index: Int) -> Recipe {
        var recipe = recipe
        let target = builder.targets[index]
        // Half the mutations change one argument's value toward the module's constants (ValueMutator).
        if !target.parameters.isEmpty, Bool.random(using: &random), mutateValue(&recipe.choice, index) { return recipe }
        switch Int.random(in: 0..<5, using: &random) {
        case 0 where target.constructor != nil:
            recipe.receiver = randomChoice(target.constructor!)
        case 1 where target.className != nil:
            let extra = randomPrelude(index)
            if let step = extra.first {
                recipe.prelude.insert(step, at: Int.random(in: 0...recipe.prelude.count, using: &random))
            } else if !recipe.prelude.isEmpty {
                recipe.prelude.remove(at: Int.random(in: 0..<recipe.prelude.count, using: &random))
            }
        case 2 where target.constructor != nil && recipe.receiver != nil:
            // The receiver's arguments, mutated (constant-guided), one at a time.
            var receiver = recipe.receiver!
            if !mutateValue(&receiver, target.constructor!) { receiver = randomChoice(target.constructor!) }
            recipe.receiver = receiver
        default:
            guard !target.parameters.isEmpty else { return randomRecipe(index) }
            for _ in 0..<Int.random(in: 1...2, using: &random) {
                let p = Int.random(in: 0..<target.parameters.count, using: &random)
                if !target.pools[p].isEmpty { recipe.choice[p] = Int.random(in: 0..<target.pools[p].count, using: &random) }
            }
        }
        if recipe.prelude.count > Self.preludeLimit { recipe.prelude.removeFirst() }
        return recipe
    }
}
