import Testing
import Tokenizer

/// Ids and texts must be identical to HF `tokenizers` on the stress corpus, for every family.
@Suite struct GoldenTests {
    @Test("encode matches HF tokenizers", arguments: Fixtures.families)
    func encodeMatches(family: String) throws {
        let tokenizer = try Fixtures.tokenizer(family)
        let expected = try Fixtures.expected(family)
        #expect(tokenizer.preTokenizer.rawValue == family)
        for entry in expected.encode {
            #expect(tokenizer.encode(entry.text) == entry.ids, "\(family): \(entry.text.debugDescription)")
            #expect(tokenizer.encode(entry.text, addSpecial: true) == entry.ids_add_special,
                    "\(family) addSpecial: \(entry.text.debugDescription)")
            #expect(tokenizer.encode(entry.text, parseSpecial: false) == entry.ids_no_parse_special,
                    "\(family) parseSpecial false: \(entry.text.debugDescription)")
        }
    }

    @Test("decode matches HF tokenizers", arguments: Fixtures.families)
    func decodeMatches(family: String) throws {
        let tokenizer = try Fixtures.tokenizer(family)
        let expected = try Fixtures.expected(family)
        for entry in expected.encode {
            #expect(tokenizer.decode(entry.ids) == entry.decoded, "\(family): \(entry.text.debugDescription)")
            #expect(tokenizer.decode(entry.ids, skipSpecial: true) == entry.decoded_skip_special,
                    "\(family) skipSpecial: \(entry.text.debugDescription)")
        }
    }

    @Test("invalid UTF-8 decodes to U+FFFD like HF", arguments: Fixtures.families)
    func invalidBytes(family: String) throws {
        let tokenizer = try Fixtures.tokenizer(family)
        for entry in try Fixtures.expected(family).decode {
            #expect(tokenizer.decode(entry.ids) == entry.text, "\(family): \(entry.name)")
        }
    }

    /// Qwen2 NFC-normalizes, so only the other families must give their input back exactly.
    @Test("decode(encode(x)) == x", arguments: Fixtures.families.filter { $0 != "qwen2" })
    func roundTrip(family: String) throws {
        let tokenizer = try Fixtures.tokenizer(family)
        for text in try Fixtures.corpus() {
            #expect(tokenizer.decode(tokenizer.encode(text)) == text, "\(family): \(text.debugDescription)")
        }
    }

    @Test("qwen2 round-trips NFC text")
    func roundTripNFC() throws {
        let tokenizer = try Fixtures.tokenizer("qwen2")
        for text in try Fixtures.corpus() {
            let nfc = text.precomposedStringWithCanonicalMapping
            #expect(tokenizer.decode(tokenizer.encode(text)) == nfc, "\(text.debugDescription)")
        }
    }
}

import Foundation
