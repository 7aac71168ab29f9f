// x86-64 SIMD kernels, included twice by kernels.c: MK_VNNI 0 (AVX2: maddubs + madd) and MK_VNNI 1
// (AVX-512 VNNI on 256-bit vectors: vpdpbusd). MK_SUFFIX names each build's functions.
#include <immintrin.h>

// Σ over 4-byte groups of u (unsigned bytes) · s (signed bytes), as 8 int32 lanes.
static inline __m256i MK_SUFFIX(mul_sum_us8)(__m256i u, __m256i s) {
#if MK_VNNI
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
#else
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
#endif
}

// The same with each 16-byte half scaled by an integer: lanes of the low half by lo, the high half by hi. maddubs
// then madd with the scales at both levels: at the VNNI level vpdpbusd followed by vpmulld measured slower (Q3_K
// 0.89 → 0.80 ms for a 4096 × 4096 matvec). The 16-bit pair sums must not saturate: u·s pairs stay within
// ±32767 for every caller (at most 127 · 127 · 2), and the scales fit in 16 bits.
static inline __m256i MK_SUFFIX(mul_sum_us8_scaled)(__m256i u, __m256i s, int lo, int hi) {
    __m256i p = _mm256_maddubs_epi16(u, s);
    return _mm256_madd_epi16(p, _mm256_setr_epi16((short)lo, (short)lo, (short)lo, (short)lo, (short)lo, (short)lo,
                                                  (short)lo, (short)lo, (short)hi, (short)hi, (short)hi, (short)hi,
                                                  (short)hi, (short)hi, (short)hi, (short)hi));
}

// Σ of signed bytes a · signed bytes b (sign moved onto b so that a can be unsigned).
static inline __m256i MK_SUFFIX(mul_sum_i8)(__m256i a, __m256i b) {
    return MK_SUFFIX(mul_sum_us8)(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
}

static inline float MK_SUFFIX(hsum)(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline int MK_SUFFIX(hsum_i32)(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

// 32 nibbles of 16 bytes as 32 bytes: low nibbles (elements 0..15), then high nibbles (16..31).
static inline __m256i MK_SUFFIX(nibbles32)(const uint8_t *p) {
    __m128i raw = _mm_loadu_si128((const __m128i *)p);
    __m128i lo = _mm_and_si128(raw, _mm_set1_epi8(15));
    __m128i hi = _mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(15));
    return _mm256_set_m128i(hi, lo);
}

// 0x10 in byte i where bit i of x is set.
static inline __m256i MK_SUFFIX(fifth_bits)(uint32_t x) {
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)x),
                                    _mm256_set_epi64x(0x0303030303030303LL, 0x0202020202020202LL,
                                                      0x0101010101010101LL, 0x0000000000000000LL));
    // Byte k of each 8 keeps every bit but bit k; OR-ing the byte of x gives all ones iff its bit k is set.
    v = _mm256_or_si256(v, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfeLL));
    return _mm256_and_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi64x(-1)), _mm256_set1_epi8(0x10));
}

// How far beyond the rows being prefetched into L1 the same step also asks for lines into L2 (prefetcht1). The L1
// prefetches alone keep at most a few KB in flight (the L1 miss buffers), so a kernel with more arithmetic per byte
// (Q5_0, Q6_K) alternated between computing and waiting; the L2 requests further ahead keep the memory busy while it
// computes. bench/stream_bench.sh, two threads, 1 GiB of weights on 2 MiB pages, kernel GB/s over a plain read of
// the same buffer measured alternately, 16 KB ahead: Q4_K 0.73-0.86 -> 0.90, Q5_0 0.81 -> 0.89-0.93, Q6_K
// 0.82-0.84 -> 0.91-0.93. V2-Lite-shape decode (file cached, two threads, alternating, two rounds): none 15.0-15.9
// tokens/s, 8 KB 15.4-16.5, 16 KB 16.6-17.5, 32 KB 17.1-17.8; Qwen1.5 shape: 32 KB and 16 KB alike, 64 KB no better.
#ifndef MK_FAR_PREFETCH
#define MK_FAR_PREFETCH 32768
#endif

// Prefetches the lines of the `bytes` bytes at p. The R-row kernels below read R rows a few blocks at a time, which
// defeats the hardware prefetcher (one thread, Q4_K rows of 2048: 7 GB/s); so each step also prefetches the next
// R rows' bytes in address order, step by step, and the group after streams at 19-20 GB/s (13-14 row by row).
// Prefetching the next rows at the place being read instead (a strided order) measured slower than none.
static inline __attribute__((always_inline)) void MK_SUFFIX(prefetch_span)(const uint8_t *p, int bytes) {
    for (int o = 0; o < bytes; o += 64) {
        _mm_prefetch((const char *)p + o, _MM_HINT_T0);
        if (mk_far_prefetch_on) _mm_prefetch((const char *)p + o + MK_FAR_PREFETCH, _MM_HINT_T1);
    }
}

// The R-row kernels' prefetches: bytes [off, off + bytes) of the next R rows at pn into L1 and, MK_FAR_PREFETCH
// further, at pf into L2. pn and pf come from mk_span_base once per call (MK_NEXT_ROWS), which keeps them inside
// the rows the thread reads: past the end of its current run of rows they point into the next run it will read
// (the next chosen expert's rows) instead of the bytes that follow in memory (mostly experts nobody chose).
static inline __attribute__((always_inline)) void MK_SUFFIX(prefetch_next)(const uint8_t *pn, const uint8_t *pf, size_t off,
                                                                          int bytes) {
    for (int o = 0; o < bytes; o += 64) {
        _mm_prefetch((const char *)pn + off + o, _MM_HINT_T0);
        if (mk_far_prefetch_on) _mm_prefetch((const char *)pf + off + o, _MM_HINT_T1);
    }
}
#define MK_NEXT_ROWS(w, row_bytes, R)                                                                            \
    const uint8_t *pn = (R) < 2 ? (const uint8_t *)(w) : mk_span_base((const uint8_t *)(w) + (size_t)(R) * (row_bytes), \
                                                                      (size_t)(R) * (row_bytes));                       \
    const uint8_t *pf = (R) < 2 ? (const uint8_t *)(w) : mk_span_base((const uint8_t *)(w) + (size_t)(R) * (row_bytes) + \
                                                                      MK_FAR_PREFETCH, (size_t)(R) * (row_bytes))

static float MK_SUFFIX(dot_f32)(const void *w, const void *a, long cols) {
    const float *x = w, *y = a;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    long i = 0;
    for (; i + 32 <= cols; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), s3);
    }
    for (; i + 8 <= cols; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), s0);
    float sum = MK_SUFFIX(hsum)(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < cols; i++) sum += x[i] * y[i];
    return sum;
}

static float MK_SUFFIX(dot_f16)(const void *w, const void *a, long cols) {
    const uint16_t *x = w;
    const float *y = a;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    long i = 0;
    for (; i + 16 <= cols; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))), _mm256_loadu_ps(y + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i + 8))), _mm256_loadu_ps(y + i + 8), s1);
    }
    float sum = MK_SUFFIX(hsum)(_mm256_add_ps(s0, s1));
    for (; i < cols; i++) sum += mk_f16(x[i]) * y[i];
    return sum;
}

static float MK_SUFFIX(dot_bf16)(const void *w, const void *a, long cols) {
    const uint16_t *x = w;
    const float *y = a;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    long i = 0;
    for (; i + 16 <= cols; i += 16) {
        __m256 w0 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(x + i))), 16));
        __m256 w1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(x + i + 8))), 16));
        s0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(y + i), s0);
        s1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(y + i + 8), s1);
    }
    float sum = MK_SUFFIX(hsum)(_mm256_add_ps(s0, s1));
    for (; i < cols; i++) sum += mk_bf16(x[i]) * y[i];
    return sum;
}

// Q8_0, R rows (row_bytes apart) against one activation row: two blocks a step into two accumulators a row, the
// next R rows prefetched when R > 1; a row's operations do not depend on R.
static inline __attribute__((always_inline)) void MK_SUFFIX(dotr_q8_0)(const void *w, size_t row_bytes, const mk_q8a *a,
                                                                      long cols, int R, float *out) {
    MK_NEXT_ROWS(w, row_bytes, R);
    __m256 acc0[4], acc1[4];
    for (int r = 0; r < R; r++) { acc0[r] = _mm256_setzero_ps(); acc1[r] = acc0[r]; }
    long nb = cols / 32, b = 0;
    for (; b + 2 <= nb; b += 2) {
        __m256i a0 = _mm256_loadu_si256((const __m256i *)a[b].q), a1 = _mm256_loadu_si256((const __m256i *)a[b + 1].q);
        for (int r = 0; r < R; r++) {
            const uint8_t *blk = (const uint8_t *)w + (size_t)r * row_bytes + (size_t)b * 34;
            if (R > 1) MK_SUFFIX(prefetch_next)(pn, pf, (size_t)(b / 2 * R + r) * 68, 68);
            __m256i p0 = MK_SUFFIX(mul_sum_i8)(_mm256_loadu_si256((const __m256i *)(blk + 2)), a0);
            __m256i p1 = MK_SUFFIX(mul_sum_i8)(_mm256_loadu_si256((const __m256i *)(blk + 36)), a1);
            acc0[r] = _mm256_fmadd_ps(_mm256_set1_ps(mk_f16(mk_u16(blk)) * a[b].d), _mm256_cvtepi32_ps(p0), acc0[r]);
            acc1[r] = _mm256_fmadd_ps(_mm256_set1_ps(mk_f16(mk_u16(blk + 34)) * a[b + 1].d), _mm256_cvtepi32_ps(p1), acc1[r]);
        }
    }
    for (int r = 0; r < R; r++) {
        if (b < nb) {
            const uint8_t *blk = (const uint8_t *)w + (size_t)r * row_bytes + (size_t)b * 34;
            __m256i p = MK_SUFFIX(mul_sum_i8)(_mm256_loadu_si256((const __m256i *)(blk + 2)), _mm256_loadu_si256((const __m256i *)a[b].q));
            acc0[r] = _mm256_fmadd_ps(_mm256_set1_ps(mk_f16(mk_u16(blk)) * a[b].d), _mm256_cvtepi32_ps(p), acc0[r]);
        }
        out[r] = MK_SUFFIX(hsum)(_mm256_add_ps(acc0[r], acc1[r]));
    }
}

static float MK_SUFFIX(dot_q8_0)(const void *w, const void *act, long cols) {
    float out;
    MK_SUFFIX(dotr_q8_0)(w, 0, act, cols, 1, &out);
    return out;
}

// The nibble formats: unsigned q (0..15 or 0..31) times signed activations, bias/min applied per block; R rows
// (row_bytes apart) against one activation row, the next R rows prefetched when R > 1.
static inline __attribute__((always_inline)) void MK_SUFFIX(dotr_nibbles)(const void *w, size_t row_bytes, const mk_q8a *a,
        long cols, int bytes, int has_min, int has_qh, float bias, int R, float *out) {
    MK_NEXT_ROWS(w, row_bytes, R);
    __m256 acc[4];
    float extra[4];
    for (int r = 0; r < R; r++) { acc[r] = _mm256_setzero_ps(); extra[r] = 0; }
    for (long b = 0; b < cols / 32; b++) {
        __m256i av = _mm256_loadu_si256((const __m256i *)a[b].q);
        for (int r = 0; r < R; r++) {
            const uint8_t *blk = (const uint8_t *)w + (size_t)r * row_bytes + (size_t)b * bytes;
            if (R > 1) MK_SUFFIX(prefetch_next)(pn, pf, (size_t)(b * R + r) * bytes, bytes);
            float d = mk_f16(mk_u16(blk));
            const uint8_t *qhp = blk + (has_min ? 4 : 2);
            const uint8_t *qs = qhp + (has_qh ? 4 : 0);
            __m256i q = MK_SUFFIX(nibbles32)(qs);
            if (has_qh) {
                uint32_t qh;
                memcpy(&qh, qhp, 4);
                q = _mm256_or_si256(q, MK_SUFFIX(fifth_bits)(qh));
            }
            __m256i p = MK_SUFFIX(mul_sum_us8)(q, av);
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(d * a[b].d), _mm256_cvtepi32_ps(p), acc[r]);
            extra[r] += (has_min ? mk_f16(mk_u16(blk + 2)) : -bias * d) * a[b].s;
        }
    }
    for (int r = 0; r < R; r++) out[r] = MK_SUFFIX(hsum)(acc[r]) + extra[r];
}

// The nibble formats: unsigned q (0..15 or 0..31) times signed activations, bias/min applied per block.
static inline __attribute__((always_inline)) float MK_SUFFIX(dot_nibbles)(const void *w, const mk_q8a *a, long cols, int bytes, int has_min,
                                           int has_qh, float bias) {
    float out;
    MK_SUFFIX(dotr_nibbles)(w, 0, a, cols, bytes, has_min, has_qh, bias, 1, &out);
    return out;
}

static float MK_SUFFIX(dot_q4_0)(const void *w, const void *a, long c) { return MK_SUFFIX(dot_nibbles)(w, a, c, 18, 0, 0, 8); }
static float MK_SUFFIX(dot_q4_1)(const void *w, const void *a, long c) { return MK_SUFFIX(dot_nibbles)(w, a, c, 20, 1, 0, 0); }
static float MK_SUFFIX(dot_q5_0)(const void *w, const void *a, long c) { return MK_SUFFIX(dot_nibbles)(w, a, c, 22, 0, 1, 16); }
static float MK_SUFFIX(dot_q5_1)(const void *w, const void *a, long c) { return MK_SUFFIX(dot_nibbles)(w, a, c, 24, 1, 1, 0); }

