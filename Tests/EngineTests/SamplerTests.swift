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

    /// The arg-max is the first of the largest, skipping -inf, for rows of any size (the 16-wide scan and its tail).
    @Test func argmaxIsTheFirstLargest() {
        var source = SeededGenerator(seed: 17)
        for size in [1, 2, 15, 16, 17, 31, 33, 100, 8192, 8201] {
            for _ in 0..<20 {
                var row: [Float] = []
                for _ in 0..<size {
                    row.append(source.nextUnit() < 0.1 ? -.infinity : Float(Int(source.nextUnit() * 12)) - 6)
                }
                var expected = 0
                for i in 1..<size where row[i] > row[expected] { expected = i }
                #expect(row.withUnsafeMutableBufferPointer { Sampler.argmax($0) } == Int32(expected), "size \(size)")
            }
        }
        var none = [Float](repeating: -.infinity, count: 40)
        #expect(none.withUnsafeMutableBufferPointer { Sampler.argmax($0) } == 0)
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

    /// The chain written plainly: every token within 30 of the best (after temperature), ranked (higher first,
    /// lower id on ties); the k best; softmax, top-p, min-p; one seeded draw. (With k or fewer tokens and
    /// neither top-p nor min-p, the tokens stay in id order, as the sampler leaves them.)
    static func reference(_ logits: [Float], _ p: SamplingParameters, rng: inout SeededGenerator) -> Int32 {
        let scaled = logits.enumerated().map { (id: Int32($0.offset), value: $0.element / p.temperature) }
        let best = scaled.map(\.value).max()!
        var list = scaled.filter { $0.value >= best - 30 }
        let ranked = list.sorted { $0.value > $1.value || ($0.value == $1.value && $0.id < $1.id) }
        if p.topK > 0, list.count > p.topK { list = Array(ranked.prefix(p.topK)) }
        else if p.topP < 1 || p.minP > 0 { list = ranked }
        let top = list[0].value
        var values = list.map { expf($0.value - top) }
        let total = values.reduce(0, +)
        values = values.map { $0 / total }
        var keep = values.count
        if p.topP < 1 {
            var cumulative: Float = 0
            for (i, v) in values.enumerated() {
                cumulative += v
                if cumulative >= p.topP { keep = i + 1; break }
            }
        }
        if p.minP > 0 { while keep > 1, values[keep - 1] < values[0] * p.minP { keep -= 1 } }
        var r = rng.nextUnit() * values[..<keep].reduce(0, +)
        for i in 0..<keep {
            r -= values[i]
            if r < 0 { return list[i].id }
        }
        return list[keep - 1].id
    }

    @Test func drawsEqualThePlainChain() {
        var source = SeededGenerator(seed: 11)
        for (temperature, topK, topP, minP) in [(Float(1.5), 40, Float(0.95), Float(0.05)), (0.8, 40, 1, 0), (0.3, 40, 0.95, 0),
                                                (1, 0, 0.9, 0.05), (1.2, 5, 1, 0.1), (0.05, 40, 1, 0), (2, 200, 0.99, 0)] {
            let p = SamplingParameters(temperature: temperature, topK: topK, topP: topP, minP: minP, seed: 5)
            let sampler = Sampler(p)
            var rng = SeededGenerator(seed: 5)
            for round in 0..<25 {
                // Logits with ties and a long flat tail, as a vocabulary has; sizes that are and are not a
                // multiple of the scan's 16-wide blocks, some of them masked (-inf).
                let size = [1500, 1504, 16, 7, 1029][round % 5]
                let logits: [Float] = (0..<size).map { _ in
                    source.nextUnit() < 0.05 ? -.infinity : (Float(Int(source.nextUnit() * 40)) / 4) - 4
                }
                var copy = logits
                let got = copy.withUnsafeMutableBufferPointer { sampler.sample($0, history: []) }
                #expect(got == Self.reference(logits, p, rng: &rng), "\(p)")
            }
        }
    }
}

/// The sampler with a hard constraint: a refused pick is redrawn from the step's ranked candidates, many refusals
/// lead to a scan of the candidates in rank order, and beyond that to the constraint's full mask. Each path must
/// give what sampling from the masked logits gives: an allowed token among the k best allowed ones.
@Suite struct ConstrainedSamplerTests {
    /// Allows the tokens `allowed` says; counts checks and masks.
    final class Only: TokenConstraint {
        let allowed: (Int32) -> Bool
        var checks = 0, masks = 0
        init(_ allowed: @escaping (Int32) -> Bool) { self.allowed = allowed }
        func allows(_ token: Int32) -> Bool { checks += 1; return allowed(token) }
        func mask(_ logits: UnsafeMutableBufferPointer<Float>) {
            masks += 1
            for i in 0..<logits.count where !allowed(Int32(i)) { logits[i] = -.infinity }
        }
        func accept(_ token: Int32) {}
    }

    static let logits: [Float] = {
        var rng = SeededGenerator(seed: 7)
        return (0..<1000).map { _ in Float(rng.nextUnit()) * 8 }
    }()

