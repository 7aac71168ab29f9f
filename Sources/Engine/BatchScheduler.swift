import Foundation

/// Continuous batching: many generation requests decoded together, one forward pass a step over every running
/// sequence, so that one read of the weights serves them all.
///
/// The model is driven by one engine thread. Requests wait in a queue and join the running batch at step
/// boundaries (up to `maxBatch` at once). Each step gives every decoding sequence one token and every sequence
/// still in its prompt its next prompt chunk (`Generator.prefillChunk` tokens, cut at the same offsets as a
/// single-sequence generation, so that a request decodes the same alone or in a batch), as far as the step's
/// token budget goes: a long prompt is prefilled over several steps while the other streams keep decoding.
/// A cancelled request leaves at the next step boundary and its cache is freed.
public final class BatchScheduler: @unchecked Sendable {
    public struct Settings: Sendable {
        /// Sequences in one forward pass at most.
        public var maxBatch = 32
        /// Requests running at once (the rest wait); when more run than `maxBatch`, steps take turns.
        public var maxRunning = 32
        /// When the engine is idle, how long the first request waits for others to start with it.
        public var maxWaitMilliseconds = 2
        /// Requests waiting beyond the running ones before `submit` refuses (the server answers 503).
        public var maxQueue = 256
        /// Prompt and decode tokens in one step at most (the prefill share of a step's latency).
        public var stepTokens = 512
        /// Positions of one sequence's cache at most (prompt + generated).
        public var contextSize: Int
        /// Above 0: after the longest cached prefix, reuse cached chunks of at least this many positions that
        /// reappear later in the prompt, shifted to their new positions (`KVCache.reuseShiftedChunks`,
        /// llama.cpp's `--cache-reuse`; approximate). 0: exact prefixes only.
        public var cacheReuse = 0

        public init(contextSize: Int) { self.contextSize = contextSize }
    }

    /// What a request hears, on the engine thread, in this order: `.text` zero or more times, then exactly one
    /// of `.finished` and `.failed`.
    public enum Event: Sendable {
        case text(String)
        case finished(GenerationResult)
        case failed(String)
    }

    public enum SubmitError: Error, Equatable, CustomStringConvertible {
        case queueFull(waiting: Int)
        case promptTooLong(tokens: Int, limit: Int)
        case emptyPrompt
        case badToken(Int32, vocabulary: Int)
        case stopped

        public var description: String {
            switch self {
            case .queueFull(let waiting): return "the server is busy: \(waiting) requests are waiting; retry later"
            case .promptTooLong(let tokens, let limit):
                return "the prompt has \(tokens) tokens but the context holds \(limit); shorten it or raise --ctx-size"
            case .emptyPrompt: return "the prompt is empty: give at least one token"
            case .badToken(let token, let vocabulary):
                return "token id \(token) is outside the vocabulary (0..<\(vocabulary))"
            case .stopped: return "the server is shutting down"
            }
        }
    }

    /// One request in the scheduler; `cancel()` from any thread ends it at the next step.
    public final class Job: @unchecked Sendable {
        public let id: Int
        let prompt: [Int32]
        let sequence: SequenceDecoder
        let onEvent: (Event) -> Void
        let flag = CancellationFlag()
        var cache: KVCache?
        var offset = 0
        /// Prompt tokens taken from the shared cache at admission.
        var cachedPromptTokens = 0
        var promptSeconds = 0.0
        var admitted = Date()
        var decodeStart = Date()
        /// LoRA adapters of its own (nil: the model's): such a job decodes in a private cache.
        var adapters: [AdapterUse]?

        init(id: Int, prompt: [Int32], sequence: SequenceDecoder, onEvent: @escaping (Event) -> Void) {
            self.id = id
            self.prompt = prompt
            self.sequence = sequence
            self.onEvent = onEvent
        }

        public func cancel() { flag.cancel() }

        func result(decodeSeconds: Double) -> GenerationResult {
            var result = sequence.result(promptSeconds: promptSeconds, decodeSeconds: decodeSeconds)
            result.cachedPromptTokens = cachedPromptTokens
            return result
        }
        public var isCancelled: Bool { flag.isCancelled }
    }

    /// One step as observed by metrics.
    public struct StepInfo: Sendable {
        public var sequences: Int
        public var promptTokens: Int
        public var decodeTokens: Int
        public var seconds: Double
        public var waiting: Int
        public var running: Int
        public var cacheBytes: Int
        /// The shared KV pool after the step (blocks, hits, evictions).
        public var kv: KVBlockPool.Stats
    }

