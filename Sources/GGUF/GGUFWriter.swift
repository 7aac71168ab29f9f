import Kernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Builds a GGUF v3 file (little-endian): metadata in insertion order, tensor infos in the order added,
/// then each tensor's data at the next multiple of `alignment` in the data section.
public final class GGUFWriter {
    /// A power of two; anything else makes `serialized()` and `write(to:)` throw. When it is not the
    /// default 32 it is written as `general.alignment`, so that readers find the same offsets.
    public let alignment: Int
    private var entries: [(key: String, value: GGUFValue)] = []
    private var entryIndex: [String: Int] = [:]
    private var tensors: [(name: String, dimensions: [Int], type: TensorType, bytes: [UInt8])] = []
    private var tensorNames = Set<String>()
    private var emptyArrayTypes: [String: GGUFValueType] = [:]

    public init(alignment: Int = 32) {
        self.alignment = alignment
    }

    /// Writes the empty arrays of `file`'s metadata with their element types when they are copied here (a value
    /// does not keep the type of an empty array; llama.cpp refuses, for one, `tokenizer.ggml.merges` as uint8).
    public func keepEmptyArrayTypes(of file: GGUFFile) {
        emptyArrayTypes.merge(file.emptyArrayTypes) { _, new in new }
    }

    /// Sets a metadata value. A new key goes last; an existing key keeps its place and gets the new value.
    public func set(_ key: String, _ value: GGUFValue) {
        if let index = entryIndex[key] {
            entries[index].value = value
        } else {
            entryIndex[key] = entries.count
            entries.append((key, value))
        }
    }

    /// Adds a tensor after checking its shape (1 to 4 positive dimensions, ggml order, rows of whole blocks)
    /// and that `bytes` holds exactly the data that shape and type need.
    public func addTensor(name: String, dimensions: [Int], type: TensorType, bytes: [UInt8]) throws {
        guard !tensorNames.contains(name) else {
            throw GGUFError("tensor '\(name)' was already added")
        }
        switch GGUFTensorInfo.checkedByteCount(dimensions: dimensions, type: type) {
        case .failure(let error):
            throw GGUFError("tensor '\(name)' \(error.message)")
        case .success(let expected) where expected != bytes.count:
            throw GGUFError("tensor '\(name)' of shape \(dimensions) and type \(type.name) needs \(expected) bytes, "
                + "got \(bytes.count)")
        case .success:
            tensorNames.insert(name)
            tensors.append((name, dimensions, type, bytes))
        }
    }

    /// The whole file in memory.
    public func serialized() throws -> [UInt8] {
        var file = try header()
        for tensor in tensors {
            file += tensor.bytes
            file += padding(after: tensor.bytes.count)
        }
        return file
    }

    /// Writes the file atomically: into a temporary file beside `path`, then renamed over it.
    /// Tensor data is written straight from the added buffers, not gathered into one copy first.
    public func write(to path: String) throws {
        let header = try header()
        var template = Array("\(path).XXXXXX".utf8CString)
        let descriptor = mkstemp(&template)
        guard descriptor >= 0 else {
            throw GGUFError("cannot create a temporary file beside '\(path)': \(String(cString: strerror(errno)))")
        }
        let temporaryPath = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        do {
            defer { close(descriptor) }
            fchmod(descriptor, 0o644)
            try writeAll(header, to: descriptor, path: temporaryPath)
            for tensor in tensors {
                try writeAll(tensor.bytes, to: descriptor, path: temporaryPath)
                try writeAll(padding(after: tensor.bytes.count), to: descriptor, path: temporaryPath)
            }
            guard fsync(descriptor) == 0 else {
                throw GGUFError("cannot flush '\(temporaryPath)': \(String(cString: strerror(errno)))")
            }
            guard rename(temporaryPath, path) == 0 else {
                throw GGUFError("cannot rename '\(temporaryPath)' to '\(path)': \(String(cString: strerror(errno)))")
            }
        } catch {
            unlink(temporaryPath)
            throw error
        }
    }

    /// Everything before the data section, padded to `alignment`.
    private func header() throws -> [UInt8] {
        try Self.header(entries: entries, tensors: tensors.map { ($0.name, $0.dimensions, $0.type, $0.bytes.count) },
                        alignment: alignment, emptyArrayTypes: emptyArrayTypes)
    }

