import LSP
import Syntax
import Testing

/// LSP positions to byte offsets and back, in both encodings, including characters outside the BMP.
@Suite struct PositionMappingTests {
    let text = SourceText("a😀b\né\n")

    @Test func utf16CountsSurrogatePairsAsTwo() {
        #expect(text.byteOffset(of: Position(line: 0, character: 3), encoding: .utf16) == 5)
        #expect(text.position(ofByte: 5, encoding: .utf16) == Position(line: 0, character: 3))
        // Inside the pair rounds down to the character's start.
        #expect(text.byteOffset(of: Position(line: 0, character: 2), encoding: .utf16) == 1)
    }

    @Test func utf8CountsBytes() {
        #expect(text.byteOffset(of: Position(line: 1, character: 2), encoding: .utf8) == 9)
        #expect(text.position(ofByte: 9, encoding: .utf8) == Position(line: 1, character: 2))
    }

    @Test func pastTheEndClampsToTheLineAndTheDocument() {
        #expect(text.byteOffset(of: Position(line: 0, character: 99), encoding: .utf16) == 6)
        #expect(text.byteOffset(of: Position(line: 9, character: 0), encoding: .utf16) == text.count)
    }
}
