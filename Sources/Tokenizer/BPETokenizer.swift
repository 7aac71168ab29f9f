import Foundation

/// A byte-level BPE tokenizer (GPT-2 style vocabularies: DeepSeek, Qwen, Llama 3, StarCoder…).
///
/// Encoding: added tokens are cut out first (longest match), the rest is split by the family's
/// pre-tokenizer, and each piece is merged by BPE. Safe to share between threads (one encode at a time).
public final class BPETokenizer: @unchecked Sendable {
    /// How a vocabulary entry takes part in tokenization.
    enum Kind: UInt8 {
        /// Produced by BPE.
        case normal
        /// Control token: matched in text only when parsing specials; skipped by `decode(skipSpecial:)`.
        case special
        /// User-defined token: always matched in text, decoded as its text.
        case added
        /// Reserved slot: never produced.
        case unused
    }

    public let bos: Int32?
    public let eos: Int32?
    public let addBOS: Bool
    public let addEOS: Bool
    public let preTokenizer: PreTokenizer
    /// The fill-in-the-middle tokens, found by their texts.
    public let fim: FIMTokens?

    private let tokens: [String]
    private let kinds: [Kind]
    private let ids: [String: Int32]
    /// Bytes of token i: tokenBytes[tokenOffsets[i]..<tokenOffsets[i + 1]].
    private let tokenBytes: [UInt8]
    private let tokenOffsets: [Int]
    private let addedTokens: AddedTokenMatcher
    /// Whether text is NFC-normalized before pre-tokenization (Qwen2's tokenizer.json normalizer).
    private let normalizesNFC: Bool
    private let merger: BPEMerger
    private let lock = NSLock()

    public var vocabularySize: Int { tokens.count }

