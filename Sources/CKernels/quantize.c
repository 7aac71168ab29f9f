// Weight quantizers: floats to the block formats ggml stores (Q8_0, Q4_0, Q5_0, Q5_1, Q2_K…Q6_K), each
// optionally steered by per-column importance weights (an importance matrix: mean squared activation of each
// input column). The block layouts are ggml's (ggml-common.h); the searches follow the ideas of ggml's
// quantizers (try a few grids around the one the extreme value sets, fit scale and offset by weighted least
// squares for each, keep the best; quantize the sub-block scales the same way) with a few extra steps where
// they lower the error: the least-squares scale for the legacy formats, a coordinate-descent polish of the
// symmetric fits, and a final re-rounding of every element against the scales as stored.
#include "CKernels.h"

#include <math.h>
#include <string.h>

#define QK 256
#define TINY 1e-15f

// ---- Half floats ----------------------------------------------------------------------------------------

/// IEEE binary16 with round-to-nearest-even (what F16C and ggml's software path produce).
static uint16_t q_to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, a = x & 0x7fffffffu;
    if (a >= 0x7f800000u) return (uint16_t)(sign | 0x7c00u | (a > 0x7f800000u ? 0x200u : 0));
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);  // ≥ 65520 rounds to infinity
    if (a < 0x38800000u) {                                      // below 2^-14: a subnormal half
        float v;
        memcpy(&v, &a, 4);
        return (uint16_t)(sign | (uint32_t)lrintf(v * 16777216.0f));
    }
    uint32_t h = ((((a >> 23) - 112) << 10) | ((a & 0x7fffffu) >> 13));
    uint32_t rest = a & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

uint16_t mk_to_half(float f) { return q_to_half(f); }

