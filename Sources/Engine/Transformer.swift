import CKernels
import GGUF
import Foundation
import Kernels

/// A decoder-only transformer loaded from a GGUF file: one forward pass for every supported architecture,
/// whose layers differ only in their attention (standard or latent) and feed-forward (dense or experts).
///
/// Weights stay in the memory-mapped file. Not thread-safe: one forward pass at a time (it owns its scratch).
public final class Transformer: @unchecked Sendable {
    public let config: ModelConfig
    /// The file the weights live in (kept open: the matrices point into its mapping).
    public let file: GGUFFile
    let embeddings: WeightMatrix      // vocab rows × nEmbd
    let outputNorm: [Float]
    let output: WeightMatrix          // nEmbd → vocab
    /// The layers as the model runs them (`attn_kv_b` deltas of the adapters merged in) and as the file has them.
    var layers: [DecoderLayer]
    let baseLayers: [DecoderLayer]
    /// The LoRA adapters sequences run with unless their cache names its own (`setAdapters`).
    public internal(set) var adapters: [AdapterUse] = []
    let rope: Rope
    let attentionScale: Float
    public let pool: ThreadPool
    /// Quantized activations (fast, llama.cpp's precision) or exact float products (golden tests): the
    /// default is quantized unless MOECODER_EXACT is set.
    public var activations: Activations = .fromEnvironment
    private let serial = ThreadPool(threads: 1)
    let work = Workspace()

    public init(file: GGUFFile, threads: Int = 1) throws {
        let config = try ModelConfig(gguf: file)
        let source = TensorSource(gguf: file)
        let e = config.embeddingLength, vocab = config.vocabularySize
        self.config = config
        self.file = file
        embeddings = try source.matrix("token_embd.weight", cols: e, rows: vocab)
        outputNorm = try source.vector("output_norm.weight", count: e)
        output = try source.optionalMatrix("output.weight", cols: e, rows: vocab) ?? embeddings
        switch config.architecture {
        case .llama: layers = try LlamaArchitecture.layers(source, config)
        case .qwen2, .qwen2moe: layers = try Qwen2Architecture.layers(source, config)
        case .deepseek: layers = try DeepSeekArchitecture.layers(source, config)
        case .deepseek2: layers = try DeepSeek2Architecture.layers(source, config)
        case .qwen3, .qwen3moe: layers = try Qwen3Architecture.layers(source, config)
        case .gptOss: layers = try GptOssArchitecture.layers(source, config)
        }
        baseLayers = layers
        rope = Rope(config.rope, architecture: config.architecture,
                    frequencyFactors: try source.optionalVector("rope_freqs.weight", count: config.rope.dimensions / 2))
        let unused = source.unusedTensors(layers: config.blockCount)
        if !unused.isEmpty {
            let shown = unused.prefix(4).joined(separator: ", ") + (unused.count > 4 ? ", … (\(unused.count) in all)" : "")
            throw ModelError("the file has tensors moecoder's \(config.architecture.rawValue) model does not use (\(shown)): "
                             + "they change what the model computes, so running without them would give wrong output; "
                             + "this variant of the architecture is not supported yet")
        }
        attentionScale = Rope.attentionScaleCorrection(config.rope) / Float(config.keyLength).squareRoot()
        pool = ThreadPool(threads: max(1, threads))
        kvPool = KVBlockPool(config: config, budgetBytes: nil, sharing: true)
        // Far prefetching pays where a step's weights stream from memory, and costs where they stay in the caches.
        let streams = decodeWeightBytes > 2 * mk_last_level_cache_bytes()
        pool.farPrefetch = streams
        serial.farPrefetch = streams
    }

    /// One sequence's input to a batched forward pass: new tokens and the cache they extend.
    public struct SequenceInput {
        public var tokens: [Int32]
        public var cache: KVCache
        public init(tokens: [Int32], cache: KVCache) {
            self.tokens = tokens
            self.cache = cache
        }
    }

    /// A sequence's rows in the current pass.
    struct Segment {
        let row, n, start: Int
        let cache: KVCache

        /// Its rows and this layer's cached keys and values, as the attention tasks read them.
        func view(layer: Int) -> HeadSegment {
            HeadSegment(row: row, n: n, start: start, blocks: cache.table, blockSize: cache.blockTokens,
                        keyOffset: cache.keyOffset(layer: layer), valueOffset: cache.valueOffset(layer: layer))
        }
    }

    /// How this model's cached keys move to other positions (`KVCache.reuseShiftedChunks`): every architecture
    /// the engine loads rotates every layer's keys with the one rotary embedding, normal or neox pairs, after any
    /// key norm, so a stored key at p becomes the key at p + d by rotating its rotary part by d. Standard
    /// attention stores kv-heads × key length (the first rope dims of each head rotate); latent attention stores
    /// only the rotary part of the key (one head of rope dims), its latent "values" carry no position.
    public var keyShift: KeyShift {
        config.architecture == .deepseek2
            ? KeyShift(rope: rope, heads: 1, stride: config.rope.dimensions)
            : KeyShift(rope: rope, heads: config.headCountKV, stride: config.keyLength)
    }

