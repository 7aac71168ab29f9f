// Activation quantization, the portable kernels, run-time dispatch and the row driver. The x86-64 SIMD
// kernels live in simd_kernels.h, compiled twice below (AVX2+FMA, AVX-512 VNNI) with target attributes.
#include "CKernels.h"
#include "formats.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

// Whether the decode kernels also prefetch far ahead into L2 (simd_kernels.h, MK_FAR_PREFETCH): on for weights that
// stream from memory, off for a model whose weights a step reads stay in the caches (there the far lines are other
// data, and the default model's two-thread decode measured about 4 % slower with them). A property of the pool a
// product runs on (mk_pool_set_far_prefetch; each model has its own pools), copied into this thread-local by
// mk_gemm_batch on the calling thread and by each worker's share of the job; on by default.
static _Thread_local int mk_far_prefetch_on = 1;

// The run of weight bytes this thread's decode kernels read now, [.., mk_span_end), and the run it reads next,
// [mk_span_next, mk_span_next_end) (0 when not known): set by run_units for each matrix's share of a batch, so
// that the kernels' prefetches (simd_kernels.h, MK_NEXT_ROWS) ask for the next chosen expert's rows instead of the
// bytes past the end of the current one. Unlimited outside a batch (mk_span_end at the top of the address space).
static _Thread_local uintptr_t mk_span_end = UINTPTR_MAX, mk_span_next, mk_span_next_end;

// Where the R-row kernels prefetch the `bytes` bytes at p (the rows after the ones they compute): p itself while
// those lie inside the current run (or straddle its end: at most one group of rows beyond it); past the end, as far
// into the next run when that run holds them. Otherwise p as well: at the end of a batch, and for the far lines of
// the shared counter's short shares, whose next bytes in memory are the units either thread takes next (mapping
// those nowhere would leave a quarter of the rows without far prefetch).
// Once per call, so the prefetches themselves stay one instruction a line.
static inline __attribute__((always_inline)) const uint8_t *mk_span_base(const uint8_t *p, size_t bytes) {
    uintptr_t a = (uintptr_t)p;
    if (a < mk_span_end) return p;
    uintptr_t b = mk_span_next + (a - mk_span_end);
    return mk_span_next && b + bytes <= mk_span_next_end ? (const uint8_t *)b : p;
}

long mk_last_level_cache_bytes(void) {
#ifdef _SC_LEVEL3_CACHE_SIZE
    long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (l3 > 0) return l3;
#endif
    return 32L << 20;
}

// ---- Half floats ---------------------------------------------------------------------------------------

float mk_f16_table[65536];
float mk_e8m0_table[256];

static void init_tables(void) {
    for (int e = 0; e < 256; e++) mk_e8m0_table[e] = mk_e8m0_half((uint8_t)e);
    for (uint32_t h = 0; h < 65536; h++) {
        uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
        if (exp == 0) {
            float f = (float)mant * (1.0f / 16777216.0f);  // subnormal: mant · 2^-24
            memcpy(&bits, &f, 4);
            bits |= sign;
        } else if (exp == 31) {
            bits = sign | 0x7f800000u | (mant << 13);
        } else {
            bits = sign | ((exp + 112) << 23) | (mant << 13);
        }
        memcpy(&mk_f16_table[h], &bits, 4);
    }
}

// ---- Activation quantization ------------------------------------------------------------------------------

#if defined(__x86_64__) && defined(__clang__)
#define MK_HAVE_X86 1
static void quantize_q8a_avx2(const float *x, mk_q8a *out, long blocks);
static void quantize_q8k_avx2(const float *x, mk_q8k *out, long blocks);
#endif

int mk_activation_kind(uint32_t t) {
    switch (t) {
    case MK_F32: case MK_F16: case MK_BF16: return 0;
    case MK_Q8_0: case MK_Q4_0: case MK_Q4_1: case MK_Q5_0: case MK_Q5_1: case MK_IQ4_NL: case MK_MXFP4: return 1;
    case MK_Q2_K: case MK_Q3_K: case MK_Q6_K: case MK_IQ4_XS: return 2;
    case MK_Q4_K: case MK_Q5_K: return 3;  // mk_q8k, paired (formats.h)
    default: return -1;
    }
}

size_t mk_activation_row_bytes(uint32_t t, long cols) {
    switch (mk_activation_kind(t)) {
    case 0: return (size_t)cols * sizeof(float);
    case 1: return (size_t)(cols / 32) * sizeof(mk_q8a);
    case 2: case 3: return (size_t)(cols / 256) * sizeof(mk_q8k);
    default: return 0;
    }
}

// Symmetric 8-bit: d = max|x| / 127, q = round-to-nearest-even(x / d).
static inline float quantize_block(const float *x, int8_t *q, int count) {
    float amax = 0;
    for (int i = 0; i < count; i++) { float a = fabsf(x[i]); amax = a > amax ? a : amax; }
    float d = amax / 127.0f, id = amax > 0 ? 127.0f / amax : 0.0f;
    for (int i = 0; i < count; i++) q[i] = (int8_t)lrintf(x[i] * id);
    return d;
}

void mk_quantize_activations(uint32_t t, const float *x, void *out, long cols) {
    switch (mk_activation_kind(t)) {
    case 0:
        memcpy(out, x, (size_t)cols * sizeof(float));
        break;
    case 1: {
        mk_q8a *blocks = out;
#ifdef MK_HAVE_X86
        if (mk_isa() >= MK_ISA_AVX2) { quantize_q8a_avx2(x, blocks, cols / 32); break; }
#endif
        for (long b = 0; b < cols / 32; b++) {
            mk_q8a *a = &blocks[b];
            a->d = quantize_block(x + 32 * b, a->q, 32);
            int sum = 0;
            for (int i = 0; i < 32; i++) sum += a->q[i];
            a->s = a->d * (float)sum;
        }
        break;
    }
    case 2: case 3: {
        mk_q8k *blocks = out;
        int quantized = 0;
#ifdef MK_HAVE_X86
        if (mk_isa() >= MK_ISA_AVX2) { quantize_q8k_avx2(x, blocks, cols / 256); quantized = 1; }
#endif
        for (long b = 0; !quantized && b < cols / 256; b++) {
            mk_q8k *a = &blocks[b];
            a->d = quantize_block(x + 256 * b, a->q, 256);
            for (int g = 0; g < 16; g++) {
                int sum = 0;
                for (int i = 0; i < 16; i++) sum += a->q[16 * g + i];
                a->bsums[g] = (int16_t)sum;
            }
        }
        if (mk_activation_kind(t) == 3)
            for (long b = 0; b < cols / 256; b++)
                for (int half = 0; half < 256; half += 128) {
                    int8_t run[32], *q = blocks[b].q + half;
                    memcpy(run, q + 32, 32);
                    memcpy(q + 32, q + 64, 32);
                    memcpy(q + 64, run, 32);
                }
        break;
    }
    default:
        break;
    }
}

// ---- Portable kernels: plain C, the reference every SIMD build is tested against ----------------------------

static float dot_f32_portable(const void *w, const void *a, long cols) {
    const float *x = w, *y = a;
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    long i = 0;
    for (; i + 4 <= cols; i += 4) { s0 += x[i] * y[i]; s1 += x[i + 1] * y[i + 1]; s2 += x[i + 2] * y[i + 2]; s3 += x[i + 3] * y[i + 3]; }
    for (; i < cols; i++) s0 += x[i] * y[i];
    return (s0 + s1) + (s2 + s3);
}

