#!/usr/bin/env bash
# Heap allocations per decoded token: runs `moecoder bench` with two decode lengths under a tiny
# malloc-counting preload library (built here from the C below) and divides the difference.
#   bench/forward_allocations.sh [MODEL.gguf]
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-Tests/Fixtures/models/qwen2moe.gguf}
bin=.build/release/moecoder
[ -x "$bin" ] || { echo "no $bin: run scripts/setup first" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/count.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
static atomic_ulong calls;
static void *(*real_malloc)(size_t);
void *malloc(size_t n) {
  if (!real_malloc) real_malloc = dlsym(RTLD_NEXT, "malloc");
  atomic_fetch_add(&calls, 1);
  return real_malloc(n);
}
__attribute__((destructor)) static void report(void) {
  FILE *f = fopen(getenv("MALLOC_COUNT_FILE"), "w");
  if (f) { fprintf(f, "%lu\n", (unsigned long)atomic_load(&calls)); fclose(f); }
}
C
cc -shared -fPIC -O2 -o "$work/count.so" "$work/count.c" -ldl
count() {
  MALLOC_COUNT_FILE="$work/n" LD_PRELOAD="$work/count.so" "$bin" bench --model "$model" --prompt-tokens 8 \
    --gen-tokens "$1" --repetitions 1 --threads 2 --json > /dev/null
  cat "$work/n"
}
a=$(count 16); b=$(count 144)
echo "malloc calls: $a (16 tokens), $b (144 tokens); per decoded token: $(( (b - a) / 128 ))"
