import Engine
import Syntax

/// Calls proposed by a language model: the module's source, then `module.name(` for each callable, completed to
/// the end of the line. Only completions that parse as one call expression are kept; they join the search as
/// seeds, so a weak model costs time but never correctness.
struct ModelProposer {
    let model: LanguageModel
    let maxTokens = 40
    let perCallable = 2

    func proposals(source: String, surface: ModuleSurface, builder: CaseBuilder, parser: Parser,
                   seed: UInt64, deadline: ContinuousClock.Instant) -> [TestCase] {
        let generator = Generator(model: model)
        let context = String(source.suffix(6000))
        var cases: [TestCase] = []
        for function in surface.functions {
            for attempt in 0..<perCallable {
                guard ContinuousClock.now < deadline else { return cases }
                let start = "\(function.name)("
                let prompt = context + "\n\n# Example calls:\n" + start
                var options = GenerationOptions(maxTokens: maxTokens)
                options.stopStrings = ["\n"]
                options.sampling.temperature = attempt == 0 ? 0 : 0.8
                options.sampling.seed = seed &+ UInt64(attempt)
                let tokens = model.tokenizer.encode(prompt, addSpecial: true)
                guard let result = try? generator.generate(prompt: tokens, options: options) else { continue }
                let line = start + result.text
                guard let tree = try? parser.parse(line), !tree.hasErrors,
                      let statement = tree.root.namedChild(0), tree.root.namedChildCount == 1,
                      let call = statement.namedChild(0), call.type == "call",
                      call.child(byField: "function")?.text == function.name else { continue }
                cases.append(TestCase(target: function.name, steps: [TestStep(builder.qualify(call))], origin: "model"))
            }
        }
        return cases
    }
}
