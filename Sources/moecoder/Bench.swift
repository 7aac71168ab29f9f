import ArgumentParser
import Engine
import Foundation

/// `moecoder bench`: prompt and decode speed, and peak memory.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure prompt processing and decode speed (tokens/s) and peak memory.",
        discussion: "Runs each measurement --repetitions times and reports the median. Measure on an idle machine.")

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Prompt length in tokens.")
    var promptTokens: Int = 128

    @Option(help: "Tokens to decode after the prompt.")
    var genTokens: Int = 32

    @Option(help: "Repetitions (the median is reported).")
    var repetitions: Int = 3

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        if promptTokens < 1 || genTokens < 1 || repetitions < 1 {
            throw ValidationError("--prompt-tokens, --gen-tokens and --repetitions must be at least 1")
        }
    }

    func run() throws {
        let loadStart = Date()
        let model = try modelOptions.load()
        let loadSeconds = Date().timeIntervalSince(loadStart)
        let transformer = model.transformer
        let vocab = model.config.vocabularySize
        var rng = SeededGenerator(seed: 1)
        let prompt = (0..<promptTokens).map { _ in Int32(rng.next() % UInt64(vocab)) }
        let capacity = promptTokens + genTokens
        guard capacity <= model.config.contextLength else {
            throw CLIFailure(message: "--prompt-tokens + --gen-tokens (\(capacity)) exceed the model's context \(model.config.contextLength)")
        }
        var promptRates: [Double] = [], decodeRates: [Double] = []
        let cache = transformer.makeCache(capacity: capacity)
        do {
            for _ in 0..<repetitions {
                cache.truncate(to: 0)
                let t0 = Date()
                var logits = try transformer.forward(prompt, cache: cache)
                promptRates.append(Double(promptTokens) / Date().timeIntervalSince(t0))
                let t1 = Date()
                for _ in 0..<genTokens {
                    let next = Sampler.argmax(logits)
                    logits = try transformer.forward([next], cache: cache)
                }
                decodeRates.append(Double(genTokens) / Date().timeIntervalSince(t1))
            }
        } catch let error as ModelError {
            throw CLIFailure(message: error.message)
        }
        func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let peakMB = Double(usage.ru_maxrss) / 1024
        if json {
            struct Report: Encodable {
                var model: String, architecture: String, threads: Int, prompt_tokens: Int, gen_tokens: Int
                var prompt_tokens_per_s: Double, decode_tokens_per_s: Double
                var prompt_runs: [Double], decode_runs: [Double], peak_rss_mb: Double, load_ms: Double
            }
            print(try JSON.line(Report(
                model: model.path, architecture: model.config.architecture.rawValue, threads: modelOptions.threads,
                prompt_tokens: promptTokens, gen_tokens: genTokens, prompt_tokens_per_s: median(promptRates),
                decode_tokens_per_s: median(decodeRates), prompt_runs: promptRates, decode_runs: decodeRates,
                peak_rss_mb: peakMB, load_ms: loadSeconds * 1000)))
        } else {
            print(String(format: "prompt  %d tokens: %.1f tokens/s", promptTokens, median(promptRates)))
            print(String(format: "decode  %d tokens: %.1f tokens/s", genTokens, median(decodeRates)))
            print(String(format: "memory  %.1f MB peak (resident); load %.0f ms; %d threads", peakMB, loadSeconds * 1000,
                         modelOptions.threads))
        }
    }
}
