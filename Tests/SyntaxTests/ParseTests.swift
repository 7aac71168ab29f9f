import Testing
@testable import Syntax

/// Every registered grammar is built in, parses real code cleanly, and locates errors where they are.
@Suite struct ParseTests {
    @Test(arguments: LanguageSample.all)
    func validSampleHasNoErrors(sample: LanguageSample) throws {
        let parser = try Parser(language: try Language.named(sample.language))
        let tree = try parser.parse(sample.valid)
        #expect(!tree.hasErrors, "\(tree.syntaxErrors())")
        #expect(tree.syntaxErrors().isEmpty)
        #expect(tree.root.endByte == sample.valid.utf8.count)
    }

    @Test(arguments: LanguageSample.all)
    func invalidSampleReportsErrorPosition(sample: LanguageSample) throws {
        let parser = try Parser(language: try Language.named(sample.language))
        let errors = try parser.parse(sample.invalid).syntaxErrors()
        let first = try #require(errors.first)
        #expect(first.start.line == sample.errorLine && first.start.column == sample.errorColumn,
                "\(sample.language): got \(errors)")
    }

    @Test func missingTokenIsReported() throws {
        let tree = try Parser(language: try Language.named("python")).parse("def f(:\n    pass\n")
        let errors = tree.syntaxErrors()
        #expect(errors.map(\.kind) == [.missing])
        #expect(errors.first?.message == "invalid syntax")   // CPython's message class for Python
        #expect(errors.first?.start.line == 1 && errors.first?.start.column == 7)
    }

    @Test func endOfFileError() throws {
        let tree = try Parser(language: try Language.named("python")).parse("x = [1, 2\n")
        let error = try #require(tree.syntaxErrors().first)
        // As CPython reports it: the bracket, not the end of the file where the parser failed.
        #expect(error.message == "'[' was never closed")
        #expect(error.start.line == 1 && error.start.column == 5)
    }

    @Test func columnsCountCharactersNotBytes() throws {
        // "é" is two bytes: the ')' is the 10th character but the 11th byte.
        let tree = try Parser(language: try Language.named("python")).parse("s = ['é' )\n")
        let error = try #require(tree.syntaxErrors().first)
        #expect(error.start.column == 10)
        #expect(error.start.utf8Column == 11)
    }

    @Test func languageLookup() throws {
        #expect(Language.forPath("a/b/c.py")?.name == "python")
        #expect(Language.forPath("x.RS")?.name == "rust")
        #expect(Language.forPath("Makefile") == nil)
        #expect(Language.forPath(".py") == nil)
        #expect(try Language.named("JS").name == "javascript")
        #expect(throws: SyntaxLayerError.unknownLanguage("cobol")) { try Language.named("cobol") }
        for language in Language.all { #expect(language.isAvailable, "\(language) grammar missing") }
    }

    @Test func nodeNavigation() throws {
        let tree = try Parser(language: try Language.named("python")).parse("def f(a, b=2):\n    return a\n")
        let function = try #require(tree.root.namedChild(0))
        #expect(function.type == "function_definition")
        #expect(function.child(byField: "name")?.text == "f")
        #expect(function.child(byField: "parameters")?.namedChildren.map(\.type) == ["identifier", "default_parameter"])
        let name = try #require(tree.root.namedDescendant(forBytes: 4..<5))
        #expect(name.text == "f" && name.parent == function)
        #expect(name.ancestor(ofType: ["module"]) == tree.root)
        var types: [String] = []
        function.walk { types.append($0.type); return $0.type != "parameters" }
        #expect(types.first == "function_definition" && types.contains("return_statement"))
        #expect(!types.contains("default_parameter"))
    }

    @Test func queryCaptures() throws {
        let python = try Language.named("python")
        let tree = try Parser(language: python).parse("x = 1\ny = f(x)\n")
        let query = try Query(language: python, source: "(assignment left: (identifier) @lhs right: (_) @rhs)")
        let matches = query.matches(in: tree.root)
        #expect(matches.map { $0.first("lhs")?.text } == ["x", "y"])
        #expect(matches.map { $0.first("rhs")?.type } == ["integer", "call"])
        #expect(throws: SyntaxLayerError.self) { try Query(language: python, source: "(no_such_node) @x") }
    }

    @Test func sourceTextPositions() {
        let text = SourceText("ab\nçd\n\nx")
        #expect(text.lineStarts == [0, 3, 7, 8])
        #expect(text.location(ofByte: 5) == SourceLocation(line: 2, column: 2, utf8Column: 3, byteOffset: 5))
        #expect(text.byteOffset(line: 2, column: 2) == 5)
        #expect(text.byteOffset(line: 2, column: 99) == 6)
        #expect(text.byteOffset(line: 9, column: 1) == nil)
        var edited = text
        edited.replace(1..<4, with: Array("Z\n\nY".utf8))
        #expect(edited.lineStarts == SourceText(bytes: edited.bytes).lineStarts)
    }
}

/// Errors a user sees must say what to do.
@Suite struct ErrorMessageTests {
    @Test func missingGrammarNamesTheFix() {
        let message = SyntaxLayerError.grammarMissing("python").description
        #expect(message.contains("scripts/setup"))
        #expect(message.contains("grammars/python"))
    }

    @Test func incompatibleGrammarNamesThePinFile() {
        let message = SyntaxLayerError.incompatibleGrammar("swift", abi: 15).description
        #expect(message.contains("ABI 15") && message.contains("grammars/grammars.json"))
    }
}
