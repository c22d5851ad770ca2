// Cost of heap task tracking: ns per malloc+free pair through ESP-IDF's
// heap_caps_malloc/heap_caps_free, and through tracker.h's ht_malloc/ht_free
// (heaptrack's layer on top), while 10, 1,000 and 10,000 blocks of the calling
// task are live, on three builds of ESP-IDF's heap for the host
// (boards/HOST/esp_idf.mk, -O2, no sanitizers):
//   untracked  CONFIG_HEAP_TASK_TRACKING off, no hooks (the baseline)
//   ESP-IDF    ESP-IDF's heap task tracking (tracker_idf.c on top)
//   hooks      heaptrack's own tracker on ESP-IDF's heap hooks (tracker_hooks.c),
//              ESP-IDF's tracking off
//   floor      not a tracker: the least any exact tracker on those hooks costs
//              (bench/hooks_floor.c: live blocks in a table keyed by address,
//              one critical section per hook, no statistics); heaptrack.malloc's
//              layer is not measured on it
// and the RAM each tracker takes per live block. `make -C native/tests bench`
// builds this file four times; the ESP-IDF build is the driver: it runs the
// others (`--measure`), measures itself, and prints one table with the
// ratios, all from that one run.
//
//   bench_tracker UNTRACKED_BINARY HOOKS_BINARY FLOOR_BINARY   the table
//   bench_tracker --measure     one line per live count: live raw_ns ht_ns;
//                               then: ram heap_bytes_per_block table_bytes_per_block
//
// What a pair is: a block of 16..124 bytes allocated and freed at once (the
// same size sequence for both APIs), the calling task's live blocks sitting in
// the same heap. Heap: 16 MiB of PSRAM added at start-up (HEAPTRACK_IDF_REGIONS;
// the process re-executes itself with it), because 10,000 blocks plus ESP-IDF's
// per-block statistics do not fit the ESP32-S3's internal RAM. Each figure is
// the best of ROUNDS rounds, raw and heaptrack rounds alternating, each round
// sized to take about ROUND_NS; and the three builds are measured PASSES times
// in turn, keeping each figure's best, so that a burst of load from other
// processes on the machine lands on one pass of one build, not on a ratio.
// The three libraries and this program are built without position-independent
// code (-fno-pie), as the chip's code is: on i386 PIC costs a register and a
// call to fetch the program counter in every function that touches a global,
// which would weigh on the trackers' bookkeeping more than on the heap's.
// Goals: the hooks tracker within 1.3x of the
// untracked heap at every live count, with no more RAM per live block than
// ESP-IDF's tracker; heaptrack's layer at most 1.1x the raw pair of its build.
//
// RAM per live block: what the heap loses per extra live block of 64 bytes
// (PSRAM free bytes before and after 2,000 of them, which takes in ESP-IDF's
// per-block records and owner words), less the untracked build's; for the
// hooks tracker plus its table's bytes per block it can hold (static, sized
// when the firmware is built for HT_HOOKS_MAX_BLOCKS blocks, used or not).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "esp_heap_caps.h"
#include "freertos/FreeRTOS.h"
#include "tracker.h"

#ifndef HEAPTRACK_IDF_TRACKING
#define HEAPTRACK_IDF_TRACKING 1
#endif
#ifndef HEAPTRACK_IDF_HOOKS
#define HEAPTRACK_IDF_HOOKS 0
#endif
#ifndef HEAPTRACK_BENCH_FLOOR
#define HEAPTRACK_BENCH_FLOOR 0
#endif

#if HEAPTRACK_IDF_HOOKS
// tracker_hooks.c: the bytes its tables take per block they can hold.
extern const size_t ht_hooks_table_bytes_per_block;
#define TABLE_BYTES_PER_BLOCK ht_hooks_table_bytes_per_block
#else
#define TABLE_BYTES_PER_BLOCK ((size_t)0)
#endif

#if HEAPTRACK_BENCH_FLOOR
// hooks_floor.c: its live blocks, to check that it kept every one.
extern size_t bench_floor_live(void);
#endif

#define BENCH_REGIONS "SPIRAM:0x3c000000:16777216"
#define ROUNDS (7)
#define PASSES (3)
#define ROUND_NS (25e6)

static const size_t g_lives[] = { 10, 1000, 10000 };
#define LIVES (sizeof(g_lives) / sizeof(g_lives[0]))

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void fail(const char *what) {
    fprintf(stderr, "bench_tracker: %s%s%s\n", what, ht_error_detail()[0] ? ": " : "", ht_error_detail());
    exit(1);
}

