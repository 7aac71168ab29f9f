import Engine
import Foundation
import Syntax

/// What to repair and how hard to try.
public struct RepairOptions: Sendable {
    /// The Python file to repair.
    public var filePath: String
    /// Test files or folders (pytest); found beside the file when empty and no command is given.
    public var tests: [String] = []
    /// A shell command that runs the tests, instead of `tests`.
    public var command: String?
    /// A file holding a Python traceback of the failure.
    public var tracebackPath: String?
    /// How many patches to report.
    public var top = 3
    /// Seconds for validating candidates.
    public var budget: Double = 60
    /// Test runs at the same time.
    public var jobs = max(1, min(4, ProcessInfo.processInfo.activeProcessorCount))
    /// Seconds one candidate's test run may take; by default a multiple of the unpatched run's time.
    public var candidateTimeout: Double?
    public var sandbox = SandboxWorker.Configuration()
    /// Set from another thread to stop the repair (its test runs are killed; `RepairError.cancelled`).
    public var cancellation: CancellationFlag?

    public init(filePath: String) { self.filePath = filePath }
}

/// `moecoder repair`: finds the fault (syntax errors, or failing tests and tracebacks), proposes patches
/// (syntax edits, mutation operators at suspicious lines, model rewrites), validates them against the tests in a
/// temporary copy of the project, and ranks them: tests passing, then smaller edit, then model likelihood.
///
/// The user's files are only read; the copy is deleted before `run` returns.
public final class Repairer {
    public let options: RepairOptions
    private let parser: Parser

    public init(options: RepairOptions) throws {
        self.options = options
        self.parser = try Parser(language: try Language.named("python"))
    }

