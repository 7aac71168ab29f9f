#!/usr/bin/env python3
"""Next-line probes scored by teacher forcing, for the base model and an adapter: a cheap look at what an adapter did.

    python tools/finetune/probe_diag.py --model models/default.gguf --adapter a.gguf \\
        --summary bench/results/finetune_docker.json [--greedy '^else:$'] [--json out.json]

The probes are the lines of code of the held-out files (the rule of `moecoder eval --probes code --lines all` and
of lora_train.py), each after the code above it (its last window - 48 tokens, as the evaluation). For every probe
one forward pass over the prompt followed by the real line (indentation, text and its line break, as the file's
tokenization has them) gives, with the adapter off (base) and on:
- the line's negative log-likelihood (nats, summed over its tokens): lower means the real line got more likely;
- "forced exact": the most likely token is the real one at every token of the line (greedy decoding then writes
  the line exactly; the evaluation also counts a line written with other indentation or other token boundaries,
  so this is a lower bound of its exact count, usually equal);
- the most likely first token of the line's text (after its indentation) and the probability of the real one.
`--greedy REGEX` also decodes greedily (the evaluation's rule) at the probes whose real line matches REGEX and
prints what was written, indentation included. Groups: lines equal to `else:`, and all the others.
Files: `--summary` (a finetune --json summary or bench/results/finetune_*.json: its held-out files, read from the
bench's site-packages folder or --root) or `--root DIR --files PATH...`.
"""
import argparse
import json
import math
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lora_train as lt  # noqa: E402


def load_adapter(path: str):
    """{gguf base name: (A [r, n_in] or [E, r, n_in], B)}, alpha."""
    from gguf import GGUFReader
    reader = GGUFReader(path)
    meta = lt.gguf_fields(reader)
    if meta.get("general.type") != "adapter" or meta.get("adapter.type") != "lora":
        raise SystemExit(f"{path} is not a GGUF LoRA adapter")
    pairs = {}
    for t in reader.tensors:
        base, part = t.name.rsplit(".", 1)
        shape = tuple(int(d) for d in reversed(t.shape.tolist()))
        pairs.setdefault(base, {})[part] = np.array(t.data, dtype=np.float32).reshape(shape)
    return pairs, float(meta["adapter.lora.alpha"])