// Q4_K / Q5_K, 256-bit: R rows (row_bytes apart) against one activation row (paired order, formats.h), the next
// R rows prefetched when R > 1; a row's operations do not depend on R.
static inline __attribute__((always_inline)) void MK_SUFFIX(dotr_scale_min)(const void *w, size_t row_bytes, const mk_q8k *a,
                                                                           long cols, int fifth, int R, float *out) {
    MK_NEXT_ROWS(w, row_bytes, R);
    const int bytes = fifth ? 176 : 144;
    const __m256i low4 = _mm256_set1_epi8(15);
    __m256 acc[4];
    float mins[4];
    for (int r = 0; r < R; r++) { acc[r] = _mm256_setzero_ps(); mins[r] = 0; }
    for (long b = 0; b < cols / 256; b++) {
        for (int r = 0; r < R; r++) {
            const uint8_t *blk = (const uint8_t *)w + (size_t)r * row_bytes + (size_t)b * bytes;
            if (R > 1) MK_SUFFIX(prefetch_next)(pn, pf, (size_t)(b * R + r) * bytes, bytes);
            float d = mk_f16(mk_u16(blk)) * a[b].d, dmin = mk_f16(mk_u16(blk + 2)) * a[b].d;
            uint8_t sc[8], mn[8];
            mk_scale_min_k4(blk + 4, sc, mn);
            int summ = 0;
            for (int s = 0; s < 8; s++) summ += mn[s] * (a[b].bsums[2 * s] + a[b].bsums[2 * s + 1]);
            mins[r] += dmin * (float)summ;
            const uint8_t *qs = blk + (fifth ? 48 : 16);
            __m256i qh = fifth ? _mm256_loadu_si256((const __m256i *)(blk + 16)) : _mm256_setzero_si256();
            __m256i sumi = _mm256_setzero_si256();
            for (int g = 0; g < 4; g++) {
                __m256i raw = _mm256_loadu_si256((const __m256i *)(qs + 32 * g));
                __m256i lo = _mm256_and_si256(raw, low4);
                __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4);
                if (fifth) {
                    __m256i m0 = _mm256_set1_epi8((char)(1 << (2 * g))), m1 = _mm256_set1_epi8((char)(2 << (2 * g)));
                    lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, m0), m0), _mm256_set1_epi8(16)));
                    hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, m1), m1), _mm256_set1_epi8(16)));
                }
                // Paired activations (formats.h): elements 64g.. at 128(g/2) + 32(g%2), 64g + 32.. 64 further.
                const int8_t *q = a[b].q + 128 * (g / 2) + 32 * (g % 2);
                __m256i plo = MK_SUFFIX(mul_sum_us8_scaled)(lo, _mm256_loadu_si256((const __m256i *)q), sc[2 * g], sc[2 * g]);
                __m256i phi = MK_SUFFIX(mul_sum_us8_scaled)(hi, _mm256_loadu_si256((const __m256i *)(q + 64)), sc[2 * g + 1], sc[2 * g + 1]);
                sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(plo, phi));
            }
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc[r]);
        }
    }
    for (int r = 0; r < R; r++) out[r] = MK_SUFFIX(hsum)(acc[r]) - mins[r];
}

static inline __attribute__((always_inline)) float MK_SUFFIX(dot_scale_min)(const void *w, const mk_q8k *a, long cols, int fifth) {
    float out;
    MK_SUFFIX(dotr_scale_min)(w, 0, a, cols, fifth, 1, &out);
    return out;
}

static float MK_SUFFIX(dot_q4_K)(const void *w, const void *a, long c) { return MK_SUFFIX(dot_scale_min)(w, a, c, 0); }
static float MK_SUFFIX(dot_q5_K)(const void *w, const void *a, long c) { return MK_SUFFIX(dot_scale_min)(w, a, c, 1); }

// Q6_K, 256-bit: R rows (row_bytes apart) against one activation row, the next R rows prefetched when R > 1.
static inline __attribute__((always_inline)) void MK_SUFFIX(dotr_q6_K)(const void *w, size_t row_bytes, const mk_q8k *a,
                                                                      long cols, int R, float *out) {
    MK_NEXT_ROWS(w, row_bytes, R);
    const __m256i low4 = _mm256_set1_epi8(15), m3 = _mm256_set1_epi8(3), m30 = _mm256_set1_epi8(0x30);
    __m256 acc[4];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    for (long b = 0; b < cols / 256; b++) {
        for (int r = 0; r < R; r++) {
            const uint8_t *blk = (const uint8_t *)w + (size_t)r * row_bytes + (size_t)b * 210;
            if (R > 1) MK_SUFFIX(prefetch_next)(pn, pf, (size_t)(b * R + r) * 210, 210);
            const int8_t *sc = (const int8_t *)(blk + 192);
            int bias = 0;
            for (int s = 0; s < 16; s++) bias += sc[s] * a[b].bsums[s];
            __m256i sumi = _mm256_setzero_si256();
            for (int h = 0; h < 2; h++) {
                const uint8_t *ql = blk + 64 * h, *qhp = blk + 128 + 32 * h;
                const int8_t *q = a[b].q + 128 * h, *s = sc + 8 * h;
                __m256i la = _mm256_loadu_si256((const __m256i *)ql), lb = _mm256_loadu_si256((const __m256i *)(ql + 32));
                __m256i qh = _mm256_loadu_si256((const __m256i *)qhp);
                __m256i q1 = _mm256_or_si256(_mm256_and_si256(la, low4), _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4));
                __m256i q2 = _mm256_or_si256(_mm256_and_si256(lb, low4), _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(12)), 2));
                __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(la, 4), low4), _mm256_and_si256(qh, m30));
                __m256i q4 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lb, 4), low4), _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));
                sumi = _mm256_add_epi32(sumi, MK_SUFFIX(mul_sum_us8_scaled)(q1, _mm256_loadu_si256((const __m256i *)q), s[0], s[1]));
                sumi = _mm256_add_epi32(sumi, MK_SUFFIX(mul_sum_us8_scaled)(q2, _mm256_loadu_si256((const __m256i *)(q + 32)), s[2], s[3]));
                sumi = _mm256_add_epi32(sumi, MK_SUFFIX(mul_sum_us8_scaled)(q3, _mm256_loadu_si256((const __m256i *)(q + 64)), s[4], s[5]));
                sumi = _mm256_add_epi32(sumi, MK_SUFFIX(mul_sum_us8_scaled)(q4, _mm256_loadu_si256((const __m256i *)(q + 96)), s[6], s[7]));
            }
            float d = mk_f16(mk_u16(blk + 208)) * a[b].d;
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(_mm256_sub_epi32(sumi, _mm256_setr_epi32(32 * bias, 0, 0, 0, 0, 0, 0, 0))), acc[r]);
        }
    }
    for (int r = 0; r < R; r++) out[r] = MK_SUFFIX(hsum)(acc[r]);
}

static float MK_SUFFIX(dot_q6_K)(const void *w, const void *act, long cols) {
    float out;
    MK_SUFFIX(dotr_q6_K)(w, 0, act, cols, 1, &out);
    return out;
}

// The kernels below take `count` activation rows (1..4, `stride` bytes apart) against one weight row, sharing the
// unpacking of each weight block between them: count 1 is the single dot, count 4 the prompt kernel.

// Q2_K: the 32 qs bytes of half n shifted right by 2j give, masked to 2 bits, elements 128n + 32j ..< +32 in order
// (groups 8n + 2j and 8n + 2j + 1), against 32 contiguous activation bytes.
// One Q2_K block (84 bytes at blk) against block b of `count` activation rows, into acc[t] and mins[t].
static inline __attribute__((always_inline)) void MK_SUFFIX(block_q2_K)(const uint8_t *blk, const uint8_t *act, size_t stride,
        long b, int count, __m256 *acc, float *mins) {
    const __m256i m3 = _mm256_set1_epi8(3);
    const uint8_t *sc = blk;
    __m256i mn = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(_mm_loadu_si128((const __m128i *)blk), 4), _mm_set1_epi8(15)));
    float d = mk_f16(mk_u16(blk + 80)), dmin = mk_f16(mk_u16(blk + 82));
    __m256i sumi[4];
    for (int t = 0; t < count; t++) sumi[t] = _mm256_setzero_si256();
    for (int n = 0; n < 2; n++) {
        __m256i raw = _mm256_loadu_si256((const __m256i *)(blk + 16 + 32 * n));
        for (int j = 0; j < 4; j++) {
            int s = 8 * n + 2 * j;
            __m256i q = _mm256_and_si256(raw, m3);
            for (int t = 0; t < count; t++) {
                const mk_q8k *ab = (const mk_q8k *)(act + (size_t)t * stride) + b;
                sumi[t] = _mm256_add_epi32(sumi[t], MK_SUFFIX(mul_sum_us8_scaled)(q, _mm256_loadu_si256((const __m256i *)(ab->q + 128 * n + 32 * j)),
                                                                                  sc[s] & 15, sc[s + 1] & 15));
            }
            raw = _mm256_srli_epi16(raw, 2);
        }
    }
    for (int t = 0; t < count; t++) {
        const mk_q8k *ab = (const mk_q8k *)(act + (size_t)t * stride) + b;
        int summ = MK_SUFFIX(hsum_i32)(_mm256_madd_epi16(mn, _mm256_loadu_si256((const __m256i *)ab->bsums)));
        acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * ab->d), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
        mins[t] += dmin * ab->d * (float)summ;
    }
}

static inline __attribute__((always_inline)) void MK_SUFFIX(dotn_q2_K)(const void *w, const uint8_t *act, size_t stride,
        long cols, int count, float *out, long out_stride) {
    __m256 acc[4];
    float mins[4] = {0, 0, 0, 0};
    for (int t = 0; t < count; t++) acc[t] = _mm256_setzero_ps();
    for (long b = 0; b < cols / 256; b++) MK_SUFFIX(block_q2_K)((const uint8_t *)w + 84 * b, act, stride, b, count, acc, mins);
    for (int t = 0; t < count; t++) out[t * out_stride] = MK_SUFFIX(hsum)(acc[t]) - mins[t];
}

// Q3_K: Q2_K's two low bits, the third from hmask (bit 4n + j of byte l of the 32), q in 0..7; Σ scale·(q − 4)·a
// as Σ scale·q·a − 4·Σ scale·bsum.
// One Q3_K block (110 bytes at blk) against block b of `count` activation rows, into acc[t].
static inline __attribute__((always_inline)) void MK_SUFFIX(block_q3_K)(const uint8_t *blk, const uint8_t *act, size_t stride,
        long b, int count, __m256 *acc) {
    const __m256i m3 = _mm256_set1_epi8(3), m4 = _mm256_set1_epi8(4);
    // The scales stay in registers: a vector for the bias, bytes of four words for the products.
    uint32_t sw[4];
    mk_q3_k_scale_words(blk + 96, sw);
    __m256i sc16 = _mm256_cvtepi8_epi16(_mm_setr_epi32((int)sw[0], (int)sw[1], (int)sw[2], (int)sw[3]));
#define MK_Q3_SCALE(s) ((int8_t)(sw[(s) / 4] >> (8 * ((s) % 4))))
    float d = mk_f16(mk_u16(blk + 108));
    __m256i hm = _mm256_loadu_si256((const __m256i *)blk);
    __m256i sumi[4];
    for (int t = 0; t < count; t++) sumi[t] = _mm256_setzero_si256();
    for (int n = 0; n < 2; n++) {
        __m256i raw = _mm256_loadu_si256((const __m256i *)(blk + 32 + 32 * n));
        for (int j = 0; j < 4; j++) {
            int s = 8 * n + 2 * j;
            // Bit 0 of each byte of hm is now bit 4n + j of the original; moved to bit 2.
            __m256i q = _mm256_or_si256(_mm256_and_si256(raw, m3), _mm256_and_si256(_mm256_slli_epi16(hm, 2), m4));
            for (int t = 0; t < count; t++) {
                const mk_q8k *ab = (const mk_q8k *)(act + (size_t)t * stride) + b;
                sumi[t] = _mm256_add_epi32(sumi[t], MK_SUFFIX(mul_sum_us8_scaled)(q, _mm256_loadu_si256((const __m256i *)(ab->q + 128 * n + 32 * j)),
                                                                                  MK_Q3_SCALE(s), MK_Q3_SCALE(s + 1)));
            }
            raw = _mm256_srli_epi16(raw, 2);
            hm = _mm256_srli_epi16(hm, 1);
        }
    }
    for (int t = 0; t < count; t++) {
        const mk_q8k *ab = (const mk_q8k *)(act + (size_t)t * stride) + b;
        // 4·Σ scale·bsum, subtracted in the integer domain (exact) from one lane.
        __m256i bias = _mm256_slli_epi32(_mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)ab->bsums)), 2);
        acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * ab->d), _mm256_cvtepi32_ps(_mm256_sub_epi32(sumi[t], bias)), acc[t]);
    }
#undef MK_Q3_SCALE
}

static inline __attribute__((always_inline)) void MK_SUFFIX(dotn_q3_K)(const void *w, const uint8_t *act, size_t stride,
        long cols, int count, float *out, long out_stride) {
    __m256 acc[4];
    for (int t = 0; t < count; t++) acc[t] = _mm256_setzero_ps();
    for (long b = 0; b < cols / 256; b++) MK_SUFFIX(block_q3_K)((const uint8_t *)w + 110 * b, act, stride, b, count, acc);
    for (int t = 0; t < count; t++) out[t * out_stride] = MK_SUFFIX(hsum)(acc[t]);
}

// 32 table values (signed bytes) of 16 nibble bytes: vpshufb looks each nibble up in the 16-byte table.
static inline __m256i MK_SUFFIX(lookup32)(__m256i table, const uint8_t *qs) {
    return _mm256_shuffle_epi8(table, MK_SUFFIX(nibbles32)(qs));
}

// IQ4_NL / MXFP4: per block, the looked-up values with their signs moved onto the activations.
static inline __attribute__((always_inline)) void MK_SUFFIX(dotn_table32)(const void *w, const uint8_t *act, size_t stride,
        long cols, int count, int mxfp4, float *out, long out_stride) {
    const uint8_t *blk = w;
    const int bytes = mxfp4 ? 17 : 18, off = mxfp4 ? 1 : 2;
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(mxfp4 ? mk_mxfp4_values : mk_iq4nl_values)));
    __m256 acc[4];
    for (int t = 0; t < count; t++) acc[t] = _mm256_setzero_ps();
    for (long b = 0; b < cols / 32; b++, blk += bytes) {
        __m256i v = MK_SUFFIX(lookup32)(table, blk + off);
        __m256i u = _mm256_sign_epi8(v, v);
        float d = mxfp4 ? mk_e8m0_half(blk[0]) : mk_f16(mk_u16(blk));
        for (int t = 0; t < count; t++) {
            const mk_q8a *ab = (const mk_q8a *)(act + (size_t)t * stride) + b;
            __m256i p = MK_SUFFIX(mul_sum_us8)(u, _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)ab->q), v));
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * ab->d), _mm256_cvtepi32_ps(p), acc[t]);
        }
    }
    for (int t = 0; t < count; t++) out[t * out_stride] = MK_SUFFIX(hsum)(acc[t]);
}

