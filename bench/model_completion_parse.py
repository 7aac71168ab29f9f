#!/usr/bin/env python3
"""Share of `moecoder complete` completions after which the file parses, with and without the syntax constraint.

For each held-out file (models/heldout) and each of its probe lines (the lines `moecoder eval` probes, 4 a file),
the line's code is taken out (its indentation and line break stay), the cursor is put after the indentation, and
`moecoder complete --json` (greedy) writes it back; `parse_ok` is moecoder's own check that the file parses
with the completion inserted. Also reports exact matches with the removed line and latency. Prints JSON.

    python3 bench/model_completion_parse.py [--model models/default.gguf] [--binary .build/release/moecoder]
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model_baselines import lines_of, probe_lines  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(REPO / "models/default.gguf"))
    ap.add_argument("--binary", default=str(REPO / ".build/release/moecoder"))
    ap.add_argument("--heldout", default=str(REPO / "models/heldout"))
    ap.add_argument("--per-file", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    results = {"constrained": [], "unconstrained": []}
    with tempfile.TemporaryDirectory() as tmp:
        for path in sorted(Path(args.heldout).glob("*.py")):
            lines = lines_of(path.read_text())
            for i in probe_lines(lines, args.per_file):
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
                    out = subprocess.run(cmd, capture_output=True, text=True)
                    if out.returncode != 0:
                        results[mode].append({"file": path.name, "line": i + 1, "error": out.stderr.strip()})
                        continue
                    r = json.loads(out.stdout)
                    results[mode].append({"file": path.name, "line": i + 1, "parse_ok": r["parse_ok"],
                                          "exact": r["completion"].strip() == expected, "ms": r["ms"], "stop": r["stop_reason"],
                                          "completion": r["completion"]})
    summary = {}
    for mode, rs in results.items():
        ok = [r for r in rs if "error" not in r]
        summary[mode] = {
            "completions": len(rs), "errors": len(rs) - len(ok),
            "parse_rate": sum(r["parse_ok"] for r in ok) / max(1, len(ok)),
            "exact_line_match": sum(r["exact"] for r in ok) / max(1, len(ok)),
            "ms_p50": statistics.median(r["ms"] for r in ok) if ok else None,
        }
    print(json.dumps({"summary": summary, "results": results}, indent=1))


if __name__ == "__main__":
    main()
