import GGUF
import Kernels

/// Experts of one layer stacked in a 3-D tensor (`ffn_{gate,up,down}_exps`): `count` matrices of `rows × cols`.
public struct ExpertMatrices: @unchecked Sendable {
    public let type: TensorType
    public let rows: Int
    public let cols: Int
    public let count: Int
    let data: UnsafeRawPointer
    let stride: Int

    /// The matrix of expert `e`, in place.
    public func expert(_ e: Int) -> WeightMatrix {
        WeightMatrix(type: type, rows: rows, cols: cols, data: data + e * stride)
    }
}

/// Reads a model's tensors from a GGUF file by name, checking shapes and types, without copying the big ones.
struct TensorSource {
    let gguf: GGUFFile
    /// Names of the tensors read so far (`unusedTensors`).
    private let read = NameSet()

    final class NameSet: @unchecked Sendable { var names = Set<String>() }

    /// Tensors of the file no architecture code has read, leaving out those of layers at or past `layers` (a
    /// DeepSeek/GLM file's multi-token-prediction layers). A tensor the engine does not know changes what the
    /// model computes (llama 3.1's `rope_freqs`, a fused projection, a bias), so a file with one is refused.
    func unusedTensors(layers: Int) -> [String] {
        gguf.tensors.map(\.name).filter { name in
            guard !read.names.contains(name) else { return false }
            if name.hasPrefix("blk."), let n = Int(name.dropFirst(4).prefix { $0.isNumber }), n >= layers { return false }
            return true
        }
    }

    private func info(_ name: String) throws -> GGUFTensorInfo {
        guard let t = gguf.tensor(name) else { throw ModelError("tensor '\(name)' is missing from the model file") }
        read.names.insert(name)
        guard t.type.canCompute else {
            let supported = TensorType.allCases.filter(\.canCompute).map(\.name).joined(separator: ", ")
            throw ModelError("tensor '\(name)' has type \(t.type.name), which moecoder cannot compute yet "
                             + "(supported: \(supported)); requantize the model")
        }
        return t
    }

    private func check(_ t: GGUFTensorInfo, _ expected: [Int]) throws {
        guard t.dimensions == expected else {
            throw ModelError("tensor '\(t.name)' has shape \(t.dimensions), expected \(expected)")
        }
    }

    func has(_ name: String) -> Bool { gguf.tensor(name) != nil }

    /// Marks a tensor as read without loading it (tensors the engine knows to be irrelevant to its outputs).
    func ignore(_ name: String) { if has(name) { read.names.insert(name) } }

    /// A matrix mapping `cols` inputs to `rows` outputs (GGUF dims `[cols, rows]`).
    func matrix(_ name: String, cols: Int, rows: Int) throws -> WeightMatrix {
        let t = try info(name)
        try check(t, [cols, rows])
        return WeightMatrix(type: t.type, rows: rows, cols: cols, data: gguf.data(t))
    }

    func optionalMatrix(_ name: String, cols: Int, rows: Int) throws -> WeightMatrix? {
        has(name) ? try matrix(name, cols: cols, rows: rows) : nil
    }

    /// Stacked matrices (GGUF dims `[cols, rows, count]`).
    func experts(_ name: String, cols: Int, rows: Int, count: Int) throws -> ExpertMatrices {
        let t = try info(name)
        try check(t, [cols, rows, count])
        guard let rowBytes = t.type.byteCount(elements: cols) else {
            throw ModelError("tensor '\(name)': row length \(cols) is not a multiple of the \(t.type.name) block size")
        }
        return ExpertMatrices(type: t.type, rows: rows, cols: cols, count: count, data: gguf.data(t),
                              stride: rowBytes * rows)
    }

    /// A small tensor (norm weights, biases) dequantized to floats; `count` elements whatever its shape.
    func vector(_ name: String, count: Int) throws -> [Float] {
        let t = try info(name)
        guard t.elementCount == count else {
            throw ModelError("tensor '\(name)' has \(t.elementCount) elements, expected \(count)")
        }
        var out = [Float](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { Quant.dequantize(t.type, gguf.data(t), $0.baseAddress!, count: count) }
        return out
    }

    func optionalVector(_ name: String, count: Int) throws -> [Float]? {
        has(name) ? try vector(name, count: count) : nil
    }
}
