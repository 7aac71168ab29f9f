import Foundation

/// Rotary position embeddings: per-pair inverse frequencies computed once (with linear or YaRN scaling),
/// applied in place to the first `dimensions` values of each head.
struct Rope: Sendable {
    let dimensions: Int
    let type: RopeType
    /// θ_i per pair i (position 1), already scaled.
    let inverseFrequencies: [Float]
    /// Multiplies cos and sin (YaRN's magnitude correction; 1 otherwise).
    let magnitude: Float

    /// `frequencyFactors`: llama.cpp's `rope_freqs` (Llama 3.1-style scaling), one divisor per rotated pair.
    init(_ p: RopeParameters, architecture: Architecture, frequencyFactors: [Float]? = nil) {
        dimensions = p.dimensions
        type = p.type
        let half = p.dimensions / 2
        let base = Double(p.base)
        let extrapolation = (0..<half).map { i in 1 / pow(base, Double(2 * i) / Double(p.dimensions)) }
        let frequencies: [Float]
        switch p.scaling {
        case .none:
            frequencies = extrapolation.map(Float.init)
            magnitude = p.attentionFactor
        case .linear:
            frequencies = extrapolation.map { Float($0 / Double(p.factor)) }
            magnitude = p.attentionFactor
        case .yarn:
            // Blend interpolated (÷factor) and original frequencies with a linear ramp between the
            // dimensions that complete beta_fast and beta_slow turns over the original context.
            let factor = Double(p.factor), original = Double(p.originalContextLength), dims = Double(p.dimensions)
            func correction(_ turns: Double) -> Double {
                dims * log(original / (turns * 2 * Double.pi)) / (2 * log(base))
            }
            let low = max(0, floor(correction(Double(p.betaFast))))
            var high = min(dims - 1, ceil(correction(Double(p.betaSlow))))
            if high == low { high += 0.001 }
            frequencies = (0..<half).map { i in
                let ramp = min(1, max(0, (Double(i) - low) / (high - low)))
                let keepOriginal = 1 - ramp
                return Float(extrapolation[i] / factor * (1 - keepOriginal) + extrapolation[i] * keepOriginal)
            }
            // DeepSeek-V2 folds YaRN's magnitude into the attention scale (mscale == mscale_all_dim),
            // other models scale cos/sin by 0.1·ln(factor) + 1.
            magnitude = p.attentionFactor * (architecture == .deepseek2 ? 1 : Float(factor > 1 ? 0.1 * log(factor) + 1 : 1))
        }
        // ggml divides each pair's angle by its factor (before and after YaRN's blend alike).
        inverseFrequencies = frequencyFactors.map { zip(frequencies, $0).map { $0 / $1 } } ?? frequencies
    }

    /// Rotates `heads` vectors of `stride` floats starting at `x`, for one position.
    func apply(_ x: UnsafeMutablePointer<Float>, heads: Int, stride: Int, position: Int) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: max(2, dimensions)) { buffer in
            angles(position: position, into: buffer.baseAddress!)
            apply(x, heads: heads, stride: stride, angles: buffer.baseAddress!)
        }
    }

    /// The cos and sin `apply` uses at `position` (`dimensions` floats: the half-dimension cosines, then the sines),
    /// computed once for every layer and head that rotates at that position (`apply(_:heads:stride:angles:)`).
    func angles(position: Int, into out: UnsafeMutablePointer<Float>) {
        let half = dimensions / 2
        for i in 0..<half {
            let theta = Float(position) * inverseFrequencies[i]
            out[i] = cos(theta) * magnitude
            out[half + i] = sin(theta) * magnitude
        }
    }

    /// The cos and sin of a pure rotation by `delta` positions (no magnitude factor: a stored key already carries
    /// it): applied to a key rotated at position p, `apply(_:heads:stride:angles:)` with these gives the key at
    /// p + delta, since each pair's angle is the position times its frequency (KV shifting, `--cache-reuse`).
    func shiftAngles(delta: Int, into out: UnsafeMutablePointer<Float>) {
        let half = dimensions / 2
        for i in 0..<half {
            let theta = Double(delta) * Double(inverseFrequencies[i])
            out[i] = Float(cos(theta))
            out[half + i] = Float(sin(theta))
        }
    }

    /// `apply(_:heads:stride:position:)` with the cos and sin of `angles(position:into:)`: the same floats.
    func apply(_ x: UnsafeMutablePointer<Float>, heads: Int, stride: Int, angles: UnsafePointer<Float>) {
        let half = dimensions / 2
        for i in 0..<half {
            let c = angles[i], s = angles[half + i]
            for h in 0..<heads {
                let v = x + h * stride
                let (a, b) = type == .normal ? (2 * i, 2 * i + 1) : (i, i + half)
                let x0 = v[a], x1 = v[b]
                v[a] = x0 * c - x1 * s
                v[b] = x0 * s + x1 * c
            }
        }
    }

    /// YaRN's attention-logit correction for DeepSeek-V2: (0.1 · mscale_all_dim · ln(factor) + 1)².
    static func attentionScaleCorrection(_ p: RopeParameters) -> Float {
        guard p.scaling == .yarn, p.factor > 1, p.yarnLogMultiplier != 0 else { return 1 }
        let m = 0.1 * p.yarnLogMultiplier * log(p.factor) + 1
        return m * m
    }
}
