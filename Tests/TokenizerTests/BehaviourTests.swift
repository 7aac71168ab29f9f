import Foundation
import Testing
import Tokenizer

/// Streaming, special tokens, FIM detection, loading errors and the GGUF-style initializer.
@Suite struct BehaviourTests {
    @Test("streamed pieces concatenate to decode() and never split a character",
          arguments: Fixtures.families + [Fixtures.sentencePiece])
    func streaming(family: String) throws {
        let tokenizer = try Fixtures.tokenizer(family)
        let expected = try Fixtures.expected(family)
        let streams = expected.encode.map(\.ids) + expected.decode.map(\.ids)
        for ids in streams {
            var decoder = StreamingDecoder(tokenizer: tokenizer)
            var text = ""
            for id in ids {
                let piece = decoder.append(id)
                // A held-back partial character would surface as U+FFFD at the end of a piece.
                if !piece.isEmpty, !tokenizer.decode(ids).contains("\u{FFFD}") {
                    #expect(!piece.unicodeScalars.contains("\u{FFFD}"))
                }
                text += piece
            }
            text += decoder.finish()
            #expect(text == tokenizer.decode(ids))
        }
    }

    @Test("a multi-byte character split over byte tokens is held back until complete")
    func streamingHoldsBack() throws {
        let tokenizer = try Fixtures.tokenizer("qwen2")
        let byteIds = "😀".utf8.map { tokenizer.id(of: byteToken($0))! }
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        #expect(decoder.append(byteIds[0]) == "")
        #expect(decoder.append(byteIds[1]) == "")
        #expect(decoder.append(byteIds[2]) == "")
        #expect(decoder.append(byteIds[3]) == "😀")
        #expect(decoder.append(byteIds[0]) == "")
        #expect(decoder.finish() == "\u{FFFD}")
    }

    @Test("special tokens are one id when parsed and plain text otherwise")
    func specialTokens() throws {
        let tokenizer = try Fixtures.tokenizer("qwen2")
        let endOfText = try #require(tokenizer.id(of: "<|endoftext|>"))
        #expect(tokenizer.isSpecial(endOfText))
        #expect(!tokenizer.isSpecial(tokenizer.encode("a")[0]))
        let parsed = tokenizer.encode("x<|endoftext|>y")
        #expect(parsed.contains(endOfText))
        #expect(parsed.count == 3)
        let plain = tokenizer.encode("x<|endoftext|>y", parseSpecial: false)
        #expect(!plain.contains(endOfText))
        #expect(tokenizer.decode(plain) == "x<|endoftext|>y")
        #expect(tokenizer.decode(parsed, skipSpecial: true) == "xy")
        // Longest match wins where one special token's text starts another's.
        let longer = try BPETokenizer(tokens: ["a", "<x>", "<x>>"], merges: [], tokenTypes: [1, 3, 3],
                                      preTokenizer: .gpt2, bos: nil, eos: nil, addBOS: false)
        #expect(longer.encode("<x>>a<x>") == [2, 0, 1])
    }

    @Test("FIM tokens are found for each family's convention")
    func fimDetection() throws {
        let expectations: [String: (String, String, String, String?, String?, String?)] = [
            "deepseek-coder": ("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>", nil, "<｜end▁of▁sentence｜>", nil),
            "deepseek-llm": ("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>", nil, "<｜end▁of▁sentence｜>", nil),
            "qwen2": ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|fim_pad|>", "<|endoftext|>", "<|file_sep|>"),
            "starcoder": ("<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<fim_pad>", "<|endoftext|>", "<file_sep>"),
        ]
        for (family, texts) in expectations {
            let tokenizer = try Fixtures.tokenizer(family)
            let fim = try #require(tokenizer.fim, "\(family)")
            #expect(fim.prefix == tokenizer.id(of: texts.0))
            #expect(fim.suffix == tokenizer.id(of: texts.1))
            #expect(fim.middle == tokenizer.id(of: texts.2))
            #expect(fim.pad == texts.3.flatMap(tokenizer.id(of:)))
            #expect(fim.endOfText == texts.4.flatMap(tokenizer.id(of:)))
            #expect(fim.fileSeparator == texts.5.flatMap(tokenizer.id(of:)))
        }
        #expect(try Fixtures.tokenizer("llama3").fim == nil)
        #expect(try Fixtures.tokenizer("gpt2").fim == nil)
        let codeLlama = try BPETokenizer(tokens: ["a", "▁<PRE>", "▁<SUF>", "▁<MID>", "▁<EOT>"], merges: [],
                                         tokenTypes: [1, 3, 3, 3, 3], preTokenizer: .gpt2, bos: nil, eos: nil,
                                         addBOS: false)
        #expect(codeLlama.fim == FIMTokens(prefix: 1, suffix: 2, middle: 3, endOfText: 4))
    }

