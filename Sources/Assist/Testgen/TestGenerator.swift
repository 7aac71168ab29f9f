import Engine
import Foundation
import Syntax

/// `moecoder testgen`: unit tests for a Python module, found by a coverage-guided search in a sandbox.
///
/// The steps: read the module's API with tree-sitter (`SurfaceExtractor`), build candidate inputs
/// (`InputPool`, `CaseBuilder`), run them in a sandboxed worker until the budget is spent keeping those that add
/// coverage (`Explorer`), re-run the chosen cases twice and drop any that behave differently, write the pytest
/// file (`TestWriter`), run it with pytest under coverage.py (dropping tests that fail), and report coverage and
/// the edge cases that crashed or hung.
public final class TestGenerator {
    public struct Options: Sendable {
        public var modulePath: String
        /// Defaults to `tests/test_<module>.py` beside the module.
        public var outputPath: String?
        /// Seconds of search (the write-and-verify phase comes after).
        public var budget: Double = 20
        public var seed: UInt64 = 0
        /// Seconds one case may run before it counts as a hang.
        public var callTimeout: Double = 0.5
        public var sandbox = SandboxWorker.Configuration()
        /// Set from another thread to end the search early and stop before writing (`TestgenError.cancelled`).
        public var cancellation: CancellationFlag?
        /// Mutation analysis (`--mutation`): the last 30 % of the budget replays the chosen tests against
        /// mutants of the module, adds found cases that kill survivors, and reports the score and the survivors.
        public var mutation = false
        /// At most this many mutants are analysed (an evenly spread, fixed sample).
        public var mutantLimit = 400
        /// Seconds after the budget that writing and verifying may take; the whole command stays within
        /// budget + this (+ a second or two to stop processes).
        public var overrun: Double = 13
        /// When the command started (its process's start, for the CLI): the budget counts from it. Nil: from `run`.
        public var started: Date?

        public init(modulePath: String) { self.modulePath = modulePath }
    }

    public let options: Options

    public init(options: Options) { self.options = options }

    /// The default test file for a module: `<folder>/tests/test_<name>.py`.
    public static func defaultOutput(for modulePath: String) -> String {
        let url = URL(fileURLWithPath: modulePath)
        return url.deletingLastPathComponent().appendingPathComponent("tests")
            .appendingPathComponent("test_\(url.deletingPathExtension().lastPathComponent).py").path
    }

