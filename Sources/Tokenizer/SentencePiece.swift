/// SentencePiece-style encoding (GGUF `tokenizer.ggml.model = llama`), as llama.cpp's `llm_tokenizer_spm` does it:
/// the text (spaces already written as "▁") starts as one symbol per character; the adjacent pair whose
/// concatenation is the vocabulary entry with the highest score is merged (leftmost first on equal scores), and
/// again, until no adjacent pair forms an entry. A character left over that is not an entry becomes its
/// `<0xXX>` byte tokens (byte fallback), or the unknown token when the vocabulary has no byte tokens for it.
///
/// When no entry has a "▁" right after another character (true of SentencePiece vocabularies trained to split
/// on whitespace, as Llama's and Mistral's are), no merge can cross the start of a "▁" run that follows other
/// text, so the text is cut there and each word is merged on its own — the same result, with a cache per word.
///
/// Not thread-safe: `BPETokenizer` serializes access.
final class SentencePieceMerger {
    /// Entries that merging may produce (normal and user-defined tokens), by their text.
    private let table: TextTable
    private let scores: [Float]
    /// The byte-fallback token of each byte (`<0xXX>`, else a one-byte normal token for ASCII), -1 if none.
    private let byteIds: [Int32]
    private let unknown: Int32?
    /// Whether words (a "▁" run and what follows up to the next one) can be merged separately.
    private let splitsWords: Bool
    private let cache = PieceCache()

    // Scratch: the symbols as a linked list over the text, and the queue of candidate merges.
    private var start: [Int32] = []
    private var length: [Int32] = []
    private var previous: [Int32] = []
    private var next: [Int32] = []
    private var queue = BigramQueue()

    /// - Parameters:
    ///   - texts: the vocabulary in SentencePiece form ("▁" for a space).
    ///   - mergeable: whether merging may produce entry i.
    ///   - byteIds: the byte-fallback token of each of the 256 bytes, -1 where there is none.
    init(texts: [String], mergeable: [Bool], scores: [Float], byteIds: [Int32], unknown: Int32?) {
        let entries = texts.indices.filter { mergeable[$0] }.map { (Array(texts[$0].utf8), Int32($0)) }
        table = TextTable(entries)
        splitsWords = !entries.contains { text, _ in
            (0..<text.count).contains { Self.wordStart(text, at: $0) && $0 > 0 }
        }
        self.scores = scores
        self.byteIds = byteIds
        self.unknown = unknown
    }

    /// Whether a "▁" that follows another character (or the start) begins at `i`.
    @inline(__always)
    private static func wordStart<C: RandomAccessCollection>(_ text: C, at i: Int) -> Bool
    where C.Element == UInt8, C.Index == Int {
        guard i + 2 < text.count, text[i] == 0xE2, text[i + 1] == 0x96, text[i + 2] == 0x81 else { return false }
        return i < 3 || !(text[i - 3] == 0xE2 && text[i - 2] == 0x96 && text[i - 1] == 0x81)
    }

    /// Appends the ids of `text` (UTF-8, spaces already escaped) to `output`.
    func encode(_ text: UnsafeBufferPointer<UInt8>, into output: inout [Int32]) {
        guard splitsWords else { return merge(text, into: &output) }
        var wordStart = 0
        var i = 1
        while i <= text.count {
            if i == text.count || Self.wordStart(text, at: i) {
                let word = UnsafeBufferPointer(rebasing: text[wordStart..<i])
                let hash = PieceCache.hash(word)
                if !cache.lookup(word, hash: hash, into: &output) {
                    let first = output.count
                    merge(word, into: &output)
                    cache.insert(word, hash: hash, ids: output[first...])
                }
                wordStart = i
            }
            i += 1
        }
    }

    /// llama.cpp's merge loop over the whole of `text`.
    private func merge(_ text: UnsafeBufferPointer<UInt8>, into output: inout [Int32]) {
        guard !text.isEmpty else { return }
        start.removeAll(keepingCapacity: true)
        length.removeAll(keepingCapacity: true)
        var offset = 0
        while offset < text.count {
            let n = min(utf8Length(text[offset]), text.count - offset)
            start.append(Int32(offset))
            length.append(Int32(n))
            offset += n
        }
        let count = start.count
        previous = Array(-1..<Int32(count - 1))
        next = Array(1...Int32(count))
        next[count - 1] = -1

        queue.removeAll()
        for i in 1..<max(count, 1) { tryAdd(text, Int32(i - 1), Int32(i)) }
        while let bigram = queue.pop() {
            let left = Int(bigram.left), right = Int(bigram.right)
            // Skip merges made stale by an earlier one (symbols only ever grow, so equal sizes mean unchanged).
            if length[left] == 0 || length[right] == 0 || length[left] + length[right] != bigram.size { continue }
            length[left] += length[right]
            length[right] = 0
            next[left] = next[right]
            if next[right] >= 0 { previous[Int(next[right])] = bigram.left }
            tryAdd(text, previous[left], bigram.left)
            tryAdd(text, bigram.left, next[left])
        }

        var i: Int32 = 0
        while i != -1 {
            let symbol = UnsafeBufferPointer(rebasing: text[Int(start[Int(i)])..<Int(start[Int(i)] + length[Int(i)])])
            if let id = table.id(of: symbol) {
                output.append(id)
            } else if symbol.allSatisfy({ byteIds[Int($0)] >= 0 }) {
                for byte in symbol { output.append(byteIds[Int(byte)]) }
            } else if let unknown {
                output.append(unknown)
            }
            i = next[Int(i)]
        }
    }

