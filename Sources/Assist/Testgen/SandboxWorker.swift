import Foundation
import Syntax
#if canImport(Glibc)
import Glibc
#endif

/// A long-lived Python process (runtime/python/testgen_worker.py) that imports the module under test and runs
/// test cases sent as JSON lines, inside a sandbox (see the worker's docstring for the limits it sets).
///
/// When the worker dies or stops answering, it is killed (its whole process group) and restarted; the case
/// that did it comes back with `crashed` set instead of failing the run.
public final class SandboxWorker {
    public struct Configuration: Sendable {
        public var python: String
        public var memoryMB: Int
        /// Cut the network with `unshare -rn` when the OS allows it.
        public var isolateNetwork: Bool
        public var importTimeout: Double

        public init(python: String = ProcessInfo.processInfo.environment["MOECODER_PYTHON"] ?? "python3",
                    memoryMB: Int = 1024, isolateNetwork: Bool = true, importTimeout: Double = 20) {
            self.python = python
            self.memoryMB = memoryMB
            self.isolateNetwork = isolateNetwork
            self.importTimeout = importTimeout
        }
    }

    public let modulePath: String
    public let workDirectory: String
    public let configuration: Configuration
    /// Arcs run while importing the module (module-level statements).
    public private(set) var importArcs: [[Int]] = []
    public private(set) var pythonVersion = ""
    /// Strings the module's regular expressions match (and near misses), as Python literals, from the worker's
    /// ready message (`module_regex_strings` in testgen_worker.py).
    public private(set) var regexStrings: [String] = []
    /// Argument vectors (lists of strings, as Python literals) for the command-line options and positionals the
    /// module declares, from the ready message (`module_argv_vectors` in testgen_worker.py).
    public private(set) var argvVectors: [String] = []
    /// Where they go: `target|parameter` of the functions that hand that parameter to an option parser (or pass
    /// it on to one that does).
    public private(set) var argvTargets: Set<String> = []
    /// Compiled modules the module imports over its own Python definitions (`from _bisect import *` in a `try`
    /// with an ImportError fallback); the worker imports the module with them blocked, and so must the tests
    /// (`accelerator_modules` in testgen_worker.py).
    public private(set) var blockedModules: [String] = []
    /// How many times the worker was restarted after a crash or hang.
    public private(set) var restarts = 0
    /// True when the network namespace could be cut (`unshare -n`).
    public private(set) var networkIsolated = false

    /// The hard end of the command: no wait on the worker (an answer, an import after a restart) goes past it;
    /// a case still running then is stopped with the worker, which is not restarted.
    public var deadline: Date = .distantFuture

    /// Seconds left before `deadline`.
    public var remaining: Double { deadline.timeIntervalSinceNow }

    private var process: Process?
    private var input: FileHandle?
    private var outputFD: Int32 = -1
    private var buffer: [UInt8] = []
    /// Set by `readLine` when it stopped at the end of the worker's output (the worker exited).
    private var sawEndOfFile = false
    private var nextID = 0

    public init(modulePath: String, workDirectory: String, configuration: Configuration = Configuration(),
                deadline: Date = .distantFuture) throws {
        self.modulePath = modulePath
        self.workDirectory = workDirectory
        self.configuration = configuration
        self.deadline = deadline
        signal(SIGPIPE, SIG_IGN)
        try start()
    }

    deinit { stop() }

    /// Runs one case; never throws for what the case does (exceptions, hangs, crashes are in the result).
    public func run(_ testCase: TestCase, timeout: Double) -> CaseResult {
        nextID += 1
        struct Request: Encodable {
            var id: Int, steps: [TestStep], watch: [String], timeout: Double
        }
        guard remaining > 0.05 else { return outOfTime() }
        let request = Request(id: nextID, steps: testCase.steps, watch: testCase.watch, timeout: timeout)
        guard let data = try? JSONEncoder().encode(request), send(data + Data("\n".utf8)) else {
            return restartAfterFailure("the worker stopped accepting input")
        }
        // The worker interrupts a slow case itself; the margin covers a case stuck in C code.
        guard let line = readLine(timeout: min(timeout + 1.5, remaining)) else {
            if !sawEndOfFile && remaining <= 0 { return outOfTime() }
            // End of file: the worker died (abort, segfault, os._exit); no answer in time: a hang.
            return restartAfterFailure(sawEndOfFile ? deathDescription() : "hang")
        }
        guard let result = try? JSONDecoder().decode(CaseResult.self, from: Data(line)) else {
            return restartAfterFailure("the worker answered something unreadable")
        }
        return result
    }