    /// Runs the whole pipeline. `progress` receives one-line status messages (for standard error).
    public func run(model: LanguageModel? = nil, progress: (String) -> Void = { _ in }) throws -> TestgenReport {
        let started = options.started ?? Date()
        let moduleURL = URL(fileURLWithPath: options.modulePath).standardizedFileURL
        let moduleName = moduleURL.deletingPathExtension().lastPathComponent
        guard moduleURL.pathExtension == "py", Self.isIdentifier(moduleName) else {
            throw TestgenError.notPython(options.modulePath)
        }
        guard let source = try? String(contentsOf: moduleURL, encoding: .utf8) else {
            throw TestgenError.unreadable(options.modulePath)
        }
        let extractor = try SurfaceExtractor()
        let surface: ModuleSurface
        do { surface = try extractor.surface(of: source, moduleName: moduleName) } catch TestgenError.syntax(let errors) {
            throw TestgenError.syntax(errors.map { "\(options.modulePath):\($0)" })  // FILE:LINE:COLUMN: error: …
        }
        let builder = CaseBuilder(surface: surface)
        guard !builder.targets.isEmpty else { throw TestgenError.noFunctions(options.modulePath) }

        // Every phase is bounded by the time left. The search (and mutation analysis) and the replay get the
        // budget from the worker's start, less `reserve` seconds, but end at least `pytestReserve` seconds before
        // the hard end (budget + overrun from the command's start), which writing and pytest then share. No wait
        // on a subprocess goes past `hardEnd`.
        let hardEnd = started.addingTimeInterval(options.budget + options.overrun)
        // Writing and pytest come after the budget (pytest without the installed plugins takes 1-3 s under load),
        // so the reserve only covers the worker's start and stopping.
        let reserve = min(1.5, options.budget * 0.05)
        let pytestReserve = min(6, options.overrun * 0.5)

        let work = FileManager.default.temporaryDirectory.appendingPathComponent("moecoder-testgen-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let worker = try SandboxWorker(modulePath: moduleURL.path, workDirectory: work.appendingPathComponent("sandbox").path,
                                       configuration: options.sandbox, deadline: hardEnd.addingTimeInterval(-0.5))
        defer { worker.stop() }
        var phases: [String: Double] = ["worker_ready": Date().timeIntervalSince(started)]
        var phaseStart = Date()
        func phase(_ name: String) {
            phases[name] = (Date().timeIntervalSince(phaseStart) * 100).rounded() / 100
            phaseStart = Date()
        }
        progress("testgen: \(moduleName): \(builder.targets.count) call targets, python \(worker.pythonVersion), "
                 + "network \(worker.networkIsolated ? "cut (unshare -n)" : "blocked by audit hook")")
        let budgetEnd = max(started.addingTimeInterval(options.budget - reserve),
                            min(Date().addingTimeInterval(options.budget - reserve), hardEnd.addingTimeInterval(-pytestReserve)))
        let replaySlice = min(3, options.budget * 0.08)
        let analysisEnd = budgetEnd.addingTimeInterval(-replaySlice)
        let searchStart = Date()
        let deadline = options.mutation
            ? searchStart.addingTimeInterval(max(0, analysisEnd.timeIntervalSince(searchStart)) * 0.7) : analysisEnd

        let parser = try Parser(language: Language.named("python"))
        var seeds = surface.callables.compactMap { builder.docstringCase($0, parser: parser) }
        var modelProposals = 0
        if let model {
            let proposer = ModelProposer(model: model)
            let proposed = proposer.proposals(source: source, surface: surface, builder: builder, parser: parser,
                                              seed: options.seed,
                                              deadline: .now + .milliseconds(Int(options.budget * 300)))
            modelProposals = proposed.count
            seeds += proposed
            progress("testgen: the model proposed \(proposed.count) calls that parse")
        }
        var explorer = Explorer(builder: builder, worker: worker, seed: options.seed, callTimeout: options.callTimeout)
        explorer.explore(seeds: seeds, until: deadline, stop: { options.cancellation?.isCancelled == true }) { state in
            progress("testgen: \(String(format1: state.elapsed))s  runs \(state.runs)  kept \(state.kept)  "
                     + "lines \(state.linesCovered)  arcs \(state.arcsCovered)  edge cases \(state.findings)")
        }

        if options.cancellation?.isCancelled == true { throw TestgenError.cancelled }
        phase("search")
        var chosen = Self.select(explorer.kept, base: Set(worker.importArcs))
        let findings = Self.findings(explorer.suspicious)
        var mutation: TestgenReport.Mutation?
        if options.mutation, options.cancellation?.isCancelled != true, analysisEnd.timeIntervalSinceNow > 0.5 {
            progress("testgen: mutation analysis of \(chosen.count) tests")
            (chosen, mutation) = Self.strengthen(chosen, kept: explorer.kept + explorer.archive, worker: worker, limit: options.mutantLimit,
                                                 timeout: options.callTimeout,
                                                 seconds: analysisEnd.timeIntervalSinceNow)
            if let mutation {
                progress("testgen: mutation score \(String(format1: mutation.scoreBefore))% -> "
                         + "\(String(format1: mutation.score))% (\(mutation.killed)/\(mutation.analysed) mutants), "
                         + "\(mutation.addedTests) tests added")
            }
        }
        phase("mutation")
        if options.cancellation?.isCancelled == true { throw TestgenError.cancelled }
        // Deterministic, order-independent cases only: the suite runs twice more, in file order, against a fresh
        // import of the module; a case that behaves differently (addresses, time, randomness, state left by the
        // search or by an earlier test) is dropped.
        var unstable: [String] = []
        // At least 2 s: a case the replay does not reach stays unchecked (mutation analysis can end late under load).
        if let passes = worker.replay(cases: chosen.map(\.testCase), passes: 2, timeout: options.callTimeout,
                                      seconds: max(2, budgetEnd.timeIntervalSinceNow)) {
            chosen = chosen.enumerated().compactMap { i, kept in
                let again = passes.compactMap { i < $0.count ? $0[i] : nil }
                // Not replayed in time (slow cases under load): kept unchecked, unless it asserts a float (a
                // duration, as timeit's `Timer.timeit()` returns, differs on every run).
                guard again.count == passes.count else {
                    if Self.observesFloat(kept.result) { unstable.append(kept.testCase.reproduction); return nil }
                    return kept
                }
                if again.allSatisfy({ $0.behaviour == kept.result.behaviour }) { return kept }
                // The same in both replays but not as the search saw it (state the search left behind, a cache):
                // what a fresh test run sees is what the test asserts.
                if again.allSatisfy({ $0.behaviour == again[0].behaviour }), again[0].crashed == nil,
                   again[0].spawned == nil, !again[0].timedOut, again[0].steps.count == kept.result.steps.count {
                    var fixed = kept
                    fixed.result.steps = again[0].steps
                    fixed.result.state = again[0].state
                    return fixed
                }
                unstable.append(kept.testCase.reproduction)
                return nil
            }
        }
        if !unstable.isEmpty {
            progress("testgen: \(unstable.count) tests behaved differently when replayed and were dropped")
        }
        phase("replay")

        let output = options.outputPath ?? Self.defaultOutput(for: moduleURL.path)
        let outputURL = URL(fileURLWithPath: output).standardizedFileURL
        try FileManager.default.createDirectory(at: outputURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        let writer = TestWriter(moduleName: moduleName,
                                moduleFolder: Self.relativePath(from: outputURL.deletingLastPathComponent().path,
                                                                to: moduleURL.deletingLastPathComponent().path),
                                seed: options.seed, blockedModules: worker.blockedModules)
        if options.cancellation?.isCancelled == true { throw TestgenError.cancelled }
        progress("testgen: verifying \(chosen.count) tests with pytest")
        let verifier = PytestVerifier(python: options.sandbox.python, modulePath: moduleURL.path,
                                      testPath: outputURL.path, scratch: work.path)
        var cases = chosen.map { ($0.testCase, $0.result) }
        var dropped: [String] = unstable
        var verification = TestgenReport.Verification(passed: false, dropped: [], skipped: nil)
        var coverage: TestgenReport.Coverage?
        var written = writer.write(cases)
        var verifiedOnce = false
        for _ in 0..<5 {
            try written.text.write(to: outputURL, atomically: true, encoding: .utf8)
            // Verifying stops at the hard end of the budget; the file written last stays.
            guard hardEnd.timeIntervalSinceNow > 1 else {
                if !verifiedOnce { verification.skipped = "the budget ran out before pytest could run" }
                break
            }
            let outcome = verifier.run(timeout: hardEnd.timeIntervalSinceNow, twice: true)
            if let skipped = outcome.skipped {
                verification.skipped = skipped
                break
            }
            verifiedOnce = true
            coverage = outcome.coverage ?? coverage
            let failing = Set(outcome.failed)
            if failing.isEmpty && outcome.passed {
                verification.passed = true  // both passes
                break
            } else if failing.isEmpty {
                break  // the file itself is broken (collection error) or pytest ran out of time: not passing
            } else {
                dropped += outcome.failed
                cases = zip(cases, written.names).filter { !failing.contains($0.1) }.map(\.0)
            }
            written = writer.write(cases)
        }
        verification.dropped = dropped
        phase("verify")
        phases["worker_ready"] = ((phases["worker_ready"] ?? 0) * 100).rounded() / 100
        var report = TestgenReport(
            module: options.modulePath, testFile: output, seed: options.seed, budgetSeconds: options.budget,
            elapsedSeconds: Date().timeIntervalSince(started), runs: explorer.runs, tests: written.names,
            coverage: coverage, verification: verification, findings: findings,
            networkIsolated: worker.networkIsolated, workerRestarts: worker.restarts, modelProposals: modelProposals,
            mutation: mutation)
        report.phases = phases
        return report
    }

    // MARK: Mutation analysis

    /// Replays the chosen cases against mutants of the module; for each mutant they do not kill, looks for a kept
    /// or archived case that does, and adds it (when it behaves the same on two more runs).
    static func strengthen(_ chosen: [Explorer.Kept], kept: [Explorer.Kept], worker: SandboxWorker, limit: Int,
                           timeout: Double, seconds: Double) -> ([Explorer.Kept], TestgenReport.Mutation?) {
        let inSuite = Set(chosen.map(\.testCase.reproduction))
        var seen = inSuite
        let candidates = kept.filter { seen.insert($0.testCase.reproduction).inserted }.prefix(600)
        let all = chosen + candidates
        let lines = all.map { Array(Set($0.result.arcs.flatMap { $0 }.filter { $0 > 0 })).sorted() }
        guard let answer = worker.mutation(cases: all.map(\.testCase), lines: lines, suite: chosen.count, limit: limit,
                                           timeout: timeout, seconds: seconds) else { return (chosen, nil) }
        var result = chosen
        var added = Set<Int>()
        var unstable = Set<Int>()
        var survivors: [TestgenReport.Mutation.Survivor] = []
        var killedAfter = 0
        for mutant in answer.mutants {
            if mutant.killed { killedAfter += 1; continue }
            if let killer = mutant.killer, killer >= chosen.count, killer < all.count, !unstable.contains(killer) {
                if added.contains(killer) { killedAfter += 1; continue }
                let item = all[killer]
                guard worker.remaining > 2 * timeout + 1 else {
                    survivors.append(.init(operator: mutant.operator, line: mutant.line, description: mutant.description))
                    continue
                }
                let again = worker.run(item.testCase, timeout: timeout)
                let third = worker.run(item.testCase, timeout: timeout)
                if again.behaviour == item.result.behaviour && third.behaviour == item.result.behaviour {
                    added.insert(killer)
                    result.append(item)
                    killedAfter += 1
                    continue
                }
                unstable.insert(killer)
            }
            survivors.append(.init(operator: mutant.operator, line: mutant.line, description: mutant.description))
        }
        let analysed = answer.mutants.count
        let killedBefore = answer.mutants.filter(\.killed).count
        func percent(_ n: Int) -> Double { analysed == 0 ? 0 : 100 * Double(n) / Double(analysed) }
        // Keep the file in order: by target, then as found.
        let targetOrder = Dictionary(result.enumerated().map { ($1.testCase.target, $0) }, uniquingKeysWith: min)
        result = result.enumerated().sorted { a, b in
            let ta = targetOrder[a.element.testCase.target] ?? 0, tb = targetOrder[b.element.testCase.target] ?? 0
            return ta != tb ? ta < tb : a.offset < b.offset
        }.map(\.element)
        return (result, TestgenReport.Mutation(
            total: answer.total, analysed: analysed, killed: killedAfter, score: percent(killedAfter),
            scoreBefore: percent(killedBefore), addedTests: added.count, complete: answer.complete,
            survivors: survivors))
    }

    // MARK: Choosing tests

    /// One case per distinct behaviour (target and outcome), the smallest; then, greedily, cases that still add arcs.
    /// Whether a result holds a float anywhere a test would assert it (returned values, their attributes, state).
    static func observesFloat(_ result: CaseResult) -> Bool {
        func floats(_ observation: Observation?) -> Bool {
            guard let observation else { return false }
            if observation.kind == "float" { return true }
            // A measured float inside a tuple or list (`autorange()` → `(10, 0.2134567)`).
            if let repr = observation.repr, repr.range(of: #"\d\.\d{4,}"#, options: .regularExpression) != nil { return true }
            return observation.attrs?.values.contains { floats($0) } ?? false
        }
        return result.steps.contains { floats($0.value) } || result.state.values.contains { floats($0) }
    }

    static func select(_ kept: [Explorer.Kept], base: Set<[Int]>) -> [Explorer.Kept] {
        var byBehaviour: [String: Explorer.Kept] = [:]
        var order: [String] = []
        for item in kept {
            let key = item.testCase.target + "|" + Explorer.outcomeKey(item.result) + "|" + item.result.lastValueKey
            if let existing = byBehaviour[key] {
                if item.testCase.size < existing.testCase.size { byBehaviour[key] = item }
            } else {
                byBehaviour[key] = item
                order.append(key)
            }
        }
        // Behaviours first: every distinct exception, and at most 6 distinct return values per target.
        var chosen: [Explorer.Kept] = []
        var perTarget: [String: Int] = [:]
        for key in order {
            let item = byBehaviour[key]!
            let isRaise = item.result.finalError != nil
            if !isRaise {
                perTarget[item.testCase.target, default: 0] += 1
                if perTarget[item.testCase.target]! > 6 { continue }
            }
            chosen.append(item)
        }
        var covered = base
        for item in chosen { covered.formUnion(item.result.arcs) }
        var remaining = kept
        while true {
            var best: (index: Int, gain: Int)?
            for (i, item) in remaining.enumerated() {
                let gain = item.result.arcs.reduce(0) { $0 + (covered.contains($1) ? 0 : 1) }
                if gain > 0, best == nil || gain > best!.gain || (gain == best!.gain && item.testCase.size < remaining[best!.index].testCase.size) {
                    best = (i, gain)
                }
            }
            guard let best else { break }
            covered.formUnion(remaining[best.index].result.arcs)
            chosen.append(remaining.remove(at: best.index))
        }
        // Keep the file in a readable order: by target, then as found.
        let targetOrder = Dictionary(kept.enumerated().map { ($1.testCase.target, $0) }, uniquingKeysWith: min)
        return chosen.enumerated().sorted { a, b in
            let ta = targetOrder[a.element.testCase.target] ?? 0, tb = targetOrder[b.element.testCase.target] ?? 0
            return ta != tb ? ta < tb : a.offset < b.offset
        }.map(\.element)
    }

    /// Findings grouped by function, kind and line, each with its smallest reproducing case.
    static func findings(_ suspicious: [Explorer.Kept]) -> [TestgenReport.Finding] {
        var groups: [String: TestgenReport.Finding] = [:]
        var sizes: [String: Int] = [:]
        var order: [String] = []
        for item in suspicious {
            let result = item.result
            let kind: String, message: String, line: Int?
            if let crash = result.crashed {
                kind = crash == "hang" ? "timeout" : "crash"
                message = crash == "hang" ? "did not return and ignored the time limit; the worker was killed" : crash
                line = nil
            } else if result.timedOut {
                (kind, message, line) = ("timeout", "did not finish within the time limit", nil)
            } else if let spawned = result.spawned {
                (kind, message, line) = ("process", "started \(spawned) process\(spawned == 1 ? "" : "es"), killed by the sandbox", nil)
            } else if let error = result.finalError {
                (kind, message, line) = (error.type, error.message, error.line)
            } else { continue }
            let typed = item.testCase.fitsHints
            // Misuse (arguments outside the hints) is summarised per exception type; real bugs per line.
            let key = "\(typed)|\(item.testCase.target)|\(kind)|\(typed ? line ?? 0 : 0)"
            let size = item.testCase.size
            if let existing = groups[key] {
                groups[key]!.occurrences = existing.occurrences + 1
                if size < sizes[key]! {
                    groups[key]!.reproduction = item.testCase.reproduction
                    groups[key]!.message = message
                    sizes[key] = size
                }
            } else {
                groups[key] = TestgenReport.Finding(function: item.testCase.target, kind: kind, message: message,
                                                    line: line, reproduction: item.testCase.reproduction, occurrences: 1,
                                                    fitsHints: typed)
                sizes[key] = size
                order.append(key)
            }
        }
        let all = order.map { groups[$0]! }
        return all.filter(\.fitsHints) + all.filter { !$0.fitsHints }
    }

    // MARK: Paths

    static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.first, first.isLetter || first == "_" else { return false }
        return name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }
    }

    /// `to` relative to `from` (both absolute folders): "..", ".", "../src".
    static func relativePath(from: String, to: String) -> String {
        let a = from.split(separator: "/"), b = to.split(separator: "/")
        var common = 0
        while common < a.count, common < b.count, a[common] == b[common] { common += 1 }
        let parts = Array(repeating: "..", count: a.count - common) + b[common...].map(String.init)
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }
}
