import Foundation
import XCTest
@testable import Assist

/// Runs transforms the way `moecoder augment` does (with the python3 compile check when python3 exists), at rate 1
/// so every eligible site changes, with predictable new names (`<old>_r`).
enum AugmentHarness {
    /// Whether python3 runs here (each call starts its own checker: tests may run concurrently).
    static let hasPython: Bool = CompileChecker() != nil

    static func apply(_ name: String, _ source: String, seed: UInt64 = 0, rate: Double = 1,
                      file: StaticString = #filePath, line: UInt = #line) throws -> String {
        guard let transform = PythonTransforms.named(name) else { throw XCTSkip("no transform \(name)") }
        let checker = hasPython ? CompileChecker() : nil
        defer { checker?.close() }
        let augmenter = try Augmenter(checker: checker)
        let options = AugmentOptions(transforms: [transform], randomSubset: false, rate: rate, seed: seed,
                                     namer: { original, _ in "\(original)_r" })
        let result = try augmenter.augment(Array(source.utf8), key: "test.py", copy: 1, options: options)
        for skipped in result.skipped where skipped.reason.contains("dropped") {
            XCTFail("\(name): a result failed its check: \(skipped.reason)", file: file, line: line)
        }
        return result.text
    }

    /// Runs a program with python3 and returns its standard output (and error), or skips without python3.
    static func run(_ program: String) throws -> String {
        guard hasPython else { throw XCTSkip("python3 is not available") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [ProcessInfo.processInfo.environment["MOECODER_PYTHON"] ?? "python3", "-I", "-c", program]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// Applies the transform and checks that the program prints the same before and after; returns the result.
    @discardableResult
    static func sameBehaviour(_ name: String, _ program: String, seed: UInt64 = 0, rate: Double = 1,
                              file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let transformed = try apply(name, program, seed: seed, rate: rate, file: file, line: line)
        let before = try run(program), after = try run(transformed)
        XCTAssertFalse(before.contains("Traceback"), "the test program itself fails:\n\(before)", file: file, line: line)
        XCTAssertEqual(before, after, "\(name) changed the behaviour:\n\(transformed)", file: file, line: line)
        return transformed
    }
}
