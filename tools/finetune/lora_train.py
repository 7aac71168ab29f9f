#!/usr/bin/env python3
"""Train a LoRA adapter for a GGUF model on a repository's files; `moecoder finetune` runs it.

The base model is the GGUF file the engine runs: its tensors are read with the `gguf` package (Q8_0 and the other
formats dequantized by it), mapped back to transformers' names, and loaded into the transformers model of the
same architecture (qwen2moe for now). Before training the script checks that this torch model computes the same
logits as `moecoder logits --exact` on a prompt, and that its tokenizer (rebuilt from the GGUF vocabulary and
merges, llama.cpp's pre-tokenizer regex) gives the same ids as `moecoder tokenize` (`--moecoder PATH`).

Data (`--data DIR`): `train.jsonl` and `heldout.jsonl`, one {"path": ..., "text": ...} per line. Training samples
are windows of the training files (probability proportional to size), a share of them (`--fim-rate`) rearranged
into fill-in-the-middle order as the model was trained; the loss is next-token cross entropy on every token.

Evaluation, before and after training, uses the definitions of `moecoder eval` (Sources/Engine/Evaluation.swift):
each held-out file is tokenized whole (no BOS for this model) and read in windows of `--window` tokens overlapping
by half, every token but the first scored once; next-line exact match takes the lines of code of each file
(`--probes code`: not the first line, not a comment, not in or opening a docstring or other triple-quoted string, 4
or more non-blank characters; `--probes any` takes every line of 4 or more; `--lines N` spreads N of them evenly
over the file instead of all), writes each greedily from the code above it
(its last window - 48 tokens, at most 48 tokens, stopping at a line break or end of text) and compares it with
the real line, blanks trimmed. Differences from the engine: torch computes in float32 with the dequantized
weights, the engine rounds activations to 8 bits for Q8_0 weights by default, so numbers differ in the 3rd digit.

Output: the adapter in llama.cpp's GGUF LoRA format (`general.type` adapter, `adapter.type` lora,
`adapter.lora.alpha`, tensors `NAME.weight.lora_a` [r x n_in] and `NAME.weight.lora_b` [n_out x r], F32; expert
tensors stacked per expert) written with tools/train/gguf_writer.py, and a JSON summary (`--summary`).
Progress (step, loss, tokens/s, ETA) goes to stderr; the last line of stdout is the summary's path.
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

# OpenMP threads that spin while waiting make a busy (shared) machine 10-50 times slower; wait passively.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "train"))
import gguf_writer as gw  # noqa: E402  (our own minimal GGUF writer)

# llama.cpp's `llama-bpe` pre-tokenizer (Llama 3); the default model's tokenizer was trained with it.
LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
GPT2_REGEX = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
# pre-tokenizer name in the GGUF -> (split regex, whole pre-token lookup before merges as llama.cpp does)
PRE_TOKENIZERS = {"llama-bpe": (LLAMA3_REGEX, True), "gpt-2": (GPT2_REGEX, False)}
CONTROL = 3
# GGUF tensor names (per layer) of each adaptable projection, and the transformers module they are in.
TARGETS = {
    "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate_shexp": "mlp.shared_expert.gate_proj", "ffn_up_shexp": "mlp.shared_expert.up_proj",
    "ffn_down_shexp": "mlp.shared_expert.down_proj",
    # routed experts: one LoRA per expert, stacked in the file
    "ffn_gate_exps": "mlp.experts.{e}.gate_proj", "ffn_up_exps": "mlp.experts.{e}.up_proj",
    "ffn_down_exps": "mlp.experts.{e}.down_proj",
}
DEFAULT_TARGETS = "attn_q,attn_k,attn_v,attn_output,ffn_gate_shexp,ffn_up_shexp,ffn_down_shexp"


def log(msg: str):
    print(msg, file=sys.stderr, flush=True)


class Failure(Exception):
    """An error the user can act on: printed as one line, exit status 2."""


# ---------------------------------------------------------------------------------------------------------------
# The base model from GGUF


def gguf_fields(reader) -> dict:
    out = {}
    for name, field in reader.fields.items():
        if name.startswith("tokenizer.ggml.") and name.endswith(("tokens", "merges", "token_type", "scores")):
            continue
        try:
            out[name] = field.contents()
        except Exception:  # noqa: BLE001  (a value type this gguf version cannot render: not needed)
            pass
    return out


def load_gguf(path: str):
    """(metadata, {gguf tensor name: float32 numpy array in row-major shape}, reader)."""
    from gguf import GGUFReader
    from gguf.quants import dequantize
    reader = GGUFReader(path)
    meta = gguf_fields(reader)
    tensors = {}
    for t in reader.tensors:
        shape = tuple(int(d) for d in reversed(t.shape.tolist()))  # GGUF dims are innermost first
        tensors[t.name] = np.asarray(dequantize(t.data, t.tensor_type), dtype=np.float32).reshape(shape)
    return meta, tensors, reader


def hf_model(meta: dict, tensors: dict):
    """The transformers model with the GGUF's weights (qwen2moe)."""
    arch = meta.get("general.architecture")
    if arch != "qwen2moe":
        raise Failure(f"finetune supports qwen2moe models (the default model) for now; this model is '{arch}'")
    from transformers import Qwen2MoeConfig, Qwen2MoeForCausalLM
    a = arch
    n_layer = int(meta[f"{a}.block_count"])
    n_expert = int(meta[f"{a}.expert_count"])
    vocab = tensors["token_embd.weight"].shape[0]
    config = Qwen2MoeConfig(
        vocab_size=vocab, hidden_size=int(meta[f"{a}.embedding_length"]), num_hidden_layers=n_layer,
        num_attention_heads=int(meta[f"{a}.attention.head_count"]),
        num_key_value_heads=int(meta[f"{a}.attention.head_count_kv"]),
        intermediate_size=int(meta.get(f"{a}.feed_forward_length", 4 * int(meta[f"{a}.embedding_length"]))),
        moe_intermediate_size=int(meta[f"{a}.expert_feed_forward_length"]),
        shared_expert_intermediate_size=int(meta[f"{a}.expert_shared_feed_forward_length"]),
        num_experts=n_expert, num_experts_per_tok=int(meta[f"{a}.expert_used_count"]), norm_topk_prob=False,
        decoder_sparse_step=1, mlp_only_layers=[], max_position_embeddings=int(meta[f"{a}.context_length"]),
        rope_theta=float(meta[f"{a}.rope.freq_base"]), rms_norm_eps=float(meta[f"{a}.attention.layer_norm_rms_epsilon"]),
        tie_word_embeddings="output.weight" not in tensors, use_sliding_window=False, output_router_logits=False,
        bos_token_id=int(meta.get("tokenizer.ggml.bos_token_id", 0)),
        eos_token_id=int(meta.get("tokenizer.ggml.eos_token_id", 0)))
    sd = {"model.embed_tokens.weight": tensors["token_embd.weight"], "model.norm.weight": tensors["output_norm.weight"],
          "lm_head.weight": tensors.get("output.weight", tensors["token_embd.weight"])}
    for i in range(n_layer):
        p, b = f"model.layers.{i}.", f"blk.{i}."
        sd[p + "input_layernorm.weight"] = tensors[b + "attn_norm.weight"]
        sd[p + "post_attention_layernorm.weight"] = tensors[b + "ffn_norm.weight"]
        for hf, gg in (("q_proj", "attn_q"), ("k_proj", "attn_k"), ("v_proj", "attn_v")):
            sd[f"{p}self_attn.{hf}.weight"] = tensors[f"{b}{gg}.weight"]
            sd[f"{p}self_attn.{hf}.bias"] = tensors[f"{b}{gg}.bias"]
        sd[p + "self_attn.o_proj.weight"] = tensors[b + "attn_output.weight"]
        sd[p + "mlp.gate.weight"] = tensors[b + "ffn_gate_inp.weight"]
        sd[p + "mlp.shared_expert_gate.weight"] = tensors[b + "ffn_gate_inp_shexp.weight"].reshape(1, -1)
        for proj in ("gate", "up", "down"):
            stacked = tensors[f"{b}ffn_{proj}_exps.weight"]
            for e in range(n_expert):
                sd[f"{p}mlp.experts.{e}.{proj}_proj.weight"] = stacked[e]
            sd[f"{p}mlp.shared_expert.{proj}_proj.weight"] = tensors[f"{b}ffn_{proj}_shexp.weight"]
    model = Qwen2MoeForCausalLM(config)
    state = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in sd.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not (config.tie_word_embeddings and m == "lm_head.weight")]
    if missing or unexpected:
        raise Failure(f"GGUF to transformers mapping incomplete: missing {missing[:4]}, unexpected {unexpected[:4]}")
    model.eval()
    for prm in model.parameters():
        prm.requires_grad_(False)
    return model, config


