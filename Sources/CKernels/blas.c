// sgemm from OpenBLAS, loaded on first use. Linking OpenBLAS would start its worker threads when the program
// loads, and they spin (sched_yield) for a while after start and after every call, taking the core our own
// pool needs; loaded here with OPENBLAS_NUM_THREADS=1 they are never started. Only the exact path and prefill
// of float-typed weights use it.
#include "CKernels.h"
#include "formats.h"

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

typedef void (*sgemm_fn)(int order, int transa, int transb, int m, int n, int k, float alpha, const float *a, int lda,
                         const float *b, int ldb, float beta, float *c, int ldc);
static sgemm_fn blas_sgemm;
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void load_blas(void) {
    setenv("OPENBLAS_NUM_THREADS", "1", 0);
    setenv("OMP_NUM_THREADS", "1", 0);
    const char *names[] = { "libopenblas.so.0", "libopenblas.so", "libcblas.so.3", "libblas.so.3" };
    for (unsigned i = 0; i < sizeof names / sizeof names[0] && !blas_sgemm; i++) {
        void *lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (lib) blas_sgemm = (sgemm_fn)dlsym(lib, "cblas_sgemm");
    }
}

// Y (n × rows, rows ldy apart) = X (n × cols) · Wᵀ for a float panel W (rows × cols). Without a BLAS library,
// falls back to the dot kernels.
void mk_sgemm(const float *x, long n, const float *w, long rows, long cols, float *y, long ldy) {
    pthread_once(&blas_once, load_blas);
    if (blas_sgemm) {
        // CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112.
        blas_sgemm(101, 111, 112, (int)n, (int)rows, (int)cols, 1.0f, x, (int)cols, w, (int)cols, 0.0f, y, (int)ldy);
        return;
    }
    mk_gemm_rows(0, w, (size_t)cols * sizeof(float), cols, 0, rows, x, (size_t)cols * sizeof(float), n, y, ldy);
}

void mk_sgemm_ex(int trans_b, long m, long n, long k, const float *a, long lda, const float *b, long ldb, float beta,
                 float *c, long ldc) {
    pthread_once(&blas_once, load_blas);
    if (blas_sgemm) {
        blas_sgemm(101, 111, trans_b ? 112 : 111, (int)m, (int)n, (int)k, 1.0f, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
        return;
    }
    for (long i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        for (long j = 0; j < n; j++) ci[j] = beta == 0 ? 0 : beta * ci[j];
        for (long p = 0; p < k; p++) {
            float av = a[i * lda + p];
            if (trans_b) { for (long j = 0; j < n; j++) ci[j] += av * b[j * ldb + p]; }
            else { const float *bp = b + p * ldb; for (long j = 0; j < n; j++) ci[j] += av * bp[j]; }
        }
    }
}



void mk_causal_softmax(float *s, long rows, long ld, long first_length, float scale, long window, float sink) {
    for (long t = 0; t < rows; t++) {
        float *r = s + t * ld;
        long end = first_length + t, begin = window > 0 && end > window ? end - window : 0;
        for (long p = 0; p < begin; p++) r[p] = 0;
        mk_softmax_sink(r + begin, end - begin, scale, sink);
        for (long p = end; p < ld; p++) r[p] = 0;
    }
}
