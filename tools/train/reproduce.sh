#!/bin/sh
# Rebuilds models/default.gguf from a clean checkout (see tools/train/README.md). Every step is deterministic
# and resumable: rerun the script after an interruption and training continues from its last checkpoint.
set -eu
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
$PY tools/train/prep_data.py
$PY tools/train/train_tokenizer.py
$PY tools/train/train.py "$@"
$PY tools/train/export_gguf.py --out tools/train/work/default-f32.gguf
swift build -c release --product moecoder
.build/release/moecoder quantize tools/train/work/default-f32.gguf models/default.gguf --type q8_0