    /// A KV cache sized for this model (`capacity` positions, default the model's context length).
    public func makeCache(capacity: Int? = nil) -> KVCache { KVCache(config: config, capacity: capacity, type: kvType) }

    /// How caches store keys and values: f32 (exact, the default), f16 or q8_0 (`setKVType`).
    public private(set) var kvType: TensorType = .f32

    /// The shared KV pool (prefix sharing across the sequences of this model: the service, the language
    /// server, completion); its budget is a quarter of the machine's memory until `kvPool.setBudget`.
    public private(set) var kvPool: KVBlockPool

    /// Stores keys and values as `type` from now on (a new, empty shared pool with the same budget): call
    /// before any cache is made. Throws when the model's head sizes do not allow the type.
    public func setKVType(_ type: TensorType) throws {
        if let why = KVBlockPool.unsupported(type, config: config) { throw ModelError(why) }
        guard type != kvType else { return }
        let budget = kvPool.budgetBytes
        kvType = type
        kvPool = KVBlockPool(config: config, budgetBytes: budget, sharing: true, type: type)
    }

    /// A cache in the shared pool: it can start from a cached prefix (`reusePrefix`) and leaves its own
    /// prefix for later sequences.
    public func makeSharedCache(capacity: Int? = nil) -> KVCache {
        kvPool.makeCache(capacity: max(1, capacity ?? config.contextLength))
    }

    /// Runs `tokens` at the positions after those already in `cache`, appends their keys and values, and
    /// returns the logits of the last token (`vocab` floats) or, with `allLogits`, of every token
    /// (`tokens.count × vocab`, row-major). The buffer is reused by the next call.
    public func forward(_ tokens: [Int32], cache: KVCache, allLogits: Bool = false) throws
        -> UnsafeMutableBufferPointer<Float> {
        try validate(tokens, cache: cache)
        try cache.prepareWrite(tokens.count)
        work.segments.removeAll(keepingCapacity: true)
        work.segments.append(Segment(row: 0, n: tokens.count, start: cache.count, cache: cache))
        work.logitRows.removeAll(keepingCapacity: true)
        if allLogits { work.logitRows.append(contentsOf: 0..<tokens.count) } else { work.logitRows.append(tokens.count - 1) }
        return run(tokens)
    }

    /// One forward pass over several sequences at once, each with its own cache and positions: the weights
    /// are read once for every row of every sequence (continuous batching). Each input's tokens are appended
    /// to its cache; returns the logits of each input's last token (`inputs.count × vocab`, in input order).
    /// A row's result is the same as in a forward pass of its sequence alone with the same chunking.
    public func forward(batch inputs: [SequenceInput]) throws -> UnsafeMutableBufferPointer<Float> {
        guard !inputs.isEmpty else { throw ModelError("a batch needs at least one sequence") }
        var seen = Set<ObjectIdentifier>()
        work.segments.removeAll(keepingCapacity: true)
        work.logitRows.removeAll(keepingCapacity: true)
        var tokens: [Int32] = []
        for input in inputs {
            guard seen.insert(ObjectIdentifier(input.cache)).inserted else {
                throw ModelError("a batch holds the same cache twice: each sequence needs its own")
            }
            try validate(input.tokens, cache: input.cache)
            guard input.cache.pool.type == inputs[0].cache.pool.type else {
                throw ModelError("a batch mixes KV caches of different types (\(input.cache.pool.type.name) and "
                                 + "\(inputs[0].cache.pool.type.name))")
            }
        }
        for input in inputs {
            try input.cache.prepareWrite(input.tokens.count)
            work.segments.append(Segment(row: tokens.count, n: input.tokens.count, start: input.cache.count,
                                         cache: input.cache))
            tokens.append(contentsOf: input.tokens)
            work.logitRows.append(tokens.count - 1)
        }
        return run(tokens)
    }

    private func validate(_ tokens: [Int32], cache: KVCache) throws {
        let n = tokens.count, vocab = config.vocabularySize
        guard n > 0 else { throw ModelError("forward needs at least one token") }
        guard cache.count + n <= cache.capacity else {
            throw ModelError("the context is full: \(cache.count) + \(n) tokens exceed the cache's \(cache.capacity)")
        }
        if let bad = tokens.first(where: { $0 < 0 || Int($0) >= vocab }) {
            throw ModelError("token id \(bad) is outside the vocabulary (0..<\(vocab))")
        }
        if let own = cache.adapters, own != adapters { try checkOwnAdapters(own, cache: cache) }
    }

