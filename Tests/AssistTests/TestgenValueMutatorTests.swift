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
}
