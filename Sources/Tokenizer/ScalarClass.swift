/// Character classes the pre-tokenizer regexes test, as one bit set per Unicode scalar.
///
/// `letter`, `number`, `punctuation`, `mark`, `symbol` are the general categories \p{L}, \p{N}, \p{P}, \p{M},
/// \p{S}; `upper` and `lower` split the letters into Lu/Lt and Ll (Lm and Lo are neither); `whitespace` is
/// Oniguruma's Unicode \s, which is exactly the White_Space property (checked against HF `tokenizers`).
/// `deepseekLetter`, `deepseekPunctuation`, `cjk` and `cjkKana` are the literal character classes of the
/// DeepSeek regexes.
struct ScalarClass: OptionSet, Sendable {
    let rawValue: UInt16

    static let letter = ScalarClass(rawValue: 1 << 0)
    static let number = ScalarClass(rawValue: 1 << 1)
    static let punctuation = ScalarClass(rawValue: 1 << 2)
    static let whitespace = ScalarClass(rawValue: 1 << 3)
    /// `[\r\n]`
    static let newline = ScalarClass(rawValue: 1 << 4)
    /// DeepSeek LLM's Latin/Greek/Cyrillic/… letter class `[A-Za-zµÀ-Ö…𞤀-𞥃]`.
    static let deepseekLetter = ScalarClass(rawValue: 1 << 5)
    /// DeepSeek LLM's punctuation class `[!-/:-~！-／：-～‘-‟　-。]`.
    static let deepseekPunctuation = ScalarClass(rawValue: 1 << 6)
    /// DeepSeek's CJK class `[一-龥ࠀ-一가-퟿]` (U+4E00–U+9FA5, U+0800–U+4E00, U+AC00–U+D7FF).
    static let cjk = ScalarClass(rawValue: 1 << 7)
    /// Lu and Lt.
    static let upper = ScalarClass(rawValue: 1 << 8)
    /// Ll.
    static let lower = ScalarClass(rawValue: 1 << 9)
    /// Mn, Mc, Me.
    static let mark = ScalarClass(rawValue: 1 << 10)
    /// Sm, Sc, Sk, So.
    static let symbol = ScalarClass(rawValue: 1 << 11)
    /// DeepSeek-V3's CJK class `[一-龥぀-ゟ゠-ヿ]` (U+4E00–U+9FA5, U+3040–U+30FF).
    static let cjkKana = ScalarClass(rawValue: 1 << 12)

    /// Neither \s, \p{L} nor \p{N}: the `[^\s\p{L}\p{N}]` of the GPT-2 style regexes.
    var isOther: Bool { isDisjoint(with: [.whitespace, .letter, .number]) }

    /// o200k's `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`: a letter that is not lower-case, or a mark.
    var isUpperOrModifier: Bool { (contains(.letter) && !contains(.lower)) || contains(.mark) }

    /// o200k's `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`: a letter that is not upper/title-case, or a mark.
    var isLowerOrModifier: Bool { (contains(.letter) && !contains(.upper)) || contains(.mark) }

    @inline(__always)
    static func of(_ value: UInt32) -> ScalarClass {
        value < 0x80 ? ScalarClass(rawValue: asciiTable[Int(value)]) : classify(value)
    }

    /// Classes of the ASCII scalars, allocated once and never freed, so the hot loop reads a plain pointer
    /// instead of going through a lazily initialized global on every character.
    nonisolated(unsafe) static let asciiTable: UnsafePointer<UInt16> = {
        let table = UnsafeMutablePointer<UInt16>.allocate(capacity: 128)
        for value in 0..<128 { table[value] = classify(UInt32(value)).rawValue }
        return UnsafePointer(table)
    }()