def attach(model, config, pairs: dict, alpha: float) -> list:
    targets = sorted({name.split(".")[2] for name in pairs})
    r = next(iter(pairs.values()))["lora_a"].shape[-2]
    adapted = lt.add_lora(model, config, targets, r, alpha)
    mods = []
    with torch.no_grad():
        for name, ms in adapted.items():
            a, b = pairs[name]["lora_a"], pairs[name]["lora_b"]
            for e, m in enumerate(ms):
                m.lora_a.copy_(torch.from_numpy(a[e] if a.ndim == 3 else a))
                m.lora_b.copy_(torch.from_numpy(b[e] if b.ndim == 3 else b))
                mods.append(m)
    return mods


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--model", required=True)
    ap.add_argument("--adapter", help="GGUF LoRA adapter (without: the base model only)")
    ap.add_argument("--summary", help="finetune summary whose held-out files to probe")
    ap.add_argument("--root", help="folder the held-out paths are relative to (default: the bench's site-packages)")
    ap.add_argument("--files", nargs="*", default=[])
    ap.add_argument("--window", type=int, default=512)
    ap.add_argument("--greedy", help="regex: decode greedily at the probes whose real line matches")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="write every probe's scores here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    files, root = list(args.files), args.root
    if args.summary:
        s = json.load(open(args.summary))
        files += s["repository"]["heldout_files"]
        root = root or (s.get("bench") or {}).get("site_packages") or s["repository"]["root"]
    if not files or not root:
        raise SystemExit("give --summary, or --root and --files")

    meta, tensors, reader = lt.load_gguf(args.model)
    model, config = lt.hf_model(meta, tensors)
    tok, vocab = lt.gguf_tokenizer(reader, meta)
    token_bytes = lt.token_bytes_of(reader, vocab)
    mods = attach(model, config, *load_adapter(args.adapter)) if args.adapter else []
    scaling = [m.scaling for m in mods]
    sides = ["base"] + (["adapter"] if mods else [])
    evaluator = lt.Evaluator(model, tok, token_bytes, args.window, args.window, False, 0, {0}, -1)
    budget = args.window - evaluator.line_tokens

    def use(side):
        for m, s in zip(mods, scaling):
            m.scaling = s if side == "adapter" else 0.0

    enc = lambda t: tok.encode(t, add_special_tokens=False).ids  # noqa: E731
    probes, t0 = [], time.time()
    for path in files:
        text = (Path(root) / path).read_text()
        lines = lt.split_lines(text)
        for i in lt.probe_lines(lines, -1, "code"):
            prefix = "".join(lines[:i])
            p_ids = enc(prefix)
            full = enc(prefix + lines[i] + (lines[i + 1] if i + 1 < len(lines) else ""))
            if full[:len(p_ids)] != p_ids:
                continue  # a token across the line start (does not happen with this pre-tokenizer)
            cont, seen = [], b""
            for t in full[len(p_ids):]:
                cont.append(t)
                seen += token_bytes[t]
                if b"\n" in seen:
                    break
            indent = 0  # tokens of pure indentation before the text
            while indent < len(cont) - 1 and token_bytes[cont[indent]].strip() == b"":
                indent += 1
            prompt = p_ids[-budget:]
            ids = torch.tensor([prompt + cont])
            rec = {"path": path, "line": i, "expected": lines[i].strip(), "tokens": len(cont)}
            for side in sides:
                use(side)
                with torch.no_grad():
                    logits = model(input_ids=ids).logits[0, len(prompt) - 1:len(prompt) - 1 + len(cont)].double()
                lp = torch.log_softmax(logits, -1)
                tgt = torch.tensor(cont)
                rec[f"{side}_nll"] = -float(lp.gather(1, tgt[:, None]).sum())
                rec[f"{side}_forced_exact"] = bool((logits.argmax(-1) == tgt).all())
                top = int(logits[indent].argmax())
                rec[f"{side}_first_top"] = token_bytes[top].decode("utf-8", "replace")
                rec[f"{side}_first_p"] = math.exp(float(lp[indent, cont[indent]]))
                if args.greedy and re.search(args.greedy, rec["expected"]):
                    rec[f"{side}_greedy"] = greedy(model, prompt, token_bytes, evaluator.line_tokens)
            probes.append(rec)
        print(f"{path}: {sum(p['path'] == path for p in probes)} probes, {time.time() - t0:.0f} s", file=sys.stderr)

    groups = {"else:": [p for p in probes if p["expected"] == "else:"],
              "other": [p for p in probes if p["expected"] != "else:"], "all": probes}
    out = {"model": args.model, "adapter": args.adapter, "files": files, "groups": {}}
    for g, ps in groups.items():
        row = {"probes": len(ps)}
        for side in sides:
            row[side] = {"mean_line_nll": sum(p[f"{side}_nll"] for p in ps) / max(1, len(ps)),
                         "forced_exact": sum(p[f"{side}_forced_exact"] for p in ps),
                         "mean_p_first": sum(p[f"{side}_first_p"] for p in ps) / max(1, len(ps))}
        out["groups"][g] = row
        print(f"{g:6s} {len(ps):4d} probes: " + "; ".join(
            f"{side}: line NLL {row[side]['mean_line_nll']:.3f}, forced exact {row[side]['forced_exact']}, "
            f"p(first token) {row[side]['mean_p_first']:.3f}" for side in sides))
    for p in probes:
        if any(k.endswith("_greedy") for k in p):
            print(f"{p['path']}:{p['line'] + 1} {p['expected']!r}: " + "  ".join(
                f"{side} {p.get(side + '_greedy')!r} (first {p[side + '_first_top']!r}, p {p[side + '_first_p']:.2f})"
                for side in sides))
    out["probes"] = probes
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=0))


@torch.no_grad()
def greedy(model, prompt, token_bytes, limit):
    out = model(input_ids=torch.tensor([prompt]), use_cache=True)
    past, logits, text = out.past_key_values, out.logits[0, -1], b""
    for _ in range(limit):
        t = int(torch.argmax(logits))
        if t == 0:
            break
        text += token_bytes[t]
        if b"\n" in text:
            return text[:text.index(b"\n")].decode("utf-8", "replace")
        out = model(input_ids=torch.tensor([[t]]), past_key_values=past, use_cache=True)
        past, logits = out.past_key_values, out.logits[0, -1]
    return text.decode("utf-8", "replace")


if __name__ == "__main__":
    main()
