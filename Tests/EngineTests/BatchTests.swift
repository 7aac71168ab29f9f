import Foundation
import Testing
@testable import Engine
import Kernels

/// Batched forward passes and the continuous-batching scheduler: a sequence computes the same in a batch as
/// alone (to rounding; token for token), so that serving many users never changes one user's answer.
@Suite(.serialized) struct BatchTests {
    static let files = ["llama.gguf", "qwen2moe-q8_0.gguf", "deepseek2-q8_0.gguf", "deepseek2-legacy-kvb.gguf",
                        "mixtral.gguf", "qwen2.gguf"]

    static func randomTokens(_ count: Int, vocab: Int, rng: inout SeededGenerator) -> [Int32] {
        (0..<count).map { _ in Int32(rng.next() % UInt64(vocab)) }
    }

    @Test(arguments: files, [Activations.quantized, .exact])
    func batchRowsEqualSeparatePasses(file: String, activations: Activations) throws {
        try Self.compareBatchWithSeparatePasses(path: ModelFixture.folder.appendingPathComponent(file).path,
                                                activations: activations, kvType: .f32)
    }

    /// The same with the KV cache stored as f16 or q8_0 (serve's default): the fused grouped attention over
    /// typed rows gives a sequence the same logits in a batch as alone. q8_0 needs the default model's 64-wide
    /// heads (the fixtures' are 16 wide).
    @Test(arguments: [("default", TensorType.q8_0), ("default", .f16), ("qwen2moe-q8_0.gguf", .f16), ("llama.gguf", .f16)])
    func batchRowsEqualSeparatePassesWithTypedCaches(file: String, kvType: TensorType) throws {
        let path = file == "default"
            ? ModelFixture.folder.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("models/default.gguf").path
            : ModelFixture.folder.appendingPathComponent(file).path
        try Self.compareBatchWithSeparatePasses(path: path, activations: .quantized, kvType: kvType)
    }

