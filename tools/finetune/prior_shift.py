#!/usr/bin/env python3
"""Are the next-line probes an adapter lost the lines its training files lack? A text-level look (no model).

    python3 tools/finetune/prior_shift.py bench/results/finetune_cattrs_replay25.json [--site DIR] [--json]

Standard library only. For a `moecoder finetune --json` summary (or bench/results/finetune_*.json, whose held-out and
training files are read from the bench's site-packages folder, or --site), every probe (a line of code of a held-out
file) gets two rates of its real line, blanks trimmed:
- in training: how often that line occurs among the lines of the training files (the originals, per 1,000 lines);
- in context: how often it occurs in the same held-out file above the probe (per 1,000 lines above it), the evidence
  the model sees in its prompt (the whole file above, a little more than the prompt's last 464 tokens).
The probes are grouped by outcome (gained: wrong before, exact after; lost: exact before, wrong after; kept: exact
both times) and each group's share of lines that never occur in training but do occur above the probe ("context
only"), of lines that occur in training ("in training"), and of lines more frequent above the probe than in
training ("context-favoured": the file's own style, the training files' style differs) is printed. If an adapter loses what the held-out file
repeats but its training files lack (a habit it unlearned), the lost lines are "context only" far more often than
the kept ones. Also: for the lost lines, whether what the adapter wrote instead occurs in training.
"""
import argparse
import collections
import json
import os
import sys


def stripped_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


def analyse(summary: dict, site: str) -> dict:
    repo = summary["repository"]
    held = set(repo["heldout_files"])
    train_counts = collections.Counter()
    train_lines = 0
    for path in repo["train_files"]:
        if path in held:
            continue
        with open(os.path.join(site, path), encoding="utf-8") as f:
            lines = stripped_lines(f.read())
        train_counts.update(lines)
        train_lines += len(lines)
    texts = {}
    for path in held:
        with open(os.path.join(site, path), encoding="utf-8") as f:
            texts[path] = stripped_lines(f.read())
    before = {(p["path"], p["line"]): p for p in summary["before"]["probes"]}
    after = {(p["path"], p["line"]): p for p in summary["after"]["probes"]}
    groups = collections.defaultdict(list)
    for key, b in before.items():
        a = after.get(key)
        if a is None:
            continue
        outcome = ("kept" if b["exact"] and a["exact"] else "lost" if b["exact"] else
                   "gained" if a["exact"] else "wrong")
        path, index = key
        above = texts[path][:index]
        expected = b["expected"]
        in_context = above.count(expected)
        in_train = train_counts[expected]
        groups[outcome].append({
            "path": path, "line": index, "expected": expected, "written_after": a["written"],
            "train_per_1k": 1000 * in_train / max(1, train_lines),
            "context_per_1k": 1000 * in_context / max(1, len(above)),
            "in_train": in_train > 0, "context_only": in_train == 0 and in_context > 0,
            "context_favoured": in_context > 0 and in_context / max(1, len(above)) > in_train / max(1, train_lines),
            "written_after_in_train": train_counts[a["written"]] > 0,
        })
    out = {"train_lines": train_lines, "groups": {}}
    for outcome in ("gained", "lost", "kept", "wrong"):
        rows = groups.get(outcome, [])
        n = len(rows)
        out["groups"][outcome] = {
            "probes": n,
            "in_training": sum(r["in_train"] for r in rows),
            "context_only": sum(r["context_only"] for r in rows),
            "context_favoured": sum(r["context_favoured"] for r in rows),
            "mean_train_per_1k": sum(r["train_per_1k"] for r in rows) / max(1, n),
            "mean_context_per_1k": sum(r["context_per_1k"] for r in rows) / max(1, n),
        }
        if outcome == "lost":
            out["groups"][outcome]["written_after_in_training"] = sum(r["written_after_in_train"] for r in rows)
            out["lost_lines"] = rows
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("summary")
    ap.add_argument("--site", help="the folder the repository was copied from (default: the bench's site_packages)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    summary = json.load(open(args.summary))
    site = args.site or summary.get("bench", {}).get("site_packages")
    if not site:
        sys.exit("prior_shift: pass --site (the summary names no site-packages folder)")
    result = analyse(summary, site)
    if args.json:
        json.dump(result, sys.stdout, indent=1)
        print()
        return
    print(f"{args.summary}: {result['train_lines']} training lines")
    print("| probes | count | real line occurs in training | only in the file above (not in training) | "
          "more frequent above than in training | mean rate in training (/1k lines) | mean rate above the probe (/1k lines) |")
    print("|---|---|---|---|---|---|---|")
    for outcome, g in result["groups"].items():
        n = max(1, g["probes"])
        print(f"| {outcome} | {g['probes']} | {g['in_training']} ({100 * g['in_training'] / n:.0f} %) | "
              f"{g['context_only']} ({100 * g['context_only'] / n:.0f} %) | "
              f"{g['context_favoured']} ({100 * g['context_favoured'] / n:.0f} %) | {g['mean_train_per_1k']:.2f} | "
              f"{g['mean_context_per_1k']:.2f} |")
    lost = result["groups"]["lost"]
    print(f"lost lines where the adapter wrote a line that occurs in training: {lost.get('written_after_in_training', 0)}"
          f" of {lost['probes']}")


if __name__ == "__main__":
    main()
