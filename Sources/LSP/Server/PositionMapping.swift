import Syntax

/// Converts between LSP positions (0-based line, character counted in the negotiated encoding) and byte
/// offsets into a document's UTF-8.
extension SourceText {
    /// The byte offset of `position`. A character past the end of its line means the line's end, and a line
    /// past the last means the end of the document (as the LSP specification asks); a position inside a
    /// UTF-16 surrogate pair or a UTF-8 sequence rounds down to the character's start.
    public func byteOffset(of position: Position, encoding: PositionEncoding) -> Int {
        guard position.line >= 0 else { return 0 }
        guard position.line < lineStarts.count else { return count }
        let start = lineStarts[position.line]
        let end = lineEnd(position.line)
        var offset = start, units = 0
        while offset < end {
            let width = Self.scalarWidth(bytes[offset])
            let next = min(end, offset + width)
            let scalarUnits = encoding == .utf8 ? next - offset : (width == 4 ? 2 : 1)
            if units + scalarUnits > position.character { break }
            units += scalarUnits
            offset = next
        }
        return offset
    }

    /// The position of a byte offset (clamped into the document).
    public func position(ofByte offset: Int, encoding: PositionEncoding) -> Position {
        let clamped = max(0, min(offset, count))
        let line = lineIndex(ofByte: clamped)
        var i = lineStarts[line], units = 0
        while i < clamped {
            let width = Self.scalarWidth(bytes[i])
            units += encoding == .utf8 ? min(width, clamped - i) : (width == 4 ? 2 : 1)
            i += width
        }
        return Position(line: line, character: units)
    }

    /// The byte where line `index` (0-based) ends, before its newline.
    func lineEnd(_ index: Int) -> Int {
        index + 1 < lineStarts.count ? lineStarts[index + 1] - 1 : count
    }

    /// Bytes in the UTF-8 sequence a lead byte starts (1 for a stray continuation byte).
    private static func scalarWidth(_ lead: UInt8) -> Int {
        switch lead {
        case 0xF0...: 4
        case 0xE0...: 3
        case 0xC0...: 2
        default: 1
        }
    }

    /// The LSP range of a byte range.
    public func range(ofBytes range: Range<Int>, encoding: PositionEncoding) -> LSPRange {
        LSPRange(start: position(ofByte: range.lowerBound, encoding: encoding),
                 end: position(ofByte: range.upperBound, encoding: encoding))
    }
}
