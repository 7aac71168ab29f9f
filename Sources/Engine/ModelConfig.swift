import GGUF
import Kernels

/// A model error a user can act on: what is wrong with which file, and what to do.
public struct ModelError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The architectures the engine runs, by GGUF `general.architecture`.
public enum Architecture: String, Sendable, CaseIterable {
    /// Llama-family dense models (CodeLlama, Llama 3), and Mixtral when `expert_count` > 0.
    case llama
    /// Qwen2 / Qwen2.5(-Coder): dense, with q/k/v biases.
    case qwen2
    /// Qwen2-MoE: routed experts plus a sigmoid-gated shared expert.
    case qwen2moe
    /// DeepSeek-MoE (v1): multi-head attention, routed and shared experts, leading dense blocks.
    case deepseek
    /// DeepSeek-V2 (and Coder-V2): multi-head latent attention (MLA) plus DeepSeek-MoE; with sigmoid routing, a
    /// selection bias and expert groups also DeepSeek-V3 and GLM-4.x-Flash.
    case deepseek2
    /// Qwen3 (dense): per-head RMS norms of queries and keys, no biases.
    case qwen3
    /// Qwen3-MoE (Qwen3-Coder-30B-A3B): Qwen3 attention, routed experts with normalised top-k, no shared expert.
    case qwen3moe
    /// gpt-oss: attention sinks, sliding-window attention on alternate layers, biases everywhere, routed
    /// experts with a softmax over the chosen logits and a clamped SwiGLU.
    case gptOss = "gpt-oss"
}

/// How rotary embeddings pair dimensions: adjacent pairs (llama.cpp "normal") or halves (GPT-NeoX).
public enum RopeType: String, Sendable {
    case normal, neox
}

/// How router scores become expert probabilities.
public enum ExpertGating: Int, Sendable {
    /// Softmax over all experts' logits, then top-k.
    case softmax = 1
    /// Sigmoid of each logit, then top-k (DeepSeek-V3, GLM-4.x).
    case sigmoid = 2
    /// Top-k of the logits, then a softmax over the chosen ones (gpt-oss).
    case softmaxWeight = 3
}

/// Rotary embedding frequencies, with optional context-extension scaling.
public struct RopeParameters: Sendable, Equatable {
    public enum Scaling: String, Sendable { case none, linear, yarn }
    public var base: Float
    public var dimensions: Int
    public var type: RopeType
    public var scaling: Scaling
    /// Context extension factor (1 without scaling).
    public var factor: Float
    public var originalContextLength: Int
    /// YaRN: DeepSeek's `mscale_all_dim` (GGUF stores 0.1 × it as `rope.scaling.yarn_log_multiplier`).
    public var yarnLogMultiplier: Float
    /// `rope.scaling.attn_factor`: multiplies cos and sin on top of YaRN's own correction (1 by default).
    public var attentionFactor: Float = 1
    public var betaFast: Float = 32
    public var betaSlow: Float = 1
}

/// Hyper-parameters read and validated in one place from GGUF metadata (`<arch>.*` keys, llama.cpp names).
public struct ModelConfig: Sendable {
    public var architecture: Architecture
    public var name: String?
    public var contextLength: Int
    public var embeddingLength: Int
    public var blockCount: Int
    public var feedForwardLength: Int
    public var headCount: Int
    public var headCountKV: Int
    /// Per-head query/key and value sizes (for MLA: the full, un-absorbed sizes).
    public var keyLength: Int
    public var valueLength: Int
    public var rmsEpsilon: Float
    public var rope: RopeParameters
    public var vocabularySize: Int

    // Mixture of experts
    public var expertCount: Int
    public var expertUsedCount: Int
    public var expertFeedForwardLength: Int
    public var sharedExpertCount: Int
    public var sharedExpertFeedForwardLength: Int
    public var leadingDenseBlockCount: Int
    public var expertWeightsScale: Float
    public var expertWeightsNorm: Bool
    public var expertGating: ExpertGating
    /// DeepSeek-V3 routing: experts form `expertGroupCount` groups and only the best `expertGroupUsedCount`
    /// groups (by the sum of their two best scores) are eligible (1, 1: no groups).
    public var expertGroupCount: Int
    public var expertGroupUsedCount: Int
    /// Multi-token-prediction layers stored after the trunk (`nextn_predict_layers`): loaded by nobody, skipped.
    public var nextnLayerCount: Int

