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
    /// Told, after each step, how long the sampler's constrained-only work took: everything after the pick it
    /// makes without a constraint (the checks, redraws of refused picks, the ranked scan, the mask and the pick
    /// after it, taking in the token). It contains the time of this protocol's own calls.
    func sampled(nanoseconds: UInt64)
}

public extension TokenConstraint {
    func sampled(nanoseconds: UInt64) {}
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

    public init(_ parameters: SamplingParameters, processors: [any LogitProcessor] = [],
                constraint: (any TokenConstraint)? = nil) {
        self.parameters = parameters
        self.processors = processors
        self.constraint = constraint
        rng = SeededGenerator(seed: parameters.seed)
    }

    /// Refused picks tried one by one before the sampler scans the ranked candidates (and, when that finds
    /// nothing, asks the constraint for the full mask).
    public static let retriesBeforeMask = 32
    /// Candidates the first pick of a constrained step keeps beyond the k it draws from, so that the first
    /// refused picks are redrawn from them; more refusals read on in the step's `ranking`.
    static let spareCandidates = 4
    private var refused: [Int32] = []
    /// One bit per token id: the refused picks of the current step (cleared at its end).
    private var refusedBits: [UInt64] = []
    /// The best candidates of the current step, best first (ties: lower id first), after the processors, the
    /// repetition penalty and the temperature: the k best and `spareCandidates` more, so that a refused pick
    /// can be redrawn from the rest without running the chain over the whole vocabulary again.
    private var pool: [(id: Int32, value: Float)] = []
    /// The current step's candidates within `rankingDepth` of the best, in rank order, built at the first refusal
    /// the pool cannot redraw.
    private var ranking = Ranking()
    private var rankingBuilt = false

    /// Picks the next token from `logits` (modified in place: the processors and the penalty are applied, and
    /// refused tokens may be set to -inf).
    public func sample(_ logits: UnsafeMutableBufferPointer<Float>, history: [Int32]) -> Int32 {
        guard let constraint else {
            let token = pick(logits, history: history)
            for processor in processors { processor.accept(token) }
            return token
        }
        // Check-then-exclude: pick as without a constraint. When the constraint refuses the pick, that token
        // is excluded and the chain picks again (the arg-max of what is allowed, or a draw from the rest):
        // usually the second or third candidate is allowed, which costs a few checks instead of a check of every
        // token in the vocabulary. A pick again is a redraw from the step's best candidates (`pool`, then
        // `ranking`): the same as running the chain with the refused tokens at -inf. After `retriesBeforeMask`
        // refusals the ranked candidates are scanned for allowed ones, and when that finds none the constraint
        // masks everything at once. The processors and the penalty run once: their result stays in `logits`,
        // and a mask's -inf is the same before or after them.
        refused.removeAll(keepingCapacity: true)
        pool.removeAll(keepingCapacity: true)
        rankingBuilt = false
        if refusedBits.count * 64 < logits.count {
            refusedBits = [UInt64](repeating: 0, count: (logits.count + 63) / 64)
        }
        var token = pick(logits, history: history, keepPool: true)
        let picked = DispatchTime.now().uptimeNanoseconds
        while !constraint.allows(token) {
            refused.append(token)
            if token >= 0, Int(token) < logits.count { refusedBits[Int(token) >> 6] |= 1 << UInt64(token & 63) }
            if refused.count >= Self.retriesBeforeMask {
                if let found = scanRanked(logits, constraint: constraint) {
                    token = found
                    break
                }
                constraint.mask(logits)
                token = pick(logits, history: history, processed: true)
                break
            }
            if let again = redraw(logits) {
                token = again
                continue
            }
            // Neither the pool nor the ranking can tell (few candidates near the best): the chain over the whole
            // row, with the refused tokens at -inf.
            for r in refused where r >= 0 && Int(r) < logits.count { logits[Int(r)] = -.infinity }
            token = pick(logits, history: history, processed: true)
        }
        for r in refused where r >= 0 && Int(r) < logits.count { refusedBits[Int(r) >> 6] = 0 }
        constraint.accept(token)
        for processor in processors { processor.accept(token) }
        let spent = DispatchTime.now().uptimeNanoseconds &- picked
        constraint.sampled(nanoseconds: spent)
        return token
    }

