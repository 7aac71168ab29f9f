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
    let mutator: ValueMutator
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
        for seed in seeds {
            guard going() else { return }
            try_(seed, targetIndex: builder.targets.firstIndex { $0.name == seed.target })
            report()
        }
        // Every target once with typical arguments first, so that a target that hangs or crashes on everything
        // cannot use up a short budget before the others were tried.
        for index in builder.targets.indices {
            guard going() else { return }
            run(Recipe(choice: builder.defaultChoice(index), receiver: nil, prelude: []), index, origin: "sweep")
            report()
        }
        for (index, target) in builder.targets.enumerated() {
            guard going() else { return }
            for (p, pool) in target.pools.enumerated() {
                for value in pool.indices.prefix(40) {
                    guard going() else { return }
                    var choice = builder.defaultChoice(index)
                    choice[p] = value
                    run(Recipe(choice: choice, receiver: nil, prelude: []), index, origin: "sweep")
                    report()
                }
            }
        }
        guard !builder.targets.isEmpty else { return }
        while going() {
            let index = pickTarget()
            if let mine = recipes[index], !mine.isEmpty, Int.random(in: 0..<10, using: &random) < 5 {
                run(mutate(mine.randomElement(using: &random)!, index), index, origin: "mutation")
            } else {
                run(randomRecipe(index), index, origin: "random")
            }
            report()
        }
        progress(ExplorationProgress(elapsed: Date().timeIntervalSince(start), runs: runs, kept: kept.count,
                                     linesCovered: linesCovered, arcsCovered: covered.count, findings: suspicious.count))
    }

    private mutating func run(_ recipe: Recipe, _ index: Int, origin: String) {
        let candidate = builder.steps(for: index, choice: recipe.choice, receiverChoice: recipe.receiver,
                                      prelude: recipe.prelude, origin: origin)
        if try_(candidate, targetIndex: index) { recipes[index, default: []].append(recipe) }
    }

    /// Runs a case unless it was tried before; keeps it (and returns true) when it adds coverage or a new outcome.
    @discardableResult
    private mutating func try_(_ candidate: TestCase, targetIndex: Int?) -> Bool {
        guard seen.insert(candidate.reproduction).inserted else { return false }
        runs += 1
        // A target that hung twice gets a short leash: hangs are findings, and each costs the whole limit.
        let hangs = hangsByTarget[candidate.target, default: 0]
        let result = worker.run(candidate, timeout: hangs >= 2 ? min(callTimeout, 0.1) : callTimeout)
        if result.timedOut { hangsByTarget[candidate.target, default: 0] += 1 }
        let newArcs = result.arcs.filter { !covered.contains($0) }
        covered.formUnion(result.arcs)
        let outcome = candidate.target + "|" + Self.outcomeKey(result)
        let newOutcome = outcomesSeen.insert(outcome).inserted
        if let targetIndex { staleness[targetIndex] = newArcs.isEmpty && !newOutcome ? staleness[targetIndex] + 1 : 0 }
        if Self.isSuspicious(result) {
            suspicious.append(Kept(testCase: attributed(candidate, result), result: result))
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
        let weights = staleness.map { 1.0 + 20.0 / Double(1 + $0) }
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
            let optional = parameter.defaultValue != nil || parameter.kind == .variadic
            if optional && Bool.random(using: &random) { return nil }
            // Half the draws come from the head of the pool (typical and mined values).
            let limit = Bool.random(using: &random) ? min(pool.count, 8) : pool.count
            return Int.random(in: 0..<limit, using: &random)
        }
    }

    private mutating func randomPrelude(_ index: Int) -> [(Int, CaseBuilder.Choice)] {
        guard let className = builder.targets[index].className else { return [] }
        let methods = builder.targets.indices.filter {
            if case .method = builder.targets[$0].kind { return builder.targets[$0].className == className }
            return false
        }
        guard !methods.isEmpty else { return [] }
        let count = Int.random(in: 0...3, using: &random)
        return (0..<count).map { _ in
            let m = methods.randomElement(using: &random)!
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
        if recipe.prelude.count > 5 { recipe.prelude.removeFirst() }
        return recipe
    }
}
