#!/usr/bin/env python3
"""Regenerates Tests/Fixtures/python/first_errors.json: CPython's first syntax error, for PythonFirstError.

Cases: every snippet of Tests/Fixtures/python/validity.json (CPython's own syntax-error tests and hand-written
ones), plus standard-library functions (a seeded choice; tests excluded) each broken once the way
bench/python_diagnostics.py breaks files (one random token deleted, or a copy of one inserted). For each case
the parser's verdict (ast.parse: what the grammar and tokenizer reject) and the compiler's (compile()) are
recorded, with the first error's class, message and line.

Pinned: CPython 3.11 (messages and positions differ between versions). Run with python3.11:
    python3.11 tools/python_first_error_cases.py [--broken 300] [--seed 1811]
"""
import argparse
import ast
import json
import os
import random
import sys
import sysconfig
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, "Tests", "Fixtures", "python", "first_errors.json")
sys.path.insert(0, os.path.join(ROOT, "bench"))
import python_diagnostics  # noqa: E402  (break_file, SKIP_DIRS)


def verdict(source, mode):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if mode == "parse":
                ast.parse(source)
            else:
                compile(source, "<case>", "exec", dont_inherit=True)
            return None
        except SyntaxError as e:
            return {"error": type(e).__name__, "message": e.msg, "line": e.lineno}
        except (ValueError, RecursionError, MemoryError, OverflowError):
            return {"error": "other", "message": "", "line": None}


def functions(path):
    """Top-level and method definitions of 4 to 40 lines, as dedented source."""
    try:
        text = open(path, encoding="utf-8").read()
        tree = ast.parse(text)
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return []
    lines = text.splitlines(keepends=True)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.decorator_list:
            n = node.end_lineno - node.lineno + 1
            if 4 <= n <= 40:
                chunk = lines[node.lineno - 1:node.end_lineno]
                indent = len(chunk[0]) - len(chunk[0].lstrip())
                if all(not l.strip() or l[:indent].strip() == "" for l in chunk):
                    out.append("".join(l[indent:] if l.strip() else l for l in chunk))
    return out


def main():
    if sys.version_info[:2] != (3, 11):
        sys.exit("run with CPython 3.11 (messages and positions are 3.11's)")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--broken", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1811)
    args = ap.parse_args()
    cases = []
    validity = json.load(open(os.path.join(ROOT, "Tests", "Fixtures", "python", "validity.json")))
    for c in validity["cases"]:
        cases.append({"source": c["source"], "origin": c["origin"]})
    rng = random.Random(args.seed)
    stdlib = sysconfig.get_paths()["stdlib"]
    paths = []
    for root, dirs, names in os.walk(stdlib):
        dirs[:] = sorted(d for d in dirs if d not in python_diagnostics.SKIP_DIRS and not d.startswith("."))
        paths += [os.path.join(root, n) for n in sorted(names) if n.endswith(".py")]
    rng.shuffle(paths)
    broken = 0
    for path in paths:
        if broken >= args.broken:
            break
        funcs = functions(path)
        if not funcs:
            continue
        source = rng.choice(funcs)
        if verdict(source, "compile") is not None:
            continue
        bad = python_diagnostics.break_file(source, rng)
        if bad is None or verdict(bad, "compile") is None:
            continue
        cases.append({"source": bad, "origin": "broken:" + os.path.relpath(path, stdlib)})
        broken += 1
    for c in cases:
        c["parse"] = verdict(c["source"], "parse")
        c["compile"] = verdict(c["source"], "compile")
    with open(OUT, "w") as f:
        json.dump({"python": sys.version.split()[0], "seed": args.seed, "cases": cases}, f, indent=0,
                  ensure_ascii=False)
        f.write("\n")
    print(f"{len(cases)} cases ({broken} broken functions) -> {os.path.relpath(OUT, ROOT)}")


if __name__ == "__main__":
    main()
