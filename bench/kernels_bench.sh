#!/bin/sh
# Single-thread throughput of the C kernels for each weight type, kernel level (portable, avx2, avx512vnni as
# the CPU has them) and number of activation rows (1, 4, 64), weights in cache and in memory.
# Usage: bench/kernels_bench.sh   (builds into $TMPDIR or /tmp, touches nothing in the repository)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
work=${TMPDIR:-/tmp}/kernels_bench.d
mkdir -p "$work"
cc=$(command -v clang || echo /opt/swift/usr/bin/clang)
"$cc" -O2 -DNDEBUG -I "$root/Sources/CKernels/include" -I "$root/Sources/CKernels" "$root/bench/kernels_bench.c" \
    "$root/Sources/CKernels/pool.c" "$root/Sources/CKernels/blas.c" "$root/Sources/CKernels/quantize.c" -lm -lpthread -ldl -o "$work/kernels_bench"
exec "$work/kernels_bench"
