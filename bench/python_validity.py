#!/usr/bin/env python3
"""How often `moecoder complete` writes Python that CPython's compile() rejects, constrained and unconstrained.

Prompts: functions of CPython's standard library (not models/heldout, not examples/), chosen by a seeded
shuffle. Each prompt file is the function (dedented to the top level) with its body taken out after the
docstring (the body's first line keeps its indentation; the cursor is there), followed by the next function
of the same module as the code after the cursor. `moecoder complete --json --temperature T --seed S` fills
the hole; the whole file with the completion inserted is compiled with compile() (CPython 3.11, in this
process). A completion that compile() rejects is counted, with the error, per mode.

Also the constraint's cost on these prompts (from `complete --json`'s `constraint` and `decode_ms`):
`constraint_us_per_token` (its checks, masks, Python gate, taking in each sampled token and the indentation
rule, over every generated token),
`constraint_share_percent` (that time against the rest of the decode time a token), its one-time set-up, and
`slowdown_vs_unconstrained_percent` (decode time a token, constrained against unconstrained; on a busy machine
only the share is meaningful).

    python3 bench/python_validity.py [--binary .build/release/moecoder] [--prompts 60] [--samples 2]
        [--temperature 1.5] [--modes constrained,unconstrained] [--threads 1] [--json out.json]

`--binary` can be given twice (`--binary A --binary B`) to compare two builds on the same prompts and seeds.
"""
import argparse
import ast
import json
import os
import random
import subprocess
import sys
import sysconfig
import tempfile
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP_DIRS = {"test", "tests", "idlelib", "lib2to3", "site-packages", "__pycache__", "turtledemo", "tkinter"}


def compiles(source):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(source, "<completion>", "exec", dont_inherit=True)
            return None
        except SyntaxError as e:
            return f"{type(e).__name__}: {e.msg} (line {e.lineno})"
        except (ValueError, OverflowError, RecursionError, MemoryError) as e:
            return f"{type(e).__name__}: {e}"


def functions(path):
    """(source, body_start_line, next_source) for the functions of a module with a next function after them."""
    try:
        text = open(path, encoding="utf-8").read()
        tree = ast.parse(text)
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return []
    lines = text.splitlines(keepends=True)
    defs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    defs.sort(key=lambda n: n.lineno)
    out = []
    for a, b in zip(defs, defs[1:]):
        if b.lineno <= a.end_lineno or a.decorator_list or b.col_offset != a.col_offset:
            continue
        body = a.body
        if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:]
        if not body or body[0].lineno == a.lineno or a.end_lineno - a.lineno > 60:
            continue
        head = "".join(lines[a.lineno - 1: body[0].lineno - 1])
        first = lines[body[0].lineno - 1]
        indent = first[: len(first) - len(first.lstrip(" \t"))]
        start = min([d.lineno for d in b.decorator_list] + [b.lineno]) - 1
        nxt = "".join(lines[start: b.end_lineno])
        if "\t" in head + nxt:
            continue
        out.append((head, indent, nxt))
    return out


def make_prompts(stdlib, count, seed):
    files = []
    for root, dirs, names in os.walk(stdlib):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        files += [os.path.join(root, n) for n in sorted(names) if n.endswith(".py")]
    rng = random.Random(seed)
    rng.shuffle(files)
    prompts = []
    for path in files:
        candidates = functions(path)
        if not candidates:
            continue
        head, indent, nxt = rng.choice(candidates)
        # Dedent the function and the next one to the top level together.
        base = len(head) - len(head.lstrip(" "))
        dedent = lambda text: "\n".join(l[base:] if l[:base].strip() == "" else l for l in text.split("\n"))
        head = dedent(head)
        nxt_d = dedent(nxt)
        body_indent = indent[base:]
        source_before = head + body_indent
        source_after = "\n\n" + nxt_d
        if compiles(head + body_indent + "pass\n" + source_after) is not None:
            continue
        prompts.append({"file": os.path.relpath(path, stdlib), "prefix": source_before, "suffix": source_after})
        if len(prompts) >= count:
            break
    return prompts


