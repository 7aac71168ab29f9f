// A fixed pool of workers. A run publishes its task by bumping a generation counter; workers spin on it for a
// while after each job (decode issues hundreds of small jobs a second, and a condition-variable wake-up costs
// more than most of them), then park on a condition variable so that an idle process uses no CPU.
#include "CKernels.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define mk_relax() _mm_pause()
#elif defined(__aarch64__)
#define mk_relax() __asm__ __volatile__("yield")
#else
#define mk_relax() ((void)0)
#endif

struct mk_pool {
    int threads;
    int spin_us;
    pthread_t *workers;
    struct worker_arg *args;
    _Atomic unsigned long generation;
    _Atomic long pending;
    _Atomic int sleepers;
    _Atomic int stopping;
    _Atomic int busy;
    mk_task task;
    void *context;
    long count;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
};

struct worker_arg { mk_pool *pool; int index; };

static inline long chunk_lo(long count, int index, int chunks) { return count * index / chunks; }

static inline double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static void *worker_main(void *raw) {
    struct worker_arg *arg = raw;
    mk_pool *p = arg->pool;
    unsigned long seen = 0;
    for (;;) {
        unsigned long g = atomic_load(&p->generation);
        if (g == seen) {
            // Spin first, checking the clock only every 256 rounds.
            double until = now_us() + p->spin_us;
            unsigned rounds = 0;
            while ((g = atomic_load(&p->generation)) == seen && !atomic_load(&p->stopping)) {
                mk_relax();
                if ((++rounds & 255) == 0 && now_us() > until) break;
            }
            if (g == seen && !atomic_load(&p->stopping)) {
                pthread_mutex_lock(&p->mutex);
                atomic_fetch_add(&p->sleepers, 1);
                while ((g = atomic_load(&p->generation)) == seen && !atomic_load(&p->stopping))
                    pthread_cond_wait(&p->wake, &p->mutex);
                atomic_fetch_sub(&p->sleepers, 1);
                pthread_mutex_unlock(&p->mutex);
            }
            if (atomic_load(&p->stopping)) return NULL;
            if (g == seen) continue;
        }
        seen = g;
        long count = p->count;
        int chunks = count < p->threads ? (int)count : p->threads;
        if (arg->index < chunks) {
            long lo = chunk_lo(count, arg->index, chunks), hi = chunk_lo(count, arg->index + 1, chunks);
            p->task(p->context, arg->index, lo, hi);
        }
        atomic_fetch_sub(&p->pending, 1);
    }
}

mk_pool *mk_pool_create(int threads, int spin_us) {
    if (threads < 1) threads = 1;
    mk_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->threads = threads;
    p->spin_us = spin_us < 0 ? 0 : spin_us;
    pthread_mutex_init(&p->mutex, NULL);
    pthread_cond_init(&p->wake, NULL);
    if (threads > 1) {
        p->workers = calloc((size_t)threads, sizeof(pthread_t));
        p->args = calloc((size_t)threads, sizeof(struct worker_arg));
        for (int i = 1; i < threads; i++) {
            p->args[i].pool = p;
            p->args[i].index = i;
            if (pthread_create(&p->workers[i], NULL, worker_main, &p->args[i]) != 0) {
                // Fewer threads than asked: run with the ones started.
                p->threads = i;
                break;
            }
        }
    }
    return p;
}

void mk_pool_destroy(mk_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mutex);
    atomic_store(&p->stopping, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mutex);
    for (int i = 1; i < p->threads; i++) pthread_join(p->workers[i], NULL);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mutex);
    free(p->workers);
    free(p->args);
    free(p);
}

int mk_pool_threads(const mk_pool *p) { return p->threads; }

int mk_pool_run(mk_pool *p, long count, mk_task task, void *context) {
    if (count <= 0) return 0;
    if (p->threads == 1 || count == 1) {
        // Inline on the caller: no shared state, so several threads may share a one-thread pool.
        task(context, 0, 0, count);
        return 0;
    }
    int expected = 0;
    if (!atomic_compare_exchange_strong(&p->busy, &expected, 1)) return -1;
    p->task = task;
    p->context = context;
    p->count = count;
    atomic_store(&p->pending, p->threads - 1);
    atomic_fetch_add(&p->generation, 1);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mutex);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mutex);
    }
    int chunks = count < p->threads ? (int)count : p->threads;
    task(context, 0, 0, chunk_lo(count, 1, chunks));
    while (atomic_load(&p->pending) > 0) mk_relax();
    atomic_store(&p->busy, 0);
    return 0;
}
