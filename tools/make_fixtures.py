#!/usr/bin/env python3
"""Generate tiny random-weight GGUF fixtures + reference outputs for MoECoder's Swift engine.

For every architecture this script
  1. builds a tiny random-weight Hugging Face model (fixed seed) and a small byte-level BPE tokenizer,
  2. converts it to GGUF with llama.cpp's official ``convert_hf_to_gguf.py`` (fetched at run time from the
     llama-cpp-python 0.3.36 sdist; never committed here),
  3. records transformers (eager, float32) logits for every prompt position, greedy continuations and
     tokenizer ids into ``<name>.json``,
  4. if llama-cpp-python 0.3.36 is importable, evaluates every GGUF with llama.cpp (flash attention off,
     F32 KV cache) and records the max abs logit difference vs transformers.

See tools/README.md.  Run:  python tools/make_fixtures.py [--out Tests/Fixtures/models] [--only a,b]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PINS = {
    "torch": "2.13.0+cpu",
    "transformers": "4.57.1",
    "gguf": "0.19.0",
    "tokenizers": "0.22.2",
    "numpy": "2.4.6",
    "safetensors": "0.8.0",
}
LLAMA_CPP_PY_VERSION = "0.3.36"   # sdist that vendors llama.cpp (converter + engine used as cross-check)

REPO = Path(__file__).resolve().parent.parent
SEED = 1234
VOCAB = 320
CTX = 256

PROMPT_TEXTS = [
    "def fibonacci(n):\n    if n < 2:\n        return n\n",
    "import torch\nclass Model(nn.Module):\n",
    "for i in range(10):\n    print(i * i)\n",
]
TOKENIZER_CHECK_TEXTS = [
    "def f(x):\n    return x",
    "    self.weight = nn.Parameter(torch.ones(hidden_size))",
    "x = 3.14159 + 42  # comment\n\n\tindent",
    "Ünïcödé → λ 🦙 'll 's",
]
N_GREEDY = 32
PROMPT_LEN = 14
N_SEED_CANDIDATES = 6


def check_versions():
    import importlib.metadata as md
    bad = []
    for pkg, want in PINS.items():
        try:
            have = md.version(pkg)
        except md.PackageNotFoundError:
            have = None
        if have != want:
            bad.append(f"  {pkg}: want {want}, have {have}")
    if bad:
        sys.exit("make_fixtures.py: pinned versions differ (fixtures would not be reproducible):\n" + "\n".join(bad)
                 + "\nInstall them with: pip install -r tools/requirements-fixtures.txt")
    try:
        have = md.version("llama_cpp_python")
    except md.PackageNotFoundError:
        have = None
    if have is not None and have != LLAMA_CPP_PY_VERSION:
        sys.exit(f"llama-cpp-python {have} installed, want {LLAMA_CPP_PY_VERSION} (or uninstall it to skip the cross-check)")
    return have


# ----------------------------------------------------------------------------------------------------------------
# llama.cpp sources (converter)

def llama_src(arg: str | None) -> Path:
    if arg:
        p = Path(arg)
    else:
        cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "moecoder-fixtures"
        p = cache / f"llama_cpp_python-{LLAMA_CPP_PY_VERSION}"
        if not p.exists():
            cache.mkdir(parents=True, exist_ok=True)
            subprocess.check_call([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary",
                                   "llama-cpp-python", f"llama-cpp-python=={LLAMA_CPP_PY_VERSION}", "-d", str(cache)])
            with tarfile.open(cache / f"llama_cpp_python-{LLAMA_CPP_PY_VERSION}.tar.gz") as t:
                t.extractall(cache, filter="data")
    conv = p / "vendor" / "llama.cpp" / "convert_hf_to_gguf.py"
    if not conv.exists():
        sys.exit(f"converter not found at {conv}")
    return conv.parent


CONVERT_WRAPPER = r"""
import sys, runpy
src = sys.argv[1]
sys.path.insert(0, src + "/gguf-py")   # the converter's own (vendored) gguf-py, as the converter itself does
sys.path.insert(0, src)
sys.argv = [src + "/convert_hf_to_gguf.py"] + sys.argv[2:]
import conversion.base as base
# our tiny tokenizer is a plain GPT-2 style byte-level BPE: declare its pre-tokenizer instead of the hash lookup
base.TextModel.get_vocab_base_pre = lambda self, tokenizer: "gpt-2"
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def convert(src: Path, model_dir: Path, out: Path, outtype: str):
    cmd = [sys.executable, "-c", CONVERT_WRAPPER, str(src), str(model_dir), "--outtype", outtype, "--outfile", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout[-4000:], r.stderr[-8000:])
        raise SystemExit(f"conversion failed for {model_dir} ({outtype})")


# ----------------------------------------------------------------------------------------------------------------
# tokenizer

def train_tokenizer(workdir: Path):
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tdir = Path(transformers.__file__).parent
    files = [tdir / "models" / m / f"modeling_{m}.py" for m in ("llama", "mixtral", "qwen2", "qwen2_moe", "deepseek_v2")]
    text = [f.read_text() for f in files]   # pinned package => deterministic corpus
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=["<|endoftext|>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(text, trainer=trainer)
    assert tok.get_vocab_size() == VOCAB, tok.get_vocab_size()
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                 unk_token=None, model_max_length=CTX)
    d = workdir / "tokenizer"
    hf.save_pretrained(d)
    return hf, d