    /// Token ids by logit, best first.
    static let ranked: [Int32] = logits.indices.sorted { logits[$0] > logits[$1] }.map(Int32.init)

    func draws(_ p: SamplingParameters, _ constraint: Only, count: Int) -> [Int32] {
        let sampler = Sampler(p, constraint: constraint)
        return (0..<count).map { _ in
            var copy = Self.logits
            return copy.withUnsafeMutableBufferPointer { sampler.sample($0, history: []) }
        }
    }

    @Test func greedyTakesTheBestAllowed() {
        for rank in [1, 5, 40, 300, 700] {
            let target = Self.ranked[rank]
            let only = Only { $0 == target || Self.ranked.firstIndex(of: $0)! > rank + 50 }
            #expect(draws(SamplingParameters(temperature: 0), only, count: 1) == [target], "rank \(rank)")
        }
    }

    @Test func topKDrawsFromTheKBestAllowed() {
        // Every 7th token allowed: the first pick is refused often; k = 5 of the allowed ones may come out.
        let allowed: (Int32) -> Bool = { $0 % 7 == 0 }
        let best = Array(Self.ranked.filter(allowed).prefix(5))
        for temperature: Float in [0.7, 1.5, 3] {
            let only = Only(allowed)
            let out = draws(SamplingParameters(temperature: temperature, topK: 5, topP: 1, minP: 0, seed: 3), only, count: 400)
            #expect(Set(out).isSubset(of: Set(best)), "\(temperature): \(Set(out).subtracting(best))")
            #expect(Set(out).count >= 3)
        }
    }

    @Test func refusedPicksLeadToTheScanThenTheMask() {
        // The best 50 tokens refused: 32 refusals, then the ranked scan finds the 40 best allowed (ranks 50-89)
        // before it has refused `scanGiveUp` more.
        let rank = Dictionary(uniqueKeysWithValues: Self.ranked.enumerated().map { ($1, $0) })
        let p = SamplingParameters(temperature: 1, topK: 40, topP: 1, minP: 0, seed: 1)
        let near = Only { (50..<400).contains(rank[$0]!) }
        #expect(draws(p, near, count: 50).allSatisfy { (50..<90).contains(rank[$0]!) })
        #expect(near.masks == 0)
        // The best 150 refused: the scan gives up after `scanGiveUp` refusals with nothing allowed, and the mask
        // decides (the same 40 best allowed, ranks 150-189), each step with a bounded number of checks.
        let middle = Only { (150..<400).contains(rank[$0]!) }
        #expect(draws(p, middle, count: 50).allSatisfy { (150..<190).contains(rank[$0]!) })
        #expect(middle.masks == 50)
        #expect(middle.checks <= 50 * (Sampler.retriesBeforeMask + Sampler.scanGiveUp + 1))
        // Two tokens, ranked 50th and 900th: the scan finds the 50th among its 512 candidates and draws from it
        // alone (allowed tokens below the 512 best are left out; once one is found the scan does not give up).
        let a = Self.ranked[50], b = Self.ranked[900]
        let two = Only { $0 == a || $0 == b }
        let both = draws(SamplingParameters(temperature: 1, topK: 40, topP: 1, minP: 0, seed: 1), two, count: 20)
        #expect(both == Array(repeating: a, count: 20))
        #expect(two.masks == 0)
        // Only the 900th: beyond the scan, the full mask decides.
        let one = Only { $0 == b }
        #expect(draws(SamplingParameters(temperature: 1, topK: 40, seed: 1), one, count: 3) == [b, b, b])
        #expect(one.masks == 3)
        // Only the 200th: the scan gives up after `scanGiveUp` refusals in a row, and the mask decides (the same
        // token, with a bounded number of checks).
        let far = Self.ranked[200]
        let rare = Only { $0 == far }
        #expect(draws(SamplingParameters(temperature: 1, topK: 40, seed: 1), rare, count: 2) == [far, far])
        #expect(rare.masks == 2)
        #expect(rare.checks <= 2 * (Sampler.retriesBeforeMask + Sampler.scanGiveUp + 1))
        // Greedy: the scan stops at the first allowed one.
        let greedy = Only { $0 == a || $0 == b }
        #expect(draws(SamplingParameters(temperature: 0), greedy, count: 2) == [a, a])
        #expect(greedy.masks == 0)
    }

    /// Past the min-p floor of the best allowed token, the ranked scan stops where that cannot change the draw:
    /// the same tokens as a constraint that is asked about every candidate (its checks count the difference).
    @Test func rankedScanStopsAtTheMinPFloor() {
        // Allowed: a few tokens in the middle of the ranking (reached only by the scan) and every 7th far below
        // them (under the min-p floor of the best of them).
        let allowed = Set(Self.ranked[50..<54]).union(stride(from: 400, to: 1000, by: 7).map { Self.ranked[$0] })
        let p = SamplingParameters(temperature: 1.5, topK: 40, topP: 0.95, minP: 0.5, seed: 3)
        let early = Only { allowed.contains($0) }
        let out = draws(p, early, count: 30)
        #expect(out.allSatisfy { allowed.contains($0) })
        // The same scan without the stop: the same draws, with more checks.
        let full = Only { allowed.contains($0) }
        let sampler = Sampler(p, constraint: full)
        sampler.scanStopsAtMinPFloor = false
        let reference: [Int32] = (0..<30).map { _ in
            var copy = Self.logits
            return copy.withUnsafeMutableBufferPointer { sampler.sample($0, history: []) }
        }
        #expect(out == reference)
        #expect(early.checks < full.checks)
    }

