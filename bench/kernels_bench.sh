#!/bin/sh
# Single-thread throughput of the C kernels for each weight type, kernel level (portable, avx2, avx512vnni as
# the CPU has them) and number of activation rows (1, 4, 64), weights in cache and in memory.
# Usage: bench/kernels_bench.sh   (builds into $TMPDIR or /tmp, touches nothing in the repository)
set -eu
bin=$("$(dirname "$0")/build_c_bench.sh" kernels_bench)
exec "$bin"
