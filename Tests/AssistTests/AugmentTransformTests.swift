import XCTest
@testable import Assist

/// Each of the twelve transforms on small inputs (exact output) and tricky ones (shadowing, closures, f-strings,
/// decorators, comprehension scopes, class bodies, walrus, star-args, async, try/except names, `del`).
final class AugmentTransformTests: XCTestCase {
    func apply(_ name: String, _ source: String, seed: UInt64 = 0) throws -> String {
        try AugmentHarness.apply(name, source, seed: seed)
    }

    // MARK: rename-locals

    func testRenameLocalsExact() throws {
        let source = "def f(a):\n    total = 0\n    for item in a:\n        total += item\n    return total\n"
        XCTAssertEqual(try apply("rename-locals", source),
                       "def f(a):\n    total_r = 0\n    for item_r in a:\n        total_r += item_r\n    return total_r\n")
    }

    func testRenameLocalsLeavesGlobalsNonlocalsAndShadowedNames() throws {
        let source = """
            counter = 0
            def bump():
                global counter
                counter += 1
                seen = counter
                return seen

            def outer():
                count = 0
                def inner():
                    nonlocal count
                    count += 1
                    return count
                inner()
                return count

            def comp(xs):
                x = 10
                ys = [x * 2 for x in xs]
                return x, ys

            def cls_scope():
                width = 5
                class Box:
                    width = 3
                return width, Box.width

            print(bump(), outer(), comp([1, 2]), cls_scope())

            """
        let out = try AugmentHarness.sameBehaviour("rename-locals", source)
        XCTAssertTrue(out.contains("global counter\n    counter += 1\n    seen_r = counter"), out)
        XCTAssertTrue(out.contains("nonlocal count\n        count += 1"), out)
        XCTAssertTrue(out.contains("    x = 10\n    ys_r = [x * 2 for x in xs]\n    return x, ys_r"), out)
        XCTAssertTrue(out.contains("    width = 5\n    class Box:\n        width = 3\n    return width, Box.width"), out)
    }

    func testRenameLocalsFollowsClosuresFStringsTryDelWalrus() throws {
        let source = """
            import functools

            def trace(fn):
                @functools.wraps(fn)
                def wrapper(*args, **kwargs):
                    value = fn(*args, **kwargs)
                    return value
                return wrapper

            @trace
            def scale(xs, k):
                factor = k * 2
                mul = lambda x: x * factor
                label = "scaled"
                try:
                    ratio = 1 / (len(xs) - len(xs))
                except ZeroDivisionError as err:
                    problem = type(err).__name__
                junk = 1
                del junk
                if (n := len(xs)) > 1:
                    return f"{label}: {[mul(x) for x in xs]} n={n} {problem}"
                return None

            async def fetch(v):
                waited = v + 1
                return waited

            import asyncio
            print(scale([1, 2, 3], 2), asyncio.run(fetch(1)))

            """
        let out = try AugmentHarness.sameBehaviour("rename-locals", source)
        XCTAssertTrue(out.contains("mul_r = lambda x: x * factor_r"), out)
        XCTAssertTrue(out.contains("f\"{label_r}: {[mul_r(x) for x in xs]} n={n_r} {problem_r}\""), out)
        XCTAssertTrue(out.contains("except ZeroDivisionError as err_r:"), out)
        XCTAssertTrue(out.contains("del junk_r"), out)
        XCTAssertTrue(out.contains("waited_r = v + 1"), out)
        XCTAssertTrue(out.contains("value_r = fn(*args, **kwargs)"), out)
        XCTAssertTrue(out.contains("@functools.wraps(fn)"), out)
    }

    func testRenameLocalsSkipsFunctionsThatReadVariablesByName() throws {
        let source = """
            def a():
                x = 1
                return locals()

            def b():
                y = 2
                return eval("y + 1")

            def c():
                z = 3
                return f"{z=}"

            """
        XCTAssertEqual(try apply("rename-locals", source), source)
    }

    // MARK: rename-params

    func testRenameParamsExact() throws {
        let source = "def _area(width, height=2):\n    return width * height\n\nprint(_area(3, height=4), _area(width=1))\n"
        let out = try AugmentHarness.sameBehaviour("rename-params", source)
        XCTAssertEqual(out, "def _area(width_r, height_r=2):\n    return width_r * height_r\n\nprint(_area(3, height_r=4), _area(width_r=1))\n")
        let nested = "def outer(n):\n    def step(k, by=1):\n        return k + by\n    return step(n, by=2)\n\nprint(outer(1))\n"
        XCTAssertEqual(try AugmentHarness.sameBehaviour("rename-params", nested),
                       "def outer(n):\n    def step(k_r, by_r=1):\n        return k_r + by_r\n    return step(n, by_r=2)\n\nprint(outer(1))\n")
    }

