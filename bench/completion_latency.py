#!/usr/bin/env python3
"""Latency of `moecoder complete` for a 1-2 line completion on a 200-line file: p50 and p95 over 20 runs.

The file is examples/complete/ledger.py with the right-hand side of one statement removed; the cursor is where
it was (a statement to finish). Each run is a fresh `moecoder complete --json` process: "completion ms" is the
time moecoder reports for the completion itself (prompt, generation, stop rules, parse check), "wall ms" the
whole process (start, model load, completion). One warm-up run is not counted.

    python3 bench/completion_latency.py [--model models/default.gguf] [--binary .build/release/moecoder]
                                        [--runs 20] [--max-tokens 32] [--threads N] [--json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "complete", "ledger.py")
# The statement to finish: `    total = sum(amounts, Decimal(0))` loses its right-hand side.
STATEMENT = "    total = sum(amounts, Decimal(0))\n"
CUT = "    total = "


def percentile(values, p):
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "default.gguf"),
                    help="GGUF model (default: the shipped models/default.gguf)")
    ap.add_argument("--binary", default=os.environ.get("MOECODER_BIN",
                                                       os.path.join(ROOT, ".build", "release", "moecoder")))
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--max-tokens", type=int, default=32, help="a cap for 1-2 lines (the stop rules end sooner)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    args = ap.parse_args()

    if not os.path.exists(args.model):
        sys.exit(f"no model at {args.model}: pass --model PATH.gguf")
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"no moecoder binary at {args.binary}: run `swift build -c release` or pass --binary")

    with open(EXAMPLE) as f:
        lines = f.readlines()
    line = lines.index(STATEMENT) + 1
    lines[line - 1] = CUT + "\n"
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "ledger.py")
        with open(path, "w") as f:
            f.writelines(lines)
        command = [args.binary, "complete", path, "--line", str(line), "--column", str(len(CUT) + 1),
                   "--model", args.model, "--max-tokens", str(args.max_tokens), "--json"]
        if args.threads:
            command += ["--threads", str(args.threads)]
        reports, walls = [], []
        for run in range(args.runs + 1):
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True)
            wall = (time.perf_counter() - start) * 1000
            if done.returncode != 0:
                sys.exit(f"moecoder failed ({done.returncode}): {done.stderr.strip()}")
            if run > 0:
                reports.append(json.loads(done.stdout))
                walls.append(wall)

    ms = [r["ms"] for r in reports]
    tokens = [r["tokens"] for r in reports]
    summary = {
        "file_lines": len(lines), "runs": args.runs, "model": os.path.relpath(args.model, ROOT) if args.model.startswith(ROOT) else args.model,
        "completion_ms_p50": round(percentile(ms, 50), 1), "completion_ms_p95": round(percentile(ms, 95), 1),
        "wall_ms_p50": round(percentile(walls, 50), 1), "wall_ms_p95": round(percentile(walls, 95), 1),
        "tokens_mean": round(statistics.mean(tokens), 1), "prompt_tokens": reports[0]["prompt_tokens"],
        "stop_reasons": sorted({r["stop_reason"] for r in reports}), "fim": reports[0]["fim"],
        "completion": reports[0]["completion"],
    }
    if args.json:
        print(json.dumps(summary))
        return
    print(f"{summary['file_lines']}-line file, {args.runs} runs, model {summary['model']} (FIM: {summary['fim']})")
    print(f"completion  p50 {summary['completion_ms_p50']:8.1f} ms   p95 {summary['completion_ms_p95']:8.1f} ms")
    print(f"wall        p50 {summary['wall_ms_p50']:8.1f} ms   p95 {summary['wall_ms_p95']:8.1f} ms")
    print(f"prompt {summary['prompt_tokens']} tokens; generated {summary['tokens_mean']} tokens on average; "
          f"stopped by {', '.join(summary['stop_reasons'])}")
    print(f"completion: {summary['completion']!r}")


if __name__ == "__main__":
    main()
