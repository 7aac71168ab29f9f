#!/usr/bin/env python3
"""Repair benchmark: runs `moecoder repair` on buggy programs and reports how many are fixed at top-1 and within
the top-3, and the time per program.

Two corpora:
- `bench` (default): bench/repair/corpus.py, 44 classic small programs with pytest tests and one injected
  one-line bug each, split by a hash of the name into `dev` (used while developing the repair) and `heldout`
  (only run to report);
- `examples`: the 24 programs in examples/repair/.

As in issue 20, each program gets one `moecoder repair FILE --cmd "pytest -q test_FILE" --top 3 --json` (`--mode
test` passes `--test` instead), run from the program's folder; each returned patch is applied to a fresh copy of
the folder and the tests run. A program is fixed at rank k when the k-th patch passes all its tests
(`plausible`); the stricter `intended` column also asks for the same Python AST as the intended fix.
`--check` first verifies the corpus itself: each program's tests fail as written and pass with the intended fix.

    bench/repair_bench.py [--bin .build/release/moecoder] [--split dev|heldout|all] [--budget S] [--json out.json]
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
sys.path.insert(0, str(ROOT / "bench" / "repair"))


def programs(folder):
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        modules = [p for p in sub.glob("*.py") if not p.name.startswith("test_")]
        tests = list(sub.glob("test_*.py"))
        intended = sub / "intended.py.txt"
        if len(modules) == 1 and tests and intended.exists():
            yield sub, modules[0], tests[0], intended


def same_program(a, b):
    try:
        return ast.dump(ast.parse(a)) == ast.dump(ast.parse(b))
    except SyntaxError:
        return False


def apply_edit(source, edit):
    data = source.encode("utf-8")
    return (data[:edit["start_byte"]] + edit["replacement"].encode("utf-8") + data[edit["end_byte"]:]).decode("utf-8")


def pytest_passes(folder, test, timeout=60):
    try:
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test.name], cwd=folder,
                              capture_output=True, timeout=timeout,
                              env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1"))
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def passes_with(folder, module, test, source):
    with tempfile.TemporaryDirectory() as scratch:
        copy = pathlib.Path(scratch) / folder.name
        shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
        (copy / module.name).write_text(source)
        return pytest_passes(copy, test)


def check_corpus(rows):
    bad = 0
    for folder, module, test, intended in rows:
        fails = not pytest_passes(folder, test)
        passes = passes_with(folder, module, test, intended.read_text())
        if not (fails and passes):
            bad += 1
            print(f"corpus problem in {folder.name}: buggy fails={fails}, intended passes={passes}")
    return bad


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", default=str(ROOT / ".build" / "release" / "moecoder"))
    parser.add_argument("--corpus", choices=["bench", "examples"], default="bench")
    parser.add_argument("--split", choices=["dev", "heldout", "all"], default="dev")
    parser.add_argument("--mode", choices=["cmd", "test"], default="cmd")
    parser.add_argument("--budget", type=float, help="--budget for moecoder repair (default: its own, 40 s in all)")
    parser.add_argument("--json", help="write per-program results here")
    parser.add_argument("--check", action="store_true", help="verify the corpus before the benchmark")
    parser.add_argument("--only", help="run only programs whose name contains this")
    parser.add_argument("--extra", default="", help="more arguments for moecoder repair, space-separated")
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="repair-bench-")
    try:
        if args.corpus == "bench":
            import corpus

            corpus.materialize(scratch, args.split)
            rows = list(programs(pathlib.Path(scratch)))
        else:
            rows = list(programs(EXAMPLES))
        if args.only:
            rows = [r for r in rows if args.only in r[0].name]
        if args.check and check_corpus(rows):
            return 2
        return run(rows, args)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run(rows, args):
    results = []
    for folder, module, test, intended in rows:
        original = module.read_text()
        command = [args.bin, "repair", module.name, "--json", "--top", "3"]
        if args.budget:
            command += ["--budget", str(args.budget)]
        command += ["--cmd", f"pytest -q {test.name}"] if args.mode == "cmd" else ["--test", test.name]
        command += args.extra.split()
        started = time.monotonic()
        try:
            done = subprocess.run(command, capture_output=True, text=True, cwd=folder, timeout=(args.budget or 40) + 60)
            stdout, stderr = done.stdout, done.stderr
        except subprocess.TimeoutExpired as timeout:
            stdout, stderr = "", f"timed out after {timeout.timeout} s"
        seconds = time.monotonic() - started
        if module.read_text() != original:
            print(f"{folder.name}: the file was modified without --apply", file=sys.stderr)
            return 2
        try:
            report = json.loads(stdout)
        except ValueError:
            report = {"patches": [], "error": stderr.strip()[-300:]}
        rank = intended_rank = None
        for patch in report.get("patches", []):
            patched = apply_edit(original, patch["edit"])
            if rank is None and passes_with(folder, module, test, patched):
                rank = patch["rank"]
            if intended_rank is None and same_program(patched, intended.read_text()):
                intended_rank = patch["rank"]
        top = report.get("patches", [{}])[0] if report.get("patches") else {}
        results.append({"program": folder.name, "rank": rank, "intended_rank": intended_rank,
                        "seconds": round(seconds, 2), "candidates": report.get("candidates"),
                        "validated": report.get("validated"), "top1": top.get("rationale"),
                        "error": report.get("error")})
        print(f"{folder.name:24} rank={rank if rank else '-':>2} intended={intended_rank if intended_rank else '-':>2} "
              f"{seconds:6.1f} s  candidates={report.get('candidates')} validated={report.get('validated')}  "
              f"top-1: {top.get('rationale', report.get('error', ''))}", flush=True)
    n = len(results)
    top1 = sum(1 for r in results if r["rank"] == 1)
    top3 = sum(1 for r in results if r["rank"] is not None and r["rank"] <= 3)
    i1 = sum(1 for r in results if r["intended_rank"] == 1)
    i3 = sum(1 for r in results if r["intended_rank"] is not None and r["intended_rank"] <= 3)
    mean = sum(r["seconds"] for r in results) / max(1, n)
    longest = max((r["seconds"] for r in results), default=0)
    pct = lambda k: 100 * k / max(1, n)  # noqa: E731
    print(f"\n{n} programs ({args.corpus}, {args.split if args.corpus == 'bench' else 'all'}, --{args.mode}): "
          f"top-1 {top1}/{n} ({pct(top1):.0f} %), top-3 {top3}/{n} ({pct(top3):.0f} %); "
          f"the intended fix: top-1 {i1}, top-3 {i3}; mean {mean:.1f} s per program, max {longest:.1f} s")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({
            "corpus": args.corpus, "split": args.split, "mode": args.mode, "programs": results, "top1": top1,
            "top3": top3, "intended_top1": i1, "intended_top3": i3, "total": n, "mean_seconds": mean,
            "max_seconds": longest}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