static float q_from_half(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ffu, bits;
    if (e == 0) {
        float v = (float)m * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    bits = e == 31 ? (sign | 0x7f800000u | (m << 13)) : (sign | ((e + 112) << 23) | (m << 13));
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline void put_half(uint8_t *p, float f) {
    uint16_t h = q_to_half(f);
    memcpy(p, &h, 2);
}

static inline float stored_half(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return q_from_half(h);
}

/// Round to nearest, ties to even, for |v| < 2^22: adding 1.5·2^23 leaves the integer in the low mantissa bits
/// (inline, where lrintf may be a library call).
static inline int q_round(float v) {
    float t = v + 12582912.0f;
    int32_t i;
    memcpy(&i, &t, 4);
    return (i & 0x007fffff) - 0x00400000;
}
static inline int q_clamp(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }
static inline float w_at(const float *w, int i) { return w ? w[i] : 1.0f; }

// ---- Searches -------------------------------------------------------------------------------------------

/// Symmetric fit: integers l in [-nmax, nmax-1] with x ≈ scale·l. Candidate grids map the element of largest
/// magnitude to -(nmax + k/10) steps for k in -9…9; each gets its weighted least-squares scale
/// (Σw·x·l / Σw·l²) and the one explaining most of Σw·x² wins. When `polish`, single elements then move to
/// the level that best fits the current scale while that raises the score (at most 5 passes).
/// `w` NULL means equal weights. L receives l + nmax. Returns the scale.
static float fit_symmetric(int n, int nmax, const float *x, const float *w, int8_t *L, int polish) {
    float extreme = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        if (a > amax) { amax = a; extreme = x[i]; }
    }
    if (amax < TINY) {
        memset(L, 0, (size_t)n);
        return 0;
    }
    int8_t trial[QK];
    float best = -1, best_sxl = 0, best_sll = 0;
    for (int k = 0; k <= 18; k++) {
        int step = k == 0 ? 0 : (k <= 9 ? -k : k - 9);
        float inv = -((float)nmax + 0.1f * (float)step) / extreme;
        float sxl = 0, sll = 0;
        for (int i = 0; i < n; i++) {
            int l = q_clamp(q_round(inv * x[i]), -nmax, nmax - 1);
            trial[i] = (int8_t)l;
            float wi = w_at(w, i);
            sxl += wi * x[i] * (float)l;
            sll += wi * (float)(l * l);
        }
        if (sll <= 0) continue;
        float score = sxl * sxl / sll;
        if (score > best) {
            best = score; best_sxl = sxl; best_sll = sll;
            memcpy(L, trial, (size_t)n);
        }
    }
    if (best < 0) {
        // Every grid left no weight on a non-zero level (all weights zero here): fit without weights.
        return w ? fit_symmetric(n, nmax, x, NULL, L, polish) : (memset(L, 0, (size_t)n), 0.0f);
    }
    if (polish) {
        for (int pass = 0; pass < 5; pass++) {
            int changed = 0;
            for (int i = 0; i < n; i++) {
                float wi = w_at(w, i);
                float sxl = best_sxl - wi * x[i] * L[i], sll = best_sll - wi * (float)(L[i] * L[i]);
                if (sxl <= 0 || sll <= 0) continue;
                int l = q_clamp(q_round(x[i] * sll / sxl), -nmax, nmax - 1);
                if (l == L[i]) continue;
                sxl += wi * x[i] * (float)l;
                sll += wi * (float)(l * l);
                if (sxl * sxl * best_sll > best_sxl * best_sxl * sll) {
                    L[i] = (int8_t)l; best_sxl = sxl; best_sll = sll;
                    changed++;
                }
            }
            if (!changed) break;
        }
    }
    for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
    return best_sxl / best_sll;
}

/// Affine fit: integers l in [0, nmax] with x ≈ scale·l − m, m ≥ 0 (the offset is clamped to what the K-quants
/// store). Starts from the grid spanning [min(0, min x), max x]; then for steps k in 0…nstep spans that range with
/// nmax + rmin + rdelta·k levels, fits scale and offset by weighted least squares and keeps the fit of least
/// weighted squared (or, with `mad`, absolute) error. Returns the scale and sets *m.
static float fit_affine(int n, int nmax, const float *x, const float *w, uint8_t *L, float *m,
                        float rmin, float rdelta, int nstep, int mad) {
    float lo = x[0], hi = x[0], sw = 0, swx = 0;
    double swxx = 0;
    for (int i = 0; i < n; i++) {
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
        float wi = w_at(w, i);
        sw += wi;
        swx += wi * x[i];
        swxx += (double)wi * x[i] * x[i];
    }
    if (lo > 0) lo = 0;
    if (hi <= lo) {
        memset(L, 0, (size_t)n);
        *m = -lo;
        return 0;
    }
    if (w && sw <= 0) return fit_affine(n, nmax, x, NULL, L, m, rmin, rdelta, nstep, mad);
    float inv = (float)nmax / (hi - lo), scale = 1 / inv, offset = lo, best = 0;
    for (int i = 0; i < n; i++) {
        int l = q_clamp(q_round(inv * (x[i] - lo)), 0, nmax);
        L[i] = (uint8_t)l;
        float e = scale * (float)l + lo - x[i];
        best += w_at(w, i) * (mad ? fabsf(e) : e * e);
    }
    uint8_t trial[QK];
    for (int k = 0; k <= nstep; k++) {
        inv = (rmin + rdelta * (float)k + (float)nmax) / (hi - lo);
        float sl = 0, sll = 0, sxl = 0;
        for (int i = 0; i < n; i++) {
            int l = q_clamp(q_round(inv * (x[i] - lo)), 0, nmax);
            trial[i] = (uint8_t)l;
            float wi = w_at(w, i);
            sl += wi * (float)l;
            sll += wi * (float)(l * l);
            sxl += wi * (float)l * x[i];
        }
        float det = sw * sll - sl * sl;
        if (det <= 0) continue;
        float s = (sw * sxl - swx * sl) / det, o = (sll * swx - sl * sxl) / det;
        if (o > 0) {
            o = 0;
            s = sxl / sll;
        }
        float err;
        if (mad) {
            err = 0;
            for (int i = 0; i < n; i++) err += w_at(w, i) * fabsf(s * (float)trial[i] + o - x[i]);
        } else {
            // Σw(s·l + o − x)² from the sums already taken (in double: the terms nearly cancel).
            double S = s, O = o;
            err = (float)(S * S * sll + 2 * S * O * sl - 2 * S * sxl + O * O * sw - 2 * O * swx + swxx);
        }
        if (err < best) {
            best = err; scale = s; offset = o;
            memcpy(L, trial, (size_t)n);
        }
    }
    *m = -offset;
    return scale;
}

/// Non-negative values (sub-block scales or mins) on a grid l in [0, nmax]: x ≈ d·l. Tries 9 grids around
/// the one that maps the maximum to nmax, keeps the least weighted squared error, then fits d by least squares
/// and polishes single levels as `fit_symmetric` does. Returns d.
static float fit_positive(int n, int nmax, const float *x, const float *w, uint8_t *L) {
    float hi = 0;
    for (int i = 0; i < n; i++) if (x[i] > hi) hi = x[i];
    if (hi < TINY) {
        memset(L, 0, (size_t)n);
        return 0;
    }
    float best_inv = 0, best_err = INFINITY;
    for (int k = -4; k <= 4; k++) {
        float inv = ((float)nmax + 0.1f * (float)k) / hi, s = 1 / inv, err = 0;
        for (int i = 0; i < n; i++) {
            int l = q_clamp(q_round(inv * x[i]), 0, nmax);
            float e = x[i] - s * (float)l;
            err += w_at(w, i) * e * e;
        }
        if (err < best_err) { best_err = err; best_inv = inv; }
    }
    float sxl = 0, sll = 0;
    for (int i = 0; i < n; i++) {
        int l = q_clamp(q_round(best_inv * x[i]), 0, nmax);
        L[i] = (uint8_t)l;
        float wi = w_at(w, i);
        sxl += wi * x[i] * (float)l;
        sll += wi * (float)(l * l);
    }
    for (int pass = 0; pass < 5; pass++) {
        int changed = 0;
        for (int i = 0; i < n; i++) {
            float wi = w_at(w, i);
            float a = sxl - wi * x[i] * L[i], b = sll - wi * (float)(L[i] * L[i]);
            if (a <= 0 || b <= 0) continue;
            int l = q_clamp(q_round(x[i] * b / a), 0, nmax);
            if (l == L[i]) continue;
            a += wi * x[i] * (float)l;
            b += wi * (float)(l * l);
            if (a * a * sll > sxl * sxl * b) {
                L[i] = (uint8_t)l; sxl = a; sll = b;
                changed++;
            }
        }
        if (!changed) break;
    }
    return sll > 0 ? sxl / sll : 0;
}

/// Σx² / n over a row: the typical magnitude the importance-weighted searches mix into every weight.
static float mean_square(const float *x, long n) {
    double s = 0;
    for (long i = 0; i < n; i++) s += (double)x[i] * x[i];
    return (float)(s / (double)n);
}

// ---- 32-element formats ------------------------------------------------------------------------------------

/// Q8_0 (34 bytes: f16 d, 32 int8): d = amax/127, rounding half away from zero (the importance does not change
/// the best 8-bit grid enough to matter, and this keeps the bytes identical to llama.cpp's).
static void row_q8_0(const float *x, uint8_t *y, long n) {
    for (long b = 0; b < n / 32; b++, x += 32, y += 34) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127, id = d != 0 ? 1 / d : 0;
        put_half(y, d);
        for (int j = 0; j < 32; j++) y[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
    }
}

/// Weights for one 32-element block: the importance times sqrt(σ² + x²), or without importance equal
/// weights (the error measured is the plain squared error).
static const float *block_weights(const float *x, const float *imp, float sigma2, int n, float *out) {
    if (!imp) return NULL;
    for (int j = 0; j < n; j++) out[j] = imp[j] * sqrtf(sigma2 + x[j] * x[j]);
    return out;
}

/// Q4_0 / Q5_0: symmetric grid of 2^bits levels, d fitted by least squares, elements re-rounded against the
/// stored f16 d.
static void row_symmetric32(const float *x, uint8_t *y, long n, const float *imp, int bits) {
    const int nmax = 1 << (bits - 1), bytes = bits == 4 ? 18 : 22;
    float sigma2 = imp ? mean_square(x, n) : 0, wbuf[32];
    int8_t L[32];
    for (long b = 0; b < n / 32; b++, x += 32, y += bytes) {
        const float *w = block_weights(x, imp ? imp + 32 * b : NULL, sigma2, 32, wbuf);
        float d = fit_symmetric(32, nmax, x, w, L, 1);
        put_half(y, d);
        float ds = stored_half(y);
        if (ds != 0) {
            float id = 1 / ds;
            for (int j = 0; j < 32; j++) L[j] = (int8_t)(q_clamp(q_round(x[j] * id), -nmax, nmax - 1) + nmax);
        }
        uint8_t *qs = y + (bits == 4 ? 2 : 6);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            qs[j] = (uint8_t)((L[j] & 15) | ((L[j + 16] & 15) << 4));
            qh |= (uint32_t)((L[j] >> 4) & 1) << j;
            qh |= (uint32_t)((L[j + 16] >> 4) & 1) << (j + 16);
        }
        if (bits == 5) memcpy(y + 2, &qh, 4);
    }
}

