import Foundation
import Testing

/// `moecoder lsp` with real clients, against the built binary: the pytest-lsp suite in tests/lsp and a
/// headless Neovim that attaches the server through examples/editors/neovim. Both need what scripts/setup
/// installs (pytest-lsp from scripts/requirements-test.txt, Debian's neovim); a missing one fails the test.
@Suite(.serialized) struct LSPEndToEndTests {
    static let model = CLI.packageRoot.appendingPathComponent("Tests/Fixtures/models/mixtral.gguf").path

    /// Runs a program in the package root with the binary and the fixture model in its environment.
    func run(_ arguments: [String]) throws -> CLI.Result {
        try CLI.runInPackageRoot(arguments, environment: ["MOECODER_LSP_MODEL": Self.model])
    }

    @Test func pytestLSPSuitePasses() throws {
        let result = try run(["python3", "-m", "pytest", "tests/lsp", "-q", "-p", "no:cacheprovider"])
        #expect(result.status == 0, "tests/lsp failed (install with scripts/setup):\n\(result.stdout.suffix(6000))")
    }

    @Test func headlessNeovimGetsACompletion() throws {
        let result = try run(["nvim", "--headless", "--clean", "-c", "luafile tests/lsp/neovim_completion.lua"])
        #expect(result.status == 0, "neovim (Debian's neovim package, installed by scripts/setup):\n\(result.stdout.suffix(4000))")
        #expect(result.stdout.contains("NVIM-LSP-OK"))
    }
}
