#!/usr/bin/env python3
"""Regenerates Tests/Fixtures/python/validity.json: CPython's verdict on Python snippets, for PythonValidity.

The snippets are CPython's own syntax-error test inputs (the doctest examples of Lib/test/test_syntax.py and
the strings given to check_syntax_error in Lib/test/test_grammar.py, read from the installed interpreter's
test package as data), plus the hand-written cases below (what tree-sitter-python accepts and CPython does
not, and valid code that looks close to it). Each snippet is compiled with compile(src, "<case>", "exec") and
recorded with whether it compiled, and if not the error's class, message, line and column.

Pinned: CPython 3.11 (the messages and a few verdicts differ between versions). Run with python3.11:
    python3.11 tools/python_validity_cases.py
"""
import ast
import doctest
import json
import os
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Tests", "Fixtures", "python", "validity.json")

# Hand-written: the kinds of mistakes a model makes that tree-sitter-python lets through, and valid
# neighbours of each (so the checks are held to accept what CPython accepts).
HANDWRITTEN = [
    "if a:\n    x = 1\nelse:\n    y = 2\nelse:\n    z = 3\n",
    "if a:\n    x = 1\nelse:\n    y = 2\nelif b:\n    z = 3\n",
    "if a:\n    x = 1\nelif b:\n    y = 2\nelse:\n    z = 3\n",
    "with f(1) as f(2):\n    pass\n",
    "with f(1) as g:\n    pass\n",
    "with f(1) as (a, b):\n    pass\n",
    "with f(1) as a.b, g() as c[0]:\n    pass\n",
    "x = a +\nb\n",
    "x = (a +\n     b)\n",
    "x = a + \\\n    b\n",
    "return 1\n",
    "def f():\n    return 1\n",
    "class C:\n    return 1\n",
    "def f():\n    class C:\n        return 1\n",
    "yield 1\n",
    "def f():\n    yield 1\n",
    "def f():\n    x = [(yield) for i in y]\n",
    "await x\n",
    "def f():\n    await x\n",
    "async def f():\n    await x\n",
    "async def f():\n    return [await x for x in y]\n",
    "def f():\n    return [await x for x in y]\n",
    "async def f():\n    async for x in y:\n        pass\n",
    "def f():\n    async for x in y:\n        pass\n",
    "def f():\n    async with x:\n        pass\n",
    "async def f():\n    async with x as y:\n        pass\n",
    "break\n",
    "continue\n",
    "for x in y:\n    break\n",
    "while x:\n    if y:\n        continue\n",
    "for x in y:\n    def f():\n        break\n",
    "for x in y:\n    pass\nelse:\n    break\n",
    "while True:\n    try:\n        pass\n    finally:\n        continue\n",
    "nonlocal x\n",
    "def f():\n    x = 1\n    def g():\n        nonlocal x\n        x = 2\n",
    "def f(a, a):\n    pass\n",
    "def f(a, *, a):\n    pass\n",
    "def f(a, b=1, c):\n    pass\n",
    "def f(a, b=1, *, c):\n    pass\n",
    "def f(a, b=1, *c, d, **e):\n    pass\n",
    "def f(*):\n    pass\n",
    "def f(*, **k):\n    pass\n",
    "def f(*, a):\n    pass\n",
    "def f(**k, a):\n    pass\n",
    "def f(a, /, b, *, c):\n    pass\n",
    "def f(/, a):\n    pass\n",
    "def f(a, *, b, /):\n    pass\n",
    "lambda a, a: 1\n",
    "lambda a=1, b: 1\n",
    "lambda *, a=1: a\n",
    "f(a=1, a=2)\n",
    "f(a=1, b=2)\n",
    "f(a=1, 2)\n",
    "f(1, a=2)\n",
    "f(**a, b)\n",
    "f(**a, *b)\n",
    "f(*a, **b)\n",
    "f(*a, b, c=1, *d, **e)\n",
    "f(x for x in y)\n",
    "f(x for x in y, 1)\n",
    "f((x for x in y), 1)\n",
    "print x\n",
    "print(x)\n",
    "print >>f, x\n",
    "exec \"x = 1\"\n",
    "exec(\"x = 1\")\n",
    "for f() in y:\n    pass\n",
    "for a.b in y:\n    pass\n",
    "for a, (b, c) in y:\n    pass\n",
    "del f()\n",
    "del a, b[0], c.d\n",
    "del (a, b)\n",
    "del *a\n",
    "x += 1, 2\n",
    "a, b += 1\n",
    "a.b += 1\n",
    "f() += 1\n",
    "*a = 1\n",
    "*a, b = c\n",
    "*a, *b = c\n",
    "x = *a\n",
    "x = *a, b\n",
    "*a\n",
    "return *a, b\n",
    "def f():\n    return *a, b\n",
    "def f():\n    return *a\n",
    "(*a)\n",
    "[*a, *b]\n",
    "y := 1\n",
    "(y := 1)\n",
    "x = y := 1\n",
    "x = (y := 1)\n",
    "if y := f():\n    pass\n",
    "while (y := f()) is not None:\n    pass\n",
    "f(a=b := 1)\n",
    "f(b := 1)\n",
    "def f(a=b := 1):\n    pass\n",
    "[y := 1, 2]\n",
    "[x for x in y if (z := x)]\n",
    "[x for x in (z := y)]\n",
    "a[b := 1]\n",
    "try:\n    pass\nexcept E, e:\n    pass\n",
    "try:\n    pass\nexcept (E, F) as e:\n    pass\n",
    "try:\n    pass\nexcept:\n    pass\nexcept E:\n    pass\n",
    "try:\n    pass\nexcept E:\n    pass\nexcept:\n    pass\n",
    "x = 0777\n",
    "x = 0o777\n",
    "x = 000\n",
    "x = 1L\n",
    "x = 1_000\n",
    "x = 1__000\n",
    "x = 1_\n",
    "a <> b\n",
    "a != b\n",
    "async = 1\n",
    "await = 1\n",
    "match = 1\n",
    "type = 1\n",
    "print = 1\n",
    "def f():\n    from os import *\n",
    "from os import *\n",
    "a, b: int = 1, 2\n",
    "a: int = 1\n",
    "(a): int = 1\n",
    "a.b: int\n",
    "[x for x in a, b]\n",
    "[x for x in (a, b)]\n",
    "if x:\n\tif y:\n        pass\n",
    "if x:\n\tpass\n",
    "if x:\n        a = 1\n\tb = 2\n",
    "if x:\n    a = (1 +\n\t2)\n",
    "x = 1 if y else 2\n",
    "@decorator\ndef f():\n    pass\n",
    "@(x := y)\ndef f():\n    pass\n",
    "class C(a=1, a=2):\n    pass\n",
    "class C(Base, metaclass=M):\n    pass\n",
    "x = [\n    1,\n    2,\n]\n",
    "x = 1; y = 2\n",
    "if x: y = 1\n",
    "def f(x):\n    global x\n",
    "x = 1 +\n",
    "if x\n    pass\n",
    "def f(x:\n    return x\n",
    "x = (1,\n",
    "x = 'abc\n",
    "if x:\npass\n",
    "if x:\n    a = 1\n  b = 2\n",
    "  x = 1\n",
    "x = 1\n    y = 2\n",
    "f(**a, *b, c)\n",
    "None = 1\n",
    "x.None = 1\n",
    "for x in range(3):\n    pass\nelse:\n    pass\n",
    "assert x, 'msg'\n",
    "raise E, v\n",
    "raise E from e\n",
    "import a.b as c\n",
    "from . import a\n",
    "global x\n",
    "def f():\n    global x\n    x = 1\n",
    "with open(f) as g, open(h) as i:\n    pass\n",
    "with (open(f) as g, open(h) as i):\n    pass\n",
    "x = lambda: (yield)\n",
    "x = f'{a!r:>10}'\n",
    "x = f'{a}' f'{b}'\n",
    "match x:\n    case 1:\n        pass\n    case _:\n        pass\n",
    "def f(a, b):\n    return a +\\\n        b\n",
    "x = a if b else\nc\n",
    "x = not\ny\n",
    "def f(self) -> int:\n    return self.x\n",
    "x = {**a, 'b': 1}\n",
    "x = {'a': 1, **b}\n",
    "async def f():\n    yield 1\n",
    "class C:\n    def f(self):\n        for i in x:\n            if i:\n                break\n",
    "e as gzip\n",
    "x = e as g\n",
    "with (open(a) as b):\n    pass\n",
    "try:\n    pass\nexcept E as e:\n    pass\n",
    "match x:\n    case [1, 2] as y:\n        pass\n",
]