    @inline(__always) private static func isRefused(_ id: Int32, _ bits: [UInt64]) -> Bool {
        bits[Int(id) >> 6] & (1 << UInt64(id & 63)) != 0
    }

    /// Whether the ranked scan stops at the min-p floor where that cannot change the draw (off only in tests,
    /// to compare with the scan that reads on).
    var scanStopsAtMinPFloor = true

    /// Candidates ranked for `scanRanked` before it gives up and asks for the full mask.
    static let scanLimit = 512
    /// Refused candidates in a row, from the start of the scan, after which it asks for the full mask. After the
    /// `retriesBeforeMask` refusals before the scan, this many more with nothing allowed is a refusal storm: few
    /// tokens are allowed, the first-byte verdicts settle most of the vocabulary, and the mask costs about as much
    /// as 40 checks (timed, 75-120 us; a storm's checks cost 2-3 us each). Where many tokens are allowed a mask
    /// costs far more (callgrind: one of 34.5 M instructions, against 0.8 M for a storm's), which is why the scan
    /// does not give up once it has found one.
    static let scanGiveUp = 32

    /// `ranking` holds the candidates within this much of the best (after the temperature): the chain's floor is
    /// 30 below the best token not refused, so the ranking decides alone while that one is within 15 of the best.
    static let rankingDepth: Float = 45

    /// Builds `ranking` from the processed logits, once a step.
    private func buildRanking(_ logits: UnsafeMutableBufferPointer<Float>) {
        guard !rankingBuilt else { return }
        rankingBuilt = true
        let scale: Float = parameters.temperature <= 0 ? 1 : parameters.temperature
        ranking.build(logits, scale: scale, depth: Self.rankingDepth)
    }

    /// With top-k (or greedy), the masked pick without the full mask: the `scanLimit` best candidates are
    /// checked in rank order until k of them are allowed, and the pick is drawn from those as the chain draws
    /// from the k best. When they hold fewer than k allowed tokens, the draw is from the ones found: allowed
    /// tokens ranked below `scanLimit` are left out (a full mask costs milliseconds, and such tokens are rarely
    /// what the model meant). Nil when none of them is allowed (or none of the first `scanGiveUp` refused ones),
    /// or without top-k: then the full mask decides.
    private func scanRanked(_ logits: UnsafeMutableBufferPointer<Float>, constraint: any TokenConstraint) -> Int32? {
        let p = parameters
        let want = p.temperature <= 0 ? 1 : p.topK
        guard want > 0 else { return nil }
        buildRanking(logits)
        let best = ranking.best
        guard best > -.infinity else { return nil }
        candidates.removeAll(keepingCapacity: true)
        // Below the min-p floor of the best allowed token, min-p removes every candidate; such candidates could
        // still change the draw only through the top-p total (a larger total keeps more of the ones above the
        // floor). When top-p keeps every candidate above the floor without them, it keeps them with them too,
        // so the scan stops there and the draw is the one the full scan would make.
        let minPFloor = p.temperature > 0 && p.minP > 0 && scanStopsAtMinPFloor ? logf(p.minP) : -Float.infinity
        var floorChecked = false
        var refusedInScan = 0
        var rank = 0
        let bits = refusedBits
        while rank < Self.scanLimit, let c = ranking.at(rank) {
            rank += 1
            if Self.isRefused(c.id, bits) { continue }
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
                // decides exactly, and costs little when few tokens are allowed) costs less than reading on
                // through the ranking.
                if candidates.isEmpty, refusedInScan >= Self.scanGiveUp { break }
            }
        }
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