    public let model: LanguageModel
    public let settings: Settings
    /// Called on the engine thread after every step.
    public var onStep: ((StepInfo) -> Void)?

    /// With `cacheReuse`: a reused chunk may start this many prompt tokens after the cached prefix (they are
    /// computed first), as where an editor's window now starts inside what was one token.
    public static let cacheReuseGap = 16

    private let condition = NSCondition()
    private var waiting: [Job] = []
    private var exclusive: [() -> Void] = []
    private var running: [Job] = []
    private var nextID = 1
    private var stopping = false
    private var thread: Thread?
    private var finishedThread = false
    private var runningCount = 0
    private var cacheBytes = 0
    private var turn = 0

    public init(model: LanguageModel, settings: Settings) {
        self.model = model
        self.settings = settings
    }

    /// Starts the engine thread.
    public func start() {
        condition.lock()
        defer { condition.unlock() }
        guard thread == nil else { return }
        let thread = Thread { [unowned self] in self.loop() }
        thread.name = "moecoder-engine"
        thread.stackSize = 8 << 20
        self.thread = thread
        thread.start()
    }

    /// Queues a generation after `prompt`; `onEvent` hears its text and its end on the engine thread.
    @discardableResult
    public func submit(prompt: [Int32], options: GenerationOptions, processors: [any LogitProcessor] = [],
                       constraint: (any TokenConstraint)? = nil, stopRule: (any GenerationStopRule)? = nil,
                       adapters: [AdapterUse]? = nil, onEvent: @escaping (Event) -> Void) throws -> Job {
        guard !prompt.isEmpty else { throw SubmitError.emptyPrompt }
        let vocab = model.config.vocabularySize
        if let bad = prompt.first(where: { $0 < 0 || Int($0) >= vocab }) {
            throw SubmitError.badToken(bad, vocabulary: vocab)
        }
        guard prompt.count < settings.contextSize else {
            throw SubmitError.promptTooLong(tokens: prompt.count, limit: settings.contextSize)
        }
        let sequence = SequenceDecoder(prompt: prompt, options: options, tokenizer: model.tokenizer,
                                       processors: processors, constraint: constraint, stopRule: stopRule)
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { throw SubmitError.stopped }
        guard waiting.count < settings.maxQueue else { throw SubmitError.queueFull(waiting: waiting.count) }
        let job = Job(id: nextID, prompt: prompt, sequence: sequence, onEvent: onEvent)
        if let adapters, adapters != model.transformer.adapters { job.adapters = adapters }
        nextID += 1
        waiting.append(job)
        condition.signal()
        return job
    }

