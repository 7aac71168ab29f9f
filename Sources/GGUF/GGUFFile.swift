#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A parsed GGUF file whose bytes stay where they are: mapped read-only from disk, or one copy of an
/// in-memory buffer. Tensor data is never copied; `data(_:)` points into the bytes.
///
/// Immutable after `init`, which is what makes the unchecked `Sendable` sound.
public final class GGUFFile: @unchecked Sendable {
    /// 2 or 3.
    public let version: UInt32
    /// `general.alignment`, or 32 when absent.
    public let alignment: Int
    /// Metadata by key, e.g. "general.architecture", "qwen2moe.expert_count".
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    /// The element type of each empty top-level array, for writers that copy this file's metadata.
    let emptyArrayTypes: [String: GGUFValueType]
    /// Tensor infos in file order.
    public let tensors: [GGUFTensorInfo]
    /// Bytes in the file (or buffer).
    public let fileSize: Int
    /// Start of the tensor data section.
    public let dataOffset: Int

    private let base: UnsafeRawPointer
    private let storage: Storage
    private let tensorIndex: [String: Int]

    /// Maps the file read-only (`PROT_READ`, `MAP_PRIVATE`) and parses its header; unmapped in `deinit`.
    public convenience init(path: String) throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw GGUFError("cannot open '\(path)': \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw GGUFError("cannot stat '\(path)': \(String(cString: strerror(errno)))")
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw GGUFError("'\(path)' is not a regular file")
        }
        let size = Int(status.st_size)
        guard size > 0 else {
            throw GGUFError("'\(path)' is empty: too short for a GGUF header")
        }
        guard let mapping = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0),
              mapping != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw GGUFError("cannot map '\(path)' (\(size) bytes): \(String(cString: strerror(errno)))")
        }
        Self.adviseHugePages(mapping, size: size)
        try self.init(base: UnsafeRawPointer(mapping), size: size, storage: .mapped, path: path)
    }

    /// Asks the kernel to map the file's pages with 2 MiB entries where it can (`MADV_HUGEPAGE`). Decoding streams
    /// gigabytes of weights a token through 4 KiB pages otherwise: a TLB miss every 4 KiB. A Linux kernel whose
    /// page cache keeps large folios for the file system (6.18 with ext4, where this was measured) then reads the
    /// file in 2 MiB folios and maps them whole; the weights stay in the page cache, mapped, never copied. Pages
    /// already cached in small folios stay as they are. `MOECODER_HUGEPAGES=0` turns it off.
    static func adviseHugePages(_ mapping: UnsafeMutableRawPointer, size: Int) {
        #if os(Linux)
        if let value = getenv("MOECODER_HUGEPAGES"), String(cString: value) == "0" { return }
        _ = madvise(mapping, size, Int32(MADV_HUGEPAGE))  // without THP: EINVAL, which changes nothing
        #endif
    }

    /// Parses a copy of `bytes` with the same parser (for tests and fuzzing).
    public convenience init(bytes: [UInt8]) throws {
        let copy = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 64)
        bytes.withUnsafeBytes { source in
            if let address = source.baseAddress {
                copy.copyMemory(from: address, byteCount: source.count)
            }
        }
        try self.init(base: UnsafeRawPointer(copy), size: bytes.count, storage: .allocated, path: nil)
    }

    private init(base: UnsafeRawPointer, size: Int, storage: Storage, path: String?) throws {
        let layout: GGUFLayout
        do {
            layout = try GGUFParser.parse(UnsafeRawBufferPointer(start: base, count: size))
        } catch {
            storage.release(base, size: size)
            guard let path, let error = error as? GGUFError else { throw error }
            throw GGUFError("\(path): \(error.message)")
        }
        self.base = base
        self.storage = storage
        self.fileSize = size
        self.version = layout.version
        self.alignment = layout.alignment
        self.metadata = layout.metadata
        self.metadataKeys = layout.metadataKeys
        self.emptyArrayTypes = layout.emptyArrayTypes
        self.tensors = layout.tensors
        self.dataOffset = layout.dataOffset
        self.tensorIndex = Dictionary(uniqueKeysWithValues: layout.tensors.enumerated().map { ($1.name, $0) })
    }

    deinit {
        storage.release(base, size: fileSize)
    }

    /// `general.architecture`, e.g. "llama", "qwen2moe".
    public var architecture: String? { metadata["general.architecture"]?.string }

    /// The tensor named `name`, e.g. "blk.0.ffn_gate_exps.weight".
    public func tensor(_ name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The first byte of a tensor's data, inside the mapping: `byteCount` bytes are readable from there
    /// for as long as this file is alive. `tensor` must be one of this file's tensors.
    public func data(_ tensor: GGUFTensorInfo) -> UnsafeRawPointer {
        precondition(self.tensor(tensor.name) == tensor, "tensor '\(tensor.name)' is not one of this file's tensors")
        return base + dataOffset + tensor.offset
    }

    /// Lets the kernel drop the resident pages of `count` bytes of tensor data from `start` (a pointer into this
    /// file's mapping, as `data(_:)` gives): a pass that reads a large file once then stays at a bounded
    /// resident size. The data stays readable (pages come back from the file). No effect on in-memory files.
    public func dropPages(from start: UnsafeRawPointer, count: Int) {
        guard case .mapped = storage, count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let first = (Int(bitPattern: start) / page) * page
        let last = Int(bitPattern: start) + count
        let length = (last - first) / page * page  // whole pages only: the next piece may still need the tail
        guard length > 0, let pointer = UnsafeMutableRawPointer(bitPattern: first) else { return }
        madvise(pointer, length, Int32(MADV_DONTNEED))
    }

    /// A 64-bit fingerprint of the file's content: its size, its header (metadata and tensor table) and 256
    /// samples of 4 KiB spread over the tensor data (FNV-1a). Identifies a model file for caches kept on disk
    /// without reading gigabytes at start.
    public var contentFingerprint: UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ bytes: UnsafeRawBufferPointer) {
            for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        }
        withUnsafeBytes(of: UInt64(fileSize).littleEndian) { mix($0) }
        mix(UnsafeRawBufferPointer(start: base, count: min(dataOffset, fileSize)))
        let data = fileSize - dataOffset, sample = 4096
        if data > 0 {
            for i in 0..<256 {
                let start = dataOffset + (data > sample ? (data - sample) * i / 255 : 0)
                mix(UnsafeRawBufferPointer(start: base + start, count: min(sample, fileSize - start)))
            }
        }
        return hash
    }

    /// Who owns the bytes, and so how to give them back.
    private enum Storage {
        case mapped, allocated

        func release(_ base: UnsafeRawPointer, size: Int) {
            switch self {
            case .mapped: munmap(UnsafeMutableRawPointer(mutating: base), size)
            case .allocated: UnsafeMutableRawPointer(mutating: base).deallocate()
            }
        }
    }
}
