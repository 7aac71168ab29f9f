#!/usr/bin/env python3
"""Export a trained checkpoint (train.py's `ckpt.pt` or `final/`) to GGUF with our own writer (gguf_writer.py).

Tensor names and metadata keys are llama.cpp's for `qwen2moe`. Routed experts are stacked into 3-D tensors
(numpy shape [experts, rows, cols]); the tied output matrix is written out as `output.weight` too, so loaders that
do not tie embeddings read the same model. Matrices are written F32 (or F16 with `--f16`); norms, biases and the
two router matrices stay F32. `moecoder quantize OUT models/default.gguf --type q8_0` makes the shipped file.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gguf_writer as gw  # noqa: E402
from train import MODEL_CONFIG  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CONTROL, NORMAL = 3, 1
ARCH = "qwen2moe"


def load_state(path: Path) -> tuple[dict, dict]:
    if path.is_dir():
        from safetensors.torch import load_file
        cfg = json.loads((path / "config.json").read_text())
        return load_file(path / "model.safetensors"), cfg
    state = torch.load(path, map_location="cpu", weights_only=False)
    return state["model"], state["config"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=str(REPO / "tools/train/work/run/final"))
    ap.add_argument("--tokenizer", default=str(REPO / "tools/train/work/tokenizer.json"))
    ap.add_argument("--out", default=str(REPO / "tools/train/work/default-f32.gguf"))
    ap.add_argument("--context-length", type=int, default=512, help="the trained sequence length")
    ap.add_argument("--f16", action="store_true")
    ap.add_argument("--name", default="MoECoder-Default")
    args = ap.parse_args()

    sd, cfg = load_state(Path(args.checkpoint))
    sd = {k: v.float().numpy() for k, v in sd.items()}
    tokj = json.loads(Path(args.tokenizer).read_text())
    vocab = tokj["model"]["vocab"]
    tokens = [None] * len(vocab)
    for t, i in vocab.items():
        tokens[i] = t
    specials = {a["id"] for a in tokj["added_tokens"] if a["special"]}
    for a in tokj["added_tokens"]:
        tokens[a["id"]] = a["content"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in tokj["model"]["merges"]]
    eos = vocab["<|endoftext|>"]

    w = gw.GGUFWriter()
    w.add("general.architecture", gw.STRING, ARCH)
    w.add("general.name", gw.STRING, args.name)
    w.add("general.file_type", gw.U32, 1 if args.f16 else 0)
    w.add("general.alignment", gw.U32, gw.ALIGNMENT)
    n_layer = cfg["num_hidden_layers"]
    for key, vtype, value in [
        ("context_length", gw.U32, args.context_length), ("embedding_length", gw.U32, cfg["hidden_size"]),
        ("block_count", gw.U32, n_layer), ("feed_forward_length", gw.U32, cfg["intermediate_size"]),
        ("attention.head_count", gw.U32, cfg["num_attention_heads"]),
        ("attention.head_count_kv", gw.U32, cfg["num_key_value_heads"]),
        ("rope.freq_base", gw.F32, cfg["rope_theta"]),
        ("attention.layer_norm_rms_epsilon", gw.F32, cfg["rms_norm_eps"]),
        ("expert_count", gw.U32, cfg["num_experts"]), ("expert_used_count", gw.U32, cfg["num_experts_per_tok"]),
        ("expert_feed_forward_length", gw.U32, cfg["moe_intermediate_size"]),
        ("expert_shared_feed_forward_length", gw.U32, cfg["shared_expert_intermediate_size"]),
    ]:
        w.add(f"{ARCH}.{key}", vtype, value)
    w.add("tokenizer.ggml.model", gw.STRING, "gpt2")
    w.add("tokenizer.ggml.pre", gw.STRING, "llama-bpe")
    w.add_array("tokenizer.ggml.tokens", gw.STRING, tokens)
    w.add_array("tokenizer.ggml.token_type", gw.I32, [CONTROL if i in specials else NORMAL for i in range(len(tokens))])
    w.add_array("tokenizer.ggml.merges", gw.STRING, merges)
    w.add("tokenizer.ggml.bos_token_id", gw.U32, eos)
    w.add("tokenizer.ggml.eos_token_id", gw.U32, eos)
    w.add("tokenizer.ggml.padding_token_id", gw.U32, vocab["<fim_pad>"])
    w.add("tokenizer.ggml.add_bos_token", gw.BOOL, False)
    w.add("tokenizer.ggml.add_eos_token", gw.BOOL, False)

    mat = gw.GGML_F16 if args.f16 else gw.GGML_F32
    embd = sd["model.embed_tokens.weight"]
    w.add_tensor("token_embd.weight", embd, mat)
    w.add_tensor("output_norm.weight", sd["model.norm.weight"])
    w.add_tensor("output.weight", sd.get("lm_head.weight", embd), mat)
    for i in range(n_layer):
        p, b = f"model.layers.{i}.", f"blk.{i}."
        w.add_tensor(b + "attn_norm.weight", sd[p + "input_layernorm.weight"])
        for hf, gg in (("q_proj", "attn_q"), ("k_proj", "attn_k"), ("v_proj", "attn_v")):
            w.add_tensor(f"{b}{gg}.weight", sd[f"{p}self_attn.{hf}.weight"], mat)
            w.add_tensor(f"{b}{gg}.bias", sd[f"{p}self_attn.{hf}.bias"])
        w.add_tensor(b + "attn_output.weight", sd[p + "self_attn.o_proj.weight"], mat)
        w.add_tensor(b + "ffn_norm.weight", sd[p + "post_attention_layernorm.weight"])
        m = p + "mlp."
        w.add_tensor(b + "ffn_gate_inp.weight", sd[m + "gate.weight"])
        for proj in ("gate", "up", "down"):
            stacked = np.stack([sd[f"{m}experts.{e}.{proj}_proj.weight"] for e in range(cfg["num_experts"])])
            w.add_tensor(f"{b}ffn_{proj}_exps.weight", stacked, mat)
            w.add_tensor(f"{b}ffn_{proj}_shexp.weight", sd[f"{m}shared_expert.{proj}_proj.weight"], mat)
        w.add_tensor(b + "ffn_gate_inp_shexp.weight", sd[m + "shared_expert_gate.weight"])
    w.write(args.out)
    print(f"wrote {args.out} ({Path(args.out).stat().st_size / 2**20:.1f} MiB, {len(w.tensors)} tensors)")


if __name__ == "__main__":
    main()
