/// GPT-2's byte-to-unicode table: every byte gets a printable character, so a byte-level vocabulary
/// can be stored as text. Printable Latin-1 bytes map to themselves; the other 68 bytes map, in order,
/// to U+0100, U+0101, … (space → "Ġ", newline → "Ċ").
enum ByteLevel {
    static let characterOfByte: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\0", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte) {
                table[byte] = Unicode.Scalar(UInt32(byte))!
            } else {
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    static let byteOfCharacter: [UInt32: UInt8] = {
        var map: [UInt32: UInt8] = [:]
        for (byte, scalar) in characterOfByte.enumerated() { map[scalar.value] = UInt8(byte) }
        return map
    }()

    /// The bytes a vocabulary token stands for. Like HF's ByteLevel decoder, a token with a character
    /// outside the table (e.g. "<｜fim▁begin｜>") stands for its own UTF-8.
    static func bytes(ofToken token: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(token.utf8.count)
        for scalar in token.unicodeScalars {
            guard let byte = byteOfCharacter[scalar.value] else { return Array(token.utf8) }
            bytes.append(byte)
        }
        return bytes
    }

    /// The byte-level text of raw bytes (the inverse of `bytes(ofToken:)` for ordinary tokens).
    static func token(ofBytes bytes: some Sequence<UInt8>) -> String {
        var text = String.UnicodeScalarView()
        for byte in bytes { text.append(characterOfByte[Int(byte)]) }
        return String(text)
    }
}