def gguf_tokenizer(reader, meta: dict):
    """A `tokenizers` BPE tokenizer equal to the GGUF's (byte-level, llama-bpe pre-tokenizer, whole-word lookup)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from tokenizers import AddedToken
    pre = meta.get("tokenizer.ggml.pre", "gpt-2")
    if meta.get("tokenizer.ggml.model") != "gpt2" or pre not in PRE_TOKENIZERS:
        raise Failure("finetune rebuilds byte-level BPE tokenizers with the pre-tokenizers "
                      f"{', '.join(PRE_TOKENIZERS)}; this model has {meta.get('tokenizer.ggml.model')}/{pre}")
    regex, ignore_merges = PRE_TOKENIZERS[pre]
    tokens = reader.fields["tokenizer.ggml.tokens"].contents()
    types = reader.fields["tokenizer.ggml.token_type"].contents()
    merges = reader.fields["tokenizer.ggml.merges"].contents()
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[tuple(m.split(" ", 1)) for m in merges], ignore_merges=ignore_merges))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(regex), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True) for t, ty in zip(tokens, types) if ty == CONTROL])
    return tok, tokens


def byte_decoder() -> dict:
    """GPT-2's byte-to-unicode table, inverted: token character -> byte."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def token_bytes_of(reader, vocab) -> list:
    """Each token's bytes (control tokens decode to nothing)."""
    bdec = byte_decoder()
    out = [bytes(bdec.get(c, 0) for c in t) for t in vocab]
    for i, ty in enumerate(reader.fields["tokenizer.ggml.token_type"].contents()):
        if ty == CONTROL:
            out[i] = b""
    return out


