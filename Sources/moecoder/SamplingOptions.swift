import ArgumentParser
import Engine

/// The sampling flags `generate` and `chat` share.
struct SamplingOptions: ParsableArguments {
    @Option(help: "Sampling temperature; 0 picks the most likely token.")
    var temperature: Float = 0

    @Option(help: "Keep only the k most likely tokens (0 = all).")
    var topK: Int = 40

    @Option(help: "Nucleus sampling: keep the smallest set of tokens reaching this probability.")
    var topP: Float = 0.95

    @Option(help: "Drop tokens less likely than this fraction of the most likely one.")
    var minP: Float = 0.05

    @Option(help: "Penalty > 1 for repeating recent tokens.")
    var repeatPenalty: Float = 1

    @Option(help: "Random seed (same seed, same output).")
    var seed: UInt64 = 0

    func validate() throws {
        if temperature < 0 { throw ValidationError("--temperature must not be negative") }
        if topP <= 0 || topP > 1 { throw ValidationError("--top-p must be in (0, 1]") }
        if minP < 0 || minP >= 1 { throw ValidationError("--min-p must be in [0, 1)") }
        if repeatPenalty <= 0 { throw ValidationError("--repeat-penalty must be positive") }
    }

    /// The sampler's parameters, with the seed moved by `seedOffset` (a chat's turn).
    func parameters(seedOffset: UInt64 = 0) -> SamplingParameters {
        SamplingParameters(temperature: temperature, topK: topK, topP: topP, minP: minP,
                           repetitionPenalty: repeatPenalty, seed: seed &+ seedOffset)
    }
}
