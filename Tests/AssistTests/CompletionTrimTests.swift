import Syntax
import Testing
@testable import Assist

/// A completion that would leave the file unparsable is cut back to its longest whole-line part that parses.
@Suite struct CompletionTrimTests {
    @Test func keepsTheLongestParsingLines() throws {
        let python = try Language.named("python")
        let prefix = "def area(w, h):\n    ", suffix = "\n\nprint(area(2, 3))\n"
        let check = try InsertionCheck(language: python, prefix: Array(prefix.utf8), suffix: Array(suffix.utf8))
        let text = "result = w * h\n    return result\n    extra = (w +"
        #expect(!check.parses(with: Array(text.utf8)[...]))
        let trimmed = try #require(CodeCompleter.longestParsingLines(of: text, check: check))
        #expect(trimmed.hasPrefix("result = w * h\n    return result"))
        #expect(check.parses(with: Array(trimmed.utf8)[...]))
        #expect(CodeCompleter.longestParsingLines(of: "(((", check: check) == nil)
    }
}
