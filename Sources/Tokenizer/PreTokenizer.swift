/// The pre-tokenizer families: how text is cut into pieces before byte-level BPE runs on each piece.
///
/// Each family reproduces its regexes (as listed in llama.cpp's llama-vocab.cpp and the published
/// tokenizer.json files) by hand; the regexes are quoted on the rules below.
public enum PreTokenizer: String, Sendable, CaseIterable {
    case gpt2
    case llama3
    case deepseekLLM = "deepseek-llm"
    case deepseekCoder = "deepseek-coder"
    case qwen2
    case starcoder
    /// o200k (gpt-oss, GPT-4o, Llama 4).
    case gpt4o = "gpt-4o"
    /// DeepSeek-V3 / R1 (and the Kimi-less DeepSeek-V3-style vocabularies).
    case deepseekV3 = "deepseek-v3"
    /// GLM-4.5 / 4.7 (-Flash): Llama 3's regex, merges ignored for whole-token pre-tokens.
    case glm4
    /// ChatGLM-4: Llama 3's regex with ordinary merging.
    case chatglm4 = "chatglm-bpe"
    /// Qwen3.5: Qwen2's regex with combining marks kept with letters.
    case qwen35

    /// From GGUF's `tokenizer.ggml.pre`, with the aliases llama.cpp maps to the same regexes.
    /// nil if unknown.
    public init?(ggufName: String) {
        guard let family = Self.ggufNames.first(where: { $0.names.contains(ggufName) })?.family else { return nil }
        self = family
    }

    /// Every `tokenizer.ggml.pre` value understood, by family (llama.cpp's names for the same regexes).
    public static let ggufNames: [(family: PreTokenizer, names: [String])] = [
        (.gpt2, ["default", "gpt-2", "gpt2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de",
                 "a.x-4.0", "mellum", "modern-bert", "mpt", "olmo", "jais", "trillion", "granite-docling", "exaone4",
                 "jina-v1-en", "jina-v2-code", "roberta-bpe"]),
        (.llama3, ["llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2",
                   "jina-v5-nano", "dbrx", "smaug-bpe"]),
        (.deepseekLLM, ["deepseek-llm"]),
        (.deepseekCoder, ["deepseek-coder"]),
        (.qwen2, ["qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2", "hunyuan", "solar-open"]),
        (.starcoder, ["starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b", "mellum2"]),
        (.gpt4o, ["gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"]),
        (.deepseekV3, ["deepseek-v3", "hunyuan-dense", "joyai-llm", "hy_v4"]),
        (.glm4, ["glm4", "glm5"]),
        (.chatglm4, ["chatglm-bpe"]),
        (.qwen35, ["qwen35"]),
    ]

    /// Whether llama.cpp looks a whole pre-token up in the vocabulary before merging (`ignore_merges`).
    public var ignoresMerges: Bool { self == .llama3 || self == .glm4 }

    /// Splits text into pre-tokens exactly as the family's regexes do.
    public func split(_ text: String) -> [Substring] {
        var text = text
        let ranges = text.withUTF8 { pieces(in: $0, range: 0..<$0.count) }
        let utf8 = text.utf8
        return ranges.map { range in
            let lower = utf8.index(utf8.startIndex, offsetBy: range.lowerBound)
            let upper = utf8.index(lower, offsetBy: range.count)
            return text[lower..<upper]
        }
    }

    /// The pieces of `bytes[range]` (valid UTF-8), as byte ranges, in order and covering `range`.
    func pieces(in bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>) -> [Range<Int>] {
        var pieces: [Range<Int>] = []
        appendPieces(in: bytes, range: range, to: &pieces)
        return pieces
    }

    func appendPieces(in bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>, to output: inout [Range<Int>]) {
        guard !range.isEmpty else { return }
        let rules = self.rules
        let scan = UTF8Scan(bytes: bytes)
        if rules.count == 1 {
            rules[0].split(scan, range, into: &output)
            return
        }
        var current = [range]
        var next: [Range<Int>] = []
        for (index, rule) in rules.enumerated() {
            let isLast = index == rules.count - 1
            for piece in current {
                if isLast { rule.split(scan, piece, into: &output) } else { rule.split(scan, piece, into: &next) }
            }
            swap(&current, &next)
            next.removeAll(keepingCapacity: true)
        }
    }

