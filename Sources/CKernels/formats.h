// Block layouts shared by the portable and SIMD kernels (private to the CKernels target).
#ifndef MOECODER_FORMATS_H
#define MOECODER_FORMATS_H
#include <stdint.h>
#include <math.h>
#include <string.h>

// ggml type ids.
enum { MK_F32 = 0, MK_F16 = 1, MK_Q4_0 = 2, MK_Q4_1 = 3, MK_Q5_0 = 6, MK_Q5_1 = 7, MK_Q8_0 = 8,
       MK_Q4_K = 12, MK_Q5_K = 13, MK_Q6_K = 14, MK_BF16 = 30 };

// Activations for the 32-element formats: scale d, s = d·Σq (for the formats with a min or a bias), 32 int8.
typedef struct { float d; float s; int8_t q[32]; } mk_q8a;
// Activations for the K-quants: scale d, sums of each 16 int8, 256 int8.
typedef struct { float d; int16_t bsums[16]; int8_t q[256]; } mk_q8k;

extern float mk_f16_table[65536];

static inline uint16_t mk_u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline float mk_f16(uint16_t h) { return mk_f16_table[h]; }
static inline float mk_bf16(uint16_t h) { uint32_t b = (uint32_t)h << 16; float f; memcpy(&f, &b, 4); return f; }

// The 6-bit scales and mins of the 8 sub-blocks of a Q4_K/Q5_K super-block from its 12 packed bytes.
static inline void mk_scale_min_k4(const uint8_t *s, uint8_t sc[8], uint8_t mn[8]) {
    for (int j = 0; j < 4; j++) { sc[j] = s[j] & 63; mn[j] = s[j + 4] & 63; }
    for (int j = 4; j < 8; j++) {
        sc[j] = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
        mn[j] = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

// Softmax in place over n scores (n ≥ 1).
static inline void mk_softmax(float *s, long n) {
    float top = s[0];
    for (long p = 1; p < n; p++) top = s[p] > top ? s[p] : top;
    float total = 0;
    for (long p = 0; p < n; p++) { s[p] = expf(s[p] - top); total += s[p]; }
    float inv = 1.0f / total;
    for (long p = 0; p < n; p++) s[p] *= inv;
}
#endif