    // Sliding-window attention (gpt-oss): layers that see only the last `slidingWindow` positions (0: none).
    public var slidingWindow: Int
    public var slidingWindowLayers: [Bool]

    // Multi-head latent attention (deepseek2)
    public var qLoraRank: Int
    public var kvLoraRank: Int

    public var isMoE: Bool { expertCount > 0 }
    /// The query/key part that carries no rotary embedding (MLA).
    public var keyNoRopeLength: Int { keyLength - rope.dimensions }

    public init(gguf: GGUFFile) throws {
        guard let archName = gguf.architecture else {
            throw ModelError("the file has no general.architecture: is it a model GGUF?")
        }
        guard let arch = Architecture(rawValue: archName) else {
            throw ModelError("architecture '\(archName)' is not supported; supported: "
                             + Architecture.allCases.map(\.rawValue).joined(separator: ", "))
        }
        let meta = gguf.metadata
        func key(_ suffix: String) -> GGUFValue? { meta["\(archName).\(suffix)"] }
        func int(_ suffix: String) throws -> Int {
            guard let v = key(suffix)?.int else { throw ModelError("missing or non-integer \(archName).\(suffix)") }
            return v
        }
        func int(_ suffix: String, default value: Int) -> Int { key(suffix)?.int ?? value }
        func float(_ suffix: String, default value: Float) -> Float { key(suffix)?.double.map(Float.init) ?? value }

        architecture = arch
        name = meta["general.name"]?.string
        embeddingLength = try int("embedding_length")
        blockCount = try int("block_count")
        contextLength = int("context_length", default: 4096)
        headCount = try int("attention.head_count")
        headCountKV = int("attention.head_count_kv", default: headCount)
        feedForwardLength = int("feed_forward_length", default: 0)
        rmsEpsilon = float("attention.layer_norm_rms_epsilon", default: 1e-6)
        vocabularySize = meta["\(archName).vocab_size"]?.int ?? meta["tokenizer.ggml.tokens"]?.array?.count ?? 0

        expertCount = int("expert_count", default: 0)
        expertUsedCount = int("expert_used_count", default: 0)
        expertFeedForwardLength = int("expert_feed_forward_length", default: feedForwardLength)
        sharedExpertCount = int("expert_shared_count", default: 0)
        sharedExpertFeedForwardLength = int("expert_shared_feed_forward_length", default: 0)
        leadingDenseBlockCount = int("leading_dense_block_count", default: 0)
        expertWeightsScale = float("expert_weights_scale", default: 0)
        // Top-k renormalisation defaults as llama.cpp builds each architecture.
        expertWeightsNorm = key("expert_weights_norm")?.bool ?? (arch == .llama)
        let gatingValue = int("expert_gating_func", default: 0)
        switch arch {
        case .qwen3moe, .qwen2moe, .llama, .deepseek:
            // llama.cpp builds these with a softmax router whatever the file says.
            expertGating = .softmax
            if arch == .qwen3moe { expertWeightsNorm = true }
        case .gptOss:
            expertGating = .softmaxWeight
            expertWeightsNorm = false
        default:
            if gatingValue == 0 {
                // Files written before the key existed: llama.cpp's rule (GLM-4.7-Flash's shape uses sigmoid).
                expertGating = (blockCount == 47 || blockCount == 48) && vocabularySize == 154_880 ? .sigmoid : .softmax
            } else if let g = ExpertGating(rawValue: gatingValue) {
                expertGating = g
            } else {
                throw ModelError("\(archName).expert_gating_func = \(gatingValue) is not supported "
                                 + "(1 softmax, 2 sigmoid, 3 softmax over the chosen experts)")
            }
        }
        expertGroupCount = max(1, int("expert_group_count", default: 1))
        expertGroupUsedCount = max(1, int("expert_group_used_count", default: expertGroupCount))
        nextnLayerCount = int("nextn_predict_layers", default: 0)
        blockCount -= nextnLayerCount
        if let temperature = key("attention.temperature_scale")?.double, temperature != 0 {
            throw ModelError("\(archName).attention.temperature_scale = \(temperature): attention temperature tuning "
                             + "(Llama 4 / Mistral Large 3 style) is not supported, so this model would run wrong")
        }
        slidingWindow = int("attention.sliding_window", default: 0)
        slidingWindowLayers = Array(repeating: false, count: max(0, blockCount))
        if arch == .gptOss {
            guard slidingWindow > 0 else { throw ModelError("gpt-oss needs \(archName).attention.sliding_window") }
            if let flags = key("attention.sliding_window_pattern")?.array {
                let bools = flags.compactMap(\.bool)
                guard bools.count >= blockCount else {
                    throw ModelError("\(archName).attention.sliding_window_pattern has \(bools.count) entries for \(blockCount) layers")
                }
                slidingWindowLayers = Array(bools.prefix(blockCount))
            } else {
                // Every `pattern`-th layer sees the whole context, the others the window (llama.cpp's default 2).
                let pattern = int("attention.sliding_window_pattern", default: 2)
                slidingWindowLayers = (0..<blockCount).map { pattern == 0 || $0 % pattern < pattern - 1 }
            }
            if let swaBase = key("rope.freq_base_swa")?.double, Float(swaBase) != float("rope.freq_base", default: 10_000) {
                throw ModelError("\(archName).rope.freq_base_swa differs from rope.freq_base: a second rotary base for "
                                 + "sliding-window layers is not supported yet")
            }
        } else if slidingWindow > 0 {
            throw ModelError("\(archName).attention.sliding_window = \(slidingWindow): sliding-window attention is only "
                             + "supported for gpt-oss; this model would run wrong")
        }

        qLoraRank = int("attention.q_lora_rank", default: 0)
        kvLoraRank = int("attention.kv_lora_rank", default: 0)

        let defaultHead = headCount > 0 ? embeddingLength / headCount : 0
        if arch == .deepseek2 {
            // Files from current converters store the absorbed sizes in key_length/value_length
            // (kv_lora_rank + rope dims, kv_lora_rank) and the per-head ones in *_mla.
            keyLength = key("attention.key_length_mla")?.int ?? int("attention.key_length", default: defaultHead)
            valueLength = key("attention.value_length_mla")?.int ?? int("attention.value_length", default: defaultHead)
        } else {
            keyLength = int("attention.key_length", default: defaultHead)
            valueLength = int("attention.value_length", default: defaultHead)
        }

        let scalingType = key("rope.scaling.type")?.string ?? "none"
        rope = RopeParameters(
            base: float("rope.freq_base", default: 10_000),
            dimensions: int("rope.dimension_count", default: keyLength),
            type: [.qwen2, .qwen2moe, .qwen3, .qwen3moe, .gptOss].contains(arch) ? .neox : .normal,
            scaling: RopeParameters.Scaling(rawValue: scalingType) ?? .none,
            factor: float("rope.scaling.factor", default: 1),
            originalContextLength: int("rope.scaling.original_context_length", default: contextLength),
            yarnLogMultiplier: float("rope.scaling.yarn_log_multiplier", default: 0) / 0.1,
            attentionFactor: float("rope.scaling.attn_factor", default: 1))
        if RopeParameters.Scaling(rawValue: scalingType) == nil {
            throw ModelError("rope scaling '\(scalingType)' is not supported (none, linear, yarn)")
        }
        try validate()
    }

