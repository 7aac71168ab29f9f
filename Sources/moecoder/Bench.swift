import ArgumentParser
import Engine
import Kernels
import Foundation

/// `moecoder bench`: prompt and decode speed, and peak memory.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure prompt processing and decode speed (tokens/s) and peak memory.",
        discussion: "Runs each measurement --repetitions times after one warm-up run and reports the median. Measure on "
            + "an idle machine; on a busy one, compare the rates per CPU-second (--json: *_per_cpu_s; with --threads 1 "
            + "they count the work alone, with more they include the workers' spinning). The vector kernels in use are reported (MOECODER_KERNELS=portable|avx2|avx512 "
            + "lowers them).")

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Prompt length in tokens.")
    var promptTokens: Int = 128

    @Option(help: "Tokens to decode after the prompt.")
    var genTokens: Int = 32

    @Option(help: "Repetitions (the median is reported).")
    var repetitions: Int = 3

    @Flag(help: "Also measure the memory read bandwidth (1 GiB buffer) and report decode's share of it.")
    var bandwidth = false

    @Option(help: ArgumentHelp(
        "Also decode this many sequences together (one forward pass a step, as `serve` does) and report the "
            + "aggregate tokens/s and its ratio to one sequence.", valueName: "N"))
    var batch: Int?

    @Option(help: ArgumentHelp(
        "Also replay this source file's tokens through the syntax constraint, as if the model wrote them, and "
            + "report the constraint's time per token and its share of decode time.", valueName: "FILE"))
    var constraint: String?

    @Option(help: ArgumentHelp("The --constraint file's language (default: from its extension).", valueName: "NAME"))
    var constraintLanguage: String?

    @Option(help: ArgumentHelp("In one more replay of --constraint, ask for the full mask every N tokens (0: no mask pass).",
                               valueName: "N"))
    var constraintMaskEvery: Int = 8

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        if let batch, !(1...512).contains(batch) { throw ValidationError("--batch must be between 1 and 512") }
        if constraintMaskEvery < 0 { throw ValidationError("--constraint-mask-every must be 0 or more") }
        if promptTokens < 1 || genTokens < 1 || repetitions < 1 {
            throw ValidationError("--prompt-tokens, --gen-tokens and --repetitions must be at least 1")
        }
    }

    func run() throws {
        let loadStart = Date()
        // With --batch the KV cache is serve's (q8_0) unless --kv-type says otherwise: both the single sequence and
        // the batch use it, so the ratio compares like with like.
        let model = try modelOptions.load(batchDefaults: batch != nil)
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
        // The same per second of the process's CPU time (all its threads): steady on a busy machine where
        // wall-clock rates swing; with one thread, the work itself.
        var promptCPURates: [Double] = [], decodeCPURates: [Double] = [], batchCPURates: [Double] = []
        let cache = transformer.makeCache(capacity: capacity)
        do {
            // One warm-up pass (page faults on the mapped weights, scratch growth), not counted.
            _ = try transformer.forward(prompt, cache: cache)
            for _ in 0..<repetitions {
                cache.truncate(to: 0)
                let t0 = Date(), c0 = cpuSeconds()
                var logits = try transformer.forward(prompt, cache: cache)
                promptRates.append(Double(promptTokens) / Date().timeIntervalSince(t0))
                promptCPURates.append(Double(promptTokens) / (cpuSeconds() - c0))
                let t1 = Date(), c1 = cpuSeconds()
                for _ in 0..<genTokens {
                    let next = Sampler.argmax(logits)
                    logits = try transformer.forward([next], cache: cache)
                }
                decodeRates.append(Double(genTokens) / Date().timeIntervalSince(t1))
                decodeCPURates.append(Double(genTokens) / (cpuSeconds() - c1))
            }
        } catch let error as ModelError {
            throw CLIFailure(message: error.message)
        }
        func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
        // Peak memory of the model's work, read before the batched run's caches
        // and the bandwidth probe's buffer.
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let peakMB = Double(usage.ru_maxrss) / 1024
        // Batched decode: `batch` sequences, each after its own prompt, one forward pass a step for all.
        var batchRates: [Double] = []
        if let batch {
            do {
                let caches = (0..<batch).map { _ in transformer.makeCache(capacity: capacity) }
                for _ in 0..<repetitions {
                    var next: [Int32] = []
                    for (i, c) in caches.enumerated() {
                        c.truncate(to: 0)
                        var p = prompt
                        p[0] = Int32((Int(p[0]) + i) % vocab)
                        next.append(Sampler.argmax(try transformer.forward(p, cache: c)))
                    }
                    let t0 = Date(), c0 = cpuSeconds()
                    for _ in 0..<genTokens {
                        let logits = try transformer.forward(batch: zip(next, caches).map { .init(tokens: [$0], cache: $1) })
                        for i in 0..<batch {
                            next[i] = Sampler.argmax(UnsafeMutableBufferPointer(rebasing: logits[(i * vocab)..<((i + 1) * vocab)]))
                        }
                    }
                    batchRates.append(Double(genTokens * batch) / Date().timeIntervalSince(t0))
                    batchCPURates.append(Double(genTokens * batch) / (cpuSeconds() - c0))
                }
            } catch let error as ModelError {
                throw CLIFailure(message: error.message)
            }
        }
        let replay = try constraint.map {
            try ConstraintReplay.run(path: $0, languageName: constraintLanguage, tokenizer: model.tokenizer,
                                     runs: repetitions, maskEvery: constraintMaskEvery)
        }
        let decodeMicroseconds = 1e6 / median(decodeRates)
        let weightBytes = transformer.decodeWeightBytes
        let readBandwidth = bandwidth ? KernelLevel.readBandwidth(pool: transformer.pool) : nil
        let fraction = readBandwidth.map { median(decodeRates) * Double(weightBytes) / $0 }
        if json {
            struct Report: Encodable {
                var model: String, architecture: String, threads: Int, prompt_tokens: Int, gen_tokens: Int
                var prompt_tokens_per_s: Double, decode_tokens_per_s: Double
                var prompt_runs: [Double], decode_runs: [Double], peak_rss_mb: Double, load_ms: Double
                var kernels: String, activations: String, kv_type: String
                var decode_weight_bytes: Int, read_bandwidth_gbs: Double?, decode_bandwidth_fraction: Double?
                var batch: Int?, batch_decode_tokens_per_s: Double?, batch_speedup: Double?
                var prompt_tokens_per_cpu_s: Double, decode_tokens_per_cpu_s: Double
                var batch_decode_tokens_per_cpu_s: Double?, batch_speedup_cpu: Double?
                var constraint: ConstraintReplay.Report?, constraint_share_of_decode: Double?
            }
            print(try JSON.line(Report(
                model: model.path, architecture: model.config.architecture.rawValue, threads: modelOptions.threads,
                prompt_tokens: promptTokens, gen_tokens: genTokens, prompt_tokens_per_s: median(promptRates),
                decode_tokens_per_s: median(decodeRates), prompt_runs: promptRates, decode_runs: decodeRates,
                peak_rss_mb: peakMB, load_ms: loadSeconds * 1000, kernels: KernelLevel.name,
                activations: transformer.activations == .exact ? "exact" : "8-bit",
                kv_type: transformer.kvType.name.lowercased(),
                decode_weight_bytes: weightBytes, read_bandwidth_gbs: readBandwidth.map { $0 / 1e9 },
                decode_bandwidth_fraction: fraction, batch: batch,
                batch_decode_tokens_per_s: batchRates.isEmpty ? nil : median(batchRates),
                batch_speedup: batchRates.isEmpty ? nil : median(batchRates) / median(decodeRates),
                prompt_tokens_per_cpu_s: median(promptCPURates), decode_tokens_per_cpu_s: median(decodeCPURates),
                batch_decode_tokens_per_cpu_s: batchCPURates.isEmpty ? nil : median(batchCPURates),
                batch_speedup_cpu: batchCPURates.isEmpty ? nil : median(batchCPURates) / median(decodeCPURates),
                constraint: replay, constraint_share_of_decode: replay.map { $0.us_per_token_mean / decodeMicroseconds })))
        } else {
            print(String(format: "prompt  %d tokens: %.1f tokens/s", promptTokens, median(promptRates)))
            print(String(format: "decode  %d tokens: %.1f tokens/s", genTokens, median(decodeRates)))
            if let batch, !batchRates.isEmpty {
                print(String(format: "batch   %d sequences: %.1f tokens/s in all, %.1fx one sequence", batch,
                             median(batchRates), median(batchRates) / median(decodeRates)))
                print(String(format: "        per CPU-second: %.1f tokens batched vs %.1f one sequence (%.1fx)",
                             median(batchCPURates), median(decodeCPURates), median(batchCPURates) / median(decodeCPURates)))
            }
            print(String(format: "memory  %.1f MB peak (resident); load %.0f ms; %d threads", peakMB, loadSeconds * 1000,
                         modelOptions.threads))
            print("kernels \(KernelLevel.name), \(transformer.activations == .exact ? "exact" : "8-bit") activations, "
                  + "\(transformer.kvType.name.lowercased()) KV cache")
            print(String(format: "weights %.1f MB read per decoded token", Double(weightBytes) / 1e6))
            if let r = replay {
                print(String(format: "syntax  %@ (%d tokens, %@): %.1f µs a token (p50 %.1f, p99 %.1f; first run %.1f), "
                             + "%.1f %% of a decode step", r.file, r.tokens, r.language, r.us_per_token_mean,
                             r.us_per_token_p50, r.us_per_token_p99, r.first_run_us_per_token_mean,
                             r.us_per_token_mean / decodeMicroseconds * 100))
                if r.judged_line_ends > 0 {
                    print(String(format: "        %d logical line ends judged, %.1f µs each", r.judged_line_ends,
                                 r.us_per_judged_line_end))
                }
                if r.masks > 0 {
                    print(String(format: "        full mask %.0f µs (%d asked, %d from the cache)", r.us_per_mask, r.masks,
                                 r.cached_masks))
                }
                print("        \(r.refused_tokens) tokens of the file refused" + (r.degraded.map { " (\($0))" } ?? ""))
            }
            if let readBandwidth, let fraction {
                print(String(format: "memory  %.1f GB/s read bandwidth; decode reaches %.0f %% of it", readBandwidth / 1e9,
                             fraction * 100))
            }
        }
    }
}

/// CPU time of the whole process so far (every thread), in seconds.
private func cpuSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}
