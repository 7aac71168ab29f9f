// Single-thread cost of decode attention over a paged KV cache, the default model's shape (2 key/value heads of
// 64, 2 query heads each; a 16-position block holds both heads' keys then values), for many sequences at once as
// a batched step reads them: `seqs` caches of `length` positions, one query row each. Compares f32 (per-head
// exact kernel), and f16 / q8_0 through the per-head typed kernel (mk_attend) and the fused grouped kernel
// (mk_attend_heads). Timed by the thread's CPU time. Built and run by attention_bench.sh.
#include "../Sources/CKernels/kernels.c"

#include <stdio.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static size_t row_bytes(uint32_t type, long n) { return type == MK_F32 ? 4 * n : type == MK_F16 ? 2 * n : n / 32 * 34; }

static void quantize_row(uint32_t type, const float *x, uint8_t *out, long n) {
    if (type == MK_F32) { memcpy(out, x, 4 * (size_t)n); return; }
    if (type == MK_F16) { for (long i = 0; i < n; i++) { _Float16 h = (_Float16)x[i]; memcpy(out + 2 * i, &h, 2); } return; }
    for (long b = 0; b < n / 32; b++) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[32 * b + j]));
        float d = amax / 127, id = d ? 1 / d : 0;
        _Float16 h = (_Float16)d;
        memcpy(out + 34 * b, &h, 2);
        for (int j = 0; j < 32; j++) out[34 * b + 2 + j] = (uint8_t)(int8_t)roundf(x[32 * b + j] * id);
    }
}

int main(int argc, char **argv) {
    const long seqs = argc > 1 ? atol(argv[1]) : 32, length = argc > 2 ? atol(argv[2]) : 256;
    const long kv_heads = 2, group = 2, dim = 64, block = 16, blocks = (length + block - 1) / block;
    const uint32_t types[] = {MK_F32, MK_F16, MK_Q8_0};
    const char *names[] = {"f32", "f16", "q8_0"};
    float q[4 * 64], out[4 * 64], scores[2 * 4096];
    uint64_t s = 88172645463325252ull;
    for (int i = 0; i < 4 * 64; i++) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; q[i] = (float)(s % 2001) / 1000.0f - 1; }
    printf("%ld sequences x %ld positions, %ld KV heads of %ld, %ld query heads each (one layer), us of CPU per step\n",
           seqs, length, kv_heads, dim, group);
    for (int ti = 0; ti < 3; ti++) {
        const uint32_t type = types[ti];
        const size_t rb = row_bytes(type, kv_heads * dim), head_bytes = row_bytes(type, dim);
        const size_t block_bytes = (size_t)block * 2 * rb;
        uint8_t *storage = aligned_alloc(64, (size_t)(seqs * blocks) * block_bytes);
        const void **tables = malloc(sizeof(void *) * (size_t)(seqs * blocks));
        float row[128];
        for (long b = 0; b < seqs * blocks; b++) {
            tables[b] = storage + (size_t)b * block_bytes;
            for (long r = 0; r < 2 * block; r++) {
                for (int i = 0; i < 128; i++) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; row[i] = (float)(s % 2001) / 1000.0f - 1; }
                quantize_row(type, row, storage + (size_t)b * block_bytes + (size_t)r * rb, kv_heads * dim);
            }
        }
        for (int fused = 0; fused < (type == MK_F32 ? 1 : 2); fused++) {
            double best = 1e30, check = 0;
            for (int rep = 0; rep < 7; rep++) {
                double t0 = now();
                for (long sq = 0; sq < seqs; sq++) {
                    for (long h = 0; h < kv_heads; h++) {
                        mk_attention a = {tables + sq * blocks, block, type, (long)(h * head_bytes), (long)rb, dim, 0, 0, 0,
                                          (long)(block * rb + h * head_bytes), (long)rb, dim, length, 0.125f, 0, -INFINITY};
                        if (fused) mk_attend_heads(&a, q + h * group * dim, dim, (int)group, NULL, scores, out, dim);
                        else for (long g = 0; g < group; g++)
                            mk_attend(&a, q + (h * group + g) * dim, NULL, scores, out + g * dim);
                        check += out[0];
                    }
                }
                double t = now() - t0;
                if (t < best) best = t;
            }
            printf("%-5s %-9s %8.1f us  (%.1f MiB of cache)  [%g]\n", names[ti], type == MK_F32 ? "exact" : fused ? "fused" : "per-head",
                   best * 1e6, (double)(seqs * blocks) * (double)block_bytes / 1048576.0, check);
        }
        free(storage);
        free(tables);
    }
    return 0;
}
