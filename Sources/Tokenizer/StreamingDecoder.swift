/// Decodes a token stream incrementally. It never emits part of a character: bytes that could still
/// become a valid UTF-8 sequence are held back until the next token completes them (or `finish()`).
/// The concatenation of everything it returns equals `tokenizer.decode(allIds)`.
public struct StreamingDecoder {
    private let tokenizer: BPETokenizer
    private let skipSpecial: Bool
    private var pending: [UInt8] = []

    public init(tokenizer: BPETokenizer, skipSpecial: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecial = skipSpecial
    }

    /// The text that `id` completes ("" while a character is still incomplete).
    public mutating func append(_ id: Int32) -> String {
        if skipSpecial && tokenizer.isSpecial(id) { return "" }
        tokenizer.appendBytes(of: id, to: &pending)
        let cut = Self.completePrefixLength(pending)
        guard cut > 0 else { return "" }
        let text = String(decoding: pending[..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }

    /// Whatever is held back, with an incomplete final sequence as U+FFFD.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Length of the longest prefix that does not end inside a UTF-8 sequence that the next bytes could
    /// still complete. Invalid bytes are not held back: they decode to U+FFFD the same way either way.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let count = bytes.count
        // The last lead byte is at most 3 bytes from the end if a sequence is incomplete.
        var start = count - 1
        while start >= 0, start > count - 4, bytes[start] & 0xC0 == 0x80 { start -= 1 }
        guard start >= 0 else { return count }
        let lead = bytes[start]
        let needed: Int
        switch lead {
        case 0xC2...0xDF: needed = 2
        case 0xE0...0xEF: needed = 3
        case 0xF0...0xF4: needed = 4
        default: return count  // ASCII or a byte that can never start a sequence
        }
        let have = count - start
        guard have < needed else { return count }
        // The second byte's allowed range depends on the lead (no overlongs, surrogates, > U+10FFFF).
        if have >= 2 {
            let second = bytes[start + 1]
            let allowed: ClosedRange<UInt8>
            switch lead {
            case 0xE0: allowed = 0xA0...0xBF
            case 0xED: allowed = 0x80...0x9F
            case 0xF0: allowed = 0x90...0xBF
            case 0xF4: allowed = 0x80...0x8F
            default: allowed = 0x80...0xBF
            }
            guard allowed.contains(second) else { return count }
        }
        return start
    }
}