    @inline(__always)
    private func tryAdd(_ text: UnsafeBufferPointer<UInt8>, _ left: Int32, _ right: Int32) {
        guard left >= 0, right >= 0 else { return }
        let lower = Int(start[Int(left)])
        let size = length[Int(left)] + length[Int(right)]
        guard let id = table.id(of: UnsafeBufferPointer(rebasing: text[lower..<lower + Int(size)])) else { return }
        queue.push(Bigram(score: scores[Int(id)], left: left, right: right, size: size))
    }

    @inline(__always)
    private func utf8Length(_ lead: UInt8) -> Int {
        switch lead {
        case 0xF0...: return 4
        case 0xE0...: return 3
        case 0xC0...: return 2
        default: return 1
        }
    }
}

/// A candidate merge of two adjacent symbols.
struct Bigram {
    var score: Float
    var left: Int32
    var right: Int32
    var size: Int32

    /// Higher score first; on equal scores the leftmost (llama.cpp's comparator).
    @inline(__always)
    func before(_ other: Bigram) -> Bool {
        score > other.score || (score == other.score && left < other.left)
    }
}

/// A binary heap of bigrams, best first.
struct BigramQueue {
    private var items: [Bigram] = []

    mutating func removeAll() { items.removeAll(keepingCapacity: true) }

    mutating func push(_ item: Bigram) {
        items.append(item)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].before(items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Bigram? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var best = parent
                if left < items.count, items[left].before(items[best]) { best = left }
                if right < items.count, items[right].before(items[best]) { best = right }
                if best == parent { break }
                items.swapAt(parent, best)
                parent = best
            }
        }
        return top
    }
}

/// Byte strings → token id without allocating on lookups: a 64-bit hash of the bytes finds the entry, whose
/// bytes are then compared. Entries whose hash another entry already holds go to a plain dictionary.
struct TextTable {
    private var slots: [UInt64: Int32] = [:]
    private var overflow: [[UInt8]: Int32] = [:]
    private var bytes: [UInt8] = []
    /// Bytes of entry k: bytes[offsets[k]..<offsets[k + 1]]; slot values index entries.
    private var offsets: [Int] = [0]
    private var ids: [Int32] = []

    /// The first entry with a given text wins.
    init(_ entries: some Sequence<([UInt8], Int32)>) {
        for (text, id) in entries {
            let hash = text.withUnsafeBufferPointer { PieceCache.hash($0) }
            if let slot = slots[hash] {
                if entryBytes(Int(slot)).elementsEqual(text) { continue }
                if overflow[text] == nil { overflow[text] = id }
                continue
            }
            slots[hash] = Int32(ids.count)
            bytes.append(contentsOf: text)
            offsets.append(bytes.count)
            ids.append(id)
        }
    }

    private func entryBytes(_ slot: Int) -> ArraySlice<UInt8> { bytes[offsets[slot]..<offsets[slot + 1]] }

    @inline(__always)
    func id(of text: UnsafeBufferPointer<UInt8>) -> Int32? {
        if let slot = slots[PieceCache.hash(text)] {
            let lower = offsets[Int(slot)], upper = offsets[Int(slot) + 1]
            if upper - lower == text.count {
                let equal = bytes.withUnsafeBufferPointer { stored in
                    var k = 0
                    while k < text.count, stored[lower + k] == text[k] { k += 1 }
                    return k == text.count
                }
                if equal { return ids[Int(slot)] }
            }
        }
        return overflow.isEmpty ? nil : overflow[Array(text)]
    }
}

/// How SentencePiece vocabularies write text: "▁" (U+2581) for a space, `<0xXX>` for a byte token.
enum SentencePieceVocabulary {
    /// UTF-8 of "▁".
    static let space: [UInt8] = [0xE2, 0x96, 0x81]

    /// "<0x0A>" for 10: upper-case hex, as SentencePiece and llama.cpp write byte tokens.
    static func byteTokenText(_ byte: UInt8) -> String {
        let hex = Array("0123456789ABCDEF")
        return "<0x\(hex[Int(byte >> 4)])\(hex[Int(byte & 15)])>"
    }

    /// The byte of a `<0xXX>` token text, nil for any other text.
    static func byteValue(of token: String) -> UInt8? {
        let utf8 = Array(token.utf8)
        guard utf8.count == 6, utf8[0] == UInt8(ascii: "<"), utf8[1] == UInt8(ascii: "0"),
              utf8[2] == UInt8(ascii: "x"), utf8[5] == UInt8(ascii: ">") else { return nil }
        return UInt8(String(decoding: utf8[3..<5], as: UTF8.self), radix: 16)
    }

    /// The bytes a token stands for: its byte for a byte token, the text with "▁" as spaces for ordinary
    /// ones, the text itself for control and user-defined tokens (llama.cpp's token_to_piece).
    static func bytes(ofToken token: String, kind: BPETokenizer.Kind) -> [UInt8] {
        switch kind {
        case .byte:
            return byteValue(of: token).map { [$0] } ?? Array(token.utf8)
        case .special, .added:
            return Array(token.utf8)
        case .normal, .unused:
            var bytes: [UInt8] = []
            bytes.reserveCapacity(token.utf8.count)
            let utf8 = Array(token.utf8)
            var i = 0
            while i < utf8.count {
                if i + 2 < utf8.count, utf8[i] == 0xE2, utf8[i + 1] == 0x96, utf8[i + 2] == 0x81 {
                    bytes.append(0x20)
                    i += 3
                } else {
                    bytes.append(utf8[i])
                    i += 1
                }
            }
            return bytes
        }
    }
}