    /// Fewer refusals than `retriesBeforeMask`: each redraw is the chain's pick with the refused tokens at -inf
    /// (`SamplerTests.reference`, one draw of the generator a pick; greedy: the arg-max), whether it comes from
    /// the pool, from the ranking, or from the chain run again over the row.
    @Test func redrawsEqualTheChainWithTheRefusedMasked() {
        var source = SeededGenerator(seed: 23)
        for (temperature, topK, topP, minP) in [(Float(1.5), 40, Float(0.95), Float(0.05)), (0.8, 40, 1, 0), (0.3, 10, 0.95, 0),
                                                (1.2, 5, 1, 0.1), (0.05, 40, 1, 0), (2, 3, 1, 0), (0, 40, 1, 0)] {
            let p = SamplingParameters(temperature: temperature, topK: topK, topP: topP, minP: minP, seed: 5)
            var refusals = 0
            for round in 0..<40 {
                let size = [1500, 1504, 60, 7, 1029][round % 5]
                let logits: [Float] = (0..<size).map { _ in
                    source.nextUnit() < 0.05 ? -.infinity : (Float(Int(source.nextUnit() * 40)) / 4) - 4
                }
                // Refused: up to 31 of the 45 best tokens (so the ranked scan never starts).
                let best = logits.indices.sorted { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
                var refused = Set<Int32>()
                let wanted = Int(source.nextUnit() * 32)
                let finite = logits.filter { $0 > -.infinity }.count
                for i in best.prefix(min(45, finite - 1)) where refused.count < wanted && source.nextUnit() < 0.7 { refused.insert(Int32(i)) }
                let only = Only { !refused.contains($0) }
                var rng = SeededGenerator(seed: p.seed &+ UInt64(round))
                var q = p
                q.seed = p.seed &+ UInt64(round)
                let sampler = Sampler(q, constraint: only)
                var copy = logits
                let got = copy.withUnsafeMutableBufferPointer { sampler.sample($0, history: []) }
                var masked = logits
                var expected: Int32 = -1
                while true {
                    var token: Int32
                    if temperature <= 0 {
                        token = 0
                        for i in masked.indices where masked[i] > masked[Int(token)] { token = Int32(i) }
                    } else {
                        token = SamplerTests.reference(masked, p, rng: &rng)
                    }
                    if !refused.contains(token) {
                        expected = token
                        break
                    }
                    masked[Int(token)] = -.infinity
                    refusals += 1
                }
                #expect(got == expected, "\(p) round \(round)")
                #expect(only.masks == 0)
            }
            #expect(refusals > 40, "\(p): \(refusals) refusals")
        }
    }

    /// The ranking, read to its end, is the row within the depth of the best, sorted (higher first, lower id on
    /// ties), whatever the row's size and tiers.
    @Test func rankingReadsTheRowInOrder() {
        var source = SeededGenerator(seed: 31)
        for size in [1, 7, 60, 511, 512, 1029, 2048, 5000, 9000] {
            for scale: Float in [1, 0.3, 1.5] {
                var row: [Float] = []
                for _ in 0..<size {
                    row.append(source.nextUnit() < 0.05 ? -.infinity : Float(Int(source.nextUnit() * 400)) / 8 - 20)
                }
                let best = row.max()! / scale
                var scaled: [(id: Int32, value: Float)] = []
                for (i, x) in row.enumerated() where x / scale >= best - 45 && x > -.infinity {
                    scaled.append((Int32(i), x / scale))
                }
                scaled.sort { $0.value > $1.value || ($0.value == $1.value && $0.id < $1.id) }
                let expected: [Int32] = scaled.map { $0.id }
                var ranking = Ranking()
                let got: [Int32] = row.withUnsafeMutableBufferPointer { values in
                    ranking.build(values, scale: scale, depth: 45)
                    var ids: [Int32] = []
                    while let c = ranking.at(ids.count) { ids.append(c.id) }
                    return ids
                }
                #expect(got == expected, "size \(size), scale \(scale)")
                #expect(ranking.cutoff <= ranking.floor)
            }
        }
    }

    @Test func sameSeedSameTokens() {
        let p = SamplingParameters(temperature: 1.2, topK: 20, topP: 0.9, minP: 0.02, seed: 11)
        let allowed: (Int32) -> Bool = { $0 % 3 != 0 }
        #expect(draws(p, Only(allowed), count: 100) == draws(p, Only(allowed), count: 100))
    }
}