def complete(binary, model, prompt, mode, seed, temperature, max_tokens, tmp, threads=1):
    path = os.path.join(tmp, "prompt.py")
    with open(path, "w") as f:
        f.write(prompt["prefix"] + prompt["suffix"])
    line = prompt["prefix"].count("\n") + 1
    column = len(prompt["prefix"].split("\n")[-1]) + 1
    cmd = [binary, "complete", path, "--line", str(line), "--column", str(column), "--json", "--temperature",
           str(temperature), "--seed", str(seed), "--max-tokens", str(max_tokens), "--threads", str(threads)]
    if model:
        cmd += ["--model", model]
    if mode == "unconstrained":
        cmd.append("--no-constrain")
    started = time.process_time()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        return {"error": out.stderr.strip()[-300:]}
    r = json.loads(out.stdout)
    source = prompt["prefix"] + r["completion"] + prompt["suffix"]
    st = r.get("constraint") or {}
    return {"completion": r["completion"], "parse_ok": r["parse_ok"], "attempts": r.get("attempts", 1),
            "tokens": r["tokens"], "ms": r["ms"], "rejected": compiles(source),
            "decode_ms": r.get("decode_ms"), "decoded_tokens": r.get("decoded_tokens"),
            # The constraint's own time over every generated token (checks, masks, the Python gate), and its
            # one-time set-up; the step times are per generated token.
            # (total_us: checks, masks, taking in the sampled tokens and the indentation rule; older builds
            # report only checks and masks.)
            "constraint_us": st.get("total_us", st.get("check_us", 0) + st.get("mask_us", 0)) if st else None,
            "constraint_setup_us": st.get("setup_us") if st else None,
            "refusals": st.get("refusals") if st else None}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", action="append", help="moecoder binary (repeat to compare builds)")
    ap.add_argument("--model", default=None, help="GGUF model (default: moecoder's default model)")
    ap.add_argument("--stdlib", default=sysconfig.get_paths()["stdlib"])
    ap.add_argument("--prompts", type=int, default=60)
    ap.add_argument("--samples", type=int, default=2, help="seeds per prompt")
    ap.add_argument("--temperature", type=float, default=1.5)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--seed", type=int, default=18, help="seed of the prompt choice")
    ap.add_argument("--modes", default="constrained,unconstrained")
    ap.add_argument("--threads", type=int, default=1, help="moecoder's --threads")
    ap.add_argument("--json", help="write every completion and verdict to this file")
    args = ap.parse_args()
    binaries = args.binary or [os.path.join(ROOT, ".build", "release", "moecoder")]
    if sys.version_info[:2] != (3, 11):
        print(f"note: the reference is CPython 3.11; this is {sys.version.split()[0]}", file=sys.stderr)
    prompts = make_prompts(args.stdlib, args.prompts, args.seed)
    report = {"python": sys.version.split()[0], "prompts": len(prompts), "samples": args.samples,
              "temperature": args.temperature, "max_tokens": args.max_tokens, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for binary in binaries:
            for mode in args.modes.split(","):
                key = f"{binary} {mode}"
                results = []
                for p in prompts:
                    for s in range(args.samples):
                        r = complete(binary, args.model, p, mode, s, args.temperature, args.max_tokens, tmp, args.threads)
                        r.update(file=p["file"], seed=s)
                        results.append(r)
                ok = [r for r in results if "error" not in r]
                rejected = [r for r in ok if r["rejected"]]
                summary = {"completions": len(ok), "errors": len(results) - len(ok), "rejected": len(rejected),
                           "invalid_rate": len(rejected) / max(1, len(ok)),
                           "mean_ms": sum(r["ms"] for r in ok) / max(1, len(ok))}
                timed = [r for r in ok if r.get("decode_ms") is not None and r.get("decoded_tokens")]
                if timed:
                    tokens = sum(r["decoded_tokens"] for r in timed)
                    summary["decode_us_per_token"] = round(sum(r["decode_ms"] for r in timed) * 1000 / tokens, 1)
                    constrained = [r for r in timed if r.get("constraint_us") is not None]
                    if constrained:
                        ctokens = sum(r["decoded_tokens"] for r in constrained)
                        cus = sum(r["constraint_us"] for r in constrained)
                        summary["constraint_us_per_token"] = round(cus / ctokens, 1)
                        # The decode time a token without the constraint's own time in it.
                        base = (sum(r["decode_ms"] for r in constrained) * 1000 - cus) / ctokens
                        summary["constraint_share_percent"] = round(100 * cus / ctokens / base, 2)
                        summary["constraint_setup_us_mean"] = round(
                            sum(r["constraint_setup_us"] or 0 for r in constrained) / len(constrained), 1)
                        summary["refusals_per_token"] = round(sum(r["refusals"] or 0 for r in constrained) / ctokens, 3)
                report["runs"][key] = {"summary": summary, "results": results}
                print(f"{key}: {len(rejected)}/{len(ok)} rejected by compile() "
                      f"({100 * summary['invalid_rate']:.1f} %), {summary['errors']} errors", file=sys.stderr)
                for r in rejected[:8]:
                    print(f"   {r['file']} seed {r['seed']}: {r['rejected']}: {r['completion'][:120]!r}",
                          file=sys.stderr)
    # Decode time a token, constrained against unconstrained, for each binary measured both ways.
    for binary in binaries:
        a = report["runs"].get(f"{binary} unconstrained", {}).get("summary", {})
        b = report["runs"].get(f"{binary} constrained", {}).get("summary", {})
        if a.get("decode_us_per_token") and b.get("decode_us_per_token"):
            b["slowdown_vs_unconstrained_percent"] = round(
                100 * (b["decode_us_per_token"] / a["decode_us_per_token"] - 1), 2)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    print(json.dumps({k: v["summary"] for k, v in report["runs"].items()}, indent=1))


if __name__ == "__main__":
    main()
