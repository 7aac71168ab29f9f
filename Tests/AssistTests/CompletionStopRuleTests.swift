import Engine
import Testing
@testable import Assist

/// The stop rules on hand-made completions: each case is a file with the cursor marked `‸`, what a model
/// might write there, and what should be inserted.
@Suite struct CompletionStopRuleTests {
    typealias F = CompletionFixtures

    // MARK: Python

    @Test func pythonBodyStopsAtABlankLine() throws {
        let r = try F.stop("def area(r):\n    ‸\n\nprint(area(2))\n", "python",
                           after: "return 3.14 * r * r\n\nprint(area(3))\n")
        #expect(r.text == "return 3.14 * r * r")
        #expect(r.reason == .blankLine)
    }

    @Test func aLineWrittenTwiceInARowEndsTheCompletion() throws {
        let r = try F.stop("def area(r):\n    ‸\n", "python",
                           after: "check(r)\n    check(r)\n    check(r)\n")
        #expect(r.text == "check(r)")
        #expect(r.reason == .repetition)
        // Lines of punctuation repeat legitimately.
        let js = try F.stop("const a = [\n  [1],\n  ‸\n];\n", "javascript", after: "[2],\n  [3],\n")
        #expect(js.reason != .repetition)
    }

    @Test func pythonBodyStopsAtADedent() throws {
        let r = try F.stop("def area(r):\n    ‸\n", "python",
                           after: "pi = 3.14\n    return pi * r * r\ndef other():\n    pass\n")
        #expect(r.text == "pi = 3.14\n    return pi * r * r")
        #expect(r.reason == .endOfBlock)
    }

    @Test func pythonHeaderAtTheCursorTakesItsIndentedBody() throws {
        let r = try F.stop("if ready:‸\nprint('done')\n", "python",
                           after: "\n    start()\n    finish()\nprint('again')\n")
        #expect(r.text == "\n    start()\n    finish()")
        #expect(r.reason == .endOfBlock)
    }

    @Test func pythonStatementEndsWhenTheNextLineIsNotDeeper() throws {
        let r = try F.stop("def f(xs):\n    total = ‸\n    return total\n", "python",
                           after: "sum(xs)\n    print(total)\n")
        #expect(r.text == "sum(xs)")
        #expect(r.reason == .endOfStatement)
    }

    @Test func pythonStatementKeepsTheBlockItOpens() throws {
        let r = try F.stop("def f(xs):\n    for x in ‸\n    return 0\n", "python",
                           after: "xs:\n        print(x)\n        log(x)\n    return 1\n")
        #expect(r.text == "xs:\n        print(x)\n        log(x)")
        #expect(r.reason == .endOfStatement)
    }

    @Test func pythonBlankLineAfterAnOpenHeaderDoesNotStop() throws {
        let r = try F.stop("def f(x):\n    ‸\n", "python", after: "if x:\n\n        return 1\n\nprint(2)\n")
        #expect(r.text == "if x:\n\n        return 1")
        #expect(r.reason == .blankLine)
    }

    @Test func pythonClosingTheCursorsBracketStopsBeforeTheSuffixsCloser() throws {
        let r = try F.stop("print(‸)\n", "python", after: "x, y)\nprint(z)\n")
        #expect(r.text == "x, y")
        #expect(r.reason == .closedConstruct)
    }

    @Test func pythonClosingAnUnclosedBracketEndsTheLine() throws {
        let r = try F.stop("result = compute(‸\n", "python", after: "a,\n    b)\nprint(result)\n")
        #expect(r.text == "a,\n    b)")
        #expect(r.reason == .closedConstruct)
    }

    @Test func pythonBracketsInStringsAndCommentsDoNotCount() throws {
        let r = try F.stop("print(‸)\n", "python", after: "\")\", '(' # )\n")
        #expect(r.text == "\")\", '(' # )")
        #expect(r.reason == .endOfLine)
    }

    @Test func pythonMiddleOfALineIsOneLine() throws {
        let r = try F.stop("x = ‸ + 1\n", "python", after: "foo(a)\nbar()\n")
        #expect(r.text == "foo(a)")
        #expect(r.reason == .endOfLine)
    }

    @Test func pythonLineRepeatingTheNextLineIsDropped() throws {
        let r = try F.stop("def f(x):\n    ‸\n    return y\n", "python", after: "y = x * 2\n    return y\n")
        #expect(r.text == "y = x * 2")
        #expect(r.reason == .suffixOverlap)
    }

    @Test func pythonTailRepeatingTheRestOfTheLineIsDropped() throws {
        let r = try F.stop("x = ‸  # the answer\n", "python", after: "42  # the answer\n")
        #expect(r.text == "42")
        #expect(r.reason == .endOfLine)
    }

