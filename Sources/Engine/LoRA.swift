import Foundation
import GGUF
import Kernels

/// The products of a layer a LoRA delta can apply to, by their GGUF tensor name (`blk.N.<name>.weight`).
/// `attn_kv_b` is not among them: the engine absorbs or splits it, so its delta is merged into the engine's
/// own copies when the adapter is attached to the model (`Transformer.setAdapters`).
enum LoRASite: Int, CaseIterable {
    case attnQ, attnK, attnV, attnOutput, attnQA, attnQB, attnKVA
    case ffnGate, ffnUp, ffnDown, sharedGate, sharedUp, sharedDown, router, gateExps, upExps, downExps

    static let names: [String: LoRASite] = [
        "attn_q": .attnQ, "attn_k": .attnK, "attn_v": .attnV, "attn_output": .attnOutput, "attn_q_a": .attnQA,
        "attn_q_b": .attnQB, "attn_kv_a_mqa": .attnKVA, "ffn_gate": .ffnGate, "ffn_up": .ffnUp, "ffn_down": .ffnDown,
        "ffn_gate_shexp": .sharedGate, "ffn_up_shexp": .sharedUp, "ffn_down_shexp": .sharedDown,
        "ffn_gate_inp": .router, "ffn_gate_exps": .gateExps, "ffn_up_exps": .upExps, "ffn_down_exps": .downExps,
    ]
}

/// One adapted weight: y += factor · scale · B (A x), A `rank × cols`, B `rows × rank` (row-major floats); for
/// stacked expert tensors (`experts` > 0) one A and one B per expert, expert after expert.
public struct LoRADelta: Sendable {
    /// The base tensor it adapts, e.g. `blk.0.attn_q.weight`.
    public let name: String
    public let rank: Int
    /// Inputs and outputs of the base matrix (GGUF dims [cols, rows]).
    public let cols: Int
    public let rows: Int
    /// Experts of a stacked tensor (GGUF dims [cols, rows, experts]); 0 for a plain matrix.
    public let experts: Int
    /// alpha / rank (alpha / √rank for rsLoRA; 1 when the file gives no alpha, as llama.cpp does).
    public let factor: Float
    public let a: [Float]
    public let b: [Float]

    /// The layer and the tensor's name in it (`attn_q`), or nil for a tensor outside the layers.
    var place: (layer: Int, tensor: String)? {
        guard name.hasPrefix("blk."), name.hasSuffix(".weight") else { return nil }
        let body = name.dropFirst(4).dropLast(7)
        guard let dot = body.firstIndex(of: "."), let layer = Int(body[..<dot]) else { return nil }
        return (layer, String(body[body.index(after: dot)...]))
    }

    /// The full delta ΔW (rows × cols) of expert `expert` (0 for a plain matrix), times `scale`·`factor`.
    public func dense(expert: Int = 0, scale: Float) -> [Float] {
        var w = [Float](repeating: 0, count: rows * cols)
        let s = scale * factor
        let aBase = expert * rank * cols, bBase = expert * rows * rank
        for i in 0..<rows {
            for j in 0..<rank {
                let coefficient = s * b[bBase + i * rank + j]
                if coefficient == 0 { continue }
                for c in 0..<cols { w[i * cols + c] += coefficient * a[aBase + j * cols + c] }
            }
        }
        return w
    }
}

/// A LoRA adapter: llama.cpp's GGUF adapter format or a PEFT folder, read into float deltas keyed by the
/// engine's GGUF tensor names.
public final class LoRAAdapter: @unchecked Sendable {
    public let path: String
    /// "gguf" or "peft".
    public let format: String
    /// The base model's architecture the file declares (GGUF adapters), nil for PEFT folders.
    public let architecture: String?
    public let alpha: Float?
    /// Sorted by name.
    public let deltas: [LoRADelta]
    /// Per layer, per site: the delta the forward pass adds.
    let sites: [[LoRADelta?]]
    /// The delta of `attn_kv_b` per layer (merged into the engine's MLA projections at attach).
    let kvB: [Int: LoRADelta]

