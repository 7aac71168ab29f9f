#!/usr/bin/env python3
"""The syntax constraint's set-up time against the size of the code before the cursor (Python).

For each of the largest standard-library modules of this interpreter (or `--files`), the cursor is put in the
body of the module's last method or function (after its first line), and `moecoder complete --json` reports
the constraint's set-up (`constraint.setup_us`: reading the prefix, the Python gate's parse, the tables) and
the completion's own time (`ms`). One process a run; each binary runs each file in turn (A/B alternating).

    python3 bench/constraint_setup.py [--binary .build/release/moecoder ...] [--files a.py b.py] [--count 6]
                                      [--max-tokens 16] [--json out.json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cursor_in_last_function(source):
    """(prefix, suffix): the cursor after the first body line of the module's last `def` (a method or not)."""
    at = max(source.rfind("\n    def "), source.rfind("\ndef "))
    if at < 0:
        return None
    header_end = source.find(":\n", at)
    if header_end < 0:
        return None
    line_end = source.find("\n", header_end + 2)
    if line_end < 0:
        return None
    prefix = source[:line_end + 1]
    indent = source[header_end + 2:line_end].__len__() - len(source[header_end + 2:line_end].lstrip())
    prefix += " " * indent
    return prefix, source[line_end + 1:]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", action="append")
    ap.add_argument("--files", nargs="*")
    ap.add_argument("--count", type=int, default=6, help="largest stdlib modules to use (without --files)")
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json")
    args = ap.parse_args()
    binaries = args.binary or [os.path.join(ROOT, ".build", "release", "moecoder")]
    files = args.files
    if not files:
        stdlib = sysconfig.get_paths()["stdlib"]
        candidates = [os.path.join(stdlib, f) for f in os.listdir(stdlib) if f.endswith(".py")]
        files = sorted(candidates, key=os.path.getsize)[-args.count:]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            cut = cursor_in_last_function(open(path, encoding="utf-8").read())
            if not cut:
                continue
            prefix, suffix = cut
            target = os.path.join(tmp, os.path.basename(path))
            open(target, "w", encoding="utf-8").write(prefix + suffix)
            line = prefix.count("\n") + 1
            column = len(prefix.split("\n")[-1]) + 1
            for binary in binaries:
                out = subprocess.run([binary, "complete", target, "--line", str(line), "--column", str(column),
                                      "--json", "--temperature", "0", "--max-tokens", str(args.max_tokens),
                                      "--threads", str(args.threads)], capture_output=True, text=True, timeout=600)
                if out.returncode != 0:
                    print(f"{binary} {path}: {out.stderr.strip()[-200:]}", file=sys.stderr)
                    continue
                r = json.loads(out.stdout)
                c = r.get("constraint") or {}
                rows.append({"binary": binary, "file": os.path.basename(path), "prefix_bytes": len(prefix.encode()),
                             "setup_ms": round(c.get("setup_us", 0) / 1000, 1), "completion_ms": round(r["ms"], 1),
                             "completion": r["completion"]})
                print(f"{os.path.basename(path):24} {len(prefix.encode()):>8} B  {binary}: set-up "
                      f"{rows[-1]['setup_ms']:8.1f} ms, completion {rows[-1]['completion_ms']:8.1f} ms", file=sys.stderr)
    summary = {}
    for binary in binaries:
        mine = [r for r in rows if r["binary"] == binary]
        if mine:
            summary[binary] = {"files": len(mine),
                               "setup_ms_median": statistics.median(r["setup_ms"] for r in mine),
                               "completion_ms_median": statistics.median(r["completion_ms"] for r in mine),
                               "prefix_kb_median": round(statistics.median(r["prefix_bytes"] for r in mine) / 1024, 1)}
    print(json.dumps(summary, indent=1))
    if args.json:
        json.dump({"summary": summary, "rows": rows}, open(args.json, "w"), indent=1)


if __name__ == "__main__":
    main()
