#!/usr/bin/env python3
"""Repair benchmark: runs `moecoder repair` on every buggy program in examples/repair/ and reports how many are
fixed at top-1 and within the top-3, and the time per bug.

A bug counts as fixed at rank k when the k-th patch is plausible (all tests pass with it) and the patched file
is the intended fix or equivalent to it: the same Python AST as `intended.py.txt` (formatting and comments
aside). `--check` first verifies the corpus itself: each program's tests fail as written and pass with the
intended fix.

    bench/repair_bench.py [--bin .build/debug/moecoder] [--budget 30] [--json out.json] [--check]
"""

import argparse
import ast
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "repair"


def examples():
    for folder in sorted(p for p in EXAMPLES.iterdir() if p.is_dir()):
        modules = [p for p in folder.glob("*.py") if not p.name.startswith("test_")]
        tests = list(folder.glob("test_*.py"))
        intended = folder / "intended.py.txt"
        if len(modules) == 1 and tests and intended.exists():
            yield folder, modules[0], tests[0], intended


def same_program(a, b):
    try:
        return ast.dump(ast.parse(a)) == ast.dump(ast.parse(b))
    except SyntaxError:
        return False


def apply_edit(source, edit):
    data = source.encode("utf-8")
    return (data[:edit["start_byte"]] + edit["replacement"].encode("utf-8") + data[edit["end_byte"]:]).decode("utf-8")


def pytest_passes(folder, test):
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test.name], cwd=folder,
                          capture_output=True, env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1",
                                                        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1"))
    return done.returncode == 0


def check_corpus():
    bad = 0
    for folder, module, test, intended in examples():
        with tempfile.TemporaryDirectory() as scratch:
            copy = pathlib.Path(scratch) / folder.name
            shutil.copytree(folder, copy)
            fails = not pytest_passes(copy, test)
            (copy / module.name).write_text(intended.read_text())
            passes = pytest_passes(copy, test)
        if not (fails and passes):
            bad += 1
            print(f"corpus problem in {folder.name}: buggy fails={fails}, intended passes={passes}")
    return bad


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", default=str(ROOT / ".build" / "debug" / "moecoder"))
    parser.add_argument("--budget", type=float, default=30)
    parser.add_argument("--json", help="write per-bug results here")
    parser.add_argument("--check", action="store_true", help="verify the corpus before the benchmark")
    parser.add_argument("--only", help="run only examples whose folder name contains this")
    args = parser.parse_args()
    if args.check and check_corpus():
        return 2
    rows = []
    for folder, module, test, intended in examples():
        if args.only and args.only not in folder.name:
            continue
        original = module.read_text()
        started = time.monotonic()
        done = subprocess.run([args.bin, "repair", str(module), "--test", str(test), "--json", "--top", "3",
                               "--budget", str(args.budget)], capture_output=True, text=True)
        seconds = time.monotonic() - started
        if module.read_text() != original:
            print(f"{folder.name}: the file was modified without --apply", file=sys.stderr)
            return 2
        rank = None
        try:
            report = json.loads(done.stdout)
        except ValueError:
            report = {"patches": [], "error": done.stderr.strip()[-300:]}
        for patch in report.get("patches", []):
            if patch["status"] == "plausible" and same_program(apply_edit(original, patch["edit"]), intended.read_text()):
                rank = patch["rank"]
                break
        top = report.get("patches", [{}])[0] if report.get("patches") else {}
        rows.append({"bug": folder.name, "rank": rank, "seconds": round(seconds, 2),
                     "candidates": report.get("candidates"), "validated": report.get("validated"),
                     "top1": top.get("rationale"), "error": report.get("error")})
        print(f"{folder.name:32} rank={rank if rank else '-':>2}  {seconds:6.1f} s  "
              f"candidates={report.get('candidates')}  top-1: {top.get('rationale', report.get('error', ''))}",
              flush=True)
    n = len(rows)
    top1 = sum(1 for r in rows if r["rank"] == 1)
    top3 = sum(1 for r in rows if r["rank"] is not None and r["rank"] <= 3)
    mean = sum(r["seconds"] for r in rows) / max(1, n)
    print(f"\n{n} bugs: top-1 {top1}/{n} ({100 * top1 / max(1, n):.0f} %), top-3 {top3}/{n} "
          f"({100 * top3 / max(1, n):.0f} %), mean {mean:.1f} s per bug, max {max((r['seconds'] for r in rows), default=0):.1f} s")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"bugs": rows, "top1": top1, "top3": top3, "total": n,
                                                       "mean_seconds": mean}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
