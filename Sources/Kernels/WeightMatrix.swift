/// A 2-D weight matrix used in place (e.g. inside an mmapped GGUF): `rows` rows of `cols` elements of
/// `type`, row-major as ggml stores it (ne0 == cols). Experts stacked in a 3-D tensor [cols, rows, experts]
/// are `rows × rowBytes` bytes apart: view the tensor as `experts·rows` rows and take expert e as
/// `all.rows(e * rows ..< (e + 1) * rows)`.
///
/// The matrix does not own `data`; whoever made it keeps the memory alive.
public struct WeightMatrix: @unchecked Sendable {
    public let type: TensorType
    public let rows: Int
    public let cols: Int
    public let data: UnsafeRawPointer
    /// Bytes in one row.
    public let rowBytes: Int

    /// - Precondition: `cols` is a whole number of `type` blocks.
    public init(type: TensorType, rows: Int, cols: Int, data: UnsafeRawPointer) {
        guard let rowBytes = type.byteCount(elements: cols) else {
            preconditionFailure("\(cols) columns are not whole \(type.name) blocks of \(type.blockSize)")
        }
        self.type = type
        self.rows = rows
        self.cols = cols
        self.data = data
        self.rowBytes = rowBytes
    }

    /// Bytes in the whole matrix.
    public var byteCount: Int { rows * rowBytes }

    /// The sub-matrix of the given rows (no copy), e.g. one expert of a stacked expert tensor.
    public func rows(_ range: Range<Int>) -> WeightMatrix {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "rows \(range) outside 0..<\(rows)")
        return WeightMatrix(type: type, rows: range.count, cols: cols, data: row(range.lowerBound))
    }

    /// The first byte of row `r`.
    @inline(__always)
    public func row(_ r: Int) -> UnsafeRawPointer { data + r * rowBytes }
}
