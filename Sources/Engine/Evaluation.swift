import Foundation
import Tokenizer

/// How `Evaluator` measures a model on source files.
public struct EvaluationOptions: Sendable {
    /// Tokens a perplexity window holds (at most the model's context). Long files are read in windows that
    /// overlap by half, and each token is scored once, with at least half a window of context.
    public var window = 512
    /// Lines per file whose text the model must write from the code above (greedy, up to the line's end), evenly
    /// spread over the file's probe lines (`probes`); `Int.max` takes every one.
    public var linesPerFile = 10
    /// Which lines are next-line probes.
    public var probes = ProbeRule.any
    /// The most tokens written for one line.
    public var lineTokens = 48
    /// Fill-in-the-middle samples per file (a line taken out; the model writes it from the code around it);
    /// none for a model without fill-in-the-middle tokens.
    public var samplesPerFile = 4
    /// The most tokens written for one sample.
    public var sampleTokens = 48
    /// Sampling for the fill-in-the-middle samples.
    public var sampling = SamplingParameters(temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05, seed: 1)

    public init() {}
}

/// Which lines of a file the next-line exact match is measured on (never the first line).
public enum ProbeRule: String, Sendable, Codable, CaseIterable {
    /// Every line with at least 4 non-blank characters (comments and docstrings included).
    case any
    /// Lines of code (`Evaluator.codeLines`): at least 4 non-blank characters, not a comment, not inside or opening
    /// a triple-quoted string (docstrings); `moecoder finetune` measures these.
    case code
}

/// One fill-in-the-middle sample: the line taken out of the file and what the model wrote in its place.
public struct InfillSample: Sendable, Codable, Equatable {
    /// 0-based line that was taken out.
    public var line: Int
    public var expected: String
    public var completion: String
    public var tokens: [Int32]
    /// The whole file with `completion` in place of the line (for a parse check).
    public var filledText: String
}

/// Scores of one file.
public struct FileEvaluation: Sendable, Codable {
    public var path: String
    /// Tokens scored for perplexity (all but the first).
    public var scoredTokens: Int
    /// Σ −ln p(token | context) over the scored tokens.
    public var negativeLogLikelihood: Double
    public var lineProbes: Int
    public var exactLines: Int
    public var samples: [InfillSample]
    /// 0-based indices of the probe lines the model wrote exactly.
    public var exactLineIndices: [Int] = []
}

/// Totals over files.
public struct EvaluationSummary: Sendable, Codable, Equatable {
    public var files: Int
    public var scoredTokens: Int
    /// Mean −ln p per token (nats).
    public var lossPerToken: Double
    public var perplexity: Double
    public var lineProbes: Int
    public var nextLineExactMatch: Double
    public var samples: Int
    /// Distinct tokens ÷ all tokens over the samples' completions.
    public var distinct1: Double

    public init(_ files: [FileEvaluation]) {
        self.files = files.count
        scoredTokens = files.reduce(0) { $0 + $1.scoredTokens }
        let nll = files.reduce(0) { $0 + $1.negativeLogLikelihood }
        lossPerToken = scoredTokens > 0 ? nll / Double(scoredTokens) : 0
        perplexity = exp(lossPerToken)
        lineProbes = files.reduce(0) { $0 + $1.lineProbes }
        nextLineExactMatch = lineProbes > 0 ? Double(files.reduce(0) { $0 + $1.exactLines }) / Double(lineProbes) : 0
        let all = files.flatMap(\.samples)
        samples = all.count
        distinct1 = Evaluator.distinct1(all.map(\.tokens))
    }
}

/// Measures a model on source files: perplexity per token, next-line exact match, and sampled infills.
public final class Evaluator {
    public let model: LanguageModel
    public let options: EvaluationOptions

    public init(model: LanguageModel, options: EvaluationOptions = EvaluationOptions()) {
        self.model = model
        self.options = options
    }

    /// Scores one file's text.
    public func evaluate(path: String, text: String) throws -> FileEvaluation {
        let (tokens, nll) = try perplexity(text)
        let lines = Self.lines(of: text)
        let probes = Self.probeLines(lines, count: options.linesPerFile, rule: options.probes)
        var exact: [Int] = []
        for index in probes where try nextLine(lines, index) == lines[index].trimmingCharacters(in: .whitespacesAndNewlines) {
            exact.append(index)
        }
        // Infills need fill-in-the-middle tokens; a model without them gets none.
        let infills = model.tokenizer.fim == nil ? 0 : options.samplesPerFile
        let samples = try Self.probeLines(lines, count: infills).map { try infill(lines, $0) }
        return FileEvaluation(path: path, scoredTokens: tokens, negativeLogLikelihood: nll, lineProbes: probes.count,
                              exactLines: exact.count, samples: samples, exactLineIndices: exact)
    }

