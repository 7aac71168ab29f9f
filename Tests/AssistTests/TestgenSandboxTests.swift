@testable import Assist
import Foundation
import Testing

/// The sandboxed worker contains what user code does: hangs, fork bombs, writes elsewhere, huge allocations.
@Suite struct TestgenSandboxTests {
    static let module = """
        import os, re, signal, time

        _PAIR = re.compile(r'(?P<key>[a-z]+)=(?P<value>[0-9]{2})')

        def shaped(text, items):
            if len(text) == 5 and text.startswith('ab'):
                return 'shaped'
            return len(items) > 3

        def spin():
            while True:
                pass

        def fork_bomb():
            while True:
                os.fork()

        def spawn():
            import subprocess
            return subprocess.run(["true"])

        def write_outside(path):
            with open(path, "w") as f:
                f.write("escaped")

        def write_inside():
            with open("scratch.txt", "w") as f:
                f.write("ok")
            return open("scratch.txt").read()

        def allocate():
            return bytearray(8 * 1024 ** 3)

        def connect():
            import socket
            socket.create_connection(("127.0.0.1", 9), timeout=1)

        def deaf_hang():
            signal.signal(signal.SIGALRM, signal.SIG_IGN)
            while True:
                pass

        def add(a, b):
            return a + b

        def kind(x):
            if isinstance(x, int):
                return 'int'
            if isinstance(x, (bytes, list)):
                return 'bytes or list'
            return 'other'

        def address():
            return repr(object())[-9:]

        def program():
            import sys
            return sys.argv[0]

        def stamped(text, fmt='%Y'):
            # A pattern built at run time from an argument: not among the patterns listed at import.
            found = re.compile(fmt.replace('%Y', '(?P<year>[0-9]{4})')).match(text)
            if found is None:
                return 'no'
            return int(found.group('year'))

        def gate(word, n=0):
            if word == 'open' + 'sesame':
                return 'in'
            if n > 41:
                return 'big'
            return 'out'
        """