    /// The family's HF pre-tokenizer sequence: each rule is a `Split(..., behavior: Isolated)` applied
    /// to every piece the previous rule produced.
    var rules: [SplitRule] {
        switch self {
        case .gpt2: return [.gpt2]
        case .llama3, .glm4, .chatglm4: return [.llama3(maxDigits: 3)]
        case .qwen2: return [.llama3(maxDigits: 1)]
        case .qwen35: return [.qwen35]
        case .gpt4o: return [.o200k]
        case .deepseekV3: return [.numberChunks(3), .run(.cjkKana), .deepseekV3]
        case .starcoder: return [.each(.number), .gpt2]
        case .deepseekCoder:
            return [.each(.newline), .optionalSpaceRun(.letter), .optionalSpaceRun(.punctuation), .run(.cjk), .each(.number)]
        case .deepseekLLM:
            return [.each(.newline), .optionalSpaceRun(.deepseekLetter), .optionalSpaceRun(.deepseekPunctuation),
                    .trailingWhitespace, .run(.cjk), .run(.number)]
        }
    }
}

/// One regex of a pre-tokenizer, matched by hand. Matches are isolated: the text between two matches
/// becomes a piece of its own too.
enum SplitRule: Sendable {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case llama3(maxDigits: Int)
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case qwen35
    /// o200k: `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?`
    /// `|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?`
    /// `|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case o200k
    /// DeepSeek-V3's third regex: `[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+`
    /// `| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case deepseekV3
    /// `\p{N}{1,n}`
    case numberChunks(Int)
    /// One scalar of the class, e.g. `[\r\n]` or `\p{N}` (Digits(individual_digits: true)).
    case each(ScalarClass)
    /// A run of the class, e.g. `[一-龥ࠀ-一가-퟿]+` or `\p{N}+`.
    case run(ScalarClass)
    /// `\s?X+` for the class X.
    case optionalSpaceRun(ScalarClass)
    /// `\s+$`
    case trailingWhitespace

    func split(_ scan: UTF8Scan, _ piece: Range<Int>, into output: inout [Range<Int>]) {
        let end = piece.upperBound
        if case .trailingWhitespace = self {
            // The only match is the maximal whitespace suffix of the piece.
            var start = end
            var i = piece.lowerBound
            while i < end {
                let (cls, length) = scan.classAt(i)
                if !cls.contains(.whitespace) { start = end } else if start == end { start = i }
                i += length
            }
            if start > piece.lowerBound { output.append(piece.lowerBound..<start) }
            if start < end { output.append(start..<end) }
            return
        }
        var gapStart = piece.lowerBound
        var i = piece.lowerBound
        while i < end {
            if let matchEnd = match(scan, at: i, end: end) {
                if gapStart < i { output.append(gapStart..<i) }
                output.append(i..<matchEnd)
                i = matchEnd
                gapStart = matchEnd
            } else {
                i += scan.scalar(at: i).length
            }
        }
        if gapStart < end { output.append(gapStart..<end) }
    }

