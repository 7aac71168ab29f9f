import ArgumentParser
import Assist
import Engine
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `moecoder repair`: ranked, validated patches for a Python file with a syntax error or failing tests.
struct Repair: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Propose ranked, test-validated patches for a broken Python file.",
        discussion: """
            A file that does not parse gets edits that make it parse (and compile). Otherwise the tests are run \
            (pytest, in a temporary copy of the project, in testgen's sandbox), the failing ones' coverage and \
            tracebacks point at suspicious lines, and mutation operators (and the model, with --model) propose \
            patches there. Each candidate runs against the tests; one that breaks a passing test is rejected. \
            Patches are ranked by tests passing, then edit size, then model likelihood, and printed as unified \
            diffs. Your files are not changed unless you pass --apply. Progress goes to standard error.

            Without --test or --cmd, test_<name>.py or <name>_test.py beside the file or in tests/ is used.

            Exit status: 0 when a plausible patch was found (or applied), 1 when none was, 2 on bad usage or \
            unreadable input.
            """)

    @Argument(help: ArgumentHelp("The Python file to repair.", valueName: "file.py"))
    var file: String

    @Option(name: .customLong("test"), help: ArgumentHelp("A pytest file or folder (repeatable).", valueName: "path"))
    var tests: [String] = []

    @Option(help: ArgumentHelp("A shell command that runs the tests instead (e.g. \"pytest -x tests\"), run in the copy.",
                               valueName: "command"))
    var cmd: String?

    @Option(help: ArgumentHelp("A file with the failure's Python traceback.", valueName: "path"))
    var error: String?

    @Option(help: "How many patches to show.")
    var top = 3

    @Option(help: "Seconds the whole repair may take (the tests' first run, candidates, their validation).")
    var budget: Double = 38

    @Option(help: "Test runs at the same time (default: up to 4, by cores).")
    var jobs: Int?

    @Option(help: "Memory limit of each sandboxed test run, in MiB.")
    var memory = 1024

    @Option(help: ArgumentHelp("Write patch N (1-based, as listed) into the file.", valueName: "N"))
    var apply: Int?

    @Flag(help: "Print the report as JSON on standard output.")
    var json = false

    @OptionGroup var modelOptions: ModelOptions

    func validate() throws {
        if top < 1 { throw ValidationError("--top must be at least 1") }
        if budget <= 0 { throw ValidationError("--budget must be a positive number of seconds") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if memory < 64 { throw ValidationError("--memory must be at least 64 (MiB)") }
        if let apply, apply < 1 { throw ValidationError("--apply takes a patch number from 1") }
        if cmd != nil && !tests.isEmpty { throw ValidationError("give --test or --cmd, not both") }
    }

    func run() throws {
        var options = RepairOptions(filePath: file)
        options.tests = tests
        options.command = cmd
        options.tracebackPath = error
        options.top = top
        options.budget = budget
        if let jobs { options.jobs = jobs }
        options.sandbox.memoryMB = memory
        // Ctrl-C or SIGTERM: the test runs are killed (process groups included), the temporary copy removed.
        let interrupted = CancellationFlag()
        options.cancellation = interrupted
        let stops = [SIGINT, SIGTERM, SIGHUP].map { number -> DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { interrupted.cancel() }
            source.resume()
            return source
        }
        defer { stops.forEach { $0.cancel() } }
        // Model rewrites are optional: with --model, or the default model when one is installed.
        let model = modelOptions.model != nil || ModelOptions.defaultModelPath() != nil ? try modelOptions.load() : nil
        let report: RepairReport
        do {
            report = try Repairer(options: options).run(model: model) { line in
                FileHandle.standardError.write(Data("\(line)\n".utf8))
            }
            if let apply { try Repairer.apply(apply, of: report) }
        } catch RepairError.cancelled {
            throw CLIFailure(message: "repair: interrupted; no file was changed", status: 130)
        } catch let failure as RepairError {
            throw CLIFailure(message: failure.description, status: 2)
        }
        if json {
            print(try JSON.pretty(report))
        } else {
            print(report.summary)
        }
        if let apply {
            FileHandle.standardError.write(Data("repair: applied patch \(apply) to \(file)\n".utf8))
        }
        if report.plausibleCount == 0 && apply == nil { throw ExitCode(1) }
    }
}