    /// The pass itself over `work.segments` (rows laid out segment after segment), projecting the rows in
    /// `work.logitRows` to logits.
    private func run(_ tokens: [Int32]) -> UnsafeMutableBufferPointer<Float> {
        let n = tokens.count, e = config.embeddingLength, vocab = config.vocabularySize
        let x = work.x.ensure(n * e), h = work.h.ensure(n * e)
        prepareLoRA(rows: n)
        for (t, token) in tokens.enumerated() {
            Quant.dequantize(embeddings.type, embeddings.row(Int(token)), x + t * e, count: e)
        }
        // Each row's rotary cos and sin, once for all layers (grouped-query attention reads them).
        let ropeDims = rope.dimensions
        let angles = work.rope.ensure(n * ropeDims)
        if layers.contains(where: { if case .standard = $0.attention { true } else { false } }) {
            for segment in work.segments {
                for i in 0..<segment.n {
                    rope.angles(position: segment.start + i + segment.cache.ropeOffset,
                                into: angles + (segment.row + i) * ropeDims)
                }
            }
        }
        for (index, layer) in layers.enumerated() {
            for t in 0..<n { Vector.rmsNorm(x + t * e, layer.attentionNorm, h + t * e, count: e, eps: config.rmsEpsilon) }
            let attended: UnsafeMutablePointer<Float>
            switch layer.attention {
            case .standard(let a): attended = standardAttention(a, layer: index, n: n)
            case .latent(let a): attended = latentAttention(a, layer: index, n: n)
            }
            Vector.add(x, attended, count: n * e)
            for t in 0..<n { Vector.rmsNorm(x + t * e, layer.ffnNorm, h + t * e, count: e, eps: config.rmsEpsilon) }
            let fed: UnsafeMutablePointer<Float>
            switch layer.ffn {
            case .dense(let f): fed = denseFeedForward(f, input: h, n: n, into: work.projected, layer: index)
            case .moe(let m): fed = mixtureOfExperts(m, n: n, layer: index)
            }
            Vector.add(x, fed, count: n * e)
        }
        for segment in work.segments { segment.cache.didAppend(tokens[segment.row..<(segment.row + segment.n)]) }
        // The workspace must not keep the caches alive (a cache ending returns its blocks to its pool).
        work.segments.removeAll(keepingCapacity: true)
        // Final norm and the output projection, for the rows asked for.
        let rows = work.logitRows.count
        for (i, row) in work.logitRows.enumerated() {
            Vector.rmsNorm(x + row * e, outputNorm, h + i * e, count: e, eps: config.rmsEpsilon)
        }
        let logits = work.logits.ensure(rows * vocab)
        project(output, h, rows, logits)
        return UnsafeMutableBufferPointer(start: logits, count: rows * vocab)
    }

    /// `forward` copied into an array (tests, tools).
    public func logits(_ tokens: [Int32], cache: KVCache, allLogits: Bool = false) throws -> [Float] {
        Array(try forward(tokens, cache: cache, allLogits: allLogits))
    }

    // MARK: - Blocks

    /// Y (n × w.rows) = X (n × w.cols) · Wᵀ.
    private func project(_ w: WeightMatrix, _ x: UnsafePointer<Float>, _ n: Int, _ y: UnsafeMutablePointer<Float>) {
        if n == 1 {
            LinearAlgebra.matvec(w, x, y, pool: pool, activations: activations)
        } else {
            LinearAlgebra.matmul(w, x, n: n, y, pool: pool, scratch: work.matmul, activations: activations)
        }
    }

    private func addBias(_ bias: [Float]?, _ y: UnsafeMutablePointer<Float>, n: Int, width: Int) {
        guard let bias else { return }
        for t in 0..<n { for i in 0..<width { y[t * width + i] += bias[i] } }
    }

