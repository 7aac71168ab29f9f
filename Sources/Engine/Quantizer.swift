import GGUF
import Kernels

/// Re-encodes a GGUF model's weights in another tensor type (`moecoder quantize`).
///
/// Which tensors change follows llama-quantize: every weight matrix (2-D or more, a `.weight`, not a norm)
/// is quantized; the expert routers (`ffn_gate_inp*`, a few floats a token that decide which experts run) and
/// everything 1-D (norms, biases) are stored as F32; the rest is copied unchanged. A named mix (`Mix`, llama.cpp's
/// `llama_ftype`) gives most matrices its base type and some a higher one, by the rules of llama.cpp's
/// `llama_tensor_get_type`. Metadata is copied, with `general.file_type` and `general.quantization_version` set.
public enum Quantizer {
    /// The target types `Quant.quantizeRows` can write, for a "pure" conversion (every matrix one type).
    public static let targets: [TensorType] = [.q8_0, .q6_K, .q5_K, .q5_1, .q5_0, .q4_K, .q4_1, .q4_0, .q3_K, .q2_K,
                                               .f16, .bf16, .f32]

    /// A named quantization mix: llama.cpp's `llama_ftype` of that name.
    public struct Mix: Sendable, Equatable {
        /// The name `--type` takes ("q4_k_m").
        public let name: String
        /// `general.file_type` (`enum llama_ftype`).
        public let fileType: UInt32
        /// The type most weight matrices get.
        public let base: TensorType
    }

    /// The mixes `moecoder quantize --type` offers.
    public static let mixes: [Mix] = [
        Mix(name: "f32", fileType: 0, base: .f32), Mix(name: "f16", fileType: 1, base: .f16),
        Mix(name: "bf16", fileType: 32, base: .bf16), Mix(name: "q8_0", fileType: 7, base: .q8_0),
        Mix(name: "q6_k", fileType: 18, base: .q6_K), Mix(name: "q5_k_m", fileType: 17, base: .q5_K),
        Mix(name: "q5_k_s", fileType: 16, base: .q5_K), Mix(name: "q5_1", fileType: 9, base: .q5_1),
        Mix(name: "q5_0", fileType: 8, base: .q5_0), Mix(name: "q4_k_m", fileType: 15, base: .q4_K),
        Mix(name: "q4_k_s", fileType: 14, base: .q4_K), Mix(name: "q4_0", fileType: 2, base: .q4_0),
        Mix(name: "q3_k_m", fileType: 12, base: .q3_K), Mix(name: "q2_k", fileType: 10, base: .q2_K),
    ]

    /// The mix named `name` (case-insensitive).
    public static func mix(named name: String) -> Mix? {
        mixes.first { $0.name == name.lowercased() }
    }

    /// One tensor's conversion.
    public struct Change: Sendable, Equatable {
        public let name: String
        public let from: TensorType
        public let to: TensorType
        public let bytesBefore: Int
        public let bytesAfter: Int
        public let elements: Int
    }

    /// The tensor-type rules' view of a tensor's role (llama.cpp's `tensor_category`).
    enum Role {
        case output, tokenEmbedding, attentionV, attentionK, attentionQ, attentionOutput, ffnUp, ffnGate, ffnDown, other

        init(_ name: String) {
            if name == "output.weight" { self = .output }
            else if name == "token_embd.weight" || name == "per_layer_token_embd.weight" { self = .tokenEmbedding }
            else if name.contains("attn_qkv.weight") || name.contains("attn_kv_b.weight") || name.contains("attn_v.weight") {
                self = .attentionV
            } else if name.contains("attn_k.weight") { self = .attentionK }
            else if name.contains("attn_q.weight") { self = .attentionQ }
            else if name.contains("attn_output.weight") { self = .attentionOutput }
            else if name.contains("ffn_up") { self = .ffnUp }
            else if name.contains("ffn_gate") { self = .ffnGate }
            else if name.contains("ffn_down") { self = .ffnDown }
            else { self = .other }
        }
    }

