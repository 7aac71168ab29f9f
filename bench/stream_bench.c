// Decode-like streaming of quantized weights through the real product kernels, against a plain read of the same
// buffer, alternating in one process so that the host's memory bandwidth (which drifts by tens of percent within
// minutes on a shared VM) is the same for both. The weights are `rows` x `cols` matrices of random blocks laid end
// to end in a 1 GiB (or `MiB`) buffer on 2 MiB pages; each step runs a group of 12 of them in one mk_gemm_batch
// dispatch with one activation row, as a decode step runs a token's experts. Prints GB/s of weights for each and the
// ratio, per repetition and on average. Built and run by stream_bench.sh.
// Usage: stream_bench TYPE ROWS COLS [MiB] [THREADS]   (TYPE: ggml type id: 6 Q5_0, 8 Q8_0, 12 Q4_K, 14 Q6_K)
#include "../Sources/CKernels/kernels.c"

#include <stdio.h>
#include <sys/mman.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

struct read_pass { const uint8_t *p; size_t n; double sums[64]; };

static void read_chunk(void *context, long chunk, long lo, long hi) {
    struct read_pass *j = context;
    size_t a = j->n / 1024 * (size_t)lo, b = j->n / 1024 * (size_t)hi;
    typedef uint64_t v4 __attribute__((vector_size(32), aligned(32)));
    const v4 *p = (const v4 *)(j->p + a);
    size_t k = (b - a) / 32;
    v4 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    for (size_t i = 0; i + 4 <= k; i += 4) { s0 += p[i]; s1 += p[i + 1]; s2 += p[i + 2]; s3 += p[i + 3]; }
    v4 s = s0 + s1 + s2 + s3;
    j->sums[chunk % 64] += (double)(s[0] + s[1] + s[2] + s[3]);
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: stream_bench TYPE ROWS COLS [MiB] [THREADS]\n"); return 2; }
    uint32_t type = (uint32_t)atoi(argv[1]);
    long rows = atol(argv[2]), cols = atol(argv[3]);
    size_t block_bytes = type == MK_Q4_K ? 144 : type == MK_Q6_K ? 210 : type == MK_Q8_0 ? 34 : type == MK_Q5_0 ? 22 : 0;
    long block = (type == MK_Q4_K || type == MK_Q6_K) ? 256 : 32;
    if (!block_bytes || cols % block) { fprintf(stderr, "stream_bench: type %u or cols %ld not supported\n", type, cols); return 2; }
    size_t row_bytes = (size_t)(cols / block) * block_bytes, matrix = row_bytes * (size_t)rows;
    size_t total = (argc > 4 ? (size_t)atol(argv[4]) : 1024) << 20;
    const int group = 12;
    long matrices = (long)(total / matrix) / group * group;
    if (matrices < group) { fprintf(stderr, "stream_bench: the buffer holds fewer than %d matrices\n", group); return 2; }
    total = (size_t)matrices * matrix;
    uint8_t *raw = mmap(NULL, total + ((size_t)4 << 20), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) { perror("mmap"); return 1; }
    uint8_t *w = (uint8_t *)(((uintptr_t)raw + ((size_t)2 << 20) - 1) & ~(uintptr_t)(((size_t)2 << 20) - 1));
    madvise(w, total, MADV_HUGEPAGE);
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < total; i++) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; w[i] = (uint8_t)s; }
    for (size_t b = 0; b + block_bytes <= total; b += block_bytes) {  // small finite f16 scales
        size_t at = type == MK_Q6_K ? 208 : 0;
        w[b + at] = 0x00; w[b + at + 1] = 0x14;
        if (type == MK_Q4_K) { w[b + 2] = 0; w[b + 3] = 0x10; }
    }
    int threads = argc > 5 ? atoi(argv[5]) : 2;
    mk_pool *pool = mk_pool_create(threads, 20);
    float *x = malloc(sizeof(float) * (size_t)cols), *y = malloc(sizeof(float) * (size_t)rows * group);
    for (long i = 0; i < cols; i++) x[i] = (float)((i * 7) % 11) - 5.0f;
    mk_matmul items[12];
    const int reps = 8;
    double ratio_sum = 0;
    printf("type %u, %ld x %ld, %zu MiB on 2 MiB pages, %d threads, kernels %s\n", type, rows, cols, total >> 20, threads,
           mk_isa_name(mk_isa()));
    for (int rep = 0; rep < reps; rep++) {
        struct read_pass pass = { w, total, {0} };
        double t0 = now();
        mk_pool_run(pool, 1024, read_chunk, &pass);
        double read_gbs = (double)total / (now() - t0) / 1e9;
        t0 = now();
        for (long m = 0; m < matrices; m += group) {
            for (int g = 0; g < group; g++)
                items[g] = (mk_matmul){ type, w + (size_t)(m + g) * matrix, row_bytes, rows, cols, x, cols, 1,
                                        y + (size_t)g * (size_t)rows, rows, 0, 0 };
            mk_gemm_batch(pool, items, group, 1 << 15);
        }
        double kernel_gbs = (double)total / (now() - t0) / 1e9;
        ratio_sum += kernel_gbs / read_gbs;
        printf("read %5.1f GB/s  kernels %5.1f GB/s  ratio %.2f\n", read_gbs, kernel_gbs, kernel_gbs / read_gbs);
    }
    printf("mean ratio %.3f\n", ratio_sum / reps);
    return 0;
}
