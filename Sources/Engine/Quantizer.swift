import GGUF
import Kernels

/// Re-encodes a GGUF model's weights in another tensor type (`moecoder quantize`).
///
/// Which tensors change follows llama-quantize: every weight matrix (2-D or more, a `.weight`) whose row length
/// is a whole number of the target's blocks is converted; the expert routers (`ffn_gate_inp*`, a few floats a
/// token that decide which experts run) and everything 1-D (norms, biases) are stored as F32; the rest is copied
/// unchanged. Metadata is copied, with `general.file_type` and `general.quantization_version` set for the target.
public enum Quantizer {
    /// The target types `Quant.quantize` can write.
    public static let targets: [TensorType] = [.q8_0, .q4_0, .f16, .bf16, .f32]

    /// One tensor's conversion.
    public struct Change: Sendable, Equatable {
        public let name: String
        public let from: TensorType
        public let to: TensorType
        public let bytesBefore: Int
        public let bytesAfter: Int
    }

    /// The type `tensor` is written as when the model is converted to `target`.
    public static func plannedType(of tensor: GGUFTensorInfo, target: TensorType) -> TensorType {
        guard tensor.type.canCompute else { return tensor.type }
        let isMatrix = tensor.dimensions.count >= 2 && tensor.name.hasSuffix(".weight")
        let isRouter = tensor.name.contains("ffn_gate_inp")
        if !isMatrix || isRouter { return .f32 }
        return tensor.dimensions[0] % target.blockSize == 0 ? target : tensor.type
    }

    /// llama.cpp's `general.file_type` (`enum llama_ftype`) for a model mostly stored as `type`.
    static func fileType(_ type: TensorType) -> UInt32 {
        switch type {
        case .f32: 0
        case .f16: 1
        case .q4_0: 2
        case .q8_0: 7
        case .bf16: 32
        default: 0
        }
    }

    /// Converts `input` to `target` and returns the writer holding the result, and what changed.
    /// - Throws: `ModelError` when `target` cannot be written.
    public static func convert(_ input: GGUFFile, to target: TensorType) throws -> (GGUFWriter, [Change]) {
        guard targets.contains(target) else {
            throw ModelError("cannot quantize to \(target.name); choose one of "
                             + targets.map { $0.name.lowercased() }.joined(separator: ", "))
        }
        let writer = GGUFWriter(alignment: input.alignment)
        for key in input.metadataKeys where key != "general.alignment" {
            if let value = input.metadata[key] { writer.set(key, value) }
        }
        writer.set("general.file_type", .uint32(fileType(target)))
        if target == .q8_0 || target == .q4_0 { writer.set("general.quantization_version", .uint32(2)) }

        var changes: [Change] = []
        var floats: [Float] = []
        for tensor in input.tensors {
            let type = plannedType(of: tensor, target: target)
            let source = input.data(tensor)
            let bytes: [UInt8]
            if type == tensor.type {
                bytes = Array(UnsafeRawBufferPointer(start: source, count: tensor.byteCount))
            } else {
                let count = tensor.elementCount
                if floats.count < count { floats = [Float](repeating: 0, count: count) }
                var out = [UInt8](repeating: 0, count: type.byteCount(elements: count)!)
                floats.withUnsafeMutableBufferPointer { f in
                    out.withUnsafeMutableBytes { o in
                        Quant.dequantize(tensor.type, source, f.baseAddress!, count: count)
                        Quant.quantize(type, f.baseAddress!, o.baseAddress!, count: count)
                    }
                }
                bytes = out
            }
            try writer.addTensor(name: tensor.name, dimensions: tensor.dimensions, type: type, bytes: bytes)
            changes.append(Change(name: tensor.name, from: tensor.type, to: type,
                                  bytesBefore: tensor.byteCount, bytesAfter: bytes.count))
        }
        return (writer, changes)
    }

    /// Reads the model at `inputPath`, converts it and writes `outputPath` (atomically).
    public static func convert(inputPath: String, outputPath: String, to target: TensorType) throws -> [Change] {
        let input: GGUFFile
        do { input = try GGUFFile(path: inputPath) } catch let error as GGUFError {
            throw ModelError(error.message)
        }
        let (writer, changes) = try convert(input, to: target)
        do { try writer.write(to: outputPath) } catch let error as GGUFError {
            throw ModelError(error.message)
        }
        return changes
    }
}
