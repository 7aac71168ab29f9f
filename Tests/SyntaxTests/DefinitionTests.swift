import Testing
@testable import Syntax

/// Definition extraction through our query files.
@Suite struct DefinitionTests {
    func definitions(_ language: String, _ code: String) throws -> [Definition] {
        let lang = try Language.named(language)
        return try DefinitionExtractor(language: lang).definitions(in: try Parser(language: lang).parse(code))
    }

    @Test func python() throws {
        let defs = try definitions("python", """
            def parse(data: bytes, strict=False, *rest, key: str = "k", **options) -> dict:
                '''Parse the data.

                Longer text.
                '''
                return {}

            class Account(Base):
                \"\"\"A bank account.\"\"\"
                def __init__(self, owner):
                    self.owner = owner

                @staticmethod
                def create(a, /, b):
                    return Account(a)

                async def fetch(self):
                    pass
            """)
        #expect(defs.map(\.qualifiedName) == ["parse", "Account", "Account.__init__", "Account.create", "Account.fetch"])
        #expect(defs.map(\.kind) == [.function, .class, .method, .method, .method])
        let parse = defs[0]
        #expect(parse.parameters.map(\.name) == ["data", "strict", "rest", "key", "options"])
        #expect(parse.parameters.map(\.kind) == [.regular, .regular, .variadic, .keywordOnly, .variadicKeyword])
        #expect(parse.parameters.map(\.type) == ["bytes", nil, nil, "str", nil])
        #expect(parse.parameters.map(\.defaultValue) == [nil, "False", nil, "\"k\"", nil])
        #expect(parse.returnType == "dict")
        #expect(parse.docstring == "Parse the data.\n\nLonger text.")
        #expect(parse.start.line == 1 && parse.end.line == 6)
        #expect(defs[1].docstring == "A bank account.")
        #expect(defs[2].parameters.first?.kind == .receiver && defs[2].owner == "Account")
        #expect(defs[3].decorators == ["@staticmethod"])
        #expect(defs[3].parameters.map(\.kind) == [.positionalOnly, .regular])
    }

    @Test func javascript() throws {
        let defs = try definitions("javascript", """
            /**
             * Adds numbers.
             */
            export function add(a, b = 2, ...rest) { return a + b; }

            // A counter.
            class Counter {
              constructor(start) { this.n = start; }
              inc(by = 1) { this.n += by; }
            }
            const square = x => x * x;
            const cube = (x) => x * x * x;
            """)
        #expect(defs.map(\.qualifiedName) == ["add", "Counter", "Counter.constructor", "Counter.inc", "square", "cube"])
        #expect(defs.map(\.kind) == [.function, .class, .method, .method, .function, .function])
        #expect(defs[0].parameters.map(\.name) == ["a", "b", "rest"])
        #expect(defs[0].parameters.map(\.kind) == [.regular, .regular, .variadic])
        #expect(defs[0].parameters[1].defaultValue == "2")
        #expect(defs[0].docstring == "Adds numbers.")
        #expect(defs[1].docstring == "A counter.")
        #expect(defs[4].parameters.map(\.name) == ["x"])
    }

    @Test func go() throws {
        let defs = try definitions("go", """
            package geo

            // Point is a point
            // in the plane.
            type Point struct{ X, Y int }

            // Add returns the sum.
            func Add(a, b int, rest ...int) int { return a + b }

            func (p *Point) Scale(k int) { p.X *= k }
            """)
        #expect(defs.map(\.qualifiedName) == ["Point", "Add", "Point.Scale"])
        #expect(defs.map(\.kind) == [.type, .function, .method])
        #expect(defs[0].docstring == "Point is a point\nin the plane.")
        #expect(defs[1].parameters.map(\.name) == ["a", "b", "rest"])
        #expect(defs[1].parameters.map(\.type) == ["int", "int", "int"])
        #expect(defs[1].parameters.map(\.kind) == [.regular, .regular, .variadic])
        #expect(defs[1].returnType == "int")
        #expect(defs[1].docstring == "Add returns the sum.")
        #expect(defs[2].docstring == nil)
    }

    @Test(arguments: Language.all)
    func everyQueryCompilesAndFindsSomething(language: Language) throws {
        let sample = try #require(LanguageSample.all.first { $0.language == language.name })
        let defs = try definitions(language.name, sample.valid)
        #expect(!defs.isEmpty, "no definitions found in the \(language) sample")
    }
}
