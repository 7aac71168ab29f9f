import Foundation

extension BPETokenizer {
    /// Loads a HF tokenizer.json: model.type "BPE" over a byte-level vocabulary, a pre-tokenizer of one of
    /// the `PreTokenizer` families, `added_tokens` (those marked special become control tokens), an
    /// optional NFC normalizer, and BOS/EOS from a TemplateProcessing post-processor.
    public convenience init(tokenizerJSON path: String) throws {
        let root: [String: Any]
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw TokenizerError.malformed(field: "(root)", reason: "is not a JSON object")
            }
            root = object
        } catch let error as TokenizerError {
            throw error
        } catch {
            throw TokenizerError.unreadable(path: path, reason: error.localizedDescription)
        }
        let spec = try TokenizerJSON(root)
        try self.init(tokens: spec.tokens, kinds: spec.kinds, merges: spec.merges, preTokenizer: spec.preTokenizer,
                      bos: spec.bos, eos: spec.eos, addBOS: spec.addBOS, addEOS: spec.addEOS,
                      ignoreMerges: spec.ignoreMerges, normalizesNFC: spec.normalizesNFC)
    }
}

/// The parts of a tokenizer.json this engine uses, validated.
struct TokenizerJSON {
    var tokens: [String] = []
    var kinds: [BPETokenizer.Kind] = []
    var merges: [(String, String)] = []
    var preTokenizer = PreTokenizer.gpt2
    var ignoreMerges = false
    var normalizesNFC = false
    var bos: Int32?
    var eos: Int32?
    var addBOS = false
    var addEOS = false

    init(_ root: [String: Any]) throws {
        guard let model = root["model"] as? [String: Any] else {
            throw TokenizerError.malformed(field: "model", reason: "is missing or not an object")
        }
        let type = model["type"] as? String ?? "BPE"
        guard type == "BPE" else { throw TokenizerError.unsupported("model.type \"\(type)\" (only BPE is supported)") }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] where model[key] is String {
            throw TokenizerError.unsupported("model.\(key) (not a byte-level BPE)")
        }
        guard let vocab = model["vocab"] as? [String: Any] else {
            throw TokenizerError.malformed(field: "model.vocab", reason: "is missing or not an object of token → id")
        }
        ignoreMerges = model["ignore_merges"] as? Bool ?? false

        var entries: [(String, Int, BPETokenizer.Kind)] = []
        for (token, value) in vocab {
            guard let id = value as? Int, id >= 0 else {
                throw TokenizerError.malformed(field: "model.vocab[\"\(token)\"]", reason: "is not a non-negative integer id")
            }
            entries.append((token, id, .normal))
        }
        for (index, added) in (root["added_tokens"] as? [[String: Any]] ?? []).enumerated() {
            guard let id = added["id"] as? Int, id >= 0, let content = added["content"] as? String else {
                throw TokenizerError.malformed(field: "added_tokens[\(index)]", reason: "needs an integer id and a content string")
            }
            entries.append((content, id, added["special"] as? Bool ?? false ? .special : .added))
        }
        let count = (entries.map(\.1).max() ?? -1) + 1
        tokens = Array(repeating: "", count: count)
        kinds = Array(repeating: .unused, count: count)
        for (token, id, kind) in entries {
            tokens[id] = token
            kinds[id] = kind  // added_tokens come last and override a model entry with the same id
        }

        guard let rawMerges = model["merges"] as? [Any] else {
            throw TokenizerError.malformed(field: "model.merges", reason: "is missing or not an array")
        }
        for (rank, merge) in rawMerges.enumerated() {
            if let pair = merge as? [String], pair.count == 2 {
                merges.append((pair[0], pair[1]))
            } else if let text = merge as? String, let space = text.firstIndex(of: " ") {
                merges.append((String(text[..<space]), String(text[text.index(after: space)...])))
            } else {
                throw TokenizerError.malformed(field: "model.merges[\(rank)]", reason: "is neither \"a b\" nor [\"a\", \"b\"]")
            }
        }

