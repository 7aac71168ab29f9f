// Block layouts shared by the portable and SIMD kernels (private to the CKernels target).
#ifndef MOECODER_FORMATS_H
#define MOECODER_FORMATS_H
#include <stdint.h>
#include <math.h>
#include <string.h>

// ggml type ids.
enum { MK_F32 = 0, MK_F16 = 1, MK_Q4_0 = 2, MK_Q4_1 = 3, MK_Q5_0 = 6, MK_Q5_1 = 7, MK_Q8_0 = 8,
       MK_Q2_K = 10, MK_Q3_K = 11, MK_Q4_K = 12, MK_Q5_K = 13, MK_Q6_K = 14, MK_IQ4_NL = 20, MK_IQ4_XS = 23,
       MK_BF16 = 30, MK_MXFP4 = 39 };

// The lookup tables of the non-linear 4-bit formats (ggml's kvalues_iq4nl, and kvalues_mxfp4: the E2M1
// values doubled, which is why an MXFP4 block's scale is half of 2^(e − 127)).
static const int8_t mk_iq4nl_values[16] = { -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113 };
static const int8_t mk_mxfp4_values[16] = { 0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12 };

// 2^(e − 128) for an E8M0 exponent byte, as ggml_e8m0_to_fp32_half (e 0 and 1 give the subnormals 2^-128, 2^-127).
static inline float mk_e8m0_half(uint8_t e) {
    uint32_t bits = e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

// The 16 six-bit scales of a Q3_K super-block, minus 32: scale s has its low 4 bits in nibble s/8 of byte s%8
// and its top 2 bits in bits 2(s/4), 2(s/4)+1 of byte 8 + s%4. Four scales per 32-bit word: words 0 and 1 give
// the low nibbles of scales 0-7, their high nibbles those of 8-15; word 2's 2-bit fields, taken 2 bits further
// for each group of four, the top bits.
static inline void mk_q3_k_scale_words(const uint8_t *p, uint32_t s[4]) {
    uint32_t u[3];
    memcpy(u, p, 12);
    const uint32_t low4 = 0x0f0f0f0fu, low2 = 0x03030303u;
    s[0] = (u[0] & low4) | ((u[2] & low2) << 4);
    s[1] = (u[1] & low4) | (((u[2] >> 2) & low2) << 4);
    s[2] = ((u[0] >> 4) & low4) | (((u[2] >> 4) & low2) << 4);
    s[3] = ((u[1] >> 4) & low4) | (((u[2] >> 6) & low2) << 4);
    // Each byte b (0..63) becomes b − 32 as an int8 without borrows between bytes: (b + 128 − 32) ^ 128.
    for (int i = 0; i < 4; i++) s[i] = ((s[i] | 0x80808080u) - 0x20202020u) ^ 0x80808080u;
}

static inline void mk_q3_k_scales(const uint8_t *p, int8_t out[16]) {
    uint32_t s[4];
    mk_q3_k_scale_words(p, s);
    memcpy(out, s, 16);
}

// Activations for the 32-element formats: scale d, s = d·Σq (for the formats with a min or a bias), 32 int8.
typedef struct { float d; float s; int8_t q[32]; } mk_q8a;
// Activations for the K-quants: scale d, sums of each 16 int8, 256 int8.
typedef struct { float d; int16_t bsums[16]; int8_t q[256]; } mk_q8k;

// Q4_K / Q5_K read their activations "paired": in each half of 128 the second and third runs of 32 swapped
// (elements 0-31, 64-95, 32-63, 96-127), the order in which a 64-byte load of the weights' nibbles meets them (low
// nibbles: elements 0-31 and 64-95; high: 32-63 and 96-127), so that each activation vector is one plain load.
// bsums stay in element order. The position of element e:
static inline int mk_q8k_paired(int e) {
    int run = (e >> 5) & 3;
    return (e & ~127) | ((run == 1 ? 2 : run == 2 ? 1 : run) << 5) | (e & 31);
}

// Activation panels for the many-row kernels (simd_kernels.h, gemm_panels): 8 activation rows a panel, blocks of
// 32 elements one after another, each MK_PANEL_BLOCK_BYTES: byte 32k + 4t + j is element 4k + j of row t (k < 8),
// then 8 int32 (−bias·Σq of each row's block, bias the weight format's offset) and 8 floats (each row's scale).
#define MK_PANEL_ROWS 8
#define MK_PANEL_BLOCK_BYTES 320

extern float mk_f16_table[65536];
// mk_e8m0_half of every exponent byte.
extern float mk_e8m0_table[256];

static inline uint16_t mk_u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t mk_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline float mk_f16(uint16_t h) { return mk_f16_table[h]; }
static inline float mk_bf16(uint16_t h) { uint32_t b = (uint32_t)h << 16; float f; memcpy(&f, &b, 4); return f; }

// The 8 six-bit scales of an IQ4_XS super-block, minus 32.
static inline void mk_iq4_xs_scales(const uint8_t *blk, int out[8]) {
    uint16_t h = mk_u16(blk + 2);
    for (int i = 0; i < 8; i++) out[i] = (((blk[4 + i / 2] >> (4 * (i % 2))) & 15) | (((h >> (2 * i)) & 3) << 4)) - 32;
}

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