static size_t pair_size(unsigned i) {
    return 16 + (i * 37u) % 112u;
}

// One round of n pairs; ns per pair.
static double raw_round(unsigned n) {
    double start = now_ns();
    for (unsigned i = 0; i < n; ++i) {
        void *p = heap_caps_malloc(pair_size(i), MALLOC_CAP_SPIRAM);
        if (p == NULL) {
            fail("heap_caps_malloc failed");
        }
        heap_caps_free(p);
    }
    return (now_ns() - start) / n;
}

static double ht_round(unsigned n) {
    double start = now_ns();
    for (unsigned i = 0; i < n; ++i) {
        void *p = ht_malloc(pair_size(i), HT_CAP_SPIRAM);
        if (p == NULL) {
            fail("ht_malloc failed");
        }
        if (ht_free(p) != HT_OK) {
            fail("ht_free failed");
        }
    }
    return (now_ns() - start) / n;
}

// Live blocks of the calling task: through the API being measured (so that
// heaptrack's registry holds them too), freed in allocation order (ESP-IDF
// finds those first in its per-task lists).
static void **fill(size_t count, bool through_ht) {
    void **live = malloc(count * sizeof(void *));
    if (live == NULL) {
        fail("no host memory");
    }
    for (size_t i = 0; i < count; ++i) {
        live[i] = through_ht ? ht_malloc(pair_size((unsigned)i), HT_CAP_SPIRAM)
                             : heap_caps_malloc(pair_size((unsigned)i), MALLOC_CAP_SPIRAM);
        if (live[i] == NULL) {
            fail("filling the live blocks failed");
        }
    }
    return live;
}

static void drain(void **live, size_t count, bool through_ht) {
    for (size_t i = 0; i < count; ++i) {
        if (through_ht) {
            if (ht_free(live[i]) != HT_OK) {
                fail("ht_free of a live block failed");
            }
        } else {
            heap_caps_free(live[i]);
        }
    }
    free(live);
}

// The floor build's live blocks (0 elsewhere).
static size_t floor_live(void) {
    #if HEAPTRACK_BENCH_FLOOR
    return bench_floor_live();
    #else
    return 0;
    #endif
}

// The floor build: its hooks must have kept every live block, or its figure
// would bound nothing.
static void check_floor(size_t expected) {
    if (HEAPTRACK_BENCH_FLOOR && floor_live() != expected) {
        fprintf(stderr, "bench_tracker: the floor's table holds %zu blocks, not %zu\n", floor_live(), expected);
        exit(1);
    }
}

// Best ns per pair through each API with `live` blocks live (ht_best 0 for
// the floor build, which has no heaptrack layer).
static void measure(size_t live, double *raw_best, double *ht_best) {
    const bool through_ht = !HEAPTRACK_BENCH_FLOOR;
    size_t floor_before = floor_live();
    void **raw_live = fill(live, false);
    void **ht_live = through_ht ? fill(live, true) : NULL;
    check_floor(floor_before + live);
    // Round size: about ROUND_NS of raw pairs.
    unsigned n = 64;
    while (n < (1u << 24) && raw_round(n) * n < ROUND_NS / 4) {
        n *= 2;
    }
    n *= 4;
    *raw_best = *ht_best = 1e30;
    for (int round = 0; round < ROUNDS; ++round) {
        double r = raw_round(n), h = through_ht ? ht_round(n) : 0.0;
        *raw_best = r < *raw_best ? r : *raw_best;
        *ht_best = h < *ht_best ? h : *ht_best;
    }
    if (through_ht) {
        drain(ht_live, live, true);
    }
    drain(raw_live, live, false);
    check_floor(floor_before);
}

// Heap bytes one more live 64-byte block takes, everything included.
#define RAM_BLOCKS 2000
static double heap_bytes_per_block(void) {
    void **held = malloc(RAM_BLOCKS * sizeof(void *));
    if (held == NULL) {
        fail("no host memory");
    }
    size_t before = heap_caps_get_free_size(MALLOC_CAP_SPIRAM);
    for (size_t i = 0; i < RAM_BLOCKS; ++i) {
        held[i] = heap_caps_malloc(64, MALLOC_CAP_SPIRAM);
        if (held[i] == NULL) {
            fail("heap_caps_malloc failed");
        }
    }
    size_t after = heap_caps_get_free_size(MALLOC_CAP_SPIRAM);
    for (size_t i = 0; i < RAM_BLOCKS; ++i) {
        heap_caps_free(held[i]);
    }
    free(held);
    return (double)(before - after) / RAM_BLOCKS;
}

