import Foundation

/// Settings of the sampler chain.
public struct SamplingParameters: Sendable, Equatable {
    /// 0 (or less) picks the most likely token (greedy).
    public var temperature: Float = 0
    /// Keep the k most likely tokens (0 = all).
    public var topK: Int = 40
    /// Keep the smallest set whose probability reaches p (1 = all).
    public var topP: Float = 0.95
    /// Drop tokens less likely than minP × the most likely one (0 = none).
    public var minP: Float = 0.05
    /// > 1 makes recent tokens less likely (llama.cpp's rule: positive logits divided, negative multiplied).
    public var repetitionPenalty: Float = 1
    /// How many recent tokens the penalty looks at.
    public var repetitionWindow: Int = 64
    public var seed: UInt64 = 0

    public init(temperature: Float = 0, topK: Int = 40, topP: Float = 0.95, minP: Float = 0.05,
                repetitionPenalty: Float = 1, repetitionWindow: Int = 64, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.repetitionWindow = repetitionWindow
        self.seed = seed
    }
}

/// Edits logits before sampling. Hard constraints (a syntax mask) come first in the chain.
public protocol LogitProcessor: AnyObject {
    /// Adjusts `logits` in place given the tokens so far (prompt and generated).
    func process(_ logits: UnsafeMutableBufferPointer<Float>, history: [Int32])
    /// Told the token that was picked.
    func accept(_ token: Int32)
}

/// A hard constraint on which tokens may come next (a grammar). The sampler checks the token the chain
/// picked first and asks for the full mask only when that one is refused, so most steps cost one check.
public protocol TokenConstraint: AnyObject {
    /// Whether `token` may come next.
    func allows(_ token: Int32) -> Bool
    /// Sets the logits of every refused token to -infinity. Must leave at least one token allowed
    /// (a constraint with nothing left degrades instead of wedging generation).
    func mask(_ logits: UnsafeMutableBufferPointer<Float>)
    /// Told the token that was picked.
    func accept(_ token: Int32)
}

/// A seeded generator (SplitMix64): the same seed gives the same draws on every machine.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    public mutating func nextUnit() -> Float { Float(next() >> 40) / Float(1 << 24) }
}

/// The sampler chain: processors (constraints), repetition penalty, temperature, top-k, top-p, min-p, then a
/// seeded draw — or the arg-max when the temperature is 0. Keeps its buffers between tokens.
public final class Sampler {
    public var parameters: SamplingParameters
    public var processors: [any LogitProcessor]
    public var constraint: (any TokenConstraint)?
    private var rng: SeededGenerator
    private var candidates: [(id: Int32, value: Float)] = []
    private var selected: [(id: Int32, value: Float)] = []
    private var original: [Float] = []

    public init(_ parameters: SamplingParameters, processors: [any LogitProcessor] = [],
                constraint: (any TokenConstraint)? = nil) {
        self.parameters = parameters
        self.processors = processors
        self.constraint = constraint
        rng = SeededGenerator(seed: parameters.seed)
    }

    /// Refused picks tried one by one before the sampler asks the constraint for the full mask.
    public static let retriesBeforeMask = 32
    private var refused: [Int32] = []
    /// The best candidates of the current step, best first (ties: lower id first), after the processors, the
    /// repetition penalty and the temperature: enough of them that a refused pick can be redrawn from the rest
    /// without running the chain over the whole vocabulary again. `poolComplete`: it holds every candidate.
    private var pool: [(id: Int32, value: Float)] = []
    private var poolComplete = false
    private var poolBest: Float = 0

