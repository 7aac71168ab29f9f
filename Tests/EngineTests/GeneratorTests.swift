import Foundation
import Testing
@testable import Engine

/// Generation-loop behaviour: chunked prefill, cancellation, stop conditions.
@Suite struct GeneratorTests {
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
}
