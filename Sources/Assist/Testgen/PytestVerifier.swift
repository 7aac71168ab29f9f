import Foundation
import Syntax
#if canImport(Glibc)
import Glibc
#endif

/// Runs a generated test file with pytest (under coverage.py when it is installed) the way a user would: from the
/// module's folder, with plain `pytest`.
struct PytestVerifier {
    let python: String
    let modulePath: String
    let testPath: String
    /// A private folder for coverage data.
    let scratch: String

    struct Outcome {
        var passed: Bool
        /// Names of failing tests.
        var failed: [String]
        var coverage: TestgenReport.Coverage?
        var skipped: String?
    }

    /// Runs the file once, or `twice` in a row in one pytest process (and, time allowing, once more in a child
    /// interpreter with another string hash seed), under coverage.py when it is installed
    /// (`runtime/python/testgen_pytest.py`: one interpreter start for the two runs); pytest is killed, with every
    /// process it started, after `timeout` seconds.
    func run(timeout: Double = 300, twice: Bool = false) -> Outcome {
        guard let runner = Resources.locate("runtime/python/testgen_pytest.py") else {
            return Outcome(passed: false, failed: [], coverage: nil,
                           skipped: "runtime/python/testgen_pytest.py was not found (set MOECODER_HOME)")
        }
        let resultPath = scratch + "/pytest-result.json"
        try? FileManager.default.removeItem(atPath: resultPath)
        var arguments = [python, runner, modulePath, testPath, resultPath]
        let folder = URL(fileURLWithPath: modulePath).deletingLastPathComponent().path
        let deadline = Date().addingTimeInterval(max(0.5, min(300, timeout)))
        // Twice in one process, then once more under another hash seed if time allows (see testgen_pytest.py).
        if twice { arguments += ["--twice", "--deadline=\(deadline.timeIntervalSince1970 - 0.5)"] }
        _ = Self.execute(arguments, in: folder, timeout: deadline.timeIntervalSinceNow)
        guard let data = FileManager.default.contents(atPath: resultPath),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            return Outcome(passed: false, failed: [], coverage: nil,
                           skipped: deadline.timeIntervalSinceNow <= 0
                               ? "pytest did not finish within the budget (it was stopped)"
                               : "the pytest runner stopped without a result")
        }
        guard object["pytest"] as? Bool == true else {
            return Outcome(passed: false, failed: [], coverage: nil, skipped: "pytest is not installed for \(python)")
        }
        let failed = object["failed"] as? [String] ?? []
        let status = (object["status"] as? NSNumber)?.intValue ?? -1
        let coverage = (object["totals"] as? [String: Any]).flatMap(Self.coverage(totals:))
        return Outcome(passed: status == 0, failed: failed, coverage: coverage, skipped: nil)
    }

    static func coverage(totals: [String: Any]) -> TestgenReport.Coverage? {
        func int(_ key: String) -> Int { (totals[key] as? NSNumber)?.intValue ?? 0 }
        let lines = int("num_statements"), linesCovered = int("covered_lines")
        let branches = int("num_branches"), branchesCovered = int("covered_branches")
        return TestgenReport.Coverage(
            linePercent: lines == 0 ? 100 : 100 * Double(linesCovered) / Double(lines),
            branchPercent: branches == 0 ? 100 : 100 * Double(branchesCovered) / Double(branches),
            linesCovered: linesCovered, linesTotal: lines, branchesCovered: branchesCovered, branchesTotal: branches)
    }

    /// Runs a program (found on PATH) and returns its exit status and combined output; kills it after `timeout`.
    static func execute(_ arguments: [String], in folder: String?, timeout: Double) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        if let folder { process.currentDirectoryURL = URL(fileURLWithPath: folder) }
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        environment["PYTEST_ADDOPTS"] = nil
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { return (127, "\(error)") }
        // Foundation starts the child as the leader of its own process group: a timeout kills the whole group,
        // every process the tests started included.
        let grouped = true
        let timer = DispatchWorkItem {
            // The group outlives its leader while a member holds the output pipe open.
            if grouped { kill(-process.processIdentifier, SIGKILL) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: timer)
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        timer.cancel()
        if grouped { kill(-process.processIdentifier, SIGKILL) }  // anything the tests left running
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}
