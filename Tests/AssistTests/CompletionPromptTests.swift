import Foundation
import Testing
import Tokenizer
@testable import Assist

/// Fill-in-the-middle prompt layouts per model family, and fitting the code around the cursor into the
/// context window.
@Suite struct CompletionPromptTests {
    typealias F = CompletionFixtures
    static let prefix = "def f(x):\n    return "
    static let suffix = "\n\nprint(f(1))\n"

    /// The prompt for the small case, with room for everything.
    func prompt(_ tokenizer: BPETokenizer) -> CompletionPrompt {
        CompletionPrompt(tokenizer: tokenizer, prefix: Self.prefix, suffix: Self.suffix, budget: 1000)
    }

    func plain(_ tokenizer: BPETokenizer, _ text: String) -> [Int32] {
        tokenizer.encode(text, addSpecial: false, parseSpecial: false)
    }

    @Test func starCoderIsPrefixSuffixMiddleWithoutBOS() throws {
        let tokenizer = try F.tokenizer("starcoder")
        let prompt = prompt(tokenizer)
        #expect(prompt.format?.family == .starCoder)
        // <fim_prefix> 1501, <fim_suffix> 1503, <fim_middle> 1502.
        #expect(prompt.tokens == [1501] + plain(tokenizer, Self.prefix) + [1503] + plain(tokenizer, Self.suffix) + [1502])
        #expect(prompt.tokens == Self.golden["starcoder"])
        // <|endoftext|>, <fim_pad>, <file_sep> and the FIM tokens end the middle.
        #expect(prompt.stopTokens.isSuperset(of: [1500, 1504, 1506, 1501, 1502, 1503]))
    }

    @Test func qwenCoderIsPrefixSuffixMiddleWithoutBOS() throws {
        let tokenizer = try F.tokenizer("qwen2")
        let prompt = prompt(tokenizer)
        #expect(prompt.format?.family == .qwenCoder)
        // <|fim_prefix|> 1503, <|fim_suffix|> 1505, <|fim_middle|> 1504.
        #expect(prompt.tokens == [1503] + plain(tokenizer, Self.prefix) + [1505] + plain(tokenizer, Self.suffix) + [1504])
        #expect(prompt.tokens == Self.golden["qwen2"])
        // <|endoftext|>, <|im_end|>, <|fim_pad|>, <|repo_name|>, <|file_sep|>.
        #expect(prompt.stopTokens.isSuperset(of: [1500, 1502, 1506, 1507, 1508]))
    }