    private func standardAttention(_ a: StandardAttention, layer: Int, n: Int) -> UnsafeMutablePointer<Float> {
        let c = config, e = c.embeddingLength
        let kLen = c.keyLength, vLen = c.valueLength, heads = c.headCount, kvHeads = c.headCountKV
        let qWidth = heads * kLen, kWidth = kvHeads * kLen, vWidth = kvHeads * vLen
        let h = work.h.pointer
        let q = work.q.ensure(n * qWidth), k = work.k.ensure(n * kWidth), v = work.v.ensure(n * vWidth)
        let batch = work.batch
        batch.removeAll()
        batch.add(a.q, h, n: n, q)
        batch.add(a.k, h, n: n, k)
        batch.add(a.v, h, n: n, v)
        batch.run(pool: pool, activations: activations)
        if work.loraActive {
            addLoRA(.attnQ, layer, h, n, q)
            addLoRA(.attnK, layer, h, n, k)
            addLoRA(.attnV, layer, h, n, v)
        }
        addBias(a.qBias, q, n: n, width: qWidth)
        addBias(a.kBias, k, n: n, width: kWidth)
        addBias(a.vBias, v, n: n, width: vWidth)
        if let qNorm = a.qNorm, let kNorm = a.kNorm {
            for t in 0..<n {
                for head in 0..<heads {
                    let row = q + t * qWidth + head * kLen
                    Vector.rmsNorm(row, qNorm, row, count: kLen, eps: c.rmsEpsilon)
                }
                for head in 0..<kvHeads {
                    let row = k + t * kWidth + head * kLen
                    Vector.rmsNorm(row, kNorm, row, count: kLen, eps: c.rmsEpsilon)
                }
            }
        }
        work.headSegments.removeAll(keepingCapacity: true)
        var scoreFloats = 0
        for segment in work.segments {
            let cache = segment.cache
            for i in 0..<segment.n {
                let t = segment.row + i, position = segment.start + i
                let rowAngles = work.rope.pointer + t * rope.dimensions
                rope.apply(q + t * qWidth, heads: heads, stride: kLen, angles: rowAngles)
                rope.apply(k + t * kWidth, heads: kvHeads, stride: kLen, angles: rowAngles)
                cache.storeKey(layer: layer, position: position, from: k + t * kWidth)
                cache.storeValue(layer: layer, position: position, from: v + t * vWidth)
            }
            let span = segment.start + segment.n
            // The matrix path gathers a head's keys and values (span × (kLen + vLen)) beside its scores.
            // The row path scores a key/value head's group of query heads together (group × span).
            scoreFloats = max(scoreFloats, segment.n >= StandardHeads.matrixFrom ? segment.n * span + span * (kLen + vLen)
                                                                               : span * (heads / kvHeads))
            work.headSegments.append(segment.view(layer: layer))
        }
        let kvPool = work.segments[0].cache.pool
        let out = work.attention.ensure(n * heads * vLen)
        let scores = work.heads.ensure(pool.threads * scoreFloats)
        work.orderHeadTasks()
        let sinks = a.sinks ?? []
        sinks.withUnsafeBufferPointer { sinkValues in
            work.headSegments.withUnsafeBufferPointer { segments in
                var job = StandardHeads(
                    q: q, out: out, scores: scores, scoreStride: scoreFloats, segments: segments.baseAddress!,
                    keyStride: kvPool.keyRowBytes, valueStride: kvPool.valueRowBytes, keyHead: kvPool.rowBytes(kLen),
                    valueHead: kvPool.rowBytes(vLen), type: kvPool.type.rawValue, qWidth: qWidth, kLen: kLen, vLen: vLen,
                    heads: heads, group: heads / kvHeads, scale: attentionScale, window: a.window,
                    sinks: a.sinks == nil ? nil : sinkValues.baseAddress, next: work.nextTask,
                    total: segments.count * kvHeads)
                let tasks = min(pool.threads, job.total)
                withUnsafePointer(to: &job) { pool.parallelFor(tasks, context: $0, StandardHeads.run) }
            }
        }
        let projected = work.projected.ensure(n * e)
        project(a.output, out, n, projected)
        if work.loraActive { addLoRA(.attnOutput, layer, out, n, projected) }
        addBias(a.outputBias, projected, n: n, width: e)
        return projected
    }

    private func latentAttention(_ a: LatentAttention, layer: Int, n: Int) -> UnsafeMutablePointer<Float> {
        let c = config, e = c.embeddingLength, heads = c.headCount
        let kLen = c.keyLength, vLen = c.valueLength, nope = c.keyNoRopeLength, ropeDims = c.rope.dimensions
        let lora = c.kvLoraRank, qWidth = heads * kLen
        let h = work.h.pointer
        let q = work.q.ensure(n * qWidth)
        let kvWidth = lora + ropeDims
        let kv = work.k.ensure(n * kvWidth)
        // The query's first projection and the compressed key/value share the input: one dispatch.
        let batch = work.batch
        batch.removeAll()
        batch.add(a.kvA, h, n: n, kv)
        var low: UnsafeMutablePointer<Float>? = nil
        if let qA = a.qA, a.qB != nil, a.qANorm != nil {
            low = work.low.ensure(n * qA.rows)
            batch.add(qA, h, n: n, low!)
        } else if let wq = a.q {
            batch.add(wq, h, n: n, q)
        }
        batch.run(pool: pool, activations: activations)
        if work.loraActive {
            addLoRA(.attnKVA, layer, h, n, kv)
            if let low { addLoRA(.attnQA, layer, h, n, low) } else { addLoRA(.attnQ, layer, h, n, q) }
        }
        if let low, let qA = a.qA, let qB = a.qB, let norm = a.qANorm {
            for t in 0..<n { Vector.rmsNorm(low + t * qA.rows, norm, low + t * qA.rows, count: qA.rows, eps: c.rmsEpsilon) }
            project(qB, low, n, q)
            if work.loraActive { addLoRA(.attnQB, layer, low, n, q) }
        }
        work.headSegments.removeAll(keepingCapacity: true)
        var maxSpan = 0
        for segment in work.segments {
            let cache = segment.cache
            for i in 0..<segment.n {
                let t = segment.row + i, position = segment.start + i
                let rotated = position + cache.ropeOffset
                rope.apply(q + t * qWidth + nope, heads: heads, stride: kLen, position: rotated)
                let row = kv + t * kvWidth
                Vector.rmsNorm(row, a.kvANorm, row, count: lora, eps: c.rmsEpsilon)
                cache.storeValue(layer: layer, position: position, from: row)
                rope.apply(row + lora, heads: 1, stride: ropeDims, position: rotated)
                cache.storeKey(layer: layer, position: position, from: row + lora)
            }
            maxSpan = max(maxSpan, segment.start + segment.n)
            work.headSegments.append(segment.view(layer: layer))
        }
        let out = work.attention.ensure(n * heads * vLen)
        // Per thread: absorbed query (lora), attended latent (lora), one dequantized row (lora), scores (span).
        let perThread = 3 * lora + maxSpan
        let scratch = work.heads.ensure(pool.threads * perThread)
        work.orderHeadTasks()
        let kvPool = work.segments[0].cache.pool
        work.headSegments.withUnsafeBufferPointer { segments in
            var job = LatentHeads(
                q: q, out: out, scratch: scratch, perThread: perThread, segments: segments.baseAddress!,
                heads: heads, qWidth: qWidth, kLen: kLen, vLen: vLen, nope: nope, ropeDims: ropeDims, lora: lora,
                scale: attentionScale, projections: a.heads, absorbedKeys: a.absorbedKeys, serial: serial,
                activations: activations, next: work.nextTask, total: segments.count * heads,
                keyStride: kvPool.keyRowBytes, valueStride: kvPool.valueRowBytes, type: kvPool.type.rawValue)
            let tasks = min(pool.threads, job.total)
            withUnsafePointer(to: &job) { pool.parallelFor(tasks, context: $0, LatentHeads.run) }
        }
        let projected = work.projected.ensure(n * e)
        project(a.output, out, n, projected)
        if work.loraActive { addLoRA(.attnOutput, layer, out, n, projected) }
        return projected
    }

