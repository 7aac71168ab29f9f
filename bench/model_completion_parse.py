#!/usr/bin/env python3
"""Share of `moecoder complete` completions after which the file parses, with and without the syntax constraint.

For each held-out file (models/heldout), probe lines are taken out one at a time (their code goes, their
indentation and line break stay), the cursor is put after the indentation, and `moecoder complete --json`
(greedy) writes the line back; `parse_ok` is moecoder's own check that the whole file parses with the
completion inserted. Also reports exact matches with the removed line and latency. Prints JSON.

Two sets of holes:
- `statements` (the headline number): lines that hold one whole logical line of code (Python's tokenize: a
  statement or block header that starts and ends on that line), evenly spread, `--per-file` a file. This is
  what a user completes when they start a new line.
- `lines`: the lines `moecoder eval` probes (any line with 4+ characters, `--per-file` a file), including lines
  inside multi-line statements (a continuation after `\`, an argument list, a docstring's first line), where
  the completion must open or continue a construct that the code after the hole closes.

    python3 bench/model_completion_parse.py [--model models/default.gguf] [--binary .build/release/moecoder]
"""
import argparse
import io
import json
import statistics
import subprocess
import sys
import tempfile
import tokenize
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model_baselines import lines_of, probe_lines  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def statement_lines(lines: list[str], count: int) -> list[int]:
    """Up to `count` evenly spread lines (after the first) that are one whole logical line of code."""
    starts, ends = {}, set()
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO("".join(lines)).readline))
    except (tokenize.TokenError, SyntaxError):
        return []
    first = None
    for tok in tokens:
        if tok.type in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING):
            continue
        if tok.type == tokenize.NEWLINE:
            if first is not None and first == tok.start[0]:
                ends.add(first)
            first = None
        elif first is None:
            first = tok.start[0]
    cand = [n - 1 for n in sorted(ends) if n > 1 and len(lines[n - 1].strip()) >= 4]
    if count <= 0 or not cand:
        return []
    if len(cand) <= count:
        return cand
    return [cand[(k * 2 + 1) * len(cand) // (2 * count)] for k in range(count)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(REPO / "models/default.gguf"))
    ap.add_argument("--binary", default=str(REPO / ".build/release/moecoder"))
    ap.add_argument("--heldout", default=str(REPO / "models/heldout"))
    ap.add_argument("--per-file", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--holes", choices=["statements", "lines", "both"], default="both")
    ap.add_argument("--modes", default="constrained,unconstrained")
    ap.add_argument("--extra", default="", help="more `moecoder complete` options, e.g. '--no-heal --attempts 1'")
    args = ap.parse_args()
    sets = ["statements", "lines"] if args.holes == "both" else [args.holes]
    report = {}
    for holes in sets:
        report[holes] = run(args, holes)
    print(json.dumps(report, indent=1))


def run(args, holes):
    pick = statement_lines if holes == "statements" else probe_lines
    results = {mode: [] for mode in args.modes.split(",")}
    with tempfile.TemporaryDirectory() as tmp:
        for path in sorted(Path(args.heldout).glob("*.py")):
            lines = lines_of(path.read_text())
            for i in pick(lines, args.per_file):
                line = lines[i]
                indent = line[: len(line) - len(line.lstrip(" \t"))]
                expected = line.strip()
                text = "".join(lines[:i]) + indent + ("\n" if line.endswith("\n") else "") + "".join(lines[i + 1:])
                probe = Path(tmp) / path.name
                probe.write_text(text)
                for mode in results:
                    cmd = [args.binary, "complete", str(probe), "--line", str(i + 1), "--column",
                           str(len(indent) + 1), "--model", args.model, "--json", "--max-tokens",
                           str(args.max_tokens), "--threads", str(args.threads)]
                    if mode == "unconstrained":
                        cmd.append("--no-constrain")
                    cmd += args.extra.split()
                    out = subprocess.run(cmd, capture_output=True, text=True)
                    if out.returncode != 0:
                        results[mode].append({"file": path.name, "line": i + 1, "error": out.stderr.strip()})
                        continue
                    r = json.loads(out.stdout)
                    results[mode].append({"file": path.name, "line": i + 1, "parse_ok": r["parse_ok"],
                                          "exact": r["completion"].strip() == expected, "ms": r["ms"],
                                          "stop": r["stop_reason"], "attempts": r.get("attempts", 1),
                                          "completion": r["completion"], "expected": expected})
    summary = {}
    for mode, rs in results.items():
        ok = [r for r in rs if "error" not in r]
        summary[mode] = {
            "completions": len(rs), "errors": len(rs) - len(ok),
            "parse_rate": sum(r["parse_ok"] for r in ok) / max(1, len(ok)),
            "exact_line_match": sum(r["exact"] for r in ok) / max(1, len(ok)),
            "first_line_match": sum(r["completion"].strip().split("\n")[0].strip() == r["expected"] for r in ok)
                                / max(1, len(ok)),
            "ms_p50": statistics.median(r["ms"] for r in ok) if ok else None,
            "ms_p95": sorted(r["ms"] for r in ok)[int(0.95 * (len(ok) - 1))] if ok else None,
            "mean_attempts": statistics.mean(r["attempts"] for r in ok) if ok else None,
        }
    return {"summary": summary, "results": results}


if __name__ == "__main__":
    main()
