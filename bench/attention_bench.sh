#!/bin/sh
# Decode attention over many sequences' paged KV caches, f32 / f16 / q8_0, per-head and fused grouped kernels,
# timed by the thread's CPU time. Usage: bench/attention_bench.sh [SEQUENCES [POSITIONS]] (default 32 256).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
work=${TMPDIR:-/tmp}/attention_bench.d
mkdir -p "$work"
cc=$(command -v clang || echo /opt/swift/usr/bin/clang)
"$cc" -O2 -DNDEBUG -I "$root/Sources/CKernels/include" -I "$root/Sources/CKernels" "$root/bench/attention_bench.c" \
    "$root/Sources/CKernels/pool.c" "$root/Sources/CKernels/blas.c" "$root/Sources/CKernels/quantize.c" -lm -lpthread -ldl -o "$work/attention_bench"
exec "$work/attention_bench" "$@"
