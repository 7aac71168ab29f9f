import Foundation
import Testing
@testable import Engine

/// `Evaluator`: perplexity windows score every token once and agree with the logits; probes and Distinct-1.
/// Serialized: the tests share one model, and a `Transformer` runs one forward pass at a time.
@Suite(.serialized) struct EvaluationTests {
    static let model: LanguageModel? = try? LanguageModel(
        path: ModelFixture.folder.appendingPathComponent("qwen2moe.gguf").path, threads: 1)
    static let text = "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n"

    /// Σ −ln p of every token after the first, from one pass over the whole text.
    static func referenceNLL(_ model: LanguageModel, _ tokens: [Int32]) throws -> Double {
        let vocab = model.config.vocabularySize
        let logits = try model.transformer.logits(tokens, cache: model.transformer.makeCache(capacity: tokens.count),
                                                  allLogits: true)
        var nll = 0.0
        for i in 1..<tokens.count {
            let row = Array(logits[(i - 1) * vocab..<i * vocab])
            let m = row.max()!
            nll += Double(m + log(row.reduce(0) { $0 + exp($1 - m) }) - row[Int(tokens[i])])
        }
        return nll
    }

    @Test func oneWindowMatchesTheLogits() throws {
        let model = try #require(Self.model)
        let tokens = model.tokenizer.encode(Self.text, addSpecial: true, parseSpecial: false)
        var options = EvaluationOptions()
        options.window = tokens.count
        let (scored, nll) = try Evaluator(model: model, options: options).perplexity(Self.text)
        #expect(scored == tokens.count - 1)
        #expect(abs(nll - (try Self.referenceNLL(model, tokens))) < 1e-3 * Double(scored))
    }

    @Test func overlappingWindowsScoreEachTokenOnce() throws {
        let model = try #require(Self.model)
        let tokens = model.tokenizer.encode(Self.text, addSpecial: true, parseSpecial: false)
        var options = EvaluationOptions()
        options.window = 8
        let (scored, nll) = try Evaluator(model: model, options: options).perplexity(Self.text)
        #expect(scored == tokens.count - 1)
        #expect(nll.isFinite && nll > 0)
    }

    @Test func probeLinesAreSpreadAndSkipShortLines() {
        let lines = Evaluator.lines(of: "a\n\n  x\nline one\nline two\nline three\nline four\n")
        #expect(lines.count == 7 && lines[2] == "  x\n")
        #expect(Evaluator.probeLines(lines, count: 10) == [3, 4, 5, 6])
        #expect(Evaluator.probeLines(lines, count: 2) == [4, 6])
        #expect(Evaluator.probeLines(lines, count: 0) == [])
    }

    /// Lines of code: comments, docstrings (their opening, body and closing lines) and other triple-quoted strings
    /// are not; a `#` or a triple quote inside a one-line string starts nothing. The Python twin
    /// (tools/finetune/lora_train.py `code_lines`) gives the same flags on this text.
    @Test func codeLinesSkipCommentsAndDocstrings() {
        let source = #"""
            import os
            def f(x):
                """Return x.

                More words.
                """
                # a comment
                s = "# not a comment"
                t = '"""'  # three quotes in a string
                u = "it's \" still"
                doc = rb'''
            raw text
            '''
                return x
            )
            class C:
                r'''One line.'''
                pass

            """#
        let lines = Evaluator.lines(of: source)
        let code = Evaluator.codeLines(lines)
        let expected = [true, true, false, false, false, false, false, true, true, true, true, false, false, true,
                        false, true, false, true]
        #expect(code == expected, "\(zip(lines, code).map { "\($0.1 ? "+" : "-") \($0.0)" }.joined())")
        #expect(Evaluator.probeLines(lines, count: Int.max, rule: .code) == [1, 7, 8, 9, 10, 13, 15, 17])
        #expect(Evaluator.probeLines(lines, count: 2, rule: .code) == [8, 15])
        // The first rule keeps comments and docstring lines.
        #expect(Evaluator.probeLines(lines, count: Int.max, rule: .any).contains(6))
    }

    @Test func distinctOneCountsUniqueTokens() {
        #expect(Evaluator.distinct1([[1, 2, 2], [2, 3]]) == 0.6)
        #expect(Evaluator.distinct1([]) == 0)
    }

    @Test func summaryAddsUpFiles() {
        let a = FileEvaluation(path: "a", scoredTokens: 10, negativeLogLikelihood: 10, lineProbes: 4, exactLines: 1,
                               samples: [])
        let b = FileEvaluation(path: "b", scoredTokens: 30, negativeLogLikelihood: 50, lineProbes: 4, exactLines: 3,
                               samples: [])
        let s = EvaluationSummary([a, b])
        #expect(s.scoredTokens == 40 && abs(s.lossPerToken - 1.5) < 1e-12 && abs(s.perplexity - exp(1.5)) < 1e-9)
        #expect(s.nextLineExactMatch == 0.5)
    }
}