    /// The pick with the refused tokens left out, as the chain makes it with them at -inf: from the pool, else
    /// from the ranking; nil when neither can tell (then the chain runs again over the row).
    private func redraw(_ logits: UnsafeMutableBufferPointer<Float>) -> Int32? {
        let p = parameters
        let want = p.temperature <= 0 ? 1 : p.topK
        // Locals, not the properties, in the loops: no exclusivity check per candidate.
        let bits = refusedBits
        var found = candidates
        candidates = []
        found.removeAll(keepingCapacity: true)
        var greedy: Int32?       // the pick, without a draw
        var decided = false      // `found` holds the chain's candidates, to draw from
        if !pool.isEmpty {
            // The pool holds the step's best candidates in rank order: the k best not refused are the chain's k
            // when one more is left (all of them are above any floor the chain can have now).
            var more = false
            for c in pool where !Self.isRefused(c.id, bits) {
                if found.count == want {
                    more = true
                    break
                }
                found.append(c)
            }
            // (Only sampling keeps a pool: greedy redraws from the ranking.)
            decided = more
            // It cannot decide again: the refusals only grow.
            if !decided { pool.removeAll(keepingCapacity: true) }
        }
        if greedy == nil, !decided, want > 0 {
            // The chain over the ranking without the refused tokens: the best of them sets the floor (30 below
            // it), and the draw is from the k best above the floor (ranked when there are more than k, or with
            // top-p or min-p; otherwise in id order, as `draw` leaves them).
            buildRanking(logits)
            found.removeAll(keepingCapacity: true)
            var walk = Ranking()
            swap(&walk, &ranking)
            var rank = 0
            var more = false         // a candidate beyond the k best, above the floor
            var exhausted = true     // the walk reached the ranking's end
            var floor = -Float.infinity
            while let c = walk.at(rank) {
                rank += 1
                if Self.isRefused(c.id, bits) { continue }
                if found.isEmpty {
                    if p.temperature <= 0 {
                        greedy = c.id
                        break
                    }
                    floor = c.value - 30
                }
                if c.value < floor {
                    exhausted = false
                    break
                }
                if found.count == want {
                    more = true
                    exhausted = false
                    break
                }
                found.append(c)
            }
            // At the ranking's end it decides only when nothing it left out can be above the floor.
            if greedy == nil, !found.isEmpty, !exhausted || walk.cutoff <= floor {
                decided = true
                if !more, p.topP >= 1, p.minP <= 0 { found.sort { $0.id < $1.id } }
            }
            swap(&walk, &ranking)
        }
        candidates = consume found
        if let greedy { return greedy }
        return decided ? finish() : nil
    }

    /// The chain over `logits`; `processed`: the processors and the penalty were applied to them already.
    private func pick(_ logits: UnsafeMutableBufferPointer<Float>, history: [Int32], keepPool: Bool = false,
                      processed: Bool = false) -> Int32 {
        if !processed {
            for p in processors { p.process(logits, history: history) }
            applyPenalty(logits, history: history)
        }
        let p = parameters
        // Greedy keeps no pool: a refused arg-max is redrawn from the ranking.
        if p.temperature <= 0 { return Self.argmax(logits) }
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
    /// The largest first (16 at a time), then its first position (16 at a time); 0 when every logit is -inf or NaN.
    public static func argmax(_ logits: UnsafeMutableBufferPointer<Float>) -> Int32 {
        let best = largest(logits)
        guard best > -.infinity, let base = logits.baseAddress else { return 0 }
        let n = logits.count
        let best16 = SIMD16<Float>(repeating: best)
        var i = 0
        while i + 16 <= n {
            if any(UnsafeRawPointer(base + i).loadUnaligned(as: SIMD16<Float>.self) .== best16) { break }
            i += 16
        }
        while i < n {
            if base[i] == best { return Int32(i) }
            i += 1
        }
        return 0
    }

    /// Ranking of candidates: higher value first, lower id first on ties.
    private static func before(_ a: (id: Int32, value: Float), _ b: (id: Int32, value: Float)) -> Bool {
        a.value > b.value || (a.value == b.value && a.id < b.id)
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
            // the logits. With a pool, the k best and the spare ones (a retry excludes one of them).
            let count = keepPool ? p.topK + Self.spareCandidates : p.topK
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
                    pool.removeAll(keepingCapacity: true)
                    pool.append(contentsOf: top)
                    top.removeLast(max(0, top.count - p.topK))
                }
                // `consume`: `top` would otherwise share the buffer with `candidates` until the end of the
                // scope, and `finish` would copy it (and the next step's selection grow a new one).
                selected = candidates
                candidates = consume top
                return finish()
            }
            // k or fewer: all of them, in id order as the filters below expect them.
            top.sort { $0.id < $1.id }
            selected = candidates
            candidates = consume top
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
        }
        return finish()
    }

    /// Softmax over `candidates` (ranked), then top-p, min-p and the seeded draw.
    private func finish() -> Int32 {
        let p = parameters
        let u = rng.nextUnit()
        // On the buffer, not the property: no exclusivity check per element.
        return candidates.withUnsafeMutableBufferPointer { c -> Int32 in
            let top = c[0].value
            var total: Float = 0
            for i in 0..<c.count {
                c[i].value = expf(c[i].value - top)
                total += c[i].value
            }
            for i in 0..<c.count { c[i].value /= total }
            var keep = c.count
            if p.topP < 1 {
                var cumulative: Float = 0
                for i in 0..<c.count {
                    cumulative += c[i].value
                    if cumulative >= p.topP { keep = i + 1; break }
                }
            }
            if p.minP > 0 {
                let threshold = c[0].value * p.minP
                while keep > 1, c[keep - 1].value < threshold { keep -= 1 }
            }
            var mass: Float = 0
            for i in 0..<keep { mass += c[i].value }
            var r = u * mass
            for i in 0..<keep {
                r -= c[i].value
                if r < 0 { return c[i].id }
            }
            return c[keep - 1].id
        }
    }
}