    /// Runs several cases with one write: the requests are pipelined (the worker answers them in order, one line
    /// each), so it goes from one case to the next without waiting for this side, which meanwhile reads the
    /// answers. Each case has its own time limit. A case that crashes or hangs the worker comes back with `crashed`
    /// set (the worker is restarted); the cases after it come back nil (not run).
    public func runBatch(_ cases: [(TestCase, Double)]) -> [CaseResult?] {
        guard cases.count > 1 else { return cases.map { run($0.0, timeout: $0.1) } }
        struct Request: Encodable {
            var id: Int, steps: [TestStep], watch: [String], timeout: Double
        }
        guard remaining > 0.05 else { return [outOfTime()] + Array(repeating: nil, count: cases.count - 1) }
        let encoder = JSONEncoder()
        var payload = Data()
        for (testCase, timeout) in cases {
            nextID += 1
            guard let data = try? encoder.encode(Request(id: nextID, steps: testCase.steps, watch: testCase.watch,
                                                         timeout: timeout)) else { return cases.map { run($0.0, timeout: $0.1) } }
            payload += data
            payload.append(UInt8(ascii: "\n"))
        }
        // Everything must fit in the pipe: the worker does not read while its own answers wait to be read.
        guard payload.count < 32 * 1024 else { return cases.map { run($0.0, timeout: $0.1) } }
        guard send(payload) else {
            return [restartAfterFailure("the worker stopped accepting input")] + Array(repeating: nil, count: cases.count - 1)
        }
        var results: [CaseResult?] = []
        let decoder = JSONDecoder()
        for (i, (_, timeout)) in cases.enumerated() {
            let failure: CaseResult
            if let line = readLine(timeout: min(timeout + 1.5, remaining)) {
                if let result = try? decoder.decode(CaseResult.self, from: Data(line)) {
                    results.append(result)
                    continue
                }
                failure = restartAfterFailure("the worker answered something unreadable")
            } else if !sawEndOfFile && remaining <= 0 {
                failure = outOfTime()
            } else {
                failure = restartAfterFailure(sawEndOfFile ? deathDescription() : "hang")
            }
            results.append(failure)
            results += Array(repeating: nil, count: cases.count - i - 1)
            break
        }
        return results
    }

    /// One mutant as the worker analysed it (`runtime/python/testgen_mutants.py` lists the operators).
    public struct MutantOutcome: Sendable, Codable {
        public var id: Int
        public var `operator`: String
        public var line: Int
        public var description: String
        /// True when one of the suite's cases tells the mutant apart from the module.
        public var killed: Bool
        /// The index of the first case (suite or not) that tells it apart, if any.
        public var killer: Int?
        public var timeout: Bool
    }

    public struct MutationAnswer: Sendable, Codable {
        /// Mutants of the whole module (the analysed ones may be a sample).
        public var total: Int
        public var mutants: [MutantOutcome]
        /// False when the time ran out before every sampled mutant was analysed.
        public var complete: Bool
    }