    @Test("BOS/EOS come from the tokenizer.json template")
    func bosEos() throws {
        let llama = try Fixtures.tokenizer("llama3")
        #expect(llama.bos == llama.id(of: "<|begin_of_text|>"))
        #expect(llama.eos == llama.id(of: "<|end_of_text|>"))
        #expect(llama.encode("hi", addSpecial: true).first == llama.bos)
        let qwen = try Fixtures.tokenizer("qwen2")
        #expect(qwen.bos == nil)
        #expect(qwen.eos == qwen.id(of: "<|endoftext|>"))
    }

    @Test("the array initializer (GGUF metadata) tokenizes like the tokenizer.json", arguments: Fixtures.families)
    func arrayInitializer(family: String) throws {
        let json = try Fixtures.tokenizer(family)
        let root = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: Fixtures.tokenizerPath(family)))) as! [String: Any]
        let model = root["model"] as! [String: Any]
        let merges = (model["merges"] as! [[String]]).map { "\($0[0]) \($0[1])" }
        let tokens = (0..<json.vocabularySize).map { json.token(of: Int32($0))! }
        let types = (0..<json.vocabularySize).map { json.isSpecial(Int32($0)) ? 3 : 1 }
        let preTokenizer = try #require(PreTokenizer(ggufName: family))
        let gguf = try BPETokenizer(tokens: tokens, merges: merges, tokenTypes: types, preTokenizer: preTokenizer,
                                    bos: json.bos, eos: json.eos, addBOS: json.addBOS)
        for entry in try Fixtures.expected(family).encode where !Fixtures.normalizing.contains(family) {
            #expect(gguf.encode(entry.text) == entry.ids, "\(family): \(entry.text.debugDescription)")
        }
    }

    /// GLM-4.x files say `glm4`: Llama 3's regex and whole-token lookup (the llama3 fixture has ignore_merges).
    @Test("glm4 tokenizes like llama3")
    func glm4() throws {
        let json = try Fixtures.tokenizer("llama3")
        let root = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: Fixtures.tokenizerPath("llama3")))) as! [String: Any]
        let merges = ((root["model"] as! [String: Any])["merges"] as! [[String]]).map { "\($0[0]) \($0[1])" }
        let tokens = (0..<json.vocabularySize).map { json.token(of: Int32($0))! }
        let types = (0..<json.vocabularySize).map { json.isSpecial(Int32($0)) ? 3 : 1 }
        let glm = try BPETokenizer(tokens: tokens, merges: merges, tokenTypes: types,
                                   preTokenizer: try #require(PreTokenizer(ggufName: "glm4")), bos: nil, eos: nil,
                                   addBOS: false)
        #expect(glm.preTokenizer == .glm4 && PreTokenizer.glm4.ignoresMerges && !PreTokenizer.chatglm4.ignoresMerges)
        for entry in try Fixtures.expected("llama3").encode {
            #expect(glm.encode(entry.text) == entry.ids, "\(entry.text.debugDescription)")
        }
    }

    @Test("GGUF pre-tokenizer names map to families")
    func ggufNames() {
        #expect(PreTokenizer(ggufName: "default") == .gpt2)
        #expect(PreTokenizer(ggufName: "gpt-2") == .gpt2)
        #expect(PreTokenizer(ggufName: "llama-bpe") == .llama3)
        #expect(PreTokenizer(ggufName: "deepseek-coder") == .deepseekCoder)
        #expect(PreTokenizer(ggufName: "deepseek-llm") == .deepseekLLM)
        #expect(PreTokenizer(ggufName: "qwen2") == .qwen2)
        #expect(PreTokenizer(ggufName: "starcoder") == .starcoder)
        #expect(PreTokenizer(ggufName: "deepseek-v3") == .deepseekV3)
        #expect(PreTokenizer(ggufName: "gpt-4o") == .gpt4o)
        #expect(PreTokenizer(ggufName: "llama4") == .gpt4o)
        #expect(PreTokenizer(ggufName: "glm4") == .glm4)
        #expect(PreTokenizer(ggufName: "chatglm-bpe") == .chatglm4)
        #expect(PreTokenizer(ggufName: "qwen35") == .qwen35)
        for family in PreTokenizer.allCases {
            #expect(PreTokenizer.ggufNames.contains { $0.family == family && $0.names.contains(family.rawValue) })
        }
        #expect(PreTokenizer(ggufName: "no-such-thing") == nil)
    }

    @Test("pre-tokenizer splits follow the regex edge cases")
    func splits() {
        #expect(PreTokenizer.gpt2.split("a  b   \n") == ["a", " ", " b", "   \n"])
        #expect(PreTokenizer.llama3.split("x  \n\n  y 12345 WE'LL") == ["x", "  \n\n", " ", " y", " ", "123", "45", " WE", "'LL"])
        #expect(PreTokenizer.qwen2.split("ab 123") == ["ab", " ", "1", "2", "3"])
        // "=" is a symbol (Sm), not \p{P}: " = " stays one gap piece. (Checked against HF.)
        #expect(PreTokenizer.deepseekCoder.split("x = 10;\n") == ["x", " = ", "1", "0", ";", "\n"])
        #expect(PreTokenizer.deepseekLLM.split("foo  中文 123  ") == ["foo", "  ", "中文", " ", "123", "  "])
        #expect(PreTokenizer.starcoder.split("x1 22") == ["x", "1", " ", "2", "2"])
        // o200k: case-aware words that keep their contraction, 3-digit groups, "/" after punctuation runs.
        #expect(PreTokenizer.gpt4o.split("HTTPServer don't 12345 a//\nb") ==
            ["HTTPServer", " don't", " ", "123", "45", " a", "//\n", "b"])
        #expect(PreTokenizer.gpt4o.split("fooBar ABC") == ["foo", "Bar", " ABC"])
        // DeepSeek-V3: digits in threes, kana/CJK runs, ASCII punctuation glued to the following letters.
        #expect(PreTokenizer.deepseekV3.split("a.b 1234 かな漢字x") == ["a", ".b", " ", "123", "4", " ", "かな漢字", "x"])
        #expect(PreTokenizer.qwen35.split("e\u{301}x 12") == ["e\u{301}x", " ", "1", "2"])
    }

    @Test("malformed tokenizer.json files fail with a message naming the problem")
    func malformedJSON() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tokenizer-tests-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func load(_ text: String) -> TokenizerError? {
            let path = directory.appendingPathComponent("t.json").path
            FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
            do {
                _ = try BPETokenizer(tokenizerJSON: path)
                return nil
            } catch {
                return error as? TokenizerError
            }
        }
        let byteLevel = #""pre_tokenizer": {"type": "ByteLevel"}"#
        #expect(load("{").map { "\($0)".contains("cannot read tokenizer file") } == true)
        #expect(load("{}") == .malformed(field: "model", reason: "is missing or not an object"))
        #expect(load(#"{"model": {"type": "Unigram"}}"#) == .unsupported("model.type \"Unigram\" (only BPE is supported)"))
        #expect(load(#"{"model": {"type": "BPE", "merges": []}}"#)?.description
            == "malformed tokenizer.json: model.vocab is missing or not an object of token → id")
        #expect(load(#"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}, \#(byteLevel)}"#)?
            .description.contains("merge 0 \"a b\" names a token missing") == true)
        #expect(load(#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "Whitespace"}}"#)?
            .description.contains("does not end in ByteLevel") == true)
        #expect(load(#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, \#(byteLevel)}"#) == nil)
        #expect(throws: TokenizerError.self) { try BPETokenizer(tokenizerJSON: "/nonexistent/tokenizer.json") }
    }
}

