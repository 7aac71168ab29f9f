import Foundation
import Testing

/// `moecoder chat` with the shipped default model (models/default.gguf), user turns piped in line by line.
@Suite struct ChatCommandTests {
    /// The per-turn summaries on standard error: (turn, prompt tokens).
    func turns(_ stderr: String) -> [(turn: Int, promptTokens: Int)] {
        stderr.split(separator: "\n").compactMap { line in
            guard let range = line.range(of: "turn ") else { return nil }
            let words = line[range.upperBound...].split(separator: " ")
            guard words.count > 1, let turn = Int(words[0].dropLast()), let prompt = Int(words[1]) else { return nil }
            return (turn, prompt)
        }
    }

    @Test func answersEachPipedTurnKeepingHistoryAndExits() throws {
        let result = try CLI.moecoder(["chat", "--max-tokens", "12", "--system", "You write Python."],
                                      input: "def add(a, b):\nNow write a test for it.\n",
                                      environment: ["MOECODER_HOME": CLI.packageRoot.path])
        #expect(result.status == 0, "\(result.stderr)")
        let summaries = turns(result.stderr)
        #expect(summaries.map(\.turn) == [1, 2], "\(result.stderr)")
        // The second prompt holds the first exchange: history is kept.
        if summaries.count == 2 { #expect(summaries[1].promptTokens > summaries[0].promptTokens + 5) }
        // One answer line per turn on standard output (an answer may itself hold newlines, so at least two).
        #expect(result.stdout.filter { $0 == "\n" }.count >= 2)
        #expect(!result.stderr.contains("error"))
    }

    @Test func resetForgetsAndExitStops() throws {
        let result = try CLI.moecoder(["chat", "--max-tokens", "4"],
                                      input: "first question\n/reset\nfirst question\n/exit\nnever asked\n",
                                      environment: ["MOECODER_HOME": CLI.packageRoot.path])
        #expect(result.status == 0, "\(result.stderr)")
        let summaries = turns(result.stderr)
        #expect(summaries.count == 2, "\(result.stderr)")
        // After /reset the same question makes the same prompt; /exit ends before the last line.
        if summaries.count == 2 { #expect(summaries[0].promptTokens == summaries[1].promptTokens) }
        #expect(result.stderr.contains("conversation cleared"))
    }

    @Test func helpExplainsTheCommands() throws {
        let result = try CLI.moecoder(["chat", "--help"])
        #expect(result.status == 0)
        for text in ["/reset", "/exit", "--system", "--max-tokens", "--temperature", "--model"] {
            #expect(result.stdout.contains(text), "help lacks \(text)")
        }
    }
}