    private func validate() throws {
        func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
            if !condition { throw ModelError("invalid model hyper-parameters: \(message())") }
        }
        try require(nextnLayerCount == 0 || blockCount > 0, "nextn_predict_layers \(nextnLayerCount) leaves no trunk layers")
        try require(embeddingLength > 0 && blockCount > 0 && headCount > 0, "embedding, block and head counts must be positive")
        try require(headCountKV > 0 && headCount % headCountKV == 0, "head_count \(headCount) is not a multiple of head_count_kv \(headCountKV)")
        try require(vocabularySize > 0, "no vocabulary size (no tokenizer.ggml.tokens)")
        try require(rope.dimensions > 0 && rope.dimensions % 2 == 0 && rope.dimensions <= keyLength,
                    "rope.dimension_count \(rope.dimensions) must be even and at most the key length \(keyLength)")
        if isMoE {
            try require(expertUsedCount > 0 && expertUsedCount <= expertCount,
                        "expert_used_count \(expertUsedCount) must be in 1...\(expertCount)")
            try require(expertFeedForwardLength > 0, "expert_feed_forward_length must be positive")
        }
        if architecture == .deepseek2 {
            try require(kvLoraRank > 0, "deepseek2 needs attention.kv_lora_rank")
            try require(keyNoRopeLength > 0, "key length \(keyLength) must exceed the rope dims \(rope.dimensions)")
        }
        try require(leadingDenseBlockCount <= blockCount, "leading_dense_block_count exceeds block_count")
        if expertGroupCount > 1 {
            try require(expertCount % expertGroupCount == 0,
                        "expert_count \(expertCount) is not a multiple of expert_group_count \(expertGroupCount)")
            try require(expertGroupUsedCount <= expertGroupCount,
                        "expert_group_used_count \(expertGroupUsedCount) exceeds expert_group_count \(expertGroupCount)")
            try require(expertCount / expertGroupCount >= 2, "expert groups need at least two experts each")
            try require(expertUsedCount <= expertGroupUsedCount * (expertCount / expertGroupCount),
                        "expert_used_count \(expertUsedCount) exceeds the experts of the eligible groups")
        }
    }

    /// A short human summary (`moecoder info`).
    public var summary: [(String, String)] {
        var rows: [(String, String)] = [
            ("architecture", architecture.rawValue), ("layers", "\(blockCount)"), ("embedding", "\(embeddingLength)"),
            ("heads", "\(headCount) (kv \(headCountKV))"), ("head dims", "k \(keyLength), v \(valueLength)"),
            ("context", "\(contextLength)"), ("vocabulary", "\(vocabularySize)"),
            ("rope", "\(rope.type.rawValue), base \(rope.base), dims \(rope.dimensions), scaling \(rope.scaling.rawValue)"
                + (rope.scaling == .none ? "" : " ×\(rope.factor)")),
        ]
        if feedForwardLength > 0 { rows.append(("feed-forward", "\(feedForwardLength)")) }
        if isMoE {
            rows.append(("experts", "\(expertCount), \(expertUsedCount) used, ff \(expertFeedForwardLength)"
                         + (sharedExpertCount > 0 ? ", \(sharedExpertCount) shared" : "")
                         + (sharedExpertFeedForwardLength > 0 ? ", shared ff \(sharedExpertFeedForwardLength)" : "")
                         + (leadingDenseBlockCount > 0 ? ", first \(leadingDenseBlockCount) dense" : "")))
        }
        if isMoE {
            var routing = switch expertGating {
            case .softmax: "softmax"
            case .sigmoid: "sigmoid"
            case .softmaxWeight: "softmax over the chosen"
            }
            if expertGroupCount > 1 { routing += ", \(expertGroupUsedCount) of \(expertGroupCount) groups" }
            if expertWeightsNorm { routing += ", normalised" }
            if expertWeightsScale != 0 && expertWeightsScale != 1 { routing += ", scale \(expertWeightsScale)" }
            rows.append(("routing", routing))
        }
        if kvLoraRank > 0 { rows.append(("MLA", "q_lora \(qLoraRank), kv_lora \(kvLoraRank)")) }
        if nextnLayerCount > 0 { rows.append(("MTP", "\(nextnLayerCount) layers (not used)")) }
        if slidingWindow > 0 {
            rows.append(("window", "\(slidingWindow) positions on \(slidingWindowLayers.filter { $0 }.count) of \(blockCount) layers"))
        }
        return rows
    }
}