# ----------------------------------------------------------------------------------------------------------------
# models

def init_weights(model, seed, router_scale=3.0):
    """Deterministic, deliberately 'peaky' init so logits and router choices are not near ties."""
    import torch
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif p.ndim == 1:
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
            elif "embed_tokens" in name:
                p.copy_(torch.randn(p.shape, generator=g))
            elif name.endswith(("mlp.gate.weight", "block_sparse_moe.gate.weight", "mlp.router.weight")):
                p.copy_(router_scale * torch.randn(p.shape, generator=g) / math.sqrt(p.shape[-1]))
            elif name == "lm_head.weight":
                p.copy_(3.0 * torch.randn(p.shape, generator=g) / math.sqrt(p.shape[-1]))
            else:
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p.shape[-1]))


def common(**kw):
    d = dict(vocab_size=VOCAB, hidden_size=64, max_position_embeddings=CTX, rms_norm_eps=1e-6, rope_theta=10000.0,
             bos_token_id=0, eos_token_id=0, tie_word_embeddings=False, attn_implementation="eager",
             torch_dtype="float32")
    d.update(kw)
    return d


def build_llama():
    from transformers import LlamaConfig, LlamaForCausalLM
    cfg = LlamaConfig(**common(intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                               num_key_value_heads=2, rms_norm_eps=1e-5))
    return LlamaForCausalLM(cfg)


def build_mixtral():
    from transformers import MixtralConfig, MixtralForCausalLM
    cfg = MixtralConfig(**common(intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                                 num_key_value_heads=2, num_local_experts=4, num_experts_per_tok=2,
                                 sliding_window=None, rms_norm_eps=1e-5, rope_theta=1e6))
    return MixtralForCausalLM(cfg)


def build_qwen2():
    from transformers import Qwen2Config, Qwen2ForCausalLM
    cfg = Qwen2Config(**common(intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                               num_key_value_heads=2, tie_word_embeddings=True, use_sliding_window=False,
                               rope_theta=1e6))
    return Qwen2ForCausalLM(cfg)


def build_qwen2moe():
    from transformers import Qwen2MoeConfig, Qwen2MoeForCausalLM
    cfg = Qwen2MoeConfig(**common(intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                                  num_key_value_heads=4, num_experts=8, num_experts_per_tok=2,
                                  moe_intermediate_size=32, shared_expert_intermediate_size=64,
                                  norm_topk_prob=False, decoder_sparse_step=1, mlp_only_layers=[],
                                  use_sliding_window=False, rope_theta=1e6))
    return Qwen2MoeForCausalLM(cfg)


def _mscale(scale, m):
    return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0


def build_deepseek2():
    """DeepSeek-V2 with MLA (q_lora_rank set), YaRN (as DeepSeek-V2-Lite), 1 leading dense layer.

    transformers 4.57's native DeepseekV2 differs from the original DeepSeek code (and from llama.cpp) in two
    places; both are patched here so that the reference has the semantics the GGUF metadata declares:
      * the gate ignores norm_topk_prob -> we normalise the top-k softmax weights, then multiply by
        routed_scaling_factor (llama.cpp: expert_weights_norm, then expert_weights_scale);
      * the softmax scale lacks YaRN's mscale -> scale = mscale(factor, mscale_all_dim)^2 / sqrt(qk_head_dim).
    """
    import torch
    import torch.nn.functional as F
    from transformers import DeepseekV2Config, DeepseekV2ForCausalLM
    from transformers.models.deepseek_v2 import modeling_deepseek_v2 as mdv2
    rope_scaling = {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64,
                    "beta_fast": 32.0, "beta_slow": 1.0, "mscale": 0.707, "mscale_all_dim": 0.707}
    cfg = DeepseekV2Config(**common(intermediate_size=128, num_hidden_layers=3, num_attention_heads=4,
                                    num_key_value_heads=4, q_lora_rank=32, kv_lora_rank=32,
                                    qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=16,
                                    n_routed_experts=8, n_shared_experts=2, num_experts_per_tok=2,
                                    moe_intermediate_size=32, first_k_dense_replace=1, moe_layer_freq=1,
                                    routed_scaling_factor=2.5, norm_topk_prob=True, topk_method="greedy",
                                    n_group=1, topk_group=1, scoring_func="softmax", rope_scaling=rope_scaling,
                                    aux_loss_alpha=0.0))

    def gate_forward(self, hidden_states):
        b, s, h = hidden_states.shape
        x = hidden_states.view(-1, h)
        scores = F.linear(x.float(), self.weight.float()).softmax(dim=-1, dtype=torch.float32)
        w, idx = torch.topk(scores, k=self.top_k, dim=-1, sorted=False)
        if self.top_k > 1 and self.norm_topk_prob:
            w = w / (w.sum(dim=-1, keepdim=True) + 1e-20)
        return idx, w * self.routed_scaling_factor
    mdv2.DeepseekV2MoEGate.forward = gate_forward
    model = DeepseekV2ForCausalLM(cfg)
    m = _mscale(rope_scaling["factor"], rope_scaling["mscale_all_dim"])
    for layer in model.model.layers:
        layer.self_attn.scaling = layer.self_attn.qk_head_dim ** -0.5 * m * m
    assert abs(model.model.rotary_emb.attention_scaling - 1.0) < 1e-12  # mscale == mscale_all_dim
    return model


