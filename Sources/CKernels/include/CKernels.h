// MoECoder's CPU kernels in C: quantized dot products against 8-bit activations for every weight type the
// engine computes with, float dots for f32/f16/bf16, each in a portable build and, on x86-64, AVX2+FMA and
// AVX-512 VNNI builds chosen at run time; a persistent worker pool that spins briefly before parking.
//
// Weight types use ggml's ids (TensorType in Swift). The matrix kernels take n activation rows at once
// (prefill, or several sequences decoded in one step): one pass over the weights serves all of them.
#ifndef MOECODER_CKERNELS_H
#define MOECODER_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Instruction-set levels, lowest first.
enum { MK_ISA_PORTABLE = 0, MK_ISA_AVX2 = 1, MK_ISA_AVX512VNNI = 2 };

/// The best level this CPU supports.
int mk_isa_supported(void);
/// The level in use: the best supported, unless MOECODER_KERNELS (portable|avx2|avx512) or mk_set_isa lowers it.
int mk_isa(void);
/// Uses `isa` (clamped to what the CPU supports) from now on; returns the level now in use.
int mk_set_isa(int isa);
/// "portable", "avx2" or "avx512vnni".
const char *mk_isa_name(int isa);

/// How activations are stored for a weight type: 0 floats as they are (f32, f16, bf16), 1 blocks of 32
/// (mk_q8a: the 32-element formats), 2 super-blocks of 256 (mk_q8k: the K-quants). -1: not computable.
int mk_activation_kind(uint32_t weight_type);
/// Bytes of one activation row of `cols` elements for `weight_type` (cols a multiple of the block size).
size_t mk_activation_row_bytes(uint32_t weight_type, long cols);
/// Quantizes `cols` floats into the activation layout `weight_type` needs (floats are copied as they are).
void mk_quantize_activations(uint32_t weight_type, const float *x, void *out, long cols);

/// Σ_c W[r,c]·A[t,c] for rows r in [r0, r1) of W and t in [0, n): y[t*ldy + r]. `act` holds n activation rows
/// `act_stride` bytes apart in the layout mk_activation_kind names. Uses the current ISA level.
void mk_gemm_rows(uint32_t weight_type, const void *w, size_t row_bytes, long cols, long r0, long r1,
                  const void *act, size_t act_stride, long n, float *y, long ldy);
/// The same at a given level (tests compare every level with the portable one).
void mk_gemm_rows_isa(int isa, uint32_t weight_type, const void *w, size_t row_bytes, long cols, long r0, long r1,
                      const void *act, size_t act_stride, long n, float *y, long ldy);

typedef struct mk_pool mk_pool;

/// Y (n × rows, row-major) = X (n × cols floats) · Wᵀ with the activations quantized as the weight type needs
/// (once, on the caller) and the weight rows split over `pool` (NULL: the caller alone) when the product has at
/// least `parallel_threshold` multiply-adds.
void mk_gemm(mk_pool *pool, uint32_t weight_type, const void *w, size_t row_bytes, long rows, long cols,
             const float *x, long n, float *y, long parallel_threshold);

/// One product of a batch: Y (n × rows, rows `ldy` apart) = X (n rows of `cols` floats, `ldx` apart) · Wᵀ.
typedef struct {
    uint32_t type;
    const void *w;
    size_t row_bytes;
    long rows, cols;
    const float *x;
    long ldx;
    long n;
    float *y;
    long ldy;
    // Set by mk_gemm_batch.
    const void *act;
    size_t act_stride;
} mk_matmul;

/// Runs every product of `items` in one dispatch over the pool: the activations of each distinct input are
/// quantized once, and the weight rows of all items are split between the threads by bytes.
void mk_gemm_batch(mk_pool *pool, mk_matmul *items, int count, long parallel_threshold);

/// Y (n × rows, rows `ldy` apart) = X (n × cols floats) · Wᵀ for float W (rows × cols): OpenBLAS's sgemm, loaded
/// on first use with one thread (its own threads would fight the pool for the cores), else the dot kernels.
void mk_sgemm(const float *x, long n, const float *w, long rows, long cols, float *y, long ldy);
/// C (m × n, rows ldc apart) = A (m × k) · op(B) + beta·C, op(B) = Bᵀ (B: n × k) when trans_b, else B (k × n).
/// Row-major, OpenBLAS when present, else plain loops (attention over a prompt: scores and weighted values).
void mk_sgemm_ex(int trans_b, long m, long n, long k, const float *a, long lda, const float *b, long ldb, float beta,
                 float *c, long ldc);
/// s = softmax(s · scale) over n entries (scale > 0; a vector exp where the level has one).
void mk_softmax_scaled(float *s, long n, float scale);
/// Adds `value` to `*counter` atomically and returns what it held (threads claiming tasks one at a time).
long mk_fetch_add(long *counter, long value);
/// Row t of `s` (rows ld apart): entries [max(0, end − window), end) with end = first_length + t (window 0: from 0)
/// scaled and softmaxed together with the logit `sink` (-INFINITY: none; a sliding window and gpt-oss's attention
/// sink), which takes its share of the weight but adds no value; every other entry is set to 0.
void mk_causal_softmax(float *s, long rows, long ld, long first_length, float scale, long window, float sink);
/// s = softmax(s · scale) over n entries, with the extra logit `sink` in the sum (not stored).
void mk_softmax_sink(float *s, long n, float scale, float sink);

