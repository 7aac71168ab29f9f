import Kernels

/// Everything a GGUF header says, checked against the bytes that follow it.
struct GGUFLayout {
    var version: UInt32
    var alignment: Int
    var metadata: [String: GGUFValue]
    var metadataKeys: [String]
    var tensors: [GGUFTensorInfo]
    /// Start of the tensor data section: the end of the header rounded up to `alignment`.
    var dataOffset: Int
    /// The element type of each empty top-level array (the value itself does not keep it).
    var emptyArrayTypes: [String: GGUFValueType] = [:]
}

/// Parses a GGUF header (v2 or v3, little-endian):
///
///     magic "GGUF" | version u32 | tensor_count u64 | kv_count u64
///     kv_count × (key string | value type u32 | value)
///     tensor_count × (name string | n_dims u32 | n_dims × u64 | type u32 | offset u64)
///     padding to `alignment` | tensor data
///
/// Every length and count is checked against the bytes left before it is used, and all size arithmetic is
/// checked, so any input ends either in a layout whose tensors lie inside the buffer or in a `GGUFError`.
enum GGUFParser {
    static let magic: [UInt8] = Array("GGUF".utf8)
    static let supportedVersions: ClosedRange<UInt32> = 2...3
    static let defaultAlignment = 32
    static let alignmentKey = "general.alignment"
    /// magic, version and the two counts.
    static let fixedHeaderByteCount = 24
    /// key length, value type and the smallest value.
    static let minimumKeyValueByteCount = 8 + 4 + 1
    /// name length, n_dims, one dimension, type and offset.
    static let minimumTensorInfoByteCount = 8 + 4 + 8 + 4 + 8

    static func parse(_ bytes: UnsafeRawBufferPointer) throws -> GGUFLayout {
        var reader = ByteReader(bytes)
        let version = try readPreamble(&reader)
        let tensorCount = try reader.readCount("tensor count", minimumItemBytes: minimumTensorInfoByteCount)
        let keyValueCount = try reader.readCount("metadata count", minimumItemBytes: minimumKeyValueByteCount)

        var metadata: [String: GGUFValue] = [:]
        var metadataKeys: [String] = []
        var emptyArrayTypes: [String: GGUFValueType] = [:]
        metadataKeys.reserveCapacity(keyValueCount)
        for index in 0..<keyValueCount {
            let start = reader.position
            let key = try reader.readString("metadata key #\(index)")
            guard metadata[key] == nil else {
                throw GGUFError("duplicate metadata key '\(key)' at byte \(start)")
            }
            let type = try readValueType(&reader, of: "metadata '\(key)'")
            let valueStart = reader.position
            let value = try readValue(&reader, type: type, depth: 0, of: "metadata '\(key)'")
            metadata[key] = value
            if case .array(let elements) = value, elements.isEmpty,
               let elementType = GGUFValueType(rawValue: UInt32(littleEndian: reader.bytes.loadUnaligned(fromByteOffset: valueStart, as: UInt32.self))) {
                emptyArrayTypes[key] = elementType
            }
            metadataKeys.append(key)
        }
        let alignment = try readAlignment(metadata)

        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(tensorCount)
        var byteCounts: [Int] = []
        var tensorNames = Set<String>()
        for index in 0..<tensorCount {
            let (tensor, byteCount) = try readTensorInfo(&reader, index: index, alignment: alignment)
            guard tensorNames.insert(tensor.name).inserted else {
                throw GGUFError("duplicate tensor name '\(tensor.name)' (tensor #\(index))")
            }
            tensors.append(tensor)
            byteCounts.append(byteCount)
        }

        let headerEnd = reader.position
        guard let alignedEnd = roundUp(headerEnd, to: alignment) else {
            throw GGUFError("header end \(headerEnd) overflows when aligned to \(alignment)")
        }
        let fileSize = bytes.count
        if tensors.isEmpty {
            // Nothing lives in the data section; writers may or may not pad an empty one.
            return GGUFLayout(version: version, alignment: alignment, metadata: metadata, metadataKeys: metadataKeys,
                              tensors: [], dataOffset: min(alignedEnd, fileSize), emptyArrayTypes: emptyArrayTypes)
        }
        guard alignedEnd <= fileSize else {
            throw GGUFError("the tensor data section would start at byte \(alignedEnd) (header end \(headerEnd) "
                + "aligned to \(alignment)), past the end of the file (\(fileSize) bytes)")
        }
        try checkDataRanges(tensors, byteCounts: byteCounts, dataOffset: alignedEnd, fileSize: fileSize)
        return GGUFLayout(version: version, alignment: alignment, metadata: metadata, metadataKeys: metadataKeys,
                          tensors: tensors, dataOffset: alignedEnd, emptyArrayTypes: emptyArrayTypes)
    }

