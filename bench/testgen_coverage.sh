#!/usr/bin/env bash
# Coverage of the tests `moecoder testgen` writes for examples/testgen/*.py.
#
# Runs testgen on each module with the same budget and seed, then runs each generated file with pytest under
# coverage.py (bench/testgen_measure.py, the same measurement compare_pynguin.sh uses) and prints per-module line
# and branch coverage and whether the file passes. Exit status 1 unless the mean line coverage is at least 85 %
# and every generated file passes.
#
#   bench/testgen_coverage.sh [BUDGET_SECONDS=20] [SEED=1]
#   MOECODER_BIN=path/to/moecoder to use a given binary (default: build one with swift build).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
budget="${1:-20}"
seed="${2:-1}"
python="${PYTHON:-python3}"
bin="${MOECODER_BIN:-}"
if [[ -z "$bin" ]]; then
    swift build --package-path "$root" --scratch-path "$root/.build-bench" -c release --product moecoder >&2
    bin="$root/.build-bench/release/moecoder"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$root"/examples/testgen/*.py "$work/"
results="$work/results.jsonl"
for module in "$work"/*.py; do
    name="$(basename "$module" .py)"
    echo "testgen $name (budget ${budget}s)..." >&2
    "$bin" testgen "$module" --budget "$budget" --seed "$seed" --out "$work/tests/test_$name.py" --json \
        > "$work/$name.report.json" 2> "$work/$name.log" || true
    if [[ -f "$work/tests/test_$name.py" ]]; then
        "$python" "$root/bench/testgen_measure.py" "$work" "$name" "$work/tests/test_$name.py" >> "$results"
    else
        echo "{\"module\": \"$name\", \"passed\": false, \"tests\": 0, \"failed\": 0, \"line\": 0, \"branch\": 0}" >> "$results"
    fi
done
"$python" - "$results" "$budget" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"moecoder testgen, budget {sys.argv[2]} s per module, measured with pytest + coverage.py --branch")
print(f"{'module':<18} {'tests':>5} {'line %':>7} {'branch %':>8}  pytest")
for r in rows:
    print(f"{r['module']:<18} {r['tests']:>5} {r['line']:>7.1f} {r['branch']:>8.1f}  {'pass' if r['passed'] else 'FAIL'}")
line = sum(r["line"] for r in rows) / len(rows)
branch = sum(r["branch"] for r in rows) / len(rows)
print(f"{'mean':<18} {'':>5} {line:>7.1f} {branch:>8.1f}  {sum(r['passed'] for r in rows)}/{len(rows)} pass")
ok = line >= 85 and all(r["passed"] for r in rows)
print("target (mean line >= 85 %, every file passes):", "met" if ok else "NOT met")
sys.exit(0 if ok else 1)
PY