    public func run(model: LanguageModel? = nil, progress: @escaping @Sendable (String) -> Void = { _ in }) throws -> RepairReport {
        let started = ContinuousClock.now
        let file = options.filePath
        guard file.hasSuffix(".py") else { throw RepairError.notPython(file) }
        guard let source = Resources.readText(file), FileManager.default.isReadableFile(atPath: file) else {
            throw RepairError.unreadable(file)
        }
        var tests = options.tests
        if tests.isEmpty && options.command == nil { tests = Self.discoverTests(for: file) }
        for test in tests where !FileManager.default.fileExists(atPath: test) { throw RepairError.noTests(test) }
        var traceback: [Int] = []
        if let path = options.tracebackPath {
            guard let text = Resources.readText(path), FileManager.default.isReadableFile(atPath: path) else {
                throw RepairError.unreadable(path)
            }
            traceback = FaultLocalizer.tracebackLines(text, file: file)
        }
        let cwd = FileManager.default.currentDirectoryPath
        let canTest = !tests.isEmpty || options.command != nil
        let root = ProjectCopy.commonRoot([file] + tests + (options.command != nil ? [cwd] : []))
        // Only test runs need the project copied (a syntax fix without tests is judged by parsing alone).
        var copy: ProjectCopy?
        if canTest {
            progress("repair: copying \(root) to a temporary folder")
            copy = try ProjectCopy(of: root)
        }
        defer { copy?.remove() }
        let python = PythonRun(sandbox: options.sandbox, cancellation: options.cancellation)
        // A plain `pytest …` command runs in-process like --test (warm, traced, sandboxed); others via the shell.
        let pytestArguments = options.command.flatMap(PytestCommand.arguments)
        let cwdInCopy = ProjectCopy.relative(cwd, to: root).isEmpty ? "." : ProjectCopy.relative(cwd, to: root)
        let validator = copy.map { copy in
            CandidateValidator(
                copy: copy, target: copy.mirror(file),
                tests: pytestArguments ?? tests.map { ProjectCopy.relative($0, to: root) },
                command: pytestArguments == nil ? options.command : nil,
                commandFolder: options.command != nil ? cwdInCopy : ".",
                python: PythonRun(sandbox: options.sandbox, isolateNetwork: options.command == nil || pytestArguments != nil,
                                  cancellation: options.cancellation), jobs: options.jobs)
        }
        var report = RepairReport(file: file, mode: .none, tests: tests, command: options.command, baseline: nil,
                                  syntaxErrors: [], suspicious: [], candidates: 0, validated: 0, tried: 0, patches: [], note: nil,
                                  seconds: 0)
        report.originalSource = source
        let compile = SyntaxRepairer.pythonCompiler(python)
        let tree = try parser.parse(source)
        let compileError = tree.hasErrors ? nil : compile([source])?.first ?? nil
        var candidates: [Patch]
        var baseline: TestRun?
        if tree.hasErrors || compileError != nil {
            report.mode = .syntax
            report.syntaxErrors = tree.syntaxErrors(limit: 5).map { "\($0)" }
            if let compileError { report.syntaxErrors.append("\(compileError.line): error: \(compileError.message) (CPython)") }
            progress("repair: \(file) does not parse; looking for edits that fix it")
            candidates = SyntaxRepairer(parser: parser, compile: compile).repairs(of: source, limit: max(10, options.top * 4))
        } else if canTest {
            report.mode = .tests
            progress("repair: running the tests on the unchanged file")
            let baselineTimeout = max(5, options.budget - Self.seconds(since: started) - 1)
            let runs = try validator!.run([source], trace: true, timeout: baselineTimeout, budget: baselineTimeout,
                                         progress: progress)
            guard let run = runs[0], run.crashed == nil, !run.timeout else {
                throw RepairError.workerFailed(runs[0]?.crashed ?? (runs[0]?.timeout == true ? "the tests timed out" : "no result"))
            }
            baseline = run
            report.baseline = Self.summary(run)
            if run.failed.isEmpty && traceback.isEmpty {
                report.note = run.outcomes.isEmpty ? "no tests were collected: nothing to validate a repair with"
                    : "all \(run.outcomes.count) tests pass: nothing to repair (give --error with a traceback to look anyway)"
                report.seconds = Self.seconds(since: started)
                return report
            }
            report.suspicious = FaultLocalizer.rank(baseline: run, tracebackLines: traceback)
            if report.suspicious.isEmpty {
                // No spectra (a --cmd run is not traced): every line inside a function is equally suspect.
                report.suspicious = Self.functionLines(tree).map { SuspiciousLine(line: $0, score: 0.1, evidence: ["no coverage"]) }
            }
            candidates = semanticCandidates(source: source, tree: tree, suspicious: report.suspicious, model: model,
                                            started: started)
        } else if !traceback.isEmpty {
            report.mode = .traceback
            report.suspicious = FaultLocalizer.rank(baseline: TestRun(), tracebackLines: traceback)
            candidates = semanticCandidates(source: source, tree: tree, suspicious: report.suspicious, model: model,
                                            started: started)
        } else {
            report.note = "the file parses and there are no tests or traceback to say what is wrong: give --test, --cmd or --error"
            report.seconds = Self.seconds(since: started)
            return report
        }
        report.suspicious = Array(report.suspicious.prefix(10))
        progress("repair: \(candidates.count) candidate patches")
        var results: [Int: TestRun] = [:]
        // The whole command stays within the budget: validation stops starting candidates a little before it.
        func remaining() -> Double { options.budget - Self.seconds(since: started) - 1 }
        if canTest && !candidates.isEmpty {
            let timeout = options.candidateTimeout ?? max(2, 5 * (baseline?.seconds ?? 1) + 1)
            results = try validator!.run(candidates.map(\.source), first: baseline?.failed ?? [],
                                        baselinePassing: baseline?.passed ?? [], timeout: timeout,
                                        budget: max(1, remaining()),
                                        stopAfterPlausible: report.mode == .tests ? options.top : 0, progress: progress)
            // Two edits: when no candidate passes everything, a second edit on top of the candidates that make
            // more tests pass without breaking any.
            if report.mode == .tests, let baseline, remaining() > 3,
               !results.values.contains(where: { Self.isPlausible($0, baseline: baseline) }) {
                let second = secondEdits(candidates: candidates, results: results, baseline: baseline,
                                         original: source, suspicious: report.suspicious)
                if !second.isEmpty {
                    progress("repair: \(second.count) two-edit candidates")
                    let more = try validator!.run(second.map(\.source), first: baseline.failed,
                                                  baselinePassing: baseline.passed, timeout: timeout,
                                                  budget: max(1, remaining()), progress: progress)
                    for (index, run) in more { results[candidates.count + index] = run }
                    candidates += second
                }
            }
        }
        report.candidates = candidates.count
        report.validated = results.count
        if let dump = ProcessInfo.processInfo.environment["MOECODER_REPAIR_DUMP"] {
            // For tuning the search: every candidate in validation order with its result.
            let rows = candidates.enumerated().map { index, patch -> String in
                let run = results[index]
                let state = run.map { "\($0.passed.count)/\($0.outcomes.count)\($0.complete ? "" : " cut")" } ?? "-"
                return "\(index) \(String(format: "%.3f", Self.priority(patch))) \(patch.cost) \(state) \(patch.rationale)"
            }
            try? rows.joined(separator: "\n").write(toFile: dump, atomically: true, encoding: .utf8)
        }
        report.tried = results.values.filter { !$0.duplicate }.count
        report.patches = rank(candidates, results: results, baseline: baseline, canTest: canTest, original: source,
                              mode: report.mode)
        let plausible = report.plausibleCount
        if plausible < options.top {
            report.note = plausible == 0
                ? "no plausible patch found; the best partial candidates are shown, labelled"
                : "only \(plausible) plausible patch\(plausible == 1 ? "" : "es") found"
                    + (report.patches.count > plausible ? "; the others shown are partial, labelled" : "")
            if report.mode == .traceback { report.note = "no tests to validate with: these patches are unvalidated suggestions" }
        }
        report.seconds = Self.seconds(since: started)
        return report
    }