    func testRenameParamsLeavesUnresolvableFunctionsAlone() throws {
        let source = """
            import functools

            def passed(a, b):
                return a - b

            handlers = [passed]

            def splatted(a, b):
                return a + b

            print(splatted(**{"a": 1, "b": 2}))

            @functools.lru_cache
            def cached(a):
                return a

            class K:
                def method(self, a):
                    return a

            def _shadow(a, b):
                return [a for a in range(b)]

            def _posonly(a, /, b):
                return a

            def public(a):
                return a

            print(handlers[0](b=1, a=2), cached(a=3), K().method(a=4), _shadow(1, 2), _posonly(1, b=2), public(a=5))

            """
        XCTAssertEqual(try AugmentHarness.sameBehaviour("rename-params", source), source.replacingOccurrences(
            of: "def _shadow(a, b):\n    return [a for a in range(b)]", with: "def _shadow(a, b_r):\n    return [a for a in range(b_r)]"))
    }

    // MARK: reorder-imports

    func testReorderImportsExact() throws {
        XCTAssertEqual(try apply("reorder-imports", "import os\nimport sys\n\nprint(os.sep, sys.byteorder)\n"),
                       "import sys\nimport os\n\nprint(os.sep, sys.byteorder)\n")
    }

    func testReorderImportsKeepsFutureRelativeAndClashingImports() throws {
        let source = """
            from __future__ import annotations
            import os
            import os.path
            try:
                import json
                import csv
            except ImportError:
                json = None

            """
        XCTAssertEqual(try apply("reorder-imports", source), source)
        let shuffled = try AugmentHarness.sameBehaviour(
            "reorder-imports", "import math\nfrom collections import OrderedDict as OD\nimport string\nprint(math.pi, OD, string.digits)\n", seed: 3)
        XCTAssertNotEqual(shuffled.components(separatedBy: "\n").prefix(3).joined(),
                          "import mathfrom collections import OrderedDict as ODimport string")
    }

    // MARK: annotations

    func testAnnotationsRemovedExact() throws {
        let source = "def f(a: int, b: str = \"x\", *rest: int) -> str:\n    c: int = 1\n    return b * (a + c)\n\nprint(f(2))\n"
        XCTAssertEqual(try AugmentHarness.sameBehaviour("annotations", source),
                       "def f(a, b=\"x\", *rest):\n    c = 1\n    return b * (a + c)\n\nprint(f(2))\n")
    }

    func testAnnotationsAddedExact() throws {
        let source = "def show(n=0, s='a', flag=True, other=None):\n    print(n, s, flag, other)\n\nshow()\n"
        XCTAssertEqual(try AugmentHarness.sameBehaviour("annotations", source),
                       "def show(n: int = 0, s: str = 'a', flag: bool = True, other=None) -> None:\n    print(n, s, flag, other)\n\nshow()\n")
    }

    func testAnnotationsLeftWhereRunTimeReadsThem() throws {
        let dataclass = "from dataclasses import dataclass\n\n@dataclass\nclass P:\n    x: int = 0\n\ndef f(a: int) -> int:\n    return a\n"
        XCTAssertEqual(try apply("annotations", dataclass), dataclass)
        let decorated = "import functools\n\n@functools.cache\ndef f(a: int) -> int:\n    return a\n"
        XCTAssertEqual(try apply("annotations", decorated), decorated)
        let shadowed = "int = str\n\ndef f(n=0):\n    return n\n"
        XCTAssertFalse(try apply("annotations", shadowed).contains("n: int"))
        let generator = "def g(n=1):\n    yield n\n"
        XCTAssertEqual(try apply("annotations", generator), "def g(n: int = 1):\n    yield n\n")
    }

    // MARK: docs-comments

    func testDocsCommentsExact() throws {
        let source = "# -*- coding: utf-8 -*-\n\"\"\"Module isn't documented.\"\"\"\n# a comment\nimport os  # trailing\n\ndef f():\n    \"\"\"Don't.\"\"\"\n\nx = 1  # type: int\n"
        XCTAssertEqual(try apply("docs-comments", source),
                       "# -*- coding: utf-8 -*-\nimport os\n\ndef f():\n    pass\n\nx = 1  # type: int\n")
    }

