// What heap tracking costs a malloc+free pair, measured on one build of
// ESP-IDF's heap for the host (boards/HOST/esp_idf.mk, -O2, no PIC, no
// sanitizers). `make bench` builds this file five times and
// bench/bench_tracker.py runs them all, in turn, and prints every figure as a
// ratio measured in that one run:
//   untracked  no task tracking, no hooks, no tracing (the baseline)
//   idf        ESP-IDF's heap task tracking (tracker_idf.c on top)
//   tracing    ESP-IDF's heap tracing, standalone with its hash map, in leak mode
//              (heap_trace_standalone.c; no per-task figures)
//   hooks      heaptrack's tracker on ESP-IDF's heap hooks (tracker_hooks.c)
//   floor      not a tracker: the least an exact tracker on those hooks costs
//              (bench/hooks_floor.c)
//
//   bench_tracker --measure        wall clock: one line per figure (below)
//   bench_tracker --instructions   the same work, a fixed number of pairs per
//                                  figure, for callgrind: each figure's pairs are
//                                  counted by the worker that runs them (its
//                                  collection toggled on around them) and dumped
//                                  under the figure's label
//
// Two patterns, each with exactly N = 10, 1,000 and 10,000 live blocks (no
// other block of the bench is live while a figure is measured):
//   lifo    one task; a block of 16..124 bytes allocated and freed at once, the
//           task's N blocks live beside it (the best case for a table keyed by
//           address, and the worst for ESP-IDF's list, which finds the newest
//           block last)
//   random  four tasks taking turns, 256 pairs a turn; each pair frees a live
//           block picked at random, whoever allocated it (three times in four
//           another task's), and allocates one of 16..4096 bytes in its place
// Each figure through two APIs, each with its own N live blocks: heap_caps_*
// (raw) and tracker.h's ht_malloc/ht_free (heaptrack's layer, where the build
// has it), and the same loop with neither (none): its cost, the bench's own
// (random numbers, the array of live blocks, the clock), is taken off the
// others. Every build runs the same pairs: the same sizes, the same blocks
// freed, from one seed.
//
// Output of --measure ("ns" per pair, the median of ROUNDS rounds, each sized
// to take about ROUND_NS):
//   time PATTERN N API NS
//   lock NS                       (a critical section taken and given back)
//   ram HEAP_BYTES_PER_BLOCK STATIC_BYTES_PER_BLOCK
//   table BLOCKS                  (the hooks build: the blocks its table holds)
// The heap's PSRAM is 32 MiB at ESP32-S3's external RAM address
// (HEAPTRACK_IDF_REGIONS; the program re-executes itself with it unless it is
// set): 10,000 blocks of up to 4 KiB and ESP-IDF's records of them do not fit
// the chip's internal RAM. They are built without position-independent code,
// as the chip's code is: on i386 PIC costs a register and a program-counter
// fetch in every function that touches a global.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

#include "esp_heap_caps.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "tracker.h"

#ifndef HEAPTRACK_IDF_HOOKS
#define HEAPTRACK_IDF_HOOKS 0
#endif
#ifndef HEAPTRACK_BENCH_FLOOR
#define HEAPTRACK_BENCH_FLOOR 0
#endif
#ifndef HEAPTRACK_IDF_TRACING
#define HEAPTRACK_IDF_TRACING 0
#endif

#if HEAPTRACK_IDF_TRACING
#include "esp_heap_trace.h"
// Its records: room for every live block of the bench and then some (a full
// buffer drops the oldest record, which would make it cheaper and inexact).
#define TRACE_RECORDS 16384
static heap_trace_record_t s_trace_records[TRACE_RECORDS];
#endif

#if HEAPTRACK_IDF_HOOKS
// tracker_hooks.c: the bytes its tables take per block they can hold, built
// for HT_HOOKS_MAX_BLOCKS blocks (native/tests/Makefile passes both the same).
extern const size_t ht_hooks_table_bytes_per_block;
#ifndef HT_HOOKS_MAX_BLOCKS
#error "HT_HOOKS_MAX_BLOCKS: the hooks tracker's, as its library was built"
#endif
#endif