    /// Replays `cases` against mutants of the module: the first `suite` cases decide whether a mutant is killed;
    /// the others are tried on survivors, to find cases that would kill them. Nil when the worker failed (it is
    /// restarted).
    /// `lines`: the lines each case ran (from its arcs), so that a case is not replayed against a mutant whose line
    /// it does not reach.
    public func mutation(cases: [TestCase], lines: [[Int]]? = nil, suite: Int, limit: Int, timeout: Double,
                         seconds: Double) -> MutationAnswer? {
        nextID += 1
        struct Case: Encodable { var steps: [TestStep], watch: [String] }
        struct Request: Encodable {
            var op = "mutation", id: Int, cases: [Case], suite: Int, limit: Int, timeout: Double, seconds: Double
            var lines: [[Int]]?
            var import_lines: [Int]?
        }
        let importLines = Array(Set(importArcs.flatMap { $0 }.filter { $0 > 0 })).sorted()
        let request = Request(id: nextID, cases: cases.map { Case(steps: $0.steps, watch: $0.watch) }, suite: suite,
                              limit: limit, timeout: timeout, seconds: seconds, lines: lines,
                              import_lines: lines == nil ? nil : importLines)
        guard let data = try? JSONEncoder().encode(request), send(data + Data("\n".utf8)) else {
            _ = restartAfterFailure("the worker stopped accepting input")
            return nil
        }
        // The worker stops starting mutants after `seconds`; one mutant's cases may still run to their limits.
        guard let line = readLine(timeout: min(seconds + timeout * 4 + 3, remaining)),
              let answer = try? JSONDecoder().decode(MutationAnswer.self, from: Data(line)) else {
            if remaining <= 0 { _ = outOfTime() } else { _ = restartAfterFailure("mutation analysis did not answer") }
            return nil
        }
        return answer
    }

    /// Each case's outcome when the cases run in order, as a test file runs them, `passes` times in a row against
    /// a fresh copy of the module (imported again in the worker, as a new pytest process would); nil for a case
    /// that did not run before `seconds` ran out. Nil when the worker failed (it is restarted).
    public func replay(cases: [TestCase], passes: Int, timeout: Double, seconds: Double) -> [[CaseResult?]]? {
        guard remaining > 0.05 else { return nil }
        nextID += 1
        struct Case: Encodable { var steps: [TestStep], watch: [String] }
        struct Request: Encodable {
            var op = "replay", id: Int, cases: [Case], passes: Int, timeout: Double, seconds: Double
        }
        struct Answer: Decodable { var passes: [[CaseResult?]] }
        let seconds = min(seconds, remaining - timeout - 0.5)
        guard seconds > 0 else { return nil }
        let request = Request(id: nextID, cases: cases.map { Case(steps: $0.steps, watch: $0.watch) }, passes: passes,
                              timeout: timeout, seconds: seconds)
        guard let data = try? JSONEncoder().encode(request), send(data + Data("\n".utf8)) else {
            _ = restartAfterFailure("the worker stopped accepting input")
            return nil
        }
        guard let line = readLine(timeout: min(seconds + timeout + 2, remaining)),
              let answer = try? JSONDecoder().decode(Answer.self, from: Data(line)) else {
            if remaining <= 0 { _ = outOfTime() } else { _ = restartAfterFailure("the replay did not answer") }
            return nil
        }
        return answer.passes
    }

    /// The deadline passed: the worker is stopped (with whatever it runs) and stays stopped.
    private func outOfTime() -> CaseResult {
        stop()
        return CaseResult(steps: [], state: [:], arcs: [], crashed: "the budget ran out")
    }

