#!/usr/bin/env python3
"""Cost of the syntax constraint: per-token constraint time (mean, p99) and the decode slowdown of
constrained vs unconstrained generation, measured in the same run with `moecoder generate --json`.

    python3 bench/constraint_overhead.py [--model M.gguf] [--tokens 48] [--seeds 3] [--language python]

Without --model, moecoder's default model is used. Each prompt/seed pair runs unconstrained and constrained
with the same sampling settings; timings are moecoder's own decode times (model load excluded).
`constraint_share_percent` is the constraint's time a token (its checks and masks, since stop 23 taking in
each sampled token, since stop 25 the sampler's own work on refused picks) as a share of the unconstrained decode time a token; `slowdown_percent` compares the medians of
the two decode rates.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PROMPTS = {
    "python": [
        "def mean(values):\n    ", "import os\n\n\ndef list_files(root):\n    result = []\n    for ",
        "class Stack:\n    def __init__(self):\n        self.items = ", "def parse(line):\n    parts = line.split(",
        "for i in range(10):\n    if ", "with open(path) as f:\n    data = ", "try:\n    value = int(text)\nexcept ",
        "def fib(n):\n    if n < 2:\n        return n\n    return ",
    ],
    "javascript": [
        "function mean(values) {\n  ", "const items = [1, 2, 3].map(", "class Stack {\n  constructor() {\n    this.items = ",
        "for (let i = 0; i < n; i++) {\n  ",
    ],
    "go": [
        "package main\n\nfunc mean(xs []float64) float64 {\n\t", "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfor i := 0; ",
    ],
}


def run(binary, model, prompt, seed, tokens, temperature, language, threads):
    cmd = [binary, "generate", "--prompt", prompt, "--max-tokens", str(tokens), "--temperature", str(temperature),
           "--seed", str(seed), "--ignore-eos", "--json", "--threads", str(threads)]
    if model:
        cmd += ["--model", model]
    if language:
        cmd += ["--constrain", language]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if out.returncode != 0:
        sys.exit(f"moecoder failed ({out.returncode}): {out.stderr.strip()}")
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "moecoder"))
    ap.add_argument("--model", default=None)
    ap.add_argument("--language", default="python", choices=sorted(PROMPTS))
    ap.add_argument("--tokens", type=int, default=48)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"no moecoder binary at {args.binary}: run scripts/setup first")

    free_rates, constrained_rates, means, p99s, refusals, steps, fallbacks = [], [], [], [], 0, 0, 0
    constraint_us, constrained_tokens, free_us, free_tokens = 0.0, 0, 0.0, 0
    for prompt in PROMPTS[args.language]:
        for seed in range(args.seeds):
            a = run(args.binary, args.model, prompt, seed, args.tokens, args.temperature, None, args.threads)
            b = run(args.binary, args.model, prompt, seed, args.tokens, args.temperature, args.language, args.threads)
            free_rates.append(len(a["tokens"]) / max(a["decode_ms"], 1e-6) * 1000)
            constrained_rates.append(len(b["tokens"]) / max(b["decode_ms"], 1e-6) * 1000)
            st = b["constraint"]["statistics"]
            # total_us (stop 25): every part, with the sampler's own work on refusals; older builds: the step mean.
            constraint_us += st["total_us"] if "sampled_us" in st else st["step_us_mean"] * len(b["tokens"])
            constrained_tokens += len(b["tokens"])
            free_us += a["decode_ms"] * 1000
            free_tokens += len(a["tokens"])
            means.append(st["step_us_mean"])
            p99s.append(st["step_us_p99"])
            refusals += st["refusals"]
            steps += st["checks"]
            fallbacks += st["fallbacks"]
    free = statistics.median(free_rates)
    constrained = statistics.median(constrained_rates)
    summary = {
        "language": args.language, "runs": len(free_rates), "tokens": args.tokens,
        "unconstrained_tokens_per_s": round(free, 1), "constrained_tokens_per_s": round(constrained, 1),
        "slowdown_percent": round((free / constrained - 1) * 100, 1),
        # The constraint's own time against the unconstrained decode time a token, summed over all runs: steadier
        # than the slowdown, which compares two medians of wall-clock rates.
        "constraint_share_percent": round(constraint_us / constrained_tokens / (free_us / free_tokens) * 100, 1),
        "constraint_us_per_token_mean": round(statistics.mean(means), 1),
        "constraint_us_per_token_p99": round(max(p99s), 1),
        "refusal_rate": round(refusals / max(steps, 1), 3), "fallbacks": fallbacks,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        for k, v in summary.items():
            print(f"{k:32} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