def build_qwen3():
    """Dense Qwen3: per-head q/k RMS norms, no biases, head_dim (32) unlike hidden/heads (16), tied embeddings."""
    from transformers import Qwen3Config, Qwen3ForCausalLM
    cfg = Qwen3Config(**common(intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                               num_key_value_heads=2, head_dim=32, tie_word_embeddings=True,
                               use_sliding_window=False, rope_theta=1e6))
    return Qwen3ForCausalLM(cfg)


def build_qwen3moe():
    """Qwen3-MoE (Qwen3-Coder-30B-A3B's architecture): 16 experts top-4, normalised top-k, no shared expert."""
    from transformers import Qwen3MoeConfig, Qwen3MoeForCausalLM
    cfg = Qwen3MoeConfig(**common(intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                                  num_key_value_heads=2, head_dim=16, num_experts=16, num_experts_per_tok=4,
                                  moe_intermediate_size=32, norm_topk_prob=True, decoder_sparse_step=1,
                                  mlp_only_layers=[], use_sliding_window=False, rope_theta=1e6))
    return Qwen3MoeForCausalLM(cfg)


def build_deepseek3():
    """DeepSeek-V3-style routing in a deepseek2 file (as GLM-4.x-Flash and DeepSeek-V3 use it): sigmoid scores,
    a per-expert selection bias (e_score_correction_bias -> exp_probs_b), 4 expert groups of which the best 2
    (by the sum of their top-2 biased scores) are eligible, normalised top-k, routed scaling 2.5; MLA with q_lora.
    The bias is a buffer HF leaves at zero: it is set here (|0.1 N|, so that biased scores stay positive and
    HF's fill of excluded groups with 0 equals llama.cpp's -inf)."""
    import torch
    from transformers import DeepseekV3Config, DeepseekV3ForCausalLM
    cfg = DeepseekV3Config(**common(intermediate_size=128, num_hidden_layers=3, num_attention_heads=4,
                                    num_key_value_heads=4, q_lora_rank=32, kv_lora_rank=32,
                                    qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=16, head_dim=8,
                                    n_routed_experts=8, n_shared_experts=1, num_experts_per_tok=2,
                                    moe_intermediate_size=32, first_k_dense_replace=1, n_group=4, topk_group=2,
                                    routed_scaling_factor=2.5, norm_topk_prob=True, rope_interleave=True,
                                    # as DeepSeek-V3's config.json says it (the converter writes the gating key
                                    # from it; without the key llama.cpp assumes softmax)
                                    scoring_func="sigmoid", topk_method="noaux_tc"))
    model = DeepseekV3ForCausalLM(cfg)
    model.fixture_post_init = lambda m, seed: _set_selection_bias(m, seed)
    return model


def build_quantzoo():
    """A Qwen3-MoE 256 wide (K-quant rows need 256 columns), 1 layer, 2 experts top-1, for the tensor types
    of the common downloads: llama.cpp's own quantizer writes each variant from the F32 file (ZOO_TYPES), and
    the engine is compared with llama.cpp running the same quantized file. Only the variants are kept."""
    from transformers import Qwen3MoeConfig, Qwen3MoeForCausalLM
    cfg = Qwen3MoeConfig(**common(hidden_size=256, intermediate_size=256, num_hidden_layers=1,
                                  num_attention_heads=4, num_key_value_heads=2, head_dim=64, num_experts=2,
                                  num_experts_per_tok=1, moe_intermediate_size=256, norm_topk_prob=True,
                                  decoder_sparse_step=1, mlp_only_layers=[], use_sliding_window=False,
                                  rope_theta=1e6))
    return Qwen3MoeForCausalLM(cfg)


# llama.cpp file types (enum llama_ftype) of the quant zoo and the tensor types each brings.
ZOO_TYPES = {
    "q2_k": 10,        # Q2_K, Q3_K (attn_v), Q4_K, Q6_K (output)
    "q3_k_m": 12,      # Q3_K, Q4_K, Q5_K, Q6_K
    "q5_k_m": 17,      # Q5_K, Q6_K
    "q5_0": 8,         # Q5_0 (+ Q6_K output)
    "q5_1": 9,         # Q5_1 (+ Q6_K output)
    "iq4_nl": 25,      # IQ4_NL
    "iq4_xs": 30,      # IQ4_XS
    "mxfp4_moe": 38,   # MXFP4 experts, Q8_0 otherwise
}


def llama_quantize(src: Path, dst: Path, ftype: int):
    import llama_cpp
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = 2
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), params)
    if rc != 0:
        raise SystemExit(f"llama_model_quantize failed ({rc}) for {dst.name}")


