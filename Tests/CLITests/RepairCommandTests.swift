import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `moecoder repair` as a user runs it: files untouched without --apply, no temporary files left behind,
/// --apply writes the chosen patch, clear errors with exit status 2.
@Suite struct RepairCommandTests {
    static let buggy = "def largest(values):\n    best = values[0]\n    for v in values:\n        if v < best:\n            best = v\n    return best\n"
    static let tests = "from extremes import largest\n\ndef test_largest():\n    assert largest([1, 9, 4]) == 9\n\ndef test_one():\n    assert largest([5]) == 5\n"

    /// Runs moecoder with a private, empty TMPDIR (tests run in parallel) and returns what it left there.
    static func runWithPrivateTemp(_ arguments: [String]) throws -> (CLI.Result, [String]) {
        let temp = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: temp) }
        let result = try CLI.run("/usr/bin/env", ["TMPDIR=\(temp.path)", CLI.binary] + arguments)
        return (result, try FileManager.default.contentsOfDirectory(atPath: temp.path))
    }

    @Test func reportsPatchesWithoutTouchingFilesOrLeavingTemporaryFiles() throws {
        let dir = try CLI.scratch(["extremes.py": Self.buggy, "test_extremes.py": Self.tests])
        defer { try? FileManager.default.removeItem(at: dir) }
        let listing = Set(try FileManager.default.contentsOfDirectory(atPath: dir.path))
        let (result, left) = try Self.runWithPrivateTemp(["repair", dir.appendingPathComponent("extremes.py").path, "--json",
                                                          "--budget", "30"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let patches = try #require(report["patches"] as? [[String: Any]])
        #expect(patches.first?["status"] as? String == "plausible")
        #expect((patches.first?["diff"] as? String)?.contains("+        if v > best:") == true)
        #expect(try String(contentsOf: dir.appendingPathComponent("extremes.py"), encoding: .utf8) == Self.buggy)
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)) == listing)
        #expect(left.isEmpty, "left behind: \(left)")
    }

    @Test func applyWritesTheChosenPatch() throws {
        let dir = try CLI.scratch(["extremes.py": Self.buggy, "test_extremes.py": Self.tests])
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try CLI.moecoder(["repair", dir.appendingPathComponent("extremes.py").path, "--test",
                                       dir.appendingPathComponent("test_extremes.py").path, "--apply", "1", "--budget", "30"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("applied patch 1"))
        let fixed = try String(contentsOf: dir.appendingPathComponent("extremes.py"), encoding: .utf8)
        #expect(fixed.contains("if v > best:"))
    }

    @Test func syntaxRepairWithoutTestsLeavesTheFileAlone() throws {
        let broken = "def total(xs)\n    return sum(xs)\n"
        let dir = try CLI.scratch(["broken.py": broken])
        defer { try? FileManager.default.removeItem(at: dir) }
        let (result, left) = try Self.runWithPrivateTemp(["repair", dir.appendingPathComponent("broken.py").path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("#1 [plausible] add the missing ':'"))
        #expect(try String(contentsOf: dir.appendingPathComponent("broken.py"), encoding: .utf8) == broken)
        #expect(left.isEmpty, "left behind: \(left)")
    }

    @Test func clearErrors() throws {
        let missing = try CLI.moecoder(["repair", "/nonexistent/x.py"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("cannot read"))
        let dir = try CLI.scratch(["a.js": "let x = 1\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let notPython = try CLI.moecoder(["repair", dir.appendingPathComponent("a.js").path])
        #expect(notPython.status == 2)
        #expect(notPython.stderr.contains("not a Python file"))
        let both = try CLI.moecoder(["repair", "x.py", "--test", "t.py", "--cmd", "pytest"])
        #expect(both.status == 2)
    }

    // MARK: --cmd and process hygiene

    /// Every live process whose environment mentions `marker` (the private TMPDIR of one run): what outlived it.
    static func processes(mentioning marker: String) -> [String] {
        let me = ProcessInfo.processInfo.processIdentifier
        var found: [String] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(name), pid != me,
                  let environ = FileManager.default.contents(atPath: "/proc/\(name)/environ"),
                  String(decoding: environ, as: UTF8.self).contains(marker) else { continue }
            let state = (try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8)) ?? ""
            if state.contains(") Z ") { continue }  // a zombie holds nothing; its parent has not reaped it yet
            let command = FileManager.default.contents(atPath: "/proc/\(name)/cmdline")
                .map { String(decoding: $0, as: UTF8.self).replacingOccurrences(of: "\0", with: " ") } ?? ""
            found.append("\(name): \(command)")
        }
        return found
    }

    /// Runs moecoder in `cwd` with a private TMPDIR; `interruptAfter` sends SIGINT that many seconds in.
    static func runAndCheckHygiene(_ arguments: [String], cwd: URL, interruptAfter: Double? = nil) throws
        -> (status: Int32, stdout: String, leftProcesses: [String], leftFiles: [String]) {
        let temp = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: temp) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = arguments
        process.currentDirectoryURL = cwd
        process.environment = ProcessInfo.processInfo.environment.merging(["TMPDIR": temp.path]) { $1 }
        let output = temp.deletingLastPathComponent().appendingPathComponent("out-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        if let interruptAfter {
            Thread.sleep(forTimeInterval: interruptAfter)
            kill(process.processIdentifier, SIGINT)
        }
        process.waitUntilExit()
        try handle.close()
        Thread.sleep(forTimeInterval: 0.5)  // children killed by the kernel after their parent need a moment
        let left = processes(mentioning: temp.path)
        let files = (try? FileManager.default.contentsOfDirectory(atPath: temp.path)) ?? []
        let stdout = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        return (process.terminationStatus, stdout, left, files)
    }

    @Test func cmdPytestIsRunInProcessAndRepairs() throws {
        let dir = try CLI.scratch(["extremes.py": Self.buggy, "test_extremes.py": Self.tests])
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try Self.runAndCheckHygiene(["repair", "extremes.py", "--cmd", "pytest -q -x test_extremes.py",
                                               "--json", "--budget", "30"], cwd: dir)
        #expect(run.status == 0)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let patches = try #require(report["patches"] as? [[String: Any]])
        #expect(patches.first?["status"] as? String == "plausible")
        // Traced in-process: the suspicious lines come from coverage, not "every line".
        let suspicious = try #require(report["suspicious"] as? [[String: Any]])
        #expect((suspicious.first?["evidence"] as? [String])?.contains("ochiai") == true)
        #expect((report["tried"] as? Int ?? 0) >= 1)
        #expect(run.leftProcesses.isEmpty, "outlived the command: \(run.leftProcesses)")
        #expect(run.leftFiles.isEmpty, "left behind: \(run.leftFiles)")
    }

    static let hanging = """
        import os, subprocess, time
        from extremes import largest

        def test_largest():
            assert largest([1, 9, 4]) == 9

        def test_forks():
            try:
                subprocess.Popen(["sleep", "1000"])
                os.fork() or time.sleep(1000)
            except Exception:
                pass

        def test_sleeps_forever():
            time.sleep(100000)

        """

    @Test func noTestProcessOutlivesTheCommand() throws {
        let dir = try CLI.scratch(["extremes.py": Self.buggy, "test_extremes.py": Self.hanging])
        defer { try? FileManager.default.removeItem(at: dir) }
        // In-process pytest (sandboxed: the fork is refused) and the same through the shell (it forks).
        for command in ["pytest -q test_extremes.py", "python3 -m pytest -q test_extremes.py | cat"] {
            let run = try Self.runAndCheckHygiene(["repair", "extremes.py", "--cmd", command, "--json", "--budget", "8"],
                                                  cwd: dir)
            #expect(run.status != 0 || !run.stdout.isEmpty)
            #expect(run.leftProcesses.isEmpty, "\(command): outlived the command: \(run.leftProcesses)")
            #expect(run.leftFiles.isEmpty, "\(command): left behind: \(run.leftFiles)")
        }
        #expect(try String(contentsOf: dir.appendingPathComponent("extremes.py"), encoding: .utf8) == Self.buggy)
    }

    @Test func ctrlCStopsEverything() throws {
        let dir = try CLI.scratch(["extremes.py": Self.buggy, "test_extremes.py": Self.hanging])
        defer { try? FileManager.default.removeItem(at: dir) }
        for command in ["pytest -q test_extremes.py", "python3 -m pytest -q test_extremes.py | cat"] {
            let started = Date()
            let run = try Self.runAndCheckHygiene(["repair", "extremes.py", "--cmd", command, "--budget", "60"], cwd: dir,
                                                  interruptAfter: 4)
            #expect(run.status == 130)
            #expect(Date().timeIntervalSince(started) < 20)
            #expect(run.leftProcesses.isEmpty, "\(command): outlived Ctrl-C: \(run.leftProcesses)")
            #expect(run.leftFiles.isEmpty, "\(command): left behind: \(run.leftFiles)")
        }
    }
}