    /// Picks the next token from `logits` (modified in place).
    public func sample(_ logits: UnsafeMutableBufferPointer<Float>, history: [Int32]) -> Int32 {
        guard let constraint else {
            let token = pick(logits, history: history)
            for processor in processors { processor.accept(token) }
            return token
        }
        // Check-then-exclude: keep the raw logits and pick. When the constraint refuses the pick, that token
        // is excluded and the chain picks again (the arg-max of what is allowed, or a draw from the rest):
        // usually the second or third candidate is allowed, which costs a few checks instead of a check of every
        // token in the vocabulary. A pick again is a redraw from the step's best candidates (`pool`), the same as
        // running the chain with the refused tokens at -inf while the pool holds enough candidates. After
        // `retriesBeforeMask` refusals the constraint masks everything at once.
        if original.count != logits.count { original = [Float](repeating: 0, count: logits.count) }
        original.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: logits.baseAddress!, count: logits.count) }
        refused.removeAll(keepingCapacity: true)
        pool.removeAll(keepingCapacity: true)
        var token = pick(logits, history: history, keepPool: true)
        while !constraint.allows(token) {
            refused.append(token)
            if refused.count >= Self.retriesBeforeMask {
                original.withUnsafeBufferPointer { logits.baseAddress!.update(from: $0.baseAddress!, count: logits.count) }
                if let found = scanRanked(logits, history: history, constraint: constraint) {
                    token = found
                    break
                }
                original.withUnsafeBufferPointer { logits.baseAddress!.update(from: $0.baseAddress!, count: logits.count) }
                constraint.mask(logits)
                token = pick(logits, history: history)
                break
            }
            if let again = redraw() {
                token = again
                continue
            }
            original.withUnsafeBufferPointer { logits.baseAddress!.update(from: $0.baseAddress!, count: logits.count) }
            for r in refused { logits[Int(r)] = -.infinity }
            if parameters.temperature <= 0 {
                // Greedy: rank the step's best candidates once, then walk them.
                token = pick(logits, history: history, keepPool: true)
            } else {
                token = pick(logits, history: history)
            }
        }
        constraint.accept(token)
        for processor in processors { processor.accept(token) }
        return token
    }

    /// Whether the ranked scan stops at the min-p floor where that cannot change the draw (off only in tests,
    /// to compare with the scan that reads on).
    var scanStopsAtMinPFloor = true

    /// Candidates ranked for `scanRanked` before it gives up and asks for the full mask.
    static let scanLimit = 512
    /// Refused candidates in a row, from the start of the scan, after which it asks for the full mask: a check
    /// costs a few microseconds, a Python mask about as much as a hundred of them (callgrind: a storm's scan
    /// that found nothing read ~480 candidates, twice a mask's cost).
    static let scanGiveUp = 128

    /// With top-k (or greedy), the masked pick without the full mask: the `scanLimit` best candidates are
    /// checked in rank order until k of them are allowed, and the pick is drawn from those as the chain draws
    /// from the k best. When they hold fewer than k allowed tokens, the draw is from the ones found: allowed
    /// tokens ranked below `scanLimit` are left out (a full mask costs milliseconds, and such tokens are rarely
    /// what the model meant). Nil when none of them is allowed (or none of the first `scanGiveUp` refused ones),
    /// or without top-k: then the full mask decides.
    private func scanRanked(_ logits: UnsafeMutableBufferPointer<Float>, history: [Int32],
                            constraint: any TokenConstraint) -> Int32? {
        let p = parameters
        let want = p.temperature <= 0 ? 1 : p.topK
        guard want > 0 else { return nil }
        for processor in processors { processor.process(logits, history: history) }
        applyPenalty(logits, history: history)
        let scale: Float = p.temperature <= 0 ? 1 : p.temperature
        var best = -Float.infinity
        for i in 0..<logits.count { best = max(best, logits[i] / scale) }
        guard best > -.infinity else { return nil }
        selectBest(from: UnsafeBufferPointer(logits), scale: scale, count: Self.scanLimit, into: &pool)
        candidates.removeAll(keepingCapacity: true)
        // Below the min-p floor of the best allowed token, min-p removes every candidate; such candidates could
        // still change the draw only through the top-p total (a larger total keeps more of the ones above the
        // floor). When top-p keeps every candidate above the floor without them, it keeps them with them too,
        // so the scan stops there and the draw is the one the full scan would make.
        let minPFloor = p.temperature > 0 && p.minP > 0 && scanStopsAtMinPFloor ? logf(p.minP) : -Float.infinity
        var floorChecked = false
        var refusedInScan = 0
        for c in pool where !refused.contains(c.id) {
            // The same floor as `draw`: far below the best, a token cannot be drawn.
            if p.temperature > 0, c.value < best - 30 { break }
            if !floorChecked, let first = candidates.first, c.value < first.value + minPFloor {
                floorChecked = true
                if topPKeepsAll() { break }
            }
            if constraint.allows(c.id) {
                candidates.append(c)
                if candidates.count == want { break }
            } else {
                refusedInScan += 1
                // Nothing allowed among this many: allowed tokens are rare here, and the full mask (which
                // decides exactly) costs less than reading on through the ranking.
                if candidates.isEmpty, refusedInScan >= Self.scanGiveUp { break }
            }
        }
        pool.removeAll(keepingCapacity: true)
        // Far below the best, `draw`'s floor would have been set by the best allowed token: let the mask decide.
        guard let first = candidates.first, p.temperature <= 0 || first.value >= best - 15 else { return nil }
        if p.temperature <= 0 { return first.id }
        return finish()
    }

    /// Whether top-p, over `candidates` (ranked, values after temperature) alone, keeps all of them.
    private func topPKeepsAll() -> Bool {
        let topP = parameters.topP
        guard topP < 1, candidates.count > 1 else { return true }
        let top = candidates[0].value
        var total: Float = 0
        for c in candidates { total += expf(c.value - top) }
        var cumulative: Float = 0
        for c in candidates.dropLast() {
            cumulative += expf(c.value - top) / total
            if cumulative >= topP { return false }
        }
        return true
    }

    /// The pick with the refused tokens left out, from the pool; nil when the pool cannot tell.
    private func redraw() -> Int32? {
        guard !pool.isEmpty else { return nil }
        let p = parameters
        candidates.removeAll(keepingCapacity: true)
        let want = p.temperature <= 0 ? 1 : p.topK
        for c in pool where !refused.contains(c.id) {
            candidates.append(c)
            if candidates.count == want { break }
        }
        // Short of the k best (or of any, or far below the step's best, where the floor of `draw` would have
        // been set differently): run the chain again.
        guard let first = candidates.first, candidates.count == want || poolComplete,
              p.temperature <= 0 || first.value >= poolBest - 15 else { return nil }
        if p.temperature <= 0 { return first.id }
        return finish()
    }

    private func pick(_ logits: UnsafeMutableBufferPointer<Float>, history: [Int32], keepPool: Bool = false) -> Int32 {
        for p in processors { p.process(logits, history: history) }
        let p = parameters
        applyPenalty(logits, history: history)
        if p.temperature <= 0 {
            if keepPool {
                // The retries' worth of best tokens, ranked (the first is the arg-max).
                pool.removeAll(keepingCapacity: true)
                selectBest(from: UnsafeBufferPointer(logits), scale: 1, count: Self.retriesBeforeMask + 1, into: &pool)
                poolComplete = false
                poolBest = pool.first?.value ?? 0
                if let first = pool.first, first.value > -.infinity { return first.id }
                pool.removeAll()
            }
            return Self.argmax(logits)
        }
        return draw(logits, keepPool: keepPool)
    }

    private func applyPenalty(_ logits: UnsafeMutableBufferPointer<Float>, history: [Int32]) {
        let p = parameters
        guard p.repetitionPenalty != 1, p.repetitionWindow > 0 else { return }
        var seen = Set<Int32>()
        for token in history.suffix(p.repetitionWindow) where seen.insert(token).inserted {
            let i = Int(token)
            guard i >= 0, i < logits.count else { continue }
            logits[i] = logits[i] > 0 ? logits[i] / p.repetitionPenalty : logits[i] * p.repetitionPenalty
        }
    }

    /// The index of the largest logit (the first one on ties), skipping -inf.
    public static func argmax(_ logits: UnsafeMutableBufferPointer<Float>) -> Int32 {
        var best = 0
        for i in 1..<logits.count where logits[i] > logits[best] { best = i }
        return Int32(best)
    }

    /// Ranking of candidates: higher value first, lower id first on ties.
    private static func before(_ a: (id: Int32, value: Float), _ b: (id: Int32, value: Float)) -> Bool {
        a.value > b.value || (a.value == b.value && a.id < b.id)
    }

    /// The `count` best of `values[i] / scale` (finite ones), ranked, into `out`.
    private func selectBest(from values: UnsafeBufferPointer<Float>, scale: Float, count: Int,
                            into out: inout [(id: Int32, value: Float)]) {
        out.removeAll(keepingCapacity: true)
        for i in 0..<values.count {
            let c = (id: Int32(i), value: values[i] / scale)
            if c.value > -.infinity { Self.insertRanked(c, into: &out, keeping: count) }
        }
    }

    /// Inserts `c` into `out` (ranked, best first) when it is among the `count` best seen so far.
    /// By moving the ones it ranks before down a place, in place: a scan of a vocabulary inserts a few hundred
    /// candidates into a list of a few dozen, where `Array.insert` cost more than the move.
    private static func insertRanked(_ c: (id: Int32, value: Float), into out: inout [(id: Int32, value: Float)],
                                     keeping count: Int) {
        if out.count == count {
            guard count > 0, before(c, out[count - 1]) else { return }
        } else {
            out.append(c)
        }
        out.withUnsafeMutableBufferPointer { b in
            var j = b.count - 1
            while j > 0, before(c, b[j - 1]) {
                b[j] = b[j - 1]
                j -= 1
            }
            b[j] = c
        }
    }

    /// The largest of `values` (-inf when empty or all -inf; NaN never counts), 16 at a time.
    static func largest(_ values: UnsafeMutableBufferPointer<Float>) -> Float {
        guard let base = values.baseAddress else { return -.infinity }
        let n = values.count
        var best16 = SIMD16<Float>(repeating: -.infinity)
        var i = 0
        while i + 16 <= n {
            let v = UnsafeRawPointer(base + i).loadUnaligned(as: SIMD16<Float>.self)
            best16.replace(with: v, where: v .> best16)
            i += 16
        }
        var best = -Float.infinity
        for j in 0..<16 where best16[j] > best { best = best16[j] }
        while i < n {
            if base[i] > best { best = base[i] }
            i += 1
        }
        return best
    }

    private func draw(_ logits: UnsafeMutableBufferPointer<Float>, keepPool: Bool = false) -> Int32 {
        let p = parameters
        candidates.removeAll(keepingCapacity: true)
        // Tokens more than 30 (after temperature) below the best have probability < 1e-13 of the best's; all
        // of them together stay below float resolution of the total, so they are left out.
        // (Division by a positive temperature keeps the order, so the best after it is the best before it.)
        let rawBest = Self.largest(logits)
        let best = rawBest / p.temperature
        if best == -.infinity { return Self.argmax(logits) }
        let floor = best - 30
        let before = Self.before
        if p.topK > 0 {
            // Candidates in order, best first (ties: lower id first): the top k by selection in one pass over
            // the logits. With a pool, the k best plus one per possible retry (a retry excludes one of them).
            let count = keepPool ? p.topK + Self.retriesBeforeMask : p.topK
            var top = selected
            selected = []
            top.removeAll(keepingCapacity: true)
            // Division by the temperature keeps the order, so raw logits are compared where they decide:
            // the floor as the lowest raw value that reaches it, and the last kept candidate by its raw value.
            var rawFloor = floor * p.temperature
            while rawFloor / p.temperature >= floor, rawFloor > -.infinity { rawFloor = rawFloor.nextDown }
            while rawFloor / p.temperature < floor { rawFloor = rawFloor.nextUp }
            var lastRaw = -Float.infinity   // the raw value of the last kept candidate, once `count` are kept
            // 16 logits at a time: `seen` counts those at or above the floor; a block goes through the
            // scalar steps below only when one of them may enter the list (most do not, once it is full).
            let base = logits.baseAddress!, n = logits.count
            let floor16 = SIMD16<Float>(repeating: rawFloor)
            var seen16 = SIMD16<Int32>(repeating: 0)
            var seen = 0
            var block = 0
            while block < n {
                let end = min(n, block + 16)
                if end - block == 16 {
                    let v = UnsafeRawPointer(base + block).loadUnaligned(as: SIMD16<Float>.self)
                    let reached = v .>= floor16
                    seen16 &+= SIMD16<Int32>(repeating: 0).replacing(with: 1, where: reached)
                    guard any(reached .& (v .> SIMD16<Float>(repeating: lastRaw))) else {
                        block = end
                        continue
                    }
                } else {
                    for i in block..<end where base[i] >= rawFloor { seen += 1 }
                }
                for i in block..<end {
                    let raw = base[i]
                    // Ids grow, so a value equal to the last kept one ranks after it.
                    guard raw >= rawFloor, raw > lastRaw else { continue }
                    Self.insertRanked((Int32(i), raw / p.temperature), into: &top, keeping: count)
                    if top.count == count { lastRaw = base[Int(top[count - 1].id)] }
                }
                block = end
            }
            seen += Int(seen16.wrappedSum())
            if seen > p.topK {
                if keepPool {
                    poolComplete = seen <= count
                    pool.removeAll(keepingCapacity: true)
                    pool.append(contentsOf: top)
                    poolBest = best
                    top.removeLast(max(0, top.count - p.topK))
                }
                selected = candidates
                candidates = top
                return finish()
            }
            // k or fewer: all of them, in id order as the filters below expect them.
            top.sort { $0.id < $1.id }
            selected = candidates
            candidates = top
        } else {
            for i in 0..<logits.count {
                let v = logits[i] / p.temperature
                if v >= floor { candidates.append((Int32(i), v)) }
            }
        }
        if p.topP < 1 || p.minP > 0 {
            // Tokens with e^(v − best) ≥ 1e-3 come first; when they alone hold the top-p mass, only they are sorted.
            let headFloor = best - logf(1000)
            var total: Float = 0, head: Float = 0
            for c in candidates {
                let e = expf(c.value - best)
                total += e
                if c.value >= headFloor { head += e }
            }
            let pivot = candidates.partition { $0.value < headFloor }
            if p.topP < 1 && head >= p.topP * total {
                candidates[0..<pivot].sort(by: before)
                candidates[pivot...].sort(by: before)
            } else {
                candidates.sort(by: before)
            }
            if keepPool, p.topK > 0 {
                // Every candidate (no more than k): a retry draws from the rest.
                pool.removeAll(keepingCapacity: true)
                pool.append(contentsOf: candidates)
                poolComplete = true
                poolBest = best
            }
        }
        return finish()
    }

    /// Softmax over `candidates` (ranked), then top-p, min-p and the seeded draw.
    private func finish() -> Int32 {
        let p = parameters
        let top = candidates[0].value
        var total: Float = 0
        for i in candidates.indices {
            candidates[i].value = expf(candidates[i].value - top)
            total += candidates[i].value
        }
        for i in candidates.indices { candidates[i].value /= total }
        if p.topP < 1 {
            var cumulative: Float = 0, keep = candidates.count
            for (i, c) in candidates.enumerated() {
                cumulative += c.value
                if cumulative >= p.topP { keep = i + 1; break }
            }
            candidates.removeLast(candidates.count - keep)
        }
        if p.minP > 0 {
            let threshold = candidates[0].value * p.minP
            while candidates.count > 1, candidates[candidates.count - 1].value < threshold { candidates.removeLast() }
        }
        var mass: Float = 0
        for c in candidates { mass += c.value }
        var r = rng.nextUnit() * mass
        for c in candidates {
            r -= c.value
            if r < 0 { return c.id }
        }
        return candidates[candidates.count - 1].id
    }
}