# ---------------------------------------------------------------------------------------------------------------
# LoRA


class LoRALinear(torch.nn.Module):
    """y = W x + b + (alpha / r) B (A x); A random (PEFT's Kaiming-uniform), B zero, so training starts at the base."""

    def __init__(self, base: torch.nn.Linear, r: int, alpha: float):
        super().__init__()
        self.base, self.r, self.scaling = base, r, alpha / r
        self.lora_a = torch.nn.Parameter(torch.empty(r, base.in_features))
        self.lora_b = torch.nn.Parameter(torch.zeros(base.out_features, r))
        torch.nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))

    def forward(self, x):
        return self.base(x) + (x @ self.lora_a.t().to(x.dtype)) @ self.lora_b.t().to(x.dtype) * self.scaling


def add_lora(model, config, targets: list[str], r: int, alpha: float) -> dict:
    """Wraps the target projections; returns {gguf base name: [LoRALinear per expert or one]}."""
    adapted = {}
    for i in range(config.num_hidden_layers):
        layer = model.model.layers[i]
        for t in targets:
            paths = ([TARGETS[t].format(e=e) for e in range(config.num_experts)] if "{e}" in TARGETS[t]
                     else [TARGETS[t]])
            mods = []
            for path in paths:
                parent_path, attr = path.rsplit(".", 1)
                parent = layer.get_submodule(parent_path)
                wrapped = LoRALinear(getattr(parent, attr), r, alpha)
                setattr(parent, attr, wrapped)
                mods.append(wrapped)
            adapted[f"blk.{i}.{t}.weight"] = mods
    return adapted


def write_adapter(path: str, arch: str, adapted: dict, r: int, alpha: float, name: str):
    w = gw.GGUFWriter()
    w.add("general.architecture", gw.STRING, arch)
    w.add("general.type", gw.STRING, "adapter")
    w.add("general.name", gw.STRING, name)
    w.add("general.alignment", gw.U32, gw.ALIGNMENT)
    w.add("adapter.type", gw.STRING, "lora")
    w.add("adapter.lora.alpha", gw.F32, float(alpha))
    for base, mods in adapted.items():
        a = [m.lora_a.detach().float().numpy() for m in mods]
        b = [m.lora_b.detach().float().numpy() for m in mods]
        if len(mods) == 1 and "_exps" not in base:
            w.add_tensor(base + ".lora_a", a[0])  # [r, n_in]: GGUF ne = [n_in, r]
            w.add_tensor(base + ".lora_b", b[0])  # [n_out, r]: GGUF ne = [r, n_out]
        else:
            w.add_tensor(base + ".lora_a", np.stack(a))  # [n_expert, r, n_in]
            w.add_tensor(base + ".lora_b", np.stack(b))  # [n_expert, n_out, r]
    tmp = path + ".tmp"
    w.write(tmp)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------------------------
# Evaluation (the definitions of `moecoder eval`)


def split_lines(text: str) -> list[str]:
    """Lines with their line breaks kept (Evaluator.lines)."""
    return text.splitlines(keepends=True) if "\r" not in text else re.findall(r"[^\n]*\n|[^\n]+$", text)


DOCSTRING_OPENER = re.compile(r"^[rRbBuUfF]{0,2}(\"\"\"|\'\'\')")


