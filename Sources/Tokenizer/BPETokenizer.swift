import Foundation

/// The tokenizer algorithms a GGUF's `tokenizer.ggml.model` names.
public enum TokenizerModel: String, Sendable, CaseIterable {
    /// Byte-level BPE over pre-tokenized text (DeepSeek, Qwen, Llama 3, GLM-4, gpt-oss, StarCoder…).
    case byteLevelBPE = "gpt2"
    /// SentencePiece-style score merging with "▁" for spaces and byte fallback (Llama 2, Mistral, Mixtral, CodeLlama).
    case sentencePiece = "llama"
}

/// The tokenizer of a model: a byte-level BPE tokenizer (GPT-2 style vocabularies: DeepSeek, Qwen, Llama 3,
/// StarCoder…) or, for `model == .sentencePiece`, a SentencePiece-style one (Llama 2, Mistral, Mixtral).
///
/// Encoding: added tokens are cut out first (longest match). Byte-level BPE splits the rest by the family's
/// pre-tokenizer and merges each piece by BPE; SentencePiece writes spaces as "▁", puts one before each run
/// of text (`addsSpacePrefix`) and merges by score, falling back to byte tokens. `bytes(of:)` is always the
/// text a token stands for. Safe to share between threads (one encode at a time).
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
        /// SentencePiece byte-fallback token `<0xXX>`: produced for bytes of characters missing from the
        /// vocabulary; stands for its byte.
        case byte
    }

    public let bos: Int32?
    public let eos: Int32?
    public let addBOS: Bool
    public let addEOS: Bool
    /// The unknown token (SentencePiece vocabularies without byte tokens for a character use it).
    public let unknown: Int32?
    public let model: TokenizerModel
    /// How byte-level BPE cuts text before merging; nil for SentencePiece, which merges whole runs of text.
    public let preTokenizer: PreTokenizer?
    /// Whether encoding puts a space before each run of text (SentencePiece's dummy prefix,
    /// `tokenizer.ggml.add_space_prefix`), as llama.cpp does after the start and after every added token.
    public let addsSpacePrefix: Bool
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
    private let merger: BPEMerger?
    private let sentencePiece: SentencePieceMerger?
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

    /// A SentencePiece-style tokenizer from GGUF metadata (`tokenizer.ggml.model = llama`), encoding as
    /// llama.cpp's SPM tokenizer does.
    /// - Parameters:
    ///   - tokens: the vocabulary, "▁" standing for a space, `<0xXX>` for byte tokens.
    ///   - scores: merge priorities (`tokenizer.ggml.scores`), higher first; nil means all 0.
    ///   - tokenTypes: GGUF token types (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte) or
    ///     nil (then `<0xXX>` entries are the byte tokens and the rest normal).
    ///   - addSpacePrefix: `tokenizer.ggml.add_space_prefix` (llama.cpp's default for these files is true).
    public convenience init(sentencePieceTokens tokens: [String], scores: [Float]?, tokenTypes: [Int]?,
                            bos: Int32?, eos: Int32?, unknown: Int32?, addBOS: Bool, addEOS: Bool = false,
                            addSpacePrefix: Bool = true) throws {
        if let tokenTypes, tokenTypes.count != tokens.count {
            throw TokenizerError.invalidVocabulary("\(tokenTypes.count) token types for \(tokens.count) tokens")
        }
        if let scores, scores.count != tokens.count {
            throw TokenizerError.invalidVocabulary("\(scores.count) scores for \(tokens.count) tokens")
        }
        let kinds: [Kind] = tokens.indices.map { index in
            switch tokenTypes?[index] {
            case 2, 3: return .special
            case 4: return .added
            case 5: return .unused
            case 6: return .byte
            case nil: return SentencePieceVocabulary.byteValue(of: tokens[index]) != nil ? .byte : .normal
            default: return .normal
            }
        }
        for (index, kind) in kinds.enumerated()
        where kind == .byte && SentencePieceVocabulary.byteValue(of: tokens[index]) == nil {
            throw TokenizerError.invalidVocabulary("byte token \(index) \"\(tokens[index])\" is not of the form <0xXX>")
        }
        try self.init(tokens: tokens, kinds: kinds, backend: .sentencePiece(
                          scores: scores ?? Array(repeating: 0, count: tokens.count), unknown: unknown,
                          addSpacePrefix: addSpacePrefix),
                      bos: bos, eos: eos, addBOS: addBOS, addEOS: addEOS)
    }

    convenience init(tokens: [String], kinds: [Kind], merges: [(String, String)], preTokenizer: PreTokenizer,
         bos: Int32?, eos: Int32?, addBOS: Bool, addEOS: Bool, ignoreMerges: Bool, normalizesNFC: Bool) throws {
        let backend = Backend.byteLevel(merges: merges, preTokenizer: preTokenizer, ignoreMerges: ignoreMerges,
                                        normalizesNFC: normalizesNFC)
        try self.init(tokens: tokens, kinds: kinds, backend: backend, bos: bos, eos: eos, addBOS: addBOS, addEOS: addEOS)
    }

    enum Backend {
        case byteLevel(merges: [(String, String)], preTokenizer: PreTokenizer, ignoreMerges: Bool, normalizesNFC: Bool)
        case sentencePiece(scores: [Float], unknown: Int32?, addSpacePrefix: Bool)
    }

    private init(tokens: [String], kinds: [Kind], backend: Backend, bos: Int32?, eos: Int32?, addBOS: Bool,
                 addEOS: Bool) throws {
        guard !tokens.isEmpty else { throw TokenizerError.invalidVocabulary("the vocabulary is empty") }
        var unknown: Int32?
        if case .sentencePiece(_, let unk, _) = backend { unknown = unk }
        for (name, id) in [("BOS", bos), ("EOS", eos), ("unknown token", unknown)] {
            if let id, id < 0 || Int(id) >= tokens.count {
                throw TokenizerError.invalidVocabulary("\(name) id \(id) outside the vocabulary of \(tokens.count)")
            }
        }
        self.tokens = tokens
        self.kinds = kinds
        self.bos = bos
        self.eos = eos
        self.unknown = unknown
        self.addBOS = addBOS
        self.addEOS = addEOS
        var ignoreMerges = false
        switch backend {
        case .byteLevel(_, let preTokenizer, let ignore, let nfc):
            model = .byteLevelBPE
            self.preTokenizer = preTokenizer
            normalizesNFC = nfc
            ignoreMerges = ignore
            addsSpacePrefix = false
        case .sentencePiece(_, _, let addSpacePrefix):
            model = .sentencePiece
            preTokenizer = nil
            normalizesNFC = false
            addsSpacePrefix = addSpacePrefix
        }
        let sentencePieceMode = model == .sentencePiece

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
            let bytes = sentencePieceMode ? SentencePieceVocabulary.bytes(ofToken: token, kind: kinds[index])
                : ByteLevel.bytes(ofToken: token)
            tokenBytes.append(contentsOf: bytes)
            tokenOffsets.append(tokenBytes.count)
            switch kinds[index] {
            case .normal:
                if bytes.count == 1, byteIds[Int(bytes[0])] < 0 { byteIds[Int(bytes[0])] = id }
                if ignoreMerges, wholeTokens[bytes] == nil { wholeTokens[bytes] = id }
            case .special, .added:
                candidates.append(.init(bytes: Array(token.utf8), id: id, special: kinds[index] == .special))
            case .unused, .byte:
                break
            }
        }
        self.ids = ids
        self.tokenBytes = tokenBytes
        self.tokenOffsets = tokenOffsets
        self.addedTokens = AddedTokenMatcher(candidates)
        self.fim = FIMTokens.detect { ids[$0] }

        switch backend {
        case .sentencePiece(let scores, _, _):
            var fallback = [Int32](repeating: -1, count: 256)
            for byte in 0..<256 {
                if let id = ids[SentencePieceVocabulary.byteTokenText(UInt8(byte))] {
                    fallback[byte] = id
                } else if byte < 0x80, let id = ids[String(Unicode.Scalar(UInt8(byte)))] {
                    fallback[byte] = id
                }
            }
            sentencePiece = SentencePieceMerger(texts: tokens, mergeable: kinds.map { $0 == .normal || $0 == .added },
                                                scores: scores, byteIds: fallback, unknown: unknown)
            merger = nil
        case .byteLevel(let merges, _, _, _):
            sentencePiece = nil
            merger = try Self.byteLevelMerger(merges: merges, ids: ids, byteIds: byteIds,
                                              wholeTokens: ignoreMerges ? wholeTokens : nil)
        }
    }

    private static func byteLevelMerger(merges: [(String, String)], ids: [String: Int32], byteIds: [Int32],
                                        wholeTokens: [[UInt8]: Int32]?) throws -> BPEMerger {
        var mergeTable: [UInt64: UInt64] = [:]
        mergeTable.reserveCapacity(merges.count)
        for (rank, (left, right)) in merges.enumerated() {
            guard let l = ids[left], let r = ids[right], let merged = ids[left + right] else {
                throw TokenizerError.invalidVocabulary("merge \(rank) \"\(left) \(right)\" names a token missing from the vocabulary")
            }
            let key = UInt64(UInt32(bitPattern: l)) << 32 | UInt64(UInt32(bitPattern: r))
            if mergeTable[key] == nil { mergeTable[key] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: merged)) }
        }
        return BPEMerger(merges: mergeTable, byteIds: byteIds, wholeTokens: wholeTokens)
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

    /// The bytes of every token, by id (`bytes(of:)` for the whole vocabulary): built on first use and kept,
    /// so that the constraint, the completion's processors and every request of a service share one copy
    /// instead of reading the vocabulary again (about 1 ms for 8 K tokens).
    public var vocabularyBytes: [[UInt8]] {
        vocabularyLock.lock()
        defer { vocabularyLock.unlock() }
        if let made = madeVocabularyBytes { return made }
        let made = (0..<Int32(tokens.count)).map { bytes(of: $0) }
        madeVocabularyBytes = made
        return made
    }
    private let vocabularyLock = NSLock()
    private var madeVocabularyBytes: [[UInt8]]?

    /// Control tokens (HF added tokens marked special; GGUF types control and unknown).
    public func isSpecial(_ id: Int32) -> Bool { isValid(id) && kinds[Int(id)] == .special }

    @inline(__always)
    private func isValid(_ id: Int32) -> Bool { id >= 0 && Int(id) < tokens.count }

    // MARK: - Encoding

    /// - Parameters:
    ///   - addSpecial: add BOS/EOS as the model's template says (`addBOS`, `addEOS`).
    ///   - parseSpecial: match special-token texts in `text`; when false they are tokenized as plain text.
    ///   - spacePrefix: for SentencePiece, whether each run of text gets the leading space (nil: `addsSpacePrefix`);
    ///     false encodes text that continues other text, e.g. the code after a fill-in-the-middle hole.
    public func encode(_ text: String, addSpecial: Bool = false, parseSpecial: Bool = true,
                       spacePrefix: Bool? = nil) -> [Int32] {
        let spacePrefix = sentencePiece != nil && (spacePrefix ?? addsSpacePrefix)
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
                    encodeSegment(bytes, segmentStart..<i, spacePrefix: spacePrefix, pieces: &pieces, into: &output)
                    output.append(id)
                    i += length
                    segmentStart = i
                } else {
                    i += 1
                }
            }
            encodeSegment(bytes, segmentStart..<bytes.count, spacePrefix: spacePrefix, pieces: &pieces, into: &output)
        }
        lock.unlock()
        if addSpecial, addEOS, let eos { output.append(eos) }
        return output
    }

    /// Text between added tokens: normalize, pre-tokenize, BPE each piece (or SentencePiece the whole run).
    private func encodeSegment(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, spacePrefix: Bool,
                               pieces: inout [Range<Int>], into output: inout [Int32]) {
        guard !range.isEmpty else { return }
        if let sentencePiece {
            var escaped: [UInt8] = []
            escaped.reserveCapacity(range.count + 3)
            if spacePrefix { escaped.append(contentsOf: SentencePieceVocabulary.space) }
            for byte in bytes[range] {
                if byte == 0x20 { escaped.append(contentsOf: SentencePieceVocabulary.space) } else { escaped.append(byte) }
            }
            escaped.withUnsafeBufferPointer { sentencePiece.encode($0, into: &output) }
            return
        }
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
        guard let preTokenizer, let merger else { return }
        pieces.removeAll(keepingCapacity: true)
        preTokenizer.appendPieces(in: bytes, range: range, to: &pieces)
        for piece in pieces {
            merger.encode(UnsafeBufferPointer(rebasing: bytes[piece]), into: &output)
        }
    }

    // MARK: - Decoding

    /// The text of `ids`; byte sequences that are not valid UTF-8 become U+FFFD (like HF's decode).
    /// - Parameter stripSpacePrefix: for a tokenizer that `addsSpacePrefix`, drop one leading space — the one
    ///   encoding put there — as HF's decode and llama.cpp's detokenize do, so `decode(encode(x)) == x`. Off by
    ///   default: the text of tokens that continue a prompt (and `StreamingDecoder`) keeps it, as llama.cpp's
    ///   token pieces do.
    public func decode(_ ids: [Int32], skipSpecial: Bool = false, stripSpacePrefix: Bool = false) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids where isValid(id) && !(skipSpecial && kinds[Int(id)] == .special) {
            appendBytes(of: id, to: &bytes)
        }
        if stripSpacePrefix, addsSpacePrefix, bytes.first == 0x20 {
            return String(decoding: bytes.dropFirst(), as: UTF8.self)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    func appendBytes(of id: Int32, to bytes: inout [UInt8]) {
        guard isValid(id) else { return }
        bytes.append(contentsOf: tokenBytes[tokenOffsets[Int(id)]..<tokenOffsets[Int(id) + 1]])
    }
}
