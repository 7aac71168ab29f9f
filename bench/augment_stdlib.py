#!/usr/bin/env python3
"""Run `moecoder augment` over the Python standard library, one transform at a time, and check the results.

For each transform (every eligible site changed: --rate 1) it reports the files it touched, the edits it made,
how many of the touched files still compile (checked here again, independently of moecoder's own check: must be
100 %), how many candidate results moecoder's checks dropped, and the throughput (files and KB per CPU second of
moecoder and its python3 checker). A last row runs the default mix (random subset of all twelve, --rate 0.5).

    python3 bench/augment_stdlib.py [--binary .build/release/moecoder] [--stdlib DIR] [--limit N] [--seed S]
                                    [--json OUT.json]
"""
import argparse
import json
import os
import random
import resource
import subprocess
import sys
import sysconfig
import tempfile
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRANSFORMS = ["rename-locals", "rename-params", "reorder-imports", "annotations", "docs-comments", "reformat",
              "loop-comprehension", "invert-if", "extract-local", "inline-local", "reorder-kwargs",
              "reorder-statements"]


def compiles(source, name):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, name, "exec", dont_inherit=True)
        return True
    except (SyntaxError, ValueError):
        return False


def cpu_children():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main():
    default_stdlib = "/root/.pyenv/versions/3.11.7/lib/python3.11"
    if not os.path.isdir(default_stdlib):
        default_stdlib = sysconfig.get_paths()["stdlib"]
    binary = os.path.join(ROOT, ".build", "release", "moecoder")
    if not os.access(binary, os.X_OK):
        binary = os.path.join(ROOT, ".build", "debug", "moecoder")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=binary)
    ap.add_argument("--stdlib", default=default_stdlib)
    ap.add_argument("--limit", type=int, default=0, help="a seeded random sample of this many files (0: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--transforms", default=",".join(TRANSFORMS))
    ap.add_argument("--json", help="also write the table as JSON to this file")
    args = ap.parse_args()
    args.binary = os.path.abspath(args.binary)
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"no moecoder binary at {args.binary}: build it first (swift build -c release)")

    files = []
    for dirpath, dirnames, filenames in os.walk(args.stdlib):
        dirnames[:] = sorted(d for d in dirnames if d not in ("site-packages", "__pycache__"))
        for f in sorted(filenames):
            if f.endswith(".py"):
                files.append(os.path.relpath(os.path.join(dirpath, f), args.stdlib))
    valid = []
    for rel in files:
        with open(os.path.join(args.stdlib, rel), "rb") as fh:
            source = fh.read()
        try:
            source.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if compiles(source, rel):
            valid.append(rel)
    if args.limit and args.limit < len(valid):
        valid = sorted(random.Random(args.seed).sample(valid, args.limit))
    total_bytes = sum(os.path.getsize(os.path.join(args.stdlib, f)) for f in valid)
    print(f"{len(valid)} files ({total_bytes / 1e6:.1f} MB) of {len(files)} under {args.stdlib}", file=sys.stderr)

    rows = []
    runs = [(t, ["--transforms", t, "--rate", "1"]) for t in args.transforms.split(",")]
    runs.append(("all (random mix)", ["--rate", "0.5"]))
    with tempfile.TemporaryDirectory(prefix="augment-bench-") as tmp:
        for label, extra in runs:
            out = os.path.join(tmp, label.split()[0])
            before = cpu_children()
            proc = subprocess.run([args.binary, "augment", *valid, "--out", out, "--json", "--seed", str(args.seed),
                                   *extra], cwd=args.stdlib, capture_output=True, text=True)
            cpu = cpu_children() - before
            if proc.returncode != 0:
                sys.exit(f"moecoder augment failed ({proc.returncode}) for {label}:\n{proc.stderr[-2000:]}")
            touched = edits = compiled = dropped = errors = 0
            dropped_files = []
            for line in proc.stdout.splitlines():
                report = json.loads(line)
                if "error" in report:
                    errors += 1
                    continue
                for s in report["skipped"]:
                    if "dropped" in s["reason"]:
                        dropped += 1
                        dropped_files.append({"file": report["input"], "reason": s["reason"]})
                if not report["applied"]:
                    continue
                touched += 1
                edits += sum(a["changes"] for a in report["applied"])
                with open(report["output"], "rb") as fh:
                    if compiles(fh.read(), report["output"]):
                        compiled += 1
            row = {"transform": label, "files": len(valid), "touched": touched, "edits": edits,
                   "compiled": compiled, "compiled_pct": 100.0 * compiled / touched if touched else 100.0,
                   "dropped_by_check": dropped, "dropped_files": dropped_files, "input_errors": errors, "cpu_s": round(cpu, 2),
                   "files_per_cpu_s": round(len(valid) / cpu, 1) if cpu else None,
                   "kb_per_cpu_s": round(total_bytes / 1024 / cpu, 1) if cpu else None}
            rows.append(row)
            print(f"{label}: {row}", file=sys.stderr)

    print(f"| transform | files touched | edits | touched files compiling | dropped by the check | files/CPU s | KB/CPU s |")
    print(f"|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['transform']} | {r['touched']} / {r['files']} | {r['edits']} | {r['compiled']} "
              f"({r['compiled_pct']:.0f} %) | {r['dropped_by_check']} | {r['files_per_cpu_s']} | {r['kb_per_cpu_s']} |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"stdlib": args.stdlib, "seed": args.seed, "limit": args.limit, "binary": args.binary,
                       "rows": rows}, fh, indent=2)
    if any(r["compiled"] != r["touched"] for r in rows):
        sys.exit("some touched files do not compile")


if __name__ == "__main__":
    main()