    /// Whether llama-quantize would quantize this tensor at all (else it is kept, 1-D ones as F32).
    static func isQuantizable(_ tensor: GGUFTensorInfo) -> Bool {
        let name = tensor.name
        guard tensor.dimensions.count >= 2, name.hasSuffix("weight") else { return false }
        for excluded in ["_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel",
                         "per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight", "position_embd.weight",
                         "token_types.weight"] where name.contains(excluded) {
            return false
        }
        return true
    }

    /// The layer index in a "blk.N." name.
    static func layer(of name: String) -> Int? {
        guard name.hasPrefix("blk.") else { return nil }
        return Int(name.dropFirst(4).prefix { $0.isNumber })
    }

    /// llama.cpp's "use more bits" layers: the first and last eighth, and every third one between.
    static func useMoreBits(_ i: Int, _ n: Int) -> Bool {
        i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2
    }

    /// The nearest type a tensor whose rows are not whole blocks of `type` can take (llama.cpp's fallbacks),
    /// F16 when even that does not fit.
    static func fallback(_ type: TensorType, columns: Int) -> TensorType {
        if columns % type.blockSize == 0 { return type }
        let next: TensorType = switch type {
        case .q2_K, .q3_K: .q4_0
        case .q4_K: .q5_0
        case .q5_K: .q5_1
        case .q6_K: .q8_0
        default: type
        }
        return columns % next.blockSize == 0 ? next : .f16
    }

    /// The type every tensor of `input` is written as under `mix`; `keep` (pattern, type) pairs override the
    /// mix for quantized tensors whose name equals or contains the pattern (the first match wins).
    public static func plan(_ input: GGUFFile, mix: Mix, keep: [(pattern: String, type: TensorType)] = [],
                            hasImportance: Bool = false) -> [TensorType] {
        let arch = input.architecture ?? ""
        func int(_ key: String) -> Int { input.metadata["\(arch).\(key)"]?.int ?? 0 }
        let layers = max(1, int("block_count")), experts = max(1, int("expert_count"))
        let heads = int("attention.head_count"), kvHeads = int("attention.head_count_kv")
        let gqa = kvHeads > 0 ? heads / kvHeads : 1
        let tied = input.tensor("output.weight") == nil
        let valueCount = input.tensors.filter { Role($0.name) == .attentionV }.count
        var valueIndex = 0
        let base = mix.base

        return input.tensors.map { tensor in
            guard tensor.type.canCompute else { return tensor.type }
            guard isQuantizable(tensor) else { return tensor.dimensions.count == 1 || tensor.name.contains("ffn_gate_inp") ? .f32 : tensor.type }
            let role = Role(tensor.name), columns = tensor.dimensions[0]
            if !base.isQuantized { return base }
            if let kept = keep.first(where: { tensor.name == $0.pattern || tensor.name.contains($0.pattern) }) {
                if role == .attentionV { valueIndex += 1 }
                return fallback(kept.type, columns: columns)
            }
            var type = base
            let i = layer(of: tensor.name) ?? 0
            switch role {
            case .output:
                type = columns % base.blockSize != 0 ? .q8_0 : base == .q8_0 ? .q8_0 : .q6_K
            case .tokenEmbedding:
                if tied { type = columns % base.blockSize != 0 ? .q8_0 : base == .q8_0 ? .q8_0 : .q6_K }
            case .attentionV:
                switch mix.name {
                case "q2_k": type = gqa >= 4 ? .q4_K : .q3_K
                case "q3_k_m": type = valueIndex < 2 ? .q5_K : .q4_K
                case "q4_k_m", "q5_k_m": if useMoreBits(valueIndex, valueCount) { type = .q6_K }
                case "q4_k_s": if valueIndex < 4 { type = .q5_K }
                default: break
                }
                if experts == 8 { type = .q8_0 }
                valueIndex += 1
            case .attentionK:
                if experts == 8 { type = .q8_0 }
            case .ffnDown:
                switch mix.name {
                case "q2_k": type = .q3_K
                case "q3_k_m": type = i < layers / 16 ? .q5_K : .q4_K
                case "q4_k_m", "q5_k_m": if useMoreBits(i, layers) { type = .q6_K }
                case "q4_k_s": if i < layers / 8 { type = .q5_K }
                case "q4_0": if hasImportance && i < layers / 8 { type = .q4_1 }
                case "q5_0": if hasImportance && i < layers / 8 { type = .q5_1 }
                default: break
                }
            case .attentionOutput:
                if experts == 8 {
                    if ["q2_k", "q3_k_m", "q4_k_s", "q4_k_m"].contains(mix.name) { type = .q5_K }
                } else if mix.name == "q2_k" {
                    type = .q3_K
                } else if mix.name == "q3_k_m" {
                    type = .q4_K
                }
            case .attentionQ, .ffnUp, .ffnGate, .other:
                break
            }
            return fallback(type, columns: columns)
        }
    }

