import Foundation
import Testing
@testable import Engine
import Kernels

/// `--cache-reuse`: cached chunks reused at other positions (`KVBlockPool.findChunk`, `KVCache.reuseShiftedChunks`).
/// A shifted key must be the key the model computes at the new position: checked against a fresh computation whose
/// left context is identical and whose rotary positions are moved by the same amount (`KVCache.ropeOffset`), on
/// every layer, for normal and neox rope, latent attention (only the rotary key part moves), and f32, f16 and q8_0
/// caches.
@Suite(.serialized) struct KVShiftTests {
    static func model(_ file: String) throws -> LanguageModel {
        if file == "default.gguf" {
            let path = ModelFixture.folder.deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("models/default.gguf").path
            return try LanguageModel(path: path, threads: 2)
        }
        return try LanguageModel(path: ModelFixture.folder.appendingPathComponent(file).path, threads: 2)
    }

    /// Position `position`'s key (or value) row of `layer` as floats.
    static func row(_ cache: KVCache, layer: Int, position: Int, key: Bool) -> [Float] {
        let pool = cache.pool
        let block = cache.table[position / cache.blockTokens]!
        let width = key ? cache.keyWidth : cache.valueWidth
        let start = block + (key ? cache.keyOffset(layer: layer) : cache.valueOffset(layer: layer))
            + (position % cache.blockTokens) * (key ? pool.keyRowBytes : pool.valueRowBytes)
        var out = [Float](repeating: 0, count: width)
        out.withUnsafeMutableBufferPointer { Quant.dequantize(pool.type, start, $0.baseAddress!, count: width) }
        return out
    }

    /// The largest difference between two rows, relative to the larger row's largest magnitude.
    static func relativeError(_ a: [Float], _ b: [Float]) -> Float {
        let scale = max(a.map(abs).max() ?? 0, b.map(abs).max() ?? 0, 1e-6)
        return (zip(a, b).map { abs($0 - $1) }.max() ?? 0) / scale
    }

    static func tolerance(_ type: TensorType) -> Float {
        switch type {
        case .f32: return 1e-4
        case .f16: return 4e-3        // two f16 roundings against one
        default: return 0.03          // q8_0: re-quantized after the rotation (about 1.5 of 127 steps)
        }
    }

    /// An old sequence V + T (V: 21 tokens) is cached; the new prompt T + U (V dropped, as an editor's window
    /// moves) takes T from the cache at positions 21 lower. Its rows must equal those of V + T computed with
    /// rotary positions 21 lower (T's left context is V there too): all layers' keys and values.
    @Test(arguments: [("llama.gguf", TensorType.f32), ("llama.gguf", .f16), ("qwen2moe-q8_0.gguf", .f32),
                      ("qwen2moe-q8_0.gguf", .f16), ("deepseek2-q8_0.gguf", .f32), ("deepseek2-q8_0.gguf", .f16),
                      ("gptoss.gguf", .f32), ("default.gguf", .f32), ("default.gguf", .q8_0)])
    func shiftedRowsEqualRowsComputedThere(file: String, type: TensorType) throws {
        let model = try Self.model(file)
        let t = model.transformer
        t.activations = .exact
        let vocab = model.config.vocabularySize
        var rng = SeededGenerator(seed: 21)
        let v = KVCacheTests.tokens(21, vocab: vocab, rng: &rng)
        let text = KVCacheTests.tokens(50, vocab: vocab, rng: &rng)
        let u = KVCacheTests.tokens(5, vocab: vocab, rng: &rng)
        let pool = KVBlockPool(config: model.config, budgetBytes: 64 << 20, blockTokens: 16, type: type)
        do {
            let old = pool.makeCache(capacity: 100)
            _ = try t.forward(v + text, cache: old)
        }
        let prompt = text + u
        let cache = pool.makeCache(capacity: 100)
        let exact = cache.reusePrefix(of: prompt, limit: prompt.count - 1)
        #expect(exact == 0)
        let held = cache.reuseShiftedChunks(of: prompt, limit: prompt.count - 1, minimum: 32, shift: t.keyShift)
        #expect(held == text.count, "\(file): \(held) positions reused")
        #expect(Array(cache.tokens) == text)
        #expect(pool.stats.shiftedTokens == text.count && pool.stats.shiftedChunks == 1)
        #expect(pool.audit(holders: [cache]) == nil)

        let reference = KVCache(config: model.config, capacity: 100, type: type)
        reference.ropeOffset = -v.count
        _ = try t.forward(v + text, cache: reference)
        var worstKey: Float = 0, worstValue: Float = 0
        for layer in 0..<model.config.blockCount {
            for i in 0..<text.count {
                worstKey = max(worstKey, Self.relativeError(Self.row(cache, layer: layer, position: i, key: true),
                                                            Self.row(reference, layer: layer, position: v.count + i, key: true)))
                worstValue = max(worstValue, Self.relativeError(Self.row(cache, layer: layer, position: i, key: false),
                                                                Self.row(reference, layer: layer, position: v.count + i, key: false)))
            }
        }
        #expect(worstKey <= Self.tolerance(type), "\(file) \(type.name): keys differ by \(worstKey)")
        #expect(worstValue <= Self.tolerance(type), "\(file) \(type.name): values differ by \(worstValue)")
        // Decoding goes on from the reused positions: the last prompt tokens and one more compute.
        let logits = try t.logits(Array(prompt[held...]), cache: cache)
        #expect(logits.allSatisfy { $0.isFinite })
        #expect(pool.audit(holders: [cache]) == nil)
    }

