#!/usr/bin/env python3
"""Unigram and bigram baselines for the model card, measured exactly as `moecoder eval` measures the model.

Both n-gram models are estimated on the training split (tools/train/work/data/train.jsonl, made by
tools/train/prep_data.py) with the model's own tokenizer, and scored on the same held-out files
(models/heldout by default):
- perplexity per token: each file tokenized whole, every token but the first scored;
- next-line exact match: the same probe lines as `Evaluator.probeLines` (10 a file), the baseline writes the line
  greedily from the code above (up to 48 tokens or a line break), compared with blanks trimmed.
Unigram: add-one smoothing. Bigram: absolute discounting (d = 0.75) interpolated with the unigram.
Prints JSON.
"""
import argparse
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

REPO = Path(__file__).resolve().parents[1]
DISCOUNT = 0.75


def lines_of(text: str) -> list[str]:
    """Lines with their line breaks kept, split at "\n" only (as `Evaluator.lines(of:)`)."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def probe_lines(lines: list[str], count: int) -> list[int]:
    cand = [i for i in range(1, len(lines)) if len(lines[i].strip()) >= 4]
    if count <= 0 or not cand:
        return []
    if len(cand) <= count:
        return cand
    return [cand[(k * 2 + 1) * len(cand) // (2 * count)] for k in range(count)]


class NGram:
    def __init__(self, ids_per_doc: list[list[int]], vocab: int):
        self.vocab = vocab
        uni = np.zeros(vocab, dtype=np.float64)
        big: Counter = Counter()
        for ids in ids_per_doc:
            uni += np.bincount(ids, minlength=vocab)
            big.update(zip(ids, ids[1:]))
        self.p_uni = (uni + 1) / (uni.sum() + vocab)
        self.context_count = np.zeros(vocab)
        self.followers = np.zeros(vocab)
        self.next: dict[int, dict[int, int]] = {}
        for (a, b), c in big.items():
            self.context_count[a] += c
            self.followers[a] += 1
            self.next.setdefault(a, {})[b] = c
        self.uni_best = int(np.argmax(self.p_uni))
        self.big_best = {a: max(nx.items(), key=lambda kv: (kv[1], -kv[0]))[0] for a, nx in self.next.items()}

    def p_bigram(self, a: int, b: int) -> float:
        n = self.context_count[a]
        if n == 0:
            return self.p_uni[b]
        c = self.next[a].get(b, 0)
        return max(c - DISCOUNT, 0) / n + DISCOUNT * self.followers[a] / n * self.p_uni[b]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(REPO / "tools/train/work/data"))
    ap.add_argument("--tokenizer", default=str(REPO / "tools/train/work/tokenizer.json"))
    ap.add_argument("--heldout", default=str(REPO / "models/heldout"))
    ap.add_argument("--lines", type=int, default=10)
    ap.add_argument("--line-tokens", type=int, default=48)
    args = ap.parse_args()
    tok = Tokenizer.from_file(args.tokenizer)
    with open(Path(args.data) / "train.jsonl") as f:
        texts = [json.loads(l)["text"] for l in f]
    train_ids = [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]
    model = NGram(train_ids, tok.get_vocab_size())

    files = sorted(Path(args.heldout).glob("*.py"))
    nll_uni = nll_big = 0.0
    scored = probes = exact_uni = exact_big = 0
    for path in files:
        text = path.read_text()
        ids = tok.encode(text, add_special_tokens=False).ids
        for a, b in zip(ids, ids[1:]):
            nll_uni -= math.log(model.p_uni[b])
            nll_big -= math.log(model.p_bigram(a, b))
        scored += len(ids) - 1
        lines = lines_of(text)
        for i in probe_lines(lines, args.lines):
            probes += 1
            prefix = tok.encode("".join(lines[:i]), add_special_tokens=False).ids
            expected = lines[i].strip()
            for kind in ("uni", "big"):
                out, last = [], prefix[-1] if prefix else 0
                for _ in range(args.line_tokens):
                    last = model.uni_best if kind == "uni" else model.big_best.get(last, model.uni_best)
                    out.append(last)
                    if "\n" in tok.decode(out):
                        break
                line = tok.decode(out).split("\n")[0].strip()
                if line == expected:
                    if kind == "uni":
                        exact_uni += 1
                    else:
                        exact_big += 1
    result = {
        "files": len(files), "scored_tokens": scored, "line_probes": probes,
        "train_tokens": int(sum(len(i) for i in train_ids)),
        "unigram": {"loss_per_token": nll_uni / scored, "perplexity": math.exp(nll_uni / scored),
                    "next_line_exact_match": exact_uni / max(1, probes)},
        "bigram": {"loss_per_token": nll_big / scored, "perplexity": math.exp(nll_big / scored),
                   "next_line_exact_match": exact_big / max(1, probes)},
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
