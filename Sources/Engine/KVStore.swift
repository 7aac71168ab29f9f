import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Cached prefixes on disk (`--persist-kv DIR`), so that a restarted server or language server does not
/// compute the same files again.
///
/// One file per model and numerics, `DIR/<key>.kvcache`, where the key combines the model file's content
/// fingerprint, the activation mode, the KV type and the block layout (other models never read each other's
/// file). The
/// file (little-endian):
///
///     "MOEKV001"  key u64  blockTokens u32  layers u32  keyWidth u32  valueWidth u32  type u32 (ggml's id)
///     per record: parent i32 (-1: root; else an earlier record)  hits u32  tokens u32  token ids i32 × tokens
///     block bytes
///     records u32  FNV-1a 64 (over 32-bit words) of everything before it
///
/// It is written to a temporary file and renamed, so a crash or a full disk leaves the previous file. A file
/// that is from another model, truncated or corrupted is reported and skipped, never half-loaded.
public struct KVStore: Sendable {
    public let directory: String
    public let key: UInt64

    static let magic = Array("MOEKV001".utf8)

    public init(directory: String, model: LanguageModel) {
        self.directory = directory
        var key = model.transformer.file.contentFingerprint
        let pool = model.transformer.kvPool
        for value in [UInt64(model.transformer.activations == .exact ? 1 : 2), UInt64(pool.blockTokens),
                      UInt64(pool.blockBytes), UInt64(pool.type.rawValue)] {
            key = (key ^ value) &* 0x100_0000_01b3
        }
        // Keys and values depend on the adapters the model runs with.
        for use in model.transformer.adapters {
            for value in [use.adapter.fingerprint, UInt64(use.scale.bitPattern)] { key = (key ^ value) &* 0x100_0000_01b3 }
        }
        self.key = key
    }

    public var path: String { (directory as NSString).appendingPathComponent(String(format: "%016llx.kvcache", key)) }