static float dot_f16_portable(const void *w, const void *a, long cols) {
    const uint16_t *x = w;
    const float *y = a;
    float s0 = 0, s1 = 0;
    long i = 0;
    for (; i + 2 <= cols; i += 2) { s0 += mk_f16(x[i]) * y[i]; s1 += mk_f16(x[i + 1]) * y[i + 1]; }
    for (; i < cols; i++) s0 += mk_f16(x[i]) * y[i];
    return s0 + s1;
}

static float dot_bf16_portable(const void *w, const void *a, long cols) {
    const uint16_t *x = w;
    const float *y = a;
    float s0 = 0, s1 = 0;
    long i = 0;
    for (; i + 2 <= cols; i += 2) { s0 += mk_bf16(x[i]) * y[i]; s1 += mk_bf16(x[i + 1]) * y[i + 1]; }
    for (; i < cols; i++) s0 += mk_bf16(x[i]) * y[i];
    return s0 + s1;
}

static float dot_q8_0_portable(const void *w, const void *act, long cols) {
    const uint8_t *blk = w;
    const mk_q8a *a = act;
    float sum = 0;
    for (long b = 0; b < cols / 32; b++, blk += 34) {
        const int8_t *q = (const int8_t *)(blk + 2);
        int isum = 0;
        for (int j = 0; j < 32; j++) isum += q[j] * a[b].q[j];
        sum += mk_f16(mk_u16(blk)) * a[b].d * (float)isum;
    }
    return sum;
}

// The 32-element nibble formats: byte j holds element j (low nibble) and j+16 (high nibble); the Q5 formats
// add a fifth bit from a 32-bit little-endian qh. value = d·q − bias·d (q4_0, q5_0) or d·q + m (q4_1, q5_1).
static inline float dot_nibbles_portable(const void *w, const mk_q8a *a, long cols, int bytes, int has_min,
                                         int has_qh, float bias) {
    const uint8_t *blk = w;
    float sum = 0;
    for (long b = 0; b < cols / 32; b++, blk += bytes) {
        float d = mk_f16(mk_u16(blk));
        float m = has_min ? mk_f16(mk_u16(blk + 2)) : 0;
        const uint8_t *qhp = blk + (has_min ? 4 : 2);
        uint32_t qh = has_qh ? (uint32_t)qhp[0] | (uint32_t)qhp[1] << 8 | (uint32_t)qhp[2] << 16 | (uint32_t)qhp[3] << 24 : 0;
        const uint8_t *qs = qhp + (has_qh ? 4 : 0);
        int isum = 0;
        for (int j = 0; j < 16; j++) {
            int lo = (qs[j] & 15) | (int)(((qh >> j) & 1) << 4);
            int hi = (qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            isum += lo * a[b].q[j] + hi * a[b].q[j + 16];
        }
        sum += d * (a[b].d * (float)isum - bias * a[b].s) + m * a[b].s;
    }
    return sum;
}

static float dot_q4_0_portable(const void *w, const void *a, long c) { return dot_nibbles_portable(w, a, c, 18, 0, 0, 8); }
static float dot_q4_1_portable(const void *w, const void *a, long c) { return dot_nibbles_portable(w, a, c, 20, 1, 0, 0); }
static float dot_q5_0_portable(const void *w, const void *a, long c) { return dot_nibbles_portable(w, a, c, 22, 0, 1, 16); }
static float dot_q5_1_portable(const void *w, const void *a, long c) { return dot_nibbles_portable(w, a, c, 24, 1, 1, 0); }

// Q4_K / Q5_K: value = d·scale·q − dmin·min per sub-block of 32.
static inline float dot_scale_min_portable(const void *w, const mk_q8k *a, long cols, int fifth) {
    const uint8_t *blk = w;
    const int bytes = fifth ? 176 : 144;
    float sum = 0;
    for (long b = 0; b < cols / 256; b++, blk += bytes) {
        float d = mk_f16(mk_u16(blk)), dmin = mk_f16(mk_u16(blk + 2));
        uint8_t sc[8], mn[8];
        mk_scale_min_k4(blk + 4, sc, mn);
        const uint8_t *qh = blk + 16, *qs = blk + (fifth ? 48 : 16);
        int sumi = 0, summ = 0;
        for (int g = 0; g < 4; g++) {
            int lo = 0, hi = 0;
            for (int l = 0; l < 32; l++) {
                int ql = qs[32 * g + l] & 15, qu = qs[32 * g + l] >> 4;
                if (fifth) { ql |= ((qh[l] >> (2 * g)) & 1) << 4; qu |= ((qh[l] >> (2 * g + 1)) & 1) << 4; }
                lo += ql * a[b].q[mk_q8k_paired(64 * g + l)];
                hi += qu * a[b].q[mk_q8k_paired(64 * g + 32 + l)];
            }
            sumi += sc[2 * g] * lo + sc[2 * g + 1] * hi;
        }
        for (int s = 0; s < 8; s++) summ += mn[s] * (a[b].bsums[2 * s] + a[b].bsums[2 * s + 1]);
        sum += a[b].d * (d * (float)sumi - dmin * (float)summ);
    }
    return sum;
}

static float dot_q4_K_portable(const void *w, const void *a, long c) { return dot_scale_min_portable(w, a, c, 0); }
static float dot_q5_K_portable(const void *w, const void *a, long c) { return dot_scale_min_portable(w, a, c, 1); }

// Q6_K: value = d·scale·(q − 32), one int8 scale per 16 elements (element e uses scale e/16).
static float dot_q6_K_portable(const void *w, const void *act, long cols) {
    const uint8_t *blk = w;
    const mk_q8k *a = act;
    float sum = 0;
    for (long b = 0; b < cols / 256; b++, blk += 210) {
        const int8_t *sc = (const int8_t *)(blk + 192);
        int isum[16] = {0};
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = blk + 64 * h, *qh = blk + 128 + 32 * h;
            const int8_t *q = a[b].q + 128 * h;
            for (int l = 0; l < 32; l++) {
                int q1 = (ql[l] & 15) | ((qh[l] & 3) << 4);
                int q2 = (ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4);
                int q3 = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
                int q4 = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
                isum[8 * h + l / 16] += q1 * q[l];
                isum[8 * h + 2 + l / 16] += q2 * q[l + 32];
                isum[8 * h + 4 + l / 16] += q3 * q[l + 64];
                isum[8 * h + 6 + l / 16] += q4 * q[l + 96];
            }
        }
        int total = 0;
        for (int s = 0; s < 16; s++) total += sc[s] * (isum[s] - 32 * a[b].bsums[s]);
        sum += a[b].d * mk_f16(mk_u16(blk + 208)) * (float)total;
    }
    return sum;
}

// Q2_K: value = d·(scale & 15)·q − dmin·(scale >> 4) per group of 16, q in 0..3. Element e = 128n + 32j + 16k + l
// takes bits 2j, 2j+1 of qs[32n + 16k + l] and scale byte e / 16 = 8n + 2j + k.
static float dot_q2_K_portable(const void *w, const void *act, long cols) {
    const uint8_t *blk = w;
    const mk_q8k *a = act;
    float sum = 0;
    for (long b = 0; b < cols / 256; b++, blk += 84) {
        const uint8_t *sc = blk, *qs = blk + 16;
        int sumi = 0, summ = 0;
        for (int s = 0; s < 16; s++) {
            int n = s / 8, j = (s % 8) / 2, k = s % 2, isum = 0;
            for (int l = 0; l < 16; l++) isum += ((qs[32 * n + 16 * k + l] >> (2 * j)) & 3) * a[b].q[16 * s + l];
            sumi += (sc[s] & 15) * isum;
            summ += (sc[s] >> 4) * a[b].bsums[s];
        }
        sum += a[b].d * (mk_f16(mk_u16(blk + 80)) * (float)sumi - mk_f16(mk_u16(blk + 82)) * (float)summ);
    }
    return sum;
}

