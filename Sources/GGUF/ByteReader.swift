/// A bounds-checked little-endian cursor over a file's bytes. Every read checks what is left first,
/// so hostile lengths and counts end in a `GGUFError` naming the byte offset, never an out-of-bounds read.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    private(set) var position = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var remaining: Int { bytes.count - position }

    /// Reads a little-endian integer; `what` names it in the error when the file ends first.
    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else {
            throw GGUFError("\(what()) at byte \(position) needs \(size) bytes, but the file ends at byte \(bytes.count)")
        }
        let value = bytes.loadUnaligned(fromByteOffset: position, as: T.self)
        position += size
        return T(littleEndian: value)
    }

    /// Reads a u64 count of items that take at least `minimumItemBytes` each, rejecting counts the
    /// remaining bytes cannot hold, so that no caller ever sizes an allocation from an unchecked count.
    mutating func readCount(_ what: @autoclosure () -> String, minimumItemBytes: Int) throws -> Int {
        let start = position
        let count = try read(UInt64.self, what())
        let most = remaining / minimumItemBytes
        guard count <= UInt64(most) else {
            throw GGUFError("\(what()) \(count) at byte \(start) is impossible: the \(remaining) bytes left "
                + "hold at most \(most)")
        }
        return Int(count)
    }

    /// Reads a GGUF string: u64 byte length, then that many bytes of UTF-8 (no NUL terminator).
    mutating func readString(_ what: @autoclosure () -> String) throws -> String {
        let start = position
        let length = try read(UInt64.self, "length of \(what())")
        guard length <= UInt64(remaining) else {
            throw GGUFError("\(what()) at byte \(start) has length \(length), past the end of the file "
                + "(\(remaining) bytes left)")
        }
        let utf8 = UnsafeRawBufferPointer(rebasing: bytes[position..<position + Int(length)])
        guard isValidUTF8(utf8) else {
            throw GGUFError("\(what()) at byte \(start) is not valid UTF-8")
        }
        position += Int(length)
        return String(decoding: utf8, as: UTF8.self)
    }

    private func isValidUTF8(_ utf8: UnsafeRawBufferPointer) -> Bool {
        if utf8.allSatisfy({ $0 < 0x80 }) { return true }
        var decoder = UTF8()
        var iterator = utf8.makeIterator()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }
}