/// Q4_1 (20 bytes: f16 d, f16 m, 16 nibble bytes) and Q5_1 (24 bytes: f16 d, f16 m, qh, 16 bytes): x ≈ d·l + m,
/// l in [0, 2^bits − 1]. The offset may be positive here, so the block is shifted to start at 0 before the affine
/// search and shifted back after.
static void row_affine32(const float *x, uint8_t *y, long n, const float *imp, int bits) {
    const int nmax = (1 << bits) - 1, bytes = bits == 4 ? 20 : 24;
    float sigma2 = imp ? mean_square(x, n) : 0, wbuf[32], shifted[32];
    uint8_t L[32];
    for (long b = 0; b < n / 32; b++, x += 32, y += bytes) {
        const float *w = block_weights(x, imp ? imp + 32 * b : NULL, sigma2, 32, wbuf);
        float lo = x[0];
        for (int j = 1; j < 32; j++) lo = fminf(lo, x[j]);
        float shift = lo > 0 ? lo : 0, m;
        for (int j = 0; j < 32; j++) shifted[j] = x[j] - shift;
        float d = fit_affine(32, nmax, shifted, w, L, &m, -0.9f, 0.05f, 36, 0);
        put_half(y, d);
        put_half(y + 2, shift - m);
        float ds = stored_half(y), ms = stored_half(y + 2);
        if (ds != 0) {
            for (int j = 0; j < 32; j++) L[j] = (uint8_t)q_clamp(q_round((x[j] - ms) / ds), 0, nmax);
        }
        uint8_t *qs = y + (bits == 4 ? 4 : 8);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            qs[j] = (uint8_t)((L[j] & 15) | ((L[j + 16] & 15) << 4));
            qh |= (uint32_t)((L[j] >> 4) & 1) << j;
            qh |= (uint32_t)((L[j + 16] >> 4) & 1) << (j + 16);
        }
        if (bits == 5) memcpy(y + 4, &qh, 4);
    }
}

