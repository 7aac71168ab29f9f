import Foundation
import Syntax
import Testing
@testable import Assist

/// Python's indentation rules, which tree-sitter-python does not enforce, checked for completions.
@Suite struct PythonIndentationTests {
    typealias F = CompletionFixtures

    /// Each snippet with the line CPython 3.11's `compile()` reports an IndentationError on (nil: it compiles);
    /// `end` for the error at the end of the text (a block header with nothing after it).
    static let cases: [(String, Int?)] = [
        ("def f(x):\n    t = x\n        y = 2\n    return y\n", 3),              // unexpected indent
        ("def f(x):\n    if x:\n        t = 1\n      y = 2\n    return y\n", 4),  // unindent does not match
        ("def f(x):\n    if x:\n    return y\n", 3),                               // expected an indented block
        ("def f(x):\n    return (1,\n  2)\n", nil),
        ("def f(x):\n    s = '''\nabc\n        '''\n    return s\n", nil),
        ("x = 1 + \\\n        2\ny = 3\n", nil),
        ("if x: y = 1\nz = 2\n", nil),
        ("class A:\n    # comment\n\n        # deeper comment\n    x = 1\n", nil),
        ("def f():\n    pass\n", nil),
        ("def f():\n", -1),                                                        // expected an indented block
        ("  x = 1\n", 1),                                                          // unexpected indent
        ("if (a and\n        b):\n    pass\n", nil),
        ("d = {\n  'a': 1,\n}\nif d:\n\tpass\n", nil),
        ("def f(x):\n    return x\n  y = 1\n", 3),                                 // unindent does not match
        ("for i in range(3):\n    pass\nelse:\n    pass\n", nil),
        ("x = 1\n    # indented comment\ny = 2\n", nil),
    ]

    @Test func agreesWithCPythonOnSnippets() throws {
        let syntax = LexicalSyntax.of(try Language.named("python"))
        for (code, line) in Self.cases {
            let bytes = Array(code.utf8)
            let error = PythonIndentation.firstError(in: bytes, syntax: syntax)
            if line == -1 {
                #expect(error == bytes.count, "\(code.debugDescription)")
            } else {
                let found = error.map { offset in bytes[..<offset].filter { $0 == 0x0A }.count + 1 }
                #expect(found == line, "\(code.debugDescription)")
            }
        }
    }