    /// Layer 0's keys and values depend on the token and its position only: after the move they equal those of
    /// a plain fresh computation of the new prompt, though the left context changed (deeper layers are the
    /// approximation). Also the unmoved keys differ from them (the rotation was needed).
    @Test(arguments: ["llama.gguf", "qwen2moe-q8_0.gguf", "deepseek2-q8_0.gguf"])
    func firstLayerMatchesTheNewPrompt(file: String) throws {
        let model = try Self.model(file)
        let t = model.transformer
        t.activations = .exact
        let vocab = model.config.vocabularySize
        var rng = SeededGenerator(seed: 22)
        let v = KVCacheTests.tokens(37, vocab: vocab, rng: &rng)
        // 80 positions: five full blocks, indexed while the old sequence still runs.
        let text = KVCacheTests.tokens(43, vocab: vocab, rng: &rng)
        let pool = KVBlockPool(config: model.config, budgetBytes: 64 << 20, blockTokens: 16)
        let old = pool.makeCache(capacity: 120)
        _ = try t.forward(v + text, cache: old)
        let prompt = text + [1, 2, 3]
        let cache = pool.makeCache(capacity: 120)
        cache.reusePrefix(of: prompt, limit: prompt.count - 1)
        #expect(cache.reuseShiftedChunks(of: prompt, limit: prompt.count - 1, minimum: 24, shift: t.keyShift) == text.count)
        let fresh = t.makeCache(capacity: 120)
        _ = try t.forward(prompt, cache: fresh)
        var worst: Float = 0, unmoved: Float = 0
        for i in 0..<text.count {
            let want = Self.row(fresh, layer: 0, position: i, key: true)
            worst = max(worst, Self.relativeError(Self.row(cache, layer: 0, position: i, key: true), want))
            worst = max(worst, Self.relativeError(Self.row(cache, layer: 0, position: i, key: false),
                                                  Self.row(fresh, layer: 0, position: i, key: false)))
            unmoved = max(unmoved, Self.relativeError(Self.row(old, layer: 0, position: v.count + i, key: true), want))
        }
        #expect(worst <= 1e-4, "\(file): layer 0 differs by \(worst)")
        #expect(unmoved > 1e-2, "\(file): the unrotated keys already matched (\(unmoved))")
        // The old sequence, still running, is untouched: its continuation computes as a fresh one.
        KVCacheTests.expectClose(try t.logits([5], cache: old), try KVCacheTests.fresh(t, v + text + [5]), "\(file) old")
        #expect(pool.audit(holders: [old, cache]) == nil)
    }

