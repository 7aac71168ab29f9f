/// What `moecoder testgen` produced and measured: the test file, its coverage, and the edge-case findings.
public struct TestgenReport: Sendable, Codable {
    /// Coverage of the module by the generated tests, measured by running them with pytest under coverage.py.
    public struct Coverage: Sendable, Codable {
        public var linePercent: Double
        public var branchPercent: Double
        public var linesCovered: Int
        public var linesTotal: Int
        public var branchesCovered: Int
        public var branchesTotal: Int

        enum CodingKeys: String, CodingKey {
            case linePercent = "line_percent", branchPercent = "branch_percent", linesCovered = "lines_covered"
            case linesTotal = "lines_total", branchesCovered = "branches_covered", branchesTotal = "branches_total"
        }
    }

    /// An edge input that crashed, hung or broke out of the sandbox: a finding for the user, not a test.
    public struct Finding: Sendable, Codable, Equatable {
        /// The function or method (`mean`, `Account.withdraw`).
        public var function: String
        /// The exception type, or `timeout`, or `crash`.
        public var kind: String
        public var message: String
        /// The line of the module where it happened, when known.
        public var line: Int?
        /// The smallest call found that reproduces it.
        public var reproduction: String
        /// How many distinct inputs ended the same way.
        public var occurrences: Int
        /// True when the arguments fit the type hints: then it is likely a bug. False: the module was called
        /// outside its hints (None for an int…), a robustness finding.
        public var fitsHints: Bool

        enum CodingKeys: String, CodingKey {
            case function, kind, message, line, reproduction, occurrences, fitsHints = "fits_hints"
        }
    }

    /// The pytest run of the written file.
    public struct Verification: Sendable, Codable {
        /// True when the final file passed (twice in a row).
        public var passed: Bool
        /// Tests removed because they failed or behaved differently when run again.
        public var dropped: [String]
        /// Why verification could not run (pytest missing, no time left), or why it ran only once.
        public var skipped: String?
    }

    /// `--mutation`: the chosen tests replayed against mutants of the module in the sandbox.
    public struct Mutation: Sendable, Codable {
        public struct Survivor: Sendable, Codable {
            public var `operator`: String
            public var line: Int
            public var description: String
        }
        /// AOR arithmetic, ROR relational, COR conditional (and/or, not), UOI unary minus deleted, CRP constant
        /// replaced, SDL statement deleted, RVR return value replaced, BCR break/continue swapped.
        public var operators = ["AOR", "ROR", "COR", "UOI", "CRP", "SDL", "RVR", "BCR"]
        /// Mutants of the whole module; `analysed` of them (an evenly spread sample when there are more than the
        /// limit, fewer when the time ran out: `complete` false).
        public var total: Int
        public var analysed: Int
        /// Killed by the final tests (their observed behaviour differs from the module's).
        public var killed: Int
        public var score: Double
        /// The score of the tests chosen for coverage, before tests were added for survivors.
        public var scoreBefore: Double
        public var addedTests: Int
        public var complete: Bool
        public var survivors: [Survivor]

        enum CodingKeys: String, CodingKey {
            case operators, total, analysed, killed, score, scoreBefore = "score_before", addedTests = "added_tests"
            case complete, survivors
        }
    }

    public var module: String
    public var testFile: String
    public var seed: UInt64
    public var budgetSeconds: Double
    public var elapsedSeconds: Double
    /// Cases executed in the sandbox during the search.
    public var runs: Int
    public var tests: [String]
    public var coverage: Coverage?
    public var verification: Verification
    public var findings: [Finding]
    public var networkIsolated: Bool
    public var workerRestarts: Int
    /// Cases proposed by the model that parsed (0 without `--model`).
    public var modelProposals: Int
    public var mutation: Mutation?
    /// Where the time went, in seconds from the command's start: `worker_ready` (the module imported in the
    /// sandbox), then the length of `search`, `mutation`, `replay` and `verify` (writing and pytest).
    public var phases: [String: Double] = [:]

    enum CodingKeys: String, CodingKey {
        case module, testFile = "test_file", seed, budgetSeconds = "budget_s", elapsedSeconds = "elapsed_s", runs
        case tests, coverage, verification, findings, networkIsolated = "network_isolated"
        case workerRestarts = "worker_restarts", modelProposals = "model_proposals", mutation, phases
    }

    /// The readable summary printed after a run.
    public var summary: String {
        var lines: [String] = []
        lines.append("wrote \(tests.count) tests to \(testFile) (\(runs) cases run in \(String(format1: elapsedSeconds)) s)")
        if let coverage {
            lines.append("coverage: lines \(String(format1: coverage.linePercent))% (\(coverage.linesCovered)/\(coverage.linesTotal)), "
                         + "branches \(String(format1: coverage.branchPercent))% (\(coverage.branchesCovered)/\(coverage.branchesTotal))")
        }
        if let skipped = verification.skipped, verification.passed {
            lines.append("pytest: passes (\(skipped))")
        } else if let skipped = verification.skipped {
            lines.append("pytest: not run (\(skipped))")
        } else {
            lines.append("pytest: \(verification.passed ? "passes" : "FAILS")"
                         + (verification.dropped.isEmpty ? "" : " (dropped \(verification.dropped.count) unstable tests)"))
        }
        if let mutation {
            lines.append("mutation: \(String(format1: mutation.score))% of \(mutation.analysed) mutants killed "
                         + "(\(String(format1: mutation.scoreBefore))% before \(mutation.addedTests) tests were added; "
                         + "\(mutation.total) mutants in all), \(mutation.survivors.count) survive")
            for survivor in mutation.survivors.prefix(10) {
                lines.append("  line \(survivor.line): \(survivor.operator) \(survivor.description)")
            }
            if mutation.survivors.count > 10 { lines.append("  … (--json lists them all)") }
        }
        let bugs = findings.filter(\.fitsHints), misuse = findings.filter { !$0.fitsHints }
        if bugs.isEmpty {
            lines.append("edge cases: no crash or hang with arguments that fit the type hints")
        } else {
            lines.append("edge cases (\(bugs.count)): inputs that fit the hints but crashed or hung (not turned into tests)")
            for finding in bugs {
                let location = finding.line.map { " at line \($0)" } ?? ""
                let message = finding.message.isEmpty ? "" : ": \(finding.message)"
                lines.append("  \(finding.function): \(finding.kind)\(location)\(message)")
                lines.append("    \(finding.reproduction)")
            }
        }
        if !misuse.isEmpty {
            lines.append("robustness (\(misuse.count)): crashes with arguments outside the hints (None, wrong types)")
            for finding in misuse {
                lines.append("  \(finding.function): \(finding.kind) ×\(finding.occurrences), e.g. \(finding.reproduction)")
            }
        }
        return lines.joined(separator: "\n")
    }
}

extension String {
    init(format1 value: Double) {
        let scaled = (value * 10).rounded() / 10
        self = scaled == scaled.rounded() ? "\(Int(scaled)).0" : "\(scaled)"
    }
}