// IQ4_XS: IQ4_NL's lookup per sub-block of 32, the sub-block's scale applied to the 16-bit pair sums.
// One IQ4_XS block (136 bytes at blk) against block b of `count` activation rows, into acc[t].
static inline __attribute__((always_inline)) void MK_SUFFIX(block_iq4_xs)(const uint8_t *blk, const uint8_t *act, size_t stride,
        long b, int count, __m256 *acc) {
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)mk_iq4nl_values));
    int sc[8];
    mk_iq4_xs_scales(blk, sc);
    __m256i sumi[4];
    for (int t = 0; t < count; t++) sumi[t] = _mm256_setzero_si256();
    for (int i = 0; i < 8; i++) {
        __m256i v = MK_SUFFIX(lookup32)(table, blk + 8 + 16 * i);
        __m256i u = _mm256_sign_epi8(v, v);
        for (int t = 0; t < count; t++) {
            const mk_q8k *ab = (const mk_q8k *)(act + (size_t)t * stride) + b;
            __m256i q = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)(ab->q + 32 * i)), v);
            sumi[t] = _mm256_add_epi32(sumi[t], MK_SUFFIX(mul_sum_us8_scaled)(u, q, sc[i], sc[i]));
        }
    }
    float d = mk_f16(mk_u16(blk));
    for (int t = 0; t < count; t++) {
        const mk_q8k *ab = (const mk_q8k *)(act + (size_t)t * stride) + b;
        acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * ab->d), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
    }
}

static inline __attribute__((always_inline)) void MK_SUFFIX(dotn_iq4_xs)(const void *w, const uint8_t *act, size_t stride,
        long cols, int count, float *out, long out_stride) {
    __m256 acc[4];
    for (int t = 0; t < count; t++) acc[t] = _mm256_setzero_ps();
    for (long b = 0; b < cols / 256; b++) MK_SUFFIX(block_iq4_xs)((const uint8_t *)w + 136 * b, act, stride, b, count, acc);
    for (int t = 0; t < count; t++) out[t * out_stride] = MK_SUFFIX(hsum)(acc[t]);
}

// R weight rows (row_bytes apart) of Q2_K / Q3_K / IQ4_XS against one activation row, block by block, the next R
// rows prefetched (as the 512-bit R-row kernels do); each row's operations are its single dot's.
static inline __attribute__((always_inline)) void MK_SUFFIX(dotr_k256)(const void *w, size_t row_bytes, const uint8_t *act,
        long cols, int kind, int R, float *out) {
    MK_NEXT_ROWS(w, row_bytes, R);
    const int bytes = kind == 0 ? 84 : kind == 1 ? 110 : 136;
    __m256 acc[4];
    float mins[4] = {0, 0, 0, 0};
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    for (long b = 0; b < cols / 256; b++) {
        for (int r = 0; r < R; r++) {
            const uint8_t *blk = (const uint8_t *)w + (size_t)r * row_bytes + (size_t)b * bytes;
            MK_SUFFIX(prefetch_next)(pn, pf, (size_t)(b * R + r) * bytes, bytes);
            if (kind == 0) MK_SUFFIX(block_q2_K)(blk, act, 0, b, 1, &acc[r], &mins[r]);
            else if (kind == 1) MK_SUFFIX(block_q3_K)(blk, act, 0, b, 1, &acc[r]);
            else MK_SUFFIX(block_iq4_xs)(blk, act, 0, b, 1, &acc[r]);
        }
    }
    for (int r = 0; r < R; r++) out[r] = MK_SUFFIX(hsum)(acc[r]) - mins[r];
}
static void MK_SUFFIX(dotr4_q4_K_256)(const void *w, size_t rb, const void *a, long c, float *o) { MK_SUFFIX(dotr_scale_min)(w, rb, a, c, 0, 4, o); }
static void MK_SUFFIX(dotr4_q5_K_256)(const void *w, size_t rb, const void *a, long c, float *o) { MK_SUFFIX(dotr_scale_min)(w, rb, a, c, 1, 4, o); }
static void MK_SUFFIX(dotr4_q4_0_256)(const void *w, size_t rb, const void *a, long c, float *o) { MK_SUFFIX(dotr_nibbles)(w, rb, a, c, 18, 0, 0, 8, 4, o); }
static void MK_SUFFIX(dotr4_q5_0_256)(const void *w, size_t rb, const void *a, long c, float *o) { MK_SUFFIX(dotr_nibbles)(w, rb, a, c, 22, 0, 1, 16, 4, o); }
static void MK_SUFFIX(dotr4_q2_K)(const void *w, size_t rb, const void *a, long c, float *o) { MK_SUFFIX(dotr_k256)(w, rb, a, c, 0, 4, o); }
static void MK_SUFFIX(dotr4_q3_K)(const void *w, size_t rb, const void *a, long c, float *o) { MK_SUFFIX(dotr_k256)(w, rb, a, c, 1, 4, o); }
static void MK_SUFFIX(dotr4_iq4_xs)(const void *w, size_t rb, const void *a, long c, float *o) { MK_SUFFIX(dotr_k256)(w, rb, a, c, 2, 4, o); }

#define MK_DOT1(name, call) \
    static float MK_SUFFIX(dot_##name)(const void *w, const void *a, long c) { float o; call(w, a, 0, c, 1, &o, 1); return o; } \
    static void MK_SUFFIX(dot4_##name)(const void *w, const uint8_t *a, size_t s, long c, float *o, long os) { call(w, a, s, c, 4, o, os); }
#define MK_CALL_Q2_K(w, a, s, c, n, o, os) MK_SUFFIX(dotn_q2_K)(w, a, s, c, n, o, os)
#define MK_CALL_Q3_K(w, a, s, c, n, o, os) MK_SUFFIX(dotn_q3_K)(w, a, s, c, n, o, os)
#define MK_CALL_IQ4_XS(w, a, s, c, n, o, os) MK_SUFFIX(dotn_iq4_xs)(w, a, s, c, n, o, os)
#define MK_CALL_IQ4_NL(w, a, s, c, n, o, os) MK_SUFFIX(dotn_table32)(w, a, s, c, n, 0, o, os)
#define MK_CALL_MXFP4(w, a, s, c, n, o, os) MK_SUFFIX(dotn_table32)(w, a, s, c, n, 1, o, os)
MK_DOT1(q2_K, MK_CALL_Q2_K)
MK_DOT1(q3_K, MK_CALL_Q3_K)
MK_DOT1(iq4_xs, MK_CALL_IQ4_XS)
MK_DOT1(iq4_nl, MK_CALL_IQ4_NL)
MK_DOT1(mxfp4, MK_CALL_MXFP4)
#undef MK_DOT1
#undef MK_CALL_Q2_K
#undef MK_CALL_Q3_K
#undef MK_CALL_IQ4_XS
#undef MK_CALL_IQ4_NL
#undef MK_CALL_MXFP4

// ---- Activation quantization (bit-identical to the portable code: both round half to even) -----------------

// 32 floats at x → 32 int8 at q with scale id; returns the sum of the int8 values.
static inline int MK_SUFFIX(quantize32)(const float *x, float id, int8_t *q) {
    __m256 s = _mm256_set1_ps(id);
    __m256i a = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x), s));
    __m256i b = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8), s));
    __m256i c = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16), s));
    __m256i d = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 24), s));
    __m256i sum = _mm256_add_epi32(_mm256_add_epi32(a, b), _mm256_add_epi32(c, d));
    // packs work within 128-bit lanes: (a0 b0 a1 b1) then bytes (a0 b0 c0 d0 a1 b1 c1 d1); permute back to order.
    __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
    __m256i bytes = _mm256_packs_epi16(ab, cd);
    bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)q, bytes);
    return MK_SUFFIX(hsum_i32)(sum);
}

static inline float MK_SUFFIX(absmax)(const float *x, long count) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_setzero_ps();
    for (long i = 0; i < count; i += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

static void MK_SUFFIX(quantize_q8a)(const float *x, mk_q8a *out, long blocks) {
    for (long b = 0; b < blocks; b++) {
        float amax = MK_SUFFIX(absmax)(x + 32 * b, 32);
        float d = amax / 127.0f, id = amax > 0 ? 127.0f / amax : 0.0f;
        out[b].d = d;
        out[b].s = d * (float)MK_SUFFIX(quantize32)(x + 32 * b, id, out[b].q);
    }
}

static void MK_SUFFIX(quantize_q8k)(const float *x, mk_q8k *out, long blocks) {
    for (long b = 0; b < blocks; b++) {
        const float *xb = x + 256 * b;
        float amax = MK_SUFFIX(absmax)(xb, 256);
        float d = amax / 127.0f, id = amax > 0 ? 127.0f / amax : 0.0f;
        out[b].d = d;
        for (int g = 0; g < 8; g++) {
            MK_SUFFIX(quantize32)(xb + 32 * g, id, out[b].q + 32 * g);
            // Sums of each 16 (the K-quants' min and bias terms).
            __m256i v = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(out[b].q + 32 * g)));
            __m256i w = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(out[b].q + 32 * g + 16)));
            __m256i ones = _mm256_set1_epi16(1);
            out[b].bsums[2 * g] = (int16_t)MK_SUFFIX(hsum_i32)(_mm256_madd_epi16(v, ones));
            out[b].bsums[2 * g + 1] = (int16_t)MK_SUFFIX(hsum_i32)(_mm256_madd_epi16(w, ones));
        }
    }
}

// ---- Attention for one query row -----------------------------------------------------------------------------

static inline void MK_SUFFIX(axpy)(float a, const float *x, float *y, long count) {
    __m256 s = _mm256_set1_ps(a);
    long i = 0;
    for (; i + 8 <= count; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(s, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < count; i++) y[i] += a * x[i];
}

// q against four rows at once (lengths a multiple of 8): four accumulators, one horizontal reduction for all four.
static inline void MK_SUFFIX(dot_f32_x4)(const float *q, const float *k0, const float *k1, const float *k2,
                                         const float *k3, long n, float *out) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (long i = 0; i < n; i += 8) {
        __m256 x = _mm256_loadu_ps(q + i);
        a0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(k0 + i), a0);
        a1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(k1 + i), a1);
        a2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(k2 + i), a2);
        a3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(k3 + i), a3);
    }
    __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    __m128 sum = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
    __m128 prev = _mm_loadu_ps(out);
    _mm_storeu_ps(out, _mm_add_ps(prev, sum));
}

static void MK_SUFFIX(attend)(const mk_attention *a, const float *q, const float *q2, float *scores, float *out) {
    const int second = q2 && a->key2_length;
    const int fast1 = a->key_length % 8 == 0, fast2 = !second || a->key2_length % 8 == 0;
    // Positions from `first` on (a sliding window starts mid-block).
    const long b0 = a->first / a->block_size;
    for (long p0 = b0 * a->block_size, b = b0; p0 < a->length; p0 += a->block_size, b++) {
        const uint8_t *block = a->blocks[b];
        long rows = a->length - p0 < a->block_size ? a->length - p0 : a->block_size;
        long r = p0 < a->first ? a->first - p0 : 0;
        if (fast1 && fast2) {
            // Four positions at a time.
            for (; r + 4 <= rows; r += 4) {
                float *s = scores + p0 + r;
                s[0] = s[1] = s[2] = s[3] = 0;
                const uint8_t *k = block + a->key_offset + r * a->key_stride;
                MK_SUFFIX(dot_f32_x4)(q, (const float *)k, (const float *)(k + a->key_stride),
                                      (const float *)(k + 2 * a->key_stride), (const float *)(k + 3 * a->key_stride),
                                      a->key_length, s);
                if (second) {
                    const uint8_t *k2 = block + a->key2_offset + r * a->key2_stride;
                    MK_SUFFIX(dot_f32_x4)(q2, (const float *)k2, (const float *)(k2 + a->key2_stride),
                                          (const float *)(k2 + 2 * a->key2_stride),
                                          (const float *)(k2 + 3 * a->key2_stride), a->key2_length, s);
                }
            }
        }
        for (; r < rows; r++) {
            float s = MK_SUFFIX(dot_f32)(q, block + a->key_offset + r * a->key_stride, a->key_length);
            if (second) s += MK_SUFFIX(dot_f32)(q2, block + a->key2_offset + r * a->key2_stride, a->key2_length);
            scores[p0 + r] = s;
        }
    }
    mk_softmax_sink(scores + a->first, a->length - a->first, a->scale, a->sink);
    long c0 = 0;
    // Values: 64 output columns at a time held in registers over every position.
    for (; c0 + 64 <= a->value_length; c0 += 64) {
        __m256 o0 = _mm256_setzero_ps(), o1 = o0, o2 = o0, o3 = o0, o4 = o0, o5 = o0, o6 = o0, o7 = o0;
        for (long p0 = b0 * a->block_size, b = b0; p0 < a->length; p0 += a->block_size, b++) {
            const uint8_t *block = (const uint8_t *)a->blocks[b] + a->value_offset + c0 * 4;
            long rows = a->length - p0 < a->block_size ? a->length - p0 : a->block_size;
            for (long r = p0 < a->first ? a->first - p0 : 0; r < rows; r++) {
                const float *v = (const float *)(block + r * a->value_stride);
                __m256 w = _mm256_set1_ps(scores[p0 + r]);
                o0 = _mm256_fmadd_ps(w, _mm256_loadu_ps(v), o0);
                o1 = _mm256_fmadd_ps(w, _mm256_loadu_ps(v + 8), o1);
                o2 = _mm256_fmadd_ps(w, _mm256_loadu_ps(v + 16), o2);
                o3 = _mm256_fmadd_ps(w, _mm256_loadu_ps(v + 24), o3);
                o4 = _mm256_fmadd_ps(w, _mm256_loadu_ps(v + 32), o4);
                o5 = _mm256_fmadd_ps(w, _mm256_loadu_ps(v + 40), o5);
                o6 = _mm256_fmadd_ps(w, _mm256_loadu_ps(v + 48), o6);
                o7 = _mm256_fmadd_ps(w, _mm256_loadu_ps(v + 56), o7);
            }
        }
        float *o = out + c0;
        _mm256_storeu_ps(o, o0); _mm256_storeu_ps(o + 8, o1); _mm256_storeu_ps(o + 16, o2); _mm256_storeu_ps(o + 24, o3);
        _mm256_storeu_ps(o + 32, o4); _mm256_storeu_ps(o + 40, o5); _mm256_storeu_ps(o + 48, o6); _mm256_storeu_ps(o + 56, o7);
    }
    if (c0 < a->value_length) {
        long rest = a->value_length - c0;
        memset(out + c0, 0, sizeof(float) * (size_t)rest);
        for (long p0 = b0 * a->block_size, b = b0; p0 < a->length; p0 += a->block_size, b++) {
            const uint8_t *block = (const uint8_t *)a->blocks[b] + a->value_offset + c0 * 4;
            long rows = a->length - p0 < a->block_size ? a->length - p0 : a->block_size;
            for (long r = p0 < a->first ? a->first - p0 : 0; r < rows; r++)
                MK_SUFFIX(axpy)(scores[p0 + r], (const float *)(block + r * a->value_stride), out + c0, rest);
        }
    }
}

