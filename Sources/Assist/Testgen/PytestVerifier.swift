import Foundation
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

    /// Runs the file once, or `twice` in a row in one pytest process (under coverage.py when `coverage` and it is
    /// installed); pytest is killed, with every process it started, after `timeout` seconds.
    func run(timeout: Double = 300, coverage wanted: Bool = true, twice: Bool = false) -> Outcome {
        guard Self.available(python, module: "pytest") else {
            return Outcome(passed: false, failed: [], coverage: nil, skipped: "pytest is not installed for \(python)")
        }
        let withCoverage = wanted && Self.available(python, module: "coverage")
        let data = scratch + "/.coverage"
        try? FileManager.default.removeItem(atPath: data)
        var arguments = [python]
        if withCoverage {
            arguments += ["-m", "coverage", "run", "--branch", "--data-file=\(data)", "--include=\(modulePath)"]
        }
        arguments += ["-m", "pytest", "-q", "-rf", "-p", "no:cacheprovider", "-p", "no:randomly"]
        // Twice in one process (one interpreter start on a loaded machine): a test that depends on order, time or
        // state left by the first pass fails in the second.
        arguments += twice ? ["--keep-duplicates", testPath, testPath] : [testPath]
        let folder = URL(fileURLWithPath: modulePath).deletingLastPathComponent().path
        let deadline = Date().addingTimeInterval(max(1, min(300, timeout)))
        let (status, output) = Self.execute(arguments, in: folder, timeout: deadline.timeIntervalSinceNow)
        if deadline.timeIntervalSinceNow <= 0 {
            return Outcome(passed: false, failed: [], coverage: nil,
                           skipped: "pytest did not finish within the budget (it was stopped)")
        }
        let failed = output.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("FAILED "), let separator = line.range(of: "::") else { return nil }
            let rest = line[separator.upperBound...]
            return String(rest.prefix { $0 != " " && $0 != "[" })
        }
        var coverage: TestgenReport.Coverage?
        if withCoverage, deadline.timeIntervalSinceNow > 0.5, FileManager.default.fileExists(atPath: data) {
            let json = scratch + "/coverage.json"
            _ = Self.execute([python, "-m", "coverage", "json", "--data-file=\(data)", "-o", json], in: folder,
                             timeout: deadline.timeIntervalSinceNow)
            coverage = Self.readCoverage(json)
        }
        return Outcome(passed: status == 0, failed: failed, coverage: coverage, skipped: nil)
    }

    static func readCoverage(_ path: String) -> TestgenReport.Coverage? {
        guard let data = FileManager.default.contents(atPath: path),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let totals = object["totals"] as? [String: Any] else { return nil }
        func int(_ key: String) -> Int { (totals[key] as? NSNumber)?.intValue ?? 0 }
        let lines = int("num_statements"), linesCovered = int("covered_lines")
        let branches = int("num_branches"), branchesCovered = int("covered_branches")
        return TestgenReport.Coverage(
            linePercent: lines == 0 ? 100 : 100 * Double(linesCovered) / Double(lines),
            branchPercent: branches == 0 ? 100 : 100 * Double(branchesCovered) / Double(branches),
            linesCovered: linesCovered, linesTotal: lines, branchesCovered: branchesCovered, branchesTotal: branches)
    }

    /// Whether `python` can import `module`; asked once per process (each question starts an interpreter).
    static func available(_ python: String, module: String) -> Bool {
        let key = python + "\u{0}" + module
        availabilityLock.lock()
        let known = availability[key]
        availabilityLock.unlock()
        if let known { return known }
        let found = execute([python, "-c", "import \(module)"], in: nil, timeout: 30).status == 0
        availabilityLock.lock()
        availability[key] = found
        availabilityLock.unlock()
        return found
    }

    private static let availabilityLock = NSLock()
    nonisolated(unsafe) private static var availability: [String: Bool] = [:]

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
