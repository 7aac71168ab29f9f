@testable import Assist
import Syntax
import Testing

/// What testgen reads from a module with tree-sitter, and the inputs it derives from it.
@Suite struct TestgenSurfaceTests {
    static let source = """
        from dataclasses import dataclass

        LIMIT = 42

        def clamp(value: int, low: int = 0, high: int = 100) -> int:
            \"\"\"Clamp a value.

            >>> clamp(150)
            100
            \"\"\"
            if value > 250:
                raise ValueError("too big")
            if value == -7:
                return 0
            return max(low, min(high, value))

        def _private(x):
            return x

        @dataclass
        class Point:
            x: float
            y: float = 0.0

        class Counter:
            def __init__(self, start: int = 0):
                self.count = start

            def step(self, by: int) -> int:
                if by == 3:
                    self.count = 0
                self.count += by
                return self.count

            @property
            def doubled(self) -> int:
                return self.count * 2

            def __len__(self):
                return self.count

            def _hidden(self):
                def inner():
                    pass

        def distance(a: Point, b: "Point | None" = None) -> float:
            return 0.0
        """

    func surface() throws -> ModuleSurface {
        try SurfaceExtractor().surface(of: Self.source, moduleName: "geometry")
    }

    @Test func findsPublicFunctionsClassesAndMethods() throws {
        let surface = try surface()
        #expect(surface.functions.map(\.name) == ["clamp", "distance"])
        #expect(surface.classes.map(\.name) == ["Point", "Counter"])
        let counter = try #require(surface.classNamed("Counter"))
        #expect(counter.methods.map(\.name) == ["step", "doubled"])
        #expect(counter.methods.last?.kind == .property)
        #expect(counter.dunders.contains("__len__"))
        #expect(counter.initParameters.map(\.name) == ["start"])
        #expect(surface.classNamed("Point")?.initParameters.map(\.name) == ["x", "y"])
    }

    @Test func minesComparedConstantsAndDocstringExamples() throws {
        let clamp = try #require(try surface().functions.first)
        #expect(clamp.constants.prefix(2) == ["250", "-7"])
        #expect(clamp.constants.contains("\"too big\""))
        #expect(clamp.examples == ["clamp(150)"])
        #expect(try surface().moduleConstants == ["42"])
    }

    @Test func poolsFollowHintsConstantsAndEdges() throws {
        let surface = try surface()
        let pool = InputPool(surface: surface)
        let clamp = surface.functions[0]
        let value = pool.pool(for: clamp.parameters[0], of: clamp)
        // Mined constants with their neighbours, and the edge values.
        for expected in ["250", "249", "251", "-7", "-8", "0", "-1", "2**63", "10**100"] {
            #expect(value.values.contains(expected), "missing \(expected)")
        }
        // None fits no int hint: it is an edge value after the typed ones.
        let none = try #require(value.values.firstIndex(of: "None"))
        #expect(none >= value.typed)
        let distance = surface.functions[1]
        let point = pool.pool(for: distance.parameters[0], of: distance)
        #expect(point.values.contains { $0.hasPrefix("geometry.Point(") })
        let optional = pool.pool(for: distance.parameters[1], of: distance)
        #expect(optional.values.prefix(optional.typed).contains("None"))
    }

    @Test func docstringExamplesAreQualified() throws {
        let surface = try surface()
        let builder = CaseBuilder(surface: surface)
        let parser = try Syntax.Parser(language: .named("python"))
        let testCase = try #require(builder.docstringCase(surface.functions[0], parser: parser))
        #expect(testCase.steps.map(\.expr) == ["geometry.clamp(150)"])
    }

    @Test func methodCasesConstructTheReceiverFirst() throws {
        let builder = CaseBuilder(surface: try surface())
        let index = try #require(builder.targets.firstIndex { $0.name == "Counter.step" })
        let testCase = builder.steps(for: index, choice: builder.defaultChoice(index), origin: "test")
        #expect(testCase.steps.map(\.expr) == ["geometry.Counter()", "counter.step(1)"])
        #expect(testCase.watch == ["counter"])
    }

    @Test func syntaxErrorsAreReported() {
        #expect(throws: TestgenError.self) {
            try SurfaceExtractor().surface(of: "def broken(:\n    pass\n", moduleName: "m")
        }
    }
}
