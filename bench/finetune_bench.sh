#!/usr/bin/env bash
# `moecoder finetune` on a held-out repository: an installed pure-Python package the default model was not
# trained on (models/MODEL_CARD.md lists the training packages). Copies the package's source into a scratch
# folder (a plain folder: the walk with .gitignore rules collects it), runs the command with the default model,
# and records its JSON summary plus wall and CPU time in bench/results/finetune_<package>[_<TAG>].json; the README's
# "Fine-tuning" table comes from that file; tools/finetune/probe_report.py then prints the next-line probes gained
# and lost.
#
#   bench/finetune_bench.sh [PACKAGE=docker] [extra finetune options...]
#
# Environment: PYTHON (a Python with torch, transformers, gguf; default: what finetune finds), MOECODER (the
# binary; default .build/release/moecoder, else .build/debug/moecoder), SITE (the site-packages folder), TAG (a
# suffix for the result file, to keep runs with different options apart), ADAPTER (also copy the adapter there, e.g.
# for a cross-check with `moecoder eval --lora`).
set -euo pipefail
cd "$(dirname "$0")/.."
package="${1:-docker}"
shift || true
site="${SITE:-$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')}"
bin="${MOECODER:-}"
if [ -z "$bin" ]; then
  if [ -x .build/release/moecoder ]; then bin=.build/release/moecoder; else bin=.build/debug/moecoder; fi
fi
[ -d "$site/$package" ] || { echo "no package '$package' in $site" >&2; exit 2; }
work="$(mktemp -d /tmp/finetune-bench-XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/repo"
(cd "$site" && find "$package" -name "*.py" -not -path "*/__pycache__/*" -exec cp --parents {} "$work/repo" \;)
python_args=()
[ -n "${PYTHON:-}" ] && python_args=(--python "$PYTHON")
mkdir -p bench/results
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/time -f '%e %U %S' -o "$work/time" \
  "$bin" finetune "$work/repo" --out "$work/adapter.gguf" --json "${python_args[@]}" "$@" > "$work/summary.json"
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
[ -n "${ADAPTER:-}" ] && cp "$work/adapter.gguf" "$ADAPTER"
read -r wall user sys < "$work/time"
python3 - "$work/summary.json" "bench/results/finetune_${package}${TAG:+_$TAG}.json" "$package" "$site" "$wall" "$user" "$sys" \
  "$load_before" "$load_after" "$*" <<'EOF'
import json, sys, platform, importlib.metadata as md
src, dst, package, site, wall, user, sys_, lb, la, extra = sys.argv[1:]
s = json.load(open(src))
try:
    version = md.version(package)
except md.PackageNotFoundError:
    version = None
s["bench"] = {"package": package, "version": version, "site_packages": site, "options": extra,
              "wall_seconds": float(wall), "cpu_user_seconds": float(user), "cpu_system_seconds": float(sys_),
              "loadavg_before": lb, "loadavg_after": la, "cpus": __import__("os").cpu_count(),
              "machine": platform.machine()}
for k in ("adapter",):
    s.pop(k, None)
json.dump(s, open(dst, "w"), indent=1, sort_keys=True)
b, a = s["before"], s["after"]
print(f"{package} {version}: {len(s['repository']['train_files'])} files trained on "
      f"(+{s['repository']['augmented_copies']} augmented), {len(s['repository']['heldout_files'])} held out")
print(f"| | before | after |\n|---|---|---|")
print(f"| held-out loss (nats/token) | {b['loss']:.4f} | {a['loss']:.4f} |")
print(f"| perplexity | {b['perplexity']:.3f} | {a['perplexity']:.3f} ({(a['perplexity'] / b['perplexity'] - 1) * 100:+.1f} %) |")
print(f"| next-line exact | {b['exact_lines']}/{b['line_probes']} | {a['exact_lines']}/{a['line_probes']} |")
print(f"steps {s['steps']}, {s['tokens_trained'] / 1e6:.2f} M tokens, training {s['train_seconds'] / 60:.1f} min; "
      f"whole run {float(wall) / 60:.1f} min wall, {(float(user) + float(sys_)) / 60:.1f} min CPU; "
      f"load average {lb} -> {la}")
print(f"wrote {dst}")
EOF
python3 tools/finetune/probe_report.py "bench/results/finetune_${package}${TAG:+_$TAG}.json" --examples 0 || true
