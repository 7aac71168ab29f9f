#!/usr/bin/env python3
"""Random LoRA adapters for the tiny F32 fixture models, with reference logits from PEFT and llama.cpp.

For llama, qwen2moe, qwen3moe and deepseek2 (the models tools/make_fixtures.py made, rebuilt here from the same seeds and
checked against the logits recorded in Tests/Fixtures/models/<name>.json) this script
  1. wraps the Hugging Face model with PEFT (random A and B, fixed seed; rsLoRA on llama, a smaller rank on
     the routed experts of qwen2moe through `rank_pattern`),
  2. saves the adapter as a PEFT folder (adapter_config.json + adapter_model.safetensors) and as a llama.cpp
     GGUF LoRA adapter (general.type "adapter", adapter.type "lora", adapter.lora.alpha, NAME.weight.lora_a /
     .lora_b in F32; llama's q/k rows permuted as llama.cpp's converter permutes the base weights; per-expert
     A/B stacked into ffn_*_exps tensors),
  3. records PEFT's (transformers, eager, float32) logits of the first prompt, the base model's logits at the
     same positions, and llama.cpp's logits with the GGUF adapter (llama-cpp-python, F32 KV cache),
into Tests/Fixtures/lora/<name>/.  Run:  /tmp/fixenv/bin/python tools/make_lora_fixtures.py
Pinned versions: tools/requirements-fixtures.txt (peft among them).
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_fixtures as mf  # noqa: E402

PEFT_VERSION = "0.21.2"
REPO = mf.REPO
MODELS = REPO / "Tests" / "Fixtures" / "models"
OUT = REPO / "Tests" / "Fixtures" / "lora"
POSITIONS = [0, 6, 13]                 # prompt positions whose logits are kept (fixtures stay small)

# name -> (PEFT LoraConfig arguments, scale of the random B)
ADAPTERS = {
    "llama": dict(r=4, lora_alpha=8, use_rslora=True,
                  target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]),
    "qwen2moe": dict(r=4, lora_alpha=8, rank_pattern={r"experts\.\d+\.(gate|up|down)_proj": 1},
                     target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate", "gate_proj", "up_proj",
                                     "down_proj"]),
    "qwen3moe": dict(r=4, lora_alpha=16, rank_pattern={r"experts\.\d+\.(gate|up|down)_proj": 1},
                     target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]),
    "deepseek2": dict(r=2, lora_alpha=4, rank_pattern={r"experts\.\d+\.(gate|up|down)_proj": 1},
                      target_modules=["q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj",
                                      "gate_proj", "up_proj", "down_proj"]),
}

# Tensors llama.cpp multiplies without adapters (GGUF names, and the Hugging Face modules they come from).
LLAMA_CPP_SKIPS = {"deepseek2": ("attn_q_a", "attn_q_b", "attn_kv_a_mqa", "attn_kv_b")}
LLAMA_CPP_SKIPS_HF = {"deepseek2": ("q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj")}

# Hugging Face module (after model.layers.N.) -> GGUF tensor (after blk.N.), expert index or None
SIMPLE = {
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "self_attn.q_a_proj": "attn_q_a", "self_attn.q_b_proj": "attn_q_b",
    "self_attn.kv_a_proj_with_mqa": "attn_kv_a_mqa", "self_attn.kv_b_proj": "attn_kv_b",
    "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down", "mlp.gate": "ffn_gate_inp",
    "mlp.shared_expert.gate_proj": "ffn_gate_shexp", "mlp.shared_expert.up_proj": "ffn_up_shexp",
    "mlp.shared_expert.down_proj": "ffn_down_shexp", "mlp.shared_experts.gate_proj": "ffn_gate_shexp",
    "mlp.shared_experts.up_proj": "ffn_up_shexp", "mlp.shared_experts.down_proj": "ffn_down_shexp",
}


def gguf_name(module: str):
    """'base_model.model.model.layers.1.mlp.experts.3.up_proj' -> ('blk.1.ffn_up_exps.weight', 3)."""
    rest = module.split("model.layers.", 1)[1]
    layer, rest = rest.split(".", 1)
    if rest.startswith("mlp.experts."):
        expert, proj = rest[len("mlp.experts."):].split(".", 1)
        return f"blk.{layer}.ffn_{proj.replace('_proj', '')}_exps.weight", int(expert)
    return f"blk.{layer}.{SIMPLE[rest]}.weight", None


def permute_rows(b, heads):
    """llama.cpp's convert_hf_to_gguf permutation of q/k rows (rotary pairs interleaved), applied to lora_B."""
    out = b.shape[0]
    return b.reshape(heads, 2, out // heads // 2, *b.shape[1:]).swapaxes(1, 2).reshape(b.shape)


def sort_target_modules(path: Path):
    """PEFT writes target_modules in set order (it changes from run to run): sorted, the file is reproducible."""
    config = json.loads(path.read_text())
    config["target_modules"] = sorted(config["target_modules"])
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def rebuild(name: str):
    import torch
    ref = json.loads((MODELS / f"{name}.json").read_text())
    index = list(mf.ARCHS).index(name)
    builder = mf.ARCHS[name][0]
    torch.manual_seed(mf.SEED + index)
    model = builder().float()
    mf.init_weights(model, ref["weights_seed"])
    if hasattr(model, "fixture_post_init"):
        model.fixture_post_init(model, ref["weights_seed"])
    model.eval()
    tokens = ref["prompts"][0]["tokens"]
    with torch.no_grad():
        got = model(torch.tensor([tokens])).logits[0]
    want = torch.tensor(ref["prompts"][0]["logits"])
    diff = float((got - want).abs().max())
    assert diff < 1e-3, f"{name}: rebuilt model differs from the recorded fixture by {diff}"
    return model, tokens, got


def write_gguf_adapter(path: Path, arch: str, alpha: float, tensors: dict):
    import gguf
    import numpy as np
    w = gguf.GGUFWriter(str(path), arch)
    w.add_string("general.type", "adapter")
    w.add_string("adapter.type", "lora")
    w.add_float32("adapter.lora.alpha", float(alpha))
    for name in sorted(tensors):
        w.add_tensor(name, np.ascontiguousarray(tensors[name], dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def make(name: str, have_llama: bool):
    import numpy as np
    import torch
    from peft import LoraConfig, get_peft_model
    from safetensors.torch import load_file

    model, tokens, base_logits = rebuild(name)
    cfg = model.config
    args = ADAPTERS[name]
    peft_model = get_peft_model(model, LoraConfig(lora_dropout=0.0, bias="none", **args))
    g = torch.Generator().manual_seed(4321 + list(ADAPTERS).index(name))
    with torch.no_grad():
        for pname, p in sorted(peft_model.named_parameters()):
            if "lora_A" in pname:
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p.shape[1]))
            elif "lora_B" in pname:
                p.copy_(0.5 * torch.randn(p.shape, generator=g) / math.sqrt(p.shape[1]))
    peft_model.eval()
    with torch.no_grad():
        logits = peft_model(torch.tensor([tokens])).logits[0]
    out = OUT / name
    peft_dir = out / "peft"
    peft_dir.mkdir(parents=True, exist_ok=True)
    peft_model.save_pretrained(peft_dir)
    for extra in peft_dir.iterdir():
        if extra.name not in ("adapter_config.json", "adapter_model.safetensors"):
            extra.unlink()
    sort_target_modules(peft_dir / "adapter_config.json")

    # The GGUF form, from the saved safetensors (what a converter sees).
    state = load_file(str(peft_dir / "adapter_model.safetensors"))
    r = args["r"]
    alpha = args["lora_alpha"] * (math.sqrt(r) if args.get("use_rslora") else 1.0)
    arch = mf.ARCHS[name][1]
    plain, experts = {}, {}
    for key, value in state.items():
        if not key.endswith("lora_A.weight"):
            continue
        module = key[: -len(".lora_A.weight")]
        a = value.float().numpy()
        b = state[module + ".lora_B.weight"].float().numpy()
        tensor, expert = gguf_name(module)
        if arch == "llama" and tensor.endswith(("attn_q.weight", "attn_k.weight")):
            heads = cfg.num_attention_heads if "attn_q" in tensor else cfg.num_key_value_heads
            b = permute_rows(b, heads)
        if expert is None:
            plain[tensor + ".lora_a"], plain[tensor + ".lora_b"] = a, b
        else:
            experts.setdefault(tensor, {})[expert] = (a, b)
    for tensor, per in experts.items():
        count = cfg.num_experts if hasattr(cfg, "num_experts") else cfg.n_routed_experts
        a0, b0 = next(iter(per.values()))
        plain[tensor + ".lora_a"] = np.stack([per.get(e, (np.zeros_like(a0), b0))[0] for e in range(count)])
        plain[tensor + ".lora_b"] = np.stack([per.get(e, (a0, np.zeros_like(b0)))[1] for e in range(count)])
    write_gguf_adapter(out / "adapter.gguf", arch, alpha, plain)
    # llama.cpp's deepseek2 graph multiplies attn_q_a, attn_q_b, attn_kv_a_mqa and attn_k_b/attn_v_b (its split
    # attn_kv_b) with plain ggml_mul_mat, so it applies no adapter to them (src/models/deepseek2.cpp): its
    # reference runs the adapter without those tensors, compared with PEFT's logits with their deltas off.
    skip = LLAMA_CPP_SKIPS.get(name, ())
    llama_adapter = out / "adapter.gguf"
    peft_for_llama = logits
    if skip:
        llama_adapter = out / "adapter-llama-cpp.gguf"
        write_gguf_adapter(llama_adapter, arch, alpha,
                           {k: v for k, v in plain.items() if not any(f".{t}.weight" in k for t in skip)})
        with torch.no_grad():
            saved = {}
            for pname, p in peft_model.named_parameters():
                if "lora_B" in pname and any(f".{hf}.lora_B" in pname for hf in LLAMA_CPP_SKIPS_HF[name]):
                    saved[pname] = p.clone()
                    p.zero_()
            assert saved
            peft_for_llama = peft_model(torch.tensor([tokens])).logits[0]
            for pname, p in peft_model.named_parameters():
                if pname in saved:
                    p.copy_(saved[pname])
    doc = {"name": name, "model": f"{name}.gguf", "tokens": tokens, "positions": POSITIONS,
           "peft": f"peft {PEFT_VERSION}, transformers {mf.PINS['transformers']} (eager, float32)",
           "lora_config": {k: v for k, v in args.items()},
           "peft_logits": [[mf.r6(v) for v in logits[p].tolist()] for p in POSITIONS]}
    # (the base model's logits are those of Tests/Fixtures/models/<name>.json, prompt 0: rebuild() checks it)
    if have_llama:
        from llama_cpp import Llama
        llm = Llama(model_path=str(MODELS / f"{name}.gguf"), n_ctx=mf.CTX, n_batch=mf.CTX, logits_all=True,
                    flash_attn=False, type_k=0, type_v=0, n_threads=2, seed=0, verbose=False,
                    lora_path=str(llama_adapter), lora_scale=1.0)
        llm.eval(tokens)
        scores = np.array(llm.scores[:len(tokens)], dtype=np.float64)
        doc["llama_cpp"] = f"llama-cpp-python {mf.LLAMA_CPP_PY_VERSION}, F32 KV cache, {llama_adapter.name} at scale 1"
        doc["llama_cpp_adapter"] = llama_adapter.name
        doc["llama_cpp_logits"] = [[mf.r6(v) for v in scores[p].tolist()] for p in POSITIONS]
        ref = peft_for_llama.double().numpy()[POSITIONS]
        scale = max(1.0, float(np.abs(ref).max()))
        doc["llama_cpp_vs_peft_max_relative"] = mf.r6(float(np.abs(scores[POSITIONS] - ref).max()) / scale)
        del llm
    change = float((logits - base_logits).abs().max()) / max(1.0, float(base_logits.abs().max()))
    doc["adapter_effect_max_relative"] = mf.r6(change)
    (out / "reference.json").write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"{name}: adapter changes the logits by {change:.3g} (relative); llama.cpp vs PEFT "
          f"{doc.get('llama_cpp_vs_peft_max_relative')}", flush=True)


def main():
    have_llama = mf.check_versions() is not None
    import importlib.metadata as md
    if md.version("peft") != PEFT_VERSION:
        sys.exit(f"make_lora_fixtures.py: want peft {PEFT_VERSION}, have {md.version('peft')}")
    import torch
    torch.set_num_threads(2)
    only = sys.argv[1:] or list(ADAPTERS)
    for name in only:
        make(name, have_llama)


if __name__ == "__main__":
    main()
