import Kernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a GGUF v3 file without holding its tensor data: the header (metadata and every tensor's name, shape,
/// type and offset, all known in advance) goes out first, then each tensor's data is appended in the declared
/// order, in as many pieces as the caller likes. The file is written beside `path` and renamed over it by
/// `finish()`; `abandon()` (or deinitializing an unfinished writer) removes it.
public final class GGUFStreamWriter {
    public struct TensorDescription: Sendable {
        public let name: String
        public let dimensions: [Int]
        public let type: TensorType

        public init(name: String, dimensions: [Int], type: TensorType) {
            self.name = name
            self.dimensions = dimensions
            self.type = type
        }
    }

    public let path: String
    public let alignment: Int
    private let temporaryPath: String
    private var descriptor: Int32
    private let sizes: [Int]
    private let names: [String]
    private var current = 0
    private var writtenInCurrent = 0
    /// Bytes in the file so far.
    public private(set) var bytesWritten = 0

    /// Creates the temporary file and writes the header.
    /// - Throws: `GGUFError` for a bad shape, a duplicate name, a bad alignment or a file that cannot be written.
    /// `emptyArraysLike`: a file whose empty metadata arrays keep their element types here (see
    /// `GGUFWriter.keepEmptyArrayTypes`).
    public init(path: String, metadata: [(key: String, value: GGUFValue)], tensors: [TensorDescription],
                alignment: Int = 32, emptyArraysLike source: GGUFFile? = nil) throws {
        var sizes: [Int] = [], seen = Set<String>()
        for tensor in tensors {
            guard seen.insert(tensor.name).inserted else { throw GGUFError("tensor '\(tensor.name)' was declared twice") }
            switch GGUFTensorInfo.checkedByteCount(dimensions: tensor.dimensions, type: tensor.type) {
            case .failure(let error): throw GGUFError("tensor '\(tensor.name)' \(error.message)")
            case .success(let count): sizes.append(count)
            }
        }
        let header = try GGUFWriter.header(
            entries: metadata, tensors: zip(tensors, sizes).map { ($0.name, $0.dimensions, $0.type, $1) },
            alignment: alignment, emptyArrayTypes: source?.emptyArrayTypes ?? [:])
        var template = Array("\(path).XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else {
            throw GGUFError("cannot create a temporary file beside '\(path)': \(String(cString: strerror(errno)))")
        }
        self.path = path
        self.alignment = alignment
        self.temporaryPath = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        self.descriptor = fd
        self.sizes = sizes
        self.names = tensors.map(\.name)
        fchmod(fd, 0o644)
        do {
            try header.withUnsafeBytes { try put($0) }
        } catch {
            abandon()
            throw error
        }
    }

    deinit { abandon() }

    /// Appends the next piece of tensor data; a tensor that is complete is followed by its padding.
    /// - Throws: `GGUFError` when the pieces overrun the declared tensors or the write fails.
    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        var rest = bytes
        while rest.count > 0 {
            guard current < sizes.count else { throw GGUFError("more tensor data than the \(sizes.count) tensors declared") }
            let take = min(rest.count, sizes[current] - writtenInCurrent)
            try put(UnsafeRawBufferPointer(rebasing: rest[0..<take]))
            writtenInCurrent += take
            rest = UnsafeRawBufferPointer(rebasing: rest[take...])
            try closeTensorIfComplete()
        }
        try closeTensorIfComplete()
    }

    /// The tensor the next bytes belong to, nil when all are written.
    public var nextTensor: String? { current < names.count ? names[current] : nil }

    /// Flushes the file and renames it over `path`.
    /// - Throws: `GGUFError` when tensor data is missing or the file cannot be flushed or renamed.
    public func finish() throws {
        try closeTensorIfComplete()
        guard current == sizes.count else {
            throw GGUFError("tensor '\(names[current])' is missing \(sizes[current] - writtenInCurrent) bytes")
        }
        guard fsync(descriptor) == 0 else {
            throw GGUFError("cannot flush '\(temporaryPath)': \(String(cString: strerror(errno)))")
        }
        close(descriptor)
        descriptor = -1
        guard rename(temporaryPath, path) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(temporaryPath)
            throw GGUFError("cannot rename '\(temporaryPath)' to '\(path)': \(message)")
        }
    }

    /// Closes and removes the unfinished file (nothing once `finish()` succeeded).
    public func abandon() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
        unlink(temporaryPath)
    }

    private func closeTensorIfComplete() throws {
        while current < sizes.count && writtenInCurrent == sizes[current] {
            // Every tensor, the last included, is padded to the alignment, as GGUFWriter does.
            let pad = (alignment - sizes[current] % alignment) % alignment
            if pad > 0 {
                let zeros = [UInt8](repeating: 0, count: pad)
                try zeros.withUnsafeBytes { try put($0) }
            }
            current += 1
            writtenInCurrent = 0
        }
    }

    private func put(_ buffer: UnsafeRawBufferPointer) throws {
        guard descriptor >= 0 else { throw GGUFError("the writer for '\(path)' is closed") }
        var done = 0
        while done < buffer.count {
            let result = write(descriptor, buffer.baseAddress! + done, buffer.count - done)
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else {
                throw GGUFError("cannot write '\(temporaryPath)': \(String(cString: strerror(errno)))")
            }
            done += result
        }
        bytesWritten += buffer.count
    }
}