// What one critical section (portMUX) costs.
static double critical_section_ns(void) {
    static portMUX_TYPE mux = portMUX_INITIALIZER_UNLOCKED;
    const unsigned n = 1u << 20;
    double best = 1e30;
    for (int round = 0; round < ROUNDS; ++round) {
        double start = now_ns();
        for (unsigned i = 0; i < n; ++i) {
            taskENTER_CRITICAL(&mux);
            __asm__ volatile ("" ::: "memory");
            taskEXIT_CRITICAL(&mux);
        }
        double ns = (now_ns() - start) / n;
        best = ns < best ? ns : best;
    }
    return best;
}

typedef struct {
    double raw[LIVES], ht[LIVES];
    double heap_per_block, table_per_block;
} figures_t;

static void measure_all(figures_t *out) {
    for (size_t i = 0; i < LIVES; ++i) {
        measure(g_lives[i], &out->raw[i], &out->ht[i]);
    }
    out->heap_per_block = heap_bytes_per_block();
    out->table_per_block = (double)TABLE_BYTES_PER_BLOCK;
}

static double least(double a, double b) {
    return a < b ? a : b;
}

// Keeps in *best the least time of each figure (the RAM figures do not vary).
static void keep_best(figures_t *best, const figures_t *pass, bool first) {
    if (first) {
        *best = *pass;
        return;
    }
    for (size_t i = 0; i < LIVES; ++i) {
        best->raw[i] = least(best->raw[i], pass->raw[i]);
        best->ht[i] = least(best->ht[i], pass->ht[i]);
    }
}

// Another build's figures, from its --measure output.
static bool run_other(const char *binary, figures_t *out) {
    char command[4096];
    if (snprintf(command, sizeof(command), "'%s' --measure", binary) >= (int)sizeof(command)) {
        return false;
    }
    FILE *f = popen(command, "r");
    if (f == NULL) {
        return false;
    }
    size_t got = 0;
    unsigned long live;
    double raw, ht;
    while (got < LIVES && fscanf(f, "%lu %lf %lf", &live, &raw, &ht) == 3) {
        if (live != g_lives[got]) {
            break;
        }
        out->raw[got] = raw;
        out->ht[got] = ht;
        ++got;
    }
    bool ram = fscanf(f, " ram %lf %lf", &out->heap_per_block, &out->table_per_block) == 2;
    return pclose(f) == 0 && got == LIVES && ram;
}