// Σ x·y for a q8_0 row x and float y (the query against 8-bit keys, kept in float).
static float MK_SUFFIX(dot_q8f)(const void *w, const void *a, long cols) {
    const uint8_t *blk = w;
    const float *y = a;
    __m256 acc = _mm256_setzero_ps();
    for (long b = 0; b < cols / 32; b++, blk += 34) {
        const int8_t *q = (const int8_t *)(blk + 2);
        __m256 s = _mm256_setzero_ps();
        for (int j = 0; j < 32; j += 8) {
            __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(q + j))));
            s = _mm256_fmadd_ps(v, _mm256_loadu_ps(y + 32 * b + j), s);
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(mk_f16(mk_u16(blk))), s, acc);
    }
    return MK_SUFFIX(hsum)(acc);
}

// y += a · x for a row stored as f32, f16 or q8_0.
static void MK_SUFFIX(axpy_row)(uint32_t type, float a, const void *x, float *y, long count) {
    if (type == MK_F16) {
        const uint16_t *h = x;
        __m256 s = _mm256_set1_ps(a);
        long i = 0;
        for (; i + 8 <= count; i += 8) {
            __m256 v = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i)));
            _mm256_storeu_ps(y + i, _mm256_fmadd_ps(s, v, _mm256_loadu_ps(y + i)));
        }
        for (; i < count; i++) y[i] += a * mk_f16(h[i]);
    } else if (type == MK_Q8_0) {
        const uint8_t *blk = x;
        for (long b = 0; b < count / 32; b++, blk += 34) {
            __m256 d = _mm256_set1_ps(a * mk_f16(mk_u16(blk)));
            const int8_t *q = (const int8_t *)(blk + 2);
            for (int j = 0; j < 32; j += 8) {
                __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(q + j))));
                float *o = y + 32 * b + j;
                _mm256_storeu_ps(o, _mm256_fmadd_ps(d, v, _mm256_loadu_ps(o)));
            }
        }
    } else {
        MK_SUFFIX(axpy)(a, x, y, count);
    }
}

// ---- Grouped-query attention over f16 / q8_0 cache rows --------------------------------------------------------

// The same into L2 only.
static inline __attribute__((always_inline)) void MK_SUFFIX(prefetch_span_l2)(const uint8_t *p, int bytes) {
    for (int o = 0; o < bytes; o += 64) _mm_prefetch((const char *)p + o, _MM_HINT_T1);
}

// G vectors whose lane sums are the G query heads' dots with one stored key row of D elements. q8_0: each block's
// 32 bytes are converted without their scale and the block's partial sums scaled once (one multiply-add a head a
// block instead of a multiply per eight elements).
static inline __attribute__((always_inline)) void MK_SUFFIX(key_dots)(const uint8_t *k, const float *q, long q_stride,
                                                                     long D, const int G, const int q8, __m256 *acc) {
    for (int g = 0; g < G; g++) acc[g] = _mm256_setzero_ps();
    if (!q8) {
        for (long i = 0; i < D; i += 8) {
            __m256 x = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + 2 * i)));
            for (int g = 0; g < G; g++) acc[g] = _mm256_fmadd_ps(x, _mm256_loadu_ps(q + g * q_stride + i), acc[g]);
        }
        return;
    }
    for (long i = 0; i < D; i += 32) {
        const uint8_t *blk = k + (i / 32) * 34;
        __m256 part[8];
        for (int g = 0; g < G; g++) part[g] = _mm256_setzero_ps();
        for (int j = 0; j < 4; j++) {
            __m256 x = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(blk + 2 + 8 * j))));
            for (int g = 0; g < G; g++) part[g] = _mm256_fmadd_ps(x, _mm256_loadu_ps(q + g * q_stride + i + 8 * j), part[g]);
        }
        __m256 d = _mm256_set1_ps(mk_f16(mk_u16(blk)));
        for (int g = 0; g < G; g++) acc[g] = _mm256_fmadd_ps(part[g], d, acc[g]);
    }
}

// The lane sums of four vectors, in order.
static inline __m128 MK_SUFFIX(hsum4)(__m256 v0, __m256 v1, __m256 v2, __m256 v3) {
    __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(v0, v1), _mm256_hadd_ps(v2, v3));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// G query heads (rows q_stride floats apart) sharing one key/value head: each key row is converted once for the
// G dot products (four positions' sums reduced together), each value row once for the G weighted sums (G × NR
// accumulators of 8 columns in registers; a q8_0 block's scale multiplies the G weights instead of its values).
// scores: G rows of a->length floats. G and NR are constants at every call (the loops unroll).
static inline __attribute__((always_inline)) void MK_SUFFIX(attend_group)(const mk_attention *a, const float *q,
                                                                         long q_stride, const int G, const int NR,
                                                                         const int q8, const float *sinks,
                                                                         float *scores, float *out, long out_stride) {
    const long len = a->length, D = a->key_length, V = a->value_length;
    const long b0 = a->first / a->block_size;
    const int key_bytes = (int)(q8 ? D / 32 * 34 : 2 * D), value_bytes = (int)(q8 ? V / 32 * 34 : 2 * V);
    // The cached rows come from L3 (a batch's weights pass through L2 between layers) in blocks the hardware
    // prefetcher does not follow: each step of four rows fetches the same rows of the next block's keys and of this
    // block's values into L2 (a T0 prefetch, into L1, stalled on full miss buffers: batch-32 decode of the default
    // model 9.6 against 10.7 k tokens a CPU-second with T1, 9.2 k without prefetching; the whole block's rows at
    // once, rather than four at a time, 11.4 against 11.6-11.8 k).
    MK_SUFFIX(prefetch_span_l2)((const uint8_t *)a->blocks[b0] + a->key_offset,
                             (int)((len - b0 * a->block_size < a->block_size ? len - b0 * a->block_size : a->block_size) - 1)
                                 * (int)a->key_stride + key_bytes);
    for (long p0 = b0 * a->block_size, b = b0; p0 < len; p0 += a->block_size, b++) {
        const uint8_t *block = (const uint8_t *)a->blocks[b] + a->key_offset;
        long rows = len - p0 < a->block_size ? len - p0 : a->block_size;
        const uint8_t *next_keys = p0 + a->block_size < len ? (const uint8_t *)a->blocks[b + 1] + a->key_offset : NULL;
        const long next = len - p0 - a->block_size < a->block_size ? len - p0 - a->block_size : a->block_size;
        const uint8_t *values = (const uint8_t *)a->blocks[b] + a->value_offset;
        long r = p0 < a->first ? a->first - p0 : 0;
        // Rows before the window's first position are not read here, but the next block's are.
        if (next_keys && r > 0)
            MK_SUFFIX(prefetch_span_l2)(next_keys, (int)(((r < next ? r : next) - 1) * a->key_stride) + key_bytes);
        for (; r + 4 <= rows; r += 4) {
            // Spread over the block: the next block's keys and this block's values of the same four rows.
            if (next_keys && r < next)
                MK_SUFFIX(prefetch_span_l2)(next_keys + r * a->key_stride,
                                            (int)(((next - r < 4 ? next - r : 4) - 1) * a->key_stride) + key_bytes);
            MK_SUFFIX(prefetch_span_l2)(values + r * a->value_stride, (int)(3 * a->value_stride) + value_bytes);
            __m256 acc[4][8];
            for (int i = 0; i < 4; i++) MK_SUFFIX(key_dots)(block + (r + i) * a->key_stride, q, q_stride, D, G, q8, acc[i]);
            for (int g = 0; g < G; g++)
                _mm_storeu_ps(scores + g * len + p0 + r, MK_SUFFIX(hsum4)(acc[0][g], acc[1][g], acc[2][g], acc[3][g]));
        }
        for (; r < rows; r++) {
            if (next_keys && r < next) MK_SUFFIX(prefetch_span_l2)(next_keys + r * a->key_stride, key_bytes);
            MK_SUFFIX(prefetch_span_l2)(values + r * a->value_stride, value_bytes);
            __m256 acc[8];
            MK_SUFFIX(key_dots)(block + r * a->key_stride, q, q_stride, D, G, q8, acc);
            for (int g = 0; g < G; g++) scores[g * len + p0 + r] = MK_SUFFIX(hsum)(acc[g]);
        }
    }
    for (int g = 0; g < G; g++)
        mk_softmax_sink(scores + g * len + a->first, len - a->first, a->scale, sinks ? sinks[g] : a->sink);
    for (long c0 = 0; c0 < V; c0 += 8 * NR) {
        // The last chunk may be narrower (value lengths that are not a multiple of NR × 8): nr columns of eight.
        const long nr = V - c0 < 8 * NR ? (V - c0) / 8 : NR;
        __m256 acc[8][16];
        for (int g = 0; g < G; g++) for (int j = 0; j < NR; j++) acc[g][j] = _mm256_setzero_ps();
        for (long p0 = b0 * a->block_size, b = b0; p0 < len; p0 += a->block_size, b++) {
            const uint8_t *block = (const uint8_t *)a->blocks[b] + a->value_offset;
            long rows = len - p0 < a->block_size ? len - p0 : a->block_size;
            for (long r = p0 < a->first ? a->first - p0 : 0; r < rows; r++) {
                const uint8_t *v = block + r * a->value_stride;
                __m256 w[8], ws[8];
                for (int g = 0; g < G; g++) ws[g] = w[g] = _mm256_set1_ps(scores[g * len + p0 + r]);
                for (int j = 0; j < NR; j++) {
                    if (j >= nr) break;
                    const long i = c0 + 8 * j;
                    __m256 x;
                    if (q8) {
                        const uint8_t *blk = v + (i / 32) * 34;
                        if (j == 0 || i % 32 == 0) {
                            __m256 d = _mm256_set1_ps(mk_f16(mk_u16(blk)));
                            for (int g = 0; g < G; g++) ws[g] = _mm256_mul_ps(w[g], d);
                        }
                        x = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(blk + 2 + i % 32))));
                    } else {
                        x = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + 2 * i)));
                    }
                    for (int g = 0; g < G; g++) acc[g][j] = _mm256_fmadd_ps(ws[g], x, acc[g][j]);
                }
            }
        }
        for (int g = 0; g < G; g++)
            for (int j = 0; j < nr; j++) _mm256_storeu_ps(out + g * out_stride + c0 + 8 * j, acc[g][j]);
    }
}

// `heads` query heads sharing one key/value head, f16 or q8_0 rows (lengths multiples of 8), in groups of 8, 4, 2
// or 1 heads.
static void MK_SUFFIX(attend_heads)(const mk_attention *a, const float *q, long q_stride, int heads,
                                    const float *sinks, float *scores, float *out, long out_stride) {
    const int q8 = a->type == MK_Q8_0;
    // Value columns a pass: G × NR accumulators, 16 of the 32 vector registers at the VNNI level (a 64-wide value
    // head of a pair of query heads in one pass over the positions), 8 of the 16 at the AVX2 level.
#if MK_VNNI
#define MK_NR(G) (16 / (G))
#else
#define MK_NR(G) (8 / (G))
#endif
    for (int h = 0; h < heads;) {
        const int left = heads - h, G = left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
        const float *qh = q + h * q_stride, *sh = sinks ? sinks + h : NULL;
        float *oh = out + h * out_stride;
        switch (G * 2 + q8) {
        case 2: MK_SUFFIX(attend_group)(a, qh, q_stride, 1, MK_NR(1), 0, sh, scores, oh, out_stride); break;
        case 3: MK_SUFFIX(attend_group)(a, qh, q_stride, 1, MK_NR(1), 1, sh, scores, oh, out_stride); break;
        case 4: MK_SUFFIX(attend_group)(a, qh, q_stride, 2, MK_NR(2), 0, sh, scores, oh, out_stride); break;
        case 5: MK_SUFFIX(attend_group)(a, qh, q_stride, 2, MK_NR(2), 1, sh, scores, oh, out_stride); break;
        case 8: MK_SUFFIX(attend_group)(a, qh, q_stride, 4, MK_NR(4), 0, sh, scores, oh, out_stride); break;
        case 9: MK_SUFFIX(attend_group)(a, qh, q_stride, 4, MK_NR(4), 1, sh, scores, oh, out_stride); break;
        case 16: MK_SUFFIX(attend_group)(a, qh, q_stride, 8, MK_NR(8), 0, sh, scores, oh, out_stride); break;
        default: MK_SUFFIX(attend_group)(a, qh, q_stride, 8, MK_NR(8), 1, sh, scores, oh, out_stride); break;
        }
#undef MK_NR
        h += G;
    }
}

// ---- Storing keys and values as q8_0 ----------------------------------------------------------------------

// ggml's reference Q8_0 quantizer, bit for bit (LegacyQuants.quantizeQ8_0): d = amax / 127 stored as f16 (nearest,
// ties to even), q = x · (1 / d) rounded half away from zero.
static void MK_SUFFIX(quantize_q8_0_row)(const float *x, uint8_t *out, long count) {
    const __m256 sign = _mm256_set1_ps(-0.0f), half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    for (long b = 0; b < count / 32; b++, x += 32, out += 34) {
        __m256 v[4];
        for (int j = 0; j < 4; j++) v[j] = _mm256_loadu_ps(x + 8 * j);
        __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
                                 _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float d = _mm_cvtss_f32(m4) / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
        const uint16_t h = (uint16_t)_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(d), _MM_FROUND_TO_NEAREST_INT), 0);
        memcpy(out, &h, 2);
        __m256i q[4];
        for (int j = 0; j < 4; j++) {
            // Half away from zero: truncate, then step away from zero where the dropped part (exact) is ≥ 0.5.
            __m256 y = _mm256_mul_ps(v[j], _mm256_set1_ps(id));
            __m256 t = _mm256_round_ps(y, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            __m256 away = _mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_sub_ps(y, t)), half, _CMP_GE_OQ);
            t = _mm256_add_ps(t, _mm256_and_ps(away, _mm256_or_ps(one, _mm256_and_ps(sign, y))));
            q[j] = _mm256_cvtps_epi32(t);
        }
        __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(out + 2), p);
    }
}

#if MK_VNNI
// ---- 512-bit kernels for the VNNI level ----------------------------------------------------------------------

static inline float MK_SUFFIX(hsum512)(__m512 v) { return _mm512_reduce_add_ps(v); }

// The 8 six-bit scales (bytes 0..7) and mins (bytes 8..15) of a Q4_K/Q5_K super-block's 12 packed bytes.
static inline void MK_SUFFIX(unpack_scales)(const uint8_t *packed, uint32_t out[4]) {
    uint32_t u[3];
    memcpy(u, packed, 12);
    const uint32_t low6 = 0x3f3f3f3f, low4 = 0x0f0f0f0f, low2 = 0x03030303;
    out[0] = u[0] & low6;
    out[1] = (u[2] & low4) | (((u[0] >> 6) & low2) << 4);
    out[2] = u[1] & low6;
    out[3] = ((u[2] >> 4) & low4) | (((u[1] >> 6) & low2) << 4);
}


