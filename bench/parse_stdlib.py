#!/usr/bin/env python3
"""Parse the whole Python standard library with `moecoder parse` and count false syntax errors.

A false syntax error is an error reported on a file that CPython itself compiles. Prints files/s (as timed
inside moecoder, parse and error scan only, and as wall time of the whole run) and lists every false error.
Exit status 1 when there is any false error.

    python3 bench/parse_stdlib.py [--binary .build/release/moecoder] [--stdlib DIR] [--json]
"""
import argparse
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def compiles(path):
    try:
        with open(path, "rb") as f:
            source = f.read()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, path, "exec", dont_inherit=True)
        return True
    except (SyntaxError, ValueError, UnicodeDecodeError):
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "moecoder"))
    ap.add_argument("--stdlib", default=sysconfig.get_paths()["stdlib"])
    ap.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    args = ap.parse_args()
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"no moecoder binary at {args.binary}: run scripts/setup first")

    files = []
    for dirpath, dirnames, filenames in os.walk(args.stdlib):
        dirnames[:] = sorted(d for d in dirnames if d not in ("site-packages", "__pycache__"))
        files += [os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith(".py")]
    valid = [f for f in files if compiles(f)]
    print(f"{len(files)} .py files under {args.stdlib}; CPython {sys.version.split()[0]} compiles {len(valid)}",
          file=sys.stderr)

    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
        listing.write("\n".join(valid) + "\n")
    try:
        start = time.perf_counter()
        run = subprocess.run([args.binary, "parse", "--json", "--files-from", listing.name],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - start
    finally:
        os.unlink(listing.name)
    if run.returncode not in (0, 1):
        sys.exit(f"moecoder parse failed with status {run.returncode}:\n{run.stderr}")

    reports = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    false_errors = [r for r in reports if not r["ok"]]
    parse_seconds = sum(r["parse_ms"] for r in reports) / 1000
    total_bytes = sum(r["bytes"] for r in reports)
    summary = {
        "files": len(reports),
        "bytes": total_bytes,
        "false_errors": len(false_errors),
        "parse_seconds": round(parse_seconds, 3),
        "files_per_second": round(len(reports) / parse_seconds, 1) if parse_seconds else None,
        "mb_per_second": round(total_bytes / 1048576 / parse_seconds, 2) if parse_seconds else None,
        "wall_seconds": round(wall, 3),
        "wall_files_per_second": round(len(reports) / wall, 1),
        "python": sys.version.split()[0],
    }
    for r in false_errors:
        first = r["errors"][0]
        print(f"FALSE ERROR {r['file']}:{first['start']['line']}:{first['start']['column']}: {first['message']}",
              file=sys.stderr)
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"files parsed:        {summary['files']} ({total_bytes / 1048576:.1f} MB)")
        print(f"false syntax errors: {summary['false_errors']}")
        print(f"parse throughput:    {summary['files_per_second']} files/s, {summary['mb_per_second']} MB/s "
              f"(inside moecoder)")
        print(f"wall time:           {summary['wall_seconds']} s ({summary['wall_files_per_second']} files/s, "
              f"process start and file reading included)")
    return 1 if false_errors else 0


if __name__ == "__main__":
    sys.exit(main())
