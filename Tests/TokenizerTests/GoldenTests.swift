import Testing
import Tokenizer

/// Ids and texts must be identical to HF `tokenizers` on the stress corpus, for every family and for the
/// SentencePiece-style fixture (whose ids llama.cpp and SentencePiece agree with; see its expected.json).
@Suite struct GoldenTests {
    static let all = Fixtures.families + [Fixtures.sentencePiece]

    @Test("encode matches HF tokenizers", arguments: all)
    func encodeMatches(family: String) throws {
        let tokenizer = try Fixtures.tokenizer(family)
        let expected = try Fixtures.expected(family)
        if family == Fixtures.sentencePiece {
            #expect(tokenizer.model == .sentencePiece && tokenizer.preTokenizer == nil)
        } else {
            #expect(tokenizer.model == .byteLevelBPE && tokenizer.preTokenizer?.rawValue == family)
        }
        for entry in expected.encode {
            #expect(tokenizer.encode(entry.text) == entry.ids, "\(family): \(entry.text.debugDescription)")
            #expect(tokenizer.encode(entry.text, addSpecial: true) == entry.ids_add_special,
                    "\(family) addSpecial: \(entry.text.debugDescription)")
            #expect(tokenizer.encode(entry.text, parseSpecial: false) == entry.ids_no_parse_special,
                    "\(family) parseSpecial false: \(entry.text.debugDescription)")
        }
    }

    @Test("pre-tokenizer pieces match HF's regex splits", arguments: Fixtures.families)
    func piecesMatch(family: String) throws {
        let tokenizer = try Fixtures.tokenizer(family)
        let preTokenizer = try #require(tokenizer.preTokenizer)
        for entry in try Fixtures.expected(family).encode {
            guard let pieces = entry.pieces else { continue }
            #expect(preTokenizer.split(entry.text).map(String.init) == pieces, "\(family): \(entry.text.debugDescription)")
        }
    }

    /// HF's decode drops the space a SentencePiece tokenizer puts first: `stripSpacePrefix`.
    @Test("decode matches HF tokenizers", arguments: all)
    func decodeMatches(family: String) throws {
        let tokenizer = try Fixtures.tokenizer(family)
        let expected = try Fixtures.expected(family)
        for entry in expected.encode {
            #expect(tokenizer.decode(entry.ids, stripSpacePrefix: true) == entry.decoded,
                    "\(family): \(entry.text.debugDescription)")
            #expect(tokenizer.decode(entry.ids, skipSpecial: true, stripSpacePrefix: true) == entry.decoded_skip_special,
                    "\(family) skipSpecial: \(entry.text.debugDescription)")
        }
    }

    @Test("invalid UTF-8 decodes to U+FFFD like HF", arguments: all)
    func invalidBytes(family: String) throws {
        let tokenizer = try Fixtures.tokenizer(family)
        let cases = try Fixtures.expected(family).decode
        #expect(!cases.isEmpty)
        for entry in cases {
            #expect(tokenizer.decode(entry.ids) == entry.text, "\(family): \(entry.name)")
        }
    }

    /// NFC-normalizing families only give NFC text back; SentencePiece puts a space after added tokens and
    /// reads "▁" as a space, so texts with those are left out there.
    @Test("decode(encode(x)) == x", arguments: all)
    func roundTrip(family: String) throws {
        let tokenizer = try Fixtures.tokenizer(family)
        for text in try Fixtures.corpus() {
            let expected = Fixtures.normalizing.contains(family) ? text.precomposedStringWithCanonicalMapping : text
            if family == Fixtures.sentencePiece {
                // "▁" typed in text is a space to SentencePiece, in both directions.
                if text.contains("<sep>") || text.contains("▁") { continue }
                #expect(tokenizer.decode(tokenizer.encode(text, parseSpecial: false), stripSpacePrefix: true) == expected,
                        "\(family): \(text.debugDescription)")
                #expect(tokenizer.decode(tokenizer.encode(text, parseSpecial: false)) == (text.isEmpty ? "" : " " + text))
            } else {
                #expect(tokenizer.decode(tokenizer.encode(text)) == expected, "\(family): \(text.debugDescription)")
            }
        }
    }
}