def tensor_types(path: Path) -> dict:
    from gguf import GGUFReader
    counts = {}
    for t in GGUFReader(str(path)).tensors:
        counts[t.tensor_type.name] = counts.get(t.tensor_type.name, 0) + 1
    return dict(sorted(counts.items()))


def _set_selection_bias(model, seed):
    import torch
    g = torch.Generator().manual_seed(seed + 7)
    with torch.no_grad():
        for name, buf in sorted(model.named_buffers()):
            if name.endswith("e_score_correction_bias"):
                buf.copy_((0.1 * torch.randn(buf.shape, generator=g)).abs())


def build_gptoss():
    """gpt-oss: attention sinks, sliding window (4 positions, so the 14-token prompts cross it) on even layers,
    q/k/v/o biases, router bias, experts with biases and the clamped SwiGLU (limit 7: expert weights are scaled
    so that some activations pass it), softmax over the top-k logits, YaRN (factor 4; HF's `truncate` set so
    the correction range is rounded as llama.cpp does)."""
    from transformers import GptOssConfig, GptOssForCausalLM
    rope_scaling = {"rope_type": "yarn", "factor": 4.0, "beta_fast": 32.0, "beta_slow": 1.0, "truncate": True,
                    "original_max_position_embeddings": 64}
    cfg = GptOssConfig(**common(intermediate_size=32, num_hidden_layers=3, num_attention_heads=4,
                                num_key_value_heads=2, head_dim=16, num_local_experts=8, num_experts_per_tok=2,
                                sliding_window=4, rope_scaling=rope_scaling, rope_theta=150000.0,
                                rms_norm_eps=1e-5, attention_bias=True))
    model = GptOssForCausalLM(cfg)
    model.fixture_post_init = lambda m, seed: _gptoss_post_init(m, seed)
    return model


def _gptoss_post_init(model, seed):
    import torch
    g = torch.Generator().manual_seed(seed + 11)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.sinks.copy_(1.5 * torch.randn(layer.self_attn.sinks.shape, generator=g))
            layer.mlp.experts.gate_up_proj.mul_(6.0)


def build_deepseek():
    """DeepSeek-MoE v1 ("DeepseekForCausalLM", remote code on the hub; not in transformers 4.57).

    Reference = transformers' Llama blocks (identical attention/norm/rope to DeepSeek-MoE's modeling code) with
    the MLP of layers >= first_k_dense_replace replaced by DeepSeek-MoE's block: softmax router over all
    experts, top-k (no renormalisation: norm_topk_prob=False as deepseek-moe-16b), weighted sum of routed
    experts + shared experts (one SwiGLU MLP of width moe_intermediate_size * n_shared_experts).
    """
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from transformers import LlamaConfig, LlamaForCausalLM
    from transformers.models.llama.modeling_llama import LlamaMLP

    hf_config = dict(architectures=["DeepseekForCausalLM"], model_type="deepseek", vocab_size=VOCAB,
                     hidden_size=64, intermediate_size=128, moe_intermediate_size=32, num_hidden_layers=3,
                     num_attention_heads=4, num_key_value_heads=4, n_shared_experts=2, n_routed_experts=8,
                     num_experts_per_tok=2, moe_layer_freq=1, first_k_dense_replace=1, norm_topk_prob=False,
                     scoring_func="softmax", aux_loss_alpha=0.0, seq_aux=True, hidden_act="silu",
                     max_position_embeddings=CTX, initializer_range=0.02, rms_norm_eps=1e-6, use_cache=True,
                     bos_token_id=0, eos_token_id=0, tie_word_embeddings=False, rope_theta=10000.0,
                     rope_scaling=None, attention_bias=False, attention_dropout=0.0, torch_dtype="float32")

    class Gate(nn.Module):
        def __init__(self, n, h, k, norm):
            super().__init__()
            self.weight = nn.Parameter(torch.empty(n, h))
            self.k, self.norm = k, norm

        def forward(self, x):
            scores = F.linear(x, self.weight).softmax(dim=-1, dtype=torch.float32)
            w, idx = torch.topk(scores, k=self.k, dim=-1, sorted=False)
            if self.k > 1 and self.norm:
                w = w / (w.sum(dim=-1, keepdim=True) + 1e-20)
            return idx, w

    class DeepseekMoE(nn.Module):
        def __init__(self, lcfg):
            super().__init__()
            c = hf_config
            self.experts = nn.ModuleList([LlamaMLP(_with(lcfg, intermediate_size=c["moe_intermediate_size"]))
                                          for _ in range(c["n_routed_experts"])])
            self.gate = Gate(c["n_routed_experts"], c["hidden_size"], c["num_experts_per_tok"], c["norm_topk_prob"])
            self.shared_experts = LlamaMLP(_with(lcfg, intermediate_size=c["moe_intermediate_size"] * c["n_shared_experts"]))

        def forward(self, x):
            shp = x.shape
            flat = x.reshape(-1, shp[-1])
            idx, w = self.gate(flat)
            y = torch.zeros_like(flat)
            for t in range(flat.shape[0]):
                for j in range(idx.shape[1]):
                    y[t] += w[t, j] * self.experts[int(idx[t, j])](flat[t:t + 1])[0]
            return y.view(shp) + self.shared_experts(x)

    def _with(cfg, **kw):
        import copy
        c = copy.deepcopy(cfg)
        for k, v in kw.items():
            setattr(c, k, v)
        return c

    lcfg = LlamaConfig(**common(intermediate_size=128, num_hidden_layers=3, num_attention_heads=4,
                                num_key_value_heads=4, rope_theta=10000.0))
    model = LlamaForCausalLM(lcfg)
    for i, layer in enumerate(model.model.layers):
        if i >= hf_config["first_k_dense_replace"] and i % hf_config["moe_layer_freq"] == 0:
            layer.mlp = DeepseekMoE(lcfg)
    model.deepseek_hf_config = hf_config
    return model