    /// (scored tokens, Σ −ln p) of `text` read left to right.
    public func perplexity(_ text: String) throws -> (Int, Double) {
        var unused: [Int32]? = nil
        return try perplexity(text, argmaxes: &unused)
    }

    /// `perplexity(_:)`, also appending to `argmaxes` (when not nil) the model's most likely next token at each
    /// scored position (next-token agreement between two models: `moecoder eval --agreement-with`).
    public func perplexity(_ text: String, argmaxes: inout [Int32]?) throws -> (Int, Double) {
        let tokens = model.tokenizer.encode(text, addSpecial: true, parseSpecial: false)
        let window = max(2, min(options.window, model.config.contextLength)), stride = window / 2
        let vocab = model.config.vocabularySize
        let cache = model.transformer.makeCache(capacity: window)
        var nll = 0.0, scored = 0, start = 0, scoredUpTo = 1
        while scoredUpTo < tokens.count {
            let piece = Array(tokens[start..<min(start + window, tokens.count)])
            cache.truncate(to: 0)
            let logits = try model.transformer.forward(piece, cache: cache, allLogits: true)
            for i in max(1, scoredUpTo - start)..<piece.count {
                let row = UnsafeBufferPointer(rebasing: logits[(i - 1) * vocab..<i * vocab])
                nll += Double(Self.logSumExp(row) - row[Int(piece[i])])
                scored += 1
                if argmaxes != nil {
                    var best = 0
                    for v in 1..<row.count where row[v] > row[best] { best = v }
                    argmaxes!.append(Int32(best))
                }
            }
            scoredUpTo = start + piece.count
            start += stride
        }
        return (scored, nll)
    }

