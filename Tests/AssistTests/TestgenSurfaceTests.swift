@testable import Assist
import Engine
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

    @Test func binaryInputsAndNewOnlyClasses() throws {
        let source = """
            MARK = b'='

            def encode(input, output, quotetabs):
                line = input.readline()
                output.write(line)

            def unhex(s):
                return s.decode('ascii')

            def is_mark(c):
                return c == b'='

            class Ratio:
                def __new__(cls, numerator=0, denominator=None, *, _normalize=True):
                    return super().__new__(cls)
            """
        let surface = try SurfaceExtractor().surface(of: source, moduleName: "qp")
        let pool = InputPool(surface: surface)
        let encode = surface.functions[0]
        // Streams by name and use; the module has bytes literals, so binary streams come first.
        #expect(encode.usage["input"] == "IO")
        let input = pool.pool(for: encode.parameters[0], of: encode)
        #expect(input.values.first?.hasPrefix("io.BytesIO(") == true)
        #expect(input.values.contains { $0.hasPrefix("io.StringIO(") })
        #expect(surface.functions[1].usage["s"] == "bytes")
        #expect(surface.functions[2].usage["c"] == "bytes")
        // Built through __new__: its parameters, without cls and the private keyword.
        #expect(surface.classNamed("Ratio")?.initParameters.map(\.name) == ["numerator", "denominator"])
        let builder = CaseBuilder(surface: surface)
        let unhex = try #require(builder.targets.firstIndex { $0.name == "unhex" })
        #expect(builder.targets[unhex].pools[0].contains("b'='"))
    }

    @Test func parametersUsedLikeAModuleClassGetItsInstances() throws {
        let source = """
            class Lexer:
                def __init__(self, text):
                    self.text = text
                def get_token(self):
                    return self.text

            def first(lx):
                return lx.get_token()

            def again(lexer, n):
                return lexer * n
            """
        let builder = CaseBuilder(surface: try SurfaceExtractor().surface(of: source, moduleName: "lx"))
        for name in ["first", "again"] {
            let index = try #require(builder.targets.firstIndex { $0.name == name })
            #expect(builder.targets[index].pools[0].first?.hasPrefix("lx.Lexer(") == true, "\(name)")
        }
    }

    @Test func operatorsBoundByAssignmentRunThroughTheOperators() throws {
        let source = """
            def _fallbacks(forward):
                def f(a, b):
                    return forward(a.n, b)
                def r(b, a):
                    return forward(a, b.n)
                return f, r

            class Num:
                def __init__(self, n: int):
                    self.n = n
                __add__, __radd__ = _fallbacks(lambda a, b: a + b)
                __neg__ = lambda self: Num(-self.n)
                __hash__ = None
                def __lt__(self, other):
                    return self.n < other
            """
        let surface = try SurfaceExtractor().surface(of: source, moduleName: "nm")
        let dunders = try #require(surface.classNamed("Num")?.dunders)
        #expect(dunders.isSuperset(of: ["__add__", "__radd__", "__neg__", "__lt__"]))
        #expect(!dunders.contains("__hash__"))
        let builder = CaseBuilder(surface: surface)
        func last(_ name: String, _ value: Int = 0) throws -> String {
            let index = try #require(builder.targets.firstIndex { $0.name == name })
            var choice = builder.defaultChoice(index)
            if !choice.isEmpty { choice[0] = value }
            return builder.steps(for: index, choice: choice, origin: "test").steps.last!.expr
        }
        #expect(try last("Num.__add__").hasPrefix("(num + "))
        #expect(try last("Num.__neg__") == "(-num)")
        // Reflected: the other operand on the left; other operand types come after a few instances.
        let radd = try #require(builder.targets.firstIndex { $0.name == "Num.__radd__" })
        let one = try #require(builder.targets[radd].pools[0].firstIndex(of: "1"))
        #expect(try last("Num.__radd__", one) == "(1 + num)")
        #expect(builder.targets[radd].pools[0].contains("2.5"))
    }

    @Test func publicAttributesSetInInitAreStepsBeforeTheCall() throws {
        let source = """
            class Lexer:
                def __init__(self, text, posix=False):
                    self.text = text
                    self.posix = posix
                    self.debug = 0
                    self.commenters = '#'
                    self.source = None
                    self._state = ' '
                def get_token(self):
                    if self.debug:
                        print(self.text)
                    return self.text
            """
        let surface = try SurfaceExtractor().surface(of: source, moduleName: "lx")
        let fields = try #require(surface.classNamed("Lexer")?.fields)
        // Parameters and private names are not fields; the literal assigned is the default.
        #expect(fields.map(\.name) == ["debug", "commenters", "source"])
        #expect(fields.first?.defaultValue == "0")
        let builder = CaseBuilder(surface: surface)
        let setter = try #require(builder.targets.firstIndex { $0.name == "Lexer.debug" })
        #expect(builder.targets[setter].isAttribute)
        #expect(builder.targets[setter].pools[0].contains("1"))
        let method = try #require(builder.targets.firstIndex { $0.name == "Lexer.get_token" })
        let one = try #require(builder.targets[setter].pools[0].firstIndex(of: "1"))
        let steps = builder.steps(for: method, choice: [], prelude: [(setter, [one])], origin: "test").steps
        #expect(steps.map(\.expr).contains("setattr(lexer, 'debug', 1)"))
        #expect(TestWriter.attributeAssignment("setattr(lexer, 'debug', 1)") == "lexer.debug = 1")
        #expect(TestWriter.attributeAssignment("setattr(lexer, 'x', 'a, b')") == "lexer.x = 'a, b'")
        #expect(TestWriter.attributeAssignment("lexer.get_token()") == nil)
    }

    @Test func untypedGenericParametersGetValuesOfEveryKind() throws {
        let source = """
            class Repr:
                def repr(self, x):
                    return self.repr1(x, 6)
                def repr1(self, x, level):
                    return str(x)[:level]
            def scale(n):
                return n * 2
            """
        let builder = CaseBuilder(surface: try SurfaceExtractor().surface(of: source, moduleName: "rp"))
        let repr = try #require(builder.targets.firstIndex { $0.name == "Repr.repr" })
        let pool = builder.targets[repr].pools[0]
        for value in ["(1, 'a', 2.5)", "list(range(12))", "{1: 'a', 2: 'b', 3: 'c', 4: 'd', 5: 'e', 6: 'f'}",
                      "'a string longer than forty characters, cut by limits'"] {
            #expect(pool.contains(value), "\(value)")
        }
        // Beyond the hint: they never count as typed values.
        #expect(builder.targets[repr].typed[0] < pool.firstIndex(of: "(1, 'a', 2.5)")!)
        // A name that says what it is gets no assortment.
        let scale = try #require(builder.targets.firstIndex { $0.name == "scale" })
        #expect(!builder.targets[scale].pools[0].contains("(1, 'a', 2.5)"))
    }

    @Test func copyPickleAndRoundWithDigitsRunThroughTheirFunctions() throws {
        let source = """
            class Money:
                def __init__(self, cents: int):
                    self.cents = cents
                def __round__(self, ndigits=None):
                    return self
                def __copy__(self):
                    return Money(self.cents)
                def __deepcopy__(self, memo):
                    return Money(self.cents)
                def __reduce__(self):
                    return (Money, (self.cents,))
            """
        let builder = CaseBuilder(surface: try SurfaceExtractor().surface(of: source, moduleName: "mn"))
        var calls: [String] = []
        for index in builder.targets.indices where builder.targets[index].className == "Money" {
            var choice = builder.defaultChoice(index)
            if !choice.isEmpty { choice[0] = 0 }
            calls.append(builder.steps(for: index, choice: choice, origin: "test").steps.last!.expr)
        }
        for call in ["round(money)", "round(money, 0)", "copy.copy(money)", "copy.deepcopy(money)",
                     "pickle.loads(pickle.dumps(money))"] {
            #expect(calls.contains(call), "\(call) in \(calls)")
        }
    }

    @Test func aPositionalOnlySelfIsTheReceiver() throws {
        let source = """
            _sentinel = {}

            class Template:
                def __init__(self, template):
                    self.template = template
                def substitute(self, mapping=_sentinel, /, **kws):
                    return mapping
            """
        let surface = try SurfaceExtractor().surface(of: source, moduleName: "tp")
        let method = try #require(surface.classNamed("Template")?.methods.first { $0.name == "substitute" })
        #expect(method.parameters.map(\.name) == ["mapping", "kws"])
        #expect(method.parameters.first?.defaultValue == "_sentinel")
    }

    @Test func privateHelpersExceptionsAndInheritedConstructorsAreTargets() throws {
        let source = """
            class Error(Exception):
                pass

            class ParseError(Error):
                def __init__(self, source, line):
                    Error.__init__(self, f'{source}:{line}')
                    self.source = source

                @property
                def where(self):
                    return self.source

            class LineError(ParseError):
                pass

            class Reader:
                def __init__(self, text, strict=True):
                    self.text = text

            class StrictReader(Reader):
                def lines(self):
                    return self.text.split()

            class _Chunk:
                def __init__(self, data):
                    self.data = data

                def size(self):
                    return len(self.data)

            def _parse(text, fmt='%d'):
                return text

            def __getattr__(name):
                raise AttributeError(name)
            """
        let surface = try SurfaceExtractor().surface(of: source, moduleName: "rd")
        #expect(surface.functions.isEmpty)
        #expect(surface.privateFunctions.map(\.name) == ["_parse"])
        // A class without `__init__` takes its nearest module base's parameters.
        #expect(surface.classNamed("StrictReader")?.initParameters.map(\.name) == ["text", "strict"])
        #expect(surface.classNamed("LineError")?.initParameters.map(\.name) == ["source", "line"])
        #expect(surface.classNamed("_Chunk")?.methods.map(\.name) == ["size"])
        let names = CaseBuilder(surface: surface).targets.map(\.name)
        // Exceptions with methods or properties of their own are targets; one with a constructor alone or a bare
        // one is not. Private helpers come last.
        #expect(names.contains("ParseError") && names.contains("ParseError.where"))
        #expect(!names.contains("Error") && !names.contains("LineError"))
        #expect(names.contains("_Chunk.size"))
        #expect(names.last == "_parse")
        #expect(!names.contains("__getattr__"))
    }

    /// A parameter named like a function that hands out lines (`tokenize(readline)`) gets streams' bound
    /// `readline` (bytes first where the module has bytes literals), whose contents are mutated like a stream's.
    @Test func readlineParametersGetBoundReadlinesOfStreams() throws {
        let source = """
            def tokens(readline):
                line = readline()
                if line.startswith(b'#'):
                    return None
                return line.split()
            """
        let surface = try SurfaceExtractor().surface(of: source, moduleName: "tok")
        let values = InputPool(surface: surface).pool(for: surface.functions[0].parameters[0], of: surface.functions[0]).values
        let readers = values.filter { $0.hasSuffix(".readline") }
        #expect(readers.first?.hasPrefix("io.BytesIO(b'") == true, "\(values)")
        #expect(readers.contains { $0.hasPrefix("io.StringIO('") })
        #expect(!readers.contains("io.BytesIO().readline"))
        let wrapped = try #require(ValueMutator.contentsWrapper("io.StringIO('a b\\n').readline"))
        #expect(wrapped.inner == "'a b\\n'" && wrapped.suffix == ").readline")
        #expect(Explorer.replacing("'a'", with: "'#'", in: "io.StringIO('a b\\n').readline") == "io.StringIO('# b\\n').readline")
    }

    @Test func parametersThatNameOrOpenAFileGetFilesWithContents() throws {
        let source = """
            def check(file):
                if os.path.isdir(file):
                    return os.listdir(file)
                with open(file) as f:
                    return f.read().endswith('.py')

            def load(filename, strict=False):
                return filename

            def count(items):
                return len(items)
            """
        let surface = try SurfaceExtractor().surface(of: source, moduleName: "nanny")
        let pool = InputPool(surface: surface)
        let check = surface.functions[0]
        #expect(check.usage["file"] == "path")
        let files = pool.pool(for: check.parameters[0], of: check).values.filter { $0.contains("tmp_path") }
        // Named with the module's file extension, written with text contents; one is a folder holding a file.
        #expect(files.contains { $0.hasPrefix("str(tmp_path / 'data.py') if (tmp_path / 'data.py').write_text('") })
        #expect(files.contains { $0.hasPrefix("str(tmp_path) if ") })
        let load = surface.functions[1]
        #expect(pool.pool(for: load.parameters[0], of: load).values.contains { $0.contains(".write_text(") })
        let count = surface.functions[2]
        #expect(!pool.pool(for: count.parameters[0], of: count).values.contains { $0.contains("tmp_path") })
        // The file's contents are mutated and substituted into like a stream's.
        let file = InputPool.fileWithContents("'line one\\n'", name: "data.txt")
        #expect(file == "str(tmp_path / 'data.txt') if (tmp_path / 'data.txt').write_text('line one\\n') >= 0 else ''")
        #expect(Explorer.replacing("'one'", with: "'two'", in: file)
                == "str(tmp_path / 'data.txt') if (tmp_path / 'data.txt').write_text('line two\\n') >= 0 else ''")
        var random = SeededGenerator(seed: 3)
        let mutator = ValueMutator(surface: surface)
        for _ in 0..<5 {
            let mutated = try #require(mutator.mutate(file, using: &random))
            #expect(mutated.hasPrefix("str(tmp_path / 'data.txt') if (tmp_path / 'data.txt').write_text("))
            #expect(mutated.hasSuffix(InputPool.fileSuffix))
        }
        let binary = InputPool.fileWithContents("b'RIFF'", name: "data.wav")
        #expect(binary.contains(".write_bytes(b'RIFF')"))
    }

    @Test func mappingsAreSetAndDeletedThroughTheOperatorModuleAndTextsGetDocuments() throws {
        let source = """
            class Table:
                def __init__(self):
                    self.rows = {}

                def __setitem__(self, key, value):
                    self.rows[key] = value

                def __delitem__(self, key):
                    del self.rows[key]

                def read_string(self, string, source='<string>'):
                    return string.splitlines()
            """
        let surface = try SurfaceExtractor().surface(of: source, moduleName: "tbl")
        let builder = CaseBuilder(surface: surface)
        let set = try #require(builder.targets.firstIndex { $0.name == "Table.__setitem__" })
        #expect(builder.targets[set].parameters.count == 2)
        #expect(builder.steps(for: set, choice: builder.defaultChoice(set), origin: "test").steps.last?.expr
                == "operator.setitem(table, 0, 'x')")
        let delete = try #require(builder.targets.firstIndex { $0.name == "Table.__delitem__" })
        #expect(builder.steps(for: delete, choice: builder.defaultChoice(delete), origin: "test").steps.last?.expr
                == "operator.delitem(table, 0)")
        // A parameter named like a whole text gets documents (here a sectioned key/value text) among its first values.
        let read = try #require(surface.classNamed("Table")?.methods.first)
        let values = InputPool(surface: surface).pool(for: read.parameters[0], of: read).values
        let document = try #require(values.firstIndex(of: "'[a]\\na = 1\\nhello = yes\\n'"))
        #expect(document < 12)
    }

    @Test func syntaxErrorsAreReported() {
        #expect(throws: TestgenError.self) {
            try SurfaceExtractor().surface(of: "def broken(:\n    pass\n", moduleName: "m")
        }
    }
}
