#!/usr/bin/env python3
"""The quality table of `moecoder quantize`: for a model, each mix's held-out perplexity, next-token agreement
with the F16 model, file size, bits per weight and decode speed, all measured with moecoder itself.

    python3 bench/quant_quality.py [--model models/default.gguf] [--out bench/results/quant_quality.json]

The model is first written as F32 (`moecoder quantize --type f32`: lossless from any type), every mix is
quantized from that F32 file, and each is evaluated with `moecoder eval --held-out --agreement-with F16`
(perplexity over models/heldout, 512-token windows; next-line, infill and completion probes off) and
`moecoder bench` (128-token prompt, 32 decoded tokens, median of 3). Decode speeds are from whatever machine
runs this, as it is loaded at the time: compare them within one run only.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIXES = ["f16", "q8_0", "q6_k", "q5_k_m", "q5_k_s", "q5_0", "q4_k_m", "q4_k_s", "q4_0", "q3_k_m", "q2_k"]


def run(args):
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{done.stderr}")
    return done


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(ROOT, "models/default.gguf"))
    ap.add_argument("--moecoder", default=os.path.join(ROOT, ".build/release/moecoder"))
    ap.add_argument("--mixes", default=",".join(MIXES))
    ap.add_argument("--threads", default="2")
    ap.add_argument("--no-bench", action="store_true", help="skip the decode-speed runs")
    ap.add_argument("--files", type=int, default=0,
                    help="evaluate on the first N held-out files (by name) instead of all of them (time)")
    ap.add_argument("--no-f32", action="store_true", help="leave out the F32 row")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench/results/quant_quality.json"))
    args = ap.parse_args()
    mc = args.moecoder
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        f32 = os.path.join(tmp, "f32.gguf")
        run([mc, "quantize", args.model, f32, "--type", "f32", "--quiet"])
        f16 = os.path.join(tmp, "f16.gguf")
        run([mc, "quantize", f32, f16, "--type", "f16", "--quiet"])
        heldout = os.path.join(ROOT, "models/heldout")
        files = sorted(os.path.join(heldout, f) for f in os.listdir(heldout) if f.endswith(".py"))
        which = ["--held-out"] if args.files == 0 else files[:args.files]
        for mix in ([] if args.no_f32 else ["f32"]) + args.mixes.split(","):
            path = f32 if mix == "f32" else f16 if mix == "f16" else os.path.join(tmp, f"{mix}.gguf")
            summary = json.loads(run([mc, "quantize", f32, os.path.join(tmp, "x.gguf") if mix in ("f32", "f16") else path,
                                      "--type", mix, "--quiet", "--json"]).stdout)
            done = run([mc, "eval", *which, "--model", path, "--lines", "0", "--samples", "0", "--completions",
                        "0", "--json", "--agreement-with", f16, "--threads", args.threads])
            report = json.loads(done.stdout.strip().splitlines()[-1])
            agreement = re.search(r"next-token agreement\s+([0-9.]+)", done.stderr)
            row = {"type": mix, "file_bytes": os.path.getsize(path), "bits_per_weight": summary["bits_per_weight"],
                   "perplexity": report["summary"]["perplexity"], "scored_tokens": report["summary"]["scoredTokens"],
                   "agreement_with_f16": float(agreement.group(1)) if agreement else None,
                   "types": summary["types"]}
            if not args.no_bench:
                bench = json.loads(run([mc, "bench", "--model", path, "--json", "--threads", args.threads]).stdout)
                row["decode_tokens_per_s"] = bench["decode_tokens_per_s"]
                row["prompt_tokens_per_s"] = bench["prompt_tokens_per_s"]
            rows.append(row)
            print(f"{mix:7s} {row['file_bytes'] / 1e6:7.2f} MB {row['bits_per_weight']:5.2f} bpw  ppl "
                  f"{row['perplexity']:.4f}  agreement {row['agreement_with_f16']}", flush=True)
    base = next(r for r in rows if r["type"] == "f16")["perplexity"]
    for r in rows:
        r["perplexity_vs_f16"] = r["perplexity"] / base - 1
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"model": os.path.relpath(args.model, ROOT), "eval_files": args.files or "all held-out",
                   "rows": rows}, f, indent=1)
        f.write("\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