    @Test func deepSeekCoderIsBeginHoleEndAfterBOS() throws {
        let tokenizer = try F.tokenizer("deepseek-coder")
        let prompt = prompt(tokenizer)
        #expect(prompt.format?.family == .deepSeekCoder)
        // BOS 1500, <｜fim▁begin｜> 1503, <｜fim▁hole｜> 1502, <｜fim▁end｜> 1504.
        #expect(prompt.tokens == [1500, 1503] + plain(tokenizer, Self.prefix) + [1502] + plain(tokenizer, Self.suffix)
                + [1504])
        #expect(prompt.tokens == Self.golden["deepseek-coder"])
        // <｜end▁of▁sentence｜> and <|EOT|>.
        #expect(prompt.stopTokens.isSuperset(of: [1501, 1506]))
    }

    /// A SentencePiece-style vocabulary with CodeLlama's control tokens and one token per byte.
    static func codeLlamaTokenizer() throws -> BPETokenizer {
        var byteTokens: [String] = []
        var extra = 0
        for byte in 0..<256 {
            let printable = (33...126).contains(byte) || (161...172).contains(byte) || (174...255).contains(byte)
            byteTokens.append(String(Unicode.Scalar(UInt32(printable ? byte : 256 + extra))!))
            if !printable { extra += 1 }
        }
        let control = ["<s>", "</s>", "▁<PRE>", "▁<SUF>", "▁<MID>", "▁<EOT>"]
        return try BPETokenizer(tokens: control + byteTokens, merges: [], tokenTypes: control.map { _ in 3 } + byteTokens.map { _ in 1 },
                                preTokenizer: .gpt2, bos: 0, eos: 1, addBOS: true)
    }

    @Test func codeLlamaGivesThePrefixALeadingSpace() throws {
        let tokenizer = try Self.codeLlamaTokenizer()
        let prompt = prompt(tokenizer)
        #expect(prompt.format?.family == .codeLlama)
        // <s> ▁<PRE> " " prefix ▁<SUF> suffix ▁<MID>; bytes are ids 6 + byte in this vocabulary.
        let bytes = { (text: String) in text.utf8.map { 6 + Int32($0) } }
        #expect(prompt.tokens == [0, 2] + bytes(" " + Self.prefix) + [3] + bytes(Self.suffix) + [4])
        #expect(prompt.stopTokens.isSuperset(of: [1, 5]))
    }

    /// With a real SentencePiece tokenizer the tokenizer itself gives the prefix its leading space; the suffix
    /// gets none.
    @Test func codeLlamaWithASentencePieceTokenizer() throws {
        let path = F.root.appendingPathComponent("Tests/Fixtures/tokenizers/spm/vocab.json").path
        let vocab = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
            as? [String: Any])
        let tokenizer = try BPETokenizer(
            sentencePieceTokens: vocab["tokens"] as! [String], scores: (vocab["scores"] as! [NSNumber]).map(\.floatValue),
            tokenTypes: vocab["token_type"] as? [Int], bos: 1, eos: 2, unknown: 0, addBOS: true)
        let prompt = prompt(tokenizer)
        let format = try #require(prompt.format)
        #expect(format.family == .codeLlama)
        let prefix = tokenizer.encode(Self.prefix, parseSpecial: false)
        let suffix = tokenizer.encode(Self.suffix, parseSpecial: false, spacePrefix: false)
        #expect(prompt.tokens == [1, format.tokens.prefix] + prefix + [format.tokens.suffix] + suffix + [format.tokens.middle])
        #expect(tokenizer.decode(prefix) == " " + Self.prefix)
        #expect(tokenizer.decode(suffix) == Self.suffix)
    }

    @Test func controlTokenTextInCodeStaysText() throws {
        let tokenizer = try F.tokenizer("starcoder")
        let prompt = CompletionPrompt(tokenizer: tokenizer, prefix: "s = '<fim_middle>'\n", suffix: "<|endoftext|>",
                                      budget: 1000)
        #expect(prompt.tokens.filter { $0 >= 1500 } == [1501, 1503, 1502])
    }

    @Test func withoutFIMTokensThePromptIsTheCodeBeforeTheCursor() throws {
        let tokenizer = try F.tokenizer("gpt2")
        let prompt = prompt(tokenizer)
        #expect(prompt.format == nil)
        #expect(prompt.tokens == (tokenizer.addBOS ? [tokenizer.bos!] : []) + plain(tokenizer, Self.prefix))
        let empty = CompletionPrompt(tokenizer: tokenizer, prefix: "", suffix: "x", budget: 100)
        #expect(empty.tokens.count == 1, "a prompt needs a token even with nothing before the cursor")
    }

    // MARK: Trimming

    /// A file of numbered lines with the cursor in the middle of line `cursorLine`.
    static func numberedFile(lines: Int, cursorLine: Int) -> (prefix: String, suffix: String) {
        var prefix = "", suffix = ""
        for n in 1...lines {
            let line = "value_\(n) = compute(\(n), \(n * 7))\n"
            if n < cursorLine { prefix += line } else if n > cursorLine { suffix += line } else {
                let cut = line.index(line.startIndex, offsetBy: 10)
                prefix += line[..<cut]
                suffix += line[cut...]
            }
        }
        return (prefix, suffix)
    }

    @Test(arguments: ["starcoder", "qwen2", "deepseek-coder"])
    func trimmingKeepsTheLinesNearestTheCursorAndFits(family: String) throws {
        let tokenizer = try F.tokenizer(family)
        let (prefix, suffix) = Self.numberedFile(lines: 300, cursorLine: 150)
        let budget = 400
        let prompt = CompletionPrompt(tokenizer: tokenizer, prefix: prefix, suffix: suffix, budget: budget)
        let format = try #require(prompt.format)
        #expect(prompt.tokens.count <= budget)
        #expect(prompt.tokens.count > budget - 60, "the window is used, not left mostly empty")
        #expect(prompt.droppedPrefixLines > 0 && prompt.droppedSuffixLines > 0)

        // The kept code is whole lines: the prefix starts at a line, the suffix ends with one.
        let p = try #require(prompt.tokens.firstIndex(of: format.tokens.prefix))
        let s = try #require(prompt.tokens.firstIndex(of: format.tokens.suffix))
        let keptPrefix = tokenizer.decode(Array(prompt.tokens[(p + 1)..<s]))
        let keptSuffix = tokenizer.decode(Array(prompt.tokens[(s + 1)..<(prompt.tokens.count - 1)]))
        #expect(keptPrefix.hasPrefix("value_\(prompt.droppedPrefixLines + 1) = "))
        #expect(prefix.hasSuffix(keptPrefix) && keptPrefix.hasSuffix("\nvalue_150 "))
        #expect(suffix.hasPrefix(keptSuffix) && keptSuffix.hasSuffix("\n"))
        #expect(keptSuffix.hasPrefix("= compute(150, 1050)\nvalue_151 = "))
        // The code before the cursor gets the larger share.
        #expect(s - p > prompt.tokens.count - s)
    }

    @Test func suffixTakesWhatThePrefixLeaves() throws {
        let tokenizer = try F.tokenizer("starcoder")
        let (prefix, suffix) = Self.numberedFile(lines: 300, cursorLine: 3)
        let prompt = CompletionPrompt(tokenizer: tokenizer, prefix: prefix, suffix: suffix, budget: 400)
        #expect(prompt.droppedPrefixLines == 0)
        #expect(prompt.droppedSuffixLines > 0)
        #expect(prompt.tokens.count <= 400 && prompt.tokens.count > 340)
    }

    @Test func aSingleHugeLineIsCutFarFromTheCursor() throws {
        let tokenizer = try F.tokenizer("qwen2")
        let line = (0..<400).map { "item\($0)" }.joined(separator: " + ")
        let prompt = CompletionPrompt(tokenizer: tokenizer, prefix: "total = " + line + " + ", suffix: "\n",
                                      budget: 100)
        #expect(prompt.tokens.count <= 100)
        let format = try #require(prompt.format)
        let s = try #require(prompt.tokens.firstIndex(of: format.tokens.suffix))
        #expect(tokenizer.decode(Array(prompt.tokens[1..<s])).hasSuffix("item399 + "))
    }

    @Test func windowWithCharacterTokens() {
        // One token per character: exact arithmetic. Lines are 4 characters with their line breaks.
        let prefix = "aaa\nbbb\nccc\nddd\ncu", suffix = "rs\neee\nfff\nggg\n"
        let chars = { (text: String) in text.unicodeScalars.map { Int32($0.value) } }
        let window = PromptWindow(prefix: prefix, suffix: suffix, budget: 16, encodePrefix: chars, encodeSuffix: chars)
        #expect(String(window.prefixTokens.map { Character(Unicode.Scalar(UInt32($0))!) }) == "ccc\nddd\ncu")
        #expect(String(window.suffixTokens.map { Character(Unicode.Scalar(UInt32($0))!) }) == "rs\n")
        #expect(window.droppedPrefixLines == 2 && window.droppedSuffixLines == 3)
    }

    /// The small case's prompts, token by token, from the fixture tokenizers.
    static let golden: [String: [Int32]] = [
        "starcoder": [1501, 336, 270, 7, 87, 318, 260, 323, 220, 1503, 198, 198, 632, 7, 69, 7, 16, 605, 198, 1502],
        "qwen2": [1503, 338, 269, 622, 331, 258, 325, 220, 1505, 277, 657, 528, 7, 16, 752, 1504],
        "deepseek-coder": [1500, 1503, 335, 269, 7, 87, 314, 198, 258, 321, 220, 1502, 198, 198, 618, 7, 69, 7, 16, 591,
                           198, 1504],
    ]

    /// Token healing: for a prompt of the code before the cursor only, the prefix's last token leaves the
    /// prompt for the completion to write again (a token with a line break stays); FIM prompts are not healed.
    @Test func healingTakesBackThePrefixsLastTokenWithoutFIM() throws {
        let bare = try F.tokenizer("gpt2")
        let prefix = "def f(x):\n    return compute(valu"
        let whole = CompletionPrompt(tokenizer: bare, prefix: prefix, suffix: Self.suffix, budget: 1000)
        let healed = CompletionPrompt(tokenizer: bare, prefix: prefix, suffix: Self.suffix, budget: 1000, heal: true)
        #expect(whole.format == nil && whole.healing.isEmpty)
        let last = try #require(plain(bare, prefix).last)
        #expect(healed.healing == bare.bytes(of: last))
        #expect(Array(prefix.utf8).suffix(healed.healing.count).elementsEqual(healed.healing))
        #expect(healed.tokens == Array(whole.tokens.dropLast()))
        #expect(CompletionPrompt(tokenizer: bare, prefix: "x = 1\n", suffix: "", budget: 100, heal: true).healing.isEmpty)
        #expect(CompletionPrompt(tokenizer: bare, prefix: "x", suffix: "", budget: 100, heal: true).healing.isEmpty,
                "the prompt keeps at least one token")
        for name in ["starcoder", "qwen2", "deepseek-coder"] {
            let tokenizer = try F.tokenizer(name)
            let fim = CompletionPrompt(tokenizer: tokenizer, prefix: prefix, suffix: Self.suffix, budget: 1000, heal: true)
            #expect(fim.format != nil && fim.healing.isEmpty)
        }
    }
}
