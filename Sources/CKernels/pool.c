// A fixed pool of workers. A run publishes its task by bumping a generation counter; workers spin on it for a
// while after each job (decode issues hundreds of small jobs a second, and a condition-variable wake-up costs
// more than most of them), then park on a condition variable so that an idle process uses no CPU.
// A run's chunks are claimed, not assigned: the caller and every worker take the next unclaimed chunk of the
// current generation until none is left, and the caller waits only for chunks already being run. On a loaded
// machine a worker the scheduler has not run yet costs nothing (the caller runs its chunk); when every chunk
// waited for its thread, an inline completion on a busy 2-core host took 0.6-1.8 s instead of tens of ms.
#include "CKernels.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif
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
    _Atomic int far_prefetch;   // see mk_pool_set_far_prefetch
    pthread_t *workers;
    struct worker_arg *args;
    _Atomic unsigned long generation;
    // The current run's generation (low 32 bits), number of chunks and next unclaimed chunk:
    // [generation:32][chunks:16][next:16]; and how many of its chunks are finished.
    _Atomic uint64_t claims;
    // A futex word on Linux (32 bits); `waiting` says the caller may sleep on it.
    _Atomic int done;
    _Atomic int waiting;
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

#if defined(__linux__)
static inline void mk_futex_wait(_Atomic int *word, int value) {
    syscall(SYS_futex, (int *)word, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
}
static inline void mk_futex_wake(_Atomic int *word) {
    syscall(SYS_futex, (int *)word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
#endif

// The caller's wait for the chunks that workers claimed. A worker that claimed a chunk and was then
// descheduled (a loaded host, more runnable threads than cores) can hold the caller for a whole time slice:
// spinning through it burnt the core that worker needs (on a 2-core host serving 64 editors, a fifth of the
// server's CPU went to this loop). So the caller spins only `MK_WAIT_SPIN_US` microseconds (about what a
// running worker's chunk takes beyond the caller's own) and then sleeps on a futex until the last chunk's
// worker wakes it. Elsewhere than Linux it spins. With long chunks (a large model's matrix rows read from
// memory, hundreds of microseconds) a running worker can finish tens of microseconds after the caller, and each
// sleep adds a wake-up to the step: the caller spins as long as its own chunks took (`own_us`), at least
// `MK_WAIT_SPIN_US`; a worker that has not finished by then was most likely descheduled.
#ifndef MK_WAIT_SPIN_US
#define MK_WAIT_SPIN_US 20
#endif
static void wait_done(mk_pool *p, int chunks, double own_us) {
    double until = 0;
    double spin = own_us > MK_WAIT_SPIN_US ? own_us : MK_WAIT_SPIN_US;
    for (unsigned rounds = 0;; rounds++) {
        if (atomic_load_explicit(&p->done, memory_order_acquire) >= chunks) return;
        mk_relax();
        if ((rounds & 63) == 63) {
            double now = now_us();
            if (until == 0) until = now + spin;
            else if (now > until) break;
        }
    }
#if defined(__linux__)
    atomic_store(&p->waiting, 1);
    int seen;
    while ((seen = atomic_load(&p->done)) < chunks) mk_futex_wait(&p->done, seen);
    atomic_store(&p->waiting, 0);
#else
    while (atomic_load_explicit(&p->done, memory_order_acquire) < chunks) mk_relax();
#endif
}

// The next chunk of generation `generation` not yet claimed, or -1 (none left, or another generation runs).
static int claim_chunk(mk_pool *p, unsigned long generation) {
    uint64_t c = atomic_load_explicit(&p->claims, memory_order_acquire);
    for (;;) {
        if ((uint32_t)(c >> 32) != (uint32_t)generation) return -1;
        int chunks = (int)((c >> 16) & 0xFFFF), next = (int)(c & 0xFFFF);
        if (next >= chunks) return -1;
        if (atomic_compare_exchange_weak_explicit(&p->claims, &c, c + 1, memory_order_acq_rel, memory_order_acquire))
            return next;
    }
}

// Runs chunks of the current run while any is left. The task, context and count read after a successful claim
// belong to that run: the caller does not start another before every chunk of this one is done.
static void run_chunks(mk_pool *p, unsigned long generation) {
    int k;
    while ((k = claim_chunk(p, generation)) >= 0) {
        long count = p->count;
        int chunks = count < p->threads ? (int)count : p->threads;
        p->task(p->context, k, chunk_lo(count, k, chunks), chunk_lo(count, k + 1, chunks));
        int finished = atomic_fetch_add(&p->done, 1) + 1;
        // The caller sleeps on `done` only after it has said so in `waiting` and read `done` again (both
        // sequentially consistent), so either it sees the last chunk done or the last chunk's thread sees it
        // waiting and wakes it (earlier chunks need not: the caller waits for all of them).
#if defined(__linux__)
        if (finished == chunks && atomic_load(&p->waiting)) mk_futex_wake(&p->done);
#else
        (void)finished;
#endif
    }
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
        run_chunks(p, g);
    }
}

mk_pool *mk_pool_create(int threads, int spin_us) {
    if (threads < 1) threads = 1;
    if (threads > 4096) threads = 4096;  // chunk numbers are 16 bits in the claims word
    mk_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->threads = threads;
    p->spin_us = spin_us < 0 ? 0 : spin_us;
    atomic_init(&p->far_prefetch, 1);
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

void mk_pool_set_far_prefetch(mk_pool *p, int on) { atomic_store(&p->far_prefetch, on != 0); }

int mk_pool_far_prefetch(mk_pool *p) { return atomic_load(&p->far_prefetch); }

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
    int chunks = count < p->threads ? (int)count : p->threads;
    // The claims of the new generation first, then the generation the workers watch.
    unsigned long generation = atomic_load(&p->generation) + 1;
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    atomic_store_explicit(&p->claims, ((uint64_t)(uint32_t)generation << 32) | ((uint64_t)chunks << 16), memory_order_release);
    atomic_store_explicit(&p->generation, generation, memory_order_release);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mutex);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mutex);
    }
    double started = now_us();
    run_chunks(p, generation);
    wait_done(p, chunks, now_us() - started);
    atomic_store(&p->busy, 0);
    return 0;
}
