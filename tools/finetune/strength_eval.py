#!/usr/bin/env python3
"""An adapter at several strengths, measured on held-out files as `moecoder finetune` measures (lora_train's Evaluator).

    python tools/finetune/strength_eval.py --model models/default.gguf --adapter a.gguf \\
        --data WORK_DIR --strengths 0.5,0.75 [--threads 2] [--json out.json]

WORK_DIR is a finetune data folder (`moecoder finetune --work-dir DIR`: its heldout.jsonl). At strength s every LoRA
update is multiplied by s (0: the base model, 1: the adapter as trained), the same as `--lora FILE:s`. For each
strength: held-out loss and perplexity (512-token windows overlapping by half) and next-line exact on every line of
code, written greedily. It answers whether a weaker adapter keeps more of the model's general habits than it loses of
what it learned, without training again.
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lora_train as lt  # noqa: E402  (first: it sets OMP_WAIT_POLICY before torch starts its threads)
import probe_diag as pd  # noqa: E402
import torch  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--model", required=True)
    ap.add_argument("--adapter", required=True, help="GGUF LoRA adapter")
    ap.add_argument("--data", required=True, help="finetune data folder with heldout.jsonl")
    ap.add_argument("--strengths", default="0.5,1", help="comma-separated multipliers of the adapter's update")
    ap.add_argument("--window", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="write each strength's evaluation (every probe) here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    strengths = [float(x) for x in args.strengths.split(",") if x.strip()]

    meta, tensors, reader = lt.load_gguf(args.model)
    model, config = lt.hf_model(meta, tensors)
    tok, vocab = lt.gguf_tokenizer(reader, meta)
    token_bytes = lt.token_bytes_of(reader, vocab)
    ids = {t: i for i, t in enumerate(vocab)}
    eos = int(meta.get("tokenizer.ggml.eos_token_id", 0))
    eos_ids = {eos} | ({ids["<|endoftext|>"]} if "<|endoftext|>" in ids else set())
    arch = meta["general.architecture"]
    mods = pd.attach(model, config, *pd.load_adapter(args.adapter))
    trained = [m.scaling for m in mods]
    evaluator = lt.Evaluator(model, tok, token_bytes, args.window, int(meta[f"{arch}.context_length"]),
                             bool(meta.get("tokenizer.ggml.add_bos_token", False)),
                             int(meta.get("tokenizer.ggml.bos_token_id", eos)), eos_ids, -1)
    docs = lt.load_jsonl(Path(args.data) / "heldout.jsonl")
    results = {}
    for s in strengths:
        for m, t in zip(mods, trained):
            m.scaling = t * s
        t0 = time.time()
        r = evaluator.evaluate(docs, f"strength {s:g}")
        results[str(s)] = r
        print(f"strength {s:g}: loss {r['loss']:.4f}, perplexity {r['perplexity']:.3f}, next-line exact "
              f"{r['exact_lines']}/{r['line_probes']} ({time.time() - t0:.0f} s)", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"model": args.model, "adapter": args.adapter, "data": args.data,
                                               "strengths": results}, indent=0))


if __name__ == "__main__":
    main()