def code_lines(lines: list[str]) -> list[bool]:
    """Per line: is it a line of code (Evaluator.codeLines)? Not a line that starts inside a triple-quoted string
    (a docstring's body or closing line), not a comment (`#` first), not a line that opens a triple-quoted string
    (`\"\"\"Return ...`: a docstring), and at least 4 non-blank characters (not a lone `)`, `]:` or `})`).
    A small scanner follows strings through the lines: '...' and "..." end at their quote or at the line's end,
    \"\"\"...\"\"\" and '''...''' may span lines, a backslash escapes the next character, `#` outside a string ends
    the line's code."""
    result, state = [], None
    for line in lines:
        s = line.strip()
        result.append(state is None and len(s) >= 4 and not s.startswith("#") and not DOCSTRING_OPENER.match(s))
        i, n, quote = 0, len(line), None
        while i < n:
            c = line[i]
            if state is not None:
                if c == "\\":
                    i += 2
                elif line.startswith(state, i):
                    state, i = None, i + 3
                else:
                    i += 1
            elif quote is not None:
                if c == "\\":
                    i += 2
                    continue
                if c == quote or c == "\n":
                    quote = None
                i += 1
            elif c == "#":
                break
            elif c in "\"'":
                if line[i:i + 3] in ('\"\"\"', "'''"):
                    state, i = line[i:i + 3], i + 3
                else:
                    quote, i = c, i + 1
            else:
                i += 1
    return result


