#!/usr/bin/env python3
"""Check a GGUF LoRA adapter written by lora_train.py against PEFT, an independent LoRA implementation.

Reads the adapter with the `gguf` package (metadata and tensors), loads the base GGUF model into transformers
(lora_train.hf_model), wraps it with PEFT (`LoraConfig(r, lora_alpha, target_modules)`, the adapter's A and B
copied in), and compares the logits on a prompt with the base model whose weights were merged by hand
(W + alpha / r * B @ A, from the file's numbers). Also checks the metadata llama.cpp reads and the shapes
(lora_a GGUF ne = [n_in, r], lora_b ne = [r, n_out]). Needs peft (pip install peft==0.21.2).

    python tools/finetune/check_adapter.py --model models/default.gguf --adapter adapter.gguf
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lora_train as lt  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--adapter", required=True)
    ap.add_argument("--scale", type=float, default=1.0, help="the user's adapter scale (--lora FILE:SCALE)")
    args = ap.parse_args()
    from gguf import GGUFReader
    from peft import LoraConfig, get_peft_model

    reader = GGUFReader(args.adapter)
    meta = lt.gguf_fields(reader)
    assert meta["general.type"] == "adapter" and meta["adapter.type"] == "lora", meta
    alpha = float(meta["adapter.lora.alpha"])
    pairs = {}
    for t in reader.tensors:
        base, part = t.name.rsplit(".", 1)
        pairs.setdefault(base, {})[part] = (np.array(t.data, dtype=np.float32), [int(d) for d in t.shape])
    r = next(iter(pairs.values()))["lora_a"][1][1]

    bmeta, tensors, _ = lt.load_gguf(args.model)
    assert meta["general.architecture"] == bmeta["general.architecture"]
    model, config = lt.hf_model(bmeta, tensors)
    merged, _ = lt.hf_model(bmeta, tensors)
    targets = sorted({name.split(".")[2] for name in pairs})
    modules = []
    for name, ab in pairs.items():
        (a, a_ne), (b, b_ne) = ab["lora_a"], ab["lora_b"]
        layer, target = int(name.split(".")[1]), name.split(".")[2]
        path = lt.TARGETS[target]
        experts = range(config.num_experts) if "{e}" in path else [None]
        for e in experts:
            p = f"model.layers.{layer}." + path.format(e=e)
            ae, be = (a[e], b[e]) if e is not None else (a, b)
            lin = merged.get_submodule(p)
            assert a_ne[:2] == [lin.in_features, r] and b_ne[:2] == [r, lin.out_features], (name, a_ne, b_ne)
            with torch.no_grad():
                lin.weight += torch.from_numpy(args.scale * alpha / r * (be @ ae))
            modules.append((p, ae, be))
    # PEFT: the same A and B in its own LoRA layers
    leaf = sorted({p.rsplit(".", 1)[1] for p, _, _ in modules})
    peft = get_peft_model(model, LoraConfig(r=r, lora_alpha=alpha, target_modules=[p for p, _, _ in modules],
                                            lora_dropout=0.0, bias="none"))
    with torch.no_grad():
        for p, ae, be in modules:
            m = peft.base_model.model.get_submodule(p)
            m.lora_A["default"].weight.copy_(torch.from_numpy(ae))
            m.lora_B["default"].weight.copy_(torch.from_numpy(be * args.scale))
    ids = torch.tensor([list(range(3, 67))])
    with torch.no_grad():
        x = peft(input_ids=ids).logits.double()
        y = merged(input_ids=ids).logits.double()
    rel = float((x - y).abs().max() / y.abs().max())
    print(f"{len(pairs)} adapted tensors ({', '.join(targets)}; {leaf}), rank {r}, alpha {alpha:g}: PEFT vs merged "
          f"by hand, max relative logit difference {rel:.2e}")
    if rel > 1e-4:
        sys.exit("MISMATCH")
    print("OK")


if __name__ == "__main__":
    main()