    /// - Parameters:
    ///   - tokens: the vocabulary in byte-level (GPT-2 byte-to-unicode) form.
    ///   - merges: "a b" strings in rank order.
    ///   - tokenTypes: GGUF token types (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte) or nil.
    ///   - ignoreMerges: look a whole pre-token up in the vocabulary before merging; nil means what llama.cpp
    ///     does for the family (Llama 3 and GLM-4).
    public convenience init(tokens: [String], merges: [String], tokenTypes: [Int]?, preTokenizer: PreTokenizer,
                            bos: Int32?, eos: Int32?, addBOS: Bool, addEOS: Bool = false,
                            ignoreMerges: Bool? = nil) throws {
        if let tokenTypes, tokenTypes.count != tokens.count {
            throw TokenizerError.invalidVocabulary("\(tokenTypes.count) token types for \(tokens.count) tokens")
        }
        let kinds: [Kind] = (tokenTypes ?? []).map {
            switch $0 {
            case 2, 3: return .special
            case 4: return .added
            case 5: return .unused
            default: return .normal
            }
        }
        var pairs: [(String, String)] = []
        pairs.reserveCapacity(merges.count)
        for (rank, merge) in merges.enumerated() {
            let parts = merge.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw TokenizerError.invalidVocabulary("merge \(rank) \"\(merge)\" is not two tokens separated by a space")
            }
            pairs.append((String(parts[0]), String(parts[1])))
        }
        try self.init(tokens: tokens, kinds: kinds.isEmpty ? Array(repeating: .normal, count: tokens.count) : kinds,
                      merges: pairs, preTokenizer: preTokenizer, bos: bos, eos: eos, addBOS: addBOS, addEOS: addEOS,
                      ignoreMerges: ignoreMerges ?? preTokenizer.ignoresMerges, normalizesNFC: false)
    }

    init(tokens: [String], kinds: [Kind], merges: [(String, String)], preTokenizer: PreTokenizer,
         bos: Int32?, eos: Int32?, addBOS: Bool, addEOS: Bool, ignoreMerges: Bool, normalizesNFC: Bool) throws {
        guard !tokens.isEmpty else { throw TokenizerError.invalidVocabulary("the vocabulary is empty") }
        for (name, id) in [("BOS", bos), ("EOS", eos)] {
            if let id, id < 0 || Int(id) >= tokens.count {
                throw TokenizerError.invalidVocabulary("\(name) id \(id) outside the vocabulary of \(tokens.count)")
            }
        }
        self.tokens = tokens
        self.kinds = kinds
        self.preTokenizer = preTokenizer
        self.bos = bos
        self.eos = eos
        self.addBOS = addBOS
        self.addEOS = addEOS
        self.normalizesNFC = normalizesNFC

        var ids: [String: Int32] = [:]
        ids.reserveCapacity(tokens.count)
        var tokenBytes: [UInt8] = []
        var tokenOffsets = [0]
        var byteIds = [Int32](repeating: -1, count: 256)
        var wholeTokens: [[UInt8]: Int32] = [:]
        var candidates: [AddedTokenMatcher.Candidate] = []
        for (index, token) in tokens.enumerated() {
            let id = Int32(index)
            if ids[token] == nil { ids[token] = id }
            let bytes = ByteLevel.bytes(ofToken: token)
            tokenBytes.append(contentsOf: bytes)
            tokenOffsets.append(tokenBytes.count)
            switch kinds[index] {
            case .normal:
                if bytes.count == 1, byteIds[Int(bytes[0])] < 0 { byteIds[Int(bytes[0])] = id }
                if ignoreMerges, wholeTokens[bytes] == nil { wholeTokens[bytes] = id }
            case .special, .added:
                candidates.append(.init(bytes: Array(token.utf8), id: id, special: kinds[index] == .special))
            case .unused:
                break
            }
        }
        var mergeTable: [UInt64: UInt64] = [:]
        mergeTable.reserveCapacity(merges.count)
        for (rank, (left, right)) in merges.enumerated() {
            guard let l = ids[left], let r = ids[right], let merged = ids[left + right] else {
                throw TokenizerError.invalidVocabulary("merge \(rank) \"\(left) \(right)\" names a token missing from the vocabulary")
            }
            let key = UInt64(UInt32(bitPattern: l)) << 32 | UInt64(UInt32(bitPattern: r))
            if mergeTable[key] == nil { mergeTable[key] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: merged)) }
        }
        self.ids = ids
        self.tokenBytes = tokenBytes
        self.tokenOffsets = tokenOffsets
        self.addedTokens = AddedTokenMatcher(candidates)
        self.merger = BPEMerger(merges: mergeTable, byteIds: byteIds, wholeTokens: ignoreMerges ? wholeTokens : nil)
        self.fim = FIMTokens.detect { ids[$0] }
    }

    // MARK: - Vocabulary

    public func id(of token: String) -> Int32? { ids[token] }

    /// The vocabulary entry's text (byte-level form for ordinary tokens).
    public func token(of id: Int32) -> String? { isValid(id) ? tokens[Int(id)] : nil }

    /// The bytes the token stands for (empty for an id outside the vocabulary).
    public func bytes(of id: Int32) -> [UInt8] {
        guard isValid(id) else { return [] }
        return Array(tokenBytes[tokenOffsets[Int(id)]..<tokenOffsets[Int(id) + 1]])
    }

    /// Control tokens (HF added tokens marked special; GGUF types control and unknown).
    public func isSpecial(_ id: Int32) -> Bool { isValid(id) && kinds[Int(id)] == .special }

    @inline(__always)
    private func isValid(_ id: Int32) -> Bool { id >= 0 && Int(id) < tokens.count }

    // MARK: - Encoding

    /// - Parameters:
    ///   - addSpecial: add BOS/EOS as the model's template says (`addBOS`, `addEOS`).
    ///   - parseSpecial: match special-token texts in `text`; when false they are tokenized as plain text.
    public func encode(_ text: String, addSpecial: Bool = false, parseSpecial: Bool = true) -> [Int32] {
        var output: [Int32] = []
        output.reserveCapacity(text.utf8.count / 3)
        if addSpecial, addBOS, let bos { output.append(bos) }
        var text = text
        lock.lock()
        text.withUTF8 { bytes in
            var pieces: [Range<Int>] = []
            var segmentStart = 0
            var i = 0
            while i < bytes.count {
                if let (id, length) = addedTokens.match(bytes, at: i, parseSpecial: parseSpecial) {
                    encodeSegment(bytes, segmentStart..<i, pieces: &pieces, into: &output)
                    output.append(id)
                    i += length
                    segmentStart = i
                } else {
                    i += 1
                }
            }
            encodeSegment(bytes, segmentStart..<bytes.count, pieces: &pieces, into: &output)
        }
        lock.unlock()
        if addSpecial, addEOS, let eos { output.append(eos) }
        return output
    }

    /// Text between added tokens: normalize, pre-tokenize, BPE each piece.
    private func encodeSegment(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, pieces: inout [Range<Int>],
                               into output: inout [Int32]) {
        guard !range.isEmpty else { return }
        // NFC changes nothing below U+0300, i.e. when no UTF-8 byte is 0xCC or above.
        if normalizesNFC, bytes[range].contains(where: { $0 >= 0xCC }) {
            var normalized = String(decoding: bytes[range], as: UTF8.self).precomposedStringWithCanonicalMapping
            normalized.withUTF8 { encodeNormalized($0, 0..<$0.count, pieces: &pieces, into: &output) }
        } else {
            encodeNormalized(bytes, range, pieces: &pieces, into: &output)
        }
    }

    private func encodeNormalized(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>,
                                  pieces: inout [Range<Int>], into output: inout [Int32]) {
        pieces.removeAll(keepingCapacity: true)
        preTokenizer.appendPieces(in: bytes, range: range, to: &pieces)
        for piece in pieces {
            merger.encode(UnsafeBufferPointer(rebasing: bytes[piece]), into: &output)
        }
    }

    // MARK: - Decoding

    /// The text of `ids`; byte sequences that are not valid UTF-8 become U+FFFD (like HF's decode).
    public func decode(_ ids: [Int32], skipSpecial: Bool = false) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids where isValid(id) && !(skipSpecial && kinds[Int(id)] == .special) {
            appendBytes(of: id, to: &bytes)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    func appendBytes(of id: Int32, to bytes: inout [UInt8]) {
        guard isValid(id) else { return }
        bytes.append(contentsOf: tokenBytes[tokenOffsets[Int(id)]..<tokenOffsets[Int(id) + 1]])
    }
}