    /// SwiGLU over n rows of `input`, into `target` (n × nEmbd).
    private func denseFeedForward(_ f: DenseFeedForward, input: UnsafePointer<Float>, n: Int, into target: FloatBuffer,
                                  layer: Int) -> UnsafeMutablePointer<Float> {
        let hidden = f.gate.rows
        let gate = work.gate.ensure(n * hidden), up = work.up.ensure(n * hidden)
        let batch = work.batch
        batch.removeAll()
        batch.add(f.gate, input, n: n, gate)
        batch.add(f.up, input, n: n, up)
        batch.run(pool: pool, activations: activations)
        if work.loraActive {
            addLoRA(.ffnGate, layer, input, n, gate)
            addLoRA(.ffnUp, layer, input, n, up)
        }
        Vector.siluMul(gate, up, count: n * hidden)
        let out = target.ensure(n * f.down.rows)
        project(f.down, gate, n, out)
        if work.loraActive { addLoRA(.ffnDown, layer, gate, n, out) }
        return out
    }

    private func mixtureOfExperts(_ m: MixtureOfExperts, n: Int, layer: Int) -> UnsafeMutablePointer<Float> {
        let e = config.embeddingLength, experts = m.router.rows, hidden = m.gate.rows
        let h = work.h.pointer
        let batch = work.batch
        // Dispatch 1: the router, and the shared expert's gate and up projections (they need no routing).
        let logits = work.router.ensure(n * experts)
        batch.removeAll()
        batch.add(m.router, h, n: n, logits)
        let sharedHidden = m.shared?.gate.rows ?? 0
        let sharedGate = work.sharedGate.ensure(n * sharedHidden), sharedUp = work.sharedUp.ensure(n * sharedHidden)
        if let shared = m.shared {
            batch.add(shared.gate, h, n: n, sharedGate)
            batch.add(shared.up, h, n: n, sharedUp)
        }
        batch.run(pool: pool, activations: activations)
        if work.loraActive {
            addLoRA(.router, layer, h, n, logits)
            if m.shared != nil {
                addLoRA(.sharedGate, layer, h, n, sharedGate)
                addLoRA(.sharedUp, layer, h, n, sharedUp)
            }
        }
        if work.assignments.count != experts { work.assignments = Array(repeating: [], count: experts) }
        for i in 0..<experts { work.assignments[i].removeAll(keepingCapacity: true) }
        // Route each token: probabilities, top-k, optional renormalisation and scaling.
        let choice = work.choice.ensure(experts)
        let groupScores = work.groupScores.ensure(m.groups)
        for t in 0..<n {
            let row = logits + t * experts
            if let bias = m.routerBias { for i in 0..<experts { row[i] += bias[i] } }
            switch m.gating {
            case .softmax: Vector.softmax(row, count: experts)
            case .sigmoid: for i in 0..<experts { row[i] = sigmoid(row[i]) }
            case .softmaxWeight: break          // chosen by logit; the chosen logits are softmaxed below
            }
            // The scores that choose: the probabilities themselves, or with DeepSeek-V3's selection bias and only
            // the best groups eligible.
            var chooseBy = row
            if m.selectionBias != nil || m.groups > 1 {
                chooseBy = choice
                if let bias = m.selectionBias {
                    for i in 0..<experts { choice[i] = row[i] + bias[i] }
                } else {
                    choice.update(from: row, count: experts)
                }
                if m.groups > 1 { Self.maskGroups(choice, experts: experts, groups: m.groups, used: m.groupsUsed, scores: groupScores) }
            }
            work.selection.removeAll(keepingCapacity: true)
            for _ in 0..<m.used {
                var best = -1
                for i in 0..<experts where !work.selection.contains(i) && (best < 0 || chooseBy[i] > chooseBy[best]) { best = i }
                work.selection.append(best)
            }
            if m.gating == .softmaxWeight {
                var top = -Float.infinity
                for i in work.selection { top = max(top, row[i]) }
                var sum: Float = 0
                for i in work.selection { row[i] = expf(row[i] - top); sum += row[i] }
                for i in work.selection { row[i] /= sum }
            }
            var total: Float = 0
            for i in work.selection { total += row[i] }
            // llama.cpp keeps the sum at least the smallest normal F16 (6.1e-5) when it renormalises.
            total = max(total, 6.103515625e-5)
            for i in work.selection {
                var weight = row[i]
                if m.normalize { weight /= total }
                if m.scale != 0 && m.scale != 1 { weight *= m.scale }
                work.assignments[i].append((t, weight))
            }
        }
        // Dispatch 2: every chosen expert's gate and up projections over the tokens routed to it (rows laid
        // out expert after expert); dispatch 3: their down projections, with the shared expert's.
        let routedRows = n * m.used
        let gathered = work.gathered.ensure(routedRows * e)
        let gate = work.gate.ensure(routedRows * hidden), up = work.up.ensure(routedRows * hidden)
        batch.removeAll()
        var row = 0
        for expert in 0..<experts where !work.assignments[expert].isEmpty {
            let routed = work.assignments[expert]
            for (r, item) in routed.enumerated() { (gathered + (row + r) * e).update(from: h + item.token * e, count: e) }
            batch.add(m.gate.expert(expert), gathered + row * e, n: routed.count, gate + row * hidden)
            batch.add(m.up.expert(expert), gathered + row * e, n: routed.count, up + row * hidden)
            row += routed.count
        }
        batch.run(pool: pool, activations: activations)
        if work.loraActive {
            expertLoRA(.gateExps, layer, gathered, e, gate, hidden)
            expertLoRA(.upExps, layer, gathered, e, up, hidden)
        }
        addExpertBias(m.gateBias, gate, width: hidden)
        addExpertBias(m.upBias, up, width: hidden)
        switch m.activation {
        case .swiglu: Vector.siluMul(gate, up, count: row * hidden)
        case .clampedSwiglu(let alpha, let limit):
            for i in 0..<(row * hidden) {
                let g = min(gate[i], limit), u = min(max(up[i], -limit), limit)
                gate[i] = g / (1 + expf(-alpha * g)) * (u + 1)
            }
        }
        if m.shared != nil { Vector.siluMul(sharedGate, sharedUp, count: n * sharedHidden) }
        let down = work.expertDown.ensure(routedRows * e)
        let sharedDown = work.shared.ensure(n * e)
        batch.removeAll()
        row = 0
        for expert in 0..<experts where !work.assignments[expert].isEmpty {
            let count = work.assignments[expert].count
            batch.add(m.down.expert(expert), gate + row * hidden, n: count, down + row * e)
            row += count
        }
        if let shared = m.shared { batch.add(shared.down, sharedGate, n: n, sharedDown) }
        batch.run(pool: pool, activations: activations)
        if work.loraActive {
            expertLoRA(.downExps, layer, gate, hidden, down, e)
            if m.shared != nil { addLoRA(.sharedDown, layer, sharedGate, n, sharedDown) }
        }
        addExpertBias(m.downBias, down, width: e)
        let out = work.expertOut.ensure(n * e)
        out.update(repeating: 0, count: n * e)
        row = 0
        for expert in 0..<experts where !work.assignments[expert].isEmpty {
            for item in work.assignments[expert] {
                Vector.axpy(item.weight, down + row * e, out + item.token * e, count: e)
                row += 1
            }
        }
        if m.shared != nil {
            for t in 0..<n {
                var weight: Float = 1
                if let g = m.sharedGate { weight = sigmoid(Vector.dot(g, h + t * e, count: e)) }
                Vector.axpy(weight, sharedDown + t * e, out + t * e, count: e)
            }
        }
        return out
    }
}