    /// The search: a chunk shorter than the minimum is not taken; several chunks in order are; a moved chunk's
    /// blocks enter the prefix index (the next request with the same start takes them exactly); a full budget
    /// stops the reuse without a fault.
    @Test func chunksMinimumOrderIndexAndBudget() throws {
        let model = try Self.model("llama.gguf")
        let t = model.transformer
        t.activations = .exact
        let vocab = model.config.vocabularySize
        var rng = SeededGenerator(seed: 23)
        let a = KVCacheTests.tokens(40, vocab: vocab, rng: &rng), b = KVCacheTests.tokens(30, vocab: vocab, rng: &rng)
        let c = KVCacheTests.tokens(45, vocab: vocab, rng: &rng), x = KVCacheTests.tokens(9, vocab: vocab, rng: &rng)
        let pool = KVBlockPool(config: model.config, budgetBytes: 64 << 20, blockTokens: 16)
        do { _ = try t.forward(x + a + b + c, cache: pool.makeCache(capacity: 200)) }
        // a, then c (b cut out): two chunks, both at least 32.
        let prompt = a + c + [7]
        let cache = pool.makeCache(capacity: 200)
        cache.reusePrefix(of: prompt, limit: prompt.count - 1)
        #expect(cache.reuseShiftedChunks(of: prompt, limit: prompt.count - 1, minimum: 32, shift: t.keyShift) == 85)
        #expect(pool.stats.shiftedChunks == 2)
        // Above the longest chunk: nothing.
        let other = pool.makeCache(capacity: 200)
        #expect(other.reuseShiftedChunks(of: c + a + [7], limit: 85, minimum: 46, shift: t.keyShift) == 0)
        #expect(other.count == 0)
        // The moved chunks are indexed: the same start again is an exact prefix now.
        let again = pool.makeCache(capacity: 200)
        #expect(again.reusePrefix(of: prompt, limit: prompt.count - 1) >= 80)
        #expect(pool.audit(holders: [cache, other, again]) == nil)

        // A chunk a few tokens after the held positions (maxGap): placed ahead, held once those are computed.
        let g = KVCacheTests.tokens(3, vocab: vocab, rng: &rng)
        let gapped = g + a + [7]
        let ahead = pool.makeCache(capacity: 200)
        #expect(ahead.reuseShiftedChunks(of: gapped, limit: gapped.count - 1, minimum: 32, shift: t.keyShift) == 0)
        #expect(ahead.reuseShiftedChunks(of: gapped, limit: gapped.count - 1, minimum: 32, shift: t.keyShift,
                                         maxGap: 16) == 43)
        #expect(ahead.count == 0 && ahead.pendingChunk?.start == 3 && ahead.pendingChunk?.length == 40)
        _ = try t.forward(g, cache: ahead)
        #expect(ahead.count == 43 && ahead.pendingChunk == nil && Array(ahead.tokens) == g + a)
        let logits = try t.logits([7], cache: ahead)
        #expect(logits.allSatisfy { $0.isFinite })
        let fresh = t.makeCache(capacity: 200)
        _ = try t.forward(gapped, cache: fresh)
        var worst: Float = 0
        for i in 0..<gapped.count {
            worst = max(worst, Self.relativeError(Self.row(ahead, layer: 0, position: i, key: true),
                                                  Self.row(fresh, layer: 0, position: i, key: true)))
        }
        #expect(worst <= 1e-4, "layer 0 after a gap: \(worst)")
        #expect(pool.audit(holders: [cache, other, again, ahead]) == nil)

        // A budget with no room for the copy: the chunk is found, its copy cannot be made, the cache stays empty.
        let tight = KVBlockPool(config: model.config, budgetBytes: 0, blockTokens: 16)
        tight.setBudget(blocks: 8)
        do { _ = try t.forward(x + a + b, cache: tight.makeCache(capacity: 200)) }   // 5 blocks, then idle
        var holder: KVCache? = tight.makeCache(capacity: 200)
        _ = try t.forward(KVCacheTests.tokens(17, vocab: vocab, rng: &rng), cache: holder!)   // 2 blocks held
        let starved = tight.makeCache(capacity: 200)
        #expect(starved.reuseShiftedChunks(of: a + [1], limit: a.count, minimum: 32, shift: t.keyShift) == 0)
        #expect(starved.count == 0 && starved.blockCount == 0)
        #expect(tight.audit(holders: [holder!, starved]) == nil)
        holder = nil
        #expect(starved.reuseShiftedChunks(of: a + [1], limit: a.count, minimum: 32, shift: t.keyShift) == a.count)
        #expect(tight.audit(holders: [starved]) == nil && tight.stats.blocks <= 8)
    }
}
