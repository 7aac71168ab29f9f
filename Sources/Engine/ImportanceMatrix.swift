import GGUF
import Kernels

/// An importance matrix in llama.cpp's imatrix GGUF format: for each weight matrix `W` (by its tensor name), a
/// tensor `W.in_sum2` (F32, [columns, matrices]: the sum over the tokens seen of each input column's squared
/// activation, one row per expert matrix) and `W.counts` (F32, [1, matrices]: how many activation rows each
/// sum holds); metadata `general.type` = "imatrix", `imatrix.datasets`, `imatrix.chunk_count`,
/// `imatrix.chunk_size`.
public struct ImportanceMatrix {
    /// Per weight matrix: Σ x² per column, expert matrices one after another.
    public var sums: [String: [Float]] = [:]
    /// Per weight matrix: activation rows counted, one per expert matrix.
    public var counts: [String: [Float]] = [:]
    public var datasets: [String] = []
    public var chunkCount = 0
    public var chunkSize = 0

    public init() {}

    /// The mean squared activation per column (sum / count; 1 where nothing was counted), the quantizer's weights.
    public var weights: [String: [Float]] {
        var out: [String: [Float]] = [:]
        for (name, sum) in sums {
            let count = counts[name] ?? [1]
            let perMatrix = sum.count / max(1, count.count)
            out[name] = sum.enumerated().map { i, s in
                let c = count[min(count.count - 1, i / max(1, perMatrix))]
                return c > 0 ? s / c : 1
            }
        }
        return out
    }

    /// Reads an imatrix GGUF.
    /// - Throws: `ModelError` when the file is not readable or not an importance matrix.
    public static func read(path: String) throws -> ImportanceMatrix {
        let file: GGUFFile
        do { file = try GGUFFile(path: path) } catch let error as GGUFError { throw ModelError(error.message) }
        var matrix = ImportanceMatrix()
        matrix.datasets = file.metadata["imatrix.datasets"]?.strings ?? []
        matrix.chunkCount = file.metadata["imatrix.chunk_count"]?.int ?? 0
        matrix.chunkSize = file.metadata["imatrix.chunk_size"]?.int ?? 0
        func floats(_ tensor: GGUFTensorInfo) throws -> [Float] {
            guard tensor.type == .f32 else {
                throw ModelError("'\(path)': imatrix tensor '\(tensor.name)' is \(tensor.type.name), not F32")
            }
            return Array(UnsafeBufferPointer(start: file.data(tensor).assumingMemoryBound(to: Float.self),
                                             count: tensor.elementCount))
        }
        for tensor in file.tensors {
            if tensor.name.hasSuffix(".in_sum2") {
                matrix.sums[String(tensor.name.dropLast(".in_sum2".count))] = try floats(tensor)
            } else if tensor.name.hasSuffix(".counts") {
                matrix.counts[String(tensor.name.dropLast(".counts".count))] = try floats(tensor)
            }
        }
        guard !matrix.sums.isEmpty else {
            throw ModelError("'\(path)' is not an importance matrix: no '<tensor>.in_sum2' entries")
        }
        for (name, sum) in matrix.sums {
            guard let count = matrix.counts[name], !count.isEmpty, sum.count % count.count == 0 else {
                throw ModelError("'\(path)': '\(name).counts' is missing or does not match '\(name).in_sum2'")
            }
        }
        return matrix
    }

    /// Writes the matrix in llama.cpp's imatrix GGUF format.
    public func write(to path: String) throws {
        let writer = GGUFWriter()
        writer.set("general.type", .string("imatrix"))
        writer.set("imatrix.datasets", .array(datasets.map { .string($0) }))
        writer.set("imatrix.chunk_count", .uint32(UInt32(chunkCount)))
        writer.set("imatrix.chunk_size", .uint32(UInt32(chunkSize)))
        for name in sums.keys.sorted() {
            let sum = sums[name]!, count = counts[name] ?? [0]
            let matrices = count.count
            try writer.addTensor(name: name + ".in_sum2", dimensions: [sum.count / matrices, matrices], type: .f32,
                                 bytes: sum.withUnsafeBytes { Array($0) })
            try writer.addTensor(name: name + ".counts", dimensions: [1, matrices], type: .f32,
                                 bytes: count.withUnsafeBytes { Array($0) })
        }
        do { try writer.write(to: path) } catch let error as GGUFError { throw ModelError(error.message) }
    }
}

/// Collects an importance matrix while a model runs (`moecoder imatrix`): installed as
/// `LinearAlgebra.observer`, it finds which tensor of the model file each product's weights lie in (and which
/// expert matrix of a stacked tensor) and adds the squares of the activations per input column, counting rows,
/// as llama.cpp's imatrix tool does. Products on weights that are not in the file (copies the engine made) are
/// left out.
public final class ImportanceCollector: ActivationObserver {
    private struct Span {
        let start: Int, end: Int, name: String, columns: Int, matrixBytes: Int, matrices: Int
    }
    private let spans: [Span]
    private var sums: [[Float]]
    private var counts: [[Float]]

    /// What was collected so far (tensors never multiplied are left out).
    public var matrix: ImportanceMatrix {
        var m = ImportanceMatrix()
        for (i, span) in spans.enumerated() where counts[i].contains(where: { $0 > 0 }) {
            m.sums[span.name] = sums[i]
            m.counts[span.name] = counts[i]
        }
        return m
    }

    /// Watches products on the weight matrices (2-D or more, not the routers) of `file`.
    public init(file: GGUFFile) {
        var spans: [Span] = []
        for tensor in file.tensors where tensor.dimensions.count >= 2 && Quantizer.isQuantizable(tensor) {
            let start = Int(bitPattern: file.data(tensor))
            let matrices = tensor.dimensions.count >= 3 ? tensor.dimensions[2...].reduce(1, *) : 1
            spans.append(Span(start: start, end: start + tensor.byteCount, name: tensor.name,
                              columns: tensor.dimensions[0], matrixBytes: tensor.byteCount / matrices, matrices: matrices))
        }
        self.spans = spans.sorted { $0.start < $1.start }
        sums = self.spans.map { [Float](repeating: 0, count: $0.columns * $0.matrices) }
        counts = self.spans.map { [Float](repeating: 0, count: $0.matrices) }
    }

    public func observe(_ w: WeightMatrix, _ x: UnsafePointer<Float>, n: Int, ldx: Int) {
        let address = Int(bitPattern: w.data)
        // The last span starting at or before the address.
        var lo = 0, hi = spans.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if spans[mid].start <= address { lo = mid + 1 } else { hi = mid }
        }
        guard lo > 0 else { return }
        let span = spans[lo - 1]
        guard address < span.end, w.cols == span.columns else { return }
        let index = (address - span.start) / max(1, span.matrixBytes)
        let base = index * span.columns
        sums[lo - 1].withUnsafeMutableBufferPointer { s in
            for t in 0..<n {
                let row = x + t * ldx
                for c in 0..<span.columns { s[base + c] += row[c] * row[c] }
            }
        }
        counts[lo - 1][index] += Float(n)
    }
}