/// The byte-level vocabulary text of one byte.
private func byteToken(_ byte: UInt8) -> String {
    // GPT-2's table: printable Latin-1 maps to itself, the rest to U+0100 + n in byte order.
    var next: UInt32 = 256
    for b in 0...255 {
        let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
        if b == Int(byte) { return String(Unicode.Scalar(printable ? UInt32(b) : next)!) }
        if !printable { next += 1 }
    }
    return ""
}

/// SentencePiece-style tokenizers (GGUF `tokenizer.ggml.model = llama`).
@Suite struct SentencePieceTests {
    func tokenizer() throws -> BPETokenizer { try Fixtures.sentencePieceTokenizer() }

    @Test("BOS, EOS, unknown token and the space prefix come from the metadata")
    func metadata() throws {
        let t = try tokenizer()
        #expect(t.model == .sentencePiece && t.addsSpacePrefix && t.addBOS)
        #expect(t.bos == 1 && t.eos == 2 && t.unknown == 0)
        #expect(t.token(of: 1) == "<s>" && t.isSpecial(1) && t.isSpecial(0))
        #expect(t.encode("", addSpecial: true) == [1])
        #expect(t.encode("") == [])
    }

    @Test("pieces stand for their text: ▁ is a space, <0xXX> its byte, control tokens their text")
    func pieceBytes() throws {
        let t = try tokenizer()
        let space = try #require(t.id(of: "▁"))
        #expect(t.bytes(of: space) == [0x20])
        let newline = try #require(t.id(of: "<0x0A>"))
        #expect(t.bytes(of: newline) == [0x0A])
        #expect(!t.isSpecial(newline))
        #expect(t.bytes(of: 1) == Array("<s>".utf8))
        #expect(t.encode("a\nb").contains(newline))
    }

