import Kernels

/// One tensor's entry in a GGUF header: its name, shape, element type and where its data lies.
///
/// Only the reader creates these, after checking that the shape is a whole number of blocks whose byte size
/// fits in an `Int`, so the computed sizes below cannot overflow.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// ggml order: `dimensions[0]` (ne0) is the innermost, contiguous one (the row length).
    /// A stack of experts is 3-D: (row length, rows, experts).
    public let dimensions: [Int]
    public let type: TensorType
    /// Byte offset from the start of the data section; a multiple of the file's alignment.
    public let offset: Int

    init(name: String, dimensions: [Int], type: TensorType, offset: Int) {
        self.name = name
        self.dimensions = dimensions
        self.type = type
        self.offset = offset
    }

    /// The product of the dimensions.
    public var elementCount: Int { dimensions.reduce(1, *) }

    /// Bytes of data: whole blocks of `type`.
    public var byteCount: Int { elementCount / type.blockSize * type.blockBytes }
}

extension GGUFTensorInfo {
    /// The most dimensions a ggml tensor has (GGML_MAX_DIMS).
    static let maxDimensions = 4

    /// Checks a shape and type against the rules ggml relies on and returns the data's byte count,
    /// or a sentence saying what is wrong with it. All arithmetic is checked.
    static func checkedByteCount(dimensions: [Int], type: TensorType) -> Result<Int, GGUFError> {
        guard (1...maxDimensions).contains(dimensions.count) else {
            return .failure(GGUFError("has \(dimensions.count) dimensions (must be 1 to \(maxDimensions))"))
        }
        var elements = 1
        for (axis, size) in dimensions.enumerated() {
            guard size > 0 else {
                return .failure(GGUFError("has dimension \(axis) of size \(size) (must be at least 1)"))
            }
            let (product, overflow) = elements.multipliedReportingOverflow(by: size)
            guard !overflow else {
                return .failure(GGUFError("has shape \(dimensions) whose element count overflows"))
            }
            elements = product
        }
        // Quantized rows are stored as whole blocks, so the row length must be a multiple of the block size.
        guard dimensions[0] % type.blockSize == 0 else {
            return .failure(GGUFError(
                "has row length \(dimensions[0]), not a multiple of the \(type.name) block size \(type.blockSize)"))
        }
        let (bytes, overflow) = (elements / type.blockSize).multipliedReportingOverflow(by: type.blockBytes)
        guard !overflow else {
            return .failure(GGUFError("has shape \(dimensions) whose byte size overflows"))
        }
        return .success(bytes)
    }
}
