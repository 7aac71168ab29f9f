import Kernels

/// Weights of one decoder layer, as the architecture files assemble them from a GGUF file.
struct DecoderLayer: @unchecked Sendable {
    var attentionNorm: [Float]
    var attention: AttentionWeights
    var ffnNorm: [Float]
    var ffn: FeedForwardWeights
}

enum AttentionWeights {
    case standard(StandardAttention)
    case latent(LatentAttention)
}

/// Multi-head / grouped-query attention: q, k, v projections (optional biases), output projection.
struct StandardAttention {
    var q: WeightMatrix        // nEmbd → nHead·keyLength
    var k: WeightMatrix        // nEmbd → nKV·keyLength
    var v: WeightMatrix        // nEmbd → nKV·valueLength
    var output: WeightMatrix   // nHead·valueLength → nEmbd
    var qBias: [Float]?
    var kBias: [Float]?
    var vBias: [Float]?
    var outputBias: [Float]? = nil
    /// Qwen3: RMS norms (keyLength weights) applied to each query and key head before the rotation.
    var qNorm: [Float]? = nil
    var kNorm: [Float]? = nil
    /// gpt-oss: per query head, a logit that joins each softmax without a value ("attention sink").
    var sinks: [Float]? = nil
    /// Positions a query sees, itself included (0: all): sliding-window layers.
    var window: Int = 0
}

/// DeepSeek-V2 multi-head latent attention. Keys and values are stored compressed (the normalised latent of
/// `kvLoraRank` floats plus the shared rotary key part); the per-head key and value projections are absorbed
/// into the query and the output, so both GGUF layouts run the same arithmetic.
struct LatentAttention {
    enum HeadProjections {
        /// Current converters: `attn_k_b` (per head kvLoraRank × keyNoRope) and `attn_v_b` (per head valueLength × kvLoraRank).
        case split(kB: ExpertMatrices, vB: ExpertMatrices)
        /// Older files: one `attn_kv_b` (nHead·(keyNoRope + valueLength) × kvLoraRank); per head, the first
        /// keyNoRope rows expand keys and the next valueLength rows expand values.
        case packed(WeightMatrix)
    }

    var qA: WeightMatrix?      // nEmbd → qLoraRank
    var qANorm: [Float]?
    var qB: WeightMatrix?      // qLoraRank → nHead·keyLength
    var q: WeightMatrix?       // nEmbd → nHead·keyLength (without q_lora)
    var kvA: WeightMatrix      // nEmbd → kvLoraRank + ropeDims
    var kvANorm: [Float]
    var heads: HeadProjections
    var output: WeightMatrix   // nHead·valueLength → nEmbd
    /// For `.packed` files: the key half of `attn_kv_b` transposed per head (kvLoraRank × keyNoRope, Q8_0),
    /// made at load, so that absorbing the query is one fast product instead of dequantizing keyNoRope rows
    /// per head and token. Used with quantized activations; the exact path keeps the original rows.
    var absorbedKeys: ExpertMatrices? = nil
    var storage: OwnedBytes? = nil
    /// The head projections with LoRA `attn_kv_b` deltas merged in (F32), when an adapter has them.
    var merged: OwnedBytes? = nil
}

/// Memory the model owns beside the mapped file (weights rearranged at load).
final class OwnedBytes: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    init(count: Int) { pointer = .allocate(byteCount: max(1, count), alignment: 64) }
    deinit { pointer.deallocate() }
}

enum FeedForwardWeights {
    case dense(DenseFeedForward)
    case moe(MixtureOfExperts)
}

/// SwiGLU: down(silu(gate·x) ⊙ up·x).
struct DenseFeedForward {
    var gate: WeightMatrix
    var up: WeightMatrix
    var down: WeightMatrix
}

/// How an expert combines its gate and up projections.
enum ExpertActivation {
    /// silu(gate) ⊙ up.
    case swiglu
    /// gpt-oss: g = min(gate, limit), u = clamp(up, ±limit), g·σ(alpha·g)·(u + 1).
    case clampedSwiglu(alpha: Float, limit: Float)
}

/// Per-expert bias vectors of one expert tensor (`count` experts × `width`), e.g. gpt-oss's `ffn_up_exps.bias`.
struct ExpertBiases {
    var values: [Float]
    var width: Int
}

/// Router → top-k experts (SwiGLU each), optional shared expert(s) with an optional sigmoid gate.
struct MixtureOfExperts {
    var router: WeightMatrix        // nEmbd → nExpert
    var routerBias: [Float]? = nil  // gpt-oss: added to the router logits
    /// DeepSeek-V3: added to the scores to choose experts, not to weight them (`exp_probs_b`).
    var selectionBias: [Float]? = nil
    var groups: Int = 1
    var groupsUsed: Int = 1
    var gateBias: ExpertBiases? = nil
    var upBias: ExpertBiases? = nil
    var downBias: ExpertBiases? = nil
    var activation: ExpertActivation = .swiglu
    var gate: ExpertMatrices
    var up: ExpertMatrices
    var down: ExpertMatrices
    var shared: DenseFeedForward?
    var sharedGate: [Float]?        // qwen2moe: sigmoid(sharedGate · x) scales the shared expert
    var used: Int
    var normalize: Bool
    var scale: Float                // applied when not 0 or 1
    var gating: ExpertGating
}