    @Test("byte fallback spells a character missing from the vocabulary in byte tokens")
    func byteFallback() throws {
        let t = try tokenizer()
        #expect(t.id(of: "😀") == nil)
        let ids = t.encode("😀", spacePrefix: false)
        #expect(ids == "😀".utf8.map { t.id(of: String(format: "<0x%02X>", $0))! })
        #expect(t.decode(ids) == "😀")
    }

    @Test("without byte tokens a missing character is the unknown token")
    func unknownToken() throws {
        let t = try BPETokenizer(sentencePieceTokens: ["<unk>", "<s>", "</s>", "▁", "a", "b", "▁a", "ab"],
                                 scores: [0, 0, 0, -1, -2, -3, -4, -5], tokenTypes: [2, 3, 3, 1, 1, 1, 1, 1],
                                 bos: 1, eos: 2, unknown: 0, addBOS: true)
        #expect(t.encode("ab") == [6, 5])  // "▁a" (-4) beats "ab" (-5)
        #expect(t.encode("b€ab", spacePrefix: false) == [5, 0, 7])
        #expect(t.encode("ab", addSpecial: true) == [1, 6, 5])
        #expect(t.decode([6, 5], stripSpacePrefix: true) == "ab")
    }

    @Test("equal scores merge leftmost first")
    func ties() throws {
        let t = try BPETokenizer(sentencePieceTokens: ["<unk>", "a", "aa"], scores: [0, -1, -1], tokenTypes: [2, 1, 1],
                                 bos: nil, eos: nil, unknown: 0, addBOS: false, addSpacePrefix: false)
        #expect(t.encode("aaa") == [2, 1])
    }