ARCHS = {
    # name: (builder, gguf architecture, variants)
    "llama": (build_llama, "llama", []),
    "mixtral": (build_mixtral, "llama", []),
    "qwen2": (build_qwen2, "qwen2", []),
    "qwen2moe": (build_qwen2moe, "qwen2moe", ["f16", "q8_0"]),
    "deepseek2": (build_deepseek2, "deepseek2", ["f16", "q8_0"]),
    "deepseek": (build_deepseek, "deepseek", []),
    "qwen3": (build_qwen3, "qwen3", []),
    "qwen3moe": (build_qwen3moe, "qwen3moe", ["q8_0"]),
    "deepseek3": (build_deepseek3, "deepseek2", ["q8_0"]),
    "gptoss": (build_gptoss, "gpt-oss", []),
    "quantzoo": (build_quantzoo, "qwen3moe", list(ZOO_TYPES)),
}


def save_model(model, name, d: Path, tok_dir: Path):
    d.mkdir(parents=True, exist_ok=True)
    for f in tok_dir.iterdir():
        shutil.copy(f, d / f.name)
    if name == "deepseek":
        from safetensors.torch import save_file
        sd = {k: v.contiguous() for k, v in model.state_dict().items()}
        save_file(sd, str(d / "model.safetensors"), metadata={"format": "pt"})
        (d / "config.json").write_text(json.dumps(model.deepseek_hf_config, indent=1))
        return model.deepseek_hf_config
    model.save_pretrained(d, safe_serialization=True)
    return json.loads((d / "config.json").read_text())


# ----------------------------------------------------------------------------------------------------------------
# reference outputs

def r6(x):
    return float(f"{x:.6g}")


