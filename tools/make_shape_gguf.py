#!/usr/bin/env python3
"""Writes a random-weight GGUF with the tensor names, shapes and types of a real download, for speed benchmarks.

    python3 tools/make_shape_gguf.py deepseek-coder-v2-lite-q4_k_m /tmp/v2lite.gguf
    python3 tools/make_shape_gguf.py --list

The shapes (tools/shapes/*.json) are the published model configs; the types follow llama.cpp's Q4_K_M mix
(llama_tensor_get_type): Q4_K by default; Q6_K for output.weight and for attn_v / ffn_down of the layers where
use_more_bits(i, n) holds (i < n/8, i >= 7n/8, or (i - n/8) % 3 == 2); a K-quant whose row length is not a
multiple of 256 falls back as llama.cpp does (Q4_K -> Q5_0, Q6_K -> Q8_0); 1-D tensors and the router stay F32.
The weights are random bytes with finite, small block scales (random weights are fine for speed, not for text).
The vocabulary is synthetic (256 byte tokens, then placeholders) so that both engines load it.
Needs numpy only. Writes a multi-GB file in a few minutes; progress goes to stderr.
"""
import argparse
import json
import os
import struct
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SHAPES = os.path.join(HERE, "shapes")

# ggml type ids, block sizes, block bytes, and the byte offsets of the f16 scales in each block.
TYPES = {
    "F32": (0, 1, 4, []),
    "Q4_0": (2, 32, 18, [0]),
    "Q5_0": (6, 32, 22, [0]),
    "Q8_0": (8, 32, 34, [0]),
    "Q4_K": (12, 256, 144, [0, 2]),
    "Q5_K": (13, 256, 176, [0, 2]),
    "Q6_K": (14, 256, 210, [208]),
    "MXFP4": (39, 32, 17, ["e8m0"]),
}
FALLBACK = {"Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0"}
ALIGNMENT = 32
U32, I32, F32V, BOOL, STRING, ARRAY, U64 = 4, 5, 6, 7, 8, 9, 10


def use_more_bits(i, n):
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def q4_k_m_type(name, layer, n_layer, cols):
    if name == "output.weight":
        t = "Q6_K"
    elif name.endswith(("attn_v.weight", "ffn_down.weight", "ffn_down_exps.weight")) and use_more_bits(layer, n_layer):
        t = "Q6_K"
    else:
        t = "Q4_K"
    if cols % 256:
        t = FALLBACK[t]
    return t


def mxfp4_type(name, experts):
    """gpt-oss's MXFP4 download: the experts in MXFP4, every other matrix Q8_0."""
    return "MXFP4" if experts else "Q8_0"


def tensor_list(shape):
    """(name, dims innermost-first, type) for every tensor of the shape."""
    a, n_layer, e = shape["arch"], shape["n_layer"], shape["n_embd"]
    out = []

    def mat(name, cols, rows, layer=-1, experts=None):
        dims = [cols, rows] + ([experts] if experts else [])
        t = mxfp4_type(name, experts) if shape.get("mix") == "mxfp4" else q4_k_m_type(name, layer, n_layer, cols)
        out.append((name, dims, t))

    def vec(name, n):
        out.append((name, [n], "F32"))

    mat("token_embd.weight", e, shape["n_vocab"])
    vec("output_norm.weight", e)
    mat("output.weight", e, shape["n_vocab"])
    for i in range(n_layer):
        p = f"blk.{i}."
        vec(p + "attn_norm.weight", e)
        vec(p + ("post_attention_norm.weight" if a == "gpt-oss" else "ffn_norm.weight"), e)
        if a == "deepseek2":
            heads, nope, rope, v, lora = shape["n_head"], shape["qk_nope"], shape["qk_rope"], shape["v_head"], shape["kv_lora_rank"]
            mat(p + "attn_q.weight", e, heads * (nope + rope), i)
            mat(p + "attn_kv_a_mqa.weight", e, lora + rope, i)
            vec(p + "attn_kv_a_norm.weight", lora)
            mat(p + "attn_kv_b.weight", lora, heads * (nope + v), i)
            mat(p + "attn_output.weight", heads * v, e, i)
        else:
            heads, kv, hd = shape["n_head"], shape["n_head_kv"], shape["head_dim"]
            for t, rows in (("q", heads * hd), ("k", kv * hd), ("v", kv * hd)):
                mat(p + f"attn_{t}.weight", e, rows, i)
                if shape.get("qkv_bias"):
                    vec(p + f"attn_{t}.bias", rows)
            mat(p + "attn_output.weight", heads * hd, e, i)
            if shape.get("qk_norm"):
                vec(p + "attn_q_norm.weight", hd)
                vec(p + "attn_k_norm.weight", hd)
            if a == "gpt-oss":
                vec(p + "attn_output.bias", e)
                vec(p + "attn_sinks.weight", heads)
        if i < shape.get("n_dense_lead", 0):
            ff = shape["n_ff"]
            mat(p + "ffn_gate.weight", e, ff, i)
            mat(p + "ffn_up.weight", e, ff, i)
            mat(p + "ffn_down.weight", ff, e, i)
            continue
        x, ffe = shape["n_expert"], shape["n_ff_exp"]
        out.append((p + "ffn_gate_inp.weight", [e, x], "F32"))
        mat(p + "ffn_gate_exps.weight", e, ffe, i, x)
        mat(p + "ffn_up_exps.weight", e, ffe, i, x)
        mat(p + "ffn_down_exps.weight", ffe, e, i, x)
        if a == "gpt-oss":
            vec(p + "ffn_gate_inp.bias", x)
            out.append((p + "ffn_gate_exps.bias", [ffe, x], "F32"))
            out.append((p + "ffn_up_exps.bias", [ffe, x], "F32"))
            out.append((p + "ffn_down_exps.bias", [e, x], "F32"))
        sh = shape.get("n_ff_shexp", 0)
        if sh:
            if shape.get("shared_gate"):
                vec(p + "ffn_gate_inp_shexp.weight", e)
            mat(p + "ffn_gate_shexp.weight", e, sh, i)
            mat(p + "ffn_up_shexp.weight", e, sh, i)
            mat(p + "ffn_down_shexp.weight", sh, e, i)
    return out


