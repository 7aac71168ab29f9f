/// Byte-level BPE over one pre-token: start from one symbol per byte and repeatedly merge the adjacent
/// pair with the lowest merge rank (leftmost first on ties), as HF `tokenizers` does. Results are
/// cached per distinct pre-token, since code repeats the same identifiers and indentation constantly.
///
/// Not thread-safe: `BPETokenizer` serializes access.
final class BPEMerger {
    /// (left id << 32 | right id) → (rank << 32 | merged id).
    private let merges: [UInt64: UInt64]
    /// Token id of each single byte, -1 where the vocabulary lacks it (such bytes are dropped, as HF does
    /// without an unknown token).
    private let byteIds: [Int32]
    /// Whole pre-token → id, consulted before merging when the model has `ignore_merges` (Llama 3).
    private let wholeTokens: [[UInt8]: Int32]?

    private var symbols: [Int32] = []
    private var ranks: [UInt64] = []
    private let cache = PieceCache()

    init(merges: [UInt64: UInt64], byteIds: [Int32], wholeTokens: [[UInt8]: Int32]?) {
        self.merges = merges
        self.byteIds = byteIds
        self.wholeTokens = wholeTokens
    }

    /// Appends the ids of the pre-token `piece` to `output`.
    func encode(_ piece: UnsafeBufferPointer<UInt8>, into output: inout [Int32]) {
        if piece.count == 1 {
            let id = byteIds[Int(piece[0])]
            if id >= 0 { output.append(id) }
            return
        }
        let hash = PieceCache.hash(piece)
        if cache.lookup(piece, hash: hash, into: &output) { return }
        let start = output.count
        merge(piece, into: &output)
        cache.insert(piece, hash: hash, ids: output[start...])
    }

    private func merge(_ piece: UnsafeBufferPointer<UInt8>, into output: inout [Int32]) {
        if let wholeTokens, let id = wholeTokens[Array(piece)] {
            output.append(id)
            return
        }
        symbols.removeAll(keepingCapacity: true)
        for byte in piece {
            let id = byteIds[Int(byte)]
            if id >= 0 { symbols.append(id) }
        }
        ranks.removeAll(keepingCapacity: true)
        if symbols.count > 1 {
            for k in 0..<(symbols.count - 1) { ranks.append(rank(symbols[k], symbols[k + 1])) }
        }
        while !ranks.isEmpty {
            var best = 0
            for k in 1..<ranks.count where ranks[k] < ranks[best] { best = k }
            let entry = ranks[best]
            if entry == .max { break }
            symbols[best] = Int32(truncatingIfNeeded: entry & 0xFFFF_FFFF)
            symbols.remove(at: best + 1)
            ranks.remove(at: best)
            if best > 0 { ranks[best - 1] = rank(symbols[best - 1], symbols[best]) }
            if best < ranks.count { ranks[best] = rank(symbols[best], symbols[best + 1]) }
        }
        output.append(contentsOf: symbols)
    }

    @inline(__always)
    private func rank(_ left: Int32, _ right: Int32) -> UInt64 {
        merges[UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))] ?? .max
    }
}

/// Pre-token bytes → ids, without allocating on lookups: a hash of the bytes indexes entries whose bytes
/// and ids live in two flat arrays. A hash collision simply means "not cached".
final class PieceCache {
    private struct Entry {
        var byteStart: Int32, byteCount: Int32, idStart: Int32, idCount: Int32
    }

    private var index: [UInt64: Int32] = [:]
    private var entries: [Entry] = []
    private var bytes: [UInt8] = []
    private var ids: [Int32] = []
    /// Bounds memory on huge inputs; the cache starts over past this many bytes.
    private let byteLimit = 16 << 20

    /// FNV-1a, 64-bit.
    @inline(__always)
    static func hash(_ piece: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in piece { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return h
    }

    func lookup(_ piece: UnsafeBufferPointer<UInt8>, hash: UInt64, into output: inout [Int32]) -> Bool {
        guard let slot = index[hash] else { return false }
        let entry = entries[Int(slot)]
        guard Int(entry.byteCount) == piece.count else { return false }
        let same = bytes.withUnsafeBufferPointer { stored in
            piece.elementsEqual(stored[Int(entry.byteStart)..<Int(entry.byteStart + entry.byteCount)])
        }
        guard same else { return false }
        output.append(contentsOf: ids[Int(entry.idStart)..<Int(entry.idStart + entry.idCount)])
        return true
    }

    func insert(_ piece: UnsafeBufferPointer<UInt8>, hash: UInt64, ids newIds: ArraySlice<Int32>) {
        guard index[hash] == nil else { return }
        if bytes.count + piece.count > byteLimit {
            index.removeAll(keepingCapacity: true)
            entries.removeAll(keepingCapacity: true)
            bytes.removeAll(keepingCapacity: true)
            ids.removeAll(keepingCapacity: true)
        }
        index[hash] = Int32(entries.count)
        entries.append(Entry(byteStart: Int32(bytes.count), byteCount: Int32(piece.count),
                             idStart: Int32(ids.count), idCount: Int32(newIds.count)))
        bytes.append(contentsOf: piece)
        ids.append(contentsOf: newIds)
    }
}
