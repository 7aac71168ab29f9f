#!/bin/sh
# Release-mode micro benchmark of the Kernels module: matvec GFLOP/s on 4096×4096 for each computable type,
# with 1 and 2 threads, and matmul (dequantize + sgemm) for a few batch sizes.
# Usage: bench/kernels_bench.sh   (builds into $TMPDIR or /tmp, touches nothing in the repository)
# Extra compiler flags, e.g. to see what a wider vector unit buys: KERNELS_SWIFTFLAGS='-target-cpu haswell'
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
work=${TMPDIR:-/tmp}/kernels_bench.d
mkdir -p "$work"
# Top-level code must live in main.swift. -wmo as in `swift build -c release`: without it small helpers in
# other files are not inlined and the kernels run several times slower.
cp "$root/bench/kernels_bench.swift" "$work/main.swift"
blas=$(pkg-config --cflags-only-I openblas 2>/dev/null || echo "-I/usr/include/x86_64-linux-gnu/openblas-pthread")
swiftc -Ounchecked -wmo ${KERNELS_SWIFTFLAGS:-} -module-name KernelsBench -I "$root/Sources/CBLAS" $(echo "$blas" | sed 's/-I/-Xcc -I/g') \
    "$root"/Sources/Kernels/*.swift "$work/main.swift" -lopenblas -o "$work/kernels_bench"
exec "$work/kernels_bench"