// Q3_K: value = d·(scale − 32)·(q − 4), q in 0..7: two bits as in Q2_K, the third bit 4n + j of hmask[16k + l].
static float dot_q3_K_portable(const void *w, const void *act, long cols) {
    const uint8_t *blk = w;
    const mk_q8k *a = act;
    float sum = 0;
    for (long b = 0; b < cols / 256; b++, blk += 110) {
        const uint8_t *hm = blk, *qs = blk + 32;
        int8_t sc[16];
        mk_q3_k_scales(blk + 96, sc);
        int total = 0;
        for (int s = 0; s < 16; s++) {
            int n = s / 8, j = (s % 8) / 2, k = s % 2, isum = 0;
            for (int l = 0; l < 16; l++) {
                int q = ((qs[32 * n + 16 * k + l] >> (2 * j)) & 3) | (((hm[16 * k + l] >> (4 * n + j)) & 1) << 2);
                isum += q * a[b].q[16 * s + l];
            }
            total += sc[s] * (isum - 4 * a[b].bsums[s]);
        }
        sum += a[b].d * mk_f16(mk_u16(blk + 108)) * (float)total;
    }
    return sum;
}

// IQ4_NL and MXFP4: value = scale·table[q], nibbles as in Q4_0 (byte j: elements j and j + 16).
static inline float dot_table32_portable(const void *w, const mk_q8a *a, long cols, int mxfp4) {
    const uint8_t *blk = w;
    const int bytes = mxfp4 ? 17 : 18;
    const int8_t *table = mxfp4 ? mk_mxfp4_values : mk_iq4nl_values;
    float sum = 0;
    for (long b = 0; b < cols / 32; b++, blk += bytes) {
        float d = mxfp4 ? mk_e8m0_half(blk[0]) : mk_f16(mk_u16(blk));
        const uint8_t *qs = blk + (mxfp4 ? 1 : 2);
        int isum = 0;
        for (int j = 0; j < 16; j++) isum += table[qs[j] & 15] * a[b].q[j] + table[qs[j] >> 4] * a[b].q[j + 16];
        sum += d * a[b].d * (float)isum;
    }
    return sum;
}

static float dot_iq4_nl_portable(const void *w, const void *a, long c) { return dot_table32_portable(w, a, c, 0); }
static float dot_mxfp4_portable(const void *w, const void *a, long c) { return dot_table32_portable(w, a, c, 1); }

// IQ4_XS: value = d·(scale − 32)·kvalues_iq4nl[q] per sub-block of 32 (16 nibble bytes each, laid out as IQ4_NL's).
static float dot_iq4_xs_portable(const void *w, const void *act, long cols) {
    const uint8_t *blk = w;
    const mk_q8k *a = act;
    float sum = 0;
    for (long b = 0; b < cols / 256; b++, blk += 136) {
        int sc[8];
        mk_iq4_xs_scales(blk, sc);
        int total = 0;
        for (int i = 0; i < 8; i++) {
            const uint8_t *qs = blk + 8 + 16 * i;
            const int8_t *q = a[b].q + 32 * i;
            int isum = 0;
            for (int j = 0; j < 16; j++) isum += mk_iq4nl_values[qs[j] & 15] * q[j] + mk_iq4nl_values[qs[j] >> 4] * q[j + 16];
            total += sc[i] * isum;
        }
        sum += a[b].d * mk_f16(mk_u16(blk)) * (float)total;
    }
    return sum;
}

// ---- SIMD builds --------------------------------------------------------------------------------------------

#ifdef MK_HAVE_X86
#define MK_SUFFIX(name) name##_avx2
#define MK_VNNI 0
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#include "simd_kernels.h"
#pragma clang attribute pop
#undef MK_SUFFIX
#undef MK_VNNI

#define MK_SUFFIX(name) name##_vnni
#define MK_VNNI 1
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"))), apply_to = function)
#include "simd_kernels.h"
#pragma clang attribute pop
#undef MK_SUFFIX
#undef MK_VNNI
#endif

// ---- Dispatch -----------------------------------------------------------------------------------------------

typedef float (*dot_fn)(const void *w, const void *a, long cols);

static dot_fn kernel(int isa, uint32_t t) {
#ifdef MK_HAVE_X86
    if (isa >= MK_ISA_AVX512VNNI) {
        switch (t) {
        case MK_F32: return dot_f32_vnni;
        case MK_F16: return dot_f16_vnni;
        case MK_BF16: return dot_bf16_vnni;
        case MK_Q8_0: return dot_q8_0_512_vnni;
        case MK_Q4_0: return dot_q4_0_512_vnni;
        case MK_Q4_1: return dot_q4_1_vnni;
        case MK_Q5_0: return dot_q5_0_512_vnni;
        case MK_Q5_1: return dot_q5_1_vnni;
        case MK_Q4_K: return dot_q4_K_512_vnni;
        case MK_Q5_K: return dot_q5_K_512_vnni;
        case MK_Q6_K: return dot_q6_K_512_vnni;
        case MK_Q2_K: return dot_q2_K_vnni;
        case MK_Q3_K: return dot_q3_K_vnni;
        case MK_IQ4_NL: return dot_iq4_nl_512_vnni;
        case MK_IQ4_XS: return dot_iq4_xs_vnni;
        case MK_MXFP4: return dot_mxfp4_512_vnni;
        }
    }
    if (isa >= MK_ISA_AVX2) {
        switch (t) {
        case MK_F32: return dot_f32_avx2;
        case MK_F16: return dot_f16_avx2;
        case MK_BF16: return dot_bf16_avx2;
        case MK_Q8_0: return dot_q8_0_avx2;
        case MK_Q4_0: return dot_q4_0_avx2;
        case MK_Q4_1: return dot_q4_1_avx2;
        case MK_Q5_0: return dot_q5_0_avx2;
        case MK_Q5_1: return dot_q5_1_avx2;
        case MK_Q4_K: return dot_q4_K_avx2;
        case MK_Q5_K: return dot_q5_K_avx2;
        case MK_Q6_K: return dot_q6_K_avx2;
        case MK_Q2_K: return dot_q2_K_avx2;
        case MK_Q3_K: return dot_q3_K_avx2;
        case MK_IQ4_NL: return dot_iq4_nl_avx2;
        case MK_IQ4_XS: return dot_iq4_xs_avx2;
        case MK_MXFP4: return dot_mxfp4_avx2;
        }
    }
#else
    (void)isa;
#endif
    switch (t) {
    case MK_F32: return dot_f32_portable;
    case MK_F16: return dot_f16_portable;
    case MK_BF16: return dot_bf16_portable;
    case MK_Q8_0: return dot_q8_0_portable;
    case MK_Q4_0: return dot_q4_0_portable;
    case MK_Q4_1: return dot_q4_1_portable;
    case MK_Q5_0: return dot_q5_0_portable;
    case MK_Q5_1: return dot_q5_1_portable;
    case MK_Q4_K: return dot_q4_K_portable;
    case MK_Q5_K: return dot_q5_K_portable;
    case MK_Q6_K: return dot_q6_K_portable;
    case MK_Q2_K: return dot_q2_K_portable;
    case MK_Q3_K: return dot_q3_K_portable;
    case MK_IQ4_NL: return dot_iq4_nl_portable;
    case MK_IQ4_XS: return dot_iq4_xs_portable;
    case MK_MXFP4: return dot_mxfp4_portable;
    default: return 0;
    }
}

