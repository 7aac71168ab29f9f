/// The escapes of the Python string literal that the accepted text ends in, as CPython's tokenizer reads them:
/// in a string that is not raw, `\x` takes exactly two hex digits, `\u` four and `\U` eight, and `\N` a `{name}`
/// (bytes literals know only `\x`). A truncated one ("truncated \xXX escape", "malformed \N character escape") is
/// a compile error, which tree-sitter-python's grammar does not see: it takes a backslash and any byte. The
/// constraint refuses the tokens that would write one, and `complete` closes a string it cut before a broken one.
/// (Other unknown escapes, such as `\q`, are only a warning.)
struct PythonEscapes {
    enum Step: Equatable {
        case none, backslash
        /// Hex digits still needed.
        case hex(Int)
        /// After `\N`: `{` needed; then a name's first byte; then the rest of it until `}`.
        case namedOpen, namedFirst, named
    }

    /// Inside a string whose escapes count (not a raw one).
    private(set) var active = false
    private var isBytes = false
    /// The first byte of the string's closing delimiter.
    private var quote: UInt8 = 0
    private(set) var step = Step.none

    /// A string opens at `bytes[quoteAt]`, its delimiter starting with `quote`; the letters just before it (at
    /// most two: `rb`, `f`, ...) say whether its escapes count.
    mutating func open(in bytes: [UInt8], quoteAt: Int, quote: UInt8) {
        var letters = quoteAt
        while letters > 0, quoteAt - letters < 2, bytes[letters - 1] | 0x20 >= 0x61, bytes[letters - 1] | 0x20 <= 0x7A {
            letters -= 1
        }
        let lower = bytes[letters..<quoteAt].map { $0 | 0x20 }
        active = !lower.contains(UInt8(ascii: "r"))
        isBytes = lower.contains(UInt8(ascii: "b"))
        self.quote = quote
        step = .none
    }

    mutating func close() {
        active = false
        step = .none
    }

    /// Reads one byte of the string's body; false when it makes an escape CPython refuses.
    mutating func feed(_ b: UInt8) -> Bool {
        switch step {
        case .none:
            if b == 0x5C { step = .backslash }
        case .backslash:
            switch b {
            case UInt8(ascii: "x"): step = .hex(2)
            case UInt8(ascii: "u") where !isBytes: step = .hex(4)
            case UInt8(ascii: "U") where !isBytes: step = .hex(8)
            case UInt8(ascii: "N") where !isBytes: step = .namedOpen
            default: step = .none
            }
        case .hex(let n):
            let hex = (b >= 0x30 && b <= 0x39) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x66)
            guard hex else { return false }
            step = n == 1 ? .none : .hex(n - 1)
        case .namedOpen:
            guard b == UInt8(ascii: "{") else { return false }
            step = .namedFirst
        case .namedFirst:
            if b == UInt8(ascii: "}") || b == 0x0A || b == quote || b == 0x5C { return false }
            step = .named
        case .named:
            if b == UInt8(ascii: "}") { step = .none }
            else if b == 0x0A || b == quote || b == 0x5C { return false }
        }
        return true
    }

    /// Where the first escape in the string's body `bytes[range]` that CPython refuses begins (its backslash),
    /// counting one left unfinished at the end, which closing the string there would break; nil when all are whole.
    func firstBrokenEscape(in bytes: [UInt8], _ range: Range<Int>) -> Int? {
        guard active else { return nil }
        var copy = self, start = range.lowerBound
        for i in range {
            if copy.step == .none, bytes[i] == 0x5C { start = i }
            if !copy.feed(bytes[i]) { return start }
        }
        return copy.step == .none ? nil : start
    }

    /// Whether appending `bytes` keeps every escape of the string whole, as far as the string goes: bytes after a
    /// quote that may close it are not read (the grammar judges them).
    func allows(_ bytes: [UInt8]) -> Bool {
        guard active else { return true }
        var copy = self
        for b in bytes {
            if copy.step == .none, b == quote { return true }
            if !copy.feed(b) { return false }
        }
        return true
    }
}
