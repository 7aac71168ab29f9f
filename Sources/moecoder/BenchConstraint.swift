import Assist
import Engine
import Foundation
import Syntax
import Tokenizer

/// `moecoder bench --constraint FILE`: the syntax constraint's cost on real code, without the model's choices in
/// the way. FILE's tokens are replayed through a fresh constraint as if the model wrote them (each one checked as
/// a sampled pick is, then accepted). One more pass asks at every `maskEvery`-th step for the full mask that the
/// sampler falls back to after many refused picks. A file that parses should never be refused: refusals are
/// reported.
struct ConstraintReplay {
    struct Report: Encodable {
        var file: String, language: String, tokens: Int, runs: Int
        /// Per token (check + accept bookkeeping, as in generation), median over the runs after the first.
        var us_per_token_mean: Double, us_per_token_p50: Double, us_per_token_p99: Double
        /// The first run: the process's first use of the grammar tables and code paths.
        var first_run_us_per_token_mean: Double
        /// Logical line ends judged by the Python validity gate, and the gate's time per judged line end (within
        /// the per-token figures).
        var judged_line_ends: Int, us_per_judged_line_end: Double
        /// The mask pass: masks asked for, how many came from the cache, and their mean cost.
        var masks: Int, cached_masks: Int, us_per_mask: Double
        /// Tokens of the file the constraint refused (should be 0 for a file that compiles), and whether it degraded.
        var refused_tokens: Int, degraded: String?
    }

    static func run(path: String, languageName: String?, tokenizer: BPETokenizer, runs: Int, maskEvery: Int) throws -> Report {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIFailure(message: "cannot read \(path)")
        }
        let text = String(decoding: data, as: UTF8.self)
        let language: Language
        if let languageName {
            language = try Language.named(languageName)
        } else if let found = Language.forPath(path) {
            language = found
        } else {
            throw CLIFailure(message: "cannot tell the language of \(path) from its extension: pass --constraint-language")
        }
        let tokens = tokenizer.encode(text, addSpecial: false, parseSpecial: false)
        guard !tokens.isEmpty else { throw CLIFailure(message: "\(path) is empty") }
        var logits = [Float](repeating: 0, count: tokenizer.vocabularySize)
        var means: [Double] = [], p50s: [Double] = [], p99s: [Double] = []
        var last = ConstraintStatistics()
        var refused = 0, degraded: String?, masks = ConstraintStatistics()
        for run in 0...max(1, runs) {
            let masking = run == max(1, runs)
            if masking && maskEvery <= 0 { break }
            let constraint = try SyntaxConstraint(language: language, tokenizer: tokenizer, prefix: "")
            var refusedHere = 0
            for (i, token) in tokens.enumerated() {
                if masking, i % maskEvery == maskEvery - 1 {
                    logits.withUnsafeMutableBufferPointer { constraint.mask($0) }
                }
                if !constraint.allows(token) { refusedHere += 1 }
                constraint.accept(token)
            }
            let st = constraint.statistics
            if masking {
                masks = st
                break
            }
            refused = refusedHere
            let steps = st.stepMicroseconds.sorted()
            means.append(st.stepMean)
            p50s.append(steps.isEmpty ? 0 : steps[steps.count / 2])
            p99s.append(st.stepP99)
            last = st
            degraded = constraint.degraded
        }
        func median(_ xs: ArraySlice<Double>) -> Double { xs.sorted()[xs.count / 2] }
        let warm = means.count > 1 ? 1 : 0
        return Report(
            file: path, language: language.name, tokens: tokens.count, runs: means.count,
            us_per_token_mean: median(means[warm...]), us_per_token_p50: median(p50s[warm...]),
            us_per_token_p99: median(p99s[warm...]), first_run_us_per_token_mean: means[0],
            judged_line_ends: last.pythonJudged,
            us_per_judged_line_end: last.pythonJudged > 0 ? last.pythonMicroseconds / Double(last.pythonJudged) : 0,
            masks: masks.masks, cached_masks: masks.cachedMasks,
            us_per_mask: masks.masks > 0 ? masks.maskMicroseconds / Double(masks.masks) : 0,
            refused_tokens: refused, degraded: degraded)
    }
}
