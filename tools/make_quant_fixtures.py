#!/usr/bin/env python3
"""Golden blocks for the tensor types Q2_K, Q3_K, IQ4_NL, IQ4_XS and MXFP4, decoded by an independent
implementation: the dequantizers of the `gguf` Python package (gguf-py, numpy), not ours and not ggml's C.

For each type the script writes Tests/Fixtures/quants/<type>.json with
  * `bytes`: 1024 elements' worth of deterministic pseudo-random blocks (fixed seed), whose scale fields are
    replaced by sane values so that every value is finite (f16 scales in ±[2^-10, 0.05]; MXFP4 exponents
    around 127, plus the two subnormal scales e = 0 and e = 1 and the boundary e = 2); the first block has all
    its quant bits zero and the second all ones, so both ends of every field are covered;
  * `values`: the gguf package's dequantized float32s (little-endian bytes, hex);
  * `x`: a pseudo-random float32 activation vector of the same length (hex);
  * `dot`: Σ values[i]·x[i] computed in float64 from those float32s, and `magnitude`: Σ |values[i]·x[i]|.

Run (pinned versions are checked):
    python3 -m venv /tmp/qenv && /tmp/qenv/bin/pip install gguf==0.19.0 numpy==2.4.6
    /tmp/qenv/bin/python tools/make_quant_fixtures.py [--out Tests/Fixtures/quants]
Output is deterministic: two runs write byte-identical files.
"""
from __future__ import annotations

import argparse
import json
import sys
from importlib.metadata import version
from pathlib import Path

PINS = {"gguf": "0.19.0", "numpy": "2.4.6"}
REPO = Path(__file__).resolve().parent.parent
ELEMENTS = 1024
SEED = 20261206


def check_versions() -> None:
    bad = [f"{name} {version(name)} (want {want})" for name, want in PINS.items() if version(name) != want]
    if bad:
        sys.exit("make_quant_fixtures.py: wrong package versions: " + ", ".join(bad))


def f16_scales(rng, count):
    """Finite f16 scales, both signs, magnitudes in [2^-10, 0.05], as little-endian bytes (count × 2)."""
    import numpy as np
    magnitude = rng.uniform(2.0 ** -10, 0.05, size=count)
    sign = np.where(rng.random(count) < 0.2, -1.0, 1.0)
    return (magnitude * sign).astype(np.float16).view(np.uint8).reshape(count, 2)


def make_blocks(name, block_bytes, blocks, rng):
    """Random blocks of `name` with sane scale fields (the byte offsets are ggml-common.h's structs)."""
    import numpy as np
    raw = rng.integers(0, 256, size=(blocks, block_bytes), dtype=np.uint8)
    # Quant bits all zero in block 0, all ones in block 1 (the scale fields are set below either way).
    raw[0, :] = 0
    raw[1, :] = 0xFF
    if name == "Q2_K":        # scales[16], qs[64], f16 d, f16 dmin
        raw[:, 80:82] = f16_scales(rng, blocks)
        raw[:, 82:84] = f16_scales(rng, blocks)
    elif name == "Q3_K":      # hmask[32], qs[64], scales[12], f16 d
        raw[:, 108:110] = f16_scales(rng, blocks)
    elif name == "IQ4_NL":    # f16 d, qs[16]
        raw[:, 0:2] = f16_scales(rng, blocks)
    elif name == "IQ4_XS":    # f16 d, u16 scales_h, scales_l[4], qs[128]
        raw[:, 0:2] = f16_scales(rng, blocks)
    elif name == "MXFP4":     # E8M0 e, qs[16]
        raw[:, 0] = rng.integers(118, 137, size=blocks, dtype=np.uint8)
        raw[2, 0], raw[3, 0], raw[4, 0], raw[5, 0] = 0, 1, 2, 127
    else:
        raise ValueError(name)
    return raw


def main() -> None:
    check_versions()
    import numpy as np
    from gguf import GGMLQuantizationType, GGML_QUANT_SIZES
    from gguf.quants import dequantize

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(REPO / "Tests/Fixtures/quants"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    for index, name in enumerate(["Q2_K", "Q3_K", "IQ4_NL", "IQ4_XS", "MXFP4"]):
        qtype = GGMLQuantizationType[name]
        block_size, block_bytes = GGML_QUANT_SIZES[qtype]
        rng = np.random.default_rng(SEED + index)
        blocks = make_blocks(name, block_bytes, ELEMENTS // block_size, rng)
        values = dequantize(blocks.reshape(-1), qtype).astype(np.float32).reshape(-1)
        assert values.shape == (ELEMENTS,) and np.all(np.isfinite(values)), name
        x = rng.uniform(-2.0, 2.0, size=ELEMENTS).astype(np.float32)
        products = values.astype(np.float64) * x.astype(np.float64)
        record = {
            "type": name,
            "type_id": int(qtype),
            "block_size": block_size,
            "block_bytes": block_bytes,
            "elements": ELEMENTS,
            "generator": "tools/make_quant_fixtures.py, gguf " + PINS["gguf"] + " (gguf.quants.dequantize), numpy " + PINS["numpy"],
            "bytes": blocks.tobytes().hex(),
            "values": values.astype("<f4").tobytes().hex(),
            "x": x.astype("<f4").tobytes().hex(),
            "dot": float(products.sum()),
            "magnitude": float(np.abs(products).sum()),
        }
        path = out / f"{name.lower()}.json"
        path.write_text(json.dumps(record, indent=1) + "\n")
        print(f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}: {len(blocks)} blocks, dot {record['dot']:.6g}")


if __name__ == "__main__":
    main()