        normalizesNFC = try Self.normalizer(root["normalizer"])
        preTokenizer = try Self.family(root["pre_tokenizer"])
        if let decoder = root["decoder"] as? [String: Any], decoder["type"] as? String != "ByteLevel" {
            throw TokenizerError.unsupported("decoder \"\(decoder["type"] ?? "?")\" (only ByteLevel)")
        }
        let id: (String) -> Int32? = { [tokens] text in tokens.firstIndex(of: text).map { Int32($0) } }
        readTemplate(root["post_processor"], id: id)
        if eos == nil {
            eos = ["<|endoftext|>", "<｜end▁of▁sentence｜>", "<|end_of_text|>", "</s>"].lazy.compactMap(id).first
        }
    }

    /// NFC (alone or in a Sequence) is applied; no normalizer or an empty Sequence is fine; others are refused.
    private static func normalizer(_ value: Any?) throws -> Bool {
        guard let normalizer = value as? [String: Any] else { return false }
        switch normalizer["type"] as? String {
        case "NFC": return true
        case "Sequence":
            var nfc = false
            for inner in normalizer["normalizers"] as? [Any] ?? [] { nfc = try Self.normalizer(inner) || nfc }
            return nfc
        case let other: throw TokenizerError.unsupported("normalizer \"\(other ?? "?")\" (only NFC)")
        }
    }

    private static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    private static let llama3Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    private static let qwen2Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    private static let qwen35Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    private static let o200kPattern =
        #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"#
        + #"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"#
        + #"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    private static let deepseekV3Patterns = [
        #"\p{N}{1,3}"#,
        "[一-龥぀-ゟ゠-ヿ]+",
        ##"[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"##,
    ]

    /// Recognizes the pre-tokenizer structure of each family's published tokenizer.json.
    private static func family(_ value: Any?) throws -> PreTokenizer {
        guard let pre = value as? [String: Any] else {
            throw TokenizerError.malformed(field: "pre_tokenizer", reason: "is missing (a byte-level BPE needs one)")
        }
        let steps = pre["type"] as? String == "Sequence" ? (pre["pretokenizers"] as? [[String: Any]] ?? []) : [pre]
        func describe() -> String { steps.map { step in step["type"] as? String ?? "?" }.joined(separator: ", ") }
        guard let last = steps.last, last["type"] as? String == "ByteLevel" else {
            throw TokenizerError.unsupported("pre_tokenizer [\(describe())] does not end in ByteLevel")
        }
        let byteLevelRegex = last["use_regex"] as? Bool ?? true
        let middle = steps.dropLast()
        let splits = middle.compactMap { step -> String? in
            guard step["type"] as? String == "Split", let pattern = step["pattern"] as? [String: Any] else { return nil }
            return (pattern["Regex"] ?? pattern["String"]) as? String
        }
        let digits = middle.filter { $0["type"] as? String == "Digits" }
        let individualDigits = digits.first?["individual_digits"] as? Bool

        if byteLevelRegex {
            if middle.isEmpty { return .gpt2 }
            if middle.count == 1, individualDigits == true { return .starcoder }
        } else if splits.count == middle.count, splits.count == 1 {
            if splits[0] == llama3Pattern { return .llama3 }
            if splits[0] == qwen2Pattern { return .qwen2 }
            if splits[0] == qwen35Pattern { return .qwen35 }
            if splits[0] == o200kPattern { return .gpt4o }
            if splits[0] == gpt2Pattern { return .gpt2 }
        } else if splits == deepseekV3Patterns, middle.count == 3 {
            return .deepseekV3
        } else if let first = splits.first, first == "[\r\n]" || first == #"[\r\n]"#, splits.count >= 4,
                  digits.count == 1, middle.count == splits.count + 1 {
            if splits[1] == #"\s?\p{L}+"#, splits[2] == #"\s?\p{P}+"#, individualDigits == true { return .deepseekCoder }
            if splits[1].hasPrefix(#"\s?[A-Za-zµÀ-Ö"#), splits.count == 5, splits[3] == #"\s+$"#, individualDigits == false {
                return .deepseekLLM
            }
        }
        throw TokenizerError.unsupported("pre_tokenizer [\(describe())] with regexes \(splits) is none of the known families")
    }

    /// BOS/EOS are the special tokens a TemplateProcessing puts before/after the sequence `$A`.
    private mutating func readTemplate(_ value: Any?, id: (String) -> Int32?) {
        guard let processor = value as? [String: Any] else { return }
        if processor["type"] as? String == "Sequence" {
            for inner in processor["processors"] as? [Any] ?? [] { readTemplate(inner, id: id) }
            return
        }
        guard processor["type"] as? String == "TemplateProcessing", let single = processor["single"] as? [[String: Any]] else {
            return
        }
        var seenSequence = false
        for piece in single {
            if piece["Sequence"] != nil {
                seenSequence = true
            } else if let special = piece["SpecialToken"] as? [String: Any], let text = special["id"] as? String {
                let tokenId = ((processor["special_tokens"] as? [String: Any])?[text] as? [String: Any])
                    .flatMap { ($0["ids"] as? [Int])?.first }.map { Int32($0) } ?? id(text)
                if seenSequence { eos = tokenId ?? eos; addEOS = tokenId != nil } else { bos = tokenId ?? bos; addBOS = tokenId != nil }
            }
        }
    }
}
