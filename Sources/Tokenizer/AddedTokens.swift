/// Finds added (special and user-defined) tokens in text before pre-tokenization: at each position the
/// longest token that matches wins, leftmost first — HF's leftmost-longest added-token split.
struct AddedTokenMatcher: Sendable {
    struct Candidate: Sendable {
        let bytes: [UInt8]
        let id: Int32
        /// Special tokens are matched only when the caller parses specials; user-defined ones always.
        let special: Bool
    }

    /// Candidates by first byte, longest first.
    private var byFirstByte: [[Candidate]] = Array(repeating: [], count: 256)

    init(_ candidates: [Candidate]) {
        for candidate in candidates where !candidate.bytes.isEmpty {
            byFirstByte[Int(candidate.bytes[0])].append(candidate)
        }
        for byte in 0..<256 { byFirstByte[byte].sort { $0.bytes.count > $1.bytes.count } }
    }

    var isEmpty: Bool { byFirstByte.allSatisfy(\.isEmpty) }

    /// The token starting at `i`, if any.
    @inline(__always)
    func match(_ text: UnsafeBufferPointer<UInt8>, at i: Int, parseSpecial: Bool) -> (id: Int32, length: Int)? {
        let candidates = byFirstByte[Int(text[i])]
        if candidates.isEmpty { return nil }
        for candidate in candidates where parseSpecial || !candidate.special {
            let length = candidate.bytes.count
            guard i + length <= text.count else { continue }
            var equal = true
            for k in 1..<length where text[i + k] != candidate.bytes[k] {
                equal = false
                break
            }
            if equal { return (candidate.id, length) }
        }
        return nil
    }
}