extension Transformer {
    /// Adds each routed expert's bias to its rows of `y` (rows laid out expert after expert, `width` apart, as
    /// `work.assignments` orders them); nothing without biases.
    private func addExpertBias(_ biases: ExpertBiases?, _ y: UnsafeMutablePointer<Float>, width: Int) {
        guard let biases else { return }
        biases.values.withUnsafeBufferPointer { all in
            var row = 0
            for (expert, routed) in work.assignments.enumerated() where !routed.isEmpty {
                let b = all.baseAddress! + expert * width
                for r in row..<(row + routed.count) { for i in 0..<width { y[r * width + i] += b[i] } }
                row += routed.count
            }
        }
    }

    /// DeepSeek-V3's grouped routing: the experts form `groups` equal groups, each scored by the sum of its two
    /// best scores; all but the best `used` groups are set to -∞ in `choice`. Ties go to the lower index.
    static func maskGroups(_ choice: UnsafeMutablePointer<Float>, experts: Int, groups: Int, used: Int,
                           scores: UnsafeMutablePointer<Float>) {
        let size = experts / groups
        for g in 0..<groups {
            var first = -Float.infinity, second = -Float.infinity
            for i in (g * size)..<((g + 1) * size) {
                let v = choice[i]
                if v > first { second = first; first = v } else if v > second { second = v }
            }
            scores[g] = first + second
        }
        for _ in 0..<used {                     // mark the chosen groups with NaN-free +∞ after picking
            var best = -1
            for g in 0..<groups where scores[g] != .infinity && (best < 0 || scores[g] > scores[best]) { best = g }
            scores[best] = .infinity
        }
        for g in 0..<groups where scores[g] != .infinity {
            for i in (g * size)..<((g + 1) * size) { choice[i] = -.infinity }
        }
    }
}