    /// An entry with "▁" after another character ("a▁b") may join words: the text is then merged whole.
    @Test("merges across words when the vocabulary allows it")
    func crossWordEntries() throws {
        let tokens = ["<unk>", "▁", "a", "b", "▁a", "a▁", "a▁b", "▁b"]
        let scores: [Float] = [0, -1, -2, -3, -4, -5, -6, -7]
        let joined = try BPETokenizer(sentencePieceTokens: tokens, scores: scores, tokenTypes: nil, bos: nil,
                                      eos: nil, unknown: 0, addBOS: false, addSpacePrefix: false)
        #expect(joined.encode("a b") == [6])  // a + ▁ → "a▁" (-5), then "a▁" + b → "a▁b" (-6)
        #expect(joined.encode("b a b") == [3, 4, 7])  // "▁a" (-4) wins over "a▁" (-5)
        let split = try BPETokenizer(sentencePieceTokens: Array(tokens.prefix(5)) + ["x", "y", "▁b"], scores: scores,
                                     tokenTypes: nil, bos: nil, eos: nil, unknown: 0, addBOS: false, addSpacePrefix: false)
        #expect(split.encode("a b a b") == [2, 7, 4, 7])
    }

    @Test("types missing: <0xXX> entries are the byte tokens")
    func noTypes() throws {
        let tokens = ["<unk>", "x"] + (0..<256).map { String(format: "<0x%02X>", $0) }
        let t = try BPETokenizer(sentencePieceTokens: tokens, scores: nil, tokenTypes: nil, bos: nil, eos: nil,
                                 unknown: 0, addBOS: false, addSpacePrefix: false)
        #expect(t.encode("xé") == [1, 2 + 0xC3, 2 + 0xA9])
        #expect(t.decode([1, 2 + 0xC3, 2 + 0xA9]) == "xé")
        #expect(throws: TokenizerError.self) {
            try BPETokenizer(sentencePieceTokens: ["a", "b"], scores: [0], tokenTypes: nil, bos: nil, eos: nil,
                             unknown: nil, addBOS: false)
        }
        #expect(throws: TokenizerError.self) {
            try BPETokenizer(sentencePieceTokens: ["a", "<0xZZ>"], scores: nil, tokenTypes: [1, 6], bos: nil, eos: nil,
                             unknown: nil, addBOS: false)
        }
    }

    @Test("a space prefix before each run of text, after added tokens too, unless asked not to")
    func spacePrefix() throws {
        let t = try tokenizer()
        let sep = try #require(t.id(of: "<sep>"))
        let ids = t.encode("x<sep>y")
        #expect(ids.contains(sep))
        #expect(t.decode(ids) == " x<sep> y")
        #expect(t.decode(t.encode("x", spacePrefix: false)) == "x")
        #expect(t.decode(t.encode("x")) == " x")
    }

    @Test("the streaming decoder holds a character split over byte tokens back")
    func streaming() throws {
        let t = try tokenizer()
        let ids = t.encode("😀", spacePrefix: false)
        #expect(ids.count == 4)
        var decoder = StreamingDecoder(tokenizer: t)
        #expect(ids.map { decoder.append($0) } == ["", "", "", "😀"])
        #expect(decoder.finish() == "")
        var skipping = StreamingDecoder(tokenizer: t, skipSpecial: true)
        let text = ([1] + t.encode("def f():\n\treturn 1 😀", addSpecial: false)).map { skipping.append($0) }.joined()
        #expect(text + skipping.finish() == " def f():\n\treturn 1 😀")
    }

    @Test("CodeLlama's FIM tokens are found")
    func fim() throws {
        let t = try tokenizer()
        let fim = try #require(t.fim)
        #expect(fim == FIMTokens(prefix: t.id(of: "▁<PRE>")!, suffix: t.id(of: "▁<SUF>")!, middle: t.id(of: "▁<MID>")!,
                                 endOfText: t.id(of: "▁<EOT>")!))
        #expect(t.isSpecial(fim.prefix))
    }
}