// The 8 six-bit scales (bytes 0..7) and mins (bytes 8..15) of Q4_K/Q5_K super-blocks, as unpack_scales computes
// them, for the super-block whose 12 packed bytes start each 128-bit lane of v (its bytes 12..15 are ignored): the
// dwords (u0, u2, u1, u2) give the low bits of each output dword (u2's high nibbles shifted down for dword 3), and
// (u0, u0, u1, u1) the top two bits of dwords 1 and 3 (bits 6-7 of each byte moved to bits 4-5 by a shift of 2 and
// a mask, which also drops the bits shifted in from the next byte).
static inline __attribute__((always_inline)) __m512i MK_SUFFIX(unpack_scales4)(__m512i v) {
    __m512i lo = _mm512_srlv_epi32(_mm512_shuffle_epi32(v, (_MM_PERM_ENUM)_MM_SHUFFLE(2, 1, 2, 0)),
                                   _mm512_broadcast_i32x4(_mm_setr_epi32(0, 0, 0, 4)));
    __m512i hi = _mm512_srli_epi32(_mm512_shuffle_epi32(v, (_MM_PERM_ENUM)_MM_SHUFFLE(1, 1, 0, 0)), 2);
    // (lo & lo_mask) | (hi & hi_mask): the masks are disjoint, so one ternary op with the two masks folded in
    // each lane's constant: bits of lo where lo_mask is set, of hi where hi_mask is set.
    const __m512i lo_mask = _mm512_broadcast_i32x4(_mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
    const __m512i hi_mask = _mm512_broadcast_i32x4(_mm_setr_epi32(0, 0x30303030, 0, 0x30303030));
    return _mm512_or_si512(_mm512_and_si512(lo, lo_mask), _mm512_and_si512(hi, hi_mask));
}

// R (1..4) weight rows (row_bytes apart) of Q4_K / Q5_K against one activation row: out[r]. The activation vectors
// are loaded once for the R rows and, with R > 1, the next R rows are prefetched. Every row goes through exactly the
// same operations whatever R is (rows past R repeat row 0 in the shared vectors and are dropped), so a row's result
// does not depend on how rows are grouped.
// Per super-block, the R rows' scale bytes, d and dmin are unpacked together, one row to a 128-bit lane
// (unpack_scales4, F16C), and their mins term is one multiply-add for all of them against the sums of each 32
// activations. Per row, the nibbles meet the activations by vpdpbusd (u4 × s8 in groups of four, at most
// 4 · 31 · 127 in magnitude), the sums of each group are packed to 16 bits and multiplied by their sub-block's
// scale and summed in pairs by vpmaddwd / vpdpwssd: six multiply-class operations a row and super-block against
// eight for maddubs + madd per sub-block (the Zen 4 host runs one 512-bit multiply a cycle). The integer sums are
// those of the scalar kernels; only the order of the float sums differs.
static inline __attribute__((always_inline)) void MK_SUFFIX(dotr_scale_min512)(const void *w, size_t row_bytes, const mk_q8k *a,
                                                                              long cols, int fifth, int R, float *out) {
    MK_NEXT_ROWS(w, row_bytes, R);
    const int bytes = fifth ? 176 : 144;
    const __m512i low4 = _mm512_set1_epi8(15), zero = _mm512_setzero_si512();
    // 16-bit lane k of packs(d0, d1) (d0: groups of four of sub-blocks 4k, 4k+2 in its low and high halves; d1:
    // 4k+1, 4k+3) belongs to 128-bit lane k / 8, of d0 for k % 8 < 4: sub-blocks (0, 1, 0, 1, 2, 3, 2, 3) by
    // quarter-lane for k = 0, then + 4 for packs(d2, d3). Word indices into a row's eight 16-bit scales.
    const __m512i ixp = _mm512_set_epi16(3, 3, 3, 3, 2, 2, 2, 2, 3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0);
    // Scale bytes 0..7 and min bytes 8..15 of each lane as 16-bit lanes (0x80: a zero byte).
    const __m512i ixsc = _mm512_broadcast_i32x4(_mm_setr_epi8(0, -128, 1, -128, 2, -128, 3, -128, 4, -128, 5, -128, 6, -128, 7, -128));
    const __m512i ixmn = _mm512_broadcast_i32x4(_mm_setr_epi8(8, -128, 9, -128, 10, -128, 11, -128, 12, -128, 13, -128, 14, -128, 15, -128));
    __m512 acc[4], mins = _mm512_setzero_ps();
    for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
    for (long b = 0; b < cols / 256; b++) {
        const mk_q8k *ab = &a[b];
        // Paired activations (formats.h): elements [0..31, 64..95] meet the low nibbles of the first 64 bytes,
        // [32..63, 96..127] the high ones, each one load.
        __m512i p0l = _mm512_loadu_si512((const void *)ab->q), p0h = _mm512_loadu_si512((const void *)(ab->q + 64));
        __m512i p1l = _mm512_loadu_si512((const void *)(ab->q + 128)), p1h = _mm512_loadu_si512((const void *)(ab->q + 192));
        // The sums of each 32 activations (sub-block j: bsums 2j and 2j+1, within 16 bits), in every lane.
        __m256i bs32 = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)ab->bsums), _mm256_set1_epi16(1));
        __m512i bs2 = _mm512_broadcast_i32x4(_mm_packs_epi32(_mm256_castsi256_si128(bs32), _mm256_extracti128_si256(bs32, 1)));
        const uint8_t *blk0 = (const uint8_t *)w + (size_t)b * bytes;
        const uint8_t *blk1 = R > 1 ? blk0 + row_bytes : blk0, *blk2 = R > 2 ? blk0 + 2 * row_bytes : blk0;
        const uint8_t *blk3 = R > 3 ? blk0 + 3 * row_bytes : blk0;
        // (d, dmin) of the rows, times the activations' scale: the products f16(d) · ab->d of the scalar kernels.
        __m256 dd = _mm256_mul_ps(_mm256_cvtph_ps(_mm_setr_epi32((int)mk_u32(blk0), (int)mk_u32(blk1), (int)mk_u32(blk2),
                                                                  (int)mk_u32(blk3))), _mm256_set1_ps(ab->d));
        __m512 ddz = _mm512_castps256_ps512(dd);
        __m512i raws = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(blk0 + 4)));
        raws = _mm512_inserti32x4(raws, _mm_loadu_si128((const __m128i *)(blk1 + 4)), 1);
        raws = _mm512_inserti32x4(raws, _mm_loadu_si128((const __m128i *)(blk2 + 4)), 2);
        raws = _mm512_inserti32x4(raws, _mm_loadu_si128((const __m128i *)(blk3 + 4)), 3);
        __m512i sm = MK_SUFFIX(unpack_scales4)(raws);
        // Σ min_j · (sum of sub-block j's activations), four int32 lanes a row, times that row's dmin.
        __m512i mi = _mm512_madd_epi16(_mm512_shuffle_epi8(sm, ixmn), bs2);
        __m512 dmin = _mm512_permutexvar_ps(_mm512_set_epi32(7, 7, 7, 7, 5, 5, 5, 5, 3, 3, 3, 3, 1, 1, 1, 1), ddz);
        mins = _mm512_fmadd_ps(dmin, _mm512_cvtepi32_ps(mi), mins);
        // Each row's eight scales as 16-bit lanes, row r in 128-bit lane r.
        __m512i sc16 = _mm512_shuffle_epi8(sm, ixsc);
#pragma clang loop unroll(full)
        for (int r = 0; r < R; r++) {
            const uint8_t *blk = blk0 + (size_t)r * row_bytes;
            if (R > 1) MK_SUFFIX(prefetch_next)(pn, pf, (size_t)(b * R + r) * bytes, bytes);
            const __m512i row = _mm512_set1_epi16((short)(8 * r));
            __m512i s01 = _mm512_permutexvar_epi16(_mm512_add_epi16(ixp, row), sc16);
            __m512i s23 = _mm512_permutexvar_epi16(_mm512_add_epi16(ixp, _mm512_add_epi16(row, _mm512_set1_epi16(4))), sc16);
            const uint8_t *qs = blk + (fifth ? 48 : 16);
            __m512i raw0 = _mm512_loadu_si512((const void *)qs), raw1 = _mm512_loadu_si512((const void *)(qs + 64));
            __m512i q0 = _mm512_and_si512(raw0, low4), q1 = _mm512_and_si512(_mm512_srli_epi16(raw0, 4), low4);
            __m512i q2 = _mm512_and_si512(raw1, low4), q3 = _mm512_and_si512(_mm512_srli_epi16(raw1, 4), low4);
            if (fifth) {
                // Fifth bits: bit 2g (low nibbles) and 2g+1 (high) of qh[l] for group g = 2k (first 32 lanes) or
                // 2k+1 (last 32) of 64-byte step k.
                __m512i qh = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(blk + 16))),
                                                _mm256_loadu_si256((const __m256i *)(blk + 16)), 1);
                const __m512i sixteen = _mm512_set1_epi8(16);
                __m512i m0 = _mm512_inserti64x4(_mm512_set1_epi8(1), _mm256_set1_epi8(4), 1);
                q0 = _mm512_or_si512(q0, _mm512_maskz_mov_epi8(_mm512_test_epi8_mask(qh, m0), sixteen));
                q1 = _mm512_or_si512(q1, _mm512_maskz_mov_epi8(_mm512_test_epi8_mask(qh, _mm512_add_epi8(m0, m0)), sixteen));
                __m512i m2 = _mm512_inserti64x4(_mm512_set1_epi8(16), _mm256_set1_epi8(64), 1);
                q2 = _mm512_or_si512(q2, _mm512_maskz_mov_epi8(_mm512_test_epi8_mask(qh, m2), sixteen));
                q3 = _mm512_or_si512(q3, _mm512_maskz_mov_epi8(_mm512_test_epi8_mask(qh, _mm512_add_epi8(m2, m2)), sixteen));
            }
            __m512i d0 = _mm512_dpbusd_epi32(zero, q0, p0l), d1 = _mm512_dpbusd_epi32(zero, q1, p0h);
            __m512i d2 = _mm512_dpbusd_epi32(zero, q2, p1l), d3 = _mm512_dpbusd_epi32(zero, q3, p1h);
            __m512i sumi = _mm512_madd_epi16(_mm512_packs_epi32(d0, d1), s01);
            sumi = _mm512_dpwssd_epi32(sumi, _mm512_packs_epi32(d2, d3), s23);
            __m512 d = _mm512_permutexvar_ps(_mm512_set1_epi32(2 * r), ddz);
            acc[r] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(sumi), acc[r]);
        }
    }
    // Each row's four mins lanes, summed in one order for every R: (m0 + m1) + (m2 + m3).
    __m128 mh = _mm_hadd_ps(_mm_hadd_ps(_mm512_castps512_ps128(mins), _mm512_extractf32x4_ps(mins, 1)),
                            _mm_hadd_ps(_mm512_extractf32x4_ps(mins, 2), _mm512_extractf32x4_ps(mins, 3)));
    float m[4];
    _mm_storeu_ps(m, mh);
    for (int r = 0; r < R; r++) out[r] = MK_SUFFIX(hsum512)(acc[r]) - m[r];
}

static inline __attribute__((always_inline)) float MK_SUFFIX(dot_scale_min512)(const void *w, const mk_q8k *a, long cols, int fifth) {
    float out;
    MK_SUFFIX(dotr_scale_min512)(w, 0, a, cols, fifth, 1, &out);
    return out;
}

// Two consecutive Q8_0 / Q4_0 / Q5_0 blocks' values as one vector of unsigned bytes: Q8_0 + 128, Q4_0 0..15,
// Q5_0 0..31 (the value plus 128, 8 or 16).
static inline __attribute__((always_inline)) __m512i MK_SUFFIX(legacy_pair512)(const uint8_t *b0, const uint8_t *b1, int kind) {
    if (kind == 0) {
        __m512i wv = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(b0 + 2))),
                                        _mm256_loadu_si256((const __m256i *)(b1 + 2)), 1);
        return _mm512_xor_si512(wv, _mm512_set1_epi8((char)0x80));
    }
    const uint8_t *q0 = b0 + (kind == 2 ? 6 : 2), *q1 = b1 + (kind == 2 ? 6 : 2);
    // [q0, q0, q1, q1] in the four 128-bit lanes, the second and fourth shifted right by 4, masked to nibbles:
    // elements 0-15 and 16-31 of each block in order.
    __m512i raw = _mm512_mask_broadcast_i32x4(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)q0)), 0xFF00,
                                              _mm_loadu_si128((const __m128i *)q1));
    __m512i wv = _mm512_and_si512(_mm512_mask_srli_epi16(raw, 0xFF00FF00u, raw, 4), _mm512_set1_epi8(15));
    if (kind == 2) {
        uint32_t h0, h1;
        memcpy(&h0, b0 + 2, 4);
        memcpy(&h1, b1 + 2, 4);
        wv = _mm512_mask_add_epi8(wv, ((__mmask64)h1 << 32) | h0, wv, _mm512_set1_epi8(16));
    }
    return wv;
}