    /// Runs `body` with the model on the engine thread between two steps (for work that drives the model
    /// itself: code completion, test generation); the running batch pauses meanwhile.
    public func exclusive<T: Sendable>(_ body: @escaping @Sendable (LanguageModel) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            condition.lock()
            defer { condition.unlock() }
            guard !stopping else {
                continuation.resume(throwing: SubmitError.stopped)
                return
            }
            let model = self.model
            exclusive.append {
                do { continuation.resume(returning: try body(model)) } catch { continuation.resume(throwing: error) }
            }
            condition.signal()
        }
    }

    /// Requests waiting, sequences running, and bytes of KV cache allocated (shared and cached blocks once).
    public var load: (waiting: Int, running: Int, cacheBytes: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (waiting.count, runningCount, cacheBytes)
    }

    /// Stops taking requests; with `cancelRunning`, cancels what runs and waits, else lets it finish first.
    /// Returns when the engine thread has ended.
    public func shutdown(cancelRunning: Bool) {
        condition.lock()
        stopping = true
        if cancelRunning {
            for job in waiting + running { job.cancel() }
        }
        condition.broadcast()
        while thread != nil && !finishedThread { condition.wait() }
        condition.unlock()
    }

    // MARK: - The engine thread

    private func loop() {
        while true {
            condition.lock()
            while waiting.isEmpty && exclusive.isEmpty && running.isEmpty && !stopping { condition.wait() }
            if stopping && waiting.isEmpty && exclusive.isEmpty && running.isEmpty {
                finishedThread = true
                condition.broadcast()
                condition.unlock()
                return
            }
            // Idle engine: give the first request a moment for others to start with it.
            if running.isEmpty, !waiting.isEmpty, waiting.count < settings.maxRunning, settings.maxWaitMilliseconds > 0 {
                let deadline = Date(timeIntervalSinceNow: Double(settings.maxWaitMilliseconds) / 1000)
                while waiting.count < settings.maxRunning && !stopping && condition.wait(until: deadline) {}
            }
            let jobs = exclusive
            exclusive.removeAll()
            var admitted: [Job] = []
            var index = 0
            while running.count + admitted.count < settings.maxRunning, index < waiting.count {
                if followsLeader(waiting[index], leaders: running + admitted) {
                    index += 1   // waits for the prefix it shares to enter the cache
                    continue
                }
                admitted.append(waiting.remove(at: index))
            }
            condition.unlock()

            for body in jobs { body() }
            admit(admitted)
            step()
        }
    }

    /// Whether `job` should wait for a running (or just admitted) job still prefilling a prompt that starts like
    /// its own: the leader's blocks enter the shared cache as they are computed, so a burst of requests with the
    /// same long prefix (a system prompt, a file) computes it once instead of once each. Only when they share at
    /// least two blocks beyond what the leader has computed so far.
    private func followsLeader(_ job: Job, leaders: [Job]) -> Bool {
        let block = model.transformer.kvPool.blockTokens
        for leader in leaders where leader.offset < leader.prompt.count && !leader.isCancelled {
            let need = max(leader.offset + block, 2 * block)
            guard need < job.prompt.count, need <= leader.prompt.count else { continue }
            if job.prompt[..<need].elementsEqual(leader.prompt[..<need]) { return true }
        }
        return false
    }

    /// Gives each admitted job its cache, starting from the longest prefix the shared pool holds, with blocks
    /// promised for its prompt and generation. A job the budget cannot promise them goes back to the front of
    /// the queue while others run (their blocks come back as they finish), and fails when nothing else runs.
    private func admit(_ admitted: [Job]) {
        let pool = model.transformer.kvPool
        for (index, job) in admitted.enumerated() {
            job.admitted = Date()
            let capacity = max(job.prompt.count, min(settings.contextSize,
                                                     job.prompt.count + max(0, job.sequence.options.maxTokens)))
            // A job with adapters of its own computes other keys and values than the shared pool's: a private cache.
            let cache = job.adapters == nil ? pool.makeCache(capacity: capacity)
                : KVCache(config: model.config, capacity: capacity, type: model.transformer.kvType)
            cache.adapters = job.adapters
            job.cachedPromptTokens = job.adapters == nil ? cache.reusePrefix(of: job.prompt, limit: job.prompt.count - 1) : 0
            if job.adapters == nil, settings.cacheReuse > 0 {
                cache.reuseShiftedChunks(of: job.prompt, limit: job.prompt.count - 1, minimum: settings.cacheReuse,
                                         shift: model.transformer.keyShift, maxGap: Self.cacheReuseGap)
                // Positions not computed: a chunk placed ahead counts, the gap before it does not.
                job.cachedPromptTokens = cache.count + (cache.pendingChunk?.length ?? 0)
            }
            job.offset = cache.count
            guard cache.reserve(positions: capacity) else {
                if running.isEmpty {
                    let error = KVBudgetError(budgetBytes: pool.budgetBytes,
                                              heldBytes: pool.stats.heldBlocks * pool.blockBytes)
                    job.onEvent(.failed(error.refusal(neededBytes: cache.blocksNeeded(positions: capacity) * pool.blockBytes)))
                    continue
                }
                let back = Array(admitted[index...])
                for other in back { other.cachedPromptTokens = 0; other.offset = 0 }
                condition.lock()
                waiting.insert(contentsOf: back, at: 0)
                condition.unlock()
                return
            }
            job.cache = cache
            running.append(job)
        }
    }

    /// One forward pass over the running sequences, then sampling, events and clean-up.
    private func step() {
        let stepStart = Date()
        // Leave first: cancelled requests free their place before the pass.
        running.removeAll { job in
            guard job.isCancelled else { return false }
            _ = job.sequence.finish(.cancelled)
            job.onEvent(.finished(job.result(decodeSeconds: 0)))
            job.cache = nil   // its blocks go back to the pool now, not when the request's last reference goes
            return true
        }
        var inputs: [Transformer.SequenceInput] = []
        var members: [Job] = []
        var budget = settings.stepTokens
        var promptTokens = 0, decodeTokens = 0
        // Decoding sequences first (one token each), then prompt chunks while the budget lasts (at least one);
        // at most `maxBatch` sequences, taking turns from a rotating start when more are running.
        let start = running.isEmpty ? 0 : turn % running.count
        let order = Array(running[start...] + running[..<start])
        for job in order where job.offset >= job.prompt.count && inputs.count < settings.maxBatch {
            guard let token = job.sequence.lastToken, let cache = job.cache else { continue }
            inputs.append(.init(tokens: [token], cache: cache))
            members.append(job)
            budget -= 1
            decodeTokens += 1
        }
        for job in order where job.offset < job.prompt.count && inputs.count < settings.maxBatch {
            // Chunks of `prefillChunk` from the first position not taken from the cache, as `Generator` cuts them.
            let base = job.cachedPromptTokens, chunk = Generator.prefillChunk
            var end = min(job.prompt.count, base + ((job.offset - base) / chunk + 1) * chunk)
            // A chunk placed ahead (`--cache-reuse`): first the positions before it.
            if let ahead = job.cache?.pendingChunk, job.offset < ahead.start { end = min(end, ahead.start) }
            if end - job.offset > budget && promptTokens > 0 { continue }
            guard job.cache != nil else { continue }
            inputs.append(.init(tokens: Array(job.prompt[job.offset..<end]), cache: job.cache!))
            members.append(job)
            budget -= end - job.offset
            promptTokens += end - job.offset
        }
        turn += inputs.count
        guard !inputs.isEmpty else {
            publish(sequences: 0, promptTokens: 0, decodeTokens: 0, since: stepStart)
            return
        }
        let logits: UnsafeMutableBufferPointer<Float>
        do {
            logits = try model.transformer.forward(batch: inputs)
        } catch {
            // A sequence the engine refuses (it should not happen: inputs are checked on submit) fails alone.
            for job in members {
                job.onEvent(.failed("\(error)"))
                job.cache = nil
            }
            let failed = Set(members.map(\.id))
            running.removeAll { failed.contains($0.id) }
            return
        }
        let vocab = model.config.vocabularySize
        var done = Set<Int>()
        for (i, job) in members.enumerated() {
            let input = inputs[i]
            if job.offset < job.prompt.count {
                job.offset += input.tokens.count
                // Past a chunk placed ahead, which the cache now holds.
                if let cache = job.cache, cache.count > job.offset { job.offset = cache.count }
                if job.offset < job.prompt.count { continue }
                job.promptSeconds = Date().timeIntervalSince(job.admitted)
                job.decodeStart = Date()
            }
            let row = UnsafeMutableBufferPointer(rebasing: logits[(i * vocab)..<((i + 1) * vocab)])
            let piece = job.sequence.step(row)
            if !piece.isEmpty { job.onEvent(.text(piece)) }
            if job.sequence.stopReason == nil, job.isCancelled { _ = job.sequence.finish(.cancelled) }
            if job.sequence.stopReason == nil, let cache = job.cache, cache.count >= cache.capacity {
                _ = job.sequence.finish(.contextFull)
            }
            if job.sequence.stopReason != nil {
                let tail = job.sequence.finish()
                if !tail.isEmpty { job.onEvent(.text(tail)) }
                job.onEvent(.finished(job.result(decodeSeconds: Date().timeIntervalSince(job.decodeStart))))
                job.cache = nil
                done.insert(job.id)
            }
        }
        running.removeAll { done.contains($0.id) }
        let sequences = inputs.count
        inputs.removeAll()   // the finished sequences' caches end here, their blocks back in the pool
        publish(sequences: sequences, promptTokens: promptTokens, decodeTokens: decodeTokens, since: stepStart)
    }

    /// Updates `load` and tells `onStep`.
    private func publish(sequences: Int, promptTokens: Int, decodeTokens: Int, since start: Date) {
        // Every block counted once (shared prefixes are stored once), cached idle blocks included.
        let kv = model.transformer.kvPool.stats
        let bytes = kv.blocks * kv.blockBytes
        condition.lock()
        runningCount = running.count
        cacheBytes = bytes
        let waitingCount = waiting.count
        condition.unlock()
        onStep?(StepInfo(sequences: sequences, promptTokens: promptTokens, decodeTokens: decodeTokens,
                         seconds: Date().timeIntervalSince(start), waiting: waitingCount, running: running.count,
                         cacheBytes: bytes, kv: kv))
    }
}