static int supported_level;
static int current_level;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init_once(void) {
    init_tables();
    int level = MK_ISA_PORTABLE;
#ifdef MK_HAVE_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) level = MK_ISA_AVX2;
    if (level == MK_ISA_AVX2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("avx512vnni")) level = MK_ISA_AVX512VNNI;
#endif
    supported_level = level;
    current_level = level;
    const char *forced = getenv("MOECODER_KERNELS");
    if (forced) {
        if (!strcmp(forced, "portable")) current_level = MK_ISA_PORTABLE;
        else if (!strcmp(forced, "avx2") && level >= MK_ISA_AVX2) current_level = MK_ISA_AVX2;
        else if (!strcmp(forced, "avx512") || !strcmp(forced, "avx512vnni")) current_level = level;
    }
}

int mk_isa_supported(void) { pthread_once(&once, init_once); return supported_level; }
int mk_isa(void) { pthread_once(&once, init_once); return __atomic_load_n(&current_level, __ATOMIC_RELAXED); }

int mk_set_isa(int isa) {
    pthread_once(&once, init_once);
    if (isa < 0) isa = 0;
    if (isa > supported_level) isa = supported_level;
    __atomic_store_n(&current_level, isa, __ATOMIC_RELAXED);
    return isa;
}

const char *mk_isa_name(int isa) {
    switch (isa) {
    case MK_ISA_AVX2: return "avx2";
    case MK_ISA_AVX512VNNI: return "avx512vnni";
    default: return "portable";
    }
}

const float *mk_f16_lookup(void) { pthread_once(&once, init_once); return mk_f16_table; }

// ---- SwiGLU ---------------------------------------------------------------------------------------------------