    /// End of the match starting at `i`, or nil.
    @inline(__always)
    private func match(_ scan: UTF8Scan, at i: Int, end: Int) -> Int? {
        switch self {
        case .gpt2: return gpt2Match(scan, at: i, end: end)
        case .llama3(let maxDigits): return llama3Match(scan, at: i, end: end, maxDigits: maxDigits, marks: false)
        case .qwen35: return llama3Match(scan, at: i, end: end, maxDigits: 1, marks: true)
        case .o200k: return o200kMatch(scan, at: i, end: end)
        case .deepseekV3: return deepseekV3Match(scan, at: i, end: end)
        case .numberChunks(let maxDigits):
            let (c, length) = scan.classAt(i)
            return c.contains(.number) ? numberChunk(scan, at: i + length, end: end, maxDigits: maxDigits) : nil
        case .each(let cls):
            let (c, length) = scan.classAt(i)
            return c.isDisjoint(with: cls) ? nil : i + length
        case .run(let cls):
            let runEnd = scan.runEnd(from: i, to: end) { !$0.isDisjoint(with: cls) }
            return runEnd > i ? runEnd : nil
        case .optionalSpaceRun(let cls):
            let (c0, l0) = scan.classAt(i)
            if c0.contains(.whitespace), i + l0 < end {
                let runEnd = scan.runEnd(from: i + l0, to: end) { !$0.isDisjoint(with: cls) }
                if runEnd > i + l0 { return runEnd }
            }
            let runEnd = scan.runEnd(from: i, to: end) { !$0.isDisjoint(with: cls) }
            return runEnd > i ? runEnd : nil
        case .trailingWhitespace:
            return nil
        }
    }
}

// MARK: - The GPT-2 and Llama 3 regexes

private let apostrophe: UInt8 = 0x27
private let space: UInt8 = 0x20

/// Length of the contraction at `i` (which holds an apostrophe): 's 't 're 've 'm 'll 'd.
/// Case-insensitive matching follows Oniguruma's case folding, where `ſ` (U+017F) folds to `s`.
@inline(__always)
private func contractionLength(_ scan: UTF8Scan, at i: Int, end: Int, caseInsensitive: Bool) -> Int? {
    guard i + 1 < end else { return nil }
    let bytes = scan.bytes
    func lower(_ b: UInt8) -> UInt8 { caseInsensitive && b >= 0x41 && b <= 0x5A ? b | 0x20 : b }
    let c1 = lower(bytes[i + 1])
    switch c1 {
    case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"):
        return 2
    case UInt8(ascii: "r"), UInt8(ascii: "v"), UInt8(ascii: "l"):
        guard i + 2 < end else { return nil }
        let c2 = lower(bytes[i + 2])
        let wanted: UInt8 = c1 == UInt8(ascii: "l") ? UInt8(ascii: "l") : UInt8(ascii: "e")
        return c2 == wanted ? 3 : nil
    case 0xC5 where caseInsensitive:
        return i + 2 < end && bytes[i + 2] == 0xBF ? 3 : nil  // 'ſ
    default:
        return nil
    }
}

/// `\s+(?!\S)|\s+` at a whitespace scalar `i`: the whole run if it reaches the end of the piece,
/// else the run less its last scalar (the one before the non-space), else that one scalar.
@inline(__always)
private func whitespaceMatch(_ scan: UTF8Scan, at i: Int, end: Int) -> Int {
    var j = i
    var lastLength = 0
    while j < end {
        let (cls, length) = scan.classAt(j)
        if !cls.contains(.whitespace) { break }
        lastLength = length
        j += length
    }
    if j == end { return j }
    return j - lastLength > i ? j - lastLength : j
}

@inline(__always)
private func gpt2Match(_ scan: UTF8Scan, at i: Int, end: Int) -> Int {
    let b0 = scan.bytes[i]
    if b0 == apostrophe, let length = contractionLength(scan, at: i, end: end, caseInsensitive: false) {
        return i + length
    }
    // ` ?\p{L}+ | ?\p{N}+ | ?[^\s\p{L}\p{N}]+`
    let start = (b0 == space && i + 1 < end) ? i + 1 : i
    let (c, _) = scan.classAt(start)
    if c.contains(.letter) { return scan.runEnd(from: start, to: end) { $0.contains(.letter) } }
    if c.contains(.number) { return scan.runEnd(from: start, to: end) { $0.contains(.number) } }
    if c.isOther { return scan.runEnd(from: start, to: end) { $0.isOther } }
    return whitespaceMatch(scan, at: i, end: end)
}

