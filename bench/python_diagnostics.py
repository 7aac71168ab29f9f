#!/usr/bin/env python3
"""Does `moecoder parse` report the first syntax error where CPython does, with CPython's kind of message?

Corpus: standard-library modules (tests excluded; a seeded choice), each broken once by deleting one random
token or inserting a copy of one random token at another token's place (Python's tokenize gives the tokens),
keeping only files that compile() then rejects. For each, CPython's first error (compile() in a subprocess-free
call here: line, message) is compared with the first error of `moecoder parse --json`: the line, and the message
class (the message with quoted names and line numbers taken out, e.g. "'(' was never closed", "invalid syntax",
"expected ':'", "unindent does not match any outer indentation level").

    python3 bench/python_diagnostics.py [--binary .build/release/moecoder] [--files 500] [--seed 18]
"""
import argparse
import io
import json
import os
import random
import re
import subprocess
import sys
import sysconfig
import tempfile
import tokenize
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP_DIRS = {"test", "tests", "idlelib", "lib2to3", "site-packages", "__pycache__", "turtledemo"}


def cpython_error(source):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(source, "<broken>", "exec", dont_inherit=True)
            return None
        except SyntaxError as e:
            return {"line": e.lineno, "message": e.msg}
        except (ValueError, RecursionError, MemoryError, OverflowError):
            return None


def message_class(message):
    m = re.sub(r"'[^']*'", "'_'", message or "")
    m = re.sub(r"\(detected at line \d+\)", "", m)
    m = re.sub(r"on line \d+", "", m)
    m = re.sub(r"\d+", "N", m)
    return m.strip()


def break_file(text, rng):
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(text).readline)
                  if t.type not in (tokenize.ENDMARKER, tokenize.DEDENT, tokenize.INDENT, tokenize.NL,
                                    tokenize.COMMENT)]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return None
    if len(tokens) < 10:
        return None
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(pos):
        return starts[pos[0] - 1] + pos[1]

    victim = rng.choice(tokens)
    a, b = offset(victim.start), offset(victim.end)
    if rng.random() < 0.5:
        return text[:a] + text[b:]
    other = rng.choice(tokens)
    return text[:a] + other.string + " " + text[a:]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "moecoder"))
    ap.add_argument("--stdlib", default=sysconfig.get_paths()["stdlib"])
    ap.add_argument("--files", type=int, default=500)
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--json", help="write every file's verdicts here")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    paths = []
    for root, dirs, names in os.walk(args.stdlib):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        paths += [os.path.join(root, n) for n in sorted(names) if n.endswith(".py")]
    rng.shuffle(paths)
    corpus = []
    for path in paths:
        try:
            text = open(path, encoding="utf-8").read()
        except (UnicodeDecodeError, OSError):
            continue
        if len(text) > 200_000 or cpython_error(text) is not None:
            continue
        broken = break_file(text, rng)
        if broken is None:
            continue
        err = cpython_error(broken)
        if err is None:
            continue
        corpus.append((os.path.relpath(path, args.stdlib), broken, err))
        if len(corpus) >= args.files:
            break
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        listing = os.path.join(tmp, "files.txt")
        files = []
        for i, (name, broken, err) in enumerate(corpus):
            p = os.path.join(tmp, f"{i:04d}.py")
            with open(p, "w") as f:
                f.write(broken)
            files.append(p)
        with open(listing, "w") as f:
            f.write("\n".join(files) + "\n")
        out = subprocess.run([args.binary, "parse", "--files-from", listing, "--json", "--max-errors", "1"],
                             capture_output=True, text=True)
        reports = {}
        for line in out.stdout.splitlines():
            if line.strip():
                r = json.loads(line)
                reports[r["file"]] = r
        for p, (name, broken, err) in zip(files, corpus):
            r = reports.get(p, {})
            errors = r.get("errors") or []
            first = errors[0] if errors else None
            ours_line = first["start"]["line"] if first else None
            ours_message = first["message"] if first else None
            rows.append({"file": name, "cpython_line": err["line"], "cpython_message": err["message"],
                         "line": ours_line, "message": ours_message,
                         "line_ok": ours_line == err["line"],
                         "class_ok": message_class(ours_message) == message_class(err["message"])})
    n = max(1, len(rows))
    summary = {"files": len(rows), "line_match": sum(r["line_ok"] for r in rows) / n,
               "class_match": sum(r["class_ok"] for r in rows) / n,
               "no_error_reported": sum(r["line"] is None for r in rows)}
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"summary": summary, "rows": rows}, f, indent=1)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
