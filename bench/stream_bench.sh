#!/bin/sh
# How close the decode kernels come to a plain read of memory: bench/stream_bench.c (see there) for the weight types
# of the Q4_K_M MoE shapes, two threads, the expert shapes of DeepSeek-Coder-V2-Lite (gate/up 1408 x 2048, down
# 2048 x 1408). Usage: bench/stream_bench.sh [THREADS]   (builds into $TMPDIR or /tmp, touches nothing here)
set -eu
bin=$("$(dirname "$0")/build_c_bench.sh" stream_bench)
threads=${1:-2}
for shape in "12 1408 2048" "6 2048 1408" "8 2048 1408" "14 4096 2048"; do
    set -- $shape
    "$bin" "$1" "$2" "$3" 1024 "$threads" | sed -n '1p;$p'
done