    @Test func pythonTailThatBalancesBracketsIsKept() throws {
        // The completion ends with `)`, like the rest of the line, but it closes its own bracket.
        let r = try F.stop("print(‸)\n", "python", after: "len(xs)")
        #expect(r.text == "len(xs)")
        #expect(r.reason == nil)
    }

    @Test func pythonStatementEndedByTheModelIsNotCutByARule() throws {
        let r = try F.stop("x = ‸\n", "python", after: "compute()\n")
        #expect(r.text == "compute()")
        #expect(r.reason == nil, "the model ended it; the stop reason is its end of text")
    }

    @Test func lineInFrontOfCodeEndsWithItsIndentation() throws {
        let r = try F.stop("def f(x):\n    ‸return x\n", "python", after: "y = x + 1\nreturn")
        #expect(r.text == "y = x + 1\n    ")
        #expect(r.reason == .endOfLine)
        let repeated = try F.stop("def f(x):\n    ‸return x\n", "python", after: "return x\nfoo")
        #expect(repeated.text == "", "a line that repeats the code it goes in front of is dropped")
        let sameLine = try F.stop("def f(x):\n    ‸foo(x)\n", "python", after: "result = ")
        #expect(sameLine.text == "result = ", "without a line break the model meant the same line")
    }

    @Test func pythonInsideADocstringIsOneLine() throws {
        let r = try F.stop("def f():\n    \"\"\"Return ‸\n    \"\"\"\n", "python", after: "the answer.\n    More.\n")
        #expect(r.text == "the answer.")
        #expect(r.reason == .endOfLine)
    }

    @Test func pythonErrorsElsewhereInTheFileDoNotBlockStopping() throws {
        let r = try F.stop("def broken(:\n    pass\n\ndef f():\n    ‸\n", "python", after: "return 1\n\nmore = 2\n")
        #expect(r.text == "return 1")
        #expect(r.reason == .blankLine)
    }

    // MARK: JavaScript

    @Test func javascriptStopsBeforeTheBraceTheSuffixCloses() throws {
        let r = try F.stop("function add(a, b) {\n  ‸\n}\n", "javascript", after: "return a + b;\n}\n\nfunction sub() {}\n")
        #expect(r.text == "return a + b;")
        #expect(r.reason == .closedConstruct)
    }

    @Test func javascriptKeepsTheBraceNothingElseCloses() throws {
        let r = try F.stop("function add(a, b) {\n  return a + b;\n‸", "javascript",
                           after: "}\n\nconsole.log(add(1, 2));\n")
        #expect(r.text == "}")
        #expect(r.reason == .closedConstruct)
    }

    @Test func javascriptStatementEndsAtItsLineBreak() throws {
        let r = try F.stop("const total = ‸\n", "javascript",
                           after: "items.reduce((a, b) => a + b, 0);\nconsole.log(total);\n")
        #expect(r.text == "items.reduce((a, b) => a + b, 0);")
        #expect(r.reason == .endOfStatement)
    }

    @Test func javascriptStatementContinuesAfterAnOperator() throws {
        let r = try F.stop("const x = ‸\n", "javascript", after: "a +\n  b;\nfoo();\n")
        #expect(r.text == "a +\n  b;")
        #expect(r.reason == .endOfStatement)
    }

    @Test func javascriptBlockTheCompletionOpensEndsIt() throws {
        let r = try F.stop("function f(items) {\n  ‸\n}\n", "javascript",
                           after: "for (const x of items) {\n    use(x);\n  }\n  return 1;\n}\n")
        #expect(r.text == "for (const x of items) {\n    use(x);\n  }")
        #expect(r.reason == .endOfBlock)
    }

    @Test func javascriptBlankLineAfterCompleteCode() throws {
        let r = try F.stop("‸", "javascript", after: "const a = 1;\nconst b = 2;\n\nconst c = 3;\n")
        #expect(r.text == "const a = 1;\nconst b = 2;")
        #expect(r.reason == .blankLine)
    }

    @Test func javascriptBlankLineAfterCodeTheTreeRejectsDoesNotStop() throws {
        // `let x = new` is lexically plausible; only the parse shows it is unfinished.
        let r = try F.stop("function f() {\n  ‸\n}\n", "javascript", after: "let x = new\n\n  Foo();\n\n  more();\n")
        #expect(r.text == "let x = new\n\n  Foo();")
        #expect(r.reason == .blankLine)
    }

    @Test func javascriptUnclosedFunctionAtTheEndOfTheFileStillStops() throws {
        // The missing `}` at the end of the file was missing before the completion too: not the completion's fault.
        let r = try F.stop("function f() {\n  ‸", "javascript", after: "const a = 1;\n\n  foo();\n")
        #expect(r.text == "const a = 1;")
        #expect(r.reason == .blankLine)
    }

    @Test func javascriptTemplateStringBracesAreText() throws {
        let r = try F.stop("const s = ‸\n", "javascript", after: "`} ${x} {`;\nnext();\n")
        #expect(r.text == "`} ${x} {`;")
        #expect(r.reason == .endOfStatement)
    }

