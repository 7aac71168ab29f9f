@testable import Assist
import Engine
import Testing

/// Constant-guided value mutation: string literals decode, mutations stay valid literals and use the module's own
/// strings.
@Suite struct TestgenValueMutatorTests {
    @Test func decodesPlainStringLiterals() {
        #expect(ValueMutator.stringContent("'a[b'") == "a[b")
        #expect(ValueMutator.stringContent("\"it's\"") == "it's")
        #expect(ValueMutator.stringContent("'a\\nb\\\\'") == "a\nb\\")
        #expect(ValueMutator.stringContent("'\\x41'") == "A")
        #expect(ValueMutator.stringContent("r'[!'") == "[!")
        #expect(ValueMutator.stringContent("r'\\d'") == nil)  // raw with a backslash: not decoded
        #expect(ValueMutator.stringContent("b'abc'") == nil)
        #expect(ValueMutator.stringContent("f'{x}'") == nil)
        #expect(ValueMutator.stringContent("42") == nil)
    }

    @Test func mutationsAreLiteralsBuiltFromTheModulesStrings() throws {
        let source = """
            def translate(pat):
                if pat == '[!':
                    return 1
                if pat.startswith('--'):
                    return 2
                return 0
            """
        let surface = try SurfaceExtractor().surface(of: source, moduleName: "m")
        let mutator = ValueMutator(surface: surface)
        #expect(mutator.mined.contains("[!"))
        #expect(mutator.mined.contains("--"))
        var random = SeededGenerator(seed: 7)
        var sawMined = false
        for _ in 0..<300 {
            let mutated = try #require(mutator.mutate("'ab'", using: &random))
            let text = try #require(ValueMutator.stringContent(mutated), "not a literal: \(mutated)")
            if text.contains("[!") || text.contains("--") { sawMined = true }
            let list = try #require(mutator.mutate("['x', 'y']", using: &random))
            #expect(list.hasPrefix("[") && list.hasSuffix("]"))
            let number = try #require(mutator.mutate("5", using: &random))
            #expect(Int(number) != nil)
        }
        #expect(sawMined)
        #expect(mutator.mutate("object()", using: &random) == nil)
    }

    @Test func bytesLiteralsAndStreamsAreMutatedToo() throws {
        #expect(ValueMutator.bytesContent("b'a=\\x00\\n'") == "a=\u{0}\n")
        #expect(ValueMutator.bytesLiteral("a=\u{0}\n\u{ff}'") == "b'a=\\x00\\n\\xff\\''")
        #expect(ValueMutator.bytesContent(ValueMutator.bytesLiteral("x\u{ff}\\")) == "x\u{ff}\\")
        let surface = try SurfaceExtractor().surface(of: "def f(data):\n    return data == b'=='\n", moduleName: "m")
        var mutator = ValueMutator(surface: surface)
        #expect(mutator.mined.contains("=="))
        var random = SeededGenerator(seed: 3)
        for _ in 0..<100 {
            let mutated = try #require(mutator.mutate("b'ab'", using: &random))
            #expect(ValueMutator.bytesContent(mutated) != nil, "not a bytes literal: \(mutated)")
            let stream = try #require(mutator.mutate("io.BytesIO(b'ab')", using: &random))
            #expect(stream.hasPrefix("io.BytesIO(b'") && stream.hasSuffix("')"))
            let text = try #require(mutator.mutate("io.StringIO()", using: &random))
            #expect(text.hasPrefix("io.StringIO('") && text.hasSuffix("')"))
        }
        var sawKey = false
        for _ in 0..<60 {
            let dict = try #require(mutator.mutate("{'a': 1}", using: &random))
            #expect(dict.hasPrefix("{") && dict.hasSuffix("}"), "\(dict)")
            if dict.contains("'=='") { sawKey = true }
        }
        #expect(sawKey)  // a key from the module's strings
        // Values learnt from the comparison log join the mined strings and integers, once.
        let learnt = [mutator.learn("'EOF'"), mutator.learn("'EOF'"), mutator.learn("1234"), mutator.learn("object()")]
        #expect(learnt == [true, false, true, false])
        #expect(mutator.mined.contains("EOF") && mutator.integers.contains(1234))
    }

    @Test func comparedValuesAreSubstitutedIntoArguments() {
        // Input-to-state: the compared value replaces what the input had where the module compared it.
        #expect(Explorer.replacing("'abc'", with: "'end'", in: "'abc'") == "'end'")
        #expect(Explorer.replacing("'b'", with: "'\"'", in: "'abc'") == "'a\"c'")
        #expect(Explorer.replacing("5", with: "42", in: "[1, 5, 15]") == "[1, 42, 15]")
        #expect(Explorer.replacing("5", with: "42", in: "[15]") == nil)
        #expect(Explorer.replacing("b'line\\n'", with: b(), in: "io.BytesIO(b'line\\nx')") == "io.BytesIO(b'=x')")
        #expect(Explorer.replacing("'x'", with: "'y'", in: "m.Box('x', 2)") == "m.Box('y', 2)")
        #expect(Explorer.replacing("'q'", with: "'y'", in: "'abc'") == nil)
    }

    private func b() -> String { "b'='" }
}