// R weight rows (row_bytes apart) of Q5_0 / Q4_0 / Q8_0 against one activation row, two blocks per 512-bit vector;
// with R > 1 the activation pairs are shared and the next R rows prefetched. A row's operations do not depend on R.
// Every format's weights are read as unsigned bytes (Q8_0 + 128, Q4_0 0..15, Q5_0 0..31) and the offset (128, 8 or
// 16 times the activations' sum per group of four) starts the integer accumulator, computed once per pair of blocks
// for the R rows: for Q8_0 one xor a row instead of moving the weights' signs onto the activations (three
// operations a row). The integer sums are exact either way, so the results are bit for bit those of the
// sign-moving form. (The block scales stay scalar products: one vector multiply a row instead measured slower.)
static inline __attribute__((always_inline)) void MK_SUFFIX(dotr_legacy512)(const void *w, size_t row_bytes, const mk_q8a *a,
                                                                           long cols, int kind, int R, float *out) {
    MK_NEXT_ROWS(w, row_bytes, R);
    // kind: 0 q8_0 (34 bytes), 1 q4_0 (18), 2 q5_0 (22)
    const int bytes = kind == 0 ? 34 : kind == 1 ? 18 : 22;
    const long nb = cols / 32;
    __m512 acc[4];
    for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
    const __m512i zero = _mm512_setzero_si512();
    const __m512i bias = _mm512_set1_epi8((char)(kind == 0 ? 128 : kind == 2 ? 16 : 8));
    long b = 0;
    for (; b + 2 <= nb; b += 2) {
        __m512i av = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)a[b].q)),
                                _mm256_loadu_si256((const __m256i *)a[b + 1].q), 1);
        // −bias · Σa per group of four: Σ(w_unsigned − bias)·a = dpbusd(this, w_unsigned, a).
        __m512i start = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, bias, av));
        for (int r = 0; r < R; r++) {
            const uint8_t *b0 = (const uint8_t *)w + (size_t)r * row_bytes + (size_t)b * bytes, *b1 = b0 + bytes;
            if (R > 1) MK_SUFFIX(prefetch_next)(pn, pf, (size_t)(b / 2 * R + r) * 2 * bytes, 2 * bytes);
            __m512 scale = _mm512_insertf32x8(_mm512_set1_ps(mk_f16(mk_u16(b0)) * a[b].d), _mm256_set1_ps(mk_f16(mk_u16(b1)) * a[b + 1].d), 1);
            __m512i p = _mm512_dpbusd_epi32(start, MK_SUFFIX(legacy_pair512)(b0, b1, kind), av);
            acc[r] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(p), acc[r]);
        }
    }
    for (int r = 0; r < R; r++) {
        float sum = MK_SUFFIX(hsum512)(acc[r]);
        if (b < nb) {
            const uint8_t *blk = (const uint8_t *)w + (size_t)r * row_bytes + (size_t)b * bytes;
            if (kind == 0) sum += MK_SUFFIX(dot_q8_0)(blk, &a[b], 32);
            else if (kind == 1) sum += MK_SUFFIX(dot_q4_0)(blk, &a[b], 32);
            else sum += MK_SUFFIX(dot_q5_0)(blk, &a[b], 32);
        }
        out[r] = sum;
    }
}

static inline __attribute__((always_inline)) float MK_SUFFIX(dot_legacy512)(const void *w, const mk_q8a *a, long cols, int kind) {
    float out;
    MK_SUFFIX(dotr_legacy512)(w, 0, a, cols, kind, 1, &out);
    return out;
}

// Four activation rows against one weight row: the weights are unpacked once for all four (prefill, batches).
static inline __attribute__((always_inline)) void MK_SUFFIX(dot4_scale_min512)(const void *w, const uint8_t *act, size_t stride, long cols, int fifth,
                                                float *out, long out_stride) {
    const uint8_t *blk = w;
    const int bytes = fifth ? 176 : 144;
    const __m512i low4 = _mm512_set1_epi8(15), zero = _mm512_setzero_si512();
    __m512 acc[4];
    __m256 mins[4];
    for (int t = 0; t < 4; t++) { acc[t] = _mm512_setzero_ps(); mins[t] = _mm256_setzero_ps(); }
    for (long b = 0; b < cols / 256; b++, blk += bytes) {
        float dw = mk_f16(mk_u16(blk)), dminw = mk_f16(mk_u16(blk + 2));
        uint32_t sm[4];
        MK_SUFFIX(unpack_scales)(blk + 4, sm);
        __m512i sc16 = _mm512_castsi256_si512(_mm256_cvtepu8_epi16(_mm_cvtsi64_si128(((int64_t)sm[1] << 32) | sm[0])));
        __m128i m8 = _mm_cvtsi64_si128(((int64_t)sm[3] << 32) | sm[2]);
        __m256i mdup = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));
        const uint8_t *qs = blk + (fifth ? 48 : 16);
        __m512i qh = fifth ? _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(blk + 16))),
                                                 _mm256_loadu_si256((const __m256i *)(blk + 16)), 1) : zero;
        __m512i lo[2], hi[2], slo[2], shi[2];
        for (int k = 0; k < 2; k++) {
            __m512i raw = _mm512_loadu_si512((const void *)(qs + 64 * k));
            lo[k] = _mm512_and_si512(raw, low4);
            hi[k] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), low4);
            if (fifth) {
                __m512i mlo = _mm512_inserti64x4(_mm512_set1_epi8((char)(1 << (4 * k))), _mm256_set1_epi8((char)(1 << (4 * k + 2))), 1);
                __m512i mhi = _mm512_inserti64x4(_mm512_set1_epi8((char)(2 << (4 * k))), _mm256_set1_epi8((char)(2 << (4 * k + 2))), 1);
                lo[k] = _mm512_or_si512(lo[k], _mm512_maskz_mov_epi8(_mm512_test_epi8_mask(qh, mlo), _mm512_set1_epi8(16)));
                hi[k] = _mm512_or_si512(hi[k], _mm512_maskz_mov_epi8(_mm512_test_epi8_mask(qh, mhi), _mm512_set1_epi8(16)));
            }
            slo[k] = _mm512_permutexvar_epi16(_mm512_inserti64x4(_mm512_set1_epi16((short)(4 * k)), _mm256_set1_epi16((short)(4 * k + 2)), 1), sc16);
            shi[k] = _mm512_permutexvar_epi16(_mm512_inserti64x4(_mm512_set1_epi16((short)(4 * k + 1)), _mm256_set1_epi16((short)(4 * k + 3)), 1), sc16);
        }
        for (int t = 0; t < 4; t++) {
            const mk_q8k *ab = (const mk_q8k *)(act + (size_t)t * stride) + b;
            __m256i mp = _mm256_madd_epi16(mdup, _mm256_loadu_si256((const __m256i *)ab->bsums));
            mins[t] = _mm256_fmadd_ps(_mm256_set1_ps(dminw * ab->d), _mm256_cvtepi32_ps(mp), mins[t]);
            __m512i sumi = zero;
            for (int k = 0; k < 2; k++) {
                sumi = _mm512_dpwssd_epi32(sumi, _mm512_maddubs_epi16(lo[k], _mm512_loadu_si512((const void *)(ab->q + 128 * k))), slo[k]);
                sumi = _mm512_dpwssd_epi32(sumi, _mm512_maddubs_epi16(hi[k], _mm512_loadu_si512((const void *)(ab->q + 128 * k + 64))), shi[k]);
            }
            acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(dw * ab->d), _mm512_cvtepi32_ps(sumi), acc[t]);
        }
    }
    for (int t = 0; t < 4; t++) out[t * out_stride] = MK_SUFFIX(hsum512)(acc[t]) - MK_SUFFIX(hsum)(mins[t]);
}

// Four activation rows against one row of Q8_0 / Q4_0 / Q5_0, two blocks per vector. Q8_0 weights are made
// unsigned (+128) so that the four rows need no sign juggling: Σ(w+128)·a − 128·Σa.
static inline __attribute__((always_inline)) void MK_SUFFIX(dot4_legacy512)(const void *w, const uint8_t *act, size_t stride, long cols, int kind,
                                             float *out, long out_stride) {
    const int bytes = kind == 0 ? 34 : kind == 1 ? 18 : 22;
    const float bias = kind == 0 ? 128.0f : kind == 1 ? 8.0f : 16.0f;
    const uint8_t *blk = w;
    const long nb = cols / 32;
    const __m512i zero = _mm512_setzero_si512();
    __m512 acc[4];
    float extra[4] = {0, 0, 0, 0};
    for (int t = 0; t < 4; t++) acc[t] = _mm512_setzero_ps();
    long b = 0;
    for (; b + 2 <= nb; b += 2, blk += 2 * bytes) {
        const uint8_t *b0 = blk, *b1 = blk + bytes;
        float d0 = mk_f16(mk_u16(b0)), d1 = mk_f16(mk_u16(b1));
        __m512i wv = MK_SUFFIX(legacy_pair512)(b0, b1, kind);
        for (int t = 0; t < 4; t++) {
            const mk_q8a *ab = (const mk_q8a *)(act + (size_t)t * stride) + b;
            __m512i av = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)ab[0].q)),
                                            _mm256_loadu_si256((const __m256i *)ab[1].q), 1);
            __m512i p = _mm512_dpbusd_epi32(zero, wv, av);
            __m512 scale = _mm512_insertf32x8(_mm512_set1_ps(d0 * ab[0].d), _mm256_set1_ps(d1 * ab[1].d), 1);
            acc[t] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(p), acc[t]);
            extra[t] -= bias * (d0 * ab[0].s + d1 * ab[1].s);
        }
    }
    for (int t = 0; t < 4; t++) {
        float sum = MK_SUFFIX(hsum512)(acc[t]) + extra[t];
        if (b < nb) {
            const mk_q8a *ab = (const mk_q8a *)(act + (size_t)t * stride) + b;
            if (kind == 0) sum += MK_SUFFIX(dot_q8_0)(blk, ab, 32);
            else if (kind == 1) sum += MK_SUFFIX(dot_q4_0)(blk, ab, 32);
            else sum += MK_SUFFIX(dot_q5_0)(blk, ab, 32);
        }
        out[t * out_stride] = sum;
    }
}

static void MK_SUFFIX(dot4_q4_K)(const void *w, const uint8_t *a, size_t s, long c, float *o, long os) { MK_SUFFIX(dot4_scale_min512)(w, a, s, c, 0, o, os); }
static void MK_SUFFIX(dot4_q5_K)(const void *w, const uint8_t *a, size_t s, long c, float *o, long os) { MK_SUFFIX(dot4_scale_min512)(w, a, s, c, 1, o, os); }
static void MK_SUFFIX(dot4_q8_0)(const void *w, const uint8_t *a, size_t s, long c, float *o, long os) { MK_SUFFIX(dot4_legacy512)(w, a, s, c, 0, o, os); }

static void MK_SUFFIX(dot4_q4_0)(const void *w, const uint8_t *a, size_t s, long c, float *o, long os) { MK_SUFFIX(dot4_legacy512)(w, a, s, c, 1, o, os); }
static void MK_SUFFIX(dot4_q5_0)(const void *w, const uint8_t *a, size_t s, long c, float *o, long os) { MK_SUFFIX(dot4_legacy512)(w, a, s, c, 2, o, os); }

// IQ4_NL / MXFP4, 512-bit: two blocks per vector, the 64 nibbles looked up in the format's table (vpshufb, the
// table in every 128-bit lane). Each block's 16 bytes are broadcast to two lanes and the second shifted right by
// 4 (the bits shifted in from the next byte are masked off with the rest), so that the lanes hold the low nibbles
// (elements 0..15) then the high nibbles (16..31) of block 0, then of block 1: the order of two activation blocks.
static inline __attribute__((always_inline)) __m512i MK_SUFFIX(table_pair512)(const uint8_t *q0, const uint8_t *q1, __m512i table) {
    __m512i raw = _mm512_mask_broadcast_i32x4(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)q0)), 0xFF00,
                                              _mm_loadu_si128((const __m128i *)q1));
    raw = _mm512_mask_srli_epi16(raw, 0xFF00FF00u, raw, 4);
    return _mm512_shuffle_epi8(table, _mm512_and_si512(raw, _mm512_set1_epi8(15)));
}

static inline __m512i MK_SUFFIX(table512)(int mxfp4) {
    return _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(mxfp4 ? mk_mxfp4_values : mk_iq4nl_values)));
}

// A block's scale: MXFP4's E8M0 byte (halved, for the doubled table) or IQ4_NL's f16.
static inline float MK_SUFFIX(table_scale)(const uint8_t *blk, int mxfp4) { return mxfp4 ? mk_e8m0_table[blk[0]] : mk_f16(mk_u16(blk)); }

// Four weight rows (row_bytes apart) of a 32-element format against four activation rows: out[t·os + r] for t, r in
// 0..3. kind: 0 Q8_0, 1 Q4_0, 2 Q5_0, 3 IQ4_NL, 4 MXFP4. Each unpacked pair of weight blocks serves four activation
// rows and each activation pair four weight rows. Weights are unsigned for vpdpbusd (Q8_0 +128, Q4_0 0..15 for
// q−8, Q5_0 0..31 for q−16, the IQ4_NL/MXFP4 table looked up +128); each accumulator lane starts at −bias·Σa of
// its four activation bytes, so it ends as the exact signed dot and no correction is left. cols: a multiple of 64.
static inline __attribute__((always_inline)) void MK_SUFFIX(dot4x4_pair512)(const void *w, size_t row_bytes,
        const uint8_t *act, size_t stride, long cols, int kind, float *out, long os) {
    const int table_kind = kind >= 3, mxfp4 = kind == 4;
    const int bytes = kind == 0 ? 34 : kind == 1 ? 18 : kind == 2 ? 22 : mxfp4 ? 17 : 18, off = mxfp4 ? 1 : 2;
    const long nb = cols / 32;
    const __m512i zero = _mm512_setzero_si512();
    const __m512i bias = _mm512_set1_epi8((char)(kind == 1 ? 8 : kind == 2 ? 16 : 128));
    const __m512i table = table_kind ? _mm512_xor_si512(MK_SUFFIX(table512)(mxfp4), bias) : zero;
    __m512 acc[4][4];
    for (int r = 0; r < 4; r++) for (int t = 0; t < 4; t++) acc[r][t] = _mm512_setzero_ps();
    for (long b = 0; b < nb; b += 2) {
        __m512i av[4], an[4];
        __m512 da[4];
        for (int t = 0; t < 4; t++) {
            const mk_q8a *ab = (const mk_q8a *)(act + (size_t)t * stride) + b;
            av[t] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)ab[0].q)),
                                       _mm256_loadu_si256((const __m256i *)ab[1].q), 1);
            an[t] = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, bias, av[t]));
            da[t] = _mm512_insertf32x8(_mm512_set1_ps(ab[0].d), _mm256_set1_ps(ab[1].d), 1);
        }
        for (int r = 0; r < 4; r++) {
            const uint8_t *b0 = (const uint8_t *)w + (size_t)r * row_bytes + (size_t)b * bytes, *b1 = b0 + bytes;
            __m512i wv = table_kind ? MK_SUFFIX(table_pair512)(b0 + off, b1 + off, table) : MK_SUFFIX(legacy_pair512)(b0, b1, kind);
            __m512 dw = table_kind ? _mm512_insertf32x8(_mm512_set1_ps(MK_SUFFIX(table_scale)(b0, mxfp4)),
                                                        _mm256_set1_ps(MK_SUFFIX(table_scale)(b1, mxfp4)), 1)
                                   : _mm512_insertf32x8(_mm512_set1_ps(mk_f16(mk_u16(b0))), _mm256_set1_ps(mk_f16(mk_u16(b1))), 1);
            for (int t = 0; t < 4; t++) {
                __m512i p = _mm512_dpbusd_epi32(an[t], wv, av[t]);
                acc[r][t] = _mm512_fmadd_ps(_mm512_mul_ps(dw, da[t]), _mm512_cvtepi32_ps(p), acc[r][t]);
            }
        }
    }
    for (int t = 0; t < 4; t++)
        for (int r = 0; r < 4; r++) out[t * os + r] = MK_SUFFIX(hsum512)(acc[r][t]);
}