    /// Real files that compile have no indentation error.
    @Test func realFilesPass() throws {
        let syntax = LexicalSyntax.of(try Language.named("python"))
        let folder = F.root.appendingPathComponent("models/heldout")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".py") }
        #expect(files.count >= 10, "models/heldout is filled by scripts/setup")
        for name in files {
            let bytes = Array(try Data(contentsOf: folder.appendingPathComponent(name)))
            #expect(PythonIndentation.firstError(in: bytes, syntax: syntax) == nil, "\(name)")
        }
    }

    /// A completion that indents a line where Python does not allow it does not count as parsing, though
    /// tree-sitter accepts it.
    @Test func completionsAreHeldToTheRules() throws {
        let python = try Language.named("python")
        let prefix = "def f(x):\n    y = x\n    ", suffix = "\n    return y\n"
        let check = try InsertionCheck(language: python, prefix: Array(prefix.utf8), suffix: Array(suffix.utf8))
        #expect(check.parses(with: Array("y += 1".utf8)[...]))
        #expect(!check.parses(with: Array("if y:".utf8)[...]), "a header needs an indented block after it")
        #expect(!check.parses(with: Array("y += 1\n        z = 2".utf8)[...]), "unexpected indent")
        #expect(check.parses(with: Array("if y:\n        y += 1".utf8)[...]))
        // An indentation error elsewhere in the file fails every completion, as a syntax error does.
        let broken = try InsertionCheck(language: python, prefix: Array(prefix.utf8),
                                        suffix: Array("\n    return y\n  z = 1\n".utf8))
        #expect(!broken.parses(with: Array("y += 1".utf8)[...]))
    }

    /// What tree-sitter-python and PythonValidity let through and CPython's grammar does not (two statements on
    /// one line, a name after an import) does not count as parsing either; an error the file already had,
    /// after the cursor, is left to the file.
    @Test func completionsAreHeldToCPythonsGrammar() throws {
        let python = try Language.named("python")
        let prefix = "def f(x):\n    y = x\n    ", suffix = "\n    return y\n"
        let check = try InsertionCheck(language: python, prefix: Array(prefix.utf8), suffix: Array(suffix.utf8))
        #expect(check.parses(with: Array("import os".utf8)[...]))
        #expect(!check.parses(with: Array("import os sys".utf8)[...]))
        #expect(!check.parses(with: Array("y = 1 z = 2".utf8)[...]))
        #expect(check.parses(with: Array("y = 1; z = 2".utf8)[...]))
        let later = try InsertionCheck(language: python, prefix: Array(prefix.utf8),
                                       suffix: Array("\n    return y\nimport a b\n".utf8))
        #expect(later.grammarAllows(Array((prefix + "y += 1" + "\n    return y\nimport a b\n").utf8), inserted: 6))
        #expect(!later.grammarAllows(Array((prefix + "y = 1 z" + "\n    return y\nimport a b\n").utf8), inserted: 7))
    }

    /// Where the next line may start, as the text grows.
    @Test func tracksWhereTheNextLineMayStart() throws {
        let syntax = LexicalSyntax.of(try Language.named("python"))
        var state = PythonIndentation(syntax: syntax)
        state.append(Array("def f(x):\n    y = 1\n".utf8))
        #expect(state.atLineIndentation && state.levels == [0, 4] && !state.expectIndent)
        #expect(state.codeMayStart(at: 4) && state.codeMayStart(at: 0) && !state.codeMayStart(at: 2))
        #expect(!state.codeMayStart(at: 8) && state.indentationMayReach(4) && !state.indentationMayReach(5))
        state.append(Array("    if y:\n".utf8))
        #expect(state.expectIndent && !state.codeMayStart(at: 4) && state.codeMayStart(at: 6))
        state.append(Array("        z = (1,\n".utf8))
        #expect(!state.atLineIndentation, "inside brackets")
        state.append(Array("2)\n".utf8))
        #expect(state.atLineIndentation && state.levels == [0, 4, 8])
        #expect(state.finish() == nil)
    }

    /// The processor allows a token at a line's indentation exactly when some continuation keeps Python's
    /// indentation rules (checked by reading the whole text again).
    @Test func processorAllowsWhatSomeContinuationAccepts() throws {
        let python = try Language.named("python")
        let syntax = LexicalSyntax.of(python)
        let tokenizer = try F.tokenizer("qwen2")
        let start = CompletionStart(tokenizer: tokenizer, promptLength: 1, healing: [])
        for prefix in ["def f(x):\n    y = 1\n   ", "def f(x):\n    if x:\n", "class A:\n    def m(self):\n        pass\n  "] {
            let processor = PythonIndentationProcessor(prefix: Array(prefix.utf8), syntax: syntax, start: start)
            // Each logit its own value: an allowed token keeps it (where most are refused, the processor sets the
            // whole row and puts the allowed ones back).
            var logits = (0..<tokenizer.vocabularySize).map { Float($0) }
            logits.withUnsafeMutableBufferPointer { processor.process($0, history: [0]) }
            var refused = 0
            for id in logits.indices where tokenizer.isSpecial(Int32(id)) {
                #expect(logits[id] == Float(id), "special token \(id) keeps its logit")
            }
            for id in logits.indices where logits[id] != -.infinity { #expect(logits[id] == Float(id)) }
            for id in logits.indices where !tokenizer.isSpecial(Int32(id)) {
                let bytes = tokenizer.bytes(of: Int32(id))
                let acceptable = (0...8).contains { k in
                    let text = Array(prefix.utf8) + bytes + Array(String(repeating: " ", count: k).utf8) + Array("x\n".utf8)
                    let error = PythonIndentation.firstError(in: text, syntax: syntax)
                    return error == nil || error == text.count
                }
                #expect((logits[id] != -.infinity) == acceptable, "\(prefix.debugDescription) + \(String(decoding: bytes, as: UTF8.self).debugDescription)")
                if logits[id] == -.infinity { refused += 1 }
            }
            #expect(refused > 0)
        }
    }

    /// Checked one token at a time (as `IndentedConstraint` asks, after the tokens came through `take`), the rule
    /// allows exactly what `process` leaves, and its full mask equals `process`: at a line start inside a block,
    /// after a header, at a dedent, on the cursor's line, and in the middle of a line.
    @Test func checkingOneTokenEqualsTheRow() throws {
        let python = try Language.named("python")
        let syntax = LexicalSyntax.of(python)
        let tokenizer = try F.tokenizer("qwen2")
        let cases: [(prefix: String, written: String, suffix: String)] = [
            ("def f(x):\n    ", "y = 1\n", ""), ("def f(x):\n    ", "if x:\n", ""), ("class A:\n    ", "def m(self):\n        pass\n", ""),
            ("def f(x):\n    ", "", "\n    return x\n"), ("def f(x):\n    ", "", "\n        return x\n    finally:\n        pass\n"),
            ("def f(x):\n    ", "y = (1 +", ""),
        ]
        for c in cases {
            let written = tokenizer.encode(c.written, addSpecial: false, parseSpecial: false)
            let start = CompletionStart(tokenizer: tokenizer, promptLength: 1, healing: [])
            let rowwise = PythonIndentationProcessor(prefix: Array(c.prefix.utf8), suffix: Array(c.suffix.utf8), syntax: syntax, start: start)
            let checked = PythonIndentationProcessor(prefix: Array(c.prefix.utf8), suffix: Array(c.suffix.utf8), syntax: syntax, start: start)
            for token in written { checked.take(token) }
            var row = (0..<tokenizer.vocabularySize).map { Float($0) }
            row.withUnsafeMutableBufferPointer { rowwise.process($0, history: [0] + written) }
            var masked = (0..<tokenizer.vocabularySize).map { Float($0) }
            masked.withUnsafeMutableBufferPointer { checked.mask($0) }
            var differ: [String] = []
            for id in row.indices where (row[id] > -.infinity) != checked.allows(Int32(id)) || row[id] != masked[id] {
                differ.append(String(decoding: tokenizer.bytes(of: Int32(id)), as: UTF8.self).debugDescription)
            }
            #expect(differ.isEmpty, "\((c.prefix + c.written).debugDescription): \(differ.count) differ: \(differ.prefix(10))")
            #expect(row.contains(-.infinity) || c.written.hasSuffix("+"), "nothing refused at \((c.prefix + c.written).debugDescription)")
        }
    }

    /// With the cursor after indentation where code may start, the first line's code starts at the cursor.
    @Test func theFirstLineStartsAtTheCursor() throws {
        let syntax = LexicalSyntax.of(try Language.named("python"))
        let tokenizer = try F.tokenizer("qwen2")
        let start = CompletionStart(tokenizer: tokenizer, promptLength: 1, healing: [])
        let processor = PythonIndentationProcessor(prefix: Array("def f(x):\n    y = 1\n    ".utf8), syntax: syntax,
                                                   start: start)
        var logits = (0..<tokenizer.vocabularySize).map { Float($0) }
        logits.withUnsafeMutableBufferPointer { processor.process($0, history: [0]) }
        for id in logits.indices where !tokenizer.isSpecial(Int32(id)) {
            let bytes = tokenizer.bytes(of: Int32(id))
            guard let first = bytes.first else { continue }
            let rest = bytes.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
            if rest.count < bytes.count, rest.first.map({ $0.isLetter }) ?? true {
                #expect(logits[id] == -.infinity, "no deeper indentation: \(String(decoding: bytes, as: UTF8.self).debugDescription)")
            } else if first.isLetter {
                #expect(logits[id] == Float(id), "code at the cursor: \(String(decoding: bytes, as: UTF8.self).debugDescription)")
            }
        }
    }
}