    /// A hash of the deltas and their factors (the persistent KV cache's key includes it).
    public private(set) lazy var fingerprint: UInt64 = {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ value: UInt64) { hash = (hash ^ value) &* 0x100_0000_01b3 }
        for d in deltas {
            for byte in d.name.utf8 { mix(UInt64(byte)) }
            mix(UInt64(d.factor.bitPattern))
            for v in d.a { mix(UInt64(v.bitPattern)) }
            for v in d.b { mix(UInt64(v.bitPattern)) }
        }
        return hash
    }()

    public var id: String {
        let url = URL(fileURLWithPath: path)
        return url.pathExtension == "gguf" ? url.deletingPathExtension().lastPathComponent : url.lastPathComponent
    }

    init(path: String, format: String, architecture: String?, alpha: Float?, deltas: [LoRADelta]) throws {
        self.path = path
        self.format = format
        self.architecture = architecture
        self.alpha = alpha
        self.deltas = deltas.sorted { $0.name < $1.name }
        var sites: [[LoRADelta?]] = []
        var kvB: [Int: LoRADelta] = [:]
        for delta in deltas {
            guard let place = delta.place else {
                throw ModelError("\(path): the adapter adapts '\(delta.name)'; moecoder applies LoRA only to the "
                                 + "matrices of the layers (blk.N.*), not to embeddings or the output projection")
            }
            if place.tensor == "attn_kv_b" { kvB[place.layer] = delta; continue }
            guard let site = LoRASite.names[place.tensor] else {
                let known = (LoRASite.names.keys.sorted() + ["attn_kv_b"]).joined(separator: ", ")
                throw ModelError("\(path): the adapter adapts '\(delta.name)', a tensor moecoder cannot adapt "
                                 + "(supported in each layer: \(known))")
            }
            let isExperts = place.tensor.hasSuffix("_exps")
            if isExperts != (delta.experts > 0) {
                throw ModelError("\(path): '\(delta.name)' " + (isExperts
                    ? "is a stacked expert tensor but its lora_a/lora_b have no expert dimension"
                    : "is a plain matrix but its lora_a/lora_b have an expert dimension (\(delta.experts))"))
            }
            while sites.count <= place.layer { sites.append(Array(repeating: nil, count: LoRASite.allCases.count)) }
            sites[place.layer][site.rawValue] = delta
        }
        self.sites = sites
        self.kvB = kvB
    }

    /// Whether it adapts `attn_kv_b`, whose delta is merged into the model (not switchable per sequence).
    public var adaptsMergedTensors: Bool { !kvB.isEmpty }

    func delta(layer: Int, _ site: LoRASite) -> LoRADelta? {
        layer < sites.count ? sites[layer][site.rawValue] : nil
    }

    /// Reads `path`: a GGUF adapter file, or a PEFT folder (adapter_config.json + adapter_model.safetensors).
    /// `config` (the model it will run with) is needed for PEFT folders of llama models, whose q/k rows
    /// llama.cpp's converter permutes.
    public static func load(path: String, config: ModelConfig? = nil) throws -> LoRAAdapter {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ModelError("cannot read the LoRA adapter '\(path)': no such file or folder")
        }
        return isDirectory.boolValue ? try loadPEFT(folder: path, config: config) : try loadGGUF(path: path)
    }

    // MARK: - GGUF

    static func loadGGUF(path: String) throws -> LoRAAdapter {
        let file: GGUFFile
        do { file = try GGUFFile(path: path) } catch let error as GGUFError {
            throw ModelError("\(path): \(error.message)")
        }
        let meta = file.metadata
        let kind = meta["general.type"]?.string
        guard kind == "adapter" else {
            throw ModelError("\(path) is not a LoRA adapter: general.type is '\(kind ?? "(none)")', expected 'adapter'"
                             + (kind == "model" ? " (this is a model: pass it as --model)" : ""))
        }
        let adapterType = meta["adapter.type"]?.string
        guard adapterType == "lora" else {
            throw ModelError("\(path): adapter.type is '\(adapterType ?? "(none)")'; only 'lora' adapters are supported")
        }
        let alpha = meta["adapter.lora.alpha"]?.double.map { Float($0) }
        var pairs: [String: (a: GGUFTensorInfo?, b: GGUFTensorInfo?)] = [:]
        for t in file.tensors {
            if t.name.hasSuffix(".lora_a") { pairs[String(t.name.dropLast(7)), default: (nil, nil)].a = t }
            else if t.name.hasSuffix(".lora_b") { pairs[String(t.name.dropLast(7)), default: (nil, nil)].b = t }
            else {
                throw ModelError("\(path): tensor '\(t.name)' is neither a .lora_a nor a .lora_b tensor")
            }
        }
        var deltas: [LoRADelta] = []
        for (name, pair) in pairs.sorted(by: { $0.key < $1.key }) {
            guard let a = pair.a, let b = pair.b else {
                throw ModelError("\(path): '\(name)' has a \(pair.a == nil ? "lora_b" : "lora_a") tensor but no "
                                 + "\(pair.a == nil ? "lora_a" : "lora_b")")
            }
            let ad = a.dimensions, bd = b.dimensions
            guard (ad.count == 2 && bd.count == 2) || (ad.count == 3 && bd.count == 3 && ad[2] == bd[2]),
                  ad[1] == bd[0] else {
                throw ModelError("\(path): '\(name)': lora_a has dims \(ad) and lora_b \(bd); expected lora_a "
                                 + "[n_in, r] and lora_b [r, n_out] (with a trailing expert count for _exps tensors)")
            }
            let rank = ad[1]
            let factor = (alpha ?? 0) != 0 ? alpha! / Float(rank) : 1
            deltas.append(LoRADelta(name: name, rank: rank, cols: ad[0], rows: bd[1], experts: ad.count == 3 ? ad[2] : 0,
                                    factor: factor, a: try floats(file, a, path: path), b: try floats(file, b, path: path)))
        }
        if deltas.isEmpty { throw ModelError("\(path): the adapter has no lora_a/lora_b tensors") }
        return try LoRAAdapter(path: path, format: "gguf", architecture: file.architecture, alpha: alpha, deltas: deltas)
    }

    private static func floats(_ file: GGUFFile, _ t: GGUFTensorInfo, path: String) throws -> [Float] {
        guard t.type.canCompute, t.type.byteCount(elements: t.dimensions[0]) != nil else {
            throw ModelError("\(path): tensor '\(t.name)' has type \(t.type.name); adapters must be F32, F16, BF16 or Q8_0")
        }
        var out = [Float](repeating: 0, count: t.elementCount)
        out.withUnsafeMutableBufferPointer { Quant.dequantize(t.type, file.data(t), $0.baseAddress!, count: t.elementCount) }
        return out
    }

    // MARK: - PEFT

    /// Hugging Face module names (after `model.layers.N.`) and the GGUF tensors they become.
    static let hfModules: [String: String] = [
        "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
        "self_attn.o_proj": "attn_output", "self_attn.q_a_proj": "attn_q_a", "self_attn.q_b_proj": "attn_q_b",
        "self_attn.kv_a_proj_with_mqa": "attn_kv_a_mqa", "self_attn.kv_b_proj": "attn_kv_b",
        "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down", "mlp.gate": "ffn_gate_inp",
        "block_sparse_moe.gate": "ffn_gate_inp",
        "mlp.shared_expert.gate_proj": "ffn_gate_shexp", "mlp.shared_expert.up_proj": "ffn_up_shexp",
        "mlp.shared_expert.down_proj": "ffn_down_shexp", "mlp.shared_experts.gate_proj": "ffn_gate_shexp",
        "mlp.shared_experts.up_proj": "ffn_up_shexp", "mlp.shared_experts.down_proj": "ffn_down_shexp",
    ]
    /// Per-expert projections: `mlp.experts.E.gate_proj` (Qwen, DeepSeek), `block_sparse_moe.experts.E.w1` (Mixtral).
    static let expertProjections: [String: String] = [
        "gate_proj": "ffn_gate_exps", "up_proj": "ffn_up_exps", "down_proj": "ffn_down_exps",
        "w1": "ffn_gate_exps", "w3": "ffn_up_exps", "w2": "ffn_down_exps",
    ]

    /// `...model.layers.3.mlp.experts.5.up_proj` → ("blk.3.ffn_up_exps.weight", 5); nil for a name it does not know.
    static func ggufName(hfModule module: String) -> (name: String, expert: Int?)? {
        guard let range = module.range(of: "layers.", options: .backwards) else { return nil }
        let rest = module[range.upperBound...]
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]) else { return nil }
        let path = String(rest[rest.index(after: dot)...])
        for prefix in ["mlp.experts.", "block_sparse_moe.experts."] where path.hasPrefix(prefix) {
            let tail = path.dropFirst(prefix.count)
            guard let d = tail.firstIndex(of: "."), let expert = Int(tail[..<d]),
                  let tensor = expertProjections[String(tail[tail.index(after: d)...])] else { return nil }
            return ("blk.\(layer).\(tensor).weight", expert)
        }
        return hfModules[path].map { ("blk.\(layer).\($0).weight", nil) }
    }

    static func loadPEFT(folder: String, config: ModelConfig?) throws -> LoRAAdapter {
        let configURL = URL(fileURLWithPath: folder).appendingPathComponent("adapter_config.json")
        let weightsPath = URL(fileURLWithPath: folder).appendingPathComponent("adapter_model.safetensors").path
        guard let data = try? Data(contentsOf: configURL),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelError("\(folder): no readable adapter_config.json (a PEFT adapter folder has adapter_config.json "
                             + "and adapter_model.safetensors)")
        }
        if let type = json["peft_type"] as? String, type != "LORA" {
            throw ModelError("\(folder): peft_type is \(type); only LORA adapters are supported")
        }
        if json["use_dora"] as? Bool == true { throw ModelError("\(folder): DoRA adapters (use_dora) are not supported") }
        if let saved = json["modules_to_save"] as? [String], !saved.isEmpty {
            throw ModelError("\(folder): the adapter also saves whole modules (\(saved.joined(separator: ", "))); "
                             + "only LoRA matrices are supported")
        }
        // The rank of each module comes from its tensors (rank_pattern may vary it); 'r' must still be there.
        guard (json["r"] as? NSNumber) != nil, let alpha = (json["lora_alpha"] as? NSNumber)?.floatValue else {
            throw ModelError("\(folder)/adapter_config.json: needs 'r' and 'lora_alpha'")
        }
        let rslora = json["use_rslora"] as? Bool ?? false
        let alphaPattern = (json["alpha_pattern"] as? [String: Any] ?? [:]).compactMapValues { ($0 as? NSNumber)?.floatValue }
        let tensors = try SafeTensors(path: weightsPath)
        // Group lora_A/lora_B by module.
        var modules: [String: (a: String?, b: String?)] = [:]
        for key in tensors.names {
            if let range = key.range(of: ".lora_A.") { modules[String(key[..<range.lowerBound]), default: (nil, nil)].a = key }
            else if let range = key.range(of: ".lora_B.") { modules[String(key[..<range.lowerBound]), default: (nil, nil)].b = key }
            else {
                throw ModelError("\(weightsPath): tensor '\(key)' is not a lora_A/lora_B weight; only LoRA matrices are supported")
            }
        }
        struct Part { var a: [Float]; var b: [Float]; var rank: Int; var cols: Int; var rows: Int; var factor: Float }
        var plain: [String: Part] = [:]
        var experts: [String: [Int: Part]] = [:]
        for (module, keys) in modules.sorted(by: { $0.key < $1.key }) {
            guard let aKey = keys.a, let bKey = keys.b else {
                throw ModelError("\(weightsPath): module '\(module)' has only one of lora_A and lora_B")
            }
            guard let target = ggufName(hfModule: module) else {
                throw ModelError("\(weightsPath): module '\(module)' has no counterpart in moecoder's GGUF models "
                                 + "(supported: \((hfModules.keys.sorted() + ["mlp.experts.E.{gate,up,down}_proj"]).joined(separator: ", ")))")
            }
            let a = try tensors.floats(aKey), b = try tensors.floats(bKey)
            guard a.shape.count == 2, b.shape.count == 2, a.shape[0] == b.shape[1] else {
                throw ModelError("\(weightsPath): '\(module)': lora_A has shape \(a.shape) and lora_B \(b.shape); expected "
                                 + "[r, in] and [out, r]")
            }
            let rank = a.shape[0]
            var moduleAlpha = alpha
            for (pattern, value) in alphaPattern where matches(pattern, module) { moduleAlpha = value }
            let factor = rslora ? moduleAlpha / Float(rank).squareRoot() : moduleAlpha / Float(rank)
            var bValues = b.values
            let tensor = target.name
            if let config, config.architecture == .llama, tensor.hasSuffix(".attn_q.weight") || tensor.hasSuffix(".attn_k.weight") {
                let heads = tensor.hasSuffix(".attn_q.weight") ? config.headCount : config.headCountKV
                bValues = permuteRows(bValues, rows: b.shape[0], cols: rank, heads: heads)
            }
            let part = Part(a: a.values, b: bValues, rank: rank, cols: a.shape[1], rows: b.shape[0], factor: factor)
            if let expert = target.expert { experts[tensor, default: [:]][expert] = part } else { plain[tensor] = part }
        }
        var deltas = plain.map { LoRADelta(name: $0.key, rank: $0.value.rank, cols: $0.value.cols, rows: $0.value.rows,
                                           experts: 0, factor: $0.value.factor, a: $0.value.a, b: $0.value.b) }
        for (tensor, parts) in experts {
            // Experts the adapter leaves out get zero deltas; all must share rank, shape and factor to stack.
            let first = parts.values.first!
            let count = max(config?.expertCount ?? 0, (parts.keys.max() ?? 0) + 1)
            var a = [Float](repeating: 0, count: count * first.rank * first.cols)
            var b = [Float](repeating: 0, count: count * first.rows * first.rank)
            for (expert, part) in parts {
                guard part.rank == first.rank, part.cols == first.cols, part.rows == first.rows, part.factor == first.factor else {
                    throw ModelError("\(weightsPath): the experts of '\(tensor)' differ in rank, shape or alpha; moecoder "
                                     + "stacks them into one tensor and needs them equal")
                }
                a.replaceSubrange((expert * first.rank * first.cols)..<((expert + 1) * first.rank * first.cols), with: part.a)
                b.replaceSubrange((expert * first.rows * first.rank)..<((expert + 1) * first.rows * first.rank), with: part.b)
            }
            deltas.append(LoRADelta(name: tensor, rank: first.rank, cols: first.cols, rows: first.rows, experts: count,
                                    factor: first.factor, a: a, b: b))
        }
        if deltas.isEmpty { throw ModelError("\(weightsPath): the adapter has no LoRA weights") }
        return try LoRAAdapter(path: folder, format: "peft", architecture: nil, alpha: alpha, deltas: deltas)
    }

    /// PEFT's pattern keys: a regular expression matching the module name's end.
    private static func matches(_ pattern: String, _ module: String) -> Bool {
        guard let regex = try? NSRegularExpression(pattern: "(.*\\.)?(\(pattern))$") else { return false }
        return regex.firstMatch(in: module, range: NSRange(module.startIndex..., in: module)) != nil
    }

    /// llama.cpp's converter interleaves the rotary halves of each head's q/k rows for llama models:
    /// GGUF row h·d + 2i + j is Hugging Face row h·d + j·d/2 + i (d = rows per head).
    static func permuteRows(_ values: [Float], rows: Int, cols: Int, heads: Int) -> [Float] {
        let d = rows / heads, half = d / 2
        var out = values
        for h in 0..<heads {
            for i in 0..<half {
                for j in 0..<2 {
                    let to = h * d + 2 * i + j, from = h * d + j * half + i
                    for c in 0..<cols { out[to * cols + c] = values[from * cols + c] }
                }
            }
        }
        return out
    }
}

