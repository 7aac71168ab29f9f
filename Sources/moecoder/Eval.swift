import ArgumentParser
import Assist
import Engine
import Foundation
import Syntax

/// `moecoder eval`: how well a model predicts held-out source files.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure a model on source files: perplexity, next-line exact match, Distinct-1, parse rate.",
        discussion: """
            Perplexity is per token, reading each file left to right. Next-line exact match: the model writes \
            a line (greedy) from the code above it; it counts when it equals the real line, blanks trimmed. The \
            probe lines: --lines per file, evenly spread (or all), over every line of 4 or more non-blank \
            characters (--probes any) or over the lines of code only (--probes code: no comments, docstrings or \
            other lines inside or opening a triple-quoted string; what `moecoder finetune` measures). \
            Sampled infills: a line is taken out and the model writes it back from the code around it \
            (fill-in-the-middle, temperature 0.8); Distinct-1 is over their tokens, and "parses" is the share \
            of files that still parse (tree-sitter) with the sample in place, among files that parsed before. \
            Completions: the code of whole lines (a statement or block header on one line) is taken out and \
            `moecoder complete` writes it back; "completions parse" is the share of holes after which the file \
            parses (tree-sitter, and Python's indentation rules for Python).
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Argument(help: ArgumentHelp("Source files to evaluate on.", valueName: "file"))
    var files: [String] = []

    @Flag(help: "Evaluate on the held-out files shipped with the default model (models/heldout).")
    var heldOut = false

    @Option(help: ArgumentHelp("Lines per file for next-line exact match, evenly spread over the probe lines, or "
                               + "'all'.", valueName: "n|all"))
    var lines = ProbeCount.count(10)

    @Option(help: ArgumentHelp("Which lines are next-line probes: any (4 or more non-blank characters) or code (no "
                               + "comments or docstrings; as `moecoder finetune`).", valueName: "any|code"))
    var probes = ProbeRule.any

    @Option(help: "Sampled infills per file.")
    var samples = 4

    @Option(help: ArgumentHelp(
        "Completion holes per file: a whole line's code is taken out and `complete` (syntax constraint, greedy, "
            + "at most 48 tokens) writes it back; reports how often the file then parses.",
        valueName: "n"))
    var completions = 4

    @Option(help: "Tokens per perplexity window (at most the model's context).")
    var window = 512

    @Option(help: "Random seed of the sampled infills.")
    var seed: UInt64 = 1

    @Option(name: .customLong("agreement-with"), help: ArgumentHelp(
        "Also report next-token agreement with this model (e.g. the F16 original of a quantized model): the share of "
            + "scored positions where both predict the same most likely token.", valueName: "reference.gguf"))
    var agreementWith: String?

    @Flag(help: "Print JSON: the totals and each file's scores.")
    var json = false

    func validate() throws {
        if files.isEmpty == !heldOut { throw ValidationError("give source files or --held-out (not both)") }
        if samples < 0 || completions < 0 {
            throw ValidationError("--samples and --completions must not be negative")
        }
        if window < 2 { throw ValidationError("--window must be at least 2") }
    }

    func run() throws {
        let paths = try heldOut ? Self.heldOutFiles() : files
        let model = try modelOptions.load()
        var options = EvaluationOptions()
        options.window = window
        options.linesPerFile = lines.perFile
        options.probes = probes
        options.samplesPerFile = samples
        options.sampling.seed = seed
        let evaluator = Evaluator(model: model, options: options)
        var results: [FileEvaluation] = []
        var parseChecked = 0, parsed = 0
        var holes = CompletionScore()
        for path in paths {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw CLIFailure(message: "cannot read '\(path)' as UTF-8 text")
            }
            let result: FileEvaluation
            do { result = try evaluator.evaluate(path: path, text: text) } catch let error as ModelError {
                throw CLIFailure(message: "\(path): \(error.message)")
            }
            results.append(result)
            if let language = Language.forPath(path), language.isAvailable, let parser = try? Parser(language: language),
               let original = try? parser.parse(text), !original.hasErrors {
                for sample in result.samples {
                    parseChecked += 1
                    if let tree = try? parser.parse(sample.filledText), !tree.hasErrors { parsed += 1 }
                }
            }
            if let language = Language.forPath(path), language.isAvailable {
                for line in CompletionProbes.wholeLines(of: text, language: language, count: completions) {
                    let hole = CompletionProbes.hole(in: text, line: line)
                    var request = CompletionRequest(source: hole.source, language: language, cursor: hole.cursor)
                    request.maxTokens = 48
                    let completion: Completion
                    do { completion = try CodeCompleter(model: model).complete(request) } catch let error as ModelError {
                        throw CLIFailure(message: "\(path): \(error.message)")
                    }
                    holes.total += 1
                    if completion.parseOK { holes.parsed += 1 }
                    let firstLine = completion.text.split(separator: "\n", omittingEmptySubsequences: false).first ?? ""
                    if firstLine.trimmingCharacters(in: .whitespaces) == hole.removed { holes.firstLine += 1 }
                }
            }
            if !json {
                let ppl = exp(result.negativeLogLikelihood / Double(max(1, result.scoredTokens)))
                warn(String(format: "%@: %d tokens, perplexity %.2f, next line %d/%d", path, result.scoredTokens, ppl,
                            result.exactLines, result.lineProbes))
            }
        }
        if let agreementWith {
            let reference: LanguageModel
            do { reference = try LanguageModel(path: agreementWith, threads: modelOptions.threads) } catch let error as ModelError {
                throw CLIFailure(message: error.message)
            }
            let theirs = Evaluator(model: reference, options: options)
            var same = 0, total = 0
            for path in paths {
                let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
                var a: [Int32]? = [], b: [Int32]? = []
                do {
                    _ = try evaluator.perplexity(text, argmaxes: &a)
                    _ = try theirs.perplexity(text, argmaxes: &b)
                } catch let error as ModelError {
                    throw CLIFailure(message: "\(path): \(error.message)")
                }
                for (x, y) in zip(a!, b!) where x == y { same += 1 }
                total += min(a!.count, b!.count)
            }
            // On stderr, so that --json's stdout stays one object.
            warn(String(format: "next-token agreement  %.4f (%d of %d positions, with %@)",
                        Double(same) / Double(max(1, total)), same, total, agreementWith))
        }
        let summary = EvaluationSummary(results)
        let parseRate = parseChecked > 0 ? Double(parsed) / Double(parseChecked) : nil
        if json {
            print(try JSON.line(Report(model: model.path, summary: summary, parseRate: parseRate,
                                       parseChecked: parseChecked, completions: holes,
                                       files: results.map { FileReport($0) })))
            return
        }
        print("model                 \(model.path)")
        print("files                 \(summary.files) (\(summary.scoredTokens) tokens scored)")
        print(String(format: "loss per token        %.4f nats", summary.lossPerToken))
        print(String(format: "perplexity            %.3f", summary.perplexity))
        print(String(format: "next-line exact match %.3f (%d lines)", summary.nextLineExactMatch, summary.lineProbes))
        print(String(format: "distinct-1            %.3f (%d samples)", summary.distinct1, summary.samples))
        print(parseRate.map { String(format: "parses                %.3f (%d samples)", $0, parseChecked) }
              ?? "parses                - (no sample in a file whose language parses)")
        if holes.total > 0 {
            print(String(format: "completions parse     %.3f (%d of %d holes; first line exact %d)",
                         Double(holes.parsed) / Double(holes.total), holes.parsed, holes.total, holes.firstLine))
        }
    }

    /// The shipped held-out files, in name order.
    static func heldOutFiles() throws -> [String] {
        guard let dir = Resources.locate("models/heldout"),
              let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else {
            throw CLIFailure(message: "the held-out files (models/heldout) are not installed: pass source files")
        }
        return names.filter { $0.hasSuffix(".py") }.sorted().map { "\(dir)/\($0)" }
    }

    struct FileReport: Codable {
        var path: String, scoredTokens: Int, lossPerToken: Double, lineProbes: Int, exactLines: Int
        /// 0-based indices of the lines written exactly.
        var exactLineIndices: [Int]
        var samples: [String]

        init(_ f: FileEvaluation) {
            path = f.path
            scoredTokens = f.scoredTokens
            lossPerToken = f.negativeLogLikelihood / Double(max(1, f.scoredTokens))
            lineProbes = f.lineProbes
            exactLines = f.exactLines
            exactLineIndices = f.exactLineIndices
            samples = f.samples.map(\.completion)
        }
    }

    /// Constrained `complete` on whole-line holes (`--completions`).
    struct CompletionScore: Encodable {
        var total = 0, parsed = 0, firstLine = 0

        enum CodingKeys: String, CodingKey { case total = "holes", parsed, firstLine = "first_line_exact", parseRate = "parse_rate" }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(total, forKey: .total)
            try c.encode(parsed, forKey: .parsed)
            try c.encode(firstLine, forKey: .firstLine)
            try c.encode(total > 0 ? Double(parsed) / Double(total) : nil, forKey: .parseRate)
        }
    }

    struct Report: Encodable {
        var model: String, summary: EvaluationSummary, parseRate: Double?, parseChecked: Int
        var completions: CompletionScore
        var files: [FileReport]
    }
}