    /// The header of a file with these metadata entries and tensors (their data `byteCount` long, in this
    /// order), padded to `alignment`; `general.alignment` is added when `alignment` is not the default.
    static func header(entries: [(key: String, value: GGUFValue)],
                       tensors: [(name: String, dimensions: [Int], type: TensorType, byteCount: Int)],
                       alignment: Int, emptyArrayTypes: [String: GGUFValueType] = [:]) throws -> [UInt8] {
        guard alignment > 0, alignment & (alignment - 1) == 0, alignment <= Int(UInt32.max) else {
            throw GGUFError("alignment \(alignment) is not a power of two that fits in a uint32")
        }
        var entries = entries
        let alignmentValue = GGUFValue.uint32(UInt32(alignment))
        if let index = entries.firstIndex(where: { $0.key == GGUFParser.alignmentKey }) {
            guard entries[index].value == alignmentValue else {
                throw GGUFError("metadata '\(GGUFParser.alignmentKey)' is \(entries[index].value) but the writer "
                    + "aligns to \(alignment)")
            }
        } else if alignment != GGUFParser.defaultAlignment {
            entries.append((GGUFParser.alignmentKey, alignmentValue))
        }

        var out = ByteWriter()
        out.bytes += GGUFParser.magic
        out.append(UInt32(3))
        out.append(UInt64(tensors.count))
        out.append(UInt64(entries.count))
        for (key, value) in entries {
            out.append(key)
            out.append(value.type.rawValue)
            try out.append(value, depth: 0, key: key, emptyType: emptyArrayTypes[key])
        }
        var offset = 0
        for tensor in tensors {
            out.append(tensor.name)
            out.append(UInt32(tensor.dimensions.count))
            for size in tensor.dimensions {
                out.append(UInt64(size))
            }
            out.append(tensor.type.rawValue)
            out.append(UInt64(offset))
            guard let next = GGUFParser.roundUp(offset + tensor.byteCount, to: alignment) else {
                throw GGUFError("tensor data past '\(tensor.name)' is too large to address")
            }
            offset = next
        }
        out.bytes += [UInt8](repeating: 0, count: (alignment - out.bytes.count % alignment) % alignment)
        return out.bytes
    }

    private func padding(after count: Int) -> [UInt8] {
        [UInt8](repeating: 0, count: (alignment - count % alignment) % alignment)
    }

    private func writeAll(_ bytes: [UInt8], to descriptor: Int32, path: String) throws {
        try bytes.withUnsafeBytes { buffer in
            var written = 0
            while written < buffer.count {
                let result = writeSome(descriptor, buffer.baseAddress! + written, buffer.count - written)
                if result < 0 && errno == EINTR { continue }
                guard result > 0 else {
                    throw GGUFError("cannot write '\(path)': \(String(cString: strerror(errno)))")
                }
                written += result
            }
        }
    }
}

/// POSIX `write`, out of reach of `GGUFWriter.write(to:)`'s name.
private func writeSome(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}

/// Little-endian encoding of header fields and metadata values.
private struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    /// u64 byte length, then the UTF-8 bytes.
    mutating func append(_ string: String) {
        let utf8 = Array(string.utf8)
        append(UInt64(utf8.count))
        bytes += utf8
    }

    /// A value without its type tag; an array is its element type, count and elements.
    mutating func append(_ value: GGUFValue, depth: Int, key: String, emptyType: GGUFValueType? = nil) throws {
        switch value {
        case .uint8(let v): append(v)
        case .int8(let v): append(v)
        case .uint16(let v): append(v)
        case .int16(let v): append(v)
        case .uint32(let v): append(v)
        case .int32(let v): append(v)
        case .uint64(let v): append(v)
        case .int64(let v): append(v)
        case .float32(let v): append(v.bitPattern)
        case .float64(let v): append(v.bitPattern)
        case .bool(let v): append(UInt8(v ? 1 : 0))
        case .string(let v): append(v)
        case .array(let elements):
            guard depth < GGUFValue.maxArrayDepth else {
                throw GGUFError("metadata '\(key)' nests arrays deeper than \(GGUFValue.maxArrayDepth) levels")
            }
            // A GGUF array has one element type; an empty one keeps the type it was read with, else uint8.
            let elementType = elements.first?.type ?? emptyType ?? .uint8
            if let odd = elements.first(where: { $0.type != elementType }) {
                throw GGUFError("metadata '\(key)' is an array mixing \(elementType.name) and \(odd.type.name) "
                    + "elements (a GGUF array holds one type)")
            }
            append(elementType.rawValue)
            append(UInt64(elements.count))
            for element in elements {
                try append(element, depth: depth + 1, key: key)
            }
        }
    }
}