    /// An error reading or writing the file, with what to do.
    public struct Failure: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// Loads the saved prefixes into `pool`; returns blocks loaded (0 when there is no file yet).
    @discardableResult
    public func load(into pool: KVBlockPool) throws -> Int {
        guard FileManager.default.fileExists(atPath: path) else { return 0 }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw Failure(message: "cannot read the saved KV cache '\(path)': \(error.localizedDescription); skipped")
        }
        return try data.withUnsafeBytes { raw -> Int in
            let records = try parse(raw, pool: pool)
            return pool.restore(records)
        }
    }

    private func parse(_ raw: UnsafeRawBufferPointer, pool: KVBlockPool) throws
        -> [(parent: Int, hits: Int, tokens: [Int32], bytes: UnsafeRawPointer)] {
        func bad(_ why: String) -> Failure {
            Failure(message: "the saved KV cache '\(path)' \(why); skipped (it is rewritten on the next save)")
        }
        let headerBytes = 8 + 8 + 5 * 4
        guard raw.count >= headerBytes + 12 else { throw bad("is truncated") }
        guard Array(raw[0..<8]) == Self.magic else { throw bad("is not a moecoder KV cache file") }
        func u32(_ at: Int) -> UInt32 { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
        func u64(_ at: Int) -> UInt64 { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        guard u64(8) == key else { throw bad("was written for another model or other settings") }
        guard Int(u32(16)) == pool.blockTokens, Int(u32(20)) == pool.layers, Int(u32(24)) == pool.keyWidth,
              Int(u32(28)) == pool.valueWidth, u32(32) == pool.type.rawValue
        else { throw bad("has another block layout or KV type") }
        let body = raw.count - 12
        guard Self.fnv(UnsafeRawBufferPointer(rebasing: raw[0..<(body + 4)])) == u64(body + 4) else {
            throw bad("is corrupted (its checksum does not match) or truncated")
        }
        let count = Int(u32(body))
        var offset = headerBytes
        var records: [(parent: Int, hits: Int, tokens: [Int32], bytes: UnsafeRawPointer)] = []
        records.reserveCapacity(count)
        for index in 0..<count {
            guard offset + 12 <= body else { throw bad("is truncated") }
            let parent = Int(Int32(bitPattern: u32(offset))), hits = Int(u32(offset + 4)), tokens = Int(u32(offset + 8))
            offset += 12
            guard parent >= -1, parent < index, tokens >= 1, tokens <= pool.blockTokens,
                  offset + tokens * 4 + pool.blockBytes <= body else { throw bad("is truncated or damaged") }
            let ids = (0..<tokens).map { Int32(bitPattern: u32(offset + $0 * 4)) }
            offset += tokens * 4
            records.append((parent, hits, ids, raw.baseAddress! + offset))
            offset += pool.blockBytes
        }
        guard offset == body else { throw bad("has trailing bytes") }
        return records
    }

    /// Writes `pool`'s cached prefixes; returns blocks written. A write error (a full disk) leaves the
    /// previous file and is thrown.
    @discardableResult
    public func save(_ pool: KVBlockPool) throws -> Int {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw Failure(message: "cannot create the KV cache folder '\(directory)': \(error.localizedDescription)")
        }
        // A file size limit (ulimit -f) must fail the write, not kill the process.
        signal(SIGXFSZ, SIG_IGN)
        let temporary = path + ".\(getpid()).tmp"
        guard let file = fopen(temporary, "wb") else {
            throw Failure(message: "cannot write '\(temporary)': \(String(cString: strerror(errno)))")
        }
        var hash = Self.seed
        var failed: Int32 = 0
        func write(_ bytes: UnsafeRawBufferPointer) {
            guard failed == 0, bytes.count > 0 else { return }
            hash = Self.fnv(bytes, hash)
            if fwrite(bytes.baseAddress!, 1, bytes.count, file) != bytes.count { failed = errno == 0 ? EIO : errno }
        }
        func write32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { write($0) } }
        Self.magic.withUnsafeBytes { write($0) }
        withUnsafeBytes(of: key.littleEndian) { write($0) }
        for value in [pool.blockTokens, pool.layers, pool.keyWidth, pool.valueWidth, Int(pool.type.rawValue)] {
            write32(UInt32(value))
        }
        let count = pool.forEachIndexed { parent, hits, tokens, bytes in
            write32(UInt32(bitPattern: Int32(parent)))
            write32(UInt32(min(hits, Int(UInt32.max))))
            write32(UInt32(tokens.count))
            tokens.withUnsafeBytes { write($0) }
            write(bytes)
        }
        write32(UInt32(count))
        let checksum = hash
        withUnsafeBytes(of: checksum.littleEndian) { write($0) }
        if failed == 0, fflush(file) != 0 { failed = errno }
        if failed == 0, fsync(fileno(file)) != 0 { failed = errno }
        if fclose(file) != 0, failed == 0 { failed = errno }
        if failed != 0 {
            unlink(temporary)
            throw Failure(message: "cannot save the KV cache to '\(path)': \(String(cString: strerror(failed))); "
                          + "the previous file is kept")
        }
        guard rename(temporary, path) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(temporary)
            throw Failure(message: "cannot save the KV cache to '\(path)': \(why)")
        }
        return count
    }

    static let seed: UInt64 = 0xcbf2_9ce4_8422_2325

    /// FNV-1a over 32-bit little-endian words (every piece of the file is a multiple of 4 bytes).
    static func fnv(_ bytes: UnsafeRawBufferPointer, _ start: UInt64 = seed) -> UInt64 {
        var hash = start
        let words = bytes.count / 4
        for i in 0..<words {
            hash = (hash ^ UInt64(bytes.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) &* 0x100_0000_01b3
        }
        for i in (words * 4)..<bytes.count { hash = (hash ^ UInt64(bytes[i])) &* 0x100_0000_01b3 }
        return hash
    }
}