void mk_silu_mul(float *gate, const float *up, long count) {
#ifdef MK_HAVE_X86
    if (mk_isa() >= MK_ISA_AVX2) { silu_mul_avx2(gate, up, count); return; }
#endif
    for (long i = 0; i < count; i++) gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

// ---- Attention ----------------------------------------------------------------------------------------------

// The address of row r's part at `offset` in a block (offsets and strides in bytes).
#define MK_ROW(block, offset, stride, r) ((const uint8_t *)(block) + (offset) + (r) * (stride))

static void axpy_row_portable(uint32_t type, float w, const void *x, float *y, long count) {
    switch (type) {
    case MK_F16: { const uint16_t *h = x; for (long i = 0; i < count; i++) y[i] += w * mk_f16(h[i]); break; }
    case MK_Q8_0: {
        const uint8_t *blk = x;
        for (long b = 0; b < count / 32; b++, blk += 34) {
            float d = w * mk_f16(mk_u16(blk));
            const int8_t *q = (const int8_t *)(blk + 2);
            for (int j = 0; j < 32; j++) y[32 * b + j] += d * (float)q[j];
        }
        break;
    }
    default: { const float *f = x; for (long i = 0; i < count; i++) y[i] += w * f[i]; break; }
    }
}

void mk_axpy_row(uint32_t type, float a, const void *x, float *y, long count) {
#ifdef MK_HAVE_X86
    if (mk_isa() >= MK_ISA_AVX2) { axpy_row_avx2(type, a, x, y, count); return; }
#endif
    axpy_row_portable(type, a, x, y, count);
}

static float dot_q8f_portable(const void *w, const void *a, long cols) {
    const uint8_t *blk = w;
    const float *y = a;
    float sum = 0;
    for (long b = 0; b < cols / 32; b++, blk += 34) {
        const int8_t *q = (const int8_t *)(blk + 2);
        float s = 0;
        for (int j = 0; j < 32; j++) s += (float)q[j] * y[32 * b + j];
        sum += mk_f16(mk_u16(blk)) * s;
    }
    return sum;
}

// Any row type against a float query: f16 rows through the weight kernel, q8_0 rows dequantized on the fly
// (the query stays in float: only the stored keys are rounded).
static void attend_typed(int isa, const mk_attention *a, const float *q, const float *q2, float *scores, float *out) {
    dot_fn dot = a->type == MK_Q8_0 ? dot_q8f_portable : kernel(isa, a->type);
#ifdef MK_HAVE_X86
    if (a->type == MK_Q8_0 && isa >= MK_ISA_AVX2) dot = dot_q8f_avx2;
#endif
    const void *x = q, *x2 = q2;
    int second = q2 && a->key2_length;
    const long b0 = a->first / a->block_size;
    for (long p0 = b0 * a->block_size, b = b0; p0 < a->length; p0 += a->block_size, b++) {
        const void *block = a->blocks[b];
        long rows = a->length - p0 < a->block_size ? a->length - p0 : a->block_size;
        for (long r = p0 < a->first ? a->first - p0 : 0; r < rows; r++) {
            float s = dot(MK_ROW(block, a->key_offset, a->key_stride, r), x, a->key_length);
            if (second) s += dot(MK_ROW(block, a->key2_offset, a->key2_stride, r), x2, a->key2_length);
            scores[p0 + r] = s;
        }
    }
    mk_softmax_sink(scores + a->first, a->length - a->first, a->scale, a->sink);
    for (long i = 0; i < a->value_length; i++) out[i] = 0;
    for (long p0 = b0 * a->block_size, b = b0; p0 < a->length; p0 += a->block_size, b++) {
        const void *block = a->blocks[b];
        long rows = a->length - p0 < a->block_size ? a->length - p0 : a->block_size;
        for (long r = p0 < a->first ? a->first - p0 : 0; r < rows; r++)
            mk_axpy_row(a->type, scores[p0 + r], MK_ROW(block, a->value_offset, a->value_stride, r), out, a->value_length);
    }
}

void mk_softmax_scaled(float *s, long n, float scale) {
    if (n <= 0) return;
#ifdef MK_HAVE_X86
    if (mk_isa() >= MK_ISA_AVX2) { softmax_avx2(s, n, scale); return; }
#endif
    for (long p = 0; p < n; p++) s[p] *= scale;
    mk_softmax(s, n);
}

void mk_softmax_sink(float *s, long n, float scale, float sink) {
    if (n <= 0) return;
    if (!(sink > -INFINITY)) { mk_softmax_scaled(s, n, scale); return; }
    float top = sink;
    for (long p = 0; p < n; p++) { s[p] *= scale; if (s[p] > top) top = s[p]; }
    float total = expf(sink - top);
    for (long p = 0; p < n; p++) { s[p] = expf(s[p] - top); total += s[p]; }
    const float inv = 1.0f / total;
    for (long p = 0; p < n; p++) s[p] *= inv;
}

long mk_fetch_add(long *counter, long value) { return __atomic_fetch_add(counter, value, __ATOMIC_RELAXED); }

void mk_attend(const mk_attention *a, const float *q, const float *q2, float *scores, float *out) {
    if (a->length <= 0) return;
    int isa = mk_isa();
#ifdef MK_HAVE_X86
    if (a->first >= a->length) { for (long i = 0; i < a->value_length; i++) out[i] = 0; return; }
    if (isa >= MK_ISA_AVX2 && a->type == MK_F32) { attend_avx2(a, q, q2, scores, out); return; }
#endif
    attend_typed(isa, a, q, q2, scores, out);
}

void mk_attend_heads(const mk_attention *a, const float *q, long q_stride, int heads, const float *sinks, float *scores,
                     float *out, long out_stride) {
    if (a->length <= 0 || heads <= 0) return;
#ifdef MK_HAVE_X86
    int isa = mk_isa();
    if (isa >= MK_ISA_AVX2 && (a->type == MK_F16 || a->type == MK_Q8_0) && a->key2_length == 0
        && a->key_length % 8 == 0 && a->value_length % 8 == 0 && a->first < a->length) {
        if (isa >= MK_ISA_AVX512VNNI) attend_heads_vnni(a, q, q_stride, heads, sinks, scores, out, out_stride);
        else attend_heads_avx2(a, q, q_stride, heads, sinks, scores, out, out_stride);
        return;
    }
#endif
    mk_attention one = *a;
    for (int h = 0; h < heads; h++) {
        if (sinks) one.sink = sinks[h];
        mk_attend(&one, q + h * q_stride, NULL, scores, out + h * out_stride);
    }
}

uint16_t mk_to_half(float f);  // quantize.c

void mk_quantize_q8_0(const float *x, void *out, long count) {
#ifdef MK_HAVE_X86
    if (mk_isa() >= MK_ISA_AVX2) { quantize_q8_0_row_avx2(x, out, count); return; }
#endif
    uint8_t *blk = out;
    for (long b = 0; b < count / 32; b++, x += 32, blk += 34) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
        const float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
        const uint16_t h = mk_to_half(d);
        memcpy(blk, &h, 2);
        for (int j = 0; j < 32; j++) blk[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
    }
}

void mk_gather_rows(const void *const *blocks, long block_size, uint32_t type, long offset, long stride, long width,
                    long length, float *dst) {
    for (long p0 = 0, b = 0; p0 < length; p0 += block_size, b++) {
        long rows = length - p0 < block_size ? length - p0 : block_size;
        for (long r = 0; r < rows; r++) {
            const void *row = MK_ROW(blocks[b], offset, stride, r);
            float *y = dst + (p0 + r) * width;
            if (type == MK_F32) { memcpy(y, row, sizeof(float) * (size_t)width); continue; }
            for (long i = 0; i < width; i++) y[i] = 0;
            mk_axpy_row(type, 1.0f, row, y, width);
        }
    }
}

// ---- Row driver ---------------------------------------------------------------------------------------------

// Activation rows are taken in tiles that stay in L2 while the weight rows stream past them once.
#define MK_TILE_BYTES (256 * 1024)

typedef void (*dot4_fn)(const void *w, const uint8_t *act, size_t stride, long cols, float *out, long out_stride);

// Kernels that take four activation rows at once (NULL: one at a time).
static dot4_fn kernel4(int isa, uint32_t t) {
#ifdef MK_HAVE_X86
    if (isa >= MK_ISA_AVX512VNNI) {
        switch (t) {
        case MK_Q4_K: return dot4_q4_K_vnni;
        case MK_Q5_K: return dot4_q5_K_vnni;
        case MK_Q8_0: return dot4_q8_0_vnni;
        case MK_Q4_0: return dot4_q4_0_vnni;
        case MK_Q5_0: return dot4_q5_0_vnni;
        case MK_Q6_K: return dot4_q6_K_vnni;
        case MK_Q2_K: return dot4_q2_K_vnni;
        case MK_Q3_K: return dot4_q3_K_vnni;
        case MK_IQ4_NL: return dot4_iq4_nl_vnni;
        case MK_IQ4_XS: return dot4_iq4_xs_vnni;
        case MK_MXFP4: return dot4_mxfp4_vnni;
        }
    }
    if (isa >= MK_ISA_AVX2) {
        switch (t) {
        case MK_Q2_K: return dot4_q2_K_avx2;
        case MK_Q3_K: return dot4_q3_K_avx2;
        case MK_IQ4_NL: return dot4_iq4_nl_avx2;
        case MK_IQ4_XS: return dot4_iq4_xs_avx2;
        case MK_MXFP4: return dot4_mxfp4_avx2;
        }
    }
#else
    (void)isa; (void)t;
#endif
    return 0;
}

typedef void (*dot4x4_fn)(const void *w, size_t row_bytes, const uint8_t *act, size_t stride, long cols, float *out,
                          long out_stride);

// Kernels that take four weight rows and four activation rows at once (NULL: none for this type and level), for
// n ≥ 4 activation rows. IQ4_NL and MXFP4 take them from 8 rows on: at 4 rows, with the weights streamed from
// memory, four activation rows at a time against one weight row measured faster (MXFP4 2880 × 2880 × 32 experts,
// one thread: 38-40 vs 34-37 Gmac/s; in L2 the tiles won, 55 vs 44); at 8 rows the tiles win in both (42 vs 37).
static dot4x4_fn kernel4x4(int isa, uint32_t t, long cols, long n) {
#ifdef MK_HAVE_X86
    if (isa >= MK_ISA_AVX512VNNI && cols % 64 == 0) {
        switch (t) {
        case MK_Q8_0: return dot4x4_q8_0_vnni;
        case MK_Q4_0: return dot4x4_q4_0_vnni;
        case MK_Q5_0: return dot4x4_q5_0_vnni;
        case MK_IQ4_NL: return n >= 8 ? dot4x4_iq4_nl_vnni : 0;
        case MK_MXFP4: return n >= 8 ? dot4x4_mxfp4_vnni : 0;
        }
    }
#else
    (void)isa; (void)t; (void)cols; (void)n;
#endif
    return 0;
}

typedef void (*dotr4_fn)(const void *w, size_t row_bytes, const void *act, long cols, float *out);

// Kernels that take four weight rows against one activation row (NULL: none for this type and level), for n < 4:
// the activations are loaded once for four rows and the next four rows are prefetched, which the hardware
// prefetcher alone does poorly for rows of a few blocks (one thread, Q4_K rows of 2048: 19-20 GB/s against 13-14
// row by row; two threads 23.8 against 15.8 GB/s). Each row's result is bit for bit the single-row kernel's.
// Q8_0 joined once its rows became unsigned bytes with a shared offset (one xor a row): in L2 39 against 31.5 GB/s
// for single rows, and DeepSeek-V2-Lite-shape decode (Q8_0 expert down projections) 13.8-14.1 against 12.9-13.1
// tokens/s, alternating on the idle machine (with the sign-moving form four rows measured up to 20 % slower).
// Not for Q6_K at the AVX2 level (10-15 % slower there).
static dotr4_fn kernelR4(int isa, uint32_t t) {
#ifdef MK_HAVE_X86
    if (isa >= MK_ISA_AVX512VNNI) {
        switch (t) {
        case MK_Q4_K: return dotr4_q4_K_vnni;
        case MK_Q5_K: return dotr4_q5_K_vnni;
        case MK_Q6_K: return dotr4_q6_K_vnni;
        case MK_Q8_0: return dotr4_q8_0_vnni;
        case MK_Q4_0: return dotr4_q4_0_vnni;
        case MK_Q5_0: return dotr4_q5_0_vnni;
        case MK_IQ4_NL: return dotr4_iq4_nl_vnni;
        case MK_MXFP4: return dotr4_mxfp4_vnni;
        case MK_Q2_K: return dotr4_q2_K_vnni;
        case MK_Q3_K: return dotr4_q3_K_vnni;
        case MK_IQ4_XS: return dotr4_iq4_xs_vnni;
        }
    }
    if (isa >= MK_ISA_AVX2) {
        switch (t) {
        case MK_Q4_K: return dotr4_q4_K_256_avx2;
        case MK_Q5_K: return dotr4_q5_K_256_avx2;
        case MK_Q4_0: return dotr4_q4_0_256_avx2;
        case MK_Q5_0: return dotr4_q5_0_256_avx2;
        case MK_Q2_K: return dotr4_q2_K_avx2;
        case MK_Q3_K: return dotr4_q3_K_avx2;
        case MK_IQ4_XS: return dotr4_iq4_xs_avx2;
        }
    }
#else
    (void)isa; (void)t;
#endif
    return 0;
}

// ---- Activation panels (many rows) ------------------------------------------------------------------------

// The weight formats the panel kernels take (0 Q8_0, 1 Q4_0, 2 Q5_0, 3 IQ4_NL, 4 MXFP4), -1 others, and the
// offset their unpacked weights carry.
static int panel_kind(uint32_t t) {
    switch (t) {
    case MK_Q8_0: return 0;
    case MK_Q4_0: return 1;
    case MK_Q5_0: return 2;
    case MK_IQ4_NL: return 3;
    case MK_MXFP4: return 4;
    default: return -1;
    }
}
static int panel_bias(int kind) { return kind == 1 ? 8 : kind == 2 ? 16 : 128; }

// From this many activation rows on, the panel kernels run (VNNI level, the formats above): Q8_0 256 × 256, one
// thread, 5 rows 46 against 42 GMAC/s with the 4×4 tiles and a row of single dots, 6 rows 59 against 38, 7 rows 64
// against 35; 4 rows 38 against 47 (whole tiles), 2-3 rows (four-row dots) about even.
#define MK_PANEL_MIN_ROWS 5

static int use_panels(int isa, uint32_t t, long n) {
#ifdef MK_HAVE_X86
    return isa >= MK_ISA_AVX512VNNI && n >= MK_PANEL_MIN_ROWS && panel_kind(t) >= 0;
#else
    (void)isa; (void)t; (void)n;
    return 0;
#endif
}

static size_t panel_bytes(long n, long cols) {
    return (size_t)((n + MK_PANEL_ROWS - 1) / MK_PANEL_ROWS) * (size_t)(cols / 32) * MK_PANEL_BLOCK_BYTES;
}

// Packs n activation rows (mk_q8a blocks, act_stride bytes apart) into panels (formats.h) for weights of `kind`;
// rows past n in the last panel are zero (they add nothing and are not stored).
static void pack_panels(const uint8_t *act, size_t act_stride, long n, long cols, int kind, uint8_t *out) {
    const long nb = cols / 32, panels = (n + MK_PANEL_ROWS - 1) / MK_PANEL_ROWS;
    const int bias = panel_bias(kind);
    for (long p = 0; p < panels; p++) {
        for (long b = 0; b < nb; b++) {
            uint8_t *blk = out + ((size_t)p * (size_t)nb + (size_t)b) * MK_PANEL_BLOCK_BYTES;
            int32_t corr[MK_PANEL_ROWS];
            float d[MK_PANEL_ROWS];
            for (int t = 0; t < MK_PANEL_ROWS; t++) {
                long row = p * MK_PANEL_ROWS + t;
                if (row >= n) {
                    for (int k = 0; k < 8; k++) memset(blk + 4 * MK_PANEL_ROWS * k + 4 * t, 0, 4);
                    corr[t] = 0;
                    d[t] = 0;
                    continue;
                }
                const mk_q8a *a = (const mk_q8a *)(act + (size_t)row * act_stride) + b;
                int sum = 0;
                for (int i = 0; i < 32; i++) sum += a->q[i];
                for (int k = 0; k < 8; k++) memcpy(blk + 4 * MK_PANEL_ROWS * k + 4 * t, a->q + 4 * k, 4);
                corr[t] = -bias * sum;
                d[t] = a->d;
            }
            memcpy(blk + 32 * MK_PANEL_ROWS, corr, sizeof corr);
            memcpy(blk + 36 * MK_PANEL_ROWS, d, sizeof d);
        }
    }
}

// Grows a thread-local buffer (64-byte aligned, half again what is asked) to at least `bytes`.
static void *grow_scratch(void **buffer, size_t *capacity, size_t bytes) {
    if (bytes > *capacity) {
        free(*buffer);
        size_t grown = bytes < 4096 ? 4096 : bytes + bytes / 2;
        *buffer = aligned_alloc(64, (grown + 63) & ~(size_t)63);
        *capacity = *buffer ? grown : 0;
    }
    return *buffer;
}

// A second thread-local buffer (the panel kernels' unpacked weights; packed activations of direct calls).
static _Thread_local void *panel_buffer;
static _Thread_local size_t panel_capacity;

static void *panel_scratch(size_t bytes) { return grow_scratch(&panel_buffer, &panel_capacity, bytes); }

// Weight rows [r0, r1) against n packed activation rows, the panels taken a tile that stays in L2 at a time.
static void gemm_rows_panels(uint32_t t, const void *w, size_t row_bytes, long cols, long r0, long r1,
                             const uint8_t *panels, long n, float *y, long ldy, uint8_t *scratch) {
#ifdef MK_HAVE_X86
    const long panel_count = (n + MK_PANEL_ROWS - 1) / MK_PANEL_ROWS;
    const size_t one = (size_t)(cols / 32) * MK_PANEL_BLOCK_BYTES;
    long tile = (long)(MK_TILE_BYTES / one);
    tile = tile < 4 ? 4 : tile / 4 * 4;
    for (long p = 0; p < panel_count; p += tile) {
        long count = panel_count - p < tile ? panel_count - p : tile;
        gemm_panels_vnni(w, row_bytes, cols, r0, r1, panel_kind(t), panels, p, count, n, y, ldy, scratch);
    }
#else
    (void)t; (void)w; (void)row_bytes; (void)cols; (void)r0; (void)r1; (void)panels; (void)n; (void)y; (void)ldy; (void)scratch;
#endif
}

static size_t unpack_bytes(long cols) { return 4 * (size_t)(cols / 32) * (32 + sizeof(float)); }

static void gemm_rows(int isa, uint32_t t, const void *w, size_t row_bytes, long cols, long r0, long r1,
                      const void *act, size_t act_stride, long n, float *y, long ldy, const uint8_t *panels);

void mk_gemm_rows_isa(int isa, uint32_t t, const void *w, size_t row_bytes, long cols, long r0, long r1,
                      const void *act, size_t act_stride, long n, float *y, long ldy) {
    pthread_once(&once, init_once);
    gemm_rows(isa, t, w, row_bytes, cols, r0, r1, act, act_stride, n, y, ldy, NULL);
}

// `panels`: the activations already packed (mk_gemm_batch), or NULL (packed here when the panel kernels run).
static void gemm_rows(int isa, uint32_t t, const void *w, size_t row_bytes, long cols, long r0, long r1,
                      const void *act, size_t act_stride, long n, float *y, long ldy, const uint8_t *panels) {
    if (use_panels(isa, t, n)) {
        if (panels) {
            gemm_rows_panels(t, w, row_bytes, cols, r0, r1, panels, n, y, ldy, panel_scratch(unpack_bytes(cols)));
            return;
        }
        size_t packed = (panel_bytes(n, cols) + 63) & ~(size_t)63;
        uint8_t *buffer = panel_scratch(packed + unpack_bytes(cols));
        pack_panels(act, act_stride, n, cols, panel_kind(t), buffer);
        gemm_rows_panels(t, w, row_bytes, cols, r0, r1, buffer, n, y, ldy, buffer + packed);
        return;
    }
    dot_fn dot = kernel(isa, t);
    if (!dot) return;
    dot4_fn dot4 = n >= 4 ? kernel4(isa, t) : 0;
    dot4x4_fn dot4x4 = n >= 4 ? kernel4x4(isa, t, cols, n) : 0;
    dotr4_fn dotr4 = n < 4 ? kernelR4(isa, t) : 0;
    long tile = act_stride > 0 ? (long)(MK_TILE_BYTES / act_stride) : n;
    if (tile < 1) tile = 1;
    for (long t0 = 0; t0 < n; t0 += tile) {
        long t1 = t0 + tile < n ? t0 + tile : n;
        long r = r0;
        if (dot4x4) {
            // Four weight rows by four activation rows at a time; activation rows beyond a multiple of four take
            // single dots, and weight rows beyond a multiple of four the loop below.
            long k4 = t0 + (t1 - t0) / 4 * 4;
            for (; r + 4 <= r1; r += 4) {
                const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
                for (long k = t0; k < k4; k += 4)
                    dot4x4(row, row_bytes, (const uint8_t *)act + (size_t)k * act_stride, act_stride, cols, y + k * ldy + r, ldy);
                for (long k = k4; k < t1; k++)
                    for (long j = 0; j < 4; j++)
                        y[k * ldy + r + j] = dot(row + (size_t)j * row_bytes, (const uint8_t *)act + (size_t)k * act_stride, cols);
            }
        }
        if (dotr4)
            for (; r + 4 <= r1; r += 4)
                for (long k = t0; k < t1; k++)
                    dotr4((const uint8_t *)w + (size_t)r * row_bytes, row_bytes, (const uint8_t *)act + (size_t)k * act_stride, cols, y + k * ldy + r);
        for (; r < r1; r++) {
            const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
            long k = t0;
            if (dot4)
                for (; k + 4 <= t1; k += 4) dot4(row, (const uint8_t *)act + (size_t)k * act_stride, act_stride, cols, y + k * ldy + r, ldy);
            for (; k < t1; k++) y[k * ldy + r] = dot(row, (const uint8_t *)act + (size_t)k * act_stride, cols);
        }
    }
}

void mk_gemm_rows(uint32_t t, const void *w, size_t row_bytes, long cols, long r0, long r1,
                  const void *act, size_t act_stride, long n, float *y, long ldy) {
    mk_gemm_rows_isa(mk_isa(), t, w, row_bytes, cols, r0, r1, act, act_stride, n, y, ldy);
}

// ---- Thread-local scratch -----------------------------------------------------------------------------------

static _Thread_local void *scratch_buffer;
static _Thread_local size_t scratch_capacity;

void *mk_thread_scratch(size_t bytes) { return grow_scratch(&scratch_buffer, &scratch_capacity, bytes); }

// ---- Whole products: quantize the activations once, split the weight rows over the pool -------------------

void mk_gemm(mk_pool *pool, uint32_t type, const void *w, size_t row_bytes, long rows, long cols,
             const float *x, long n, float *y, long parallel_threshold) {
    if (rows <= 0 || n <= 0 || mk_activation_kind(type) < 0) return;
    mk_matmul m = { type, w, row_bytes, rows, cols, x, cols, n, y, rows, 0, 0 };
    mk_gemm_batch(pool, &m, 1, parallel_threshold);
}

// ---- Several products in one dispatch ----------------------------------------------------------------------
// A decode step is a chain of small products; most come in groups that share nothing but the wait (q, k and v;
// the experts a token picked; the shared expert beside the router). One dispatch runs a whole group: the
// weight rows of all of them are laid end to end, weighted by their bytes, and cut into one range per thread.

struct batch_job {
    int isa;
    mk_matmul *items;
    int count;
    const long *first;      // first[i]: index of item i's first unit; first[count]: all units
    const long *unit_rows;  // rows per unit of item i
    const uint8_t *const *panels;  // panels[i]: item i's activations packed for the panel kernels, or NULL
    long shared_from;       // units from here on are taken from `next` by whichever thread is free
    int threads;
    int far_prefetch;       // the pool's far-prefetch setting, for the workers' threads
    _Atomic long next;
};

// The first run of weight bytes of units [u0, u1): item *item's rows, [*start, *end). 0 when the range is empty.
static int first_span(const struct batch_job *j, long u0, long u1, int from, int *item, uintptr_t *start, uintptr_t *end) {
    for (int i = from; i < j->count && u0 < u1; i++) {
        long a = j->first[i] > u0 ? j->first[i] : u0, b = j->first[i + 1] < u1 ? j->first[i + 1] : u1;
        if (a >= b) continue;
        const mk_matmul *m = &j->items[i];
        long r0 = (a - j->first[i]) * j->unit_rows[i], r1 = (b - j->first[i]) * j->unit_rows[i];
        if (r1 > m->rows) r1 = m->rows;
        *item = i;
        *start = (uintptr_t)m->w + (uintptr_t)r0 * m->row_bytes;
        *end = (uintptr_t)m->w + (uintptr_t)r1 * m->row_bytes;
        return 1;
    }
    return 0;
}

// Runs units [u0, u1) of the combined order; units [then0, then1) are the ones this thread runs next (then0 ≥
// then1 when none), where the prefetches go past the last run of rows (mk_span_base).
static void run_units(const struct batch_job *j, long u0, long u1, long then0, long then1) {
    int i = 0;
    uintptr_t start, end;
    if (!first_span(j, u0, u1, 0, &i, &start, &end)) return;
    for (;;) {
        const mk_matmul *m = &j->items[i];
        long r0 = (long)((start - (uintptr_t)m->w) / m->row_bytes), r1 = (long)((end - (uintptr_t)m->w) / m->row_bytes);
        int next = i;
        uintptr_t next_start = 0, next_end = 0;
        int more = first_span(j, u0, u1, i + 1, &next, &next_start, &next_end);
        int ignored;
        if (!more && !first_span(j, then0, then1, 0, &ignored, &next_start, &next_end)) next_start = next_end = 0;
        mk_span_end = end;
        mk_span_next = next_start;
        mk_span_next_end = next_end;
        gemm_rows(j->isa, m->type, m->w, m->row_bytes, m->cols, r0, r1, m->act, m->act_stride, m->n, m->y, m->ldy,
                  j->panels[i]);
        if (!more) break;
        i = next;
        start = next_start;
        end = next_end;
    }
    mk_span_end = UINTPTR_MAX;
    mk_span_next = mk_span_next_end = 0;
}

// The weight rows of all items are cut into units of about 4 KB (fewer rows when several activation rows share
// them). Thread k first runs its contiguous k-th share of the first three quarters of the units, then takes the
// rest a few units at a time from a shared counter: items of different speeds in one batch (5-bit experts beside
// a 4-bit shared expert) and a core slowed by something else still finish together.
static void batch_task(void *context, long chunk, long lo, long hi) {
    (void)lo; (void)hi;
    struct batch_job *j = context;
    mk_far_prefetch_on = j->far_prefetch;
    long total = j->first[j->count];
    const long step = 4;
    // Each share is claimed before the one before it runs, so that its rows are prefetched at the end of that one.
    long u = atomic_fetch_add_explicit(&j->next, step, memory_order_relaxed);
    run_units(j, j->shared_from * chunk / j->threads, j->shared_from * (chunk + 1) / j->threads,
              u, u + step < total ? u + step : total);
    while (u < total) {
        long v = atomic_fetch_add_explicit(&j->next, step, memory_order_relaxed);
        run_units(j, u, u + step < total ? u + step : total, v, v + step < total ? v + step : total);
        u = v;
    }
}

void mk_gemm_batch(mk_pool *pool, mk_matmul *items, int count, long parallel_threshold) {
    if (count <= 0) return;
    // Quantize each distinct input once (items that share x, n, cols and activation layout share it).
    int isa = mk_isa();
    size_t total = 0;
    for (int i = 0; i < count; i++) {
        mk_matmul *m = &items[i];
        m->act_stride = mk_activation_row_bytes(m->type, m->cols);
        if (mk_activation_kind(m->type) != 0) total += m->act_stride * (size_t)m->n;
        if (use_panels(isa, m->type, m->n)) total += ((panel_bytes(m->n, m->cols) + 63) & ~(size_t)63) + 64;
    }
    uint8_t *buffer = total ? mk_thread_scratch(total) : NULL, *next = buffer;
    long macs = 0;
    for (int i = 0; i < count; i++) {
        mk_matmul *m = &items[i];
        macs += m->rows * m->cols * m->n;
        int kind = mk_activation_kind(m->type);
        if (kind == 0) { m->act = m->x; continue; }
        m->act = NULL;
        for (int k = 0; k < i; k++) {
            const mk_matmul *o = &items[k];
            if (o->x == m->x && o->n == m->n && o->cols == m->cols && mk_activation_kind(o->type) == kind) { m->act = o->act; break; }
        }
        if (m->act) continue;
        for (long t = 0; t < m->n; t++) mk_quantize_activations(m->type, m->x + t * m->ldx, next + (size_t)t * m->act_stride, m->cols);
        m->act = next;
        next += m->act_stride * (size_t)m->n;
    }
    // Activations for the panel kernels: packed once per item (items with the same input and weight format share
    // them), after the quantized rows so that aligned.
    const uint8_t *small_panels[65], **panels = count < 65 ? small_panels : malloc(sizeof(uint8_t *) * (size_t)count);
    next = buffer + ((size_t)(next - buffer) + 63) / 64 * 64;
    for (int i = 0; i < count; i++) {
        mk_matmul *m = &items[i];
        panels[i] = NULL;
        if (!use_panels(isa, m->type, m->n)) continue;
        for (int k = 0; k < i && !panels[i]; k++) {
            const mk_matmul *o = &items[k];
            if (panels[k] && o->act == m->act && o->n == m->n && panel_kind(o->type) == panel_kind(m->type)) panels[i] = panels[k];
        }
        if (panels[i]) continue;
        pack_panels(m->act, m->act_stride, m->n, m->cols, panel_kind(m->type), next);
        panels[i] = next;
        next += (panel_bytes(m->n, m->cols) + 63) & ~(size_t)63;
    }
    long small[2 * 65], *first = count < 65 ? small : malloc(sizeof(long) * 2 * (size_t)(count + 1));
    long *unit_rows = first + count + 1;
    first[0] = 0;
    for (int i = 0; i < count; i++) {
        const mk_matmul *m = &items[i];
        double per_row = (double)m->row_bytes * (double)(m->n < 1 ? 1 : m->n);
        long rows = (long)(4096.0 / per_row);
        // Four activation rows or more: units of whole groups of four weight rows, so that every weight row is
        // computed by the same kernel (4×4 tiles or not) however the units are shared between threads.
        // Fewer: whole groups of four too where a four-row kernel reads them.
        if (m->n >= 4 || kernelR4(isa, m->type)) rows = rows < 4 ? 4 : (rows + 3) / 4 * 4;
        unit_rows[i] = rows < 1 ? 1 : rows > m->rows ? (m->rows > 0 ? m->rows : 1) : rows;
        first[i + 1] = first[i] + (m->rows + unit_rows[i] - 1) / unit_rows[i];
    }
    int threads = pool ? mk_pool_threads(pool) : 1;
    int far = pool ? mk_pool_far_prefetch(pool) : 1;
    mk_far_prefetch_on = far;
    if (threads == 1 || macs < parallel_threshold || first[count] == 1) {
        struct batch_job job = { isa, items, count, first, unit_rows, panels, first[count], 1, far, 0 };
        run_units(&job, 0, first[count], 0, 0);
    } else {
        struct batch_job job = { isa, items, count, first, unit_rows, panels, first[count] * 3 / 4, threads, far, 0 };
        atomic_init(&job.next, job.shared_from);
        mk_pool_run(pool, threads, batch_task, &job);
    }
    if (first != small) free(first);
    if (panels != small_panels) free(panels);
}

// ---- Memory bandwidth probe ---------------------------------------------------------------------------------

struct read_job { const uint8_t *data; size_t bytes; double *sums; };

static void read_task(void *context, long chunk, long lo, long hi) {
    const struct read_job *j = context;
    // Each chunk reads its share of the buffer with 64-bit loads, four independent sums.
    size_t start = j->bytes / 8 * (size_t)lo / 1024 * 8, end = j->bytes / 8 * (size_t)hi / 1024 * 8;
    // 32-byte vectors (generic vector extension: whatever the baseline target has), four independent sums.
    typedef uint64_t v4 __attribute__((vector_size(32), aligned(32)));
    const v4 *p = (const v4 *)(j->data + (start & ~(size_t)31));
    size_t vectors = (end - (start & ~(size_t)31)) / 32;
    v4 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    for (size_t i = 0; i + 4 <= vectors; i += 4) { s0 += p[i]; s1 += p[i + 1]; s2 += p[i + 2]; s3 += p[i + 3]; }
    v4 s = s0 + s1 + s2 + s3;
    j->sums[chunk] += (double)(s[0] + s[1] + s[2] + s[3]);
}

double mk_read_bandwidth(mk_pool *pool, size_t bytes, int repetitions) {
    // On 2 MiB pages where the kernel has them, as the weights are mapped (GGUFFile advises MADV_HUGEPAGE): with
    // 4 KiB pages the read itself pays a TLB miss every 4 KiB and understates the limit by about a tenth.
    const size_t huge = (size_t)2 << 20;
    size_t rounded = (bytes + huge - 1) & ~(huge - 1);
    uint8_t *data = aligned_alloc(huge, rounded);
    if (!data) return 0;
#ifdef MADV_HUGEPAGE
    madvise(data, rounded, MADV_HUGEPAGE);
#endif
    memset(data, 1, bytes);
    double sums[256] = {0}, best = 0;
    struct read_job job = { data, bytes, sums };
    for (int r = 0; r < repetitions; r++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (pool) mk_pool_run(pool, 1024, read_task, &job); else read_task(&job, 0, 0, 1024);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        double rate = (double)bytes / seconds;
        if (rate > best) best = rate;
    }
    free(data);
    return sums[0] == -1 ? 0 : best;
}