/// Attention of one query row over `length` cached positions: score_p = (q·key_p [+ q2·key2_p])·scale,
/// softmax over p, out = Σ_p softmax_p · value_p. The cache is paged: position p lives in block
/// blocks[p / block_size], row p % block_size, and its key starts key_offset + row·key_stride bytes into that
/// block (likewise key2 and value); rows are stored as `type` (MK_F32, MK_F16 or MK_Q8_0; lengths in elements,
/// multiples of 32 for MK_Q8_0). `key2` is the optional second key part (latent attention's rotary keys;
/// key2_length 0: none); `scores` is scratch of `length` floats.
typedef struct {
    const void *const *blocks;
    long block_size;
    uint32_t type;
    long key_offset, key_stride, key_length;
    long key2_offset, key2_stride, key2_length;
    long value_offset, value_stride, value_length;
    long length;
    float scale;
    /// Positions before `first` are not attended (sliding-window attention; 0: all).
    long first;
    /// A logit that joins the softmax without a value (gpt-oss's attention sink; -INFINITY: none).
    float sink;
} mk_attention;
void mk_attend(const mk_attention *a, const float *q, const float *q2, float *scores, float *out);
/// Attention of `heads` query heads that share one key/value head (grouped-query attention): as mk_attend for each
/// head h (query q + h·q_stride, output out + h·out_stride, sink logit sinks[h], or a->sink when sinks is NULL).
/// For f16 and q8_0 rows (lengths multiples of 8, no second key part) a fused kernel reads and converts each
/// cached row once for all the heads; f32 rows take mk_attend head by head (the exact path, unchanged).
/// `scores` is scratch of heads × length floats.
void mk_attend_heads(const mk_attention *a, const float *q, long q_stride, int heads, const float *sinks, float *scores,
                     float *out, long out_stride);
/// Copies `width` elements at byte `offset` of each of the first `length` rows of a paged cache (rows `stride`
/// bytes apart within a block of `block_size` rows, stored as `type`) into dst as floats, rows `width` apart
/// (attention over a prompt gathers a head's keys and values for its matrix products).
void mk_gather_rows(const void *const *blocks, long block_size, uint32_t type, long offset, long stride, long width,
                    long length, float *dst);
/// Stores `count` floats (a multiple of 32) as q8_0 blocks, bit for bit ggml's reference quantizer (d = amax / 127
/// as f16, q rounded half away from zero): the KV cache's writer, vectorized where the level allows.
void mk_quantize_q8_0(const float *x, void *out, long count);
/// y += a · x for a row x of `count` elements stored as `type` (MK_F32, MK_F16, MK_Q8_0).
void mk_axpy_row(uint32_t type, float a, const void *x, float *y, long count);

/// SwiGLU in place: gate[i] = gate[i] / (1 + e^−gate[i]) · up[i] (a vector exp where the level has one; tested within 1e-6 of libm).
void mk_silu_mul(float *gate, const float *up, long count);

/// Read bandwidth in bytes/s: the best of `repetitions` passes of the pool's threads over a `bytes` buffer.
double mk_read_bandwidth(mk_pool *pool, size_t bytes, int repetitions);
/// The last-level cache's size in bytes (L3; 32 MiB where the system does not say).
long mk_last_level_cache_bytes(void);

/// A thread-local scratch buffer of at least `bytes` (grows, never shrinks); valid until the same thread asks again.
void *mk_thread_scratch(size_t bytes);

// ---- Worker pool -------------------------------------------------------------------------------------------

/// A task: runs chunk `chunk` covering [lo, hi) of the index range.
typedef void (*mk_task)(void *context, long chunk, long lo, long hi);

/// Starts threads − 1 workers (the caller is the first thread). Workers spin for `spin_us` microseconds
/// after each job before they park on a condition variable.
mk_pool *mk_pool_create(int threads, int spin_us);
void mk_pool_destroy(mk_pool *pool);
int mk_pool_threads(const mk_pool *pool);
/// Whether the decode kernels run on this pool also prefetch far ahead into L2 (on by default): for weights that
/// stream from memory; off for a model whose decode step's weights stay in the caches.
void mk_pool_set_far_prefetch(mk_pool *pool, int on);
int mk_pool_far_prefetch(mk_pool *pool);
/// Runs task over [0, count) cut into min(threads, count) contiguous chunks; returns when all are done.
/// One run at a time per pool (returns -1, running nothing, when called while a run is in progress).
int mk_pool_run(mk_pool *pool, long count, mk_task task, void *context);


/// Whether mk_quantize_rows writes `type` (ggml ids: Q4_0 2, Q4_1 3, Q5_0 6, Q5_1 7, Q8_0 8, Q2_K 10 … Q6_K 14).
int mk_can_quantize(uint32_t type);
/// Quantizes `rows` rows of `cols` floats (a multiple of the type's block size) into `type`, rows stored one after
/// another; `importance` (NULL, or `cols` non-negative weights, one per column) steers the search towards the
/// columns that matter. Returns the bytes written, 0 when `type` cannot be written.
size_t mk_quantize_rows(uint32_t type, const float *src, void *dst, long rows, long cols, const float *importance);

#ifdef __cplusplus
}
#endif
#endif