    /// Ends the worker.
    public func stop() {
        guard let process else { return }
        if process.isRunning {
            kill(-process.processIdentifier, SIGKILL)
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        try? input?.close()
        if outputFD >= 0 { close(outputFD) }
        outputFD = -1
        self.process = nil
    }

    // MARK: Process

    private func start() throws {
        guard let script = Resources.locate("runtime/python/testgen_worker.py") else {
            throw TestgenError.missingRuntime("runtime/python/testgen_worker.py", Resources.searchRoots)
        }
        try FileManager.default.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)
        let arguments = [script, modulePath, workDirectory, String(configuration.memoryMB)]
        let process = Process()
        networkIsolated = configuration.isolateNetwork && Self.canUnshareNetwork
        if networkIsolated {
            process.executableURL = URL(fileURLWithPath: Self.unsharePath!)
            process.arguments = ["-rn", configuration.python, "-I"] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [configuration.python, "-I"] + arguments
        }
        process.currentDirectoryURL = URL(fileURLWithPath: workDirectory)
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        environment["PYTHONHASHSEED"] = "0"
        process.environment = environment
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch {
            throw TestgenError.pythonUnavailable(configuration.python, "\(error)")
        }
        self.process = process
        input = stdin.fileHandleForWriting
        outputFD = dup(stdout.fileHandleForReading.fileDescriptor)
        try? stdout.fileHandleForReading.close()
        buffer = []
        guard let line = readLine(timeout: min(configuration.importTimeout, max(0.5, remaining))) else {
            let death = deathDescription()
            stop()
            throw TestgenError.importFailed("the module did not finish importing (\(death))")
        }
        struct Ready: Decodable {
            var ready: Bool, python: String?, arcs: [[Int]]?, error: String?, message: String?, strings: [String]?,
                argvs: [String]?, argv_targets: [String]?, blocked: [String]?
        }
        guard let ready = try? JSONDecoder().decode(Ready.self, from: Data(line)) else {
            stop()
            throw TestgenError.importFailed("the worker answered something unreadable")
        }
        guard ready.ready else {
            stop()
            throw TestgenError.importFailed(ready.message ?? ready.error ?? "unknown error")
        }
        importArcs = ready.arcs ?? []
        pythonVersion = ready.python ?? ""
        regexStrings = ready.strings ?? []
        argvVectors = ready.argvs ?? []
        argvTargets = Set(ready.argv_targets ?? [])
        blockedModules = ready.blocked ?? []
    }

    private func restartAfterFailure(_ reason: String) -> CaseResult {
        stop()
        guard remaining > 1 else { return CaseResult(steps: [], state: [:], arcs: [], crashed: reason) }
        restarts += 1
        do { try start() } catch {
            return CaseResult(steps: [], state: [:], arcs: [], crashed: "\(reason); restart failed: \(error)")
        }
        return CaseResult(steps: [], state: [:], arcs: [], crashed: reason)
    }

    private func deathDescription() -> String {
        guard let process else { return "the worker is gone" }
        // It closed its output (it has exited or is about to), or it did not answer in time and still runs (an
        // import slower than the time left, under load): wait a moment, never past the deadline; the caller stops
        // it. (`waitUntilExit` here waited for ever on a worker that was still reading its requests.)
        let until = min(Date().addingTimeInterval(1), deadline)
        while process.isRunning && Date() < until { usleep(10_000) }
        if process.isRunning { return "the worker did not answer in time" }
        if process.terminationReason == .uncaughtSignal {
            return "the worker was killed by signal \(process.terminationStatus)"
        }
        return "the worker exited with status \(process.terminationStatus)"
    }

    // MARK: Lines

    private func send(_ data: Data) -> Bool {
        guard let input, process?.isRunning == true else { return false }
        return data.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(input.fileDescriptor, raw.baseAddress! + offset, raw.count - offset)
                if n <= 0 { return false }
                offset += n
            }
            return true
        }
    }

    /// The next line from the worker, or nil after `timeout` seconds or at end of file.
    private func readLine(timeout: Double) -> [UInt8]? {
        sawEndOfFile = false
        let deadline = Date().addingTimeInterval(timeout)
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                return line
            }
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 || outputFD < 0 { return nil }
            var poller = pollfd(fd: outputFD, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(min(remaining * 1000, 1000)) + 1)
            if ready < 0 && errno != EINTR { return nil }
            if ready <= 0 { continue }
            let n = read(outputFD, &chunk, chunk.count)
            if n <= 0 { sawEndOfFile = true; return nil }
            buffer += chunk[..<n]
        }
    }

    // MARK: Network isolation probe

    static let unsharePath: String? = ["/usr/bin/unshare", "/bin/unshare"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// Whether `unshare -rn` works here (it needs user namespaces; containers often forbid them).
    static let canUnshareNetwork: Bool = {
        guard let path = unsharePath else { return false }
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: path)
        probe.arguments = ["-rn", "true"]
        probe.standardOutput = FileHandle.nullDevice
        probe.standardError = FileHandle.nullDevice
        do { try probe.run() } catch { return false }
        probe.waitUntilExit()
        return probe.terminationStatus == 0
    }()
}
