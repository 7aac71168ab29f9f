#!/usr/bin/env python3
"""Next-line probes of a `moecoder finetune --json` summary (or bench/results/finetune_*.json), before and after.

    python3 tools/finetune/probe_report.py bench/results/finetune_anyio.json [--examples 8] [--json]

Standard library only. For the probes measured both before and after training (the same lines of the same held-out
files) it reports: exact lines before and after; the lines gained (wrong before, exact after) and lost; a two-sided
exact sign test (McNemar) on gained against lost, i.e. how likely so lopsided a split is when the adapter changes
nothing on average; the mean character similarity of the written line to the real one (difflib's ratio, 1 =
identical), a softer measure that also moves when a line gets closer without becoming exact; how many written
lines reached the length cap (no line break within 48 tokens: judged by the text being longer than the real
line by 40 characters or more, a heuristic); and examples of gained and lost lines.
"""
import argparse
import difflib
import json
import math
import sys


def sign_test(gained: int, lost: int) -> float:
    """Two-sided exact binomial test of gained vs lost with p = 1/2 (McNemar's exact test)."""
    n = gained + lost
    if n == 0:
        return 1.0
    k = min(gained, lost)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def report(summary: dict, examples: int) -> dict:
    before = {(p["path"], p["line"]): p for p in summary["before"]["probes"]}
    after = {(p["path"], p["line"]): p for p in summary["after"]["probes"]}
    keys = [k for k in before if k in after]
    gained = [k for k in keys if not before[k]["exact"] and after[k]["exact"]]
    lost = [k for k in keys if before[k]["exact"] and not after[k]["exact"]]
    sim_b = [similarity(before[k]["written"], before[k]["expected"]) for k in keys]
    sim_a = [similarity(after[k]["written"], after[k]["expected"]) for k in keys]
    capped = lambda side: sum(len(side[k]["written"]) >= len(side[k]["expected"]) + 40 for k in keys)  # noqa: E731
    per_file = {}
    for k in keys:
        f = per_file.setdefault(k[0], {"probes": 0, "before": 0, "after": 0})
        f["probes"] += 1
        f["before"] += before[k]["exact"]
        f["after"] += after[k]["exact"]
    return {
        "probes": len(keys), "exact_before": sum(before[k]["exact"] for k in keys),
        "exact_after": sum(after[k]["exact"] for k in keys), "gained": len(gained), "lost": len(lost),
        "sign_test_p": sign_test(len(gained), len(lost)),
        "mean_similarity_before": sum(sim_b) / max(1, len(keys)), "mean_similarity_after": sum(sim_a) / max(1, len(keys)),
        "closer_after": sum(a > b for a, b in zip(sim_a, sim_b)), "further_after": sum(a < b for a, b in zip(sim_a, sim_b)),
        "capped_before": capped(before), "capped_after": capped(after), "files": per_file,
        "examples_gained": [{"path": k[0], "line": k[1] + 1, "expected": after[k]["expected"],
                             "before": before[k]["written"]} for k in gained[:examples]],
        "examples_lost": [{"path": k[0], "line": k[1] + 1, "expected": before[k]["expected"],
                           "after": after[k]["written"]} for k in lost[:examples]],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("summary", help="finetune --json output or bench/results/finetune_*.json")
    ap.add_argument("--examples", type=int, default=8)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    s = json.load(open(args.summary))
    if not (s.get("before") or {}).get("probes") or not (s.get("after") or {}).get("probes"):
        print(f"{args.summary}: no per-probe records (a summary from before they were kept, or nothing held out)",
              file=sys.stderr)
        sys.exit(2)
    r = report(s, args.examples)
    if args.json:
        print(json.dumps(r, indent=1))
        return
    print(f"probes {r['probes']} ({s.get('probe_rule', 'any')} lines): exact {r['exact_before']} -> {r['exact_after']}"
          f" (gained {r['gained']}, lost {r['lost']}; sign test p = {r['sign_test_p']:.3g})")
    print(f"mean similarity of the written line to the real one {r['mean_similarity_before']:.3f} -> "
          f"{r['mean_similarity_after']:.3f} ({r['closer_after']} lines closer, {r['further_after']} further)")
    print(f"written lines at the length cap: {r['capped_before']} -> {r['capped_after']}")
    for path, f in r["files"].items():
        print(f"  {path}: {f['before']}/{f['probes']} -> {f['after']}/{f['probes']}")
    for title, key, other in (("gained", "examples_gained", "before"), ("lost", "examples_lost", "after")):
        for e in r[key]:
            print(f"{title} {e['path']}:{e['line']}: {e['expected']!r}  ({other}: {e[other]!r})")


if __name__ == "__main__":
    main()