/// One sequence's rows in the attention jobs: its rows in the batch, its first new position, and where this
/// layer's cached keys and values are (for latent attention: rotary keys and latents): the cache's block
/// table, and the offsets of the layer's keys and values in a block.
struct HeadSegment {
    let row, n, start: Int
    let blocks: UnsafePointer<UnsafeRawPointer?>
    /// Positions a block; bytes from a block's start to the layer's keys and values.
    let blockSize, keyOffset, valueOffset: Int
}

/// The per-head part of grouped-query attention, run by the thread pool without allocating: everything the
/// heads need travels in this struct, passed by pointer. Tasks are (segment, key/value head) pairs.
private struct StandardHeads {
    let q, out, scores: UnsafeMutablePointer<Float>
    let scoreStride: Int
    let segments: UnsafePointer<HeadSegment>
    /// Bytes of a position's keys and values, and of one head's slice of them.
    let keyStride, valueStride, keyHead, valueHead: Int
    /// How rows are stored (MK_F32, MK_F16, MK_Q8_0).
    let type: UInt32
    let qWidth, kLen, vLen, heads, group: Int
    let scale: Float
    /// Sliding window (0: none) and per-head sink logits (nil: none).
    let window: Int
    let sinks: UnsafePointer<Float>?
    /// Tasks are claimed one at a time from `next` (the range a thread is given is ignored).
    let next: UnsafeMutablePointer<Int>
    let total: Int

    /// From this many query rows on, a head's scores and weighted values are two matrix products (the
    /// masked half is computed and zeroed) instead of a dot product per row and position.
    static let matrixFrom = 8

    static func run(_ context: UnsafeRawPointer, _ chunk: Int, _ range: Range<Int>) {
        let j = context.assumingMemoryBound(to: StandardHeads.self).pointee
        let s = j.scores + chunk * j.scoreStride
        while true {
            let task = mk_fetch_add(j.next, 1)
            if task >= j.total { break }
            // A task is one sequence's key/value head and the query heads that share it, in a row: the keys
            // and values are read from memory once and stay in cache for the group's other heads.
            let kvHeads = j.heads / j.group
            let g = j.segments[task / kvHeads], kvHead = task % kvHeads, span = g.start + g.n
            let q = j.q + g.row * j.qWidth, out = j.out + g.row * j.heads * j.vLen
            if g.n >= matrixFrom {
                // The head's keys and values gathered from the blocks once (K_h: span × kLen, V_h: span × vLen);
                // per query head, scores S = Q_h·K_hᵀ (n × span), causal softmax, then S·V_h into its columns.
                let keys = s + g.n * span, values = keys + span * j.kLen
                mk_gather_rows(g.blocks, g.blockSize, j.type, g.keyOffset + kvHead * j.keyHead, j.keyStride, j.kLen,
                               span, keys)
                mk_gather_rows(g.blocks, g.blockSize, j.type, g.valueOffset + kvHead * j.valueHead, j.valueStride,
                               j.vLen, span, values)
                for head in (kvHead * j.group)..<((kvHead + 1) * j.group) {
                    mk_sgemm_ex(1, g.n, span, j.kLen, q + head * j.kLen, j.qWidth, keys, j.kLen, 0, s, span)
                    mk_causal_softmax(s, g.n, span, g.start + 1, j.scale, j.window, j.sinks?[head] ?? -.infinity)
                    mk_sgemm_ex(0, g.n, j.vLen, span, s, span, values, j.vLen, 0, out + head * j.vLen, j.heads * j.vLen)
                }
                continue
            }
            for t in 0..<g.n {
                var a = mk_attention(
                    blocks: g.blocks, block_size: g.blockSize, type: j.type,
                    key_offset: g.keyOffset + kvHead * j.keyHead, key_stride: j.keyStride, key_length: j.kLen,
                    key2_offset: 0, key2_stride: 0, key2_length: 0,
                    value_offset: g.valueOffset + kvHead * j.valueHead, value_stride: j.valueStride,
                    value_length: j.vLen, length: g.start + t + 1, scale: j.scale,
                    first: j.window > 0 ? max(0, g.start + t + 1 - j.window) : 0, sink: -.infinity)
                // The group's query heads together: f16 and q8_0 rows are read once for all of them.
                let head = kvHead * j.group
                mk_attend_heads(&a, q + t * j.qWidth + head * j.kLen, j.kLen, Int32(j.group), j.sinks.map { $0 + head },
                                s, out + (t * j.heads + head) * j.vLen, j.vLen)
            }
        }
    }
}