    /// Writes patch `number` (1-based, as ranked in `report`) into the file.
    public static func apply(_ number: Int, of report: RepairReport) throws {
        guard number >= 1, number <= report.patches.count else {
            throw RepairError.badPatchNumber(number, report.patches.count)
        }
        guard let source = Resources.readText(report.file) else { throw RepairError.unreadable(report.file) }
        if let original = report.originalSource, original != source { throw RepairError.fileChanged(report.file) }
        let patched = report.patches[number - 1].edit.apply(to: source)
        do { try patched.write(toFile: report.file, atomically: true, encoding: .utf8) } catch {
            throw RepairError.unreadable(report.file)
        }
    }

    // MARK: Candidates

    private func semanticCandidates(source: String, tree: Tree, suspicious: [SuspiciousLine], model: LanguageModel?,
                                    started: ContinuousClock.Instant) -> [Patch] {
        let best = suspicious.first?.score ?? 0
        let lines = suspicious.filter { $0.score >= 0.3 * best }.prefix(16)
        let operators = MutationOperators(tree: tree)
        var seen: Set<String> = [source]
        var out: [Patch] = []
        for line in lines {
            for patch in operators.patches(at: line.line, score: line.score) where seen.insert(patch.source).inserted {
                out.append(patch)
            }
        }
        if let model {
            let rewriter = ModelRewriter(model: model, language: parser.language)
            let deadline = started + .seconds(options.budget / 4)
            for line in lines.prefix(3) {
                for patch in rewriter.patches(source: source, line: line.line, score: line.score, parser: parser,
                                              deadline: deadline) where seen.insert(patch.source).inserted {
                    out.append(patch)
                }
            }
        }
        // Validation order: suspicious lines and small edits first (a small edit on the next line before a large
        // one on the most suspicious); the budget may not reach the end.
        return out.enumerated().sorted {
            (Self.priority($0.element), -$0.offset) > (Self.priority($1.element), -$1.offset)
        }.map(\.element)
    }

    /// Validation order: suspiciousness times how common the kind of edit is as a fix, smaller edits first.
    /// Operator, constant and off-by-one changes come first on every suspicious line, then variable and argument
    /// changes, then inserted, moved or wrapped code.
    static func priority(_ patch: Patch) -> Double {
        let kind = patch.operatorName.split(separator: "+").last.map(String.init) ?? patch.operatorName
        let weight: Double
        switch kind {
        case "comparison", "arithmetic", "boolean", "off-by-one", "negation", "constant", "index": weight = 1
        case "wrong-variable", "swap-arguments", "swap-operands", "swap-elements", "return-variable", "drop-clause",
             "sibling-call", "missing-return", "sign", "model-rewrite": weight = 0.7
        default: weight = 0.45
        }
        return patch.suspiciousness * weight / (1 + 0.02 * Double(patch.cost))
    }

    static func isPlausible(_ run: TestRun, baseline: TestRun) -> Bool {
        run.crashed == nil && run.complete && !run.timeout && run.failed.isEmpty && !run.outcomes.isEmpty
            && Set(baseline.passed).isSubset(of: Set(run.passed))
    }