    func testDocsCommentsRewritesKeepBehaviour() throws {
        let source = """
            class A:
                '''Summary line.

                More text with "quotes".
                '''
                # only a comment in between
                def m(self):
                    \"\"\"Say it.\"\"\"
                    return 1  #no space

            print(A().m(), A.__name__)

            """
        for seed in 0..<6 as Range<UInt64> {
            let out = try AugmentHarness.sameBehaviour("docs-comments", source, seed: seed)
            XCTAssertFalse(out.contains("More text with \"quotes\".\n    \"\"\""), "the other triple quote would clash:\n\(out)")
        }
    }

    // MARK: reformat

    func testReformatExact() throws {
        let source = "x = max(1, 2)\ny = min(\n    3,\n    4,\n)\ns = 'hi'\nt = \"it's\"\nu = f\"{ {'k': 1}['k'] }\"\nprint(x, y, s, t, u)\n"
        XCTAssertEqual(try AugmentHarness.sameBehaviour("reformat", source),
                       "x = max(\n    1,\n    2\n)\ny = min(3, 4)\ns = \"hi\"\nt = \"it's\"\nu = f\"{ {'k': 1}['k'] }\"\nprint(\n    x,\n    y,\n    s,\n    t,\n    u\n)\n")
    }

    func testReformatKeepsCommentsAndBackslashes() throws {
        let source = "v = max(\n    1,  # one\n    2,\n)\nw = 'a\\'b'\n"
        XCTAssertEqual(try apply("reformat", source), source)
    }

    // MARK: loop-comprehension

    func testLoopToComprehensionExact() throws {
        let source = "def evens(xs):\n    out = []\n    for x in xs:\n        if x % 2 == 0:\n            out.append(x * 10)\n    return out\n\nprint(evens(range(7)))\n"
        XCTAssertEqual(try AugmentHarness.sameBehaviour("loop-comprehension", source),
                       "def evens(xs):\n    out = [x * 10 for x in xs if x % 2 == 0]\n    return out\n\nprint(evens(range(7)))\n")
    }

    func testComprehensionToLoopExact() throws {
        let source = "def squares(xs):\n    ys = [x * x for x in xs]\n    return ys\n\nprint(squares([1, 2, 3]))\n"
        XCTAssertEqual(try AugmentHarness.sameBehaviour("loop-comprehension", source),
                       "def squares(xs):\n    ys = []\n    for x in xs:\n        ys.append(x * x)\n    return ys\n\nprint(squares([1, 2, 3]))\n")
    }

    func testLoopComprehensionLeavesInequivalentLoops() throws {
        let source = """
            def leaks(xs):
                out = []
                for x in xs:
                    out.append(x)
                return out, x

            def self_ref(xs):
                out = []
                for x in xs:
                    out.append(len(out))
                return out

            class Table:
                scale = 2
                rows = []
                for r in range(3):
                    rows.append(r * scale)

            def guarded(xs):
                try:
                    out = []
                    for x in xs:
                        out.append(1 / x)
                except ZeroDivisionError:
                    pass
                return 0

            def shadowing(x, xs):
                ys = [x for x in xs]
                return x, ys

            async def agen(xs):
                out = []
                async for x in xs:
                    out.append(x)
                return out

            print(leaks([1]), self_ref([1, 2]), Table.rows, guarded([1, 0]), shadowing(9, [1]))

            """
        XCTAssertEqual(try AugmentHarness.sameBehaviour("loop-comprehension", source), source)
    }

    // MARK: invert-if

    func testInvertIfExact() throws {
        let source = "def f(x, ok):\n    if x > 0:\n        a = 1\n    else:\n        a = 2\n    if x is None:\n        return 0\n    else:\n        b = 3\n    if not ok:\n        return a\n    else:\n        return b\n\nprint(f(1, True), f(-1, False))\n"
        XCTAssertEqual(try AugmentHarness.sameBehaviour("invert-if", source),
                       "def f(x, ok):\n    if not (x > 0):\n        a = 2\n    else:\n        a = 1\n    if x is not None:\n        b = 3\n    else:\n        return 0\n    if ok:\n        return b\n    else:\n        return a\n\nprint(f(1, True), f(-1, False))\n")
    }

    func testInvertIfLeavesElifAndCommentsAlone() throws {
        let source = "def f(x):\n    if x:\n        return 1\n    elif x is None:\n        return 2\n    else:\n        return 3\n\ndef g(x):\n    if x:\n        return 1  # one\n    else:\n        return 2\n"
        XCTAssertEqual(try apply("invert-if", source), source)
        // Walrus and `in` conditions keep their meaning.
        try AugmentHarness.sameBehaviour("invert-if", "def h(xs):\n    if (n := len(xs)) in (0, 1):\n        return 'small', n\n    else:\n        return 'big', n\n\nprint(h([]), h([1, 2]))\n")
    }

