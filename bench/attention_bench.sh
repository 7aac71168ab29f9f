#!/bin/sh
# Decode attention over many sequences' paged KV caches, f32 / f16 / q8_0, per-head and fused grouped kernels,
# timed by the thread's CPU time. Usage: bench/attention_bench.sh [SEQUENCES [POSITIONS]] (default 32 256).
set -eu
bin=$("$(dirname "$0")/build_c_bench.sh" attention_bench)
exec "$bin" "$@"
