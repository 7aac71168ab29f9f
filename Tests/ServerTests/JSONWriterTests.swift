import Foundation
import Testing
@testable import Server

@Suite("the server's JSON writer")
struct JSONWriterTests {
    /// Parses JSON text back into a tree (Foundation's parser, independent of the writer).
    static func parse(_ bytes: [UInt8]) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
    }

    @Test("what it writes parses back to the same tree as JSONSerialization's own output does")
    func roundTrips() throws {
        let trees: [Any] = [
            ["id": "cmpl-1", "object": "text_completion", "created": 1_765_000_000, "model": "default",
             "choices": [["text": "def f(x):\n\treturn \"\\\\\" + x  # é, 中, 🙂, \u{01}\u{1f}/", "index": 0,
                          "logprobs": NSNull(), "finish_reason": NSNull()]]] as [String: Any],
            ["tokens": [1, 2, 3], "flags": [true, false], "scores": [0.5, -1.25e-7, 3.0, 1e300, -0.0]] as [String: Any],
            ["nested": ["a": ["b": ["c": []]]], "empty": [String: Any]()] as [String: Any],
            [NSNumber(value: 3), NSNumber(value: true), NSNumber(value: 2.5), Int32(-4), Float(0.25)] as [Any],
            "just a string",
        ]
        for tree in trees {
            let ours = try #require(JSONWriter.encode(tree))
            let theirs = try JSONSerialization.data(withJSONObject: tree, options: [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
            let a = try Self.parse(ours), b = try Self.parse(Array(theirs))
            #expect(NSDictionary(dictionary: ["v": a]).isEqual(NSDictionary(dictionary: ["v": b])),
                    "\(String(decoding: ours, as: UTF8.self)) vs \(String(decoding: theirs, as: UTF8.self))")
        }
    }

    @Test("keys come out sorted, slashes unescaped, control characters escaped")
    func spelling() throws {
        let bytes = try #require(JSONWriter.encode(["b": 1, "a": "x/y\n\u{07}", "c": [true, NSNull()]] as [String: Any]))
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"a":"x/y\n\u0007","b":1,"c":[true,null]}"#)
    }

    @Test("a tree it cannot write exactly is left to JSONSerialization (nil)")
    func refuses() {
        #expect(JSONWriter.encode(["x": Double.nan] as [String: Any]) == nil)
        #expect(JSONWriter.encode(["x": Date()] as [String: Any]) == nil)
        #expect(JSONWriter.encode([Double.infinity] as [Any]) == nil)
    }
}