    /// Second edits on the best partial candidates (more tests pass, none breaks), at the same suspicious lines.
    private func secondEdits(candidates: [Patch], results: [Int: TestRun], baseline: TestRun, original: String,
                             suspicious: [SuspiciousLine]) -> [Patch] {
        let failingBefore = Set(baseline.failed), passingBefore = Set(baseline.passed)
        let partial = results.compactMap { index, run -> (Int, Int)? in
            guard run.crashed == nil, !run.timeout else { return nil }
            let passed = Set(run.passed)
            let fixed = passed.intersection(failingBefore).count
            guard fixed > 0, passingBefore.isSubset(of: passed) else { return nil }
            return (index, fixed)
        }.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : candidates[$0.0].cost < candidates[$1.0].cost }
        var seen: Set<String> = Set(candidates.map(\.source))
        seen.insert(original)
        let best = suspicious.first?.score ?? 0
        let lines = suspicious.filter { $0.score >= 0.3 * best }.prefix(8)
        var out: [Patch] = []
        for (index, _) in partial.prefix(3) {
            let first = candidates[index]
            guard let tree = try? parser.parse(first.source), !tree.hasErrors else { continue }
            let shift = first.source.split(separator: "\n", omittingEmptySubsequences: false).count
                - original.split(separator: "\n", omittingEmptySubsequences: false).count
            let operators = MutationOperators(tree: tree)
            var mine: [Patch] = []
            for line in lines {
                let at = line.line > first.line ? line.line + shift : line.line
                for patch in operators.patches(at: at, score: line.score) where seen.insert(patch.source).inserted {
                    var combined = patch
                    combined.operatorName = first.operatorName + "+" + patch.operatorName
                    combined.rationale = first.rationale + "; and " + patch.rationale
                    combined.cost = first.cost + patch.cost
                    combined.line = min(first.line, patch.line)
                    mine.append(combined)
                }
            }
            out += mine.sorted { Self.priority($0) > Self.priority($1) }
        }
        return out
    }

    // MARK: Ranking

    private func rank(_ candidates: [Patch], results: [Int: TestRun], baseline: TestRun?, canTest: Bool,
                      original: String, mode: RepairReport.Mode) -> [RepairReport.RankedPatch] {
        let failingBefore = Set(baseline?.failed ?? [])
        let passingBefore = Set(baseline?.passed ?? [])
        struct Scored { var index: Int, patch: Patch, status: RepairReport.Status, fixed: Int, run: TestRun? }
        var scored: [Scored] = []
        for (index, patch) in candidates.enumerated() {
            guard canTest else {
                scored.append(Scored(index: index, patch: patch, status: mode == .syntax ? .plausible : .unvalidated,
                                     fixed: 0, run: nil))
                continue
            }
            guard let run = results[index], run.crashed == nil else { continue }
            let passed = Set(run.passed)
            let fixed = mode == .syntax ? passed.count : passed.intersection(failingBefore).count
            let broke = !passingBefore.isSubset(of: passed)
            let plausible = run.complete && !run.timeout && run.failed.isEmpty && !run.outcomes.isEmpty && !broke
            if !plausible && (fixed == 0 || broke) && mode != .syntax { continue }
            scored.append(Scored(index: index, patch: patch, status: plausible ? .plausible : .partial, fixed: fixed, run: run))
        }
        scored.sort { a, b in
            if (a.status == .plausible) != (b.status == .plausible) { return a.status == .plausible }
            if a.fixed != b.fixed { return a.fixed > b.fixed }
            if a.patch.cost != b.patch.cost { return a.patch.cost < b.patch.cost }
            let la = a.patch.modelLogProbability ?? -.infinity, lb = b.patch.modelLogProbability ?? -.infinity
            if la != lb { return la > lb }
            if a.patch.suspiciousness != b.patch.suspiciousness { return a.patch.suspiciousness > b.patch.suspiciousness }
            return a.index < b.index
        }
        let name = URL(fileURLWithPath: options.filePath).lastPathComponent
        return scored.prefix(options.top).enumerated().map { offset, item in
            RepairReport.RankedPatch(
                rank: offset + 1, status: item.status, rationale: item.patch.rationale, origin: item.patch.origin,
                operatorName: item.patch.operatorName, line: item.patch.line, cost: item.patch.cost,
                diff: UnifiedDiff.make(old: original, new: item.patch.source, path: name),
                edit: TextEdit.between(original, item.patch.source), tests: item.run.map(Self.summary),
                modelLogProbability: item.patch.modelLogProbability)
        }
    }

    // MARK: Helpers

    /// Lines where a statement inside a function starts.
    static func functionLines(_ tree: Tree) -> [Int] {
        var lines: Set<Int> = []
        tree.root.walk { node in
            if node.type.hasSuffix("_statement"), node.ancestor(ofType: ["function_definition"]) != nil {
                lines.insert(node.start.line)
            }
            return true
        }
        return lines.sorted()
    }

    static func summary(_ run: TestRun) -> RepairReport.TestSummary {
        RepairReport.TestSummary(passed: run.passed.count, failed: run.failed, total: run.outcomes.count, timeout: run.timeout)
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// `test_<name>.py` or `<name>_test.py` beside the file or in a `tests` folder next to it or above it.
    static func discoverTests(for file: String) -> [String] {
        let url = URL(fileURLWithPath: file)
        let stem = url.deletingPathExtension().lastPathComponent
        let folder = url.deletingLastPathComponent()
        let folders = [folder, folder.appendingPathComponent("tests"), folder.deletingLastPathComponent().appendingPathComponent("tests")]
        for dir in folders {
            for name in ["test_\(stem).py", "\(stem)_test.py"] {
                let path = dir.appendingPathComponent(name).path
                if FileManager.default.fileExists(atPath: path) { return [path] }
            }
        }
        return []
    }
}
