#!/usr/bin/env python3
"""Per-tensor quantization error of `moecoder quantize` against llama.cpp's own quantizer.

For an F32 GGUF and each named mix, the model is quantized twice, by llama.cpp (`llama_model_quantize`) and by
`moecoder quantize`; every tensor of both outputs is dequantized with gguf-py (`gguf.quants.dequantize`) and its
RMSE against the F32 values recorded, with the type each tool chose. The golden JSON
(Tests/Fixtures/quants/rmse-golden.json) holds llama.cpp's side; Tests/EngineTests/QuantizerRMSETests.swift
quantizes the same fixture live and checks our RMSE <= 1.02x llama.cpp's per tensor, and the same types.

Pins (tools/requirements-quant.txt): llama-cpp-python==0.3.36, gguf==0.19.0, numpy==2.4.6.

    # the tiny F32 fixture (qwen3moe, 256-wide, random N(0, 1/fan_in) weights; metadata and tokenizer from
    # Tests/Fixtures/models/quantzoo-q5_1.gguf), deterministic:
    /tmp/fixenv/bin/python tools/quant_rmse.py make-fixture Tests/Fixtures/models/quantzoo-f32.gguf
    # the golden JSON (needs .build/release/moecoder for the "ours" columns, which the test recomputes):
    /tmp/fixenv/bin/python tools/quant_rmse.py measure Tests/Fixtures/models/quantzoo-f32.gguf \
        --out Tests/Fixtures/quants/rmse-golden.json
    # a real-shape file: a few tensors of a model, dequantized to F32 (random weights where the model is):
    /tmp/fixenv/bin/python tools/quant_rmse.py extract /tmp/moecoder-shapes/qwen1.5-moe-a2.7b-q4_k_m.gguf \
        /tmp/shape-f32.gguf --layers 2
    /tmp/fixenv/bin/python tools/quant_rmse.py measure /tmp/shape-f32.gguf --out bench/results/quant_rmse_shape.json
    # llama.cpp's logits on the files we write (Tests/EngineTests/QuantizerRMSETests.swift compares ours):
    /tmp/fixenv/bin/python tools/quant_rmse.py record-logits Tests/Fixtures/models/quantzoo-f32.gguf \
        --out Tests/Fixtures/models/quantzoo-ours.reference.json
"""
import argparse
import ctypes
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import gguf
from gguf.quants import dequantize

MIXES = {  # name -> llama_ftype
    "q8_0": 7, "q6_k": 18, "q5_k_m": 17, "q5_k_s": 16, "q5_0": 8, "q4_k_m": 15, "q4_k_s": 14, "q4_0": 2,
    "q3_k_m": 12, "q2_k": 10,
}

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def check_pins():
    import llama_cpp
    want = {"llama_cpp": "0.3.36", "numpy": "2.4.6"}
    got = {"llama_cpp": llama_cpp.__version__, "numpy": np.__version__}
    for k, v in want.items():
        if got[k] != v:
            sys.exit(f"{k} {got[k]} installed; this script is pinned to {v}")


def copy_metadata(reader, writer, skip=()):
    """Copies every key-value field of `reader` except the GGUF.* ones and `skip`."""
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name in skip or field.name == "general.architecture":
            continue
        vtype = field.types[0]
        if vtype == gguf.GGUFValueType.ARRAY:
            if len(field.types) < 2:
                continue  # an empty array: nothing the loaders need
            sub = field.types[1]
            if sub == gguf.GGUFValueType.STRING:
                value = [bytes(field.parts[i]).decode("utf-8") for i in field.data]
            else:
                value = [field.parts[i].tolist()[0] for i in field.data]
            writer.add_key_value(field.name, value, vtype, sub_type=sub)
        elif vtype == gguf.GGUFValueType.STRING:
            writer.add_key_value(field.name, bytes(field.parts[field.data[0]]).decode("utf-8"), vtype)
        else:
            writer.add_key_value(field.name, field.parts[field.data[0]].tolist()[0], vtype)


def f32_of(tensor):
    values = dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
    return values.reshape([int(d) for d in reversed(tensor.shape)])