/// The end of `\p{N}{1,maxDigits}` whose first digit ends at `j`.
@inline(__always)
private func numberChunk(_ scan: UTF8Scan, at j: Int, end: Int, maxDigits: Int) -> Int {
    var j = j
    var count = 1
    while count < maxDigits, j < end {
        let (c, length) = scan.classAt(j)
        if !c.contains(.number) { break }
        j += length
        count += 1
    }
    return j
}

/// Llama 3 / Qwen2 (`marks: false`) and Qwen3.5 (`marks: true`: `[\p{L}\p{M}]+` words, marks not "other").
@inline(__always)
private func llama3Match(_ scan: UTF8Scan, at i: Int, end: Int, maxDigits: Int, marks: Bool) -> Int {
    let b0 = scan.bytes[i]
    if b0 == apostrophe, let length = contractionLength(scan, at: i, end: end, caseInsensitive: true) {
        return i + length
    }
    let letters: ScalarClass = marks ? [.letter, .mark] : .letter
    let (c0, l0) = scan.classAt(i)
    // `[^\r\n\p{L}\p{N}]?\p{L}+`
    if !c0.isDisjoint(with: letters) { return scan.runEnd(from: i, to: end) { !$0.isDisjoint(with: letters) } }
    if c0.isDisjoint(with: [.newline, .number]), i + l0 < end, !scan.classAt(i + l0).0.isDisjoint(with: letters) {
        return scan.runEnd(from: i + l0, to: end) { !$0.isDisjoint(with: letters) }
    }
    // `\p{N}{1,maxDigits}`
    if c0.contains(.number) { return numberChunk(scan, at: i + l0, end: end, maxDigits: maxDigits) }
    // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
    let other: ScalarClass = marks ? [.whitespace, .letter, .number, .mark] : [.whitespace, .letter, .number]
    let start = (b0 == space && i + 1 < end) ? i + 1 : i
    if scan.classAt(start).0.isDisjoint(with: other) {
        var j = scan.runEnd(from: start, to: end) { $0.isDisjoint(with: other) }
        while j < end, scan.bytes[j] == 0x0D || scan.bytes[j] == 0x0A { j += 1 }
        return j
    }
    return newlineOrWhitespaceMatch(scan, at: i, end: end)
}

/// `\s*[\r\n]+|\s+(?!\S)|\s+` at a whitespace scalar `i`.
@inline(__always)
private func newlineOrWhitespaceMatch(_ scan: UTF8Scan, at i: Int, end: Int) -> Int {
    // `\s*[\r\n]+`: through the last newline of the whitespace run, if it has one.
    var j = i
    var afterLastNewline = -1
    while j < end {
        let (cls, length) = scan.classAt(j)
        if !cls.contains(.whitespace) { break }
        j += length
        if cls.contains(.newline) { afterLastNewline = j }
    }
    if afterLastNewline > 0 { return afterLastNewline }
    return whitespaceMatch(scan, at: i, end: end)
}

// MARK: - o200k (gpt-4o)

@inline(__always)
private func o200kMatch(_ scan: UTF8Scan, at i: Int, end: Int) -> Int {
    let (c0, l0) = scan.classAt(i)
    // The two word alternatives, each first with the optional `[^\r\n\p{L}\p{N}]` before it, then without.
    let prefixable = c0.isDisjoint(with: [.newline, .letter, .number]) && i + l0 < end
    if prefixable, let e = o200kWordLowerEnd(scan, from: i + l0, end: end) { return withContraction(scan, e, end) }
    if let e = o200kWordLowerEnd(scan, from: i, end: end) { return withContraction(scan, e, end) }
    if prefixable, let e = o200kWordUpperEnd(scan, from: i + l0, end: end) { return withContraction(scan, e, end) }
    if let e = o200kWordUpperEnd(scan, from: i, end: end) { return withContraction(scan, e, end) }
    // `\p{N}{1,3}`
    if c0.contains(.number) { return numberChunk(scan, at: i + l0, end: end, maxDigits: 3) }
    // ` ?[^\s\p{L}\p{N}]+[\r\n/]*`
    let start = (scan.bytes[i] == space && i + 1 < end) ? i + 1 : i
    if scan.classAt(start).0.isOther {
        var j = scan.runEnd(from: start, to: end) { $0.isOther }
        while j < end, scan.bytes[j] == 0x0D || scan.bytes[j] == 0x0A || scan.bytes[j] == 0x2F { j += 1 }
        return j
    }
    return newlineOrWhitespaceMatch(scan, at: i, end: end)
}

