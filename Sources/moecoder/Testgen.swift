import ArgumentParser
import Assist
import Foundation

/// `moecoder testgen`: pytest tests and an edge-case report for a Python module.
struct Testgen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate pytest tests for a Python module and report the edge cases that crash it.",
        discussion: """
            Finds the module's public functions, classes and methods with tree-sitter, runs candidate calls in a \
            sandboxed Python process (own temporary folder, time and memory limits, no network, no writes \
            elsewhere, no processes) for --budget seconds keeping those that add line or branch coverage, writes a \
            pytest file and measures its coverage with coverage.py. Inputs that crashed, hung or started processes \
            are reported, not tested. The whole command takes at most --budget + 15 seconds; the file is written \
            with what was found even when verification runs out of time. Progress goes to standard error.

            Exit status: 0 when the test file was written and passes, 1 when it does not pass, 2 when the module \
            does not parse, cannot be imported or defines nothing to test.
            """)

    @Argument(help: ArgumentHelp("The Python module to test.", valueName: "module.py"))
    var module: String

    @Option(help: ArgumentHelp("Where to write the tests (default: tests/test_<module>.py beside the module).",
                               valueName: "path"))
    var out: String?

    @Option(help: "Seconds to spend searching for inputs.")
    var budget: Double = 20

    @Option(help: "Seed for the input search: the same seed tries the same inputs.")
    var seed: UInt64 = 0

    @Option(help: "Seconds one call may run before it counts as a hang.")
    var callTimeout: Double = 0.5

    @Option(help: "Memory limit of the sandboxed Python process, in MiB.")
    var memory: Int = 1024

    @Flag(help: ArgumentHelp("""
        Mutation analysis: the last 30 % of the budget replays the chosen tests against mutants of the module \
        (operators AOR, ROR, COR, UOI, CRP, SDL, RVR, BCR; see the README), adds tests that kill survivors, and \
        reports the score and the surviving mutants.
        """))
    var mutation = false

    @Option(help: "With --mutation: at most this many mutants (an evenly spread, fixed sample).")
    var mutants: Int = 400

    @Flag(help: "Print the report as JSON on standard output.")
    var json = false

    @OptionGroup var modelOptions: ModelOptions

    func validate() throws {
        if budget <= 0 { throw ValidationError("--budget must be a positive number of seconds") }
        if callTimeout <= 0 { throw ValidationError("--call-timeout must be positive") }
        if memory < 64 { throw ValidationError("--memory must be at least 64 (MiB)") }
        if mutants < 1 { throw ValidationError("--mutants must be at least 1") }
    }

    /// When this process started (`/proc/self/stat`), or now where that cannot be read.
    static func processStart() -> Date {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let uptime = try? String(contentsOfFile: "/proc/uptime", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return Date() }
        let fields = stat[stat.index(after: close)...].split(separator: " ")  // from field 3 (state) on
        guard fields.count > 19, let ticks = Double(fields[19]),
              let seconds = uptime.split(separator: " ").first.flatMap({ Double($0) }) else { return Date() }
        let age = seconds - ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
        return Date().addingTimeInterval(-max(0, min(age, 60)))
    }

    func run() throws {
        var options = TestGenerator.Options(modulePath: module)
        options.started = Self.processStart()  // the budget counts from the command's start
        options.outputPath = out
        options.budget = budget
        options.seed = seed
        options.callTimeout = callTimeout
        options.sandbox.memoryMB = memory
        options.mutation = mutation
        options.mutantLimit = mutants
        // Model-proposed inputs are optional: only with an explicit --model.
        let model = modelOptions.model != nil ? try modelOptions.load() : nil
        let report: TestgenReport
        do {
            report = try TestGenerator(options: options).run(model: model) { line in
                FileHandle.standardError.write(Data("\(line)\n".utf8))
            }
        } catch let error as TestgenError {
            throw CLIFailure(message: error.description, status: 2)
        }
        if json {
            print(try JSON.pretty(report))
        } else {
            print(report.summary)
        }
        if !report.verification.passed && report.verification.skipped == nil { throw ExitCode(1) }
    }
}