def make_fixture(out):
    src = gguf.GGUFReader(os.path.join(ROOT, "Tests/Fixtures/models/quantzoo-q5_1.gguf"))
    arch = bytes(src.fields["general.architecture"].parts[-1]).decode()
    writer = gguf.GGUFWriter(out, arch)
    copy_metadata(src, writer, skip=("general.file_type", "general.quantization_version"))
    writer.add_file_type(0)
    rng = np.random.default_rng(21)
    for t in src.tensors:
        shape = [int(d) for d in reversed(t.shape)]  # numpy order
        if len(shape) == 1 or "ffn_gate_inp" in t.name:
            values = f32_of(t)  # norms and routers as the fixture has them
        else:
            fan_in = shape[-1]
            values = (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)
            if t.name in ("token_embd.weight",):
                values *= np.sqrt(fan_in)
        writer.add_tensor(t.name, np.ascontiguousarray(values, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    print(f"wrote {out}")


def extract(model, out, layers, skip):
    """The tensors of layers 0..layers-1 of `model` (plus output_norm), less those whose name contains one of
    `skip`, dequantized to F32, with all the metadata (llama_model_quantize reads the hyperparameters only)."""
    src = gguf.GGUFReader(model)
    arch = bytes(src.fields["general.architecture"].parts[-1]).decode()
    writer = gguf.GGUFWriter(out, arch)
    copy_metadata(src, writer, skip=("general.file_type", "general.quantization_version", f"{arch}.block_count"))
    writer.add_uint32(f"{arch}.block_count", layers)
    writer.add_file_type(0)
    for t in src.tensors:
        if t.name.startswith("blk."):
            if int(t.name.split(".")[1]) >= layers:
                continue
        elif t.name not in ("output.weight", "output_norm.weight", "token_embd.weight"):
            continue
        if any(part and (part == t.name or (not part.endswith(".weight") and part in t.name)) for part in skip):
            continue
        writer.add_tensor(t.name, np.ascontiguousarray(f32_of(t)))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    print(f"wrote {out}")


def llama_quantize(src, dst, ftype, imatrix=None):
    import llama_cpp
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = 2
    rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(params))
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize failed ({rc})")


def per_tensor_rmse(reference, path):
    out = {}
    for t in gguf.GGUFReader(path).tensors:
        ref = reference[t.name]
        got = f32_of(t).reshape(ref.shape)
        out[t.name] = {"type": t.tensor_type.name, "rmse": float(np.sqrt(np.mean((got.astype(np.float64) - ref) ** 2)))}
    return out


def measure(src, out, mixes, moecoder):
    reference = {t.name: f32_of(t).astype(np.float64) for t in gguf.GGUFReader(src).tensors}
    result = {"source": os.path.relpath(src, ROOT) if src.startswith(ROOT) else src,
              "note": "RMSE of each tensor after quantizing the F32 source, against the source",
              "llama_cpp_python": "0.3.36", "gguf": "0.19.0", "mixes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for mix in mixes:
            ours_path, theirs_path = os.path.join(tmp, f"ours-{mix}.gguf"), os.path.join(tmp, f"llama-{mix}.gguf")
            llama_quantize(src, theirs_path, MIXES[mix])
            theirs = per_tensor_rmse(reference, theirs_path)
            ours = None
            if moecoder:
                subprocess.run([moecoder, "quantize", src, ours_path, "--type", mix, "--quiet"], check=True,
                               stdout=subprocess.DEVNULL)
                ours = per_tensor_rmse(reference, ours_path)
            tensors = {}
            for name, t in theirs.items():
                if t["type"] in ("F32", "F16", "BF16"):
                    continue
                entry = {"llama_type": t["type"], "llama_rmse": t["rmse"]}
                if ours:
                    entry.update(ours_type=ours[name]["type"], ours_rmse=ours[name]["rmse"],
                                 ratio=ours[name]["rmse"] / t["rmse"] if t["rmse"] > 0 else 1.0)
                tensors[name] = entry
            result["mixes"][mix] = tensors
            if ours:
                ratios = [e["ratio"] for e in tensors.values()]
                same = all(e["llama_type"] == e["ours_type"] for e in tensors.values())
                print(f"{mix:7s} worst ratio {max(ratios):.4f} mean {np.mean(ratios):.4f} same types: {same}")
                for name, e in tensors.items():
                    if e["llama_type"] != e["ours_type"]:
                        print(f"   {name}: llama {e['llama_type']} ours {e['ours_type']}")
    with open(out, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {out}")


def record_logits(src, out, mixes, moecoder, prompts):
    """llama.cpp's logits on the files `moecoder quantize` writes from `src`, one per mix: the golden the Swift
    test compares our engine with, on the same file, quantized again live (the quantizer is deterministic)."""
    import hashlib
    import llama_cpp
    result = {"reference": f"llama-cpp-python {llama_cpp.__version__} (flash_attn off, F32 KV) on the file "
                           "`moecoder quantize SOURCE --type MIX` writes",
              "source": os.path.basename(src), "mixes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for mix in mixes:
            path = os.path.join(tmp, f"{mix}.gguf")
            subprocess.run([moecoder, "quantize", src, path, "--type", mix, "--quiet"], check=True,
                           stdout=subprocess.DEVNULL)
            llm = llama_cpp.Llama(model_path=path, n_ctx=256, logits_all=True, flash_attn=False, type_k=0, type_v=0,
                                  n_threads=1, verbose=False)
            runs = []
            for tokens in prompts:
                llm.reset()
                llm.eval(tokens)
                logits = np.array(llm.scores[: len(tokens)], dtype=np.float32)
                runs.append({"tokens": tokens, "logits": [[float(f"{v:.6g}") for v in row] for row in logits]})
            del llm
            sha = hashlib.sha256(open(path, "rb").read()).hexdigest()
            types = {t.name: t.tensor_type.name for t in gguf.GGUFReader(path).tensors}
            result["mixes"][mix] = {"bytes": os.path.getsize(path), "sha256": sha, "types": types, "prompts": runs}
            print(f"{mix}: {os.path.getsize(path)} bytes, sha256 {sha[:16]}")
    with open(out, "w") as f:
        json.dump(result, f, separators=(",", ":"), sort_keys=True)
    print(f"wrote {out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("make-fixture")
    p.add_argument("out")
    p = sub.add_parser("extract")
    p.add_argument("model")
    p.add_argument("out")
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--skip", default="_exps,token_embd.weight,output.weight",
                   help="comma-separated tensor names (ending in .weight) or name parts to leave out "
                        "(default: the big expert stacks and vocabulary matrices)")
    p = sub.add_parser("measure")
    p.add_argument("source")
    p.add_argument("--out", required=True)
    p.add_argument("--mixes", default=",".join(MIXES))
    p.add_argument("--moecoder", default=os.path.join(ROOT, ".build/release/moecoder"))
    p = sub.add_parser("record-logits")
    p.add_argument("source")
    p.add_argument("--out", required=True)
    p.add_argument("--mixes", default=",".join(MIXES))
    p.add_argument("--moecoder", default=os.path.join(ROOT, ".build/release/moecoder"))
    p.add_argument("--prompts", default=os.path.join(ROOT, "Tests/Fixtures/models/quantzoo.json"),
                   help="a fixture JSON whose first prompt is used")
    args = ap.parse_args()
    check_pins()
    if args.cmd == "make-fixture":
        make_fixture(args.out)
    elif args.cmd == "extract":
        extract(args.model, args.out, args.layers, args.skip.split(","))
    elif args.cmd == "record-logits":
        prompts = [p["tokens"] for p in json.load(open(args.prompts))["prompts"][:1]]
        record_logits(os.path.abspath(args.source), args.out, args.mixes.split(","), args.moecoder, prompts)
    else:
        moecoder = args.moecoder if os.path.exists(args.moecoder) else None
        measure(os.path.abspath(args.source), args.out, args.mixes.split(","), moecoder)


if __name__ == "__main__":
    main()
