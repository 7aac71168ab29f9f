#!/bin/sh
# Rebuilds models/default.gguf from a clean checkout (see tools/train/README.md). Every step is deterministic
# and resumable: rerun the script after an interruption and training continues from its last checkpoint.
set -eu
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
$PY tools/train/prep_data.py
$PY tools/train/train_tokenizer.py
# Stage 1: 1600 steps from random weights, half the samples fill-in-the-middle.
$PY tools/train/train.py --steps 1600 "$@"
# Stage 2: 300 steps from stage 1, 90 % fill-in-the-middle with holes where an editor's cursor is.
$PY tools/train/train.py --init tools/train/work/run/final --out tools/train/work/run2 --steps 300 --lr 5e-4 \
    --warmup 20 --decay-frac 0.5 --fim-rate 0.9 --holes cursor --seed 4321 "$@"
$PY tools/train/export_gguf.py --checkpoint tools/train/work/run2/final --out tools/train/work/default-f32.gguf
swift build -c release --product moecoder
.build/release/moecoder quantize tools/train/work/default-f32.gguf models/default.gguf --type q8_0
