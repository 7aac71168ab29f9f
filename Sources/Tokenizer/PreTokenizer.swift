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

    /// From GGUF's `tokenizer.ggml.pre`, with the aliases llama.cpp maps to the same regexes.
    /// nil if unknown. ("deepseek-v3" uses a different regex set and is not one of these families.)
    public init?(ggufName: String) {
        switch ggufName {
        case "default", "gpt-2", "gpt2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de",
             "a.x-4.0", "mellum", "modern-bert", "mpt", "olmo", "jais", "trillion", "granite-docling",
             "exaone4", "jina-v1-en", "jina-v2-code", "roberta-bpe":
            self = .gpt2
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2",
             "jina-v5-nano", "dbrx", "smaug-bpe":
            self = .llama3
        case "deepseek-llm":
            self = .deepseekLLM
        case "deepseek-coder":
            self = .deepseekCoder
        case "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2", "hunyuan", "solar-open":
            self = .qwen2
        case "starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b", "mellum2":
            self = .starcoder
        default:
            return nil
        }
    }

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
        case .llama3: return [.llama3(maxDigits: 3)]
        case .qwen2: return [.llama3(maxDigits: 1)]
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
        case .llama3(let maxDigits): return llama3Match(scan, at: i, end: end, maxDigits: maxDigits)
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

@inline(__always)
private func llama3Match(_ scan: UTF8Scan, at i: Int, end: Int, maxDigits: Int) -> Int {
    let b0 = scan.bytes[i]
    if b0 == apostrophe, let length = contractionLength(scan, at: i, end: end, caseInsensitive: true) {
        return i + length
    }
    let (c0, l0) = scan.classAt(i)
    // `[^\r\n\p{L}\p{N}]?\p{L}+`
    if c0.contains(.letter) { return scan.runEnd(from: i, to: end) { $0.contains(.letter) } }
    if c0.isDisjoint(with: [.newline, .number]), i + l0 < end, scan.classAt(i + l0).0.contains(.letter) {
        return scan.runEnd(from: i + l0, to: end) { $0.contains(.letter) }
    }
    // `\p{N}{1,maxDigits}`
    if c0.contains(.number) {
        var j = i + l0
        var count = 1
        while count < maxDigits, j < end {
            let (c, length) = scan.classAt(j)
            if !c.contains(.number) { break }
            j += length
            count += 1
        }
        return j
    }
    // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
    let start = (b0 == space && i + 1 < end) ? i + 1 : i
    if scan.classAt(start).0.isOther {
        var j = scan.runEnd(from: start, to: end) { $0.isOther }
        while j < end, scan.bytes[j] == 0x0D || scan.bytes[j] == 0x0A { j += 1 }
        return j
    }
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