#if HEAPTRACK_BENCH_FLOOR
// hooks_floor.c: its live blocks, to check that it kept every one.
extern size_t bench_floor_live(void);
#endif

// Builds with heaptrack's layer measure it; the floor and ESP-IDF's tracing
// are measured on the heap's API alone.
#define HAS_LAYER (!HEAPTRACK_BENCH_FLOOR && !HEAPTRACK_IDF_TRACING)

#define BENCH_REGIONS "SPIRAM:0x3c000000:33554432"
#define ROUNDS 5
#define ROUND_NS (2e6)
#define TASKS 4
#define TURN 256
#define MAX_LIVE 10000
// --instructions: pairs counted per figure, after WARM_UP pairs not counted.
#define COUNTED 2048
#define WARM_UP 256

typedef enum { API_NONE, API_RAW, API_HT } api_t;
static const char *const g_api_names[] = { "none", "raw", "ht" };

typedef struct {
    const char *name;
    unsigned tasks;
    bool random;
} pattern_t;

static const pattern_t g_patterns[] = {
    { "lifo", 1, false },
    { "random", TASKS, true },
};
static const size_t g_lives[] = { 10, 1000, 10000 };
#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
#define HT_STR2(x) #x
#define HT_STR(x) HT_STR2(x)

static void fail_with(const char *what, ht_err_t err) {
    fprintf(stderr, "bench_tracker: %s%s%s\n", what, err != HT_OK ? ": " : "", err != HT_OK ? ht_err_text(err) : "");
    exit(1);
}