def doctest_cases(path):
    text = open(path, encoding="utf-8").read()
    module = ast.parse(text)
    doc = ast.get_docstring(module, clean=False) or ""
    for example in doctest.DocTestParser().get_examples(doc):
        yield example.source


def grammar_cases(path):
    """The string arguments of check_syntax_error(self, "...") calls."""
    module = ast.parse(open(path, encoding="utf-8").read())
    for node in ast.walk(module):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "check_syntax_error":
            for arg in node.args[1:2]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    yield arg.value


def verdict(source):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(source, "<case>", "exec")
            return {"valid": True}
        except SyntaxError as e:   # IndentationError and TabError are SyntaxErrors
            return {"valid": False, "error": type(e).__name__, "message": e.msg, "line": e.lineno,
                    "column": e.offset}
        except (ValueError, OverflowError, MemoryError, RecursionError) as e:
            return {"valid": False, "error": type(e).__name__, "message": str(e), "line": None, "column": None}


def main():
    if sys.version_info[:2] != (3, 11):
        sys.exit("run this with CPython 3.11 (the fixture's messages are 3.11's)")
    test_dir = os.path.join(os.path.dirname(os.__file__), "test")
    cases, seen = [], set()

    def add(source, origin):
        if not source.endswith("\n"):
            source += "\n"
        if source in seen or "\0" in source:
            return
        seen.add(source)
        cases.append(dict(source=source, origin=origin, **verdict(source)))

    for source in HANDWRITTEN:
        add(source, "handwritten")
    for source in doctest_cases(os.path.join(test_dir, "test_syntax.py")):
        add(source, "test_syntax")
    for source in grammar_cases(os.path.join(test_dir, "test_grammar.py")):
        add(source, "test_grammar")
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump({"python": sys.version.split()[0], "cases": cases}, f, indent=1, ensure_ascii=False)
        f.write("\n")
    invalid = sum(not c["valid"] for c in cases)
    print(f"{len(cases)} cases ({invalid} rejected by CPython) -> {os.path.relpath(OUT)}")


if __name__ == "__main__":
    main()
