#!/bin/sh
# Builds bench/NAME.c with the C kernels (pool, BLAS loader, quantizers) into $TMPDIR or /tmp and prints the
# binary's path; the bench scripts call it. Usage: bench/build_c_bench.sh NAME   (touches nothing here)
# -fPIC and -fno-omit-frame-pointer as SwiftPM builds the package's C targets: position-independent code changes
# how the kernels load their constants (kmovd from memory), and a micro-benchmark must time the code the product
# runs.
set -eu
name=$1
root=$(cd "$(dirname "$0")/.." && pwd)
work=${TMPDIR:-/tmp}/$name.d
mkdir -p "$work"
cc=$(command -v clang || echo /opt/swift/usr/bin/clang)
"$cc" -O2 -fPIC -fno-omit-frame-pointer -DNDEBUG -I "$root/Sources/CKernels/include" -I "$root/Sources/CKernels" "$root/bench/$name.c" \
    "$root/Sources/CKernels/pool.c" "$root/Sources/CKernels/blas.c" "$root/Sources/CKernels/quantize.c" -lm -lpthread -ldl -o "$work/$name"
echo "$work/$name"