    /// The type `tensor` is written as in a pure conversion to `target` (every matrix that is whole blocks of
    /// `target`; others keep their type).
    public static func plannedType(of tensor: GGUFTensorInfo, target: TensorType) -> TensorType {
        guard tensor.type.canCompute else { return tensor.type }
        let isMatrix = tensor.dimensions.count >= 2 && tensor.name.hasSuffix(".weight")
        let isRouter = tensor.name.contains("ffn_gate_inp")
        if !isMatrix || isRouter { return .f32 }
        return tensor.dimensions[0] % target.blockSize == 0 ? target : tensor.type
    }

    /// llama.cpp's `general.file_type` for a model mostly stored as `type`.
    static func fileType(_ type: TensorType) -> UInt32 {
        switch type {
        case .f32: 0
        case .f16: 1
        case .q4_0: 2
        case .q4_1: 3
        case .q5_0: 8
        case .q5_1: 9
        case .q8_0: 7
        case .q2_K: 10
        case .q3_K: 12
        case .q4_K: 15
        case .q5_K: 17
        case .q6_K: 18
        case .bf16: 32
        default: 0
        }
    }

    /// Quantizes `rows` rows of `tensor` starting at `firstRow` into `out`, splitting the rows over `pool`;
    /// `scratch` holds at least `rows × columns` floats.
    static func convertRows(_ input: GGUFFile, _ tensor: GGUFTensorInfo, to type: TensorType, firstRow: Int, rows: Int,
                            importance: [Float]?, scratch: UnsafeMutablePointer<Float>, out: UnsafeMutableRawPointer,
                            pool: ThreadPool?) {
        let columns = tensor.dimensions[0]
        let sourceRowBytes = tensor.type.byteCount(elements: columns)!, rowBytes = type.byteCount(elements: columns)!
        let rowsPerMatrix = tensor.dimensions.count >= 2 ? tensor.dimensions[1] : 1
        let source = input.data(tensor) + firstRow * sourceRowBytes
        let work = { (range: Range<Int>) in
            var r = range.lowerBound
            while r < range.upperBound {
                // Rows of one expert matrix share its slice of the importance.
                let matrix = (firstRow + r) / rowsPerMatrix
                let end = min(range.upperBound, (matrix + 1) * rowsPerMatrix - firstRow)
                let floats = scratch + r * columns
                Quant.dequantize(tensor.type, source + r * sourceRowBytes, floats, count: (end - r) * columns)
                func run(_ weights: UnsafePointer<Float>?) {
                    Quant.quantizeRows(type, floats, out + r * rowBytes, rows: end - r, cols: columns, importance: weights)
                }
                if let importance {
                    let offset = importance.count >= (matrix + 1) * columns ? matrix * columns : 0
                    importance.withUnsafeBufferPointer { run($0.baseAddress! + offset) }
                } else {
                    run(nil)
                }
                r = end
            }
        }
        if let pool, rows > 1 { pool.parallelFor(rows, work) } else { work(0..<rows) }
    }