    @Test func javascriptLineCommentIsOneLine() throws {
        let r = try F.stop("// compute ‸\n", "javascript", after: "the sum\nfoo();\n")
        #expect(r.text == "the sum")
        #expect(r.reason == .endOfLine)
    }

    // MARK: Go

    @Test func goBodyStopsBeforeTheSuffixsBrace() throws {
        let r = try F.stop("func add(a, b int) int {\n\t‸\n}\n", "go", after: "return a + b\n}\n")
        #expect(r.text == "return a + b")
        #expect(r.reason == .closedConstruct)
    }

    @Test func goStatementEndsAtItsLineBreak() throws {
        let r = try F.stop("func main() {\n\tx := ‸\n\tfmt.Println(x)\n}\n", "go",
                           after: "compute(1, 2)\n\tfmt.Println(x)\n}\n")
        #expect(r.text == "compute(1, 2)")
        #expect(r.reason == .endOfStatement)
    }

    @Test func goIfBlockEndsAtItsBrace() throws {
        let r = try F.stop("func f(x int) int {\n\t‸\n\treturn 0\n}\n", "go",
                           after: "if x > 0 {\n\t\treturn x\n\t}\n\treturn 0\n}\n")
        #expect(r.text == "if x > 0 {\n\t\treturn x\n\t}")
        #expect(r.reason == .endOfBlock)
    }

    @Test func goRawStringBracesAreText() throws {
        let r = try F.stop("var s = ‸\n", "go", after: "`{ not a brace`\nvar t = 1\n")
        #expect(r.text == "`{ not a brace`")
        #expect(r.reason == .endOfStatement)
    }

    @Test func goLineRepeatingTheNextLineIsDropped() throws {
        let r = try F.stop("func f() int {\n\t‸\n\treturn n\n}\n", "go", after: "n := 2\n\treturn n\n}\n")
        #expect(r.text == "n := 2")
        #expect(r.reason == .suffixOverlap)
    }

    // MARK: Rust and others

    @Test func rustLifetimesAreNotCharacterLiterals() throws {
        let r = try F.stop("fn f<'a>(x: &'a str) -> &'a str {\n    ‸\n}\n", "rust", after: "let c = '}';\n    x\n}\n")
        #expect(r.text == "let c = '}';\n    x")
        #expect(r.reason == .closedConstruct)
    }

    @Test func unicodeIsCarriedThrough() throws {
        let r = try F.stop("greeting = ‸\n", "python", after: "\"héllo → wörld\"\nx = 1\n")
        #expect(r.text == "\"héllo → wörld\"")
    }

    // MARK: Any text

    @Test(arguments: ["python", "javascript", "go", "rust", "java", "c", "swift"])
    func randomCompletionsGiveAPrefixOfWhatWasWritten(language: String) throws {
        let fragments = ["(", ")", "{", "}", "[", "]", "\"", "'", "`", "\\", "#", "//", "/*", "*/", "\"\"\"", ":",
                         ";", "\n", "\n\n", "    ", "\t", "x", "return", " = ", "+", "é", "→", "r#", "'a", "if x"]
        let files = ["‸", "def f(x):\n    ‸\n", "f(‸)\n", "x = ‸ + 1\n", "{\n  ‸\n}\n", "s = \"‸\"\n", "a\n‸b\n"]
        var random = SeededGenerator(seed: 5)
        for file in files {
            for _ in 0..<40 {
                let count = Int(random.next() % 40)
                let completion = (0..<count).map { _ in fragments[Int(random.next() % UInt64(fragments.count))] }.joined()
                let piece = 1 + Int(random.next() % 5)
                let r = try F.stop(file, language, after: completion, piece: piece)
                #expect(completion.hasPrefix(r.text) || r.reason == .endOfLine,
                        "\(language) \(file.debugDescription) \(completion.debugDescription) -> \(r.text.debugDescription)")
            }
        }
    }

    // MARK: Context

    @Test func scopesFollowTheCursorsLine() throws {
        #expect(try F.context("x = ‸ + 1\n", "python").scope == .line)
        #expect(try F.context("x = ‸\n", "python").scope == .statement)
        #expect(try F.context("def f():\n    ‸\n", "python").scope == .block)
        #expect(try F.context("def f():‸\n", "python").scope == .block)
        #expect(try F.context("if (x) {‸\n}", "javascript").scope == .block)
        #expect(try F.context("s = \"abc‸\n", "python").scope == .line)
    }

    @Test func blockIndentComesFromTheHeadersStatement() throws {
        // A header split over lines: the block is indented from the line the statement starts on.
        let context = try F.context("class A:\n    def f(self,\n          x):\n        ‸\n", "python")
        #expect(context.blockIndent == 5)
        #expect(context.scope == .block)
    }
}
