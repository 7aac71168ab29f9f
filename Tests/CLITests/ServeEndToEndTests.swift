import Foundation
import Testing

/// `moecoder serve` with real clients, against the built binary: the pytest suite in tests/serve (the openai
/// package, curl's SSE, llama.vim's /infill, API keys, disconnects, bad input, a full queue, SIGTERM). It needs
/// what scripts/setup installs (openai and pytest from scripts/requirements-test.txt); a missing one fails the test.
@Suite(.serialized) struct ServeEndToEndTests {
    @Test func pytestServeSuitePasses() throws {
        let result = try CLI.runInPackageRoot(["python3", "-m", "pytest", "tests/serve", "-q", "-p", "no:cacheprovider"])
        let text = result.stdout
        #expect(result.status == 0, "tests/serve failed (install with scripts/setup):\n\(text.suffix(6000))")
    }
}
