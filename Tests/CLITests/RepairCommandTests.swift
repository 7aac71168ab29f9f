import Foundation
import Testing

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
}
