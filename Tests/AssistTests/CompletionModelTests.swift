import Engine
import Foundation
import GGUF
import Syntax
import Testing
@testable import Assist

/// `CodeCompleter` end to end on tiny random fixture models: the result's fields, the prompt it chose, the
/// constraint hook, and the context window. The models write noise, so these tests check how the completion
/// was made, not what it says.
@Suite struct CompletionModelTests {
    typealias F = CompletionFixtures
    static let source = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    \n\nprint(add(1, 2))\n"
    /// The code before and after line 6, column 5.
    static let before = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    "
    static let after = "\n\nprint(add(1, 2))\n"

    func request(maxTokens: Int = 12) throws -> CompletionRequest {
        var request = try CompletionRequest(source: Self.source, language: try Language.named("python"), line: 6,
                                            column: 5)
        request.maxTokens = maxTokens
        return request
    }

    @Test func prefixOnlyModelCompletesAndSaysSo() throws {
        let model = try LanguageModel(path: F.modelPath("qwen2moe"), threads: 1)
        let request = try request()
        #expect(Self.before + Self.after == Self.source && request.cursor == Self.before.utf8.count)
        let completion = try CodeCompleter(model: model).complete(request)
        #expect(completion.fimFamily == nil)
        #expect(completion.notes.contains { $0.contains("no fill-in-the-middle tokens") })
        #expect(completion.tokens >= 1 && completion.tokens <= 12)
        // Token healing takes the prefix's last token (its indentation) out of the prompt.
        let healed = CompletionPrompt(tokenizer: model.tokenizer, prefix: Self.before, suffix: Self.after,
                                      budget: 256 - 12, heal: true)
        #expect(!healed.healing.isEmpty)
        #expect(completion.promptTokens == model.tokenizer.encode(Self.before, parseSpecial: false).count - 1)
        #expect(completion.promptTokens == healed.tokens.count)
        #expect(completion.insertedSource == Self.before + completion.text + Self.after)
        let tree = try Parser(language: try Language.named("python")).parse(completion.insertedSource)
        #expect(completion.parseOK == !tree.hasErrors)
        // Constrained exactly when the syntax constraint exists; when it does not, the notes say so.
        #expect(completion.constrained != completion.notes.contains { $0.contains("syntax constraint is not available") })
    }

    @Test func greedyIsRepeatable() throws {
        let model = try LanguageModel(path: F.modelPath("llama"), threads: 1)
        let completer = CodeCompleter(model: model)
        #expect(try completer.complete(request()).text == completer.complete(request()).text)
    }

