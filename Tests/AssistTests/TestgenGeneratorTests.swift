@testable import Assist
import Foundation
import Testing

/// End to end on the shipped examples: planted bugs show up as findings, and the written file passes pytest.
@Suite struct TestgenGeneratorTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/testgen")

    /// Runs testgen on a copy of an example module (so nothing is written into the checkout).
    func generate(_ name: String, budget: Double = 2) throws -> (TestgenReport, URL) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tg-gen-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let module = folder.appendingPathComponent("\(name).py")
        try FileManager.default.copyItem(at: Self.examples.appendingPathComponent("\(name).py"), to: module)
        var options = TestGenerator.Options(modulePath: module.path)
        options.budget = budget
        options.seed = 7
        options.callTimeout = 0.3
        options.overrun = 120  // pytest's start can take many seconds on a loaded CI machine
        return (try TestGenerator(options: options).run(), folder)
    }

    @Test func functionsThatReturnFunctionsAreCalled() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tg-chain-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let module = folder.appendingPathComponent("deco.py")
        try """
            def repeat(times=2):
                def decorate(function):
                    def wrapper(value):
                        result = value
                        for _ in range(times):
                            result = function(result)
                        return result
                    return wrapper
                return decorate
            """.write(to: module, atomically: true, encoding: .utf8)
        var options = TestGenerator.Options(modulePath: module.path)
        options.budget = 3
        options.seed = 7
        options.callTimeout = 0.3
        options.overrun = 120
        let report = try TestGenerator(options: options).run()
        #expect(report.verification.passed)
        let text = try String(contentsOfFile: report.testFile, encoding: .utf8)
        // The factory's result is called with a function, and what that returns with a value.
        #expect(text.contains("fn1 = deco.repeat("), "\(text)")
        #expect(text.contains("fn2 = fn1("), "\(text)")
        if let coverage = report.coverage { #expect(coverage.linePercent == 100) }
    }

    /// Runs testgen on `source` written as `name.py` in a fresh folder; the folder is returned for cleanup.
    func generate(source: String, name: String, budget: Double) throws -> (TestgenReport, URL) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tg-src-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let module = folder.appendingPathComponent("\(name).py")
        try source.write(to: module, atomically: true, encoding: .utf8)
        var options = TestGenerator.Options(modulePath: module.path)
        options.budget = budget
        options.seed = 7
        options.callTimeout = 0.3
        options.overrun = 120
        return (try TestGenerator(options: options).run(), folder)
    }

    /// A `main(argv)` entry point: argument vectors built from its `add_argument` calls reach the option values
    /// it branches on (a choice, a positional), its usage error (`SystemExit`) is asserted, and writing bytes to
    /// `sys.stdout.buffer` works during the search as it does under pytest.
    @Test func commandLineEntryPointsGetArgumentVectors() throws {
        let (report, folder) = try generate(source: """
            import argparse
            import sys


            def main(argv):
                parser = argparse.ArgumentParser()
                parser.add_argument("-m", "--mode", choices=("plain", "binary"), default="plain")
                parser.add_argument("-n", "--count", type=int, default=1)
                parser.add_argument("name", nargs="?")
                options = parser.parse_args(argv[1:])
                if options.name is None:
                    parser.error("a name is required")
                text = options.name * options.count
                if options.mode == "binary":
                    sys.stdout.buffer.write(text.encode())
                    return 2
                sys.stdout.write(text)
                return 1
            """, name: "cli", budget: 4)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(report.verification.passed)
        let text = try String(contentsOfFile: report.testFile, encoding: .utf8)
        #expect(text.contains("pytest.raises(SystemExit"), "\(text)")
        #expect(text.contains("'binary'") || text.contains("--mode=binary"), "\(text)")
        if let coverage = report.coverage { #expect(coverage.linePercent == 100, "\(text)") }
    }

    /// A format only the module writes (a magic, a CRC-32 of the body): what `encode` returns is an argument of
    /// `decode`, which then gets past its checks. Neither mutation nor the comparison log forges the checksum.
    @Test func producedValuesBecomeInputs() throws {
        let (report, folder) = try generate(source: """
            import zlib

            MAGIC = b'FR'


            def encode(items: list) -> bytes:
                body = ','.join(str(item) for item in items).encode()
                return MAGIC + zlib.crc32(body).to_bytes(4, 'big') + body


            def decode(blob: bytes) -> list:
                if not blob.startswith(MAGIC):
                    raise ValueError('not a frame')
                check, body = int.from_bytes(blob[2:6], 'big'), blob[6:]
                if zlib.crc32(body) != check:
                    raise ValueError('bad checksum')
                if not body:
                    return []
                return [int(part) for part in body.split(b',')]
            """, name: "framing", budget: 3)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(report.verification.passed)
        let text = try String(contentsOfFile: report.testFile, encoding: .utf8)
        #expect(text.contains("framing.decode(b'FR"), "\(text)")
        if let coverage = report.coverage { #expect(coverage.linePercent == 100, "\(text)") }
    }

    /// Four setters must all have run before `write` gets past its checks: the setters that worked alone are
    /// called together, in definition order, before other methods (a random sequence holds at most three calls).
    @Test func settersThatWorkRunTogetherBeforeOtherMethods() throws {
        let (report, folder) = try generate(source: """
            class Recorder:
                def __init__(self, out):
                    self.out = out
                    self.rate = self.width = self.channels = self.name = None

                def setrate(self, rate: int):
                    if rate <= 0:
                        raise ValueError('bad rate')
                    self.rate = rate

                def setwidth(self, width: int):
                    if width not in (1, 2, 4):
                        raise ValueError('bad width')
                    self.width = width

                def setchannels(self, channels: int):
                    if channels < 1:
                        raise ValueError('bad channels')
                    self.channels = channels

                def setname(self, name: str):
                    self.name = name

                def write(self, data: bytes):
                    if self.rate is None or self.width is None:
                        raise RuntimeError('rate and width first')
                    if self.channels is None or self.name is None:
                        raise RuntimeError('channels and name first')
                    self.out.append((self.name, data))
                    return len(data) // (self.width * self.channels)
            """, name: "recorder", budget: 3)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(report.verification.passed)
        let text = try String(contentsOfFile: report.testFile, encoding: .utf8)
        if let coverage = report.coverage { #expect(coverage.linePercent == 100, "\(text)") }
        #expect(Explorer.isSetter("Recorder.setrate") && Explorer.isSetter("set_debug"))
        #expect(!Explorer.isSetter("setdefault") && !Explorer.isSetter("settings") && !Explorer.isSetter("set"))
    }

    /// Classes named like keywords (`Class`, `Import`: pyclbr has both) get instances named `class_obj`,
    /// `import_obj`, never `class = …`: the written file compiles and passes.
    @Test func instancesOfKeywordNamedClassesGetValidNames() throws {
        let (report, folder) = try generate(source: """
            class Class:
                def __init__(self, name):
                    self.name = name

                def upper(self):
                    return self.name.upper()


            class Import(Class):
                def lower(self):
                    return self.name.lower()
            """, name: "kw", budget: 3)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(report.verification.passed)
        let text = try String(contentsOfFile: report.testFile, encoding: .utf8)
        #expect(!text.contains("class = ") && !text.contains("import = "), "\(text)")
        #expect(text.contains("class_obj") || text.contains("import_obj"), "\(text)")
    }

    /// An exception the module does not raise itself (here `int()` of a non-number) is a finding and, when it
    /// reaches lines nothing else does, also a test that asserts it.
    @Test func unintendedExceptionsOnNewPathsBecomeTests() throws {
        let (report, folder) = try generate(source: """
            def double(text):
                try:
                    number = int(text)
                except TypeError:
                    return None
                return number * 2
            """, name: "conv", budget: 3)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(report.verification.passed)
        let text = try String(contentsOfFile: report.testFile, encoding: .utf8)
        #expect(text.contains("pytest.raises(ValueError"), "\(text)")
        #expect(report.findings.contains { $0.function == "double" && $0.kind == "ValueError" })
    }

    /// The sandbox's own refusals (a process start stopped by its audit hook) are findings, never tests: outside
    /// the sandbox the call would start the process.
    @Test func sandboxRefusalsAreNoTests() throws {
        let (report, folder) = try generate(source: """
            import subprocess

            def run(command):
                if command:
                    return subprocess.run(["sh", "-c", "exit 0"]).returncode
                return -1
            """, name: "runner", budget: 3)
        defer { try? FileManager.default.removeItem(at: folder) }
        let text = try String(contentsOfFile: report.testFile, encoding: .utf8)
        #expect(!text.contains("testgen sandbox"), "\(text)")
        // Such a test fails outside the sandbox (the process starts): written, verification would drop it.
        #expect(!report.verification.dropped.contains { $0.contains("permission_error") }, "\(report.verification.dropped)")
    }

    /// A module that imports a compiled accelerator over its Python definitions (`from _bisect import
    /// bisect_left` in a `try` with an ImportError fallback) is searched and tested with that accelerator
    /// blocked, so the Python function is what the tests run and cover; an optional dependency imported as a
    /// module (`import _socket as optional`, `None` as the fallback) is not blocked.
    @Test func acceleratedModulesAreTestedWithTheirAcceleratorBlocked() throws {
        let (report, folder) = try generate(source: """
            def bisect_left(a, x, lo=0, hi=None):
                if lo < 0:
                    raise ValueError('lo must be non-negative')
                if hi is None:
                    hi = len(a)
                while lo < hi:
                    mid = (lo + hi) // 2
                    if a[mid] < x:
                        lo = mid + 1
                    else:
                        hi = mid
                return lo


            try:
                import _socket as optional
            except ImportError:
                optional = None

            try:
                from _bisect import bisect_left
            except ImportError:
                pass
            """, name: "fastsearch", budget: 4)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(report.verification.passed)
        let text = try String(contentsOfFile: report.testFile, encoding: .utf8)
        #expect(text.contains("for name in ('_bisect',)}"), "\(text)")
        #expect(!text.contains("'_socket'"), "\(text)")
        // With `_bisect` imported the function's body would not run at all (8 of 19 statements: the module's
        // own lines); blocked, all but the untaken fallbacks (`optional = None`, `pass`).
        if let coverage = report.coverage { #expect(coverage.linePercent > 80, "\(text)") }
    }

    /// A call that outlives the time limit inside a bare `except:` (timeit's `main` around its timing loop)
    /// returns what its handler returns during the search, not what it returns given time: a hang, never a test
    /// asserting the handler's value.
    @Test func swallowedTimeLimitsAreHangsNotTests() throws {
        let (report, folder) = try generate(source: """
            import time


            def spin(seconds):
                try:
                    start = time.perf_counter()
                    while time.perf_counter() - start < abs(seconds) % 4 + 2:
                        pass
                    return 'done'
                except:
                    return 'interrupted'


            def double(x):
                return 2 * x
            """, name: "spinner", budget: 3)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(report.verification.passed)
        let text = try String(contentsOfFile: report.testFile, encoding: .utf8)
        #expect(!text.contains("'interrupted'"), "\(text)")
        #expect(report.findings.contains { $0.function == "spin" })
    }

    @Test func plantedBugsInStatsAreFound() throws {
        let (report, folder) = try generate("stats")
        defer { try? FileManager.default.removeItem(at: folder) }
        let bugs = report.findings.filter(\.fitsHints)
        #expect(bugs.contains { $0.function == "mean" && $0.kind == "ZeroDivisionError" && $0.reproduction == "stats.mean([])" })
        #expect(bugs.contains { $0.function == "median" && $0.kind == "IndexError" })
        #expect(bugs.contains { $0.function == "normalize" && $0.kind == "ZeroDivisionError" })
        // Deliberate validation (`raise ValueError`) is behaviour, not a finding.
        #expect(!report.findings.contains { $0.kind == "ValueError" && $0.function == "percentile" && $0.fitsHints })
    }

    @Test func recursionAndHangsAreFindings() throws {
        let (report, folder) = try generate("recursion_utils")
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(report.findings.contains { $0.function == "factorial" && $0.kind == "RecursionError" })
        #expect(report.findings.contains { $0.function == "collatz_steps" && $0.kind == "timeout" })
    }

    @Test func writtenFilePassesPytestAndCoversTheModule() throws {
        let (report, folder) = try generate("bank_account")
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(report.verification.passed)
        #expect(report.tests.count >= 5)
        let text = try String(contentsOfFile: report.testFile, encoding: .utf8)
        #expect(text.contains("pytest.raises(bank_account.InsufficientFunds"))
        #expect(report.findings.contains { $0.function == "Account.average_transaction" && $0.kind == "ZeroDivisionError" })
        if let coverage = report.coverage { #expect(coverage.linePercent >= 80) }
        // Plain pytest, run again from outside testgen, from the module's folder.
        let run = PytestVerifier.execute(["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", report.testFile],
                                         in: folder.path, timeout: 120)
        #expect(run.status == 0, "\(run.output)")
    }
}
