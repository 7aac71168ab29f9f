import Foundation

/// What `moecoder repair` found: the failure it started from, where it looked, and the ranked patches.
public struct RepairReport: Sendable, Codable {
    /// How a patch stands against the tests.
    public enum Status: String, Sendable, Codable {
        /// Every test passes with it (for a syntax repair without tests: it parses and compiles).
        case plausible
        /// It fixes some failing tests but not all, or breaks one that passed, or the run was cut short.
        case partial
        /// There were no tests to run it against (a traceback only).
        case unvalidated
    }

    public struct TestSummary: Sendable, Codable {
        public var passed: Int
        public var failed: [String]
        public var total: Int
        public var timeout: Bool
    }

    public struct RankedPatch: Sendable, Codable {
        public var rank: Int
        public var status: Status
        public var rationale: String
        public var origin: Patch.Origin
        public var operatorName: String
        public var line: Int
        public var cost: Int
        public var diff: String
        /// The one edit that turns the file into the patched file.
        public var edit: TextEdit
        public var tests: TestSummary?
        public var modelLogProbability: Double?

        enum CodingKeys: String, CodingKey {
            case rank, status, rationale, origin, operatorName = "operator", line, cost, diff, edit, tests
            case modelLogProbability = "model_log_probability"
        }
    }

    public enum Mode: String, Sendable, Codable { case syntax, tests, traceback, none }

    public var file: String
    public var mode: Mode
    public var tests: [String]
    public var command: String?
    /// The tests before any patch.
    public var baseline: TestSummary?
    public var syntaxErrors: [String]
    public var suspicious: [SuspiciousLine]
    public var candidates: Int
    /// Candidates with a test result (duplicates of another candidate's program included).
    public var validated: Int
    /// Distinct programs whose tests were run (candidates differing only in formatting run once).
    public var tried: Int
    public var patches: [RankedPatch]
    public var note: String?
    public var seconds: Double
    /// The file's text when the repair read it (not in the JSON): `--apply` refuses a file changed since.
    public var originalSource: String? = nil

    enum CodingKeys: String, CodingKey {
        case file, mode, tests, command, baseline, syntaxErrors = "syntax_errors", suspicious, candidates, validated, tried
        case patches, note, seconds
    }

    public var plausibleCount: Int { patches.filter { $0.status == .plausible }.count }

    /// The report as people read it: the failure, then each patch with its rationale, test result and diff.
    public var summary: String {
        var out: [String] = []
        switch mode {
        case .syntax:
            out.append("\(file) does not parse: \(syntaxErrors.prefix(3).joined(separator: "; "))")
        case .tests, .traceback:
            if let baseline {
                out.append("\(file): \(baseline.failed.count) of \(baseline.total) tests fail "
                           + "(\(baseline.failed.prefix(4).joined(separator: ", "))\(baseline.failed.count > 4 ? ", …" : ""))")
            } else {
                out.append("\(file): repairing from the traceback alone (no tests to validate with)")
            }
            if !suspicious.isEmpty {
                out.append("suspicious lines: " + suspicious.prefix(5).map { String(format: "%d (%.2f)", $0.line, $0.score) }
                    .joined(separator: ", "))
            }
        case .none:
            break
        }
        out.append("\(candidates) candidates, \(validated) validated (\(tried) test runs) in \(String(format: "%.1f", seconds)) s")
        for patch in patches {
            var result = ""
            if let tests = patch.tests {
                result = tests.failed.isEmpty && !tests.timeout ? "all \(tests.total) tests pass"
                    : tests.timeout ? "tests time out"
                    : "\(tests.passed) of \(tests.total) tests pass; failing: \(tests.failed.prefix(3).joined(separator: ", "))"
            } else if patch.status == .plausible {
                result = "parses and compiles"
            } else {
                result = "not validated"
            }
            out.append("")
            out.append("#\(patch.rank) [\(patch.status.rawValue)] \(patch.rationale) — \(result)")
            out.append(patch.diff.hasSuffix("\n") ? String(patch.diff.dropLast()) : patch.diff)
        }
        if let note {
            out.append("")
            out.append(note)
        }
        return out.joined(separator: "\n")
    }
}