/// The candidates of one step in rank order (higher value first, lower id first on ties), taken lazily: the best
/// few hundred go into a binary heap (a threshold estimated from every 8th value decides which), each candidate
/// taken in order costs a few comparisons, and when the heap runs dry the next tier goes in. So the redraws of
/// refused picks and the ranked scan read as far down the ranking as they need, and building it does not rank
/// the whole vocabulary.
struct Ranking {
    typealias Candidate = (id: Int32, value: Float)
    private var heap: [Candidate] = []
    /// The candidates taken so far, in rank order.
    private(set) var ranked: [Candidate] = []
    /// The best value (after the scale).
    private(set) var best: Float = -.infinity
    /// Candidates at or above it went into the heap; those below it and at or above `floor` are still to come.
    private(set) var cutoff: Float = -.infinity
    /// Candidates below it are never taken.
    private(set) var floor: Float = -.infinity
    /// The row the candidates come from (valid during the step), and the scale.
    private var values: UnsafeMutableBufferPointer<Float>?
    private var scale: Float = 1
    private var tier = 0
    /// The first tier's size, about: the refusals before the scan and the k best, with room to spare.
    static let firstTier = 128

    /// The candidates `values[i] / scale` within `depth` of the best (finite ones). `values` must stay as they
    /// are while the ranking is read.
    mutating func build(_ values: UnsafeMutableBufferPointer<Float>, scale: Float, depth: Float) {
        ranked.removeAll(keepingCapacity: true)
        heap.removeAll(keepingCapacity: true)
        self.values = values
        self.scale = scale
        tier = 0
        best = Sampler.largest(values) / scale
        floor = best - depth
        cutoff = .infinity
        guard best > -.infinity else {
            cutoff = floor
            return
        }
        takeTier()
    }