def probe_lines(lines: list[str], count: int, rule: str = "code") -> list[int]:
    """Up to `count` evenly spread probe lines, never the first line; `count` < 0: all of them. Rule `code`: the
    lines of code (`code_lines`); rule `any`: every line with at least 4 non-blank characters (Evaluator.probeLines)."""
    if rule == "code":
        code = code_lines(lines)
        cand = [i for i in range(1, len(lines)) if code[i]]
    else:
        cand = [i for i in range(1, len(lines)) if len(lines[i].strip()) >= 4]
    if count == 0 or not cand:
        return []
    if count < 0 or len(cand) <= count:
        return cand
    return [cand[(k * 2 + 1) * len(cand) // (2 * count)] for k in range(count)]


class Evaluator:
    def __init__(self, model, tok, token_bytes, window: int, ctx: int, add_bos: bool, bos: int, eos_ids: set,
                 lines_per_file: int, line_tokens: int = 48, probe_rule: str = "code"):
        self.model, self.tok, self.token_bytes = model, tok, token_bytes
        self.window = max(2, min(window, ctx))
        self.add_bos, self.bos, self.eos_ids = add_bos, bos, eos_ids
        self.lines_per_file, self.line_tokens, self.probe_rule = lines_per_file, line_tokens, probe_rule

    def encode(self, text: str) -> list[int]:
        ids = self.tok.encode(text, add_special_tokens=False).ids
        return ([self.bos] if self.add_bos else []) + ids

    @torch.no_grad()
    def perplexity(self, text: str) -> tuple[int, float]:
        tokens = self.encode(text)
        window, stride = self.window, self.window // 2
        nll, scored, start, scored_upto = 0.0, 0, 0, 1
        while scored_upto < len(tokens):
            piece = tokens[start:start + window]
            logits = self.model(input_ids=torch.tensor([piece])).logits[0].double()
            first = max(1, scored_upto - start)
            lp = torch.log_softmax(logits[first - 1:len(piece) - 1], dim=-1)
            tgt = torch.tensor(piece[first:])
            nll -= float(lp.gather(1, tgt[:, None]).sum())
            scored += len(piece) - first
            scored_upto = start + len(piece)
            start += stride
        return scored, nll

    @torch.no_grad()
    def next_line(self, lines: list[str], index: int) -> str:
        budget = max(1, self.window - self.line_tokens)
        prompt = self.encode("".join(lines[:index]))[-budget:]
        out = self.model(input_ids=torch.tensor([prompt]), use_cache=True)
        past, text = out.past_key_values, b""
        logits = out.logits[0, -1]
        for _ in range(self.line_tokens):
            t = int(torch.argmax(logits))
            if t in self.eos_ids:
                break
            text += self.token_bytes[t]
            if b"\n" in text:
                text = text[:text.index(b"\n")]
                break
            out = self.model(input_ids=torch.tensor([[t]]), past_key_values=past, use_cache=True)
            past, logits = out.past_key_values, out.logits[0, -1]
        return text.decode("utf-8", errors="replace").strip()

    def evaluate(self, docs: list[dict], label: str) -> dict:
        self.model.eval()
        nll, scored, probes, exact, t0 = 0.0, 0, 0, 0, time.time()
        per_file, probe_log = [], []
        for k, d in enumerate(docs):
            n, s = self.perplexity(d["text"])
            lines = split_lines(d["text"])
            idx = probe_lines(lines, self.lines_per_file, self.probe_rule)
            e = 0
            for i in idx:
                written = self.next_line(lines, i)
                ok = written == lines[i].strip()
                e += ok
                probe_log.append({"path": d["path"], "line": i, "expected": lines[i].strip(), "written": written,
                                  "exact": ok})
            nll, scored, probes, exact = nll + s, scored + n, probes + len(idx), exact + e
            per_file.append({"path": d["path"], "scored_tokens": n, "loss": s / max(1, n), "line_probes": len(idx),
                             "exact_lines": e})
            log(f"eval ({label}) {k + 1}/{len(docs)} {d['path']}: {n} tokens, perplexity {math.exp(s / max(1, n)):.2f}, "
                f"next line {e}/{len(idx)}")
        loss = nll / max(1, scored)
        return {"loss": loss, "perplexity": math.exp(loss), "scored_tokens": scored, "line_probes": probes,
                "exact_lines": exact, "next_line_exact": exact / max(1, probes), "files": per_file, "probes": probe_log,
                "seconds": time.time() - t0}


# ---------------------------------------------------------------------------------------------------------------
# Training data


class Sampler:
    """Windows of the training files; a share rearranged as <fim_prefix>P<fim_suffix>S<fim_middle>M<eos>."""

    def __init__(self, docs: list[str], tok, seq: int, fim_rate: float, eos: int, fim: tuple | None):
        self.docs, self.tok, self.seq, self.eos, self.fim = docs, tok, seq, eos, fim
        self.fim_rate = fim_rate if fim else 0.0
        sizes = np.array([len(d) for d in docs], dtype=np.float64)
        self.cum = np.cumsum(sizes) / sizes.sum()
        self.window_chars = seq * 4

    def window(self, rng) -> tuple[str, bool]:
        d = self.docs[min(int(np.searchsorted(self.cum, rng.random())), len(self.docs) - 1)]
        if len(d) <= self.window_chars:
            return d, True
        s = int(rng.integers(0, len(d) - self.window_chars // 2))
        s = d.rfind("\n", 0, s) + 1  # start at a line start
        return d[s:s + self.window_chars], s + self.window_chars >= len(d)

    def encode(self, texts):
        return [e.ids for e in self.tok.encode_batch(texts, add_special_tokens=False)]

    def sample(self, rng) -> list[int]:
        text, at_end = self.window(rng)
        n = self.seq + 1
        if rng.random() >= self.fim_rate or len(text) < 8:
            (ids,) = self.encode([text])
            return (ids + ([self.eos] if at_end else []))[:n]
        # the editor's hole: after a line's indentation (half) or at a random point, to the end of 1-3 lines
        i = int(rng.integers(0, len(text)))
        if rng.random() < 0.5:
            i = text.rfind("\n", 0, i) + 1
            while i < len(text) and text[i] in " \t":
                i += 1
        j = i
        for _ in range(int(rng.integers(1, 4))):
            k = text.find("\n", j)
            j = len(text) if k < 0 else k + 1
        pre, mid, suf = self.encode([text[:i], text[i:j], text[j:]])
        fp, fs, fm = self.fim
        mid = mid[: n // 3]
        room = n - 4 - len(mid)
        suf = suf[: max(room // 3, room - len(pre))]
        pre = pre[max(0, len(pre) - (room - len(suf))):]
        return [fp] + pre + [fs] + suf + [fm] + mid + [self.eos]

    def batch(self, rng, size: int, replay=None, replay_rate: float = 0.0, sources: bool = False):
        """`size` samples; with `replay` (another Sampler), each is drawn from it with probability `replay_rate`.
        With `sources`, also a boolean tensor: which rows came from `replay`."""
        out = torch.full((size, self.seq + 1), -1, dtype=torch.long)
        from_replay = torch.zeros(size, dtype=torch.bool)
        for b in range(size):
            from_replay[b] = replay is not None and rng.random() < replay_rate
            ids = (replay if from_replay[b] else self).sample(rng)
            out[b, :len(ids)] = torch.tensor(ids, dtype=torch.long)
        return (out, from_replay) if sources else out


def replay_texts(folder: str, limit: int = 150_000) -> list[str]:
    """The Python files under `folder` (not site-packages, dist-packages or __pycache__), each of at most `limit`
    bytes and UTF-8, sorted by path: general code to rehearse while the adapter learns a repository."""
    texts = []
    for path in sorted(Path(folder).rglob("*.py")):
        if {"site-packages", "dist-packages", "__pycache__"} & set(path.parts):
            continue
        try:
            if not 0 < path.stat().st_size <= limit:
                continue
            texts.append(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
    return texts


class lora_off:
    """Context: every LoRA of `adapted` contributes nothing (the base model), restored on exit."""

    def __init__(self, adapted: dict):
        self.mods = [m for mods in adapted.values() for m in mods]

    def __enter__(self):
        self.saved = [m.scaling for m in self.mods]
        for m in self.mods:
            m.scaling = 0.0

    def __exit__(self, *exc):
        for m, s in zip(self.mods, self.saved):
            m.scaling = s


def soft_loss(logits, labels, from_replay, base_logits):
    """Mean over the scored tokens of: cross entropy with the real next token on the repository's windows, and
    cross entropy with the base model's distribution (`base_logits`, the replayed rows) on the replayed windows,
    whose gradient is that of KL(base || adapted): there the adapter is pulled back to what the model did before."""
    valid = labels >= 0
    lp = torch.log_softmax(logits, dim=-1)
    per_token = torch.zeros(labels.shape, dtype=lp.dtype)
    hard = ~from_replay
    if hard.any():
        per_token[hard] = -lp[hard].gather(-1, labels[hard].clamp(min=0)[..., None])[..., 0]
    per_token[from_replay] = -(torch.softmax(base_logits, dim=-1) * lp[from_replay]).sum(-1)
    return (per_token * valid).sum() / valid.sum().clamp(min=1)


def lr_at(step: int, total: int, peak: float, warmup: int) -> float:
    """Linear warmup, then a cosine decay to 10 % of the peak."""
    if step < warmup:
        return peak * (step + 1) / warmup
    p = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, p))))


def bar(frac: float, width: int = 24) -> str:
    k = int(round(frac * width))
    return "[" + "#" * k + "-" * (width - k) + "]"


# ---------------------------------------------------------------------------------------------------------------
# Checks against the engine


def run_moecoder(exe: str, args: list[str], stdin: str | None = None) -> str:
    try:
        p = subprocess.run([exe] + args, input=stdin, capture_output=True, text=True, timeout=600)
    except OSError as e:
        raise Failure(f"cannot run {exe}: {e}")
    if p.returncode != 0:
        raise Failure(f"{exe} {args[0]} failed (status {p.returncode}): {p.stderr.strip()[-500:]}")
    return p.stdout


def check_tokenizer(exe: str, model_path: str, tok, text: str) -> dict:
    theirs = json.loads(run_moecoder(exe, ["tokenize", "--model", model_path, "--no-parse-special", "--json", "-"],
                                     stdin=text))["ids"]
    ours = tok.encode(text, add_special_tokens=False).ids
    if ours != theirs:
        at = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
        raise Failure(f"the rebuilt tokenizer differs from the engine's at token {at} "
                      f"({ours[at:at + 5]} vs {theirs[at:at + 5]}); refusing to train on a different tokenization")
    return {"chars": len(text), "tokens": len(ours), "identical": True}


@torch.no_grad()
def check_logits(exe: str, model_path: str, model, ids: list[int], tolerance: float) -> dict:
    ours = model(input_ids=torch.tensor([ids])).logits[0, -1].double().numpy()
    out = json.loads(run_moecoder(exe, ["logits", "--model", model_path, "--exact", "--threads", "1", "--json",
                                        "--tokens", ",".join(map(str, ids))]))
    theirs = np.array(out["logits"], dtype=np.float64)
    diff = float(np.abs(ours - theirs).max())
    scale = float(np.abs(theirs).max())
    result = {"tokens": len(ids), "max_abs_diff": diff, "max_abs_logit": scale, "relative": diff / scale,
              "same_argmax": int(ours.argmax()) == int(theirs.argmax()), "tolerance": tolerance}
    if diff > tolerance * scale:
        raise Failure(f"the torch model's logits differ from `moecoder logits --exact` by {diff:.4g} (max |logit| "
                      f"{scale:.3g}): the GGUF-to-transformers mapping is wrong for this model")
    return result


# ---------------------------------------------------------------------------------------------------------------


def load_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        raise Failure(f"{path} is missing (the data folder must hold train.jsonl and heldout.jsonl)")
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def probe_count(text: str) -> int:
    """`--lines`: a count (0 or more), or `all` (-1)."""
    if text == "all":
        return -1
    n = int(text)
    if n < 0:
        raise argparse.ArgumentTypeError("must be 'all' or a count of 0 or more")
    return n


def has_bf16() -> bool:
    try:
        return "avx512_bf16" in Path("/proc/cpuinfo").read_text() or "amx_bf16" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--model", required=True, help="the base model (GGUF)")
    ap.add_argument("--data", required=True, help="folder with train.jsonl and heldout.jsonl")
    ap.add_argument("--out", required=True, help="the adapter to write (GGUF)")
    ap.add_argument("--summary", help="JSON summary to write (default: OUT with .json)")
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--alpha", type=float, default=32.0)
    ap.add_argument("--targets", default=DEFAULT_TARGETS, help="comma-separated, of: " + ",".join(TARGETS))
    ap.add_argument("--steps", type=int, default=300, help="optimizer steps (ignored with --minutes)")
    ap.add_argument("--minutes", type=float, default=0,
                    help="train for about this long instead: the step count is fixed after timing the first steps")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=512, help="training sequence length (tokens)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--fim-rate", type=float, default=0.3, help="share of fill-in-the-middle samples")
    ap.add_argument("--replay", type=float, default=0.25,
                    help="share of the training windows drawn from general Python code (--replay-dir) instead of "
                         "the repository, so that the adapter keeps the model's general habits")
    ap.add_argument("--replay-dir",
                    help="the general code to draw them from (default: the standard library of the Python running "
                         "this script, which the default model was trained on)")
    ap.add_argument("--replay-kl", action=argparse.BooleanOptionalAction, default=False,
                    help="on the replayed windows, train toward the base model's next-token distribution (a KL term: "
                         "distillation) instead of the real next token")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None,
                    help="bfloat16 autocast in training (default: when the CPU has AVX512-BF16)")
    ap.add_argument("--window", type=int, default=512, help="evaluation window (moecoder eval --window)")
    ap.add_argument("--lines", type=probe_count, default=-1,
                    help="next-line probes per held-out file, evenly spread over its lines of code, or 'all' "
                         "(moecoder eval --lines); default all")
    ap.add_argument("--probes", choices=["code", "any"], default="code",
                    help="next-line probe lines: 'code' (not comments, docstrings or lines under 4 characters) or "
                         "'any' (every line of 4 or more non-blank characters); moecoder eval --probes")
    ap.add_argument("--moecoder", help="the moecoder executable, to check tokenizer and logits against the engine")
    ap.add_argument("--logits-tolerance", type=float, default=1e-3,
                    help="largest allowed |logit difference| / max |logit| against `moecoder logits --exact`")
    ap.add_argument("--no-eval-before", action="store_true", help="skip the evaluation before training")
    args = ap.parse_args()
    try:
        run(args)
    except Failure as e:
        log(f"lora_train: error: {e}")
        sys.exit(2)


def run(args):
    t_all = time.time()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    bad = [t for t in targets if t not in TARGETS]
    if bad or not targets:
        raise Failure(f"unknown --targets {bad}; choose from {', '.join(TARGETS)}")
    if args.rank < 1 or args.steps < 1 or args.batch < 1 or args.seq < 8:
        raise Failure("--rank, --steps and --batch must be at least 1, --seq at least 8")
    if not 0 <= args.replay < 1:
        raise Failure(f"--replay must be at least 0 and below 1 (a share of the training windows), not {args.replay:g}")
    train_docs = load_jsonl(Path(args.data) / "train.jsonl")
    held_docs = load_jsonl(Path(args.data) / "heldout.jsonl")
    if not train_docs:
        raise Failure("no training files")

    log(f"loading {args.model}")
    meta, tensors, reader = load_gguf(args.model)
    model, config = hf_model(meta, tensors)
    del tensors
    tok, vocab_tokens = gguf_tokenizer(reader, meta)
    token_bytes = token_bytes_of(reader, vocab_tokens)
    ids = {t: i for i, t in enumerate(vocab_tokens)}
    eos = int(meta.get("tokenizer.ggml.eos_token_id", 0))
    fim = tuple(ids[t] for t in ("<fim_prefix>", "<fim_suffix>", "<fim_middle>")) \
        if all(t in ids for t in ("<fim_prefix>", "<fim_suffix>", "<fim_middle>")) else None
    eos_ids = {eos} | ({ids["<|endoftext|>"]} if "<|endoftext|>" in ids else set())

    checks = {}
    if args.moecoder:
        sample = (held_docs or train_docs)[0]["text"][:6000]
        checks["tokenizer"] = check_tokenizer(args.moecoder, args.model, tok, sample)
        prompt = tok.encode(sample, add_special_tokens=False).ids[:64]
        checks["logits"] = check_logits(args.moecoder, args.model, model, prompt, args.logits_tolerance)
        log(f"checked against the engine: same token ids on {checks['tokenizer']['tokens']} tokens; logits within "
            f"{checks['logits']['max_abs_diff']:.2e} (max |logit| {checks['logits']['max_abs_logit']:.1f})")

    adapted = add_lora(model, config, targets, args.rank, args.alpha)
    params = [p for mods in adapted.values() for m in mods for p in (m.lora_a, m.lora_b)]
    n_params = sum(p.numel() for p in params)
    evaluator = Evaluator(model, tok, token_bytes, args.window, int(meta[f"{meta['general.architecture']}.context_length"]),
                          bool(meta.get("tokenizer.ggml.add_bos_token", False)),
                          int(meta.get("tokenizer.ggml.bos_token_id", eos)), eos_ids, args.lines,
                          probe_rule=args.probes)
    before = None
    if held_docs and not args.no_eval_before:
        before = evaluator.evaluate(held_docs, "before")
        log(f"held-out before: loss {before['loss']:.4f}, perplexity {before['perplexity']:.3f}, next line "
            f"{before['exact_lines']}/{before['line_probes']}")

    bf16 = has_bf16() if args.bf16 is None else args.bf16
    seq = min(args.seq, int(meta[f"{meta['general.architecture']}.context_length"]))
    sampler = Sampler([d["text"] for d in train_docs], tok, seq, args.fim_rate, eos, fim)
    replay, replay_dir, replay_files = None, None, 0
    if args.replay > 0:
        import sysconfig
        replay_dir = args.replay_dir or sysconfig.get_paths()["stdlib"]
        texts = replay_texts(replay_dir)
        if not texts:
            raise Failure(f"--replay {args.replay:g}: no Python files in {replay_dir} (pass --replay-dir or --replay 0)")
        replay, replay_files = Sampler(texts, tok, seq, args.fim_rate, eos, fim), len(texts)
        log(f"replay: {args.replay:.0%} of the windows from {replay_files} files of {replay_dir}")
    opt = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.999), weight_decay=0.0)
    total = max(args.steps, 6) if args.minutes else args.steps
    log(f"training a rank-{args.rank} LoRA (alpha {args.alpha:g}) on {', '.join(targets)}: {n_params:,} parameters; "
        f"{len(train_docs)} files; batch {args.batch} x {seq} tokens; {args.threads} threads"
        f"{'; bfloat16' if bf16 else ''}; " + (f"about {args.minutes:g} min" if args.minutes else f"{total} steps"))
    model.train()
    t0 = time.time()
    step, tokens_seen, losses, t_log, tok_log = 0, 0, [], t0, 0
    timed_from = None
    while step < total:
        batch, from_replay = sampler.batch(np.random.default_rng([args.seed, step]), args.batch, replay, args.replay,
                                           sources=True)
        lr = lr_at(step, total, args.lr, args.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        inputs = batch[:, :-1].clamp(min=0)
        labels = batch[:, 1:].clone()
        labels[labels < 0] = -100
        distil = args.replay_kl and bool(from_replay.any())
        if distil:  # the base model's next-token distribution on the replayed windows: the adapter's target there
            with torch.no_grad(), lora_off(adapted), \
                    torch.autocast(device_type="cpu", dtype=torch.bfloat16, enabled=bf16):
                base_logits = model(input_ids=inputs[from_replay]).logits.float()
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(input_ids=inputs).logits
        if distil:
            loss = soft_loss(logits.float(), labels, from_replay, base_logits)
        else:
            loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.size(-1)), labels.reshape(-1),
                                                     ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        n_tok = int((batch[:, 1:] >= 0).sum())
        tokens_seen += n_tok
        tok_log += n_tok
        losses.append(loss.item())
        if args.minutes and step == 1:
            timed_from = time.time()
        if args.minutes and step == 6:
            per_step = (time.time() - timed_from) / 5
            total = max(6, int(args.minutes * 60 / per_step))
            log(f"{per_step:.2f} s a step: {total} steps fit in {args.minutes:g} min")
        now = time.time()
        if now - t_log >= 5 or step == total:
            rate = tok_log / max(1e-9, now - t_log)
            eta = (total - step) * (now - t0) / step
            recent = sum(losses[-10:]) / len(losses[-10:])
            log(f"{bar(step / total)} step {step}/{total} loss {recent:.4f} lr {lr:.1e} {rate:,.0f} tok/s "
                f"elapsed {(now - t0) / 60:.1f} min ETA {eta / 60:.1f} min")
            t_log, tok_log = now, 0
    train_seconds = time.time() - t0
    model.eval()
    write_adapter(args.out, meta["general.architecture"], adapted, args.rank, args.alpha,
                  f"LoRA r{args.rank} for {meta.get('general.name', Path(args.model).stem)}")
    log(f"wrote {args.out} ({Path(args.out).stat().st_size / 2**20:.2f} MiB)")
    after = None
    if held_docs:
        after = evaluator.evaluate(held_docs, "after")
        log(f"held-out after: loss {after['loss']:.4f}, perplexity {after['perplexity']:.3f}, next line "
            f"{after['exact_lines']}/{after['line_probes']}")
    summary = {
        "model": args.model, "architecture": meta["general.architecture"], "adapter": args.out,
        "rank": args.rank, "alpha": args.alpha, "targets": targets, "lora_parameters": n_params,
        "steps": step, "batch": args.batch, "seq": seq, "lr": args.lr, "fim_rate": args.fim_rate,
        "replay": args.replay, "replay_dir": replay_dir, "replay_files": replay_files, "replay_kl": args.replay_kl,
        "seed": args.seed, "threads": args.threads, "bf16": bf16, "line_probes_per_file": args.lines,
        "probe_rule": args.probes,
        "train_files": len(train_docs), "heldout_files": len(held_docs), "tokens_trained": tokens_seen,
        "train_seconds": train_seconds, "tokens_per_second": tokens_seen / max(1e-9, train_seconds),
        "final_train_loss": sum(losses[-10:]) / len(losses[-10:]),
        "checks": checks, "before": before, "after": after, "total_seconds": time.time() - t_all,
        "torch": torch.__version__,
    }
    summary_path = args.summary or str(Path(args.out).with_suffix(".json"))
    Path(summary_path).write_text(json.dumps(summary, indent=1))
    print(summary_path, flush=True)


if __name__ == "__main__":
    main()