/// `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+` from `s`, with the regex's backtracking:
/// the greedy first run gives back scalars until the second run can take at least one.
@inline(__always)
private func o200kWordLowerEnd(_ scan: UTF8Scan, from s: Int, end: Int) -> Int? {
    let upperEnd = scan.runEnd(from: s, to: end) { $0.isUpperOrModifier }
    let lowerEnd = scan.runEnd(from: upperEnd, to: end) { $0.isLowerOrModifier }
    if lowerEnd > upperEnd { return lowerEnd }
    // Backtrack: the match ends after the last scalar of [s, upperEnd) that the second class takes.
    var j = s
    var afterLast: Int?
    while j < upperEnd {
        let (c, length) = scan.classAt(j)
        j += length
        if c.isLowerOrModifier { afterLast = j }
    }
    return afterLast
}

/// `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*` from `s`.
@inline(__always)
private func o200kWordUpperEnd(_ scan: UTF8Scan, from s: Int, end: Int) -> Int? {
    let upperEnd = scan.runEnd(from: s, to: end) { $0.isUpperOrModifier }
    guard upperEnd > s else { return nil }
    return scan.runEnd(from: upperEnd, to: end) { $0.isLowerOrModifier }
}

/// `e` extended by an optional `(?i:'s|'t|'re|'ve|'m|'ll|'d)`.
@inline(__always)
private func withContraction(_ scan: UTF8Scan, _ e: Int, _ end: Int) -> Int {
    guard e < end, scan.bytes[e] == apostrophe,
          let length = contractionLength(scan, at: e, end: end, caseInsensitive: true) else { return e }
    return e + length
}

// MARK: - DeepSeek-V3

@inline(__always)
private func isASCIIPunctuation(_ b: UInt8) -> Bool {
    (0x21...0x2F).contains(b) || (0x3A...0x40).contains(b) || (0x5B...0x60).contains(b) || (0x7B...0x7E).contains(b)
}

@inline(__always)
private func isASCIILetter(_ b: UInt8) -> Bool { (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b) }

@inline(__always)
private func deepseekV3Match(_ scan: UTF8Scan, at i: Int, end: Int) -> Int? {
    let bytes = scan.bytes
    // `[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+`
    if isASCIIPunctuation(bytes[i]), i + 1 < end, isASCIILetter(bytes[i + 1]) {
        var j = i + 2
        while j < end, isASCIILetter(bytes[j]) { j += 1 }
        return j
    }
    let (c0, l0) = scan.classAt(i)
    // `[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+`
    let word: ScalarClass = [.letter, .mark]
    if c0.isDisjoint(with: [.newline, .letter, .punctuation, .symbol]), i + l0 < end,
       !scan.classAt(i + l0).0.isDisjoint(with: word) {
        return scan.runEnd(from: i + l0, to: end) { !$0.isDisjoint(with: word) }
    }
    if !c0.isDisjoint(with: word) { return scan.runEnd(from: i, to: end) { !$0.isDisjoint(with: word) } }
    // ` ?[\p{P}\p{S}]+[\r\n]*`
    let punctuation: ScalarClass = [.punctuation, .symbol]
    let start = (bytes[i] == space && i + 1 < end) ? i + 1 : i
    if !scan.classAt(start).0.isDisjoint(with: punctuation) {
        var j = scan.runEnd(from: start, to: end) { !$0.isDisjoint(with: punctuation) }
        while j < end, bytes[j] == 0x0D || bytes[j] == 0x0A { j += 1 }
        return j
    }
    guard c0.contains(.whitespace) else { return nil }
    return newlineOrWhitespaceMatch(scan, at: i, end: end)
}