static void fail(const char *what) {
    fail_with(what, HT_OK);
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/******************************************************************************/
// One figure's state: its live blocks, and the pairs' random numbers.

typedef struct {
    const pattern_t *pattern;
    api_t api;
    size_t live_count;
    void *live[MAX_LIVE];
    uint32_t born[MAX_LIVE];   // allocation order of each live block (drained oldest first)
    uint32_t births;
    uint32_t rng;
    double ns;                 // time its workers spent in pairs
} figure_t;

static figure_t g_figure;

static uint32_t next_random(figure_t *f) {
    f->rng ^= f->rng << 13;
    f->rng ^= f->rng >> 17;
    f->rng ^= f->rng << 5;
    return f->rng;
}

static void *block_alloc(api_t api, size_t size) {
    void *p = NULL;
    ht_err_t err = HT_OK;
    if (api == API_HT) {
        err = ht_malloc(size, HT_CAP_SPIRAM, &p);
    } else {
        p = heap_caps_malloc(size, MALLOC_CAP_SPIRAM);
    }
    if (p == NULL) {
        fail_with("an allocation failed", err);
    }
    return p;
}

static void block_free(api_t api, void *p) {
    if (api == API_HT) {
        ht_err_t err = ht_free(p);
        if (err != HT_OK) {
            fail_with("ht_free failed", err);
        }
    } else {
        heap_caps_free(p);
    }
}

// Keeps the compiler from dropping the API_NONE loop's work.
static volatile uintptr_t g_sink;

// One pair. lifo: allocate, free at once. random: free a random live block,
// allocate another in its place. API_NONE does everything else.
static void pair(figure_t *f, unsigned i) {
    if (!f->pattern->random) {
        size_t size = 16 + (i * 37u) % 112u;
        if (f->api == API_NONE) {
            g_sink = size;
            return;
        }
        block_free(f->api, block_alloc(f->api, size));
        return;
    }
    uint32_t r = next_random(f);
    size_t k = r % f->live_count;
    size_t size = 16 + (r >> 16) % 4081u;
    if (f->api == API_NONE) {
        g_sink = (uintptr_t)f->live[k] + size;
        return;
    }
    block_free(f->api, f->live[k]);
    f->live[k] = block_alloc(f->api, size);
    f->born[k] = f->births++;
}

/******************************************************************************/
// Workers: FreeRTOS tasks that run a job for the main task, one at a time, so
// that every build runs the same pairs in the same order.

typedef enum { JOB_FILL, JOB_PAIRS, JOB_DRAIN } job_kind_t;

typedef struct {
    job_kind_t kind;
    unsigned first, count;   // FILL: live blocks first, first + tasks, ...; PAIRS: pair numbers
    bool counted;            // PAIRS: counted by callgrind
} job_t;

typedef struct {
    TaskHandle_t handle;
    TaskHandle_t caller;
    job_t job;
} worker_t;

static worker_t g_workers[TASKS];

static int compare_born(const void *a, const void *b) {
    uint32_t x = g_figure.born[*(const unsigned *)a], y = g_figure.born[*(const unsigned *)b];
    return x < y ? -1 : x > y;
}

// Frees every live block, oldest first (where ESP-IDF's lists find them first).
static void drain(figure_t *f) {
    static unsigned order[MAX_LIVE];
    for (unsigned k = 0; k < f->live_count; ++k) {
        order[k] = k;
    }
    qsort(order, f->live_count, sizeof(order[0]), compare_born);
    for (unsigned k = 0; k < f->live_count; ++k) {
        block_free(f->api, f->live[order[k]]);
    }
}

static void fill(figure_t *f, unsigned first, unsigned step) {
    for (unsigned k = first; k < f->live_count; k += step) {
        size_t size = f->pattern->random ? 16 + next_random(f) % 4081u : 16 + (k * 37u) % 112u;
        f->live[k] = block_alloc(f->api, size);
        f->born[k] = f->births++;
    }
}

// The pairs of one turn, timed by the task that runs them (the hand-over
// between tasks is not a pair's cost); under callgrind, counted alone.
static void run_pairs(figure_t *f, const job_t *job) {
    double start = now_ns();
    if (job->counted) {
        CALLGRIND_TOGGLE_COLLECT;
    }
    for (unsigned i = job->first; i < job->first + job->count; ++i) {
        pair(f, i);
    }
    if (job->counted) {
        CALLGRIND_TOGGLE_COLLECT;
    }
    f->ns += now_ns() - start;
}

static void worker_main(void *arg) {
    worker_t *w = arg;
    for (;;) {
        ulTaskNotifyTake(pdTRUE, portMAX_DELAY);
        const job_t *job = &w->job;
        if (job->kind == JOB_FILL) {
            fill(&g_figure, job->first, g_figure.pattern->tasks);
        } else if (job->kind == JOB_PAIRS) {
            run_pairs(&g_figure, job);
        } else {
            drain(&g_figure);
        }
        xTaskNotifyGive(w->caller);
    }
}

static void worker_run(unsigned n, job_t job) {
    worker_t *w = &g_workers[n];
    w->job = job;
    w->caller = xTaskGetCurrentTaskHandle();
    xTaskNotifyGive(w->handle);
    ulTaskNotifyTake(pdTRUE, portMAX_DELAY);
}

static void workers_start(void) {
    for (unsigned n = 0; n < TASKS; ++n) {
        char name[16];
        snprintf(name, sizeof(name), "bench%u", n);
        if (xTaskCreate(worker_main, name, 4096, &g_workers[n], 5, &g_workers[n].handle) != pdPASS) {
            fail("cannot start a worker task");
        }
    }
}

/******************************************************************************/
// A figure: N live blocks, then pairs.

static size_t floor_live(void) {
    #if HEAPTRACK_BENCH_FLOOR
    return bench_floor_live();
    #else
    return 0;
    #endif
}

// The builds that keep records must have kept every live block, or their
// figure would be of a cheaper, inexact tracker.
static void check_kept(size_t expected_floor) {
    if (HEAPTRACK_BENCH_FLOOR && floor_live() != expected_floor) {
        fprintf(stderr, "bench_tracker: the floor's table holds %zu blocks, not %zu\n", floor_live(), expected_floor);
        exit(1);
    }
    #if HEAPTRACK_IDF_TRACING
    heap_trace_summary_t summary;
    if (heap_trace_summary(&summary) != ESP_OK || summary.has_overflowed) {
        fail("ESP-IDF's heap tracing dropped records");
    }
    #endif
}

static void figure_begin(const pattern_t *pattern, size_t live, api_t api) {
    figure_t *f = &g_figure;
    f->pattern = pattern;
    f->api = api;
    f->live_count = live;
    f->births = 0;
    f->rng = 0x9e3779b9u;
    size_t floor_before = floor_live();
    if (api != API_NONE) {
        for (unsigned n = 0; n < pattern->tasks; ++n) {
            worker_run(n, (job_t) { .kind = JOB_FILL, .first = n });
        }
    } else {
        memset(f->live, 0, sizeof(f->live));
    }
    check_kept(floor_before + (api != API_NONE ? live : 0));
}

static void figure_end(void) {
    if (g_figure.api != API_NONE) {
        worker_run(0, (job_t) { .kind = JOB_DRAIN });
    }
}

// `count` pairs, from pair number `first`, the tasks taking turns; the time
// the tasks spent in them (g_figure.ns).
static void pairs(unsigned first, unsigned count, bool counted) {
    figure_t *f = &g_figure;
    f->ns = 0;
    unsigned turn = f->pattern->random ? TURN : count;
    for (unsigned done = 0, n = 0; done < count; done += turn, n = (n + 1) % f->pattern->tasks) {
        unsigned c = count - done < turn ? count - done : turn;
        worker_run(n, (job_t) { .kind = JOB_PAIRS, .first = first + done, .count = c, .counted = counted });
    }
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// ns per pair: the median of ROUNDS rounds of about ROUND_NS each (hand-overs
// between the tasks included in a round's length, not in its figure).
static double figure_time(const pattern_t *pattern, size_t live, api_t api) {
    figure_begin(pattern, live, api);
    unsigned n = 64, next = 0;
    for (;;) {
        double start = now_ns();
        pairs(next, n, false);
        next += n;
        if (n >= (1u << 22) || now_ns() - start >= ROUND_NS / 4) {
            break;
        }
        n *= 2;
    }
    n *= 4;
    double ns[ROUNDS];
    for (int round = 0; round < ROUNDS; ++round) {
        pairs(next, n, false);
        ns[round] = g_figure.ns / n;
        next += n;
    }
    figure_end();
    qsort(ns, ROUNDS, sizeof(ns[0]), compare_double);
    return ns[ROUNDS / 2];
}

// COUNTED pairs under callgrind's eye, dumped as "PATTERN N API".
static void figure_instructions(const pattern_t *pattern, size_t live, api_t api) {
    figure_begin(pattern, live, api);
    pairs(0, WARM_UP, false);
    CALLGRIND_ZERO_STATS;
    pairs(WARM_UP, COUNTED, true);
    char label[64];
    snprintf(label, sizeof(label), "%s %zu %s", pattern->name, live, g_api_names[api]);
    CALLGRIND_DUMP_STATS_AT(label);
    figure_end();
}

/******************************************************************************/
// What a critical section costs: a portMUX taken and given back, as each hook
// of the hooks tracker (and of the floor) does once, and the heap twice a pair.

#define LOCK_PAIRS 2048

static void critical_sections(unsigned n) {
    static portMUX_TYPE mux = portMUX_INITIALIZER_UNLOCKED;
    for (unsigned i = 0; i < n; ++i) {
        taskENTER_CRITICAL(&mux);
        __asm__ volatile ("" ::: "memory");
        taskEXIT_CRITICAL(&mux);
    }
}

static double critical_section_ns(void) {
    double ns[ROUNDS];
    for (int round = 0; round < ROUNDS; ++round) {
        double start = now_ns();
        critical_sections(LOCK_PAIRS * 16);
        ns[round] = (now_ns() - start) / (LOCK_PAIRS * 16);
    }
    qsort(ns, ROUNDS, sizeof(ns[0]), compare_double);
    return ns[ROUNDS / 2];
}

static void critical_section_instructions(void) {
    critical_sections(WARM_UP);
    CALLGRIND_ZERO_STATS;
    CALLGRIND_TOGGLE_COLLECT;
    critical_sections(LOCK_PAIRS);
    CALLGRIND_TOGGLE_COLLECT;
    CALLGRIND_DUMP_STATS_AT("lock " HT_STR(LOCK_PAIRS) " pairs");
}

/******************************************************************************/
// RAM.

// Heap bytes one more live 64-byte block takes, everything included.
#define RAM_BLOCKS 2000
static double heap_bytes_per_block(void) {
    static void *held[RAM_BLOCKS];
    size_t before = heap_caps_get_free_size(MALLOC_CAP_SPIRAM);
    for (size_t i = 0; i < RAM_BLOCKS; ++i) {
        held[i] = block_alloc(API_RAW, 64);
    }
    size_t after = heap_caps_get_free_size(MALLOC_CAP_SPIRAM);
    for (size_t i = 0; i < RAM_BLOCKS; ++i) {
        heap_caps_free(held[i]);
    }
    return (double)(before - after) / RAM_BLOCKS;
}

// Static bytes per block the build can keep records of.
static double static_bytes_per_block(void) {
    #if HEAPTRACK_IDF_HOOKS
    return (double)ht_hooks_table_bytes_per_block;
    #elif HEAPTRACK_IDF_TRACING
    return (double)sizeof(heap_trace_record_t);
    #else
    return 0.0;
    #endif
}

// Touches every page of the PSRAM heap once, so that no figure pays for the
// host's first touch of its pages (the chip's RAM has none).
static void prefault(void) {
    size_t largest = heap_caps_get_largest_free_block(MALLOC_CAP_SPIRAM);
    void *p = heap_caps_malloc(largest, MALLOC_CAP_SPIRAM);
    if (p == NULL) {
        fail("cannot take the PSRAM heap's largest block");
    }
    memset(p, 0, largest);
    heap_caps_free(p);
}

/******************************************************************************/

static void measure(bool instructions) {
    for (size_t p = 0; p < COUNT_OF(g_patterns); ++p) {
        for (size_t l = 0; l < COUNT_OF(g_lives); ++l) {
            for (api_t api = API_NONE; api <= (HAS_LAYER ? API_HT : API_RAW); ++api) {
                if (instructions) {
                    figure_instructions(&g_patterns[p], g_lives[l], api);
                } else {
                    printf("time %s %zu %s %.2f\n", g_patterns[p].name, g_lives[l], g_api_names[api],
                        figure_time(&g_patterns[p], g_lives[l], api));
                }
            }
        }
    }
    if (instructions) {
        critical_section_instructions();
    } else {
        printf("lock %.2f\n", critical_section_ns());
    }
    printf("ram %.1f %.1f\n", heap_bytes_per_block(), static_bytes_per_block());
    #if HEAPTRACK_IDF_HOOKS
    printf("table %d\n", HT_HOOKS_MAX_BLOCKS);
    #endif
}

int main(int argc, char **argv) {
    if (getenv("HEAPTRACK_IDF_REGIONS") == NULL) {
        // The shim adds heaps only at start-up.
        setenv("HEAPTRACK_IDF_REGIONS", BENCH_REGIONS, 1);
        setenv("HEAPTRACK_IDF_CONSOLE", "/dev/null", 0);
        execv("/proc/self/exe", argv);
        fail("cannot re-execute itself with HEAPTRACK_IDF_REGIONS");
    }
    bool instructions = argc == 2 && strcmp(argv[1], "--instructions") == 0;
    if (!instructions && !(argc == 2 && strcmp(argv[1], "--measure") == 0)) {
        fprintf(stderr, "usage: %s --measure | --instructions (bench/bench_tracker.py runs it)\n", argv[0]);
        return 2;
    }
    if (heap_caps_get_total_size(MALLOC_CAP_SPIRAM) == 0) {
        fail("no PSRAM heap (HEAPTRACK_IDF_REGIONS)");
    }
    #if HEAPTRACK_IDF_TRACING
    if (heap_trace_init_standalone(s_trace_records, TRACE_RECORDS) != ESP_OK
        || heap_trace_start(HEAP_TRACE_LEAKS) != ESP_OK) {
        fail("cannot start ESP-IDF's heap tracing");
    }
    #endif
    prefault();
    workers_start();
    measure(instructions);
    fflush(stdout);
    return 0;
}
