/// A 2-D weight matrix used in place (e.g. inside an mmapped GGUF): `rows` rows of `cols` elements of
/// `type`, row-major as ggml stores it (ne0 == cols). Experts stacked in a 3-D tensor are
/// `rows × rowBytes` bytes apart, so expert e is `WeightMatrix(type:rows:cols:data: base + e * rows * rowBytes)`.
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

    /// The first byte of row `r`.
    @inline(__always)
    public func row(_ r: Int) -> UnsafeRawPointer { data + r * rowBytes }
}