    /// Converts `input` to `target` in memory (every matrix that is whole blocks of `target`) and returns the
    /// writer holding the result, and what changed.
    /// - Throws: `ModelError` when `target` cannot be written.
    public static func convert(_ input: GGUFFile, to target: TensorType) throws -> (GGUFWriter, [Change]) {
        guard targets.contains(target) else {
            throw ModelError("cannot quantize to \(target.name); choose one of "
                             + targets.map { $0.name.lowercased() }.joined(separator: ", "))
        }
        let writer = GGUFWriter(alignment: input.alignment)
        writer.keepEmptyArrayTypes(of: input)
        for key in input.metadataKeys where key != "general.alignment" {
            if let value = input.metadata[key] { writer.set(key, value) }
        }
        writer.set("general.file_type", .uint32(fileType(target)))
        if target.isQuantized { writer.set("general.quantization_version", .uint32(2)) }

        var changes: [Change] = []
        for tensor in input.tensors {
            let type = plannedType(of: tensor, target: target)
            let bytes: [UInt8]
            if type == tensor.type {
                bytes = Array(UnsafeRawBufferPointer(start: input.data(tensor), count: tensor.byteCount))
            } else {
                let rows = tensor.elementCount / tensor.dimensions[0]
                var floats = [Float](repeating: 0, count: tensor.elementCount)
                var out = [UInt8](repeating: 0, count: type.byteCount(elements: tensor.elementCount)!)
                floats.withUnsafeMutableBufferPointer { f in
                    out.withUnsafeMutableBytes { o in
                        convertRows(input, tensor, to: type, firstRow: 0, rows: rows, importance: nil,
                                    scratch: f.baseAddress!, out: o.baseAddress!, pool: nil)
                    }
                }
                bytes = out
            }
            try writer.addTensor(name: tensor.name, dimensions: tensor.dimensions, type: type, bytes: bytes)
            changes.append(Change(name: tensor.name, from: tensor.type, to: type, bytesBefore: tensor.byteCount,
                                  bytesAfter: bytes.count, elements: tensor.elementCount))
        }
        return (writer, changes)
    }

    /// What `convert(inputPath:outputPath:options:)` does.
    public struct Options {
        public var mix: Mix
        /// Per-tensor overrides: (pattern, type), matched against names by equality or containment.
        public var keep: [(pattern: String, type: TensorType)] = []
        /// Importance per tensor name: one weight per column (or per column of each expert matrix, in order).
        public var importance: [String: [Float]] = [:]
        /// Threads that share the rows (the caller included).
        public var threads = 2
        /// Floats dequantized at a time: the working set besides one piece of output.
        public var chunkFloats = 4 << 20
        /// Called before each tensor: (index, count, name, type).
        public var progress: ((Int, Int, String, TensorType) -> Void)?

        public init(mix: Mix) { self.mix = mix }
    }