    static func compareBatchWithSeparatePasses(path: String, activations: Activations, kvType: TensorType) throws {
        let file = URL(fileURLWithPath: path).lastPathComponent
        let model = try LanguageModel(path: path, threads: 2)
        let t = model.transformer
        t.activations = activations
        try t.setKVType(kvType)
        let vocab = model.config.vocabularySize
        var rng = SeededGenerator(seed: 11)
        // Sequences at different depths; new rows of 1 (decode), 3, 9 (the matrix attention path) and 1.
        let histories = [5, 0, 12, 30].map { Self.randomTokens($0, vocab: vocab, rng: &rng) }
        let news = [1, 3, 9, 1].map { Self.randomTokens($0, vocab: vocab, rng: &rng) }
        var expected: [[Float]] = []
        for (history, new) in zip(histories, news) {
            let cache = t.makeCache(capacity: 64)
            if !history.isEmpty { _ = try t.forward(history, cache: cache) }
            expected.append(try t.logits(new, cache: cache))
        }
        var inputs: [Transformer.SequenceInput] = []
        for history in histories {
            let cache = t.makeCache(capacity: 64)
            if !history.isEmpty { _ = try t.forward(history, cache: cache) }
            inputs.append(.init(tokens: [], cache: cache))
        }
        for i in inputs.indices { inputs[i].tokens = news[i] }
        let batched = Array(try t.forward(batch: inputs))
        for i in inputs.indices {
            // The same to rounding: products over several rows may take other kernels (4-row integer dots, sgemm)
            // than a pass over one row, which sum in another order.
            let row = Array(batched[(i * vocab)..<((i + 1) * vocab)])
            let scale = expected[i].map(abs).max() ?? 1
            let worst = zip(row, expected[i]).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-5 * scale, "\(file) sequence \(i): \(worst) of \(scale)")
            var reference = expected[i], mine = row
            #expect(mine.withUnsafeMutableBufferPointer { Sampler.argmax($0) }
                    == reference.withUnsafeMutableBufferPointer { Sampler.argmax($0) })
            #expect(inputs[i].cache.count == histories[i].count + news[i].count)
        }
    }

    @Test func batchRefusesTheSameCacheTwiceAndAFullCache() throws {
        let model = try LanguageModel(path: ModelFixture.folder.appendingPathComponent("llama.gguf").path, threads: 1)
        let t = model.transformer
        let cache = t.makeCache(capacity: 4)
        #expect(throws: ModelError.self) { try t.forward(batch: [.init(tokens: [1], cache: cache), .init(tokens: [2], cache: cache)]) }
        #expect(throws: ModelError.self) { try t.forward(batch: [.init(tokens: [1, 2, 3, 4, 5], cache: cache)]) }
        #expect(throws: ModelError.self) { try t.forward(batch: []) }
    }

    /// Requests decoded together by the scheduler give exactly what each gives alone through `Generator`,
    /// token for token, with seeded sampling, a long prompt prefilled in chunks beside decoding streams, and stop strings.
    @Test func schedulerMatchesSingleSequenceGeneration() async throws {
        let model = try LanguageModel(path: ModelFixture.folder.appendingPathComponent("qwen2moe-q8_0.gguf").path,
                                      threads: 2)
        let vocab = model.config.vocabularySize
        var rng = SeededGenerator(seed: 5)
        let prompts = [3, 40, 200, 7, 129, 1].map { Self.randomTokens($0, vocab: vocab, rng: &rng) }
        func options(_ i: Int) -> GenerationOptions {
            GenerationOptions(maxTokens: 6 + i * 3,
                              sampling: SamplingParameters(temperature: i % 2 == 0 ? 0 : 0.9, seed: UInt64(i + 1)),
                              ignoreEOS: true)
        }
        var alone: [GenerationResult] = []
        for (i, prompt) in prompts.enumerated() {
            alone.append(try Generator(model: model).generate(prompt: prompt, options: options(i)))
        }
        var settings = BatchScheduler.Settings(contextSize: model.config.contextLength)
        settings.stepTokens = 200
        let scheduler = BatchScheduler(model: model, settings: settings)
        let sizes = Locked([Int]())
        scheduler.onStep = { info in sizes.withLock { $0.append(info.sequences) } }
        scheduler.start()
        let results = try await withThrowingTaskGroup(of: (Int, GenerationResult, String).self) { group in
            for (i, prompt) in prompts.enumerated() {
                group.addTask {
                    try await withCheckedThrowingContinuation { continuation in
                        let streamed = Locked("")
                        do {
                            try scheduler.submit(prompt: prompt, options: options(i)) { event in
                                switch event {
                                case .text(let piece): streamed.withLock { $0 += piece }
                                case .finished(let result): continuation.resume(returning: (i, result, streamed.withLock { $0 }))
                                case .failed(let message): continuation.resume(throwing: ModelError(message))
                                }
                            }
                        } catch { continuation.resume(throwing: error) }
                    }
                }
            }
            var all: [(Int, GenerationResult, String)] = []
            for try await item in group { all.append(item) }
            return all.sorted { $0.0 < $1.0 }
        }
        scheduler.shutdown(cancelRunning: false)
        for (i, result, streamed) in results {
            #expect(result.tokens == alone[i].tokens, "request \(i)")
            #expect(result.stopReason == alone[i].stopReason)
            #expect(streamed == alone[i].text)
        }
        #expect(sizes.withLock { $0.max() ?? 0 } > 1, "the requests were never batched together")
    }

    @Test func schedulerCancelsAndRefuses() async throws {
        let model = try LanguageModel(path: ModelFixture.folder.appendingPathComponent("llama.gguf").path, threads: 1)
        var settings = BatchScheduler.Settings(contextSize: 64)
        settings.maxQueue = 1
        let scheduler = BatchScheduler(model: model, settings: settings)
        #expect(throws: BatchScheduler.SubmitError.promptTooLong(tokens: 64, limit: 64)) {
            try scheduler.submit(prompt: Array(repeating: 1, count: 64), options: GenerationOptions()) { _ in }
        }
        #expect(throws: BatchScheduler.SubmitError.emptyPrompt) {
            try scheduler.submit(prompt: [], options: GenerationOptions()) { _ in }
        }
        // Not started yet: the queue fills.
        let first = try scheduler.submit(prompt: [1, 2], options: GenerationOptions(maxTokens: 40, ignoreEOS: true)) { _ in }
        #expect(throws: BatchScheduler.SubmitError.queueFull(waiting: 1)) {
            try scheduler.submit(prompt: [1], options: GenerationOptions()) { _ in }
        }
        first.cancel()
        let reason = Locked<StopReason?>(nil)
        scheduler.start()
        try await Task.sleep(nanoseconds: 200_000_000)
        let second = try scheduler.submit(prompt: [3, 4], options: GenerationOptions(maxTokens: 40, ignoreEOS: true)) { event in
            if case .finished(let result) = event { reason.withLock { $0 = result.stopReason } }
        }
        second.cancel()
        scheduler.shutdown(cancelRunning: false)
        #expect(reason.withLock { $0 } == .cancelled)
        #expect(scheduler.load.running == 0 && scheduler.load.cacheBytes == 0)
        #expect(throws: BatchScheduler.SubmitError.stopped) {
            try scheduler.submit(prompt: [1], options: GenerationOptions()) { _ in }
        }
    }

    /// Requests that share a long prefix with one served before take it from the shared cache: only their own
    /// tokens are computed, they hold the shared blocks once, and they decode as with a cache of their own.
    @Test func schedulerReusesASharedPrefix() async throws {
        let model = try LanguageModel(path: ModelFixture.folder.appendingPathComponent("qwen2moe-q8_0.gguf").path,
                                      threads: 2)
        let t = model.transformer
        let vocab = model.config.vocabularySize
        var rng = SeededGenerator(seed: 8)
        let prefix = Self.randomTokens(300, vocab: vocab, rng: &rng)
        let prompts = [prefix + Self.randomTokens(5, vocab: vocab, rng: &rng)]
            + (0..<4).map { _ in prefix + Self.randomTokens(20, vocab: vocab, rng: &rng) }
        let options = GenerationOptions(maxTokens: 8, ignoreEOS: true)
        let alone = try prompts.map { prompt in
            try Generator(model: model).generate(prompt: prompt, options: options,
                                                 cache: t.makeCache(capacity: prompt.count + 8))
        }
        let scheduler = BatchScheduler(model: model, settings: BatchScheduler.Settings(contextSize: 512))
        scheduler.start()
        func run(_ prompt: [Int32]) async throws -> GenerationResult {
            try await Self.result(of: prompt, from: scheduler, options: options)
        }
        let first = try await run(prompts[0])
        #expect(first.cachedPromptTokens == 0 && first.tokens == alone[0].tokens)
        let heldByOne = t.kvPool.stats.blocks
        let rest = try await withThrowingTaskGroup(of: (Int, GenerationResult).self) { group in
            for i in 1..<prompts.count { group.addTask { (i, try await run(prompts[i])) } }
            var all: [(Int, GenerationResult)] = []
            for try await item in group { all.append(item) }
            return all
        }
        scheduler.shutdown(cancelRunning: false)
        for (i, result) in rest {
            #expect(result.cachedPromptTokens >= 300, "request \(i) computed its shared prefix again")
            #expect(result.tokens == alone[i].tokens, "request \(i)")
        }
        // 300 shared positions stored once: the four others add about their own 28 positions each.
        let blocks = t.kvPool.stats.blocks
        #expect(blocks <= heldByOne + 4 * 3, "\(blocks) blocks after, \(heldByOne) after the first")
    }

    /// `cacheReuse`: a request whose prompt holds a cached run at other positions takes it shifted (after a gap of
    /// two computed tokens here) and decodes as the same steps done by hand on a pool with the same contents; one
    /// without a gap takes it whole; without the setting nothing moves.
    @Test func schedulerReusesShiftedChunks() async throws {
        let model = try LanguageModel(path: ModelFixture.folder.appendingPathComponent("llama.gguf").path, threads: 2)
        let t = model.transformer
        t.activations = .exact
        let vocab = model.config.vocabularySize
        var rng = SeededGenerator(seed: 15)
        let v = Self.randomTokens(30, vocab: vocab, rng: &rng), text = Self.randomTokens(100, vocab: vocab, rng: &rng)
        let old = v + text
        let gapped = Self.randomTokens(2, vocab: vocab, rng: &rng) + text + Self.randomTokens(4, vocab: vocab, rng: &rng)
        let plain = text + Self.randomTokens(6, vocab: vocab, rng: &rng)
        let options = GenerationOptions(maxTokens: 8, ignoreEOS: true)

        // By hand: the old request, then the gapped prompt's chunk placed ahead, its gap, its rest, decoding.
        let pool = KVBlockPool(config: model.config, budgetBytes: 64 << 20, type: t.kvType)
        _ = try Generator(model: model).generate(prompt: old, options: options, cache: pool.makeCache(capacity: 200))
        let cache = pool.makeCache(capacity: 200)
        cache.reuseShiftedChunks(of: gapped, limit: gapped.count - 1, minimum: 32, shift: t.keyShift,
                                 maxGap: BatchScheduler.cacheReuseGap)
        #expect(cache.pendingChunk?.start == 2 && cache.pendingChunk?.length == 100)
        _ = try t.forward(Array(gapped[..<2]), cache: cache)
        #expect(cache.count == 102)
        let byHand = try Generator(model: model).generate(prompt: gapped, options: options, cache: cache)

        var settings = BatchScheduler.Settings(contextSize: 512)
        settings.cacheReuse = 32
        let scheduler = BatchScheduler(model: model, settings: settings)
        scheduler.start()
        func run(_ prompt: [Int32]) async throws -> GenerationResult {
            try await Self.result(of: prompt, from: scheduler, options: options)
        }
        let first = try await run(old)
        #expect(first.cachedPromptTokens == 0)
        let moved = try await run(gapped)
        #expect(moved.cachedPromptTokens == 100)
        #expect(moved.tokens == byHand.tokens)
        let whole = try await run(plain)
        #expect(whole.cachedPromptTokens >= 100 && whole.tokens.count == 8)
        scheduler.shutdown(cancelRunning: false)
        #expect(t.kvPool.stats.shiftedChunks >= 2)

        // Without the setting: exact prefixes only (the text is cached at other positions, and stays there).
        let exact = BatchScheduler(model: model, settings: BatchScheduler.Settings(contextSize: 512))
        exact.start()
        let before = t.kvPool.stats.shiftedTokens
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            do {
                try exact.submit(prompt: [Int32(vocab - 1)] + text + [9], options: options) { event in
                    if case .finished(let result) = event {
                        #expect(result.cachedPromptTokens <= 16)
                        continuation.resume()
                    } else if case .failed(let message) = event { continuation.resume(throwing: ModelError(message)) }
                }
            } catch { continuation.resume(throwing: error) }
        }
        exact.shutdown(cancelRunning: false)
        #expect(t.kvPool.stats.shiftedTokens == before)
    }

    /// A burst of requests with the same long prefix on a cold cache computes the prefix once: the others wait
    /// for the first to write it, then take it from the cache, and still decode as alone.
    @Test func aBurstWithASharedPrefixComputesItOnce() async throws {
        let model = try LanguageModel(path: ModelFixture.folder.appendingPathComponent("llama.gguf").path, threads: 2)
        let vocab = model.config.vocabularySize
        var rng = SeededGenerator(seed: 21)
        let prefix = Self.randomTokens(300, vocab: vocab, rng: &rng)
        let prompts = (0..<4).map { _ in prefix + Self.randomTokens(10, vocab: vocab, rng: &rng) }
        let options = GenerationOptions(maxTokens: 5, ignoreEOS: true)
        let alone = try prompts.map { prompt in
            try Generator(model: model).generate(prompt: prompt, options: options,
                                                 cache: model.transformer.makeCache(capacity: prompt.count + 5))
        }
        let scheduler = BatchScheduler(model: model, settings: BatchScheduler.Settings(contextSize: 512))
        let results = try await withThrowingTaskGroup(of: (Int, GenerationResult).self) { group in
            for (i, prompt) in prompts.enumerated() {
                group.addTask {
                    try await withCheckedThrowingContinuation { continuation in
                        do {
                            try scheduler.submit(prompt: prompt, options: options) { event in
                                if case .finished(let result) = event { continuation.resume(returning: (i, result)) }
                                if case .failed(let message) = event { continuation.resume(throwing: ModelError(message)) }
                            }
                        } catch { continuation.resume(throwing: error) }
                    }
                }
            }
            // All four are queued before the engine starts: a burst.
            try await Task.sleep(nanoseconds: 50_000_000)
            scheduler.start()
            var all: [(Int, GenerationResult)] = []
            for try await item in group { all.append(item) }
            return all.sorted { $0.0 < $1.0 }
        }
        scheduler.shutdown(cancelRunning: false)
        let computed = results.reduce(0) { $0 + prompts[$1.0].count - $1.1.cachedPromptTokens }
        #expect(computed < 300 + 4 * 40, "\(computed) prompt tokens computed for 4 requests sharing 300")
        #expect(results.filter { $0.1.cachedPromptTokens >= 288 }.count == 3)
        for (i, result) in results { #expect(result.tokens == alone[i].tokens, "request \(i)") }
    }

    /// Submits `prompt` to `scheduler` and waits for its result.
    static func result(of prompt: [Int32], from scheduler: BatchScheduler,
                       options: GenerationOptions) async throws -> GenerationResult {
        try await withCheckedThrowingContinuation { continuation in
            do {
                try scheduler.submit(prompt: prompt, options: options) { event in
                    switch event {
                    case .text: break
                    case .finished(let result): continuation.resume(returning: result)
                    case .failed(let message): continuation.resume(throwing: ModelError(message))
                    }
                }
            } catch { continuation.resume(throwing: error) }
        }
    }
}

/// A value shared between threads behind a lock.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) -> T) -> T { lock.withLock { body(&value) } }
}
