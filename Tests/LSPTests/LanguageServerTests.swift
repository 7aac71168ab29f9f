import Foundation
import LSP
import Testing

/// The server in-process: lifecycle, position encodings, document sync, and cancellation of work in flight.
@Suite struct LanguageServerTests {
    let uri = "file:///tmp/t.py"

    func position(_ line: Int, _ character: Int) -> JSONValue {
        ["line": .number(Double(line)), "character": .number(Double(character))]
    }

    @Test func negotiatesUTF8WhenOfferedAndUTF16Otherwise() {
        let utf8 = TestClient()
        utf8.initialize(encodings: ["utf-16", "utf-8"])
        #expect(utf8.response(0)?["result"]?["capabilities"]?["positionEncoding"] == "utf-8")
        let utf16 = TestClient()
        utf16.initialize()
        #expect(utf16.response(0)?["result"]?["capabilities"]?["positionEncoding"] == "utf-16")
    }

    @Test func requestsBeforeInitializeAndUnknownMethodsGetTheirErrors() {
        let client = TestClient()
        client.request(1, "textDocument/completion", [:])
        #expect(client.response(1)?["error"]?["code"] == -32002)
        client.initialize()
        client.request(2, "no/such", [:])
        #expect(client.response(2)?["error"]?["code"] == -32601)
        client.request(3, "textDocument/inlineCompletion", ["textDocument": ["uri": 7]])
        #expect(client.response(3)?["error"]?["code"] == -32602)
    }

    @Test func incrementalEditsCountUTF16UnitsPastAnAstralCharacter() {
        let client = TestClient()
        client.initialize()
        // "😀" is two UTF-16 units and four UTF-8 bytes; the edit after it must land after it.
        client.open(uri, "s = '😀'\nprint((1)\n")
        #expect(client.diagnostics(uri).count == 1)
        client.notify("textDocument/didChange", [
            "textDocument": ["uri": .string(uri), "version": 2],
            "contentChanges": [["range": ["start": position(1, 9), "end": position(1, 9)], "text": ")"],
                               ["range": ["start": position(0, 7), "end": position(0, 7)], "text": "!"]],
        ])
        #expect(client.diagnostics(uri).isEmpty)
        client.request(4, "textDocument/completion", ["textDocument": ["uri": .string(uri)], "position": position(0, 8)])
        let edit = client.response(4)?["result"]?["items"]?.arrayValue?.first?["textEdit"]
        #expect(edit?["range"]?["start"] == position(0, 8))
    }

    @Test func utf8PositionsCountBytes() {
        let client = TestClient()
        client.initialize(encodings: ["utf-8"])
        client.open(uri, "s = 'é'\nx = (\n")
        let range = client.diagnostics(uri).first?["range"]
        #expect(range?["start"]?["line"] == 1 || range?["start"]?["line"] == 2)
        client.notify("textDocument/didChange", [
            "textDocument": ["uri": .string(uri), "version": 2],
            "contentChanges": [["range": ["start": position(0, 8), "end": position(0, 8)], "text": "#"]],
        ])
        // Byte 8 is after the closing quote ('é' is two bytes): the '#' starts a comment, still one error.
        client.request(5, "textDocument/completion", ["textDocument": ["uri": .string(uri)], "position": position(0, 9)])
        #expect(client.response(5)?["result"]?["items"]?.arrayValue?.first?["textEdit"]?["range"]?["start"] == position(0, 9))
    }

    @Test func cancelAnswersARunningCompletionAtOnceAndStopsItsWork() {
        let blocking = BlockingCompletion()
        let client = TestClient(completion: blocking)
        client.initialize()
        client.open(uri, "x = \n")
        client.request(7, "textDocument/inlineCompletion", ["textDocument": ["uri": .string(uri)], "position": position(0, 4)])
        #expect(blocking.started.wait(timeout: .now() + 10) == .success)
        client.notify("$/cancelRequest", ["id": 7])
        #expect(client.response(7, timeout: 1)?["error"]?["code"] == -32800)
        client.server.drain()
        #expect(blocking.observedCancellation)
    }

    @Test func newerCompletionForTheSameDocumentSupersedesTheOlder() {
        let blocking = BlockingCompletion()
        let client = TestClient(completion: blocking)
        client.initialize()
        client.open(uri, "x = \n")
        let params: JSONValue = ["textDocument": ["uri": .string(uri)], "position": position(0, 4)]
        client.request(8, "textDocument/inlineCompletion", params)
        #expect(blocking.started.wait(timeout: .now() + 10) == .success)
        client.request(9, "textDocument/inlineCompletion", params)
        #expect(client.response(8, timeout: 1)?["error"]?["code"] == -32800)
        #expect(blocking.started.wait(timeout: .now() + 10) == .success)
        blocking.finish()
        #expect(client.response(9)?["result"]?["items"]?.arrayValue?.first?["insertText"] == "done")
    }

    @Test func shutdownIsAnsweredWhileWorkRunsAndExitReportsIt() {
        let blocking = BlockingCompletion()
        let client = TestClient(completion: blocking)
        client.initialize()
        client.open(uri, "x = \n")
        client.request(10, "textDocument/completion", ["textDocument": ["uri": .string(uri)], "position": position(0, 4)])
        #expect(blocking.started.wait(timeout: .now() + 10) == .success)
        client.request(11, "shutdown", .null)
        #expect(client.response(11, timeout: 1)?["result"] == .null)
        #expect(client.response(10, timeout: 1)?["error"]?["code"] == -32800)
        client.request(12, "textDocument/completion", [:])
        #expect(client.response(12)?["error"]?["code"] == -32600)
        #expect(client.deliver(["jsonrpc": "2.0", "method": "exit"]) == false)
        #expect(client.server.exitCode == 0)
    }

    @Test func codeActionsAreRankedWorkspaceEdits() {
        let client = TestClient()
        client.initialize()
        client.open(uri, "total = sum([1, 2, 3]\nprint(total)\n")
        client.request(13, "textDocument/codeAction", [
            "textDocument": ["uri": .string(uri)], "range": ["start": position(1, 0), "end": position(1, 0)],
            "context": ["diagnostics": []],
        ])
        let actions = client.response(13)?["result"]?.arrayValue ?? []
        #expect(actions.count == 3)
        #expect(actions.first?["isPreferred"] == true)
        #expect(actions.first?["edit"]?["changes"]?[uri]?.arrayValue?.first?["newText"] == ")")
    }
}
