#!/usr/bin/env python3
"""Train the byte-level BPE tokenizer (vocab 8192) on the training split.

Pre-tokenizer: llama.cpp's `llama-bpe` (Llama 3) regex exactly, then GPT-2 byte-to-unicode mapping; the BPE model
looks whole pre-tokens up first (`ignore_merges`), as llama.cpp does for this family. Special tokens follow the
StarCoder FIM convention that `FIMTokens` recognises; `<|endoftext|>` is id 0 and ends every document.
"""
import argparse
import json
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

REPO = Path(__file__).resolve().parents[2]
LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
SPECIALS = ["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>", "<file_sep>"]


def build(vocab_size: int, texts) -> Tokenizer:
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(REPO / "tools/train/work/data"))
    ap.add_argument("--out", default=str(REPO / "tools/train/work/tokenizer.json"))
    ap.add_argument("--vocab-size", type=int, default=8192)
    ap.add_argument("--max-bytes", type=int, default=30_000_000, help="train on the first N bytes of the split")
    args = ap.parse_args()
    texts, total = [], 0
    with open(Path(args.data) / "train.jsonl") as f:
        for line in f:
            t = json.loads(line)["text"]
            texts.append(t)
            total += len(t)
            if total >= args.max_bytes:
                break
    tok = build(args.vocab_size, texts)
    tok.save(args.out)
    sample = "def fibonacci(n):\n    if n < 2:\n        return n\n"
    enc = tok.encode(sample)
    print(f"vocab {tok.get_vocab_size()}, trained on {total} chars; {len(sample)} chars -> {len(enc.ids)} tokens:",
          enc.tokens)


if __name__ == "__main__":
    main()