def nbytes(dims, t):
    _, block, size, _ = TYPES[t]
    count = int(np.prod(dims))
    return count // block * size


def s(x):
    b = x.encode()
    return struct.pack("<Q", len(b)) + b


def kv(key, vtype, value):
    head = s(key) + struct.pack("<I", vtype)
    fmt = {U32: "<I", I32: "<i", F32V: "<f", BOOL: "<?", U64: "<Q"}
    if vtype == STRING:
        return head + s(value)
    if vtype == ARRAY:
        etype, items = value
        body = struct.pack("<IQ", etype, len(items))
        if etype == STRING:
            body += b"".join(s(v) for v in items)
        else:
            body += np.asarray(items, dtype={I32: "<i4", F32V: "<f4"}[etype]).tobytes()
        return head + body
    return head + struct.pack(fmt[vtype], value)


def byte_tokens():
    """GPT-2's printable stand-ins for the 256 bytes (byte-level BPE)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    mapping, extra = {}, 0
    for b in range(256):
        if b in keep:
            mapping[b] = chr(b)
        else:
            mapping[b] = chr(256 + extra)
            extra += 1
    return [mapping[b] for b in range(256)]


def metadata(shape):
    a = shape["arch"]
    items = [kv("general.architecture", STRING, a), kv("general.name", STRING, shape["name"] + " (random weights)"),
             kv("general.alignment", U32, ALIGNMENT), kv("general.file_type", U32, 38 if shape.get("mix") == "mxfp4" else 15)]  # 15: Q4_K_M, 38: MXFP4_MOE

    def k(key, vtype, value):
        items.append(kv(f"{a}.{key}", vtype, value))

    k("context_length", U32, shape["n_ctx"])
    k("embedding_length", U32, shape["n_embd"])
    k("block_count", U32, shape["n_layer"])
    k("attention.head_count", U32, shape["n_head"])
    k("attention.layer_norm_rms_epsilon", F32V, shape["rms_eps"])
    k("rope.freq_base", F32V, shape["rope_base"])
    k("expert_count", U32, shape["n_expert"])
    k("expert_used_count", U32, shape["n_expert_used"])
    k("expert_feed_forward_length", U32, shape["n_ff_exp"])
    k("vocab_size", U32, shape["n_vocab"])
    if a == "deepseek2":
        k("feed_forward_length", U32, shape["n_ff"])
        k("attention.head_count_kv", U32, shape["n_head"])
        k("leading_dense_block_count", U32, shape["n_dense_lead"])
        k("attention.kv_lora_rank", U32, shape["kv_lora_rank"])
        k("attention.key_length", U32, shape["qk_nope"] + shape["qk_rope"])
        k("attention.value_length", U32, shape["v_head"])
        k("rope.dimension_count", U32, shape["qk_rope"])
        k("expert_shared_count", U32, shape["n_expert_shared"])
        k("expert_weights_scale", F32V, shape["routed_scale"])
        k("rope.scaling.type", STRING, "yarn")
        k("rope.scaling.factor", F32V, shape["yarn_factor"])
        k("rope.scaling.original_context_length", U32, shape["yarn_orig_ctx"])
        k("rope.scaling.yarn_log_multiplier", F32V, shape["yarn_log_mul"])
    else:
        k("feed_forward_length", U32, shape.get("n_ff", shape["n_ff_exp"]))
        k("attention.head_count_kv", U32, shape["n_head_kv"])
        k("attention.key_length", U32, shape["head_dim"])
        k("attention.value_length", U32, shape["head_dim"])
        if shape.get("n_ff_shexp"):
            k("expert_shared_feed_forward_length", U32, shape["n_ff_shexp"])
    if a == "gpt-oss":
        k("attention.sliding_window", U32, shape["sliding_window"])
        k("rope.scaling.type", STRING, "yarn")
        k("rope.scaling.factor", F32V, shape["yarn_factor"])
        k("rope.scaling.original_context_length", U32, shape["yarn_orig_ctx"])
    tokens = byte_tokens() + [f"<t{i}>" for i in range(256, shape["n_vocab"])]
    items += [kv("tokenizer.ggml.model", STRING, "gpt2"), kv("tokenizer.ggml.pre", STRING, shape["pre"]),
              kv("tokenizer.ggml.tokens", ARRAY, (STRING, tokens)),
              kv("tokenizer.ggml.token_type", ARRAY, (I32, [1] * len(tokens))),
              kv("tokenizer.ggml.merges", ARRAY, (STRING, [])),
              kv("tokenizer.ggml.bos_token_id", U32, shape["bos"]), kv("tokenizer.ggml.eos_token_id", U32, shape["eos"])]
    return items


def random_data(rng, dims, t, chunk=1 << 26):
    """Yields the tensor's bytes in chunks: random quants, small finite f16 scales (and ~1 for norms)."""
    _, block, size, scales = TYPES[t]
    if t == "F32":
        count = int(np.prod(dims))
        if len(dims) == 1:
            yield np.ones(count, dtype="<f4").tobytes()
        else:
            yield (rng.standard_normal(count, dtype=np.float32) * 0.05).astype("<f4").tobytes()
        return
    blocks = int(np.prod(dims)) // block
    per = max(1, chunk // size)
    for start in range(0, blocks, per):
        n = min(per, blocks - start)
        data = np.frombuffer(rng.bytes(n * size), dtype=np.uint8).reshape(n, size).copy()
        for off in scales:
            if off == "e8m0":       # MXFP4's shared exponent byte: 2^(e-127) with e in 118..121 (values up to ~6e-2)
                data[:, 0] = rng.integers(118, 122, n, dtype=np.uint8)
                continue
            d = (rng.random(n, dtype=np.float32) * 2e-3 + 1e-4).astype("<f2")
            data[:, off:off + 2] = d.view(np.uint8).reshape(n, 2)
        yield data.tobytes()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("shape", nargs="?", help="a name from --list")
    ap.add_argument("out", nargs="?", help="the GGUF file to write")
    ap.add_argument("--list", action="store_true", help="list the shapes")
    ap.add_argument("--layers", type=int, help="keep only the first N layers (a smaller file of the same kind)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    names = sorted(f[:-5] for f in os.listdir(SHAPES) if f.endswith(".json"))
    if args.list or not args.shape:
        print("\n".join(names))
        return 0 if args.list else 2
    if args.shape not in names:
        print(f"make_shape_gguf: unknown shape '{args.shape}'; one of: {', '.join(names)}", file=sys.stderr)
        return 2
    if not args.out:
        print("make_shape_gguf: give the output path", file=sys.stderr)
        return 2
    with open(os.path.join(SHAPES, args.shape + ".json")) as f:
        shape = json.load(f)
    if args.layers:
        shape["n_layer"] = min(shape["n_layer"], args.layers)
    tensors = tensor_list(shape)
    meta = metadata(shape)
    head = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(meta)))
    head += b"".join(meta)
    offset = 0
    for name, dims, t in tensors:
        head += s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        head += struct.pack("<IQ", TYPES[t][0], offset)
        offset += -(-nbytes(dims, t) // ALIGNMENT) * ALIGNMENT
    head += b"\0" * (-len(head) % ALIGNMENT)
    total = offset
    rng = np.random.default_rng(args.seed)
    written, started = 0, time.time()
    tmp = args.out + ".part"
    with open(tmp, "wb") as f:
        f.write(head)
        for name, dims, t in tensors:
            size = 0
            for piece in random_data(rng, dims, t):
                f.write(piece)
                size += len(piece)
            f.write(b"\0" * (-size % ALIGNMENT))
            written += -(-size // ALIGNMENT) * ALIGNMENT
            print(f"\r{written / 2**30:6.2f} / {total / 2**30:.2f} GiB  {name:<40}", end="", file=sys.stderr)
    os.replace(tmp, args.out)
    counts = {}
    for _, dims, t in tensors:
        c = counts.setdefault(t, [0, 0])
        c[0] += 1
        c[1] += nbytes(dims, t)
    summary = ", ".join(f"{t} {c[0]} tensors {c[1] / 1e9:.2f} GB" for t, c in sorted(counts.items()))
    print(f"\nwrote {args.out}: {len(tensors)} tensors, {(len(head) + total) / 1e9:.2f} GB ({summary}) "
          f"in {time.time() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