    /// Copies a fixture model with four unmerged vocabulary entries renamed to StarCoder's FIM tokens and
    /// its end of text; returns the new file and the ids of <fim_prefix>, <fim_suffix>, <fim_middle>.
    static func fimModel() throws -> (path: String, ids: [Int32]) {
        let file = try GGUFFile(path: F.modelPath("qwen2moe"))
        var tokens = try #require(file.metadata["tokenizer.ggml.tokens"]?.strings)
        let merges = file.metadata["tokenizer.ggml.merges"]?.strings ?? []
        var merged = Set<String>()
        for merge in merges {
            let parts = merge.split(separator: " ").map(String.init)
            merged.formUnion(parts + [parts.joined()])
        }
        let free = tokens.indices.reversed().filter { !merged.contains(tokens[$0]) && $0 > 0 }.prefix(4)
        try #require(free.count == 4)
        var types = file.metadata["tokenizer.ggml.token_type"]?.ints ?? Array(repeating: 1, count: tokens.count)
        for (index, text) in zip(free, ["<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<|endoftext|>"]) {
            tokens[index] = text
            types[index] = 3
        }
        let writer = GGUFWriter(alignment: file.alignment)
        for key in file.metadataKeys { writer.set(key, file.metadata[key]!) }
        writer.set("tokenizer.ggml.tokens", .array(tokens.map { .string($0) }))
        writer.set("tokenizer.ggml.token_type", .array(types.map { .int32(Int32($0)) }))
        for tensor in file.tensors {
            let bytes = Array(UnsafeRawBufferPointer(start: file.data(tensor), count: tensor.byteCount))
            try writer.addTensor(name: tensor.name, dimensions: tensor.dimensions, type: tensor.type, bytes: bytes)
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("moecoder-fim-\(UUID().uuidString).gguf").path
        try writer.write(to: path)
        return (path, free.map { Int32($0) })
    }

    @Test func fimModelGetsAFIMPrompt() throws {
        let (path, ids) = try Self.fimModel()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let model = try LanguageModel(path: path, threads: 1)
        let completion = try CodeCompleter(model: model).complete(request())
        #expect(completion.fimFamily == .starCoder)
        #expect(!completion.notes.contains { $0.contains("fill-in-the-middle") })
        let prompt = CompletionPrompt(tokenizer: model.tokenizer, prefix: Self.before,
                                      suffix: Self.after, budget: 256 - 12, heal: true)
        #expect(prompt.tokens.first == ids[0] && prompt.tokens.last == ids[2])
        #expect(prompt.tokens.contains(ids[1]))
        #expect(completion.promptTokens == prompt.tokens.count)
    }

    /// Allows one token only.
    final class OnlyToken: LogitProcessor {
        let token: Int32
        var accepted: [Int32] = []
        init(_ token: Int32) { self.token = token }
        func process(_ logits: UnsafeMutableBufferPointer<Float>, history: [Int32]) {
            for i in logits.indices where i != Int(token) { logits[i] = -.infinity }
        }
        func accept(_ token: Int32) { accepted.append(token) }
    }

    @Test func customConstraintGuidesDecoding() throws {
        let model = try LanguageModel(path: F.modelPath("qwen2moe"), threads: 1)
        let x = try #require(model.tokenizer.encode("x").first)
        let only = OnlyToken(x)
        var request = try request(maxTokens: 5)
        request.constraint = .custom(only)
        let completion = try CodeCompleter(model: model).complete(request)
        #expect(completion.constrained)
        #expect(completion.text == "xxxxx")
        #expect(only.accepted == [x, x, x, x, x])
        request.constraint = .none
        let free = try CodeCompleter(model: model).complete(request)
        #expect(!free.constrained)
        #expect(!free.notes.contains { $0.contains("syntax constraint") })
    }

    /// Makes the model write `tokens`, one per step.
    final class Script: LogitProcessor {
        let tokens: [Int32]
        var step = 0
        init(_ tokens: [Int32]) { self.tokens = tokens }
        func process(_ logits: UnsafeMutableBufferPointer<Float>, history: [Int32]) {
            let forced = Int(tokens[min(step, tokens.count - 1)])
            for i in logits.indices where i != forced { logits[i] = -.infinity }
        }
        func accept(_ token: Int32) { step += 1 }
    }

    @Test func stopRulesEndGenerationEarly() throws {
        let model = try LanguageModel(path: F.modelPath("qwen2moe"), threads: 1)
        let written = "return a * b\n\nprint(mul(2, 3))\nprint(mul(4, 5))\n"
        let script = model.tokenizer.encode(written, parseSpecial: false)
        var request = try request(maxTokens: 40)
        request.constraint = .custom(Script(script))
        let completion = try CodeCompleter(model: model).complete(request)
        #expect(completion.text == "return a * b")
        #expect(completion.stopReason == .blankLine)
        #expect(completion.parseOK)
        #expect(completion.tokens < script.count, "generation stopped at the rule, not at the end of the script")
        #expect(completion.insertedSource == Self.before + "return a * b" + Self.after)
    }

    @Test func promptAndCompletionFitASmallContext() throws {
        let model = try LanguageModel(path: F.modelPath("qwen2moe"), threads: 1)
        var lines = (1...400).map { "value_\($0) = compute(\($0))" }
        lines[199] = "value_200 = "
        var request = CompletionRequest(source: lines.joined(separator: "\n") + "\n", language: try Language.named("python"),
                                        cursor: lines[..<200].joined(separator: "\n").utf8.count)
        request.maxTokens = 500
        let completion = try CodeCompleter(model: model).complete(request)
        #expect(completion.notes.contains { $0.contains("max tokens lowered to 128") })
        #expect(completion.notes.contains { $0.contains("lines above") })
        #expect(completion.promptTokens <= 256 - 128)
        #expect(completion.promptTokens > 100)
        #expect(completion.tokens <= 128)
    }

    @Test func cursorsOutsideTheFileAreRejected() throws {
        let python = try Language.named("python")
        #expect(throws: CompletionError.self) { try CompletionRequest(source: "x = 1\n", language: python, line: 3, column: 1) }
        #expect(throws: CompletionError.self) { try CompletionRequest(source: "x = 1\n", language: python, line: 1, column: 7) }
        #expect(throws: CompletionError.self) { try CompletionRequest(source: "x = 1\n", language: python, line: 0, column: 1) }
        // Columns count characters: "é" is one.
        let request = try CompletionRequest(source: "é = 1\n", language: python, line: 1, column: 2)
        #expect(request.cursor == 2)
        // The line after a final line break exists (it is empty).
        #expect(try CompletionRequest(source: "x = 1\n", language: python, line: 2, column: 1).cursor == 6)
    }

    /// Healing allows exactly the tokens whose text agrees with what is left of the taken-back bytes.
    @Test func healingAllowsOnlyTokensThatAgreeWithTheTakenBackText() throws {
        let model = try LanguageModel(path: F.modelPath("qwen2moe"), threads: 1)
        let tokenizer = model.tokenizer
        let healing = Array("   ".utf8)
        let processor = HealingProcessor(CompletionStart(tokenizer: tokenizer, promptLength: 2, healing: healing))
        let space = try #require(tokenizer.encode(" ", parseSpecial: false).first)
        #expect(tokenizer.bytes(of: space) == [0x20])
        for (history, rest) in [([1, 2] as [Int32], healing), ([1, 2, space], Array("  ".utf8))] {
            var logits = [Float](repeating: 0, count: model.config.vocabularySize)
            logits.withUnsafeMutableBufferPointer { processor.process($0, history: history) }
            var allowed = 0
            for id in logits.indices {
                let bytes = tokenizer.bytes(of: Int32(id))
                let agrees = !tokenizer.isSpecial(Int32(id)) && !bytes.isEmpty
                    && (bytes.count <= rest.count ? rest.starts(with: bytes) : bytes.starts(with: rest))
                #expect((logits[id] == -.infinity) == !agrees, "token \(id)")
                if agrees { allowed += 1 }
            }
            #expect(allowed >= 1)
        }
        var logits = [Float](repeating: 0, count: model.config.vocabularySize)
        logits.withUnsafeMutableBufferPointer { processor.process($0, history: [1, 2, space, space, space]) }
        #expect(!logits.contains(-.infinity), "written: every token may follow")
    }

    /// When the file does not parse with the first decoding, others are tried (at most `attempts`); the first
    /// decoding is the one a single attempt gives, and a later one is kept only when the file parses with it.
    @Test func otherDecodingsAreTriedWhenTheFileDoesNotParse() throws {
        let model = try LanguageModel(path: F.modelPath("qwen2moe"), threads: 1)
        let python = try Language.named("python")
        let parser = try Parser(language: python)
        let holes = ["def f(x):\n    if x:\n        ", "values = [", "def g(a, b):\n    return ", "class C:\n    "]
        var retried = 0
        for (index, before) in holes.enumerated() {
            let after = "\n    return x\n" + String(repeating: "\n", count: index)
            var request = CompletionRequest(source: before + after, language: python, cursor: before.utf8.count)
            request.maxTokens = 3
            request.attempts = 1
            let single = try CodeCompleter(model: model).complete(request)
            request.attempts = 5
            let searched = try CodeCompleter(model: model).complete(request)
            #expect(single.attempts == 1)
            #expect(searched.parseOK == !(try parser.parse(searched.insertedSource).hasErrors))
            if single.parseOK {
                #expect(searched.attempts == 1 && searched.text == single.text)
            } else {
                retried += 1
                #expect(searched.attempts > 1)
                #expect(searched.parseOK || (searched.attempts == 5 && searched.text == single.text))
            }
        }
        #expect(retried > 0, "no hole needed another decoding: pick harder holes")
    }
}
