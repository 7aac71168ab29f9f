#!/bin/sh
# How close the decode kernels come to a plain read of memory: bench/stream_bench.c (see there) for the weight types
# of the Q4_K_M MoE shapes, two threads, the expert shapes of DeepSeek-Coder-V2-Lite (gate/up 1408 x 2048, down
# 2048 x 1408). Usage: bench/stream_bench.sh [THREADS]   (builds into $TMPDIR or /tmp, touches nothing here)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
work=${TMPDIR:-/tmp}/stream_bench.d
mkdir -p "$work"
cc=$(command -v clang || echo /opt/swift/usr/bin/clang)
"$cc" -O2 -DNDEBUG -I "$root/Sources/CKernels/include" -I "$root/Sources/CKernels" "$root/bench/stream_bench.c" \
    "$root/Sources/CKernels/pool.c" "$root/Sources/CKernels/blas.c" "$root/Sources/CKernels/quantize.c" -lm -lpthread -ldl -o "$work/stream_bench"
threads=${1:-2}
for shape in "12 1408 2048" "6 2048 1408" "8 2048 1408" "14 4096 2048"; do
    set -- $shape
    "$work/stream_bench" "$1" "$2" "$3" 1024 "$threads" | sed -n '1p;$p'
done
