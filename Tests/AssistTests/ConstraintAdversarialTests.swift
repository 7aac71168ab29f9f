import Engine
import Foundation
import Syntax
import Testing
@testable import Assist

/// The syntax constraint against a random-weight model sampling at temperature 1: it must keep every output
/// a viable prefix, and whatever the stop rule ends must parse cleanly. The same runs unconstrained show
/// the error rate the constraint removes. Serialized: the cases share one model, which runs one pass at a time.
@Suite(.serialized) struct ConstraintAdversarialTests {
    static let model: LanguageModel = {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/models/qwen2moe.gguf").path
        return try! LanguageModel(path: path, threads: 1)
    }()

    static let prefixes: [String: [String]] = [
        "python": [
            "def f(x):\n    return ", "x = [", "import os\n", "class A:\n    def m(self):\n        ", "if a and ",
            "for i in range(", "print(", "d = {", "def g(a, b=", "while True:\n    ", "try:\n    pass\nexcept ",
            "s = 'abc' + ", "y = lambda ", "from collections import ", "@property\ndef ", "with open(",
            "assert ", "result = sum(", "def h(*args, **kw):\n    return ", "z = (1 + ",
        ],
        "javascript": [
            "function f(x) {\n  return ", "const a = [", "let s = `a${", "if (x > ", "for (let i = 0; ", "class A {\n  ",
            "const o = {", "console.log(", "x = y ? ", "import { a } from ", "async function g() {\n  await ",
            "while (", "const f = (a, b) => ", "switch (k) {\n  case ", "try {\n  f();\n} catch (", "let n = 1 + ",
            "export default ", "const re = x.map(", "throw new Error(", "do {\n  ",
        ],
        "go": [
            "package main\n\nfunc main() {\n\t", "package main\n\nimport \"fmt\"\n\nfunc f(x int) int {\n\treturn ",
            "package p\n\nvar x = []int{", "package p\n\ntype T struct {\n\t", "package p\n\nfunc g() {\n\tif x > ",
            "package p\n\nfunc g() {\n\tfor i := 0; ", "package p\n\nconst c = ", "package p\n\nfunc (t *T) M(",
            "package p\n\nfunc g() {\n\tm := map[string]int{", "package p\n\nfunc g() {\n\tswitch x {\n\tcase ",
            "package p\n\nfunc g() error {\n\treturn fmt.Errorf(", "package p\n\nvar s = \"",
            "package p\n\nfunc g() {\n\tgo func() {\n\t\t", "package p\n\nfunc g(a, b ", "package p\n\nimport (\n\t",
            "package p\n\nfunc g() {\n\tdefer ", "package p\n\nfunc g() {\n\tx := y.", "package p\n\ntype I interface {\n\t",
            "package p\n\nfunc g() {\n\tch <- ", "package p\n\nfunc g() (int, ",
        ],
    ]

    struct Outcome {
        var runs = 0, nonViable = 0, stopped = 0, stoppedClean = 0, parsedCleanAtEnd = 0, fallbacks = 0
    }

    /// 200 generations of 64 tokens (10 seeds × 20 prefixes), constrained or not.
    static func run(language name: String, constrained: Bool) throws -> Outcome {
        let language = try Language.named(name)
        let parser = try Parser(language: language)
        var outcome = Outcome()
        for (p, prefix) in (prefixes[name] ?? []).enumerated() {
            for seed in 0..<10 {
                let constraint = constrained
                    ? try SyntaxConstraint(language: language, tokenizer: model.tokenizer, prefix: prefix,
                                           allowEndOfText: false) : nil
                let stopper = try SyntaxStopper(rule: .statement, language: language, prefix: prefix)
                let options = GenerationOptions(
                    maxTokens: 64, sampling: SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0,
                                                                seed: UInt64(p * 100 + seed)),
                    ignoreEOS: true)
                let result = try Generator(model: model).generate(
                    prompt: model.tokenizer.encode(prefix), options: options, constraint: constraint,
                    stopRule: stopper)
                outcome.runs += 1
                outcome.fallbacks += constraint?.statistics.fallbacks ?? 0
                // Every token boundary must be viable, judged afresh by a new recognizer on the raw bytes
                // (whole characters only: a token may end inside one).
                let judge = try ViablePrefix(language: language)
                var viable = judge.append(prefix)
                var pending: [UInt8] = []
                for token in result.tokens where viable {
                    pending += model.tokenizer.bytes(of: token)
                    let (complete, rest) = SyntaxConstraint.splitIncompleteUTF8(pending)
                    if !complete.isEmpty { viable = judge.append(bytes: complete) }
                    pending = rest
                }
                if !viable { outcome.nonViable += 1 }
                if result.stopReason == .stopRule {
                    outcome.stopped += 1
                    if try !parser.parse(prefix + result.text).hasErrors { outcome.stoppedClean += 1 }
                }
            }
        }
        return outcome
    }

    @Test(arguments: ["python", "javascript", "go"])
    func constrainedOutputsStayViable(language: String) throws {
        let constrained = try Self.run(language: language, constrained: true)
        let free = try Self.run(language: language, constrained: false)
        print("\(language): constrained \(constrained.nonViable)/\(constrained.runs) non-viable, "
              + "\(constrained.stopped) stopped by the rule (\(constrained.stoppedClean) parse cleanly), "
              + "\(constrained.fallbacks) fallbacks; unconstrained \(free.nonViable)/\(free.runs) non-viable, "
              + "\(free.stopped) stopped")
        #expect(constrained.runs == 200)
        #expect(constrained.nonViable == 0)
        #expect(constrained.stoppedClean == constrained.stopped)
        #expect(constrained.fallbacks == 0)
        #expect(free.nonViable > free.runs / 2, "the unconstrained baseline should break most outputs")
    }
}
