import Foundation
import Testing
@testable import Engine

/// The sampler chain on tiny known vectors.
@Suite struct SamplerTests {
    func sample(_ logits: [Float], _ p: SamplingParameters, history: [Int32] = [], draws: Int = 1) -> [Int32] {
        let sampler = Sampler(p)
        return (0..<draws).map { _ in
            var copy = logits
            return copy.withUnsafeMutableBufferPointer { sampler.sample($0, history: history) }
        }
    }

    @Test func greedyPicksTheLargestFirstOnTies() {
        #expect(sample([0.1, 3, 3, -1], SamplingParameters(temperature: 0)) == [1])
    }

    @Test func topKOneIsGreedy() {
        let draws = sample([0, 1, 5, 2], SamplingParameters(temperature: 1.5, topK: 1, topP: 1, minP: 0), draws: 50)
        #expect(Set(draws) == [2])
    }

    @Test func topPKeepsTheNucleus() {
        // softmax([ln .5, ln .3, ln .15, ln .05]) = [.5, .3, .15, .05]; p = 0.75 keeps the first two.
        let logits: [Float] = [0.5, 0.3, 0.15, 0.05].map { logf($0) }
        let draws = sample(logits, SamplingParameters(temperature: 1, topK: 0, topP: 0.75, minP: 0, seed: 3), draws: 400)
        #expect(Set(draws) == [0, 1])
        let share = Float(draws.filter { $0 == 0 }.count) / 400
        #expect(abs(share - 0.625) < 0.08)   // .5 / (.5 + .3)
    }

    @Test func minPDropsUnlikelyTokens() {
        let logits: [Float] = [0.5, 0.3, 0.15, 0.05].map { logf($0) }
        let draws = sample(logits, SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0.4, seed: 9), draws: 300)
        #expect(Set(draws) == [0, 1])   // .15 < 0.4 × .5
    }

    @Test func repetitionPenaltyDividesPositiveAndMultipliesNegative() {
        let sampler = Sampler(SamplingParameters(temperature: 0, repetitionPenalty: 2))
        var logits: [Float] = [4, 3, -1]
        let picked = logits.withUnsafeMutableBufferPointer { sampler.sample($0, history: [0, 2, 0]) }
        #expect(logits == [2, 3, -2])
        #expect(picked == 1)
    }

    @Test func sameSeedSameDraws() {
        let logits: [Float] = (0..<50).map { Float($0 % 7) * 0.3 }
        let p = SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0, seed: 42)
        #expect(sample(logits, p, draws: 30) == sample(logits, p, draws: 30))
        var other = p
        other.seed = 43
        #expect(sample(logits, p, draws: 30) != sample(logits, other, draws: 30))
    }

    @Test func temperatureFlattens() {
        let logits: [Float] = [2, 0]
        let cold = sample(logits, SamplingParameters(temperature: 0.25, topK: 0, topP: 1, minP: 0, seed: 5), draws: 300)
        let hot = sample(logits, SamplingParameters(temperature: 4, topK: 0, topP: 1, minP: 0, seed: 5), draws: 300)
        #expect(cold.filter { $0 == 1 }.count < hot.filter { $0 == 1 }.count)
    }
}
