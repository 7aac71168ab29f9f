import Foundation
import Testing

/// `moecoder serve` with real clients, against the built binary: the pytest suite in tests/serve (the openai
/// package, curl's SSE, llama.vim's /infill, API keys, disconnects, bad input, a full queue, SIGTERM). It needs
/// what scripts/setup installs (openai and pytest from scripts/requirements-test.txt); a missing one fails the test.
@Suite(.serialized) struct ServeEndToEndTests {
    @Test func pytestServeSuitePasses() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-m", "pytest", "tests/serve", "-q", "-p", "no:cacheprovider"]
        process.currentDirectoryURL = CLI.packageRoot
        var environment = ProcessInfo.processInfo.environment
        environment["MOECODER_BIN"] = CLI.binary
        environment["MOECODER_ROOT"] = CLI.packageRoot.path
        process.environment = environment
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("moecoder-serve-e2e-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try handle.close()
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        #expect(process.terminationStatus == 0, "tests/serve failed (install with scripts/setup):\n\(text.suffix(6000))")
    }
}