    /// The model's greedy text for line `index` given every line above it, trimmed of surrounding blanks.
    func nextLine(_ lines: [Substring], _ index: Int) throws -> String {
        let prefix = lines[..<index].joined()
        let budget = max(1, min(options.window, model.config.contextLength) - options.lineTokens)
        let prompt = Array(model.tokenizer.encode(prefix, addSpecial: true, parseSpecial: false).suffix(budget))
        let result = try Generator(model: model).generate(
            prompt: prompt, options: GenerationOptions(maxTokens: options.lineTokens, stopStrings: ["\n"]))
        return result.text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Takes line `index` out and lets the model write it back from the code before and after it.
    func infill(_ lines: [Substring], _ index: Int) throws -> InfillSample {
        let prefix = lines[..<index].joined(), suffix = lines[(index + 1)...].joined()
        let prompt = try fimPrompt(prefix: prefix, suffix: suffix, room: options.sampleTokens)
        let result = try Generator(model: model).generate(
            prompt: prompt, options: GenerationOptions(maxTokens: options.sampleTokens, sampling: options.sampling))
        return InfillSample(line: index, expected: String(lines[index]), completion: result.text,
                            tokens: result.tokens, filledText: prefix + result.text + suffix)
    }

    /// `<prefix>P<suffix>S<middle>` with P's tail and S's head cut to leave `room` tokens of the context.
    func fimPrompt(prefix: String, suffix: String, room: Int) throws -> [Int32] {
        guard let fim = model.tokenizer.fim else {
            throw ModelError("the model has no fill-in-the-middle tokens, so it cannot be asked for infills")
        }
        let budget = max(2, min(options.window, model.config.contextLength) - room - 3)
        var p = model.tokenizer.encode(prefix, parseSpecial: false)
        var s = model.tokenizer.encode(suffix, parseSpecial: false)
        let keepSuffix = min(s.count, max(budget / 3, budget - p.count))
        s = Array(s.prefix(keepSuffix))
        p = Array(p.suffix(budget - keepSuffix))
        let bos = model.tokenizer.addBOS ? model.tokenizer.bos.map { [$0] } ?? [] : []
        return bos + [fim.prefix] + p + [fim.suffix] + s + [fim.middle]
    }

    /// Lines with their line breaks kept.
    static func lines(of text: String) -> [Substring] {
        var result: [Substring] = []
        var start = text.startIndex
        while start < text.endIndex {
            let end = text[start...].firstIndex(of: "\n").map { text.index(after: $0) } ?? text.endIndex
            result.append(text[start..<end])
            start = end
        }
        return result
    }

    /// Up to `count` evenly spread lines (after the first) that `rule` accepts: with `.any`, every line with at
    /// least 4 non-blank characters; with `.code`, the lines of code (`codeLines`).
    static func probeLines(_ lines: [Substring], count: Int, rule: ProbeRule = .any) -> [Int] {
        let candidates: [Int]
        switch rule {
        case .any:
            candidates = lines.indices.dropFirst().filter {
                lines[$0].trimmingCharacters(in: .whitespacesAndNewlines).count >= 4
            }
        case .code:
            let code = codeLines(lines)
            candidates = lines.indices.dropFirst().filter { code[$0] }
        }
        guard count > 0, !candidates.isEmpty else { return [] }
        if candidates.count <= count { return Array(candidates) }
        return (0..<count).map { candidates[($0 * 2 + 1) * candidates.count / (2 * count)] }
    }

    /// Per line: is it a line of code? Not a line that starts inside a triple-quoted string (a docstring's body or
    /// closing line), not a comment (`#` first), not a line that opens a triple-quoted string (a docstring), and
    /// at least 4 non-blank characters. A small scanner follows strings through the lines: '...' and "..." end
    /// at their quote or the line's end, triple-quoted strings may span lines, a backslash escapes the next
    /// character, `#` outside a string ends the line's code. tools/finetune/lora_train.py's `code_lines` is the
    /// same rule; on the Python 3.11 standard library's top-level modules it agrees with CPython's tokenizer on
    /// every line.
    static func codeLines(_ lines: [Substring]) -> [Bool] {
        let backslash: Unicode.Scalar = "\\"
        var result: [Bool] = []
        var open: Unicode.Scalar? = nil  // the quote of the triple-quoted string the line starts in
        for line in lines {
            let scalars = Array(line.unicodeScalars)
            let stripped = Array(line.trimmingCharacters(in: .whitespacesAndNewlines).unicodeScalars)
            result.append(open == nil && stripped.count >= 4 && stripped.first != "#" && !opensTripleQuote(stripped))
            func triple(at i: Int) -> Unicode.Scalar? {
                guard i + 2 < scalars.count, scalars[i] == "\"" || scalars[i] == "'",
                      scalars[i + 1] == scalars[i], scalars[i + 2] == scalars[i] else { return nil }
                return scalars[i]
            }
            var i = 0
            var single: Unicode.Scalar? = nil
            while i < scalars.count {
                let c = scalars[i]
                if let q = open {
                    if c == backslash { i += 2 } else if triple(at: i) == q { open = nil; i += 3 } else { i += 1 }
                } else if let q = single {
                    if c == backslash { i += 2; continue }
                    if c == q || c == "\n" { single = nil }
                    i += 1
                } else if c == "#" {
                    break
                } else if c == "\"" || c == "'" {
                    if let q = triple(at: i) { open = q; i += 3 } else { single = c; i += 1 }
                } else {
                    i += 1
                }
            }
        }
        return result
    }

    /// Whether a stripped line starts with a triple quote after at most two string-prefix letters (r, b, u, f).
    static func opensTripleQuote(_ s: [Unicode.Scalar]) -> Bool {
        let prefixes = Set("rRbBuUfF".unicodeScalars)
        for k in 0...2 where k + 3 <= s.count && s[..<k].allSatisfy({ prefixes.contains($0) }) {
            if (s[k] == "\"" || s[k] == "'") && s[k + 1] == s[k] && s[k + 2] == s[k] { return true }
        }
        return false
    }

    /// Distinct tokens ÷ all tokens (0 when there are none).
    public static func distinct1(_ samples: [[Int32]]) -> Double {
        let all = samples.flatMap { $0 }
        return all.isEmpty ? 0 : Double(Set(all).count) / Double(all.count)
    }

    static func logSumExp(_ row: UnsafeBufferPointer<Float>) -> Float {
        let m = row.max() ?? 0
        var sum: Float = 0
        for v in row { sum += expf(v - m) }
        return m + logf(sum)
    }
}