// ---- K-quants (super-blocks of 256) -------------------------------------------------------------------------

/// The 12 bytes of Q4_K/Q5_K 6-bit scales and mins for 8 sub-blocks (see KQuants.q4_KScaleMin).
static void pack_scale_min(uint8_t *s, const uint8_t *ls, const uint8_t *lm) {
    memset(s, 0, 12);
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            s[j] = ls[j];
            s[j + 4] = lm[j];
        } else {
            s[j + 4] = (uint8_t)((ls[j] & 15) | ((lm[j] & 15) << 4));
            s[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
            s[j] |= (uint8_t)((lm[j] >> 4) << 6);
        }
    }
}

/// Q4_K (nmax 15) and Q5_K (nmax 31): 8 sub-blocks of 32 with an affine fit each; the 8 scales and 8 mins are
/// then put on 6-bit grids with f16 super-block factors, and every element is re-rounded against them.
static void row_scale_min(const float *x, uint8_t *y, long n, const float *imp, int fifth) {
    const int nmax = fifth ? 31 : 15, bytes = fifth ? 176 : 144;
    uint8_t L[QK], ls[8], lm[8];
    float scales[8], mins[8], sw[8], wbuf[32];
    for (long b = 0; b < n / QK; b++, x += QK, y += bytes) {
        float sigma2 = 2 * mean_square(x, QK);
        for (int j = 0; j < 8; j++) {
            const float *xs = x + 32 * j;
            if (imp) {
                const float *q = imp + QK * b + 32 * j;
                for (int l = 0; l < 32; l++) wbuf[l] = q[l] * sqrtf(sigma2 + xs[l] * xs[l]);
            } else {
                for (int l = 0; l < 32; l++) wbuf[l] = sqrtf(sigma2 + xs[l] * xs[l]);
            }
            sw[j] = 0;
            for (int l = 0; l < 32; l++) sw[j] += wbuf[l];
            scales[j] = fit_affine(32, nmax, xs, wbuf, L + 32 * j, &mins[j], -0.9f, 0.05f, 36, 0);
        }
        float d = fit_positive(8, 63, scales, sw, ls), dmin = fit_positive(8, 63, mins, sw, lm);
        put_half(y, d);
        put_half(y + 2, dmin);
        pack_scale_min(y + 4, ls, lm);
        float ds = stored_half(y), ms = stored_half(y + 2);
        for (int j = 0; j < 8; j++) {
            float dj = ds * ls[j], mj = ms * lm[j];
            if (dj == 0) continue;
            for (int l = 0; l < 32; l++) L[32 * j + l] = (uint8_t)q_clamp(q_round((x[32 * j + l] + mj) / dj), 0, nmax);
        }
        uint8_t *qs = y + (fifth ? 48 : 16), *qh = y + 16;
        if (fifth) memset(qh, 0, 32);
        for (int g = 0; g < 4; g++) {
            for (int l = 0; l < 32; l++) {
                int a = L[64 * g + l], c = L[64 * g + 32 + l];
                if (fifth) {
                    qh[l] |= (uint8_t)(((a >> 4) << (2 * g)) | ((c >> 4) << (2 * g + 1)));
                    a &= 15;
                    c &= 15;
                }
                qs[32 * g + l] = (uint8_t)(a | (c << 4));
            }
        }
    }
}

