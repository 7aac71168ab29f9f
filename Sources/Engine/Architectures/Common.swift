import Kernels

/// Building blocks the architecture files share: each architecture file only says which of them a layer
/// uses and under which tensor names.
extension TensorSource {
    func standardAttention(layer i: Int, config c: ModelConfig, biases: Bool) throws -> AttentionWeights {
        let e = c.embeddingLength
        let p = "blk.\(i)."
        return .standard(StandardAttention(
            q: try matrix(p + "attn_q.weight", cols: e, rows: c.headCount * c.keyLength),
            k: try matrix(p + "attn_k.weight", cols: e, rows: c.headCountKV * c.keyLength),
            v: try matrix(p + "attn_v.weight", cols: e, rows: c.headCountKV * c.valueLength),
            output: try matrix(p + "attn_output.weight", cols: c.headCount * c.valueLength, rows: e),
            qBias: biases ? try optionalVector(p + "attn_q.bias", count: c.headCount * c.keyLength) : nil,
            kBias: biases ? try optionalVector(p + "attn_k.bias", count: c.headCountKV * c.keyLength) : nil,
            vBias: biases ? try optionalVector(p + "attn_v.bias", count: c.headCountKV * c.valueLength) : nil))
    }

    func denseFeedForward(_ prefix: String, suffix: String = "", embedding e: Int, hidden f: Int) throws -> DenseFeedForward {
        DenseFeedForward(
            gate: try matrix(prefix + "ffn_gate\(suffix).weight", cols: e, rows: f),
            up: try matrix(prefix + "ffn_up\(suffix).weight", cols: e, rows: f),
            down: try matrix(prefix + "ffn_down\(suffix).weight", cols: f, rows: e))
    }

    /// A routed-experts layer; `shared` says how shared experts are stored (none, plain, or sigmoid-gated).
    func mixtureOfExperts(layer i: Int, config c: ModelConfig, sharedHidden: Int?, sharedGated: Bool)
        throws -> FeedForwardWeights {
        let e = c.embeddingLength, f = c.expertFeedForwardLength, n = c.expertCount
        let p = "blk.\(i)."
        var shared: DenseFeedForward?
        if let sharedHidden, sharedHidden > 0 {
            shared = try denseFeedForward(p, suffix: "_shexp", embedding: e, hidden: sharedHidden)
        }
        return .moe(MixtureOfExperts(
            router: try matrix(p + "ffn_gate_inp.weight", cols: e, rows: n),
            selectionBias: try optionalVector(p + "exp_probs_b.bias", count: n),
            groups: c.expertGroupCount, groupsUsed: c.expertGroupUsedCount,
            gate: try experts(p + "ffn_gate_exps.weight", cols: e, rows: f, count: n),
            up: try experts(p + "ffn_up_exps.weight", cols: e, rows: f, count: n),
            down: try experts(p + "ffn_down_exps.weight", cols: f, rows: e, count: n),
            shared: shared,
            sharedGate: sharedGated ? try vector(p + "ffn_gate_inp_shexp.weight", count: e) : nil,
            used: c.expertUsedCount, normalize: c.expertWeightsNorm, scale: c.expertWeightsScale,
            gating: c.expertGating))
    }

    func norms(layer i: Int, config c: ModelConfig) throws -> (attention: [Float], ffn: [Float]) {
        (try vector("blk.\(i).attn_norm.weight", count: c.embeddingLength),
         try vector("blk.\(i).ffn_norm.weight", count: c.embeddingLength))
    }
}