    // MARK: extract-local

    func testExtractLocalExact() throws {
        XCTAssertEqual(try AugmentHarness.sameBehaviour("extract-local", "def f(a):\n    return len(a)\n\nprint(f('abc'))\n"),
                       "def f(a):\n    len_r = len(a)\n    return len_r\n\nprint(f('abc'))\n")
    }

    func testExtractLocalKeepsEvaluationOrder() throws {
        let source = """
            log = []
            def g(x):
                log.append(('g', x))
                return x
            def h(x):
                log.append(('h', x))
                return x
            def f(a, b, c):
                value = g(a) + h(b)
                other = c and h(c)
                third = [g(i) for i in range(2)]
                return value, other, third, (lambda: g(9))()
            print(f(1, 2, 3), log)

            """
        for seed in 0..<8 as Range<UInt64> {
            let out = try AugmentHarness.sameBehaviour("extract-local", source, seed: seed)
            XCTAssertFalse(out.contains("= h(b)\n"), "h(b) runs after g(a); extracting it reorders them:\n\(out)")
            XCTAssertFalse(out.contains("= h(c)\n"), "h(c) runs only when c is true:\n\(out)")
            XCTAssertFalse(out.contains("= g(i)\n") || out.contains("= g(9)\n"), out)
        }
    }

    // MARK: inline-local

    func testInlineLocalExact() throws {
        XCTAssertEqual(try AugmentHarness.sameBehaviour("inline-local", "def f(a):\n    n = len(a)\n    return n + 1\n\nprint(f('ab'))\n"),
                       "def f(a):\n    return len(a) + 1\n\nprint(f('ab'))\n")
        XCTAssertEqual(try apply("inline-local", "def f(a, b):\n    s = a + b\n    return s * 2\n"),
                       "def f(a, b):\n    return (a + b) * 2\n")
    }

    func testInlineLocalLeavesUnsafeLocals() throws {
        let source = """
            calls = []
            def g():
                calls.append('g')
                return 1
            def h():
                calls.append('h')
                return 2
            def twice(a):
                n = len(a)
                return n + n
            def ordered():
                x = g()
                return h() + x
            def closure():
                y = g()
                return lambda: y
            def later():
                z = g()
                print(z)
                return z
            def shadowed():
                w = g()
                return [w for w in range(2)]
            print(twice('ab'), ordered(), closure()(), later(), shadowed(), calls)

            """
        XCTAssertEqual(try AugmentHarness.sameBehaviour("inline-local", source), source)
    }

    // MARK: reorder-kwargs

    func testReorderKwargsExact() throws {
        XCTAssertEqual(try AugmentHarness.sameBehaviour("reorder-kwargs", "def f(a=0, b=0):\n    return a - b\n\nx = 5\nprint(f(a=1, b=x), sep='')\n"),
                       "def f(a=0, b=0):\n    return a - b\n\nx = 5\nprint(f(b=x, a=1), sep='')\n")
    }

    func testReorderKwargsLeavesEffectsAndOrderKeepingCallees() throws {
        let source = """
            seen = []
            def g(v):
                seen.append(v)
                return v
            def h(**kw):
                return list(kw)
            def k(a=0, b=0):
                return a + b
            print(k(a=g(1), b=g(2)), dict(x=1, y=2), h(p=1, q=2), seen)

            """
        XCTAssertEqual(try AugmentHarness.sameBehaviour("reorder-kwargs", source), source)
    }

    // MARK: reorder-statements

    func testReorderStatementsExact() throws {
        XCTAssertEqual(try AugmentHarness.sameBehaviour("reorder-statements", "def f(c):\n    a = 1\n    b = c * 2\n    return a + b\n\nprint(f(3))\n"),
                       "def f(c):\n    b = c * 2\n    a = 1\n    return a + b\n\nprint(f(3))\n")
    }

    func testReorderStatementsRespectsDataFlowAndClassBodies() throws {
        let source = """
            import enum
            def f(c):
                a = c
                b = a + 1
                x = g()
                y = 2
                return a, b, x, y
            def g():
                return 0
            class Color(enum.Enum):
                RED = 1
                GREEN = 2
            print(f(1), list(Color))

            """
        XCTAssertEqual(try AugmentHarness.sameBehaviour("reorder-statements", source), source)
    }
}
