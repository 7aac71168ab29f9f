// Single-thread throughput of the C kernels (Sources/CKernels) for each weight type, kernel level and number of
// activation rows, weights in cache (1 MiB) and in memory (64 MiB, less for the compute-bound cases), timed by the
// thread's CPU time (other processes on the host shift it by about 1 % instead of tens). Built and
// run by kernels_bench.sh; takes about a minute.
// Includes kernels.c to reach the level-specific entry points without exporting them.
#include "../Sources/CKernels/kernels.c"

#include <stdio.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);  // this thread's CPU time: steady on a shared host
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

// Random quant bytes with small finite f16 scales at the offsets each format keeps them.
static void fill(uint8_t *w, size_t bytes, uint32_t type, size_t block_bytes) {
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < bytes; i++) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; w[i] = (uint8_t)s; }
    if (type == MK_F32) { for (size_t i = 0; i < bytes / 4; i++) ((float *)w)[i] = (float)(i % 13) * 0.01f; return; }
    if (type == MK_F16 || type == MK_BF16) { for (size_t i = 0; i < bytes / 2; i++) ((uint16_t *)w)[i] = 0x2000; return; }
    for (size_t b = 0; b + block_bytes <= bytes; b += block_bytes) {
        size_t at = type == MK_Q6_K ? 208 : 0;
        if (type == MK_MXFP4) { w[b] = 120; continue; }  // an E8M0 exponent byte: 2^-8
        w[b + at] = 0x00; w[b + at + 1] = 0x14;
        if (type == MK_Q4_1 || type == MK_Q5_1 || type == MK_Q4_K || type == MK_Q5_K) { w[b + 2] = 0; w[b + 3] = 0x10; }
    }
}

int main(void) {
    struct { uint32_t type; const char *name; long block; size_t bytes; } types[] = {
        { MK_F32, "F32", 1, 4 }, { MK_F16, "F16", 1, 2 }, { MK_Q8_0, "Q8_0", 32, 34 }, { MK_Q4_0, "Q4_0", 32, 18 },
        { MK_Q5_0, "Q5_0", 32, 22 }, { MK_Q4_K, "Q4_K", 256, 144 }, { MK_Q5_K, "Q5_K", 256, 176 },
        { MK_Q6_K, "Q6_K", 256, 210 }, { MK_IQ4_NL, "IQ4_NL", 32, 18 }, { MK_IQ4_XS, "IQ4_XS", 256, 136 },
        { MK_MXFP4, "MXFP4", 32, 17 },
    };
    const long cols = 2048, ns[] = { 1, 4, 64 };
    int best = mk_isa_supported();
    printf("kernels: best level on this CPU %s; 1 thread; GB/s of weights read (GMAC/s)\n", mk_isa_name(best));
    printf("%-6s %-11s %6s %18s %18s\n", "type", "level", "rows", "in cache", "in memory");
    for (unsigned ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        uint32_t t = types[ti].type;
        size_t row_bytes = (size_t)(cols / types[ti].block) * types[ti].bytes;
        for (int isa = 0; isa <= best; isa++) {
            for (unsigned k = 0; k < 3; k++) {
                long n = ns[k];
                float *x = malloc(sizeof(float) * (size_t)(cols * n));
                for (long i = 0; i < cols * n; i++) x[i] = (float)((i * 7) % 11) - 5.0f;
                size_t stride = mk_activation_row_bytes(t, cols);
                uint8_t *act = malloc(stride * (size_t)n);
                for (long i = 0; i < n; i++) mk_quantize_activations(t, x + i * cols, act + (size_t)i * stride, cols);
                double rate[2], macs[2];
                for (int big = 0; big < 2; big++) {
                    // In memory: 64 MiB of weights for one row, less when the work per byte grows (n rows, or
                    // the portable kernels); those runs are compute-bound anyway.
                    size_t total = big ? ((size_t)64 << 20) / (size_t)n : (size_t)1 << 20;
                    if (n == 64) total = big ? (size_t)4 << 20 : (size_t)256 << 10;
                    if (isa == 0) total /= 8;
                    long rows = (long)(total / row_bytes);
                    uint8_t *w = malloc(row_bytes * (size_t)rows);
                    fill(w, row_bytes * (size_t)rows, t, types[ti].bytes);
                    float *y = malloc(sizeof(float) * (size_t)(rows * n));
                    double fastest = 1e30;
                    for (int rep = 0; rep < (big ? 3 : 5); rep++) {
                        double t0 = now();
                        mk_gemm_rows_isa(isa, t, w, row_bytes, cols, 0, rows, act, stride, n, y, rows);
                        double dt = now() - t0;
                        if (dt < fastest) fastest = dt;
                    }
                    rate[big] = (double)(row_bytes * (size_t)rows) / fastest / 1e9;
                    macs[big] = (double)rows * (double)cols * (double)n / fastest / 1e9;
                    free(w);
                    free(y);
                }
                printf("%-6s %-11s %6ld %8.1f (%6.1f) %8.1f (%6.1f)\n", types[ti].name, mk_isa_name(isa), n, rate[0],
                       macs[0], rate[1], macs[1]);
                free(x);
                free(act);
            }
        }
    }
    return 0;
}
