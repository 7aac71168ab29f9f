import Foundation
import LSP
import Testing

/// Content-Length framing: messages split across reads, several in one read, and bad headers skipped
/// without losing the messages after them.
@Suite struct MessageFramerTests {
    func framed(_ json: String) -> [UInt8] { Array(MessageFramer.frame(Data(json.utf8))) }

    @Test func messageSplitAcrossReadsIsAssembled() {
        var framer = MessageFramer()
        let bytes = framed(#"{"jsonrpc":"2.0","method":"initialized"}"#)
        #expect(framer.append(bytes[..<10]).isEmpty)
        #expect(framer.append(bytes[10..<30]).isEmpty)
        #expect(framer.append(bytes[30...]) == [.message(Data(#"{"jsonrpc":"2.0","method":"initialized"}"#.utf8))])
    }

    @Test func severalMessagesInOneReadComeOutInOrder() {
        var framer = MessageFramer()
        let frames = framer.append(framed("[1]") + framed("{}") + Array("Content-Type: x\r\nContent-Length: 2\r\n\r\nab".utf8))
        #expect(frames == [.message(Data("[1]".utf8)), .message(Data("{}".utf8)), .message(Data("ab".utf8))])
    }

    @Test func malformedHeadersAreReportedAndSkipped() {
        var framer = MessageFramer()
        let bad = Array("Content-Length: ten\r\n\r\n".utf8) + Array("no colon here\r\n\r\n".utf8)
            + Array("Content-Type: only\r\n\r\n".utf8) + framed("{}")
        let frames = framer.append(bad)
        #expect(frames.count == 4)
        #expect(frames.prefix(3).allSatisfy { if case .malformedHeader = $0 { true } else { false } })
        #expect(frames.last == .message(Data("{}".utf8)))
    }

    @Test func oversizedBodyIsSkippedNotBuffered() {
        var framer = MessageFramer()
        let huge = MessageFramer.maxBodyBytes + 1
        let frames = framer.append(Array("Content-Length: \(huge)\r\n\r\n".utf8))
        #expect(frames.count == 1)
        #expect(framer.append([UInt8](repeating: 0x20, count: huge)).isEmpty)
        #expect(framer.append(framed("{}")) == [.message(Data("{}".utf8))])
    }
}