/// An adapter and the scale it runs at (`--lora FILE:SCALE`).
public struct AdapterUse: @unchecked Sendable, Equatable {
    public let adapter: LoRAAdapter
    public let scale: Float
    public init(adapter: LoRAAdapter, scale: Float = 1) {
        self.adapter = adapter
        self.scale = scale
    }
    public static func == (l: AdapterUse, r: AdapterUse) -> Bool { l.adapter === r.adapter && l.scale == r.scale }
}

/// The tensors of a `.safetensors` file (a little-endian u64 header size, a JSON header, the data).
struct SafeTensors {
    let path: String
    let bytes: Data
    let entries: [String: (dtype: String, shape: [Int], start: Int, end: Int)]
    var names: [String] { entries.keys.sorted() }

    init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelError("cannot read '\(path)' (a PEFT adapter folder needs adapter_model.safetensors)")
        }
        func bad(_ why: String) -> ModelError { ModelError("\(path) is not a valid safetensors file: \(why)") }
        guard data.count >= 8 else { throw bad("shorter than its header") }
        let size = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        guard size > 0, 8 + size <= data.count,
              let header = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + size))) as? [String: Any]
        else { throw bad("unreadable JSON header") }
        var entries: [String: (String, [Int], Int, Int)] = [:]
        for (name, value) in header where name != "__metadata__" {
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = (info["shape"] as? [NSNumber])?.map(\.intValue),
                  let offsets = (info["data_offsets"] as? [NSNumber])?.map(\.intValue), offsets.count == 2,
                  offsets[0] <= offsets[1], 8 + size + offsets[1] <= data.count
            else { throw bad("bad entry for '\(name)'") }
            entries[name] = (dtype, shape, 8 + size + offsets[0], 8 + size + offsets[1])
        }
        self.path = path
        bytes = data
        self.entries = entries
    }

    func floats(_ name: String) throws -> (shape: [Int], values: [Float]) {
        guard let e = entries[name] else { throw ModelError("\(path): no tensor '\(name)'") }
        let count = e.shape.reduce(1, *)
        let width: Int
        switch e.dtype {
        case "F32": width = 4
        case "F16", "BF16": width = 2
        default: throw ModelError("\(path): tensor '\(name)' is \(e.dtype); adapters must be F32, F16 or BF16")
        }
        guard e.end - e.start == count * width else {
            throw ModelError("\(path): tensor '\(name)' has \(e.end - e.start) bytes, its shape \(e.shape) needs \(count * width)")
        }
        var out = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress! + e.start
            out.withUnsafeMutableBufferPointer { dst in
                switch e.dtype {
                case "F32": for i in 0..<count { dst[i] = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
                case "F16": Quant.dequantize(.f16, base, dst.baseAddress!, count: count)
                default: Quant.dequantize(.bf16, base, dst.baseAddress!, count: count)
                }
            }
        }
        return (e.shape, out)
    }
}