// R weight rows (row_bytes apart) of IQ4_NL / MXFP4 against one activation row: the table looked up with 128 added
// (unsigned), the lanes started at −128·Σa (as in the 4×4 tiles), four blocks per step into two accumulators a row;
// with R > 1 the activations are shared and the next R rows prefetched. A row's operations do not depend on R.
static inline __attribute__((always_inline)) void MK_SUFFIX(dotr_table512)(const void *w, size_t row_bytes, const mk_q8a *a,
                                                                          long cols, int mxfp4, int R, float *out) {
    MK_NEXT_ROWS(w, row_bytes, R);
    const int bytes = mxfp4 ? 17 : 18, off = mxfp4 ? 1 : 2;
    const long nb = cols / 32;
    const __m512i zero = _mm512_setzero_si512(), bias = _mm512_set1_epi8((char)0x80);
    const __m512i table = _mm512_xor_si512(MK_SUFFIX(table512)(mxfp4), bias);
    __m512 acc0[4], acc1[4];
    for (int r = 0; r < R; r++) { acc0[r] = _mm512_setzero_ps(); acc1[r] = acc0[r]; }
    long b = 0;
    for (; b + 4 <= nb; b += 4) {
        __m512i av0 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)a[b].q)), _mm256_loadu_si256((const __m256i *)a[b + 1].q), 1);
        __m512i av1 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)a[b + 2].q)), _mm256_loadu_si256((const __m256i *)a[b + 3].q), 1);
        __m512i an0 = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, bias, av0));
        __m512i an1 = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, bias, av1));
        for (int r = 0; r < R; r++) {
            const uint8_t *blk = (const uint8_t *)w + (size_t)r * row_bytes + (size_t)b * bytes;
            if (R > 1) MK_SUFFIX(prefetch_next)(pn, pf, (size_t)(b / 4 * R + r) * 4 * bytes, 4 * bytes);
            __m512i w0 = MK_SUFFIX(table_pair512)(blk + off, blk + bytes + off, table);
            __m512i w1 = MK_SUFFIX(table_pair512)(blk + 2 * bytes + off, blk + 3 * bytes + off, table);
            __m512i p0 = _mm512_dpbusd_epi32(an0, w0, av0);
            __m512i p1 = _mm512_dpbusd_epi32(an1, w1, av1);
            __m512 s0 = _mm512_insertf32x8(_mm512_set1_ps(MK_SUFFIX(table_scale)(blk, mxfp4) * a[b].d),
                                           _mm256_set1_ps(MK_SUFFIX(table_scale)(blk + bytes, mxfp4) * a[b + 1].d), 1);
            __m512 s1 = _mm512_insertf32x8(_mm512_set1_ps(MK_SUFFIX(table_scale)(blk + 2 * bytes, mxfp4) * a[b + 2].d),
                                           _mm256_set1_ps(MK_SUFFIX(table_scale)(blk + 3 * bytes, mxfp4) * a[b + 3].d), 1);
            acc0[r] = _mm512_fmadd_ps(s0, _mm512_cvtepi32_ps(p0), acc0[r]);
            acc1[r] = _mm512_fmadd_ps(s1, _mm512_cvtepi32_ps(p1), acc1[r]);
        }
    }
    for (int r = 0; r < R; r++) {
        float rest = 0;
        if (b < nb) MK_SUFFIX(dotn_table32)((const uint8_t *)w + (size_t)r * row_bytes + (size_t)b * bytes,
                                            (const uint8_t *)(a + b), 0, 32 * (nb - b), 1, mxfp4, &rest, 1);
        out[r] = MK_SUFFIX(hsum512)(_mm512_add_ps(acc0[r], acc1[r])) + rest;
    }
}

static inline __attribute__((always_inline)) float MK_SUFFIX(dot1_table512)(const void *w, const mk_q8a *a, long cols, int mxfp4) {
    float out;
    MK_SUFFIX(dotr_table512)(w, 0, a, cols, mxfp4, 1, &out);
    return out;
}

static float MK_SUFFIX(dot_iq4_nl_512)(const void *w, const void *a, long c) { return MK_SUFFIX(dot1_table512)(w, a, c, 0); }
static float MK_SUFFIX(dot_mxfp4_512)(const void *w, const void *a, long c) { return MK_SUFFIX(dot1_table512)(w, a, c, 1); }
static void MK_SUFFIX(dot4x4_q8_0)(const void *w, size_t rb, const uint8_t *a, size_t s, long c, float *o, long os) { MK_SUFFIX(dot4x4_pair512)(w, rb, a, s, c, 0, o, os); }
static void MK_SUFFIX(dot4x4_q4_0)(const void *w, size_t rb, const uint8_t *a, size_t s, long c, float *o, long os) { MK_SUFFIX(dot4x4_pair512)(w, rb, a, s, c, 1, o, os); }
static void MK_SUFFIX(dot4x4_q5_0)(const void *w, size_t rb, const uint8_t *a, size_t s, long c, float *o, long os) { MK_SUFFIX(dot4x4_pair512)(w, rb, a, s, c, 2, o, os); }
static void MK_SUFFIX(dot4x4_iq4_nl)(const void *w, size_t rb, const uint8_t *a, size_t s, long c, float *o, long os) { MK_SUFFIX(dot4x4_pair512)(w, rb, a, s, c, 3, o, os); }
static void MK_SUFFIX(dot4x4_mxfp4)(const void *w, size_t rb, const uint8_t *a, size_t s, long c, float *o, long os) { MK_SUFFIX(dot4x4_pair512)(w, rb, a, s, c, 4, o, os); }

// A Q6_K block (210 bytes at blk), 512-bit: q[k] the 6-bit values of elements 64k..64k+63 (per 128-element half,
// the 64 bytes of ql give 0..63 low nibbles then 64..127 high nibbles, qh bits 4-5), s[k] the int16 scale of each
// 16-bit lane of their pair products, sc16 the 16 scales.
static inline __attribute__((always_inline)) void MK_SUFFIX(q6_K_unpack512)(const uint8_t *blk, __m512i q[4], __m512i s[4],
                                                                           __m256i *sc16) {
    const __m512i low4 = _mm512_set1_epi8(15), m30 = _mm512_set1_epi8(0x30);
    // 16-bit lanes 0..15 (first 32 bytes) and 16..31 (last 32 bytes) shift differently.
    const __m512i shl = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
    const __m512i shr = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);
    // 16-bit lane i of a product vector belongs to sub-block i / 8 of its 64 elements.
    const __m512i oct = _mm512_cvtepu8_epi16(_mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                                              2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
    *sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(blk + 192)));
    __m512i sc = _mm512_castsi256_si512(*sc16);
    for (int h = 0; h < 2; h++) {
        __m512i la = _mm512_loadu_si512((const void *)(blk + 64 * h));
        __m256i qh1 = _mm256_loadu_si256((const __m256i *)(blk + 128 + 32 * h));
        __m512i qh = _mm512_inserti64x4(_mm512_castsi256_si512(qh1), qh1, 1);
        q[2 * h] = _mm512_or_si512(_mm512_and_si512(la, low4), _mm512_and_si512(_mm512_sllv_epi16(qh, shl), m30));
        q[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(la, 4), low4),
                                       _mm512_and_si512(_mm512_srlv_epi16(qh, shr), m30));
        s[2 * h] = _mm512_permutexvar_epi16(_mm512_add_epi16(oct, _mm512_set1_epi16((short)(8 * h))), sc);
        s[2 * h + 1] = _mm512_permutexvar_epi16(_mm512_add_epi16(oct, _mm512_set1_epi16((short)(8 * h + 4))), sc);
    }
}

// Σ scale·q·a of an unpacked Q6_K block against 256 activations: u6 × s8 pairs (maddubs, at most 2·63·128), × the
// sub-block's scale, summed and accumulated by vpdpwssd in two chains.
static inline __attribute__((always_inline)) __m512i MK_SUFFIX(q6_K_sum512)(const __m512i q[4], const __m512i s[4], const int8_t *a) {
    __m512i s02 = _mm512_setzero_si512(), s13 = s02;
    for (int k = 0; k < 4; k += 2) {
        s02 = _mm512_dpwssd_epi32(s02, _mm512_maddubs_epi16(q[k], _mm512_loadu_si512((const void *)(a + 64 * k))), s[k]);
        s13 = _mm512_dpwssd_epi32(s13, _mm512_maddubs_epi16(q[k + 1], _mm512_loadu_si512((const void *)(a + 64 * k + 64))), s[k + 1]);
    }
    return _mm512_add_epi32(s02, s13);
}

// Q6_K, 512-bit, one weight row against `count` activation rows (1..4), which share the unpacking.
static inline __attribute__((always_inline)) void MK_SUFFIX(dotn_q6_K_512)(const void *w, const uint8_t *act,
        size_t stride, long cols, int count, float *out, long out_stride) {
    const uint8_t *blk = w;
    __m512 acc[4];
    __m256 bias[4];
    for (int t = 0; t < count; t++) { acc[t] = _mm512_setzero_ps(); bias[t] = _mm256_setzero_ps(); }
    for (long b = 0; b < cols / 256; b++, blk += 210) {
        float dw = mk_f16(mk_u16(blk + 208));
        __m512i q[4], s[4];
        __m256i sc16;
        MK_SUFFIX(q6_K_unpack512)(blk, q, s, &sc16);
        for (int t = 0; t < count; t++) {
            const mk_q8k *ab = (const mk_q8k *)(act + (size_t)t * stride) + b;
            float d = dw * ab->d;
            acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(MK_SUFFIX(q6_K_sum512)(q, s, ab->q)), acc[t]);
            __m256i sb = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)ab->bsums), sc16);
            bias[t] = _mm256_fmadd_ps(_mm256_set1_ps(32.0f * d), _mm256_cvtepi32_ps(sb), bias[t]);
        }
    }
    for (int t = 0; t < count; t++) out[t * out_stride] = MK_SUFFIX(hsum512)(acc[t]) - MK_SUFFIX(hsum)(bias[t]);
}

// R weight rows (row_bytes apart) of Q6_K against one activation row, the next R rows prefetched when R > 1; a row's
// operations do not depend on R. The unpacked 6-bit values meet the activations by vpdpbusd (groups of four, at
// most 4 · 63 · 127 in magnitude), the group sums of two vectors are packed to 16 bits and multiplied by their
// sub-block's scale and summed in pairs by vpmaddwd / vpdpwssd (six multiply-class operations a row and super-block
// against eight for maddubs + vpdpwssd on each vector), and the −32 offset (32 · Σ scale · bsum) is subtracted in
// the integers before the one conversion to float.
static inline __attribute__((always_inline)) void MK_SUFFIX(dotr_q6_K_512)(const void *w, size_t row_bytes, const mk_q8k *a,
                                                                          long cols, int R, float *out) {
    MK_NEXT_ROWS(w, row_bytes, R);
    const __m512i low4 = _mm512_set1_epi8(15), m30 = _mm512_set1_epi8(0x30), zero = _mm512_setzero_si512();
    // 16-bit lanes 0..15 (first 32 bytes) and 16..31 (last 32 bytes) of the high bits shift differently.
    const __m512i shl = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
    const __m512i shr = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);
    // 128-bit lane L of the vector of elements 64k.. holds sub-block 4k + L; word j of lane L of packs(d_k, d_k+1) is
    // a group of sub-block 4k + L (j < 4) or 4k + 4 + L: the scale indices for k = 0 (then + 8 for k = 2).
    const __m512i ix01 = _mm512_set_epi16(7, 7, 7, 7, 3, 3, 3, 3, 6, 6, 6, 6, 2, 2, 2, 2, 5, 5, 5, 5, 1, 1, 1, 1, 4, 4, 4, 4, 0, 0, 0, 0);
    const __m512i ix23 = _mm512_add_epi16(ix01, _mm512_set1_epi16(8));
    __m512 acc[4];
    for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
    for (long b = 0; b < cols / 256; b++) {
        const mk_q8k *ab = &a[b];
        __m256i bsums = _mm256_loadu_si256((const __m256i *)ab->bsums);
        __m512i av[4];
        for (int k = 0; k < 4; k++) av[k] = _mm512_loadu_si512((const void *)(ab->q + 64 * k));
#pragma clang loop unroll(full)
        for (int r = 0; r < R; r++) {
            const uint8_t *blk = (const uint8_t *)w + (size_t)r * row_bytes + (size_t)b * 210;
            if (R > 1) MK_SUFFIX(prefetch_next)(pn, pf, (size_t)(b * R + r) * 210, 210);
            __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(blk + 192)));
            __m512i dk[4];
            for (int h = 0; h < 2; h++) {
                __m512i la = _mm512_loadu_si512((const void *)(blk + 64 * h));
                __m256i qh1 = _mm256_loadu_si256((const __m256i *)(blk + 128 + 32 * h));
                __m512i qh = _mm512_inserti64x4(_mm512_castsi256_si512(qh1), qh1, 1);
                __m512i qa = _mm512_or_si512(_mm512_and_si512(la, low4), _mm512_and_si512(_mm512_sllv_epi16(qh, shl), m30));
                __m512i qb = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(la, 4), low4),
                                             _mm512_and_si512(_mm512_srlv_epi16(qh, shr), m30));
                dk[2 * h] = _mm512_dpbusd_epi32(zero, qa, av[2 * h]);
                dk[2 * h + 1] = _mm512_dpbusd_epi32(zero, qb, av[2 * h + 1]);
            }
            __m512i sc = _mm512_castsi256_si512(sc16);
            __m512i sumi = _mm512_madd_epi16(_mm512_packs_epi32(dk[0], dk[1]), _mm512_permutexvar_epi16(ix01, sc));
            sumi = _mm512_dpwssd_epi32(sumi, _mm512_packs_epi32(dk[2], dk[3]), _mm512_permutexvar_epi16(ix23, sc));
            // − 32 · Σ scale · bsum, in the low eight lanes.
            sumi = _mm512_sub_epi32(sumi, _mm512_zextsi256_si512(_mm256_slli_epi32(_mm256_madd_epi16(bsums, sc16), 5)));
            float d = mk_f16(mk_u16(blk + 208)) * ab->d;
            acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(sumi), acc[r]);
        }
    }
    for (int r = 0; r < R; r++) out[r] = MK_SUFFIX(hsum512)(acc[r]);
}