/// Q6_K (210 bytes: ql[128], qh[64], int8 scales[16], f16 d): 16 sub-blocks of 16 with a symmetric 64-level
/// fit each, the 16 scales on a symmetric 8-bit grid, elements re-rounded against the stored scales.
static void row_q6_K(const float *x, uint8_t *y, long n, const float *imp) {
    int8_t L[QK], ls[16];
    float scales[16], sw[16], wbuf[16];
    for (long b = 0; b < n / QK; b++, x += QK, y += 210) {
        float amax = 0;
        for (int j = 0; j < 16; j++) {
            const float *xs = x + 16 * j;
            for (int l = 0; l < 16; l++) wbuf[l] = imp ? imp[QK * b + 16 * j + l] : xs[l] * xs[l];
            sw[j] = 0;
            for (int l = 0; l < 16; l++) sw[j] += wbuf[l];
            scales[j] = fit_symmetric(16, 32, xs, wbuf, L + 16 * j, 1);
            amax = fmaxf(amax, fabsf(scales[j]));
        }
        memset(y, 0, 210);
        if (amax < TINY) continue;
        float d = fit_symmetric(16, 128, scales, sw, ls, 0);
        for (int j = 0; j < 16; j++) ls[j] = (int8_t)(ls[j] - 128);
        put_half(y + 208, d);
        float ds = stored_half(y + 208);
        for (int j = 0; j < 16; j++) {
            y[192 + j] = (uint8_t)ls[j];
            float dj = ds * ls[j];
            if (dj == 0) {
                for (int l = 0; l < 16; l++) L[16 * j + l] = 32;
                continue;
            }
            for (int l = 0; l < 16; l++) L[16 * j + l] = (int8_t)(q_clamp(q_round(x[16 * j + l] / dj), -32, 31) + 32);
        }
        uint8_t *ql = y, *qh = y + 128;
        for (int h = 0; h < 2; h++) {
            const int8_t *q = L + 128 * h;
            for (int l = 0; l < 32; l++) {
                ql[64 * h + l] = (uint8_t)((q[l] & 15) | ((q[l + 64] & 15) << 4));
                ql[64 * h + 32 + l] = (uint8_t)((q[l + 32] & 15) | ((q[l + 96] & 15) << 4));
                qh[32 * h + l] = (uint8_t)((q[l] >> 4) | ((q[l + 32] >> 4) << 2) | ((q[l + 64] >> 4) << 4) |
                                           ((q[l + 96] >> 4) << 6));
            }
        }
    }
}

