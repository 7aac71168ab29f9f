import Foundation
/// A 1-based line and column, the way compilers and editors show positions.
///
/// `column` counts Unicode scalars (characters as a user sees them in most editors) from the start of the
/// line, starting at 1; `utf8Column` counts bytes, also from 1.
public struct SourceLocation: Hashable, Sendable, Codable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var utf8Column: Int
    public var byteOffset: Int

    public init(line: Int, column: Int, utf8Column: Int, byteOffset: Int) {
        self.line = line
        self.column = column
        self.utf8Column = utf8Column
        self.byteOffset = byteOffset
    }

    public var description: String { "\(line):\(column)" }

    enum CodingKeys: String, CodingKey {
        case line, column, utf8Column = "utf8_column", byteOffset = "byte_offset"
    }
}

/// Source code as UTF-8 bytes with an index of line starts, for converting between byte offsets,
/// tree-sitter points (0-based row, byte column) and 1-based locations.
public struct SourceText: Sendable {
    public private(set) var bytes: [UInt8]
    /// Byte offset at which each line starts; `lineStarts[0] == 0`.
    public private(set) var lineStarts: [Int]

    public init(_ string: String) { self.init(bytes: Array(string.utf8)) }

    public init(bytes: [UInt8]) {
        self.bytes = bytes
        self.lineStarts = SourceText.lineStarts(of: bytes[...], base: 0)
    }

    private static func lineStarts(of slice: ArraySlice<UInt8>, base: Int) -> [Int] {
        var starts = base == 0 ? [0] : []
        slice.withUnsafeBufferPointer { buffer in
            guard var p = UnsafeRawPointer(buffer.baseAddress) else { return }
            let end = p + buffer.count
            // memchr finds the line breaks (a byte loop here was a fifth of the syntax constraint's time).
            while p < end, let hit = memchr(p, 0x0A, end - p) {
                let at = UnsafeRawPointer(hit)
                starts.append(slice.startIndex + (at - UnsafeRawPointer(buffer.baseAddress!)) + 1)
                p = at + 1
            }
        }
        return starts
    }

    /// This text with `more` bytes after it (the line index is extended, not rebuilt). (Not generic: called
    /// from another module, a generic one ran unspecialized, byte by byte through the protocol's witnesses.)
    public func appending(_ more: [UInt8]) -> SourceText {
        var result = self
        let old = bytes.count
        result.bytes.append(contentsOf: more)
        result.lineStarts += SourceText.lineStarts(of: result.bytes[old...], base: old)
        return result
    }

    public var count: Int { bytes.count }
    public var string: String { String(decoding: bytes, as: UTF8.self) }

    /// The text of a byte range, with invalid UTF-8 replaced by U+FFFD.
    public func text(_ range: Range<Int>) -> String {
        let lo = max(0, min(range.lowerBound, bytes.count)), hi = max(lo, min(range.upperBound, bytes.count))
        return String(decoding: bytes[lo..<hi], as: UTF8.self)
    }

    /// 0-based line containing a byte offset.
    public func lineIndex(ofByte offset: Int) -> Int {
        var lo = 0, hi = lineStarts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if lineStarts[mid] <= offset { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    /// Tree-sitter's point (0-based row, byte column) for a byte offset.
    public func point(ofByte offset: Int) -> (row: Int, column: Int) {
        let row = lineIndex(ofByte: offset)
        return (row, offset - lineStarts[row])
    }

    /// The 1-based location of a byte offset.
    public func location(ofByte offset: Int) -> SourceLocation {
        let clamped = max(0, min(offset, bytes.count))
        let row = lineIndex(ofByte: clamped)
        let start = lineStarts[row]
        var characters = 0
        for i in start..<clamped where bytes[i] & 0xC0 != 0x80 { characters += 1 }
        return SourceLocation(line: row + 1, column: characters + 1, utf8Column: clamped - start + 1,
                              byteOffset: clamped)
    }

    /// The byte offset of a 1-based line and character column; nil when the line does not exist.
    /// A column past the end of the line gives the line's end.
    public func byteOffset(line: Int, column: Int) -> Int? {
        guard line >= 1, line <= lineStarts.count, column >= 1 else { return nil }
        let start = lineStarts[line - 1]
        let end = line < lineStarts.count ? lineStarts[line] - 1 : bytes.count
        var offset = start, characters = 1
        while offset < end, characters < column {
            offset += 1
            while offset < end, bytes[offset] & 0xC0 == 0x80 { offset += 1 }
            characters += 1
        }
        return offset
    }

    /// Replaces a byte range, keeping the line index current. Returns the byte offset where the new text ends.
    @discardableResult
    public mutating func replace(_ range: Range<Int>, with replacement: [UInt8]) -> Int {
        bytes.replaceSubrange(range, with: replacement)
        let firstLine = lineIndex(ofByte: range.lowerBound)
        let delta = replacement.count - range.count
        var starts = Array(lineStarts[...firstLine])
        let newEnd = range.lowerBound + replacement.count
        starts += SourceText.lineStarts(of: bytes[range.lowerBound..<newEnd], base: 1)
        for old in lineStarts[(firstLine + 1)...] where old > range.upperBound { starts.append(old + delta) }
        lineStarts = starts
        return newEnd
    }
}