static float MK_SUFFIX(dot_q6_K_512)(const void *w, const void *a, long c) {
    float out;
    MK_SUFFIX(dotr_q6_K_512)(w, 0, a, c, 1, &out);
    return out;
}
static void MK_SUFFIX(dot4_q6_K)(const void *w, const uint8_t *a, size_t s, long c, float *o, long os) { MK_SUFFIX(dotn_q6_K_512)(w, a, s, c, 4, o, os); }

static float MK_SUFFIX(dot_q4_K_512)(const void *w, const void *a, long c) { return MK_SUFFIX(dot_scale_min512)(w, a, c, 0); }
// Four weight rows against one activation row (decode), out[0..3].
static void MK_SUFFIX(dotr4_q4_K)(const void *w, size_t rb, const void *a, long c, float *o) { MK_SUFFIX(dotr_scale_min512)(w, rb, a, c, 0, 4, o); }
static void MK_SUFFIX(dotr4_q5_K)(const void *w, size_t rb, const void *a, long c, float *o) { MK_SUFFIX(dotr_scale_min512)(w, rb, a, c, 1, 4, o); }
static void MK_SUFFIX(dotr4_q6_K)(const void *w, size_t rb, const void *a, long c, float *o) { MK_SUFFIX(dotr_q6_K_512)(w, rb, a, c, 4, o); }
static void MK_SUFFIX(dotr4_q8_0)(const void *w, size_t rb, const void *a, long c, float *o) { MK_SUFFIX(dotr_legacy512)(w, rb, a, c, 0, 4, o); }
static void MK_SUFFIX(dotr4_q4_0)(const void *w, size_t rb, const void *a, long c, float *o) { MK_SUFFIX(dotr_legacy512)(w, rb, a, c, 1, 4, o); }
static void MK_SUFFIX(dotr4_q5_0)(const void *w, size_t rb, const void *a, long c, float *o) { MK_SUFFIX(dotr_legacy512)(w, rb, a, c, 2, 4, o); }
static void MK_SUFFIX(dotr4_iq4_nl)(const void *w, size_t rb, const void *a, long c, float *o) { MK_SUFFIX(dotr_table512)(w, rb, a, c, 0, 4, o); }
static void MK_SUFFIX(dotr4_mxfp4)(const void *w, size_t rb, const void *a, long c, float *o) { MK_SUFFIX(dotr_table512)(w, rb, a, c, 1, 4, o); }
static float MK_SUFFIX(dot_q5_K_512)(const void *w, const void *a, long c) { return MK_SUFFIX(dot_scale_min512)(w, a, c, 1); }
static float MK_SUFFIX(dot_q8_0_512)(const void *w, const void *a, long c) { return MK_SUFFIX(dot_legacy512)(w, a, c, 0); }
static float MK_SUFFIX(dot_q4_0_512)(const void *w, const void *a, long c) { return MK_SUFFIX(dot_legacy512)(w, a, c, 1); }
static float MK_SUFFIX(dot_q5_0_512)(const void *w, const void *a, long c) { return MK_SUFFIX(dot_legacy512)(w, a, c, 2); }

// ---- Many activation rows: a GEMM micro-kernel on eight-row activation panels ------------------------------
// For the 32-element formats (Q8_0, Q4_0, Q5_0, IQ4_NL, MXFP4) against five or more activation rows (batched
// decode, the experts' rows, prefill). The activations are re-laid out once per product into panels of 8 rows
// (formats.h, pack_panels in kernels.c): per block, the 4-byte groups of the 8 rows side by side, so that one
// 256-bit vector holds elements 4k..4k+3 of all 8 rows. A weight row is unpacked once to unsigned bytes (Q8_0
// + 128, Q4_0 0..15, Q5_0 0..31, the tables + 128) and each of its 4-byte groups broadcast: one vpdpbusd then
// serves 8 activation rows, and a block's 8 of them accumulate in int32 before one conversion to float for the 8
// rows (the 4×4 tiles convert after every vpdpbusd, and re-derive the activations' offsets per weight row). Each
// accumulator starts at −bias·Σa of its row's block (stored in the panel), so it ends as the exact signed dot.
// A tile is R ≤ 4 weight rows by G ≤ 4 panels (up to 32 activation rows): R rows share each activation load, G
// panels each weight broadcast. 256-bit vectors: on the AMD EPYC (Zen 4) host 512-bit vpdpbusd runs at half the
// rate, and 8-row panels waste less on the experts' few rows (Q8_0 256 × 256, one thread: 8 rows 71 GMAC/s
// against 55 with 16-row 512-bit panels, 24 rows 107 against 87, 32 rows 113 against 110; the 4×4 tiles 47).

// Unpacks blocks [0, nb) of one weight row to unsigned bytes in element order (u: nb·32 bytes) and their scales.
static inline __attribute__((always_inline)) void MK_SUFFIX(unpack_row32)(const uint8_t *row, long nb, int kind,
                                                                         uint8_t *u, float *d) {
    const int table_kind = kind >= 3, mxfp4 = kind == 4;
    const int bytes = kind == 0 ? 34 : kind == 1 ? 18 : kind == 2 ? 22 : mxfp4 ? 17 : 18, off = mxfp4 ? 1 : 2;
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    const __m512i table = table_kind ? _mm512_xor_si512(MK_SUFFIX(table512)(mxfp4), bias) : bias;
    long b = 0;
    for (; b + 2 <= nb; b += 2) {
        const uint8_t *b0 = row + (size_t)b * bytes, *b1 = b0 + bytes;
        __m512i v = table_kind ? MK_SUFFIX(table_pair512)(b0 + off, b1 + off, table) : MK_SUFFIX(legacy_pair512)(b0, b1, kind);
        _mm512_storeu_si512((void *)(u + 32 * b), v);
        d[b] = table_kind ? MK_SUFFIX(table_scale)(b0, mxfp4) : mk_f16(mk_u16(b0));
        d[b + 1] = table_kind ? MK_SUFFIX(table_scale)(b1, mxfp4) : mk_f16(mk_u16(b1));
    }
    if (b < nb) {
        // The last odd block: paired with itself, one half kept.
        const uint8_t *b0 = row + (size_t)b * bytes;
        __m512i v = table_kind ? MK_SUFFIX(table_pair512)(b0 + off, b0 + off, table) : MK_SUFFIX(legacy_pair512)(b0, b0, kind);
        _mm256_storeu_si256((__m256i *)(u + 32 * b), _mm512_castsi512_si256(v));
        d[b] = table_kind ? MK_SUFFIX(table_scale)(b0, mxfp4) : mk_f16(mk_u16(b0));
    }
}

// R unpacked weight rows (u: rows ustride bytes apart, scales d: dstride apart) against G panels (panel: the first,
// panels pstride bytes apart, nb blocks each): acc[r·G + g] += the products of the panel's 8 rows.
static inline __attribute__((always_inline)) void MK_SUFFIX(panel_tile)(const uint8_t *u, long ustride, const float *d,
        long dstride, const uint8_t *panel, size_t pstride, long nb, int R, int G, __m256 *acc) {
    for (long b = 0; b < nb; b++) {
        __m256i ia[16];
        const uint8_t *pb[4];
        for (int g = 0; g < G; g++) {
            pb[g] = panel + (size_t)g * pstride + (size_t)b * MK_PANEL_BLOCK_BYTES;
            __m256i start = _mm256_loadu_si256((const __m256i *)(pb[g] + 256));
            for (int r = 0; r < R; r++) ia[r * G + g] = start;
        }
        for (int k = 0; k < 8; k++) {
            __m256i av[4];
            for (int g = 0; g < G; g++) av[g] = _mm256_loadu_si256((const __m256i *)(pb[g] + 32 * k));
            for (int r = 0; r < R; r++) {
                int32_t word;
                memcpy(&word, u + (size_t)r * ustride + 32 * b + 4 * k, 4);
                __m256i wb = _mm256_set1_epi32(word);
                for (int g = 0; g < G; g++) ia[r * G + g] = _mm256_dpbusd_epi32(ia[r * G + g], wb, av[g]);
            }
        }
        for (int g = 0; g < G; g++) {
            __m256 da = _mm256_loadu_ps((const float *)(pb[g] + 288));
            for (int r = 0; r < R; r++)
                acc[r * G + g] = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(d[r * dstride + b]), da),
                                                 _mm256_cvtepi32_ps(ia[r * G + g]), acc[r * G + g]);
        }
    }
}

// Weight rows [r0, r1) (row_bytes apart, kind as in unpack_row32) against panels [first_panel, first_panel +
// panel_count) of packed activations (n rows in all): y[t·ldy + r]. scratch: 4·nb·(32 + 4) bytes.
static void MK_SUFFIX(gemm_panels)(const void *w, size_t row_bytes, long cols, long r0, long r1, int kind,
                                   const uint8_t *panels, long first_panel, long panel_count, long n,
                                   float *y, long ldy, uint8_t *scratch) {
    const long nb = cols / 32, last = first_panel + panel_count;
    const size_t pstride = (size_t)nb * MK_PANEL_BLOCK_BYTES;
    uint8_t *u = scratch;
    float *d = (float *)(scratch + 4 * 32 * (size_t)nb);
    for (long r = r0; r < r1; r += 4) {
        const int R = r1 - r < 4 ? (int)(r1 - r) : 4;
        for (int i = 0; i < R; i++)
            MK_SUFFIX(unpack_row32)((const uint8_t *)w + (size_t)(r + i) * row_bytes, nb, kind, u + (size_t)i * 32 * nb, d + i * nb);
        // The next group's weight rows are fetched while this one computes.
        if (r + 4 < r1) {
            long next = r1 - (r + 4) < 4 ? r1 - (r + 4) : 4;
            MK_SUFFIX(prefetch_span)((const uint8_t *)w + (size_t)(r + 4) * row_bytes, (int)(next * (long)row_bytes));
        }
        for (long p = first_panel; p < last; p += 4) {
            const int G = last - p < 4 ? (int)(last - p) : 4;
            __m256 acc[16];
            for (int i = 0; i < 16; i++) acc[i] = _mm256_setzero_ps();
            const uint8_t *panel = panels + (size_t)p * pstride;
            // Constant R and G in each call, so that the tile's loops unroll and its accumulators stay in registers.
#define MK_TILE(RR, GG) MK_SUFFIX(panel_tile)(u, 32 * nb, d, nb, panel, pstride, nb, RR, GG, acc)
#define MK_TILES(GG) switch (R) { case 4: MK_TILE(4, GG); break; case 3: MK_TILE(3, GG); break; \
                                  case 2: MK_TILE(2, GG); break; default: MK_TILE(1, GG); }
            switch (G) { case 4: MK_TILES(4); break; case 3: MK_TILES(3); break; case 2: MK_TILES(2); break; default: MK_TILES(1); }
#undef MK_TILES
#undef MK_TILE
            for (int g = 0; g < G; g++) {
                long t0 = (p + g) * MK_PANEL_ROWS, count = n - t0 < MK_PANEL_ROWS ? n - t0 : MK_PANEL_ROWS;
                if (R == 4) {
                    // The 4 rows × 8 activation rows transposed: each activation row's 4 outputs in one store.
                    __m256 a0 = _mm256_unpacklo_ps(acc[g], acc[G + g]), a1 = _mm256_unpackhi_ps(acc[g], acc[G + g]);
                    __m256 a2 = _mm256_unpacklo_ps(acc[2 * G + g], acc[3 * G + g]), a3 = _mm256_unpackhi_ps(acc[2 * G + g], acc[3 * G + g]);
                    __m256 c[4] = { _mm256_shuffle_ps(a0, a2, 0x44), _mm256_shuffle_ps(a0, a2, 0xEE),
                                    _mm256_shuffle_ps(a1, a3, 0x44), _mm256_shuffle_ps(a1, a3, 0xEE) };
                    for (long t = 0; t < count; t++)
                        _mm_storeu_ps(y + (t0 + t) * ldy + r, t < 4 ? _mm256_castps256_ps128(c[t]) : _mm256_extractf128_ps(c[t - 4], 1));
                    continue;
                }
                for (int i = 0; i < R; i++) {
                    float lanes[MK_PANEL_ROWS];
                    _mm256_storeu_ps(lanes, acc[i * G + g]);
                    for (long t = 0; t < count; t++) y[(t0 + t) * ldy + r + i] = lanes[t];
                }
            }
        }
    }
}
#endif

// ---- SwiGLU: gate = silu(gate) · up, with a vector exp ------------------------------------------------------

// e^x for x in about [-87, 88]: 2^(x·log2 e) split into 2^n (exponent bits) · 2^f (degree-6 polynomial on
// f in [-0.5, 0.5]); the Taylor remainder bounds its relative error by about 1.2e-7.
static inline __m256 MK_SUFFIX(exp8)(__m256 x) {
    x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.0f)), _mm256_set1_ps(-87.0f));
    __m256 t = _mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f));
    __m256 n = _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 f = _mm256_sub_ps(t, n);
    // 2^f = e^(f·ln 2): Taylor coefficients of e^y with y = f·ln2 folded in.
    __m256 p = _mm256_set1_ps(1.5403530393381609954e-4f);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.3333558146428443423e-3f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(9.6181291076284771619e-3f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(5.5504108664821579953e-2f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.4022650695910071233e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(6.9314718055994530942e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

// s = softmax(s · scale) (scale > 0), with the vector exp.
static void MK_SUFFIX(softmax)(float *s, long n, float scale) {
    long i = 0;
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(s + i));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    float top = _mm_cvtss_f32(m4);
    for (; i < n; i++) top = s[i] > top ? s[i] : top;
    top *= scale;
    const __m256 vscale = _mm256_set1_ps(scale), vtop = _mm256_set1_ps(top);
    __m256 vsum = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 e = MK_SUFFIX(exp8)(_mm256_fmsub_ps(_mm256_loadu_ps(s + i), vscale, vtop));
        _mm256_storeu_ps(s + i, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    float total = MK_SUFFIX(hsum)(vsum);
    for (; i < n; i++) { s[i] = expf(s[i] * scale - top); total += s[i]; }
    const __m256 inv = _mm256_set1_ps(1.0f / total);
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(s + i, _mm256_mul_ps(_mm256_loadu_ps(s + i), inv));
    for (; i < n; i++) s[i] *= 1.0f / total;
}

static void MK_SUFFIX(silu_mul)(float *gate, const float *up, long count) {
    long i = 0;
    const __m256 one = _mm256_set1_ps(1.0f);
    for (; i + 8 <= count; i += 8) {
        __m256 g = _mm256_loadu_ps(gate + i);
        __m256 e = MK_SUFFIX(exp8)(_mm256_sub_ps(_mm256_setzero_ps(), g));
        __m256 silu = _mm256_div_ps(g, _mm256_add_ps(one, e));
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
    }
    for (; i < count; i++) gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}
