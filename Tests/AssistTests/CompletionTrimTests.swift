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

    /// Another top-level statement further down that fails by itself (an unfinished function) is the file's
    /// own problem: the completion is judged on the code up to it, so a good completion still passes, and one
    /// that breaks the code after it in its own statement still fails.
    @Test func laterBrokenStatementsAreTheFilesOwn() throws {
        let python = try Language.named("python")
        let prefix = "def mean(values):\n    total = "
        let broken = "\n\nclass Shape:\n    def area(self) -> float:\n        \n\n    def side(self):\n        return 1\n"
        let suffix = "\n    return total / len(values)\n" + broken
        let check = try InsertionCheck(language: python, prefix: Array(prefix.utf8), suffix: Array(suffix.utf8))
        #expect(check.parses(with: Array("sum(values)".utf8)[...]))
        #expect(!check.parses(with: Array("sum(values".utf8)[...]))
        #expect(!check.parses(with: Array("sum(values) +".utf8)[...]))
        // With the later statement whole, the whole file is judged as before.
        let whole = "\n    return total / len(values)\n\n\nclass Shape:\n    def side(self):\n        return 1\n"
        let plain = try InsertionCheck(language: python, prefix: Array(prefix.utf8), suffix: Array(whole.utf8))
        #expect(plain.parses(with: Array("sum(values)".utf8)[...]))
        // A line at column 0 inside brackets is no statement boundary.
        let open = "\n    return (total /\nlen(values))\n" + broken
        let inside = try InsertionCheck(language: python, prefix: Array(prefix.utf8), suffix: Array(open.utf8))
        #expect(!inside.parses(with: Array("sum(values)".utf8)[...]))
    }

    /// A completion that ran out inside brackets or a string it opened is closed at a clean cut.
    @Test func closesWhatTheCompletionOpened() throws {
        let python = try Language.named("python")
        func closed(_ prefix: String, _ text: String, _ suffix: String) throws -> String? {
            let source = Array((prefix + suffix).utf8)
            let context = try CursorContext(language: python, source: source, cursor: prefix.utf8.count)
            return CodeCompleter.closingOpenConstructs(of: text, context: context)
        }
        #expect(try closed("total = ", "max(values, key=len, default=(1, 2", "\nprint(total)\n")
                == "max(values, key=len, default=(1, 2))")
        #expect(try closed("names = ", "['text/x-a', 'text/x-b', 'text/x-", "\n") == "['text/x-a', 'text/x-b', 'text/x-']")
        // A bracket open before the cursor is the code after it's to close.
        #expect(try closed("call(", "a, (b", ")\n") == "a, (b)")
        #expect(try closed("x = ", "1 +", "\n") == nil)
        // JavaScript: a block the completion opened.
        let javascript = try Language.named("javascript")
        let prefix = "function f(x) {\n  ", suffix = "\n}\n"
        let context = try CursorContext(language: javascript, source: Array((prefix + suffix).utf8),
                                        cursor: prefix.utf8.count)
        #expect(CodeCompleter.closingOpenConstructs(of: "if (x) { return g(x, 1", context: context)
                == "if (x) { return g(x, 1)}")
    }

    /// A Python string that ran out inside an escape is closed before it: `"\xd"` is a compile error
    /// (truncated \xXX escape), and a lone backslash would escape the closing quote.
    @Test func closingAPythonStringKeepsItsEscapesWhole() throws {
        let python = try Language.named("python")
        func closed(_ text: String) throws -> String? {
            let prefix = "x = ", suffix = "\n"
            let context = try CursorContext(language: python, source: Array((prefix + suffix).utf8),
                                            cursor: prefix.utf8.count)
            return CodeCompleter.closingOpenConstructs(of: text, context: context)
        }
        #expect(try closed(#""a\x00\xd"#) == #""a\x00""#)
        #expect(try closed(#"'caf\u00e"#) == #"'caf'"#)
        #expect(try closed(#""tab\"#) == #""tab""#)
        #expect(try closed(#""\N{DEGREE SIG"#) == #""""#)
        #expect(try closed(#""done\n"#) == #""done\n""#)          // a whole escape stays
        #expect(try closed(#"b'\u00e"#) == #"b'\u00e'"#)           // bytes: \u is no escape
        #expect(try closed(#"r"\xd"#) == #"r"\xd""#)               // raw: no escapes at all
        #expect(try closed(#"f(["a\x4"#) == #"f(["a"])"#)
        for (body, bad) in [(#"\x4"#, 0), (#"ab\U0001F60"#, 2), (#"\\\x41"#, nil), (#"\\"#, nil), (#"a\"#, 1)] {
            let bytes = Array(("\"" + body).utf8)
            #expect(CodeCompleter.pythonEscapeError(in: bytes, from: 1, to: bytes.count).map { $0 - 1 } == bad,
                    "\(body)")
        }
    }
}

/// The holes `moecoder eval --completions` measures on.
@Suite struct CompletionProbeTests {
    @Test func wholeLinesAreStatementsOnOneLine() throws {
        let python = try Language.named("python")
        let source = """
            import os
            def f(values,
                  key=None):
                \"\"\"Docstring
                over lines.\"\"\"
                total = sum(values) + \\
                    1
                if total > 10:
                    return total  # big
                # a comment
                return -1
            """
        #expect(CompletionProbes.wholeLines(of: source, language: python, count: 10) == [7, 8, 10])
        #expect(CompletionProbes.wholeLines(of: source, language: python, count: 1) == [8])
        let hole = CompletionProbes.hole(in: source, line: 8)
        #expect(hole.removed == "return total  # big")
        #expect(hole.source.contains("10:\n        \n    # a"))
        #expect(Array(hole.source.utf8)[hole.cursor - 1] == UInt8(ascii: " "))
        #expect(Array(hole.source.utf8)[hole.cursor] == UInt8(ascii: "\n"))
        // Windows line breaks end lines too.
        let crlf = "x = 1\r\nyy = 2\r\nzz = 3\r\n"
        #expect(CompletionProbes.wholeLines(of: crlf, language: python, count: 5) == [1, 2])
        let crlfHole = CompletionProbes.hole(in: crlf, line: 1)
        #expect(crlfHole.removed == "yy = 2" && crlfHole.source == "x = 1\r\n\r\nzz = 3\r\n" && crlfHole.cursor == 7)
    }
}