/// Q3_K (110 bytes: hmask[32], qs[64], scales[12], f16 d): 16 sub-blocks of 16 with a symmetric 8-level fit
/// each, 6-bit signed scales, elements re-rounded against them.
static void row_q3_K(const float *x, uint8_t *y, long n, const float *imp) {
    int8_t L[QK], ls[16];
    float scales[16], sw[16], wbuf[16];
    for (long b = 0; b < n / QK; b++, x += QK, y += 110) {
        float sigma2 = 2 * mean_square(x, QK);
        for (int j = 0; j < 16; j++) {
            const float *xs = x + 16 * j;
            for (int l = 0; l < 16; l++)
                wbuf[l] = (imp ? imp[QK * b + 16 * j + l] : 1.0f) * sqrtf(sigma2 + xs[l] * xs[l]);
            sw[j] = 0;
            for (int l = 0; l < 16; l++) sw[j] += wbuf[l];
            scales[j] = fit_symmetric(16, 4, xs, wbuf, L + 16 * j, 1);
        }
        memset(y, 0, 110);
        float d = fit_symmetric(16, 32, scales, imp ? sw : NULL, ls, 1);  // ls = signed scale + 32, in [0, 63]
        uint8_t *sc = y + 96;
        for (int j = 0; j < 16; j++) {
            int l = ls[j];
            if (j < 8) sc[j] = (uint8_t)(l & 15);
            else sc[j - 8] |= (uint8_t)((l & 15) << 4);
            sc[8 + j % 4] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
        }
        put_half(y + 108, d);
        float ds = stored_half(y + 108);
        for (int j = 0; j < 16; j++) {
            float dj = ds * (float)(ls[j] - 32);
            if (dj == 0) {
                for (int l = 0; l < 16; l++) L[16 * j + l] = 4;
                continue;
            }
            for (int l = 0; l < 16; l++) L[16 * j + l] = (int8_t)(q_clamp(q_round(x[16 * j + l] / dj), -4, 3) + 4);
        }
        uint8_t *hmask = y, *qs = y + 32;
        for (int j = 0; j < QK; j++) {
            if (L[j] > 3) {
                hmask[j % 32] |= (uint8_t)(1 << (j / 32));
                L[j] -= 4;
            }
        }
        for (int h = 0; h < 2; h++)
            for (int l = 0; l < 32; l++) {
                const int8_t *q = L + 128 * h;
                qs[32 * h + l] = (uint8_t)(q[l] | (q[l + 32] << 2) | (q[l + 64] << 4) | (q[l + 96] << 6));
            }
    }
}