    /// Reads the magic and the version, naming the common ways a file is not one we can read.
    private static func readPreamble(_ reader: inout ByteReader) throws -> UInt32 {
        let size = reader.bytes.count
        guard size >= magic.count else {
            throw GGUFError("file is \(size) bytes: too short for a GGUF header (\(fixedHeaderByteCount) bytes)")
        }
        let found = Array(reader.bytes[0..<magic.count])
        guard found == magic else {
            let hex = found.map { byte in
                let digits = String(byte, radix: 16)
                return digits.count == 1 ? "0" + digits : digits
            }.joined(separator: " ")
            throw GGUFError("not a GGUF file: magic at byte 0 is \(hex), expected 47 47 55 46 (\"GGUF\")")
        }
        _ = try reader.read(UInt32.self, "magic")
        let version = try reader.read(UInt32.self, "version")
        if version == 1 {
            throw GGUFError("GGUF version 1 (at byte 4) is not supported: it used 32-bit counts; "
                + "convert the model again with a current converter")
        }
        if supportedVersions.contains(version.byteSwapped) {
            throw GGUFError("GGUF version \(version) at byte 4 looks like a big-endian file (version "
                + "\(version.byteSwapped)); only little-endian files are supported")
        }
        guard supportedVersions.contains(version) else {
            throw GGUFError("unsupported GGUF version \(version) at byte 4 (supported: 2 and 3)")
        }
        return version
    }

    private static func readValueType(_ reader: inout ByteReader, of what: String) throws -> GGUFValueType {
        let start = reader.position
        let raw = try reader.read(UInt32.self, "value type of \(what)")
        guard let type = GGUFValueType(rawValue: raw) else {
            throw GGUFError("\(what) has unknown value type \(raw) at byte \(start) (valid: 0 to 12)")
        }
        return type
    }

