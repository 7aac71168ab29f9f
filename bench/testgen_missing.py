"""The lines and branches a benchmark run's test files left uncovered, with the module's source, per module.

    python3 bench/testgen_missing.py RESULTS.json KEPT_FOLDER [--tool moecoder] [--only a,b]

RESULTS.json is written by `bench/testgen_bench.py --json`, KEPT_FOLDER by its `--keep` (it holds the modules as
they were tested). Contiguous uncovered lines are printed as one block, with the enclosing `def`/`class` line, so
that the causes can be read and classified; partial branches follow as `line -> target` (a negative target is
the function's exit).
"""
import argparse
import json
import os
import re
import sys


def enclosing(lines, number):
    for i in range(number - 1, -1, -1):
        if re.match(r"\s*(async\s+)?(def|class)\s", lines[i]):
            return i + 1, lines[i].strip()
    return None, ""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results")
    parser.add_argument("kept")
    parser.add_argument("--tool", default="moecoder")
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    wanted = {n for n in args.only.split(",") if n}
    rows = [r for r in json.load(open(args.results))["rows"] if r["tool"] == args.tool]
    for row in rows:
        name = row["module"]
        if wanted and name not in wanted and name.removeprefix("ho_") not in wanted:
            continue
        path = os.path.join(args.kept, name + ".py")
        if not os.path.exists(path):
            print(f"{name}: {path} is missing (run the benchmark with --keep)", file=sys.stderr)
            continue
        lines = open(path, encoding="utf-8").read().splitlines()
        missing = sorted(row.get("missing_lines", []))
        print(f"=== {name}: line {row['line']} %, branch {row['branch']} %, {len(missing)} lines missing")
        blocks, current = [], []
        for number in missing:
            if current and number > current[-1] + 3:
                blocks.append(current)
                current = []
            current.append(number)
        if current:
            blocks.append(current)
        for block in blocks:
            at, header = enclosing(lines, block[0])
            print(f"--- lines {block[0]}-{block[-1]} in {header or 'module level'} (line {at})")
            for number in range(block[0], block[-1] + 1):
                mark = ">" if number in block else " "
                print(f"{mark}{number:5d} {lines[number - 1]}")
        partial = [b for b in row.get("missing_branches", []) if b[0] not in missing]
        if partial:
            print("--- partial branches: " + ", ".join(f"{a}->{b}" for a, b in partial))


if __name__ == "__main__":
    main()