    static func classify(_ value: UInt32) -> ScalarClass {
        guard let scalar = Unicode.Scalar(value) else { return [] }
        var result: ScalarClass = []
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .titlecaseLetter:
            result.formUnion([.letter, .upper])
        case .lowercaseLetter:
            result.formUnion([.letter, .lower])
        case .modifierLetter, .otherLetter:
            result.insert(.letter)
        case .nonspacingMark, .spacingMark, .enclosingMark:
            result.insert(.mark)
        case .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            result.insert(.symbol)
        case .decimalNumber, .letterNumber, .otherNumber:
            result.insert(.number)
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            result.insert(.punctuation)
        default:
            break
        }
        if scalar.properties.isWhitespace { result.insert(.whitespace) }
        if value == 0x0D || value == 0x0A { result.insert(.newline) }
        if inRanges(value, deepseekLetterRanges) { result.insert(.deepseekLetter) }
        if inRanges(value, deepseekPunctuationRanges) { result.insert(.deepseekPunctuation) }
        if (0x4E00...0x9FA5).contains(value) || (0x0800...0x4E00).contains(value) || (0xAC00...0xD7FF).contains(value) {
            result.insert(.cjk)
        }
        if (0x4E00...0x9FA5).contains(value) || (0x3040...0x30FF).contains(value) { result.insert(.cjkKana) }
        return result
    }

    private static func inRanges(_ value: UInt32, _ ranges: [ClosedRange<UInt32>]) -> Bool {
        var low = 0, high = ranges.count
        while low < high {
            let mid = (low + high) / 2
            if ranges[mid].upperBound < value { low = mid + 1 } else { high = mid }
        }
        return low < ranges.count && ranges[low].contains(value)
    }

    /// Sorted; from the DeepSeek LLM tokenizer.json regex as listed in llama.cpp.
    private static let deepseekLetterRanges: [ClosedRange<UInt32>] = [
        0x41...0x5A, 0x61...0x7A, 0xB5...0xB5, 0xC0...0xD6, 0xD8...0xF6, 0xF8...0x1BA, 0x1BC...0x1BF,
        0x1C4...0x293, 0x295...0x2AF, 0x370...0x373, 0x376...0x377, 0x37B...0x37D, 0x37F...0x37F,
        0x386...0x386, 0x388...0x38A, 0x38C...0x38C, 0x38E...0x3A1, 0x3A3...0x3F5, 0x3F7...0x481,
        0x48A...0x52F, 0x531...0x556, 0x10A0...0x10C5, 0x13A0...0x13F5, 0x13F8...0x13FD, 0x1C90...0x1CBA,
        0x1CBD...0x1CBF, 0x1D00...0x1D2B, 0x1D6B...0x1D77, 0x1D79...0x1D9A, 0x1E00...0x1F15, 0x1F18...0x1F1D,
        0x1F20...0x1F45, 0x1F48...0x1F4D, 0x1F50...0x1F57, 0x1F59...0x1F59, 0x1F5B...0x1F5B, 0x1F5D...0x1F5D,
        0x1F5F...0x1F7D, 0x1F80...0x1FB4, 0x1FB6...0x1FBC, 0x1FBE...0x1FBE, 0x1FC2...0x1FC4, 0x1FC6...0x1FCC,
        0x1FD0...0x1FD3, 0x1FD6...0x1FDB, 0x1FE0...0x1FEC, 0x1FF2...0x1FF4, 0x1FF6...0x1FFC, 0x2102...0x2102,
        0x2107...0x2107, 0x210A...0x2113, 0x2115...0x2115, 0x2119...0x211D, 0x2124...0x2124, 0x2126...0x2126,
        0x2128...0x2128, 0x212A...0x212D, 0x212F...0x2134, 0x2139...0x2139, 0x213C...0x213F, 0x2145...0x2149,
        0x214E...0x214E, 0x2183...0x2184, 0x2C00...0x2C7B, 0x2C7E...0x2CE4, 0x2CEB...0x2CEE, 0x2CF2...0x2CF3,
        0xA640...0xA66D, 0xA680...0xA69B, 0xA722...0xA76F, 0xA771...0xA787, 0xA78B...0xA78E, 0xAB70...0xABBF,
        0xFB00...0xFB06, 0xFB13...0xFB17, 0xFF21...0xFF3A, 0xFF41...0xFF5A, 0x10400...0x1044F, 0x104B0...0x104D3,
        0x104D8...0x104FB, 0x10C80...0x10CB2, 0x10CC0...0x10CF2, 0x118A0...0x118DF, 0x1E900...0x1E943,
    ]

    private static let deepseekPunctuationRanges: [ClosedRange<UInt32>] = [
        0x21...0x2F, 0x3A...0x7E, 0x2018...0x201F, 0x3000...0x3002, 0xFF01...0xFF0F, 0xFF1A...0xFF5E,
    ]
}

/// Reads Unicode scalars out of valid UTF-8 (a Swift String's storage, so never malformed).
struct UTF8Scan {
    let bytes: UnsafeBufferPointer<UInt8>
    private let ascii = ScalarClass.asciiTable

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// The scalar starting at byte `i` and its length in bytes.
    @inline(__always)
    func scalar(at i: Int) -> (value: UInt32, length: Int) {
        let b0 = UInt32(bytes[i])
        if b0 < 0x80 { return (b0, 1) }
        if b0 < 0xE0 { return ((b0 & 0x1F) << 6 | UInt32(bytes[i + 1] & 0x3F), 2) }
        if b0 < 0xF0 {
            return ((b0 & 0x0F) << 12 | UInt32(bytes[i + 1] & 0x3F) << 6 | UInt32(bytes[i + 2] & 0x3F), 3)
        }
        return ((b0 & 0x07) << 18 | UInt32(bytes[i + 1] & 0x3F) << 12 | UInt32(bytes[i + 2] & 0x3F) << 6
            | UInt32(bytes[i + 3] & 0x3F), 4)
    }

    @inline(__always)
    func classAt(_ i: Int) -> (ScalarClass, length: Int) {
        let byte = bytes[i]
        if byte < 0x80 { return (ScalarClass(rawValue: ascii[Int(byte)]), 1) }
        let (value, length) = scalar(at: i)
        return (ScalarClass.classify(value), length)
    }

    /// End of the run of scalars in `wanted` starting at `i` (`i` itself if none).
    @inline(__always)
    func runEnd(from i: Int, to end: Int, where wanted: (ScalarClass) -> Bool) -> Int {
        var j = i
        while j < end {
            let (cls, length) = classAt(j)
            if !wanted(cls) { break }
            j += length
        }
        return j
    }
}