int main(int argc, char **argv) {
    if (getenv("HEAPTRACK_IDF_REGIONS") == NULL) {
        // The shim adds heaps only at start-up.
        setenv("HEAPTRACK_IDF_REGIONS", BENCH_REGIONS, 1);
        setenv("HEAPTRACK_IDF_CONSOLE", "/dev/null", 0);
        execv("/proc/self/exe", argv);
        fail("cannot re-execute itself with HEAPTRACK_IDF_REGIONS");
    }
    if (heap_caps_get_total_size(MALLOC_CAP_SPIRAM) == 0) {
        fail("no PSRAM heap (HEAPTRACK_IDF_REGIONS)");
    }
    figures_t idf, untracked, hooks, floor;
    if (argc > 1 && strcmp(argv[1], "--measure") == 0) {
        measure_all(&idf);
        for (size_t i = 0; i < LIVES; ++i) {
            printf("%zu %.1f %.1f\n", g_lives[i], idf.raw[i], idf.ht[i]);
        }
        printf("ram %.1f %.1f\n", idf.heap_per_block, idf.table_per_block);
        return 0;
    }
    #if !HEAPTRACK_IDF_TRACKING || HEAPTRACK_IDF_HOOKS
    fprintf(stderr, "bench_tracker: run the ESP-IDF tracker's build, with the untracked, hooks and floor builds as arguments\n");
    return 2;
    #endif
    if (argc != 4) {
        fprintf(stderr, "usage: %s UNTRACKED_BINARY HOOKS_BINARY FLOOR_BINARY\n", argv[0]);
        return 2;
    }
    // The builds in turn, PASSES times; each figure its best.
    for (int pass = 0; pass < PASSES; ++pass) {
        figures_t u, h, f, i;
        figures_t *others[] = { &u, &h, &f };
        for (int b = 0; b < 3; ++b) {
            if (!run_other(argv[1 + b], others[b])) {
                fprintf(stderr, "bench_tracker: running %s --measure failed\n", argv[1 + b]);
                return 1;
            }
        }
        measure_all(&i);
        keep_best(&untracked, &u, pass == 0);
        keep_best(&hooks, &h, pass == 0);
        keep_best(&floor, &f, pass == 0);
        keep_best(&idf, &i, pass == 0);
    }

    printf("ns per malloc+free pair (16..124 bytes, allocated and freed at once) in a 16 MiB PSRAM heap,\n"
        "with N blocks of the calling task live; best of %d rounds in each of %d passes over the four builds;\n"
        "ESP-IDF's heap built for the host (-O2, no PIC)\n\n",
        ROUNDS, PASSES);
    printf("heap_caps_malloc + heap_caps_free:\n");
    printf("%7s | %9s | %-22s | %-25s | %-22s\n", "", "untracked", "ESP-IDF's tracker", "heaptrack's hooks tracker",
        "floor (no statistics)");
    printf("%7s | %9s | %9s %12s | %9s %15s | %9s %12s\n", "live N", "ns", "ns", "x untracked", "ns", "x untracked",
        "ns", "x untracked");
    for (size_t i = 0; i < LIVES; ++i) {
        printf("%7zu | %9.1f | %9.1f %11.2fx | %9.1f %14.2fx | %9.1f %11.2fx\n", g_lives[i], untracked.raw[i],
            idf.raw[i], idf.raw[i] / untracked.raw[i], hooks.raw[i], hooks.raw[i] / untracked.raw[i],
            floor.raw[i], floor.raw[i] / untracked.raw[i]);
    }
    printf("floor: the least an exact tracker on the heap hooks costs (bench/hooks_floor.c: every live block\n"
        "in a table keyed by address, one critical section per hook; no task, heap, statistics or order)\n");
    printf("\nht_malloc + ht_free (heaptrack's layer: the registry of heaptrack.malloc's blocks on top):\n");
    printf("%7s | %9s | %-22s | %-22s\n", "", "untracked", "ESP-IDF's tracker", "heaptrack's hooks tracker");
    printf("%7s | %9s | %9s %12s | %9s %12s\n", "live N", "ns", "ns", "x raw pair", "ns", "x raw pair");
    for (size_t i = 0; i < LIVES; ++i) {
        printf("%7zu | %9.1f | %9.1f %11.2fx | %9.1f %11.2fx\n", g_lives[i], untracked.ht[i],
            idf.ht[i], idf.ht[i] / idf.raw[i], hooks.ht[i], hooks.ht[i] / hooks.raw[i]);
    }
    double idf_ram = idf.heap_per_block - untracked.heap_per_block;
    double hooks_ram = hooks.heap_per_block - untracked.heap_per_block + hooks.table_per_block;
    printf("\nRAM per live block (64-byte blocks): untracked heap %.1f bytes; tracking adds:\n"
        "  ESP-IDF's tracker          %5.1f bytes (its per-block record, from its biggest heap, and every\n"
        "                                   block's 4-byte owner word)\n"
        "  heaptrack's hooks tracker  %5.1f bytes (heap: %+.1f; its static table: %.0f bytes per block it can\n"
        "                                   hold, allocated whether used or not)\n",
        untracked.heap_per_block, idf_ram, hooks_ram, hooks.heap_per_block - untracked.heap_per_block,
        hooks.table_per_block);
    bool fast = true;
    bool thin = true;     // heaptrack's layer at most 1.1x the raw pair of its build, on both trackers
    double room = 1e30;   // ns per pair 1.3x leaves beyond the floor, at the tightest N
    for (size_t i = 0; i < LIVES; ++i) {
        fast = fast && hooks.raw[i] <= 1.3 * untracked.raw[i];
        thin = thin && idf.ht[i] <= 1.1 * idf.raw[i] && hooks.ht[i] <= 1.1 * hooks.raw[i];
        room = least(room, 1.3 * untracked.raw[i] - floor.raw[i]);
    }
    printf("\nGoals: hooks tracker within 1.3x of untracked at every N: %s; "
        "no more RAM per live block than ESP-IDF's tracker: %s;\n"
        "heaptrack's layer at most 1.1x the raw pair of its build at every N, on both trackers: %s.\n",
        fast ? "met" : "NOT MET", hooks_ram <= idf_ram ? "met" : "NOT MET", thin ? "met" : "NOT MET");
    printf("Within 1.3x, a tracker has %.1f ns per pair beyond the floor for its task and heap records,\n"
        "counters, peaks and block order; heaptrack's spends %.1f.\n",
        room, hooks.raw[LIVES - 1] - floor.raw[LIVES - 1]);
    double critical = critical_section_ns();
    printf("One critical section (portMUX; on the host a spinlock of the chip's shape, compare-and-set)\n"
        "costs %.1f ns here: a malloc+free pair takes two in the heap, two more in the hooks tracker.\n",
        critical);
    return 0;
}
