// Cost of tracking: ns per malloc+free pair through ht_malloc/ht_free with task
// tracking on, against the same heap model with tracking off (HEAPTRACK_TRACKING=0,
// the host's stand-in for a firmware built without CONFIG_HEAP_TASK_TRACKING)
// and against the host's plain malloc/free, with few and with many blocks live.
// Built by `make -C native/tests bench` (-O2, no sanitizers).
//
// Two patterns:
//   lifo     allocate a block and free it at once (allocator fast path)
//   replace  free a random live block and allocate its replacement (the live
//            set stays the same size; touches cold memory, as a real program)
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tracker_host.h"

#define ROUNDS (7)
#define PAIRS (1000000)

typedef struct {
    void *(*alloc)(size_t size);
    void (*release)(void *p);
} allocator_t;

static void *host_alloc(size_t size) {
    return malloc(size);
}

static void host_release(void *p) {
    free(p);
}

static void *tracked_alloc(size_t size) {
    return ht_malloc(size, HT_CAP_DEFAULT);
}

static void tracked_release(void *p) {
    if (ht_free(p) != HT_OK) {
        fprintf(stderr, "ht_free failed\n");
        exit(1);
    }
}

static const allocator_t host = { host_alloc, host_release };
static const allocator_t tracked = { tracked_alloc, tracked_release };

static unsigned g_seed = 12345;

static unsigned next_random(void) {
    g_seed ^= g_seed << 13;
    g_seed ^= g_seed >> 17;
    g_seed ^= g_seed << 5;
    return g_seed;
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void *checked(void *p) {
    if (p == NULL) {
        fprintf(stderr, "allocation failed\n");
        exit(1);
    }
    return p;
}

typedef struct {
    const allocator_t *a;
    void **live;
    size_t count;
    double best;
} run_t;

static void fill(run_t *run, const allocator_t *a, size_t count) {
    run->a = a;
    run->count = count;
    run->best = 1e30;
    run->live = checked(malloc(count * sizeof(void *)));
    for (size_t i = 0; i < count; ++i) {
        run->live[i] = checked(a->alloc(16 + next_random() % 240));
    }
}

static void drain(run_t *run) {
    for (size_t i = 0; i < run->count; ++i) {
        run->a->release(run->live[i]);
    }
    free(run->live);
}

static void one_round(run_t *run, bool replace) {
    const allocator_t *a = run->a;
    g_seed = 12345;
    double start = now_ns();
    if (replace) {
        for (int i = 0; i < PAIRS; ++i) {
            unsigned r = next_random();
            size_t k = r % run->count;
            a->release(run->live[k]);
            run->live[k] = checked(a->alloc(16 + (r >> 16) % 240));
        }
    } else {
        for (int i = 0; i < PAIRS; ++i) {
            void *p = checked(a->alloc(16 + next_random() % 240));
            a->release(p);
        }
    }
    double ns = (now_ns() - start) / PAIRS;
    if (ns < run->best) {
        run->best = ns;
    }
}

// Best of ROUNDS, in ns per pair, alternating the two so that noise from a
// busy machine hits both alike.
static void measure(size_t live_count, bool replace, double *plain, double *tracked_ns) {
    run_t runs[2];
    fill(&runs[0], &host, live_count);
    fill(&runs[1], &tracked, live_count);
    for (int round = 0; round < ROUNDS; ++round) {
        one_round(&runs[0], replace);
        one_round(&runs[1], replace);
    }
    *plain = runs[0].best;
    *tracked_ns = runs[1].best;
    drain(&runs[0]);
    drain(&runs[1]);
}

// The part of the overhead no tracker design avoids: ht_malloc and ht_free each
// take and release the tracker's mutex once.
static double mutex_floor(void) {
    static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
    double best = 1e30;
    for (int round = 0; round < ROUNDS; ++round) {
        double start = now_ns();
        for (int i = 0; i < PAIRS; ++i) {
            for (int k = 0; k < 2; ++k) {
                pthread_mutex_lock(&mutex);
                __asm__ volatile ("" ::: "memory");
                pthread_mutex_unlock(&mutex);
            }
        }
        double ns = (now_ns() - start) / PAIRS;
        if (ns < best) {
            best = ns;
        }
    }
    return best;
}

// 100,000 blocks of up to 256 bytes need about 26 MB: one 1 GiB region.
#define BENCH_LAYOUT "RAM:0x0010580e:0x40000000"

static void use_tracking(bool on) {
    if (on) {
        unsetenv(HT_HOST_TRACKING_ENV);
    } else {
        setenv(HT_HOST_TRACKING_ENV, "0", 1);
    }
    if (ht_host_reset(BENCH_LAYOUT) != HT_OK) {
        fprintf(stderr, "%s\n", ht_error_detail());
        exit(1);
    }
}

int main(void) {
    static const size_t lives[] = { 10, 100000 };
    printf("%-8s %7s %12s %12s %12s %9s %9s\n", "pattern", "live", "malloc/free",
        "untracked", "tracked", "trk/untrk", "trk/malloc");
    for (int replace = 0; replace < 2; ++replace) {
        for (size_t i = 0; i < sizeof(lives) / sizeof(lives[0]); ++i) {
            double plain, plain_again, untracked, tracked_ns;
            use_tracking(false);
            measure(lives[i], replace, &plain_again, &untracked);
            use_tracking(true);
            measure(lives[i], replace, &plain, &tracked_ns);
            if (plain_again < plain) {
                plain = plain_again;
            }
            printf("%-8s %7zu %9.1f ns %9.1f ns %9.1f ns %8.2fx %8.2fx\n", replace ? "replace" : "lifo",
                lives[i], plain, untracked, tracked_ns, tracked_ns / untracked, tracked_ns / plain);
        }
    }
    printf("(the tracker's mutex, locked once by each call, costs %.1f ns per pair of both)\n", mutex_floor());
    ht_host_reset(NULL);
    return 0;
}