    /// Moves the next tier, the candidates in [t, cutoff) for a t at or above `floor`, into the (empty) heap.
    /// The row is compared raw, against the raw bounds of the scaled ones (`rawThreshold`): only the candidates
    /// taken are divided by the scale.
    private mutating func takeTier() {
        guard let values, cutoff > floor, let base = values.baseAddress else { return }
        let n = values.count, scale = self.scale
        let want = Self.firstTier << (2 * tier)
        let first = tier == 0
        tier += 1
        // Raw values at or above `high` are at or above the cutoff (taken already); the first tier has no bound.
        let high = first ? Float.infinity : Self.rawThreshold(cutoff, scale: scale)
        let rawFloor = Self.rawThreshold(floor, scale: scale)
        // The threshold: the (want / 8)-th largest of every 8th value below the cutoff (a min-heap of them), so
        // that about `want` candidates lie above it; everything left when the row is small or the sample short.
        var t = floor
        let q = want / 8
        if n >= 4 * want {
            var top = [Float]()
            top.reserveCapacity(q)
            var i = 0
            while i < n {
                let raw = base[i]
                i += 8
                guard raw >= rawFloor, first || raw < high else { continue }
                if top.count < q {
                    top.append(raw)
                    if top.count == q { top.withUnsafeMutableBufferPointer { Self.heapify($0, by: <) } }
                } else if raw > top[0] {
                    top[0] = raw
                    top.withUnsafeMutableBufferPointer { Self.siftDown($0, from: 0, by: <) }
                }
            }
            if top.count == q { t = Swift.max(floor, top[0] / scale) }
        }
        let low = Self.rawThreshold(t, scale: scale)
        let low16 = SIMD16<Float>(repeating: low), high16 = SIMD16<Float>(repeating: high)
        heap = [Candidate](unsafeUninitializedCapacity: n) { buffer, count in
            var k = 0
            var block = 0
            while block < n {
                let end = Swift.min(n, block + 16)
                if end - block == 16 {
                    let v = UnsafeRawPointer(base + block).loadUnaligned(as: SIMD16<Float>.self)
                    let inside = first ? v .>= low16 : (v .>= low16) .& (v .< high16)
                    guard any(inside) else {
                        block = end
                        continue
                    }
                }
                for i in block..<end {
                    let raw = base[i]
                    if raw >= low, first || raw < high {
                        buffer[k] = (Int32(i), raw / scale)
                        k += 1
                    }
                }
                block = end
            }
            count = k
        }
        cutoff = t
        heap.withUnsafeMutableBufferPointer { Self.heapify($0, by: Self.before) }
    }

    /// The least raw value whose scaled value (`raw / scale`, rounded) reaches `t`: division by a positive scale
    /// keeps the order, so a raw value reaches `t` exactly when it is at or above this one.
    static func rawThreshold(_ t: Float, scale: Float) -> Float {
        guard t.isFinite else { return t }
        var r = t * scale
        while r > -.infinity, r / scale >= t { r = r.nextDown }
        while r / scale < t { r = r.nextUp }
        return r
    }

    /// The candidate at `rank` (0: the best), nil past the last.
    mutating func at(_ rank: Int) -> Candidate? {
        while ranked.count <= rank {
            if heap.isEmpty {
                guard cutoff > floor else { return nil }
                takeTier()
                continue
            }
            let last = heap.removeLast()
            if heap.isEmpty {
                ranked.append(last)
            } else {
                ranked.append(heap[0])
                heap[0] = last
                heap.withUnsafeMutableBufferPointer { Self.siftDown($0, from: 0, by: Self.before) }
            }
        }
        return ranked[rank]
    }

    @inline(__always) private static func before(_ a: Candidate, _ b: Candidate) -> Bool {
        a.value > b.value || (a.value == b.value && a.id < b.id)
    }

    /// Makes `h` a heap whose root comes first by `first` (the sample's min-heap with `<`, the ranking with `before`).
    @inline(__always) private static func heapify<T>(_ h: UnsafeMutableBufferPointer<T>, by first: (T, T) -> Bool) {
        for start in stride(from: h.count / 2 - 1, through: 0, by: -1) { siftDown(h, from: start, by: first) }
    }

    /// Moves `h[start]` down to its place in the heap ordered by `first`.
    @inline(__always) private static func siftDown<T>(_ h: UnsafeMutableBufferPointer<T>, from start: Int,
                                                      by first: (T, T) -> Bool) {
        let n = h.count, item = h[start]
        var i = start
        while true {
            var child = 2 * i + 1
            guard child < n else { break }
            if child + 1 < n, first(h[child + 1], h[child]) { child += 1 }
            guard first(h[child], item) else { break }
            h[i] = h[child]
            i = child
        }
        h[i] = item
    }
}