/// When the code after the cursor is indented deeper, the cursor's line must open a block.
@Suite struct PythonHeaderHoleTests {
    @Test func theCursorsLineMustOpenABlock() throws {
        let syntax = LexicalSyntax.of(try Language.named("python"))
        let tokenizer = try CompletionFixtures.tokenizer("qwen2")
        let start = CompletionStart(tokenizer: tokenizer, promptLength: 1, healing: [])
        #expect(PythonIndentationProcessor.firstCodeWidth(after: Array("\n\n        # c\n        x = 1\n".utf8)) == 8)
        #expect(PythonIndentationProcessor.firstCodeWidth(after: Array("x)\n    y\n".utf8)) == nil)
        #expect(PythonIndentationProcessor.mayOpenBlock(Array("tr".utf8)[...]))
        #expect(PythonIndentationProcessor.mayOpenBlock(Array("try:".utf8)[...]))
        #expect(!PythonIndentationProcessor.mayOpenBlock(Array("tryst".utf8)[...]))
        #expect(!PythonIndentationProcessor.mayOpenBlock(Array("x = 1".utf8)[...]))
        let processor = PythonIndentationProcessor(prefix: Array("def f(x):\n    ".utf8),
                                                   suffix: Array("\n        return x\n    finally:\n        pass\n".utf8),
                                                   syntax: syntax, start: start)
        var logits = [Float](repeating: 0, count: tokenizer.vocabularySize)
        logits.withUnsafeMutableBufferPointer { processor.process($0, history: [0]) }
        var allowed = 0
        for id in logits.indices where logits[id] == 0 && !tokenizer.isSpecial(Int32(id)) {
            let bytes = tokenizer.bytes(of: Int32(id))
            #expect(PythonIndentationProcessor.mayOpenBlock(bytes[...]), "\(String(decoding: bytes, as: UTF8.self).debugDescription)")
            allowed += 1
        }
        #expect(allowed > 0)
    }
}

private extension UInt8 {
    var isLetter: Bool { (0x41...0x5A).contains(self) || (0x61...0x7A).contains(self) }
}
