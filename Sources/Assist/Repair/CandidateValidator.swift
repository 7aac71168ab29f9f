import Foundation

/// The outcome of running the tests with one candidate source.
public struct TestRun: Sendable, Codable {
    /// Test id (`test_calc.py::test_max`) → `passed`, `failed`, `error` or `skipped`.
    public var outcomes: [String: String] = [:]
    /// False when the run stopped early: no previously failing test passed, or a passing one broke.
    public var complete = true
    public var timeout = false
    public var crashed: String?
    public var seconds = 0.0
    /// First line of each failing test's exception.
    public var messages: [String: String]?
    /// Per test, the lines of the target file it executed (only for traced runs).
    public var coverage: [String: [Int]]?
    /// Per failing test, the target file's lines in its traceback, outermost first.
    public var frames: [String: [Int]]?
    /// The same program as an earlier candidate (formatting aside): its result, not a run of its own.
    public var duplicate = false

    init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        outcomes = try c.decodeIfPresent([String: String].self, forKey: .outcomes) ?? [:]
        complete = try c.decodeIfPresent(Bool.self, forKey: .complete) ?? true
        timeout = try c.decodeIfPresent(Bool.self, forKey: .timeout) ?? false
        crashed = try c.decodeIfPresent(String.self, forKey: .crashed)
        seconds = try c.decodeIfPresent(Double.self, forKey: .seconds) ?? 0
        messages = try c.decodeIfPresent([String: String].self, forKey: .messages)
        coverage = try c.decodeIfPresent([String: [Int]].self, forKey: .coverage)
        frames = try c.decodeIfPresent([String: [Int]].self, forKey: .frames)
        duplicate = try c.decodeIfPresent(Bool.self, forKey: .duplicate) ?? false
    }

    public var passed: [String] { outcomes.filter { $0.value == "passed" }.map(\.key).sorted() }
    public var failed: [String] { outcomes.filter { $0.value == "failed" || $0.value == "error" }.map(\.key).sorted() }
}

/// Runs the tests against candidate sources of one file in a copy of the project, through
/// runtime/python/repair_worker.py (forked children in testgen's sandbox, `jobs` at a time, each killed after
/// `timeout` seconds).
struct CandidateValidator {
    let copy: ProjectCopy
    /// The target file inside the copy.
    let target: String
    /// Test files or folders, relative to the copy's root (pytest mode).
    let tests: [String]
    /// A shell command instead (command mode), run from `commandFolder` (relative to the root).
    let command: String?
    let commandFolder: String
    let python: PythonRun
    let jobs: Int

    /// Runs `sources` in order until `budget` seconds have passed; results by index into `sources`.
    /// With `stopAfterPlausible`, no new candidate starts once that many passed every test.
    func run(_ sources: [String], trace: Bool = false, first: [String] = [], baselinePassing: [String] = [],
             timeout: Double, budget: Double, stopAfterPlausible: Int = 0,
             progress: (@Sendable (String) -> Void)?) throws -> [Int: TestRun] {
        guard !sources.isEmpty else { return [:] }
        struct Candidate: Encodable { var id: Int, source: String }
        struct Job: Encodable {
            var tests: [String], cmd: String?, cwd: String, jobs: Int, timeout: Double, budget: Double, trace: Bool
            var first: [String], baseline_passing: [String], stop_after_plausible: Int, candidates: [Candidate]
        }
        let job = Job(tests: tests, cmd: command, cwd: commandFolder, jobs: jobs, timeout: timeout, budget: budget,
                      trace: trace, first: first, baseline_passing: baselinePassing, stop_after_plausible: stopAfterPlausible,
                      candidates: sources.enumerated().map { Candidate(id: $0.offset, source: $0.element) })
        let input = try JSONEncoder().encode(job)
        let (status, output) = try python.run(
            script: "repair_worker.py", arguments: [target, copy.root, String(python.sandbox.memoryMB)],
            input: input, timeout: budget + timeout + 120, progress: progress)
        var results: [Int: TestRun] = [:]
        struct Line: Decodable { var id: Int }
        for line in output.split(separator: 0x0A) {
            let data = Data(line)
            guard let id = try? JSONDecoder().decode(Line.self, from: data).id,
                  let run = try? JSONDecoder().decode(TestRun.self, from: data) else { continue }
            results[id] = run
        }
        if results.isEmpty && status != 0 {
            throw RepairError.workerFailed("the test runner exited with status \(status)")
        }
        return results
    }
}