/// The per-head part of multi-head latent attention (absorbed projections), likewise allocation-free.
private struct LatentHeads {
    let q, out, scratch: UnsafeMutablePointer<Float>
    let perThread: Int
    let segments: UnsafePointer<HeadSegment>   // keys: rotary keys (ropeDims a position), values: latents (lora)
    let heads, qWidth, kLen, vLen, nope, ropeDims, lora: Int
    let scale: Float
    let projections: LatentAttention.HeadProjections
    let absorbedKeys: ExpertMatrices?
    let serial: ThreadPool
    let activations: Activations
    let next: UnsafeMutablePointer<Int>
    let total: Int
    /// Bytes of a position's rotary keys and latent, and how they are stored.
    let keyStride, valueStride: Int
    let type: UInt32

    static func run(_ context: UnsafeRawPointer, _ chunk: Int, _ range: Range<Int>) {
        let j = context.assumingMemoryBound(to: LatentHeads.self).pointee
        let lora = j.lora
        let qAbsorbed = j.scratch + chunk * j.perThread, attended = qAbsorbed + lora
        let rowBuffer = attended + lora, s = rowBuffer + lora
        while true {
            let task = mk_fetch_add(j.next, 1)
            if task >= j.total { break }
            let g = j.segments[task / j.heads], head = task % j.heads
            for t in 0..<g.n {
                let qNope = j.q + (g.row + t) * j.qWidth + head * j.kLen, qRope = qNope + j.nope
                // The query carried into latent space: q_abs = K_bᵀ·q_nope for this head.
                switch j.projections {
                case .split(let kB, _):
                    LinearAlgebra.matvec(kB.expert(head), qNope, qAbsorbed, pool: j.serial, activations: j.activations)
                case .packed where j.activations == .quantized && j.absorbedKeys != nil:
                    LinearAlgebra.matvec(j.absorbedKeys!.expert(head), qNope, qAbsorbed, pool: j.serial,
                                         activations: .quantized)
                case .packed(let kvB):
                    qAbsorbed.update(repeating: 0, count: lora)
                    let first = head * (j.nope + j.vLen)
                    for r in 0..<j.nope {
                        Quant.dequantize(kvB.type, kvB.row(first + r), rowBuffer, count: lora)
                        Vector.axpy(qNope[r], rowBuffer, qAbsorbed, count: lora)
                    }
                }
                var a = mk_attention(
                    blocks: g.blocks, block_size: g.blockSize, type: j.type,
                    key_offset: g.valueOffset, key_stride: j.valueStride, key_length: lora,
                    key2_offset: g.keyOffset, key2_stride: j.keyStride, key2_length: j.ropeDims,
                    value_offset: g.valueOffset, value_stride: j.valueStride, value_length: lora,
                    length: g.start + t + 1, scale: j.scale, first: 0, sink: -.infinity)
                mk_attend(&a, qAbsorbed, qRope, s, attended)
                let o = j.out + ((g.row + t) * j.heads + head) * j.vLen
                switch j.projections {
                case .split(_, let vB):
                    LinearAlgebra.matvec(vB.expert(head), attended, o, pool: j.serial, activations: j.activations)
                case .packed(let kvB):
                    let values = WeightMatrix(type: kvB.type, rows: j.vLen, cols: lora,
                                              data: kvB.row(head * (j.nope + j.vLen) + j.nope))
                    LinearAlgebra.matvec(values, attended, o, pool: j.serial, activations: j.activations)
                }
            }
        }
    }
}

/// The logistic function (router and shared-expert gates).
@inline(__always)
private func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

extension Transformer {
    /// Bytes of weights one decode step reads: every matrix a token passes through (the routed experts
    /// `used` times per MoE layer), the output projection and one embedding row. Divided by the memory
    /// bandwidth it gives the decode speed limit.
    public var decodeWeightBytes: Int {
        func dense(_ f: DenseFeedForward) -> Int { f.gate.byteCount + f.up.byteCount + f.down.byteCount }
        func expert(_ m: ExpertMatrices) -> Int { m.expert(0).byteCount }
        var total = output.byteCount + embeddings.rowBytes
        for layer in layers {
            switch layer.attention {
            case .standard(let a): total += a.q.byteCount + a.k.byteCount + a.v.byteCount + a.output.byteCount
            case .latent(let a):
                total += (a.qA?.byteCount ?? 0) + (a.qB?.byteCount ?? 0) + (a.q?.byteCount ?? 0)
                total += a.kvA.byteCount + a.output.byteCount
                switch a.heads {
                case .split(let kB, let vB): total += kB.count * (expert(kB) + expert(vB))
                case .packed(let kvB): total += kvB.byteCount
                }
            }
            switch layer.ffn {
            case .dense(let f): total += dense(f)
            case .moe(let m):
                total += m.router.byteCount + m.used * (expert(m.gate) + expert(m.up) + expert(m.down))
                if let shared = m.shared { total += dense(shared) }
            }
        }
        return total
    }
}