def router_hooks(model):
    """Collect the smallest gap between the k-th and (k+1)-th router score over all tokens/layers (for grouped
    routing also between the last chosen group's score and the next), on the scores that choose the experts."""
    import torch
    gaps = []
    hooks = []
    k = getattr(model.config, "num_experts_per_tok", 2)

    def gap(scores, count):
        s = torch.sort(scores, dim=-1, descending=True).values
        return float((s[:, count - 1] - s[:, count]).min())

    for name, mod in model.named_modules():
        if name.endswith(("mlp.gate", "block_sparse_moe.gate", "mlp.router")):
            def hook(m, inp, out):
                x = inp[0].reshape(-1, inp[0].shape[-1]).float()
                logits = x @ m.weight.float().T
                if getattr(m, "bias", None) is not None:
                    logits = logits + m.bias.float()
                if hasattr(m, "e_score_correction_bias"):        # DeepSeek-V3 routing
                    choice = logits.sigmoid() + m.e_score_correction_bias.float()
                    groups = choice.view(-1, m.n_group, choice.shape[-1] // m.n_group)
                    group_scores = groups.topk(2, dim=-1).values.sum(-1)
                    gaps.append(gap(group_scores, m.topk_group))
                    chosen = group_scores.topk(m.topk_group, dim=-1).indices
                    mask = torch.zeros_like(group_scores, dtype=torch.bool).scatter_(1, chosen, True)
                    choice = groups.masked_fill(~mask.unsqueeze(-1), -1e9).reshape(choice.shape)
                    gaps.append(gap(choice, k))
                else:
                    gaps.append(gap(torch.softmax(logits, dim=-1), k))
            hooks.append(mod.register_forward_hook(hook))
    return gaps, hooks


def reference(model, tok, name):
    import torch
    model.eval()
    prompts = [tok(t, add_special_tokens=False)["input_ids"][:PROMPT_LEN] for t in PROMPT_TEXTS]
    gaps, hooks = router_hooks(model)
    out = {"prompts": [], "greedy": []}
    with torch.no_grad():
        for p in prompts:
            logits = model(torch.tensor([p])).logits[0]
            out["prompts"].append({"tokens": p, "logits": [[r6(v) for v in row] for row in logits.tolist()]})
        margins = []
        for p in prompts[:2]:
            ids = torch.tensor([p])
            if name == "deepseek":      # custom module: plain greedy loop over full forwards (no KV cache)
                seq = list(p)
                for _ in range(N_GREEDY):
                    seq.append(int(model(torch.tensor([seq])).logits[0, -1].argmax()))
                cont = seq[len(p):]
            else:
                g = model.generate(ids, do_sample=False, max_new_tokens=N_GREEDY, min_new_tokens=N_GREEDY,
                                   eos_token_id=None, pad_token_id=0, use_cache=True)
                cont = g[0, len(p):].tolist()
            assert len(cont) == N_GREEDY
            # teacher-forced check: argmax of a full forward reproduces the continuation; record the margins
            full = model(torch.tensor([p + cont])).logits[0]
            for i in range(N_GREEDY):
                row = full[len(p) - 1 + i]
                top = torch.topk(row, 2)
                assert int(top.indices[0]) == cont[i], (name, i)
                margins.append(float(top.values[0] - top.values[1]))
            out["greedy"].append({"prompt": p, "continuation": cont})
    for h in hooks:
        h.remove()
    out["greedy_min_top1_margin"] = r6(min(margins))
    if gaps:
        out["router_min_topk_gap"] = r6(min(gaps))
    out["tokenizer_check"] = [{"text": t, "ids": tok(t, add_special_tokens=False)["input_ids"]}
                              for t in TOKENIZER_CHECK_TEXTS]
    return out


# ----------------------------------------------------------------------------------------------------------------
# deepseek2 legacy layout (single attn_kv_b per layer)

def make_nextn_deepseek(src: Path, dst: Path):
    """Append a multi-token-prediction layer as GLM-4.x-Flash files carry one: block_count + 1,
    nextn_predict_layers = 1, and blk.{last+1}.* = a copy of the last layer plus the nextn.* tensors (random).
    Inference must skip that layer, so the logits equal the source file's."""
    import numpy as np
    from gguf import GGUFReader, GGUFWriter, GGUFValueType
    r = GGUFReader(str(src))
    arch = r.fields["general.architecture"].contents()
    n_layer = int(r.fields[f"{arch}.block_count"].contents())
    e = int(r.fields[f"{arch}.embedding_length"].contents())
    w = GGUFWriter(str(dst), arch)
    for f in r.fields.values():
        if f.name.startswith("GGUF.") or f.name == "general.architecture":
            continue
        val = f.contents()
        if f.name == f"{arch}.block_count":
            val = n_layer + 1
        vtype = f.types[0]
        sub = f.types[-1] if vtype == GGUFValueType.ARRAY else None
        w.add_key_value(f.name, val, vtype, sub_type=sub)
    w.add_uint32(f"{arch}.nextn_predict_layers", 1)
    last = f"blk.{n_layer - 1}."
    g = np.random.default_rng(5)
    for t in r.tensors:
        w.add_tensor(t.name, np.asarray(t.data))
    for t in r.tensors:
        if t.name.startswith(last):
            w.add_tensor(t.name.replace(last, f"blk.{n_layer}."), np.asarray(t.data))
    mtp = f"blk.{n_layer}.nextn."
    w.add_tensor(mtp + "eh_proj.weight", g.standard_normal((e, 2 * e)).astype(np.float32))
    for name in ("enorm.weight", "hnorm.weight", "shared_head_norm.weight"):
        w.add_tensor(mtp + name, np.ones(e, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def make_legacy_deepseek2(src: Path, dst: Path):
    """Rewrite the current converter's MLA layout into the pre-MLA-absorption layout llama.cpp still loads.

    current:  deepseek2.attention.key_length   = kv_lora_rank + qk_rope_head_dim
              deepseek2.attention.value_length = kv_lora_rank
              deepseek2.attention.key_length_mla   = qk_nope_head_dim + qk_rope_head_dim
              deepseek2.attention.value_length_mla = v_head_dim
              blk.N.attn_k_b.weight  ne = {qk_nope, kv_lora_rank, n_head}   (per head: k_b^T)
              blk.N.attn_v_b.weight  ne = {kv_lora_rank, v_head_dim, n_head}
    legacy:   key_length = qk_nope + qk_rope, value_length = v_head_dim, no *_mla keys,
              head_count_kv = head_count (the current converter writes 1: MLA as MQA),
              blk.N.attn_kv_b.weight ne = {kv_lora_rank, n_head * (qk_nope + v_head_dim)}
              = HF kv_b_proj.weight [n_head*(qk_nope+v), kv_lora] with rows per head [k_nope rows; v rows]
    All other keys/tensors are copied unchanged (same order; attn_kv_b replaces attn_k_b, attn_v_b is dropped).
    """
    import numpy as np
    from gguf import GGUFReader, GGUFWriter, GGUFValueType
    r = GGUFReader(str(src))
    arch = r.fields["general.architecture"].contents()
    kv = {f.name: f for f in r.fields.values()}
    n_head = int(kv[f"{arch}.attention.head_count"].contents())
    nope_rope = int(kv[f"{arch}.attention.key_length_mla"].contents())
    v_dim = int(kv[f"{arch}.attention.value_length_mla"].contents())
    w = GGUFWriter(str(dst), arch)
    for f in r.fields.values():
        if f.name.startswith("GGUF.") or f.name == "general.architecture":
            continue
        if f.name in (f"{arch}.attention.key_length_mla", f"{arch}.attention.value_length_mla"):
            continue
        val = f.contents()
        if f.name == f"{arch}.attention.key_length":
            val = nope_rope
        elif f.name == f"{arch}.attention.value_length":
            val = v_dim
        elif f.name == f"{arch}.attention.head_count_kv":
            val = n_head          # the MLA layout declares MQA (1 kv head); the legacy MHA path needs n_head
        vtype = f.types[0]
        sub = f.types[-1] if vtype == GGUFValueType.ARRAY else None
        w.add_key_value(f.name, val, vtype, sub_type=sub)
    tensors = {t.name: t for t in r.tensors}
    for t in r.tensors:
        if t.name.endswith("attn_v_b.weight"):
            continue
        if t.name.endswith("attn_k_b.weight"):
            assert t.tensor_type.name == "F32"
            k_b = np.asarray(t.data).reshape(n_head, -1, t.shape[0])       # (n_head, kv_lora, nope)
            vt = tensors[t.name.replace("attn_k_b", "attn_v_b")]
            v_b = np.asarray(vt.data).reshape(n_head, v_dim, -1)            # (n_head, v, kv_lora)
            kv_b = np.concatenate([k_b.transpose(0, 2, 1), v_b], axis=1)    # (n_head, nope+v, kv_lora)
            kv_b = np.ascontiguousarray(kv_b.reshape(-1, kv_b.shape[-1]), dtype=np.float32)
            w.add_tensor(t.name.replace("attn_k_b", "attn_kv_b"), kv_b)
            continue
        data = np.asarray(t.data)
        w.add_tensor(t.name, data, raw_dtype=t.tensor_type if t.tensor_type.name not in ("F32", "F16") else None)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# ----------------------------------------------------------------------------------------------------------------
# llama.cpp cross-check

def llama_cpp_check(gguf_path: Path, ref: dict):
    import numpy as np
    from llama_cpp import Llama
    llm = Llama(model_path=str(gguf_path), n_ctx=CTX, n_batch=CTX, logits_all=True, flash_attn=False,
                type_k=0, type_v=0, n_threads=2, seed=0, verbose=False)   # type 0 = GGML_TYPE_F32
    res = {"max_abs_diff": 0.0, "argmax_agree": 0, "positions": 0}
    for p in ref["prompts"]:
        llm.reset()
        llm.eval(p["tokens"])
        got = np.array(llm.scores[:len(p["tokens"])], dtype=np.float64)
        want = np.array(p["logits"], dtype=np.float64)
        res["max_abs_diff"] = max(res["max_abs_diff"], float(np.abs(got - want).max()))
        res["argmax_agree"] += int((got.argmax(-1) == want.argmax(-1)).sum())
        res["positions"] += len(p["tokens"])
    agree = 0
    for g in ref["greedy"]:
        llm.reset()
        seq = g["prompt"] + g["continuation"]
        llm.eval(seq)
        sc = np.array(llm.scores[:len(seq)])
        pred = sc[len(g["prompt"]) - 1:len(seq) - 1].argmax(-1).tolist()
        agree += sum(int(a == b) for a, b in zip(pred, g["continuation"]))
    res["greedy_agree"] = f"{agree}/{N_GREEDY * len(ref['greedy'])}"
    tok_ok = all(llm.tokenize(c["text"].encode(), add_bos=False, special=False) == c["ids"]
                 for c in ref["tokenizer_check"])
    res["tokenizer_match"] = tok_ok
    res["max_abs_diff"] = r6(res["max_abs_diff"])
    del llm
    return res


# ----------------------------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(REPO / "Tests" / "Fixtures" / "models"))
    ap.add_argument("--llama-src", default=os.environ.get("LLAMA_CPP_PY_SRC"),
                    help="unpacked llama-cpp-python sdist (default: pip download into ~/.cache/moecoder-fixtures)")
    ap.add_argument("--only", default="")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--no-llama-cpp", action="store_true")
    args = ap.parse_args()

    llama_cpp_version = check_versions()
    import torch
    import transformers
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    src = llama_src(args.llama_src)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="fixtures-"))
    tok, tok_dir = train_tokenizer(work)
    have_llama = (llama_cpp_version is not None) and not args.no_llama_cpp
    only = [s for s in args.only.split(",") if s]

    for i, (name, (builder, arch, variants)) in enumerate(ARCHS.items()):
        if only and name not in only:
            continue
        print(f"== {name}", flush=True)
        # MoE models: of N_SEED_CANDIDATES fixed seeds keep the one whose smallest gap between the k-th and
        # (k+1)-th router probability (over all prompt and greedy tokens, all layers) is largest, so that
        # F32 rounding differences between engines do not flip expert choices.
        best = None
        for c in range(N_SEED_CANDIDATES):
            torch.manual_seed(SEED + i)
            model = builder().float()
            seed = SEED + 100 * i + c
            init_weights(model, seed)
            if hasattr(model, "fixture_post_init"):
                model.fixture_post_init(model, seed)
            model.eval()
            ref = reference(model, tok, name)
            if best is None or ref.get("router_min_topk_gap", 0) > best[2].get("router_min_topk_gap", 0):
                best = (seed, model, ref)
            if "router_min_topk_gap" not in ref:
                break
            print(f"   seed {seed}: router gap {ref['router_min_topk_gap']}", flush=True)
        seed, model, ref = best
        ref["weights_seed"] = seed
        mdir = work / "hf" / name
        hf_config = save_model(model, name, mdir, tok_dir)
        files = {"f32": f"{name}.gguf"}
        if name == "quantzoo":
            if not have_llama:
                print("   quantzoo needs llama-cpp-python (its quantizer writes the variants); skipped")
                continue
            f32 = work / "quantzoo-f32.gguf"
            convert(src, mdir, f32, "f32")
            chk = {"f32 (not kept)": llama_cpp_check(f32, ref)}
            doc = {"name": name, "architecture": arch, "quantized_only": True, "gguf": None,
                   "reference": "llama.cpp on each variant (tools/record_variant_references.py); the F32 source "
                                "is not kept",
                   "converter": f"llama.cpp convert_hf_to_gguf.py, then llama_model_quantize, from llama-cpp-python "
                                f"{LLAMA_CPP_PY_VERSION}",
                   "prompts": [{"tokens": p["tokens"]} for p in ref["prompts"]],
                   "variants": {}, "tensor_types": {}, "weights_seed": ref["weights_seed"]}
            for kind, ftype in ZOO_TYPES.items():
                file = f"{name}-{kind}.gguf"
                llama_quantize(f32, out / file, ftype)
                doc["variants"][kind] = file
                doc["tensor_types"][kind] = tensor_types(out / file)
                chk[kind] = llama_cpp_check(out / file, ref)
                print(f"   {kind}: {doc['tensor_types'][kind]} {chk[kind]}", flush=True)
            doc["llama_cpp"] = {"version": f"llama-cpp-python {llama_cpp_version}", **chk}
            (out / f"{name}.json").write_text(json.dumps(doc, separators=(",", ":")) + "\n")
            continue
        convert(src, mdir, out / files["f32"], "f32")
        for v in variants:
            files[v] = f"{name}-{v}.gguf"
            convert(src, mdir, out / files[v], v)
        entries = [(name, files)]
        if name == "deepseek2":
            make_legacy_deepseek2(out / files["f32"], out / "deepseek2-legacy-kvb.gguf")
            entries.append(("deepseek2-legacy-kvb", {"f32": "deepseek2-legacy-kvb.gguf"}))
        if name == "deepseek3":
            make_nextn_deepseek(out / files["f32"], out / "deepseek3-nextn.gguf")
            entries.append(("deepseek3-nextn", {"f32": "deepseek3-nextn.gguf"}))
        for ename, efiles in entries:
            doc = {"name": ename, "architecture": arch,
                   "reference": (f"transformers {transformers.__version__} (eager, float32)"
                                 + (", Llama blocks + DeepSeek-MoE block (see tools/make_fixtures.py build_deepseek)"
                                    if name == "deepseek" else "")
                                 + (", gate patched to normalise-then-scale, softmax scale * yarn mscale^2"
                                    if name == "deepseek2" else "")),
                   "converter": f"llama.cpp convert_hf_to_gguf.py from llama-cpp-python {LLAMA_CPP_PY_VERSION} sdist",
                   "hf_config": hf_config, **{k: ref[k] for k in ("prompts", "greedy")},
                   "variants": {k: v for k, v in efiles.items() if k != "f32"},
                   "tokenizer_check": ref["tokenizer_check"],
                   "weights_seed": ref["weights_seed"],
                   "greedy_min_top1_margin": ref["greedy_min_top1_margin"]}
            if "router_min_topk_gap" in ref:
                doc["router_min_topk_gap"] = ref["router_min_topk_gap"]
            if ename == "deepseek2-legacy-kvb":
                doc["layout"] = "legacy: single attn_kv_b per layer, no key_length_mla/value_length_mla"
            elif ename == "deepseek3-nextn":
                doc["layout"] = "deepseek3.gguf plus one multi-token-prediction layer (nextn_predict_layers 1), skipped"
            elif name == "deepseek2":
                doc["layout"] = "current converter: attn_k_b/attn_v_b per head + key_length_mla/value_length_mla"
            if have_llama:
                chk = {}
                for k, f in efiles.items():
                    chk[k] = llama_cpp_check(out / f, ref)
                    print(f"   {ename} {k}: {chk[k]}", flush=True)
                doc["llama_cpp_max_abs_diff"] = chk["f32"]["max_abs_diff"]
                doc["llama_cpp"] = {"version": f"llama-cpp-python {llama_cpp_version}",
                                    "settings": "flash_attn=False, type_k=type_v=F32, n_ctx=256, logits_all",
                                    **chk}
            (out / f"{ename}.json").write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir())}
    total = sum(sizes.values())
    for k, v in sizes.items():
        print(f"{v:>10} {k}")
    print(f"{total:>10} total")
    if total > 16 * 1024 * 1024:
        print("WARNING: fixtures exceed 16 MB")


if __name__ == "__main__":
    main()