    /// Reads the model at `inputPath`, converts it by `options` and writes `outputPath`, streaming: the header
    /// first, then each tensor in pieces of at most `chunkFloats` elements, with the input pages already read
    /// given back, so that the resident memory stays near one piece whatever the model's size.
    /// - Throws: `ModelError` for an unreadable input or an unwritable output.
    public static func convert(inputPath: String, outputPath: String, options: Options) throws -> [Change] {
        let input: GGUFFile
        do { input = try GGUFFile(path: inputPath) } catch let error as GGUFError {
            throw ModelError(error.message)
        }
        let types = plan(input, mix: options.mix, keep: options.keep, hasImportance: !options.importance.isEmpty)
        var metadata: [(key: String, value: GGUFValue)] = []
        for key in input.metadataKeys where key != "general.alignment" && key != "general.file_type"
            && key != "general.quantization_version" {
            if let value = input.metadata[key] { metadata.append((key, value)) }
        }
        metadata.append(("general.file_type", .uint32(options.mix.fileType)))
        if types.contains(where: \.isQuantized) { metadata.append(("general.quantization_version", .uint32(2))) }
        let writer: GGUFStreamWriter
        do {
            writer = try GGUFStreamWriter(
                path: outputPath, metadata: metadata,
                tensors: zip(input.tensors, types).map { .init(name: $0.name, dimensions: $0.dimensions, type: $1) },
                alignment: input.alignment, emptyArraysLike: input)
        } catch let error as GGUFError {
            throw ModelError(error.message)
        }
        let pool = options.threads > 1 ? ThreadPool(threads: options.threads, spinMicroseconds: 50) : nil
        var scratch = [Float](), out = [UInt8](), changes: [Change] = []
        do {
            for (index, (tensor, type)) in zip(input.tensors, types).enumerated() {
                options.progress?(index, input.tensors.count, tensor.name, type)
                let source = input.data(tensor)
                if type == tensor.type {
                    var offset = 0
                    while offset < tensor.byteCount {
                        let piece = min(tensor.byteCount - offset, 4 * options.chunkFloats)
                        try writer.append(UnsafeRawBufferPointer(start: source + offset, count: piece))
                        input.dropPages(from: source + offset, count: piece)
                        offset += piece
                    }
                } else {
                    let columns = tensor.dimensions[0], rows = tensor.elementCount / columns
                    let rowBytes = type.byteCount(elements: columns)!, sourceRowBytes = tensor.type.byteCount(elements: columns)!
                    let rowsPerPiece = max(1, min(rows, options.chunkFloats / columns))
                    if scratch.count < rowsPerPiece * columns { scratch = [Float](repeating: 0, count: rowsPerPiece * columns) }
                    if out.count < rowsPerPiece * rowBytes { out = [UInt8](repeating: 0, count: rowsPerPiece * rowBytes) }
                    let importance = options.importance[tensor.name]
                    if let importance, importance.count % columns != 0 || importance.isEmpty {
                        throw ModelError("the importance of '\(tensor.name)' has \(importance.count) values, not a multiple "
                                         + "of its \(columns) columns")
                    }
                    var row = 0
                    while row < rows {
                        let count = min(rowsPerPiece, rows - row)
                        scratch.withUnsafeMutableBufferPointer { s in
                            out.withUnsafeMutableBytes { o in
                                convertRows(input, tensor, to: type, firstRow: row, rows: count, importance: importance,
                                            scratch: s.baseAddress!, out: o.baseAddress!, pool: pool)
                            }
                        }
                        try out.withUnsafeBytes { try writer.append(UnsafeRawBufferPointer(rebasing: $0[0..<count * rowBytes])) }
                        input.dropPages(from: source + row * sourceRowBytes, count: count * sourceRowBytes)
                        row += count
                    }
                }
                changes.append(Change(name: tensor.name, from: tensor.type, to: type, bytesBefore: tensor.byteCount,
                                      bytesAfter: type.byteCount(elements: tensor.elementCount)!,
                                      elements: tensor.elementCount))
            }
            try writer.finish()
        } catch let error as GGUFError {
            writer.abandon()
            throw ModelError(error.message)
        } catch {
            writer.abandon()
            throw error
        }
        return changes
    }

    /// Reads the model at `inputPath`, converts every matrix to `target` and writes `outputPath`.
    public static func convert(inputPath: String, outputPath: String, to target: TensorType) throws -> [Change] {
        guard let mix = mixes.first(where: { $0.base == target && !$0.name.hasSuffix("_m") && !$0.name.hasSuffix("_s") })
            ?? mixes.first(where: { $0.base == target }) else {
            throw ModelError("cannot quantize to \(target.name)")
        }
        return try convert(inputPath: inputPath, outputPath: outputPath, options: Options(mix: mix))
    }
}