/// Q2_K (84 bytes: scales[16] (low nibble scale, high nibble min), qs[64], f16 d, f16 dmin): 16 sub-blocks of
/// 16 with an affine 4-level fit each, scales and mins on 4-bit grids, elements re-rounded against them.
static void row_q2_K(const float *x, uint8_t *y, long n, const float *imp) {
    uint8_t L[QK], ls[16], lm[16];
    float scales[16], mins[16], sw[16], wbuf[16];
    for (long b = 0; b < n / QK; b++, x += QK, y += 84) {
        float sigma2 = mean_square(x, QK);
        for (int j = 0; j < 16; j++) {
            const float *xs = x + 16 * j;
            for (int l = 0; l < 16; l++)
                wbuf[l] = (imp ? imp[QK * b + 16 * j + l] : 1.0f) * sqrtf(sigma2 + xs[l] * xs[l]);
            sw[j] = 0;
            for (int l = 0; l < 16; l++) sw[j] += wbuf[l];
            scales[j] = fit_affine(16, 3, xs, wbuf, L + 16 * j, &mins[j], -0.9f, 0.05f, 36, 0);
        }
        float d = fit_positive(16, 15, scales, sw, ls), dmin = fit_positive(16, 15, mins, sw, lm);
        for (int j = 0; j < 16; j++) y[j] = (uint8_t)(ls[j] | (lm[j] << 4));
        put_half(y + 80, d);
        put_half(y + 82, dmin);
        float ds = stored_half(y + 80), ms = stored_half(y + 82);
        for (int j = 0; j < 16; j++) {
            float dj = ds * ls[j], mj = ms * lm[j];
            if (dj == 0) continue;
            for (int l = 0; l < 16; l++) L[16 * j + l] = (uint8_t)q_clamp(q_round((x[16 * j + l] + mj) / dj), 0, 3);
        }
        uint8_t *qs = y + 16;
        for (int h = 0; h < 2; h++)
            for (int l = 0; l < 32; l++) {
                const uint8_t *q = L + 128 * h;
                qs[32 * h + l] = (uint8_t)(q[l] | (q[l + 32] << 2) | (q[l + 64] << 4) | (q[l + 96] << 6));
            }
    }
}

// ---- Entry point -------------------------------------------------------------------------------------------

int mk_can_quantize(uint32_t type) {
    switch (type) {
    case 2: case 3: case 6: case 7: case 8: case 10: case 11: case 12: case 13: case 14: return 1;
    default: return 0;
    }
}

size_t mk_quantize_rows(uint32_t type, const float *src, void *dst, long rows, long cols, const float *importance) {
    size_t row_bytes;
    switch (type) {
    case 2: row_bytes = (size_t)cols / 32 * 18; break;
    case 3: row_bytes = (size_t)cols / 32 * 20; break;
    case 6: row_bytes = (size_t)cols / 32 * 22; break;
    case 7: row_bytes = (size_t)cols / 32 * 24; break;
    case 8: row_bytes = (size_t)cols / 32 * 34; break;
    case 10: row_bytes = (size_t)cols / QK * 84; break;
    case 11: row_bytes = (size_t)cols / QK * 110; break;
    case 12: row_bytes = (size_t)cols / QK * 144; break;
    case 13: row_bytes = (size_t)cols / QK * 176; break;
    case 14: row_bytes = (size_t)cols / QK * 210; break;
    default: return 0;
    }
    for (long r = 0; r < rows; r++) {
        const float *x = src + r * cols;
        uint8_t *y = (uint8_t *)dst + (size_t)r * row_bytes;
        switch (type) {
        case 2: row_symmetric32(x, y, cols, importance, 4); break;
        case 6: row_symmetric32(x, y, cols, importance, 5); break;
        case 3: row_affine32(x, y, cols, importance, 4); break;
        case 7: row_affine32(x, y, cols, importance, 5); break;
        case 8: row_q8_0(x, y, cols); break;
        case 10: row_q2_K(x, y, cols, importance); break;
        case 11: row_q3_K(x, y, cols, importance); break;
        case 12: row_scale_min(x, y, cols, importance, 0); break;
        case 13: row_scale_min(x, y, cols, importance, 1); break;
        case 14: row_q6_K(x, y, cols, importance); break;
        }
    }
    return row_bytes * (size_t)rows;
}
