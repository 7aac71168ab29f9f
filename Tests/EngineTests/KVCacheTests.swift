import Foundation
import Testing
@testable import Engine
import Kernels

/// The paged KV cache and its pool: prefix sharing by reference, copy on write, the budget and eviction.
/// Every result is checked against the same computation with a cache of its own (no sharing).
@Suite(.serialized) struct KVCacheTests {
    static func model(_ file: String) throws -> LanguageModel {
        try LanguageModel(path: ModelFixture.folder.appendingPathComponent(file).path, threads: 2)
    }

    static func tokens(_ count: Int, vocab: Int, rng: inout SeededGenerator) -> [Int32] {
        (0..<count).map { _ in Int32(rng.next() % UInt64(vocab)) }
    }

    /// Logits of `tokens`' last position computed from scratch in a private cache.
    static func fresh(_ t: Transformer, _ tokens: [Int32]) throws -> [Float] {
        try t.logits(tokens, cache: t.makeCache(capacity: tokens.count))
    }

    static func expectClose(_ a: [Float], _ b: [Float], _ what: String) {
        let scale = b.map(abs).max() ?? 1
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 1e-4 * scale, "\(what): \(worst) of \(scale)")
        var x = a, y = b
        #expect(x.withUnsafeMutableBufferPointer { Sampler.argmax($0) } == y.withUnsafeMutableBufferPointer { Sampler.argmax($0) },
                "\(what): another argmax")
    }

    /// A second sequence with the same prefix takes its full blocks by reference and copies the block at the
    /// divergence; its logits are those of a fresh computation, for standard and latent (MLA) attention.
    @Test(arguments: ["llama.gguf", "qwen2moe-q8_0.gguf", "deepseek2-q8_0.gguf"])
    func sharedPrefixComputesAsFresh(file: String) throws {
        let model = try Self.model(file)
        let t = model.transformer
        let vocab = model.config.vocabularySize
        var rng = SeededGenerator(seed: 3)
        let pool = KVBlockPool(config: model.config, budgetBytes: 64 << 20, blockTokens: 16)
        let prefix = Self.tokens(70, vocab: vocab, rng: &rng)
        let a = prefix + Self.tokens(10, vocab: vocab, rng: &rng)
        let b = prefix + Self.tokens(12, vocab: vocab, rng: &rng)
        let first = pool.makeCache(capacity: 100)
        #expect(first.reusePrefix(of: a, limit: a.count - 1) == 0)
        _ = try t.forward(a, cache: first)
        #expect(pool.stats.blocks == 5)   // 80 positions in blocks of 16
        let second = pool.makeCache(capacity: 100)
        let reused = second.reusePrefix(of: b, limit: b.count - 1)
        #expect(reused == 70)
        // Four full blocks shared (held twice), the fifth copied up to the divergence.
        #expect(pool.stats.blocks == 6 && pool.stats.copies == 1)
        #expect(second.blocks.prefix(4).elementsEqual(first.blocks.prefix(4)))
        let logits = try t.logits(Array(b[reused...]), cache: second)
        Self.expectClose(logits, try Self.fresh(t, b), "\(file) after reuse")
        // The first sequence's cache is untouched: its continuation still computes as fresh.
        let next = Self.tokens(3, vocab: vocab, rng: &rng)
        Self.expectClose(try t.logits(next, cache: first), try Self.fresh(t, a + next), "\(file) first sequence")
        #expect(pool.stats.heldBlocks == pool.stats.blocks)
    }

    /// Cutting a sequence back into a block another sequence holds and writing there copies the block first.
    @Test func writingIntoASharedBlockCopiesIt() throws {
        let model = try Self.model("llama.gguf")
        let t = model.transformer
        let vocab = model.config.vocabularySize
        var rng = SeededGenerator(seed: 4)
        let pool = KVBlockPool(config: model.config, budgetBytes: 64 << 20, blockTokens: 16)
        let text = Self.tokens(40, vocab: vocab, rng: &rng)
        let first = pool.makeCache(capacity: 64)
        _ = try t.forward(text, cache: first)
        let second = pool.makeCache(capacity: 64)
        // The first sequence's partly filled third block is its own while it runs: two full blocks are shared.
        #expect(second.reusePrefix(of: text + [1], limit: 40) == 32)
        second.truncate(to: 20)
        let other = Self.tokens(6, vocab: vocab, rng: &rng)
        Self.expectClose(try t.logits(other, cache: second), try Self.fresh(t, Array(text[..<20]) + other), "rewritten")
        #expect(second.blocks[1] != first.blocks[1] && second.blocks[0] == first.blocks[0])
        let more = Self.tokens(2, vocab: vocab, rng: &rng)
        Self.expectClose(try t.logits(more, cache: first), try Self.fresh(t, text + more), "the original")
    }

    /// A finished sequence leaves its partly filled last block in the index: the same text again is served
    /// from the cache up to its last token.
    @Test func finishedSequenceLeavesItsWholePrefix() throws {
        let model = try Self.model("llama.gguf")
        let t = model.transformer
        var rng = SeededGenerator(seed: 5)
        let pool = KVBlockPool(config: model.config, budgetBytes: 64 << 20, blockTokens: 16)
        let text = Self.tokens(37, vocab: model.config.vocabularySize, rng: &rng)
        do {
            let cache = pool.makeCache(capacity: 64)
            _ = try t.forward(text, cache: cache)
        }
        #expect(pool.stats.heldBlocks == 0 && pool.stats.cachedBlocks == 3)
        let again = pool.makeCache(capacity: 64)
        #expect(again.reusePrefix(of: text + [7, 8], limit: text.count + 1) == 37)
        Self.expectClose(try t.logits([7, 8], cache: again), try Self.fresh(t, text + [7, 8]), "after the partial block")
        #expect(pool.stats.hitTokens == 37)
    }

    /// Many overlapping sequences (a few shared "files" with different tails, generated in interleaved
    /// batches) under a budget far below what they need together: the pool never exceeds its budget, never
    /// frees a block a live sequence holds, and every sequence decodes exactly as with a cache of its own.
    @Test func randomizedEvictionKeepsBudgetAndResults() throws {
        let model = try Self.model("llama.gguf")
        let t = model.transformer
        let vocab = model.config.vocabularySize
        var rng = SeededGenerator(seed: 9)
        let pool = KVBlockPool(config: model.config, budgetBytes: 0, blockTokens: 8)
        pool.setBudget(blocks: 40)
        let files = (0..<4).map { _ in Self.tokens(30 + Int(rng.next() % 30), vocab: vocab, rng: &rng) }
        var live: [(cache: KVCache, text: [Int32])] = []
        var checked = 0, started = 0, reusedTokens = 0
        for round in 0..<60 {
            // Start a sequence: a file's prefix of random length and a random tail.
            if live.count < 3 || rng.next() % 3 == 0 {
                let file = files[Int(rng.next() % UInt64(files.count))]
                let cut = 1 + Int(rng.next() % UInt64(file.count))
                let text = Array(file[..<cut]) + Self.tokens(Int(rng.next() % 6), vocab: vocab, rng: &rng)
                let cache = pool.makeCache(capacity: 96)
                let reused = cache.reusePrefix(of: text, limit: text.count - 1)
                if cache.reserve(positions: 96) {
                    if reused < text.count - 1 { _ = try t.forward(Array(text[reused..<(text.count - 1)]), cache: cache) }
                    live.append((cache, Array(text.prefix(text.count - 1))))
                    started += 1
                    reusedTokens += reused
                }
            }
            guard !live.isEmpty else { continue }
            // Advance every live sequence by its next token, all in one batch, and compare with fresh runs.
            var inputs: [Transformer.SequenceInput] = []
            var nextTokens: [Int32] = []
            for entry in live {
                let token = Int32(rng.next() % UInt64(vocab))
                nextTokens.append(token)
                inputs.append(.init(tokens: [token], cache: entry.cache))
            }
            let logits = Array(try t.forward(batch: inputs))
            for i in live.indices {
                live[i].text.append(nextTokens[i])
                if round % 5 == 0 {
                    Self.expectClose(Array(logits[(i * vocab)..<((i + 1) * vocab)]), try Self.fresh(t, live[i].text),
                                     "round \(round) sequence \(i)")
                    checked += 1
                }
                #expect(live[i].cache.tokens == live[i].text)
            }
            if let problem = pool.audit(holders: live.map(\.cache)) { Issue.record("round \(round): \(problem)") }
            // End a sequence now and then (its blocks stay cached until evicted), and any near its capacity.
            live.removeAll { $0.cache.count >= 90 }
            if live.count > 4 || (!live.isEmpty && rng.next() % 4 == 0) { live.remove(at: Int(rng.next() % UInt64(live.count))) }
        }
        #expect(checked > 20, "\(started) sequences started")
        #expect(started > 10 && reusedTokens > 0)
        #expect(pool.stats.evictions > 0, "the budget never forced an eviction")
        #expect(pool.stats.hitTokens > 0)
    }

    /// Keys and values stored as f16 or q8_0 give logits close to the exact (f32) cache's, on the prompt (the
    /// matrix attention path) and token by token (the one-row path); q8_0 needs heads of multiples of 32.
    @Test(arguments: [TensorType.f16, .q8_0])
    func typedCachesFollowTheExactOne(type: TensorType) throws {
        let path = ModelFixture.folder.deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("models/default.gguf").path
        let model = try LanguageModel(path: path, threads: 2)
        let t = model.transformer
        // Exact products: 8-bit activations would amplify any difference (a rounding flips) and hide the cache's own.
        t.activations = .exact
        var rng = SeededGenerator(seed: 12)
        let tokens = Self.tokens(120, vocab: model.config.vocabularySize, rng: &rng)
        let vocab = model.config.vocabularySize
        let exact = try t.logits(tokens, cache: t.makeCache(capacity: 200), allLogits: true)
        let typedCache = KVCache(config: model.config, capacity: 200, type: type)
        var typed = try t.logits(Array(tokens[..<100]), cache: typedCache, allLogits: true)
        for token in tokens[100...] { typed += try t.logits([token], cache: typedCache) }
        var worst: Float = 0, agree = 0
        for row in 0..<tokens.count {
            let a = Array(exact[(row * vocab)..<((row + 1) * vocab)]), b = Array(typed[(row * vocab)..<((row + 1) * vocab)])
            let scale = a.map(abs).max() ?? 1
            worst = max(worst, zip(a, b).map { abs($0 - $1) }.max()! / scale)
            if a.indices.max(by: { a[$0] < a[$1] }) == b.indices.max(by: { b[$0] < b[$1] }) { agree += 1 }
        }
        #expect(worst <= (type == .f16 ? 2e-3 : 0.15), "\(type.name): worst relative logit error \(worst)")
        #expect(agree >= tokens.count * 95 / 100, "\(type.name): arg-max agrees on \(agree) of \(tokens.count)")
        let f32 = KVBlockPool(config: model.config, budgetBytes: 1 << 20, type: .f32)
        let small = KVBlockPool(config: model.config, budgetBytes: 1 << 20, type: type)
        #expect(Double(small.blockBytes) <= Double(f32.blockBytes) * (type == .f16 ? 0.5 : 0.27))
        // The fixtures' 16-wide heads cannot be stored as q8_0: refused with what to use instead.
        let tiny = try Self.model("llama.gguf")
        #expect(throws: ModelError.self) { try tiny.transformer.setKVType(.q8_0) }
        try tiny.transformer.setKVType(.f16)
    }

    /// A budget too small for one more block refuses with a message that says what to do.
    @Test func fullBudgetRefusesClearly() throws {
        let model = try Self.model("llama.gguf")
        let t = model.transformer
        let pool = KVBlockPool(config: model.config, budgetBytes: 0, blockTokens: 8)
        pool.setBudget(blocks: 2)
        let cache = pool.makeCache(capacity: 64)
        _ = try t.forward(Array(repeating: 3, count: 16), cache: cache)
        #expect(!pool.makeCache(capacity: 64).reserve(positions: 9))
        do {
            _ = try t.forward([4], cache: cache)
            Issue.record("a pass beyond the budget was not refused")
        } catch let error as KVBudgetError {
            #expect("\(error)".contains("--kv-budget"))
        }
        #expect(cache.count == 16)
    }
}