    func withWorker(_ body: (SandboxWorker, URL) throws -> Void) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tg-sandbox-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("risky.py")
        try Self.module.write(to: path, atomically: true, encoding: .utf8)
        var configuration = SandboxWorker.Configuration()
        configuration.memoryMB = 512
        let worker = try SandboxWorker(modulePath: path.path, workDirectory: folder.appendingPathComponent("work").path,
                                       configuration: configuration)
        defer { worker.stop() }
        try body(worker, folder)
    }

    func call(_ worker: SandboxWorker, _ expr: String, timeout: Double = 0.5) -> CaseResult {
        worker.run(TestCase(target: "t", steps: [TestStep(expr)], origin: "test"), timeout: timeout)
    }

    @Test func infiniteLoopTimesOutAndTheWorkerGoesOn() throws {
        try withWorker { worker, _ in
            let start = Date()
            #expect(call(worker, "risky.spin()", timeout: 0.3).steps.first?.timeout == true)
            #expect(Date().timeIntervalSince(start) < 3)
            #expect(call(worker, "risky.add(1, 2)").steps.first?.value?.repr == "3")
        }
    }

    @Test func processCreationIsRefused() throws {
        try withWorker { worker, _ in
            for expr in ["risky.fork_bomb()", "risky.spawn()"] {
                let raised = try #require(call(worker, expr).finalError)
                #expect(raised.expressible == "PermissionError")
                #expect(raised.message.contains("starting processes is not allowed"))
            }
            #expect(worker.restarts == 0)
        }
    }

    @Test func writesOutsideTheWorkFolderAreRefused() throws {
        try withWorker { worker, folder in
            let target = folder.appendingPathComponent("escaped.txt").path
            let raised = try #require(call(worker, "risky.write_outside(\(pythonString(target)))").finalError)
            #expect(raised.message.contains("outside the work folder"))
            #expect(!FileManager.default.fileExists(atPath: target))
            #expect(call(worker, "risky.write_inside()").steps.first?.value?.repr == "'ok'")
        }
    }

    @Test func hugeAllocationIsAMemoryError() throws {
        try withWorker { worker, _ in
            #expect(call(worker, "risky.allocate()").finalError?.type == "MemoryError")
            #expect(call(worker, "risky.add('a', 'b')").steps.first?.value?.repr == "'ab'")
        }
    }

    @Test func networkIsRefused() throws {
        try withWorker { worker, _ in
            let raised = try #require(call(worker, "risky.connect()").finalError)
            #expect(raised.type == "SandboxViolation" || raised.expressible == "OSError"
                    || raised.expressible == "PermissionError")
        }
    }

    @Test func aHangThatIgnoresTheAlarmIsKilledAndReported() throws {
        try withWorker { worker, _ in
            let result = call(worker, "risky.deaf_hang()", timeout: 0.2)
            #expect(result.crashed == "hang")
            #expect(worker.restarts == 1)
            #expect(call(worker, "risky.add(2, 2)").steps.first?.value?.repr == "4")
        }
    }

    @Test func comparisonsAreLoggedForTheSearch() throws {
        try withWorker { worker, _ in
            let result = call(worker, "risky.gate('hello', 5)")
            #expect(result.steps.first?.value?.repr == "'out'")
            let pairs = try #require(result.cmps)
            // The value computed at run time, and the neighbours of the integer bound.
            #expect(pairs.contains(["'hello'", "'opensesame'"]))
            #expect(pairs.contains(["5", "42"]))
            #expect(pairs.contains(["5", "41"]))
            // Reported once: the same comparisons again add nothing.
            #expect(call(worker, "risky.gate('hello', 5)").cmps == nil)
            #expect(call(worker, "risky.gate('opensesame')").steps.first?.value?.repr == "'in'")
        }
    }

    @Test func isinstanceChecksAskForTheTypeTheyTest() throws {
        try withWorker { worker, _ in
            let pairs = try #require(call(worker, "risky.kind('12')").cmps)
            // The value converted to the type the check wanted (keeping what it can), for each false check.
            #expect(pairs.contains(["'12'", "12"]))
            #expect(pairs.contains(["'12'", "b'12'"]))
            #expect(call(worker, "risky.kind(12)").steps.first?.value?.repr == "'int'")
        }
    }

    @Test func replaysShowAddressesThatDifferFromPassToPass() throws {
        try withWorker { worker, _ in
            // In one process the allocator hands out the same addresses again; the replay moves them, so a value
            // that shows an address (cut to its last digits here) differs between passes and is not asserted.
            let testCase = TestCase(target: "address", steps: [TestStep("risky.address()")], origin: "test")
            let passes = try #require(worker.replay(cases: [testCase, testCase], passes: 2, timeout: 0.5, seconds: 5))
            let values = passes.flatMap { $0.map { $0?.steps.first?.value?.repr } }
            #expect(values.count == 4 && values.allSatisfy { $0 != nil })
            #expect(values[0] != values[2] || values[1] != values[3])
            // The command line (a parser's defaults) differs between passes too: pytest's is not the worker's.
            let program = TestCase(target: "program", steps: [TestStep("risky.program()")], origin: "test")
            let again = try #require(worker.replay(cases: [program], passes: 2, timeout: 0.5, seconds: 5))
            #expect(again[0][0]?.steps.first?.value?.repr != again[1][0]?.steps.first?.value?.repr)
        }
    }

    @Test func regexStringsAndLengthAndPrefixFeedback() throws {
        try withWorker { worker, _ in
            // Strings the module's compiled pattern matches, and near misses.
            let matching = worker.regexStrings.compactMap(ValueMutator.stringContent)
            #expect(matching.contains { $0.range(of: "^[a-z]+=[0-9]{2}$", options: .regularExpression) != nil })
            #expect(matching.contains { $0.range(of: "^[a-z]+=[0-9]?$", options: .regularExpression) != nil })
            // `len(text) == 5`: the argument resized; `text.startswith('ab')`: the prefix added.
            let pairs = try #require(call(worker, "risky.shaped('xyz', [1])").cmps)
            #expect(pairs.contains(["'xyz'", "'xyzzz'"]))
            #expect(pairs.contains(["[1]", "[1, 1, 1, 1]"]))
            let again = try #require(call(worker, "risky.shaped('xyzzz', [1])").cmps)
            #expect(again.contains(["'xyzzz'", "'abxyzzz'"]))
            #expect(call(worker, "risky.shaped('abxyz', [])").steps.first?.value?.repr == "'shaped'")
        }
    }

    @Test func failedMatchesOfRunTimePatternsAskForStringsTheyMatch() throws {
        try withWorker { worker, _ in
            let pairs = try #require(call(worker, "risky.stamped('hello')").cmps)
            let wanted = pairs.filter { $0.first == "'hello'" }.map { $0[1] }
            #expect(!wanted.isEmpty)
            let year = try #require(wanted.first { $0.range(of: "^'[0-9]{4}", options: .regularExpression) != nil })
            #expect(call(worker, "risky.stamped(\(year))").steps.first?.value?.kind == "eq")
            #expect(call(worker, "risky.stamped(\(year))").steps.first?.value?.repr != "'no'")
        }
    }

    @Test func standardInputIsEmptyNotTheRequestPipe() throws {
        try withWorker { worker, _ in
            // `input()` in the middle of a batch reads EOF, not the requests that follow it.
            let cases = ["input()", "risky.add(1, 2)", "risky.add(3, 4)"].map {
                (TestCase(target: "t", steps: [TestStep($0)], origin: "test"), 0.5)
            }
            let results = worker.runBatch(cases)
            #expect(results[0]?.finalError?.expressible == "EOFError")
            #expect(results[1]?.steps.first?.value?.repr == "3")
            #expect(results[2]?.steps.first?.value?.repr == "7")
            #expect(worker.restarts == 0)
        }
    }

    @Test func aStepThatIsNotPythonRunsNothing() throws {
        try withWorker { worker, _ in
            let result = call(worker, "risky.add(1, ")
            #expect(result.invalid != nil)
            #expect(result.steps.isEmpty && result.arcs.isEmpty)
        }
    }

    @Test func batchesArePipelinedAndStopAtAHang() throws {
        try withWorker { worker, _ in
            let cases = ["risky.add(1, 2)", "risky.add('a', 'b')", "risky.deaf_hang()", "risky.add(3, 4)"].map {
                (TestCase(target: "t", steps: [TestStep($0)], origin: "test"), 0.2)
            }
            let results = worker.runBatch(cases)
            #expect(results.count == 4)
            #expect(results[0]?.steps.first?.value?.repr == "3")
            #expect(results[1]?.steps.first?.value?.repr == "'ab'")
            #expect(results[2]?.crashed == "hang")
            #expect(results[3] == nil)  // not run: the worker was restarted
            #expect(worker.restarts == 1)
            let again = worker.runBatch(Array(cases[3...]) + Array(cases[0...0]))
            #expect(again.map { $0?.steps.first?.value?.repr } == ["7", "3"])
        }
    }

    @Test func importErrorsAreReported() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tg-import-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("broken.py")
        try "import no_such_module_here\n".write(to: path, atomically: true, encoding: .utf8)
        #expect {
            _ = try SandboxWorker(modulePath: path.path, workDirectory: folder.appendingPathComponent("w").path)
        } throws: { error in
            guard case TestgenError.importFailed(let message) = error else { return false }
            return message.contains("ModuleNotFoundError")
        }
    }
}
