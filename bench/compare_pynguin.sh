#!/usr/bin/env bash
# moecoder testgen against Pynguin (PyPI) on examples/testgen/*.py, same search budget, same measurement.
#
# Pynguin 0.48 runs only on Python 3.10: the script makes a separate venv with a python3.10 it can find
# ($PYNGUIN_PYTHON, python3.10 on PATH, or pyenv's 3.10.x) and installs the pinned Pynguin there. When there is
# none, it says so and exits 3. Both tools' test files are measured by bench/testgen_measure.py (pytest under
# coverage.py --branch from the module's folder); the table shows line and branch coverage side by side.
#
#   bench/compare_pynguin.sh [BUDGET_SECONDS=20] [SEED=1]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
budget="${1:-20}"
seed="${2:-1}"
python="${PYTHON:-python3}"
pynguin_version="0.48.0"
venv="${PYNGUIN_VENV:-$root/.build-bench/pynguin-venv}"

find_python310() {
    for candidate in "${PYNGUIN_PYTHON:-}" python3.10; do
        [[ -n "$candidate" ]] || continue
        if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
            command -v "$candidate" && return 0
        fi
    done
    if command -v pyenv >/dev/null; then
        local version
        version="$(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.|$)' | tail -1 || true)"
        if [[ -n "$version" ]]; then echo "$(pyenv root)/versions/$version/bin/python3.10"; return 0; fi
    fi
    return 1
}

if [[ ! -x "$venv/bin/pynguin" ]]; then
    if ! py310="$(find_python310)"; then
        echo "compare_pynguin: Pynguin $pynguin_version needs Python 3.10, and none was found here" >&2
        echo "  (set PYNGUIN_PYTHON to a python3.10, or install one, e.g. 'pyenv install 3.10')." >&2
        exit 3
    fi
    echo "installing pynguin==$pynguin_version into $venv (python: $py310)..." >&2
    "$py310" -m venv "$venv"
    if ! "$venv/bin/pip" install -q "pynguin==$pynguin_version" >&2; then
        echo "compare_pynguin: could not install pynguin==$pynguin_version from PyPI (see pip's message above)" >&2
        exit 3
    fi
fi

bin="${MOECODER_BIN:-}"
if [[ -z "$bin" ]]; then
    swift build --package-path "$root" --scratch-path "$root/.build-bench" -c release --product moecoder >&2
    bin="$root/.build-bench/release/moecoder"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/project" "$work/moecoder" "$work/pynguin"
cp "$root"/examples/testgen/*.py "$work/project/"
for module in "$work"/project/*.py; do
    name="$(basename "$module" .py)"
    echo "$name: moecoder testgen (${budget}s)..." >&2
    "$bin" testgen "$module" --budget "$budget" --seed "$seed" --out "$work/moecoder/test_$name.py" \
        > "$work/moecoder/$name.log" 2>&1 || true
    echo "$name: pynguin (${budget}s)..." >&2
    ( cd "$work/project" && PYNGUIN_DANGER_AWARE=1 timeout $((budget * 6 + 120)) "$venv/bin/pynguin" \
        --project-path "$work/project" --module-name "$name" --output-path "$work/pynguin" \
        --maximum-search-time "$budget" --seed "$seed" > "$work/pynguin/$name.log" 2>&1 ) || \
        echo "$name: pynguin exited with an error (log: tail below)" >&2
    for tool in moecoder pynguin; do
        file="$work/$tool/test_$name.py"
        if [[ -f "$file" ]]; then
            "$python" "$root/bench/testgen_measure.py" "$work/project" "$name" "$file" | sed "s/^/$tool /" >> "$work/results"
        else
            [[ "$tool" == pynguin ]] && tail -3 "$work/pynguin/$name.log" >&2
            echo "$tool {\"module\": \"$name\", \"passed\": false, \"tests\": 0, \"failed\": 0, \"line\": 0, \"branch\": 0}" >> "$work/results"
        fi
    done
done

"$python" - "$work/results" "$budget" <<'PY'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    tool, data = line.split(" ", 1)
    r = json.loads(data)
    rows.setdefault(r["module"], {})[tool] = r
print(f"budget {sys.argv[2]} s per module and tool; coverage of each tool's tests by pytest + coverage.py --branch")
print(f"{'module':<18} | {'moecoder line':>13} {'branch':>7} {'pass':>5} | {'pynguin line':>12} {'branch':>7} {'pass':>5}")
means = {"moecoder": [0, 0], "pynguin": [0, 0]}
for module in sorted(rows):
    m, p = rows[module].get("moecoder"), rows[module].get("pynguin")
    for tool, r in (("moecoder", m), ("pynguin", p)):
        means[tool][0] += r["line"]
        means[tool][1] += r["branch"]
    print(f"{module:<18} | {m['line']:>13.1f} {m['branch']:>7.1f} {('yes' if m['passed'] else 'no'):>5} | "
          f"{p['line']:>12.1f} {p['branch']:>7.1f} {('yes' if p['passed'] else 'no'):>5}")
n = len(rows)
print(f"{'mean':<18} | {means['moecoder'][0]/n:>13.1f} {means['moecoder'][1]/n:>7.1f} {'':>5} | "
      f"{means['pynguin'][0]/n:>12.1f} {means['pynguin'][1]/n:>7.1f}")
better = means["moecoder"][1] > means["pynguin"][1]
print("goal (higher mean branch coverage than Pynguin):", "met" if better else "NOT met")
PY
