import Foundation
import Testing
@testable import Engine

/// Generation-loop behaviour: chunked prefill, cancellation, stop conditions.
/// Serialized: the tests share one model, and a `Transformer` runs one forward pass at a time.
@Suite(.serialized) struct GeneratorTests {
    static let model = try! LanguageModel(path: ModelFixture.folder.appendingPathComponent("qwen2moe.gguf").path,
                                          threads: 1)

    @Test func chunkedPrefillMatchesOnePass() throws {
        let vocab = Self.model.config.vocabularySize
        var rng = SeededGenerator(seed: 3)
        let prompt = (0..<200).map { _ in Int32(rng.next() % UInt64(vocab)) }
        let whole = try Self.model.transformer.logits(prompt, cache: Self.model.transformer.makeCache(capacity: 210))
        let result = try Generator(model: Self.model).generate(
            prompt: prompt, options: GenerationOptions(maxTokens: 1, ignoreEOS: true))
        #expect(result.tokens.first.map { Int($0) } == whole.indices.max { whole[$0] < whole[$1] })
    }

    @Test func cancellationStopsBeforeAndDuringGeneration() throws {
        let flag = CancellationFlag()
        flag.cancel()
        let early = try Generator(model: Self.model).generate(
            prompt: [1, 2, 3], options: GenerationOptions(maxTokens: 8, ignoreEOS: true), cancellation: flag)
        #expect(early.stopReason == .cancelled && early.tokens.isEmpty)
        let later = CancellationFlag()
        var pieces = 0
        let partial = try Generator(model: Self.model).generate(
            prompt: [1, 2, 3], options: GenerationOptions(maxTokens: 50, ignoreEOS: true), cancellation: later
        ) { _ in
            pieces += 1
            if pieces == 3 { later.cancel() }
            return true
        }
        #expect(partial.stopReason == .cancelled)
        #expect(partial.tokens.count < 50)
    }

    /// Log-probabilities are the model's log-softmax at each step: the first token's equal those of the
    /// prompt's logits, and greedy picks the most likely.
    @Test func logprobsAreTheModelsLogSoftmax() throws {
        let prompt: [Int32] = [5, 17, 42, 9, 33]
        var options = GenerationOptions(maxTokens: 4, ignoreEOS: true)
        options.logprobs = 3
        let result = try Generator(model: Self.model).generate(prompt: prompt, options: options,
                                                               cache: Self.model.transformer.makeCache(capacity: 16))
        let logprobs = try #require(result.logprobs)
        #expect(logprobs.count == result.tokens.count)
        let logits = try Self.model.transformer.logits(prompt, cache: Self.model.transformer.makeCache(capacity: 8))
        let high = logits.max()!
        let normalizer = high + Float(log(logits.reduce(0.0) { $0 + Double(expf($1 - high)) }))
        let first = logprobs[0]
        #expect(abs(first.logprob - (logits[Int(first.token)] - normalizer)) < 1e-3)
        #expect(first.top.count == 3 && first.top[0].token == first.token)
        #expect(first.top[0].logprob >= first.top[1].logprob && first.top[1].logprob >= first.top[2].logprob)
        #expect(result.logprobs?.allSatisfy { $0.logprob <= 0 } == true)
    }

    /// Another continuation of the same prompt, reusing the prompt's cache, decodes as a fresh call does.
    @Test func reusingThePromptCacheMatchesAFreshCall() throws {
        let prompt: [Int32] = [5, 17, 42, 9, 33, 8, 21]
        let options = GenerationOptions(maxTokens: 12, ignoreEOS: true)
        let fresh = try Generator(model: Self.model).generate(prompt: prompt, options: options)
        let cache = Self.model.transformer.makeCache(capacity: prompt.count + 12)
        let first = try Generator(model: Self.model).generate(prompt: prompt, options: options, cache: cache)
        #expect(cache.count == prompt.count + 11)
        let again = try Generator(model: Self.model).generate(prompt: prompt, options: options, cache: cache)
        #expect(first.tokens == fresh.tokens && again.tokens == fresh.tokens)
        #expect(again.cachedPromptTokens == prompt.count - 1)
        // A cache holding another text is used only as far as the texts agree.
        let other = try Generator(model: Self.model).generate(prompt: [5, 17, 42, 99, 98], options: options,
                                                              cache: cache)
        #expect(other.cachedPromptTokens == 3)
        let otherFresh = try Generator(model: Self.model).generate(prompt: [5, 17, 42, 99, 98], options: options)
        #expect(other.tokens == otherFresh.tokens)
    }
}