    private static func readValue(_ reader: inout ByteReader, type: GGUFValueType, depth: Int,
                                  of what: String) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try reader.read(UInt8.self, what))
        case .int8: return .int8(try reader.read(Int8.self, what))
        case .uint16: return .uint16(try reader.read(UInt16.self, what))
        case .int16: return .int16(try reader.read(Int16.self, what))
        case .uint32: return .uint32(try reader.read(UInt32.self, what))
        case .int32: return .int32(try reader.read(Int32.self, what))
        case .uint64: return .uint64(try reader.read(UInt64.self, what))
        case .int64: return .int64(try reader.read(Int64.self, what))
        case .float32: return .float32(Float(bitPattern: try reader.read(UInt32.self, what)))
        case .float64: return .float64(Double(bitPattern: try reader.read(UInt64.self, what)))
        case .bool:
            let start = reader.position
            switch try reader.read(UInt8.self, what) {
            case 0: return .bool(false)
            case 1: return .bool(true)
            case let byte: throw GGUFError("\(what) at byte \(start) is a bool of value \(byte) (must be 0 or 1)")
            }
        case .string:
            return .string(try reader.readString(what))
        case .array:
            guard depth < GGUFValue.maxArrayDepth else {
                throw GGUFError("\(what) at byte \(reader.position) nests arrays deeper than "
                    + "\(GGUFValue.maxArrayDepth) levels")
            }
            let elementType = try readValueType(&reader, of: "elements of \(what)")
            let count = try reader.readCount("element count of \(what)",
                                             minimumItemBytes: elementType.minimumByteCount)
            // Built once per array rather than per element: token lists hold 100k+ strings.
            let elementWhat = "an element of \(what)"
            var elements: [GGUFValue] = []
            elements.reserveCapacity(count)
            for _ in 0..<count {
                elements.append(try readValue(&reader, type: elementType, depth: depth + 1, of: elementWhat))
            }
            return .array(elements)
        }
    }

    private static func readAlignment(_ metadata: [String: GGUFValue]) throws -> Int {
        guard let value = metadata[alignmentKey] else { return defaultAlignment }
        guard case .uint32(let alignment) = value else {
            throw GGUFError("metadata '\(alignmentKey)' has type \(value.type.name) (must be uint32)")
        }
        guard alignment > 0, alignment & (alignment - 1) == 0 else {
            throw GGUFError("metadata '\(alignmentKey)' is \(alignment), not a power of two")
        }
        return Int(alignment)
    }

    /// Reads one tensor info and checks its shape, type and offset; returns it with its byte count.
    private static func readTensorInfo(_ reader: inout ByteReader, index: Int,
                                       alignment: Int) throws -> (GGUFTensorInfo, Int) {
        let start = reader.position
        let name = try reader.readString("name of tensor #\(index)")
        let what = "tensor '\(name)' (info at byte \(start))"
        let dimensionCount = try reader.read(UInt32.self, "dimension count of \(what)")
        guard (1...UInt32(GGUFTensorInfo.maxDimensions)).contains(dimensionCount) else {
            throw GGUFError("\(what) has \(dimensionCount) dimensions (must be 1 to \(GGUFTensorInfo.maxDimensions))")
        }
        var dimensions: [Int] = []
        for axis in 0..<Int(dimensionCount) {
            let size = try reader.read(UInt64.self, "dimension \(axis) of \(what)")
            guard let checked = Int(exactly: size) else {
                throw GGUFError("\(what) has dimension \(axis) of size \(size), which is negative as int64")
            }
            dimensions.append(checked)
        }
        let typeStart = reader.position
        let rawType = try reader.read(UInt32.self, "type of \(what)")
        guard let type = TensorType(rawValue: rawType) else {
            throw GGUFError("\(what) has unknown or unsupported tensor type \(rawType) at byte \(typeStart)")
        }
        let byteCount: Int
        switch GGUFTensorInfo.checkedByteCount(dimensions: dimensions, type: type) {
        case .success(let bytes): byteCount = bytes
        case .failure(let error): throw GGUFError("\(what) \(error.message)")
        }
        let offsetStart = reader.position
        let rawOffset = try reader.read(UInt64.self, "data offset of \(what)")
        guard let offset = Int(exactly: rawOffset) else {
            throw GGUFError("\(what) has data offset \(rawOffset) at byte \(offsetStart), which is negative as int64")
        }
        guard offset % alignment == 0 else {
            throw GGUFError("\(what) has data offset \(offset) at byte \(offsetStart), "
                + "not a multiple of the alignment \(alignment)")
        }
        return (GGUFTensorInfo(name: name, dimensions: dimensions, type: type, offset: offset), byteCount)
    }

    /// Checks that every tensor's data lies inside the file and that no two overlap.
    private static func checkDataRanges(_ tensors: [GGUFTensorInfo], byteCounts: [Int],
                                        dataOffset: Int, fileSize: Int) throws {
        let dataSize = fileSize - dataOffset
        for (tensor, byteCount) in zip(tensors, byteCounts) {
            let (end, overflow) = tensor.offset.addingReportingOverflow(byteCount)
            guard !overflow, end <= dataSize else {
                throw GGUFError("tensor '\(tensor.name)' data (offset \(tensor.offset), \(byteCount) bytes) runs past "
                    + "the end of the file (\(fileSize) bytes; the data section starts at byte \(dataOffset))")
            }
        }
        let byOffset = tensors.indices.sorted { tensors[$0].offset < tensors[$1].offset }
        for (previous, next) in zip(byOffset, byOffset.dropFirst()) {
            let previousEnd = tensors[previous].offset + byteCounts[previous]
            guard previousEnd <= tensors[next].offset else {
                throw GGUFError("tensor '\(tensors[previous].name)' data (offset \(tensors[previous].offset), "
                    + "\(byteCounts[previous]) bytes) overlaps tensor '\(tensors[next].name)' "
                    + "(offset \(tensors[next].offset))")
            }
        }
    }

    /// `value` rounded up to a multiple of `alignment` (a power of two), or nil on overflow.
    static func roundUp(_ value: Int, to alignment: Int) -> Int? {
        let (padded, overflow) = value.addingReportingOverflow(alignment - 1)
        return overflow ? nil : padded & ~(alignment - 1)
    }
}
