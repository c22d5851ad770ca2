// Cost of heaptrack's accounting layer: ns per malloc+free pair through
// ESP-IDF's heap_caps_malloc/heap_caps_free and through tracker.h's
// ht_malloc/ht_free (which add the registry of outstanding blocks), with
// ESP-IDF's heap task tracking on and off, while 10, 1,000 and 10,000 blocks
// of the calling task are live. Host build of ESP-IDF's heap
// (boards/HOST/esp_idf.mk), -O2, no sanitizers.
//
// Tracking on and off are two library builds (CONFIG_HEAP_TASK_TRACKING), so
// `make -C native/tests bench` builds this file twice; the tracking build is
// the driver: it runs the other (`--measure`), measures itself, and prints
// one table with the ratios, all from that one run.
//
//   bench_tracker [UNTRACKED_BINARY]   the table (without the argument: tracking on only)
//   bench_tracker --measure            one line per live count: live raw_ns ht_ns
//
// What a pair is: a block of 16..124 bytes allocated and freed at once (the
// same size sequence for both APIs), the calling task's live blocks sitting in
// the same heap. Heap: 16 MiB of PSRAM added at start-up (HEAPTRACK_IDF_REGIONS;
// the process re-executes itself with it), because 10,000 blocks plus ESP-IDF's
// per-block statistics do not fit the ESP32-S3's internal RAM. Each figure is
// the best of ROUNDS rounds, raw and heaptrack rounds alternating, each round
// sized to take about ROUND_NS. Goal for heaptrack's layer: at most 1.1x the
// raw pair with the same tracking setting (the registry adds O(1) per call).
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

#define BENCH_REGIONS "SPIRAM:0x3c000000:16777216"
#define ROUNDS (7)
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

// Best ns per pair through each API with `live` blocks live.
static void measure(size_t live, double *raw_best, double *ht_best) {
    void **raw_live = fill(live, false);
    void **ht_live = fill(live, true);
    // Round size: about ROUND_NS of raw pairs.
    unsigned n = 64;
    while (n < (1u << 24) && raw_round(n) * n < ROUND_NS / 4) {
        n *= 2;
    }
    n *= 4;
    *raw_best = *ht_best = 1e30;
    for (int round = 0; round < ROUNDS; ++round) {
        double r = raw_round(n), h = ht_round(n);
        *raw_best = r < *raw_best ? r : *raw_best;
        *ht_best = h < *ht_best ? h : *ht_best;
    }
    drain(ht_live, live, true);
    drain(raw_live, live, false);
}

// What one critical section (portMUX) costs: ht_malloc and ht_free take
// three per pair between them (reserve a slot, record the block, remove it).
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
    double raw, ht;
} figures_t;

static void measure_all(figures_t *out) {
    for (size_t i = 0; i < LIVES; ++i) {
        measure(g_lives[i], &out[i].raw, &out[i].ht);
    }
}

// The untracked build's figures, from its --measure output.
static bool run_untracked(const char *binary, figures_t *out) {
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
        out[got].raw = raw;
        out[got].ht = ht;
        ++got;
    }
    return pclose(f) == 0 && got == LIVES;
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
    figures_t tracked[LIVES], untracked[LIVES];
    if (argc > 1 && strcmp(argv[1], "--measure") == 0) {
        measure_all(tracked);
        for (size_t i = 0; i < LIVES; ++i) {
            printf("%zu %.1f %.1f\n", g_lives[i], tracked[i].raw, tracked[i].ht);
        }
        return 0;
    }
    #if !HEAPTRACK_IDF_TRACKING
    fprintf(stderr, "bench_tracker: this is the untracked build; run the tracking build (with this one as argument)\n");
    return 2;
    #endif
    bool have_untracked = argc > 1;
    if (have_untracked && !run_untracked(argv[1], untracked)) {
        fprintf(stderr, "bench_tracker: running %s --measure failed\n", argv[1]);
        return 1;
    }
    measure_all(tracked);

    printf("ns per malloc+free pair (16..124 bytes, allocated and freed at once) in a 16 MiB PSRAM heap,\n"
        "with N blocks of the calling task live; best of %d rounds; ESP-IDF's heap built for the host (-O2)\n",
        ROUNDS);
    printf("  raw = heap_caps_malloc + heap_caps_free; ht = ht_malloc + ht_free (heaptrack's layer on top)\n\n");
    printf("%7s | %-26s | %-26s | %s\n", "", "task tracking ON", "task tracking OFF", "tracking cost");
    printf("%7s | %8s %8s %8s | %8s %8s %8s | %8s %8s\n", "live N", "raw ns", "ht ns", "ht/raw",
        "raw ns", "ht ns", "ht/raw", "raw", "ht");
    for (size_t i = 0; i < LIVES; ++i) {
        printf("%7zu | %8.1f %8.1f %7.2fx |", g_lives[i], tracked[i].raw, tracked[i].ht, tracked[i].ht / tracked[i].raw);
        if (have_untracked) {
            printf(" %8.1f %8.1f %7.2fx | %7.2fx %7.2fx\n", untracked[i].raw, untracked[i].ht,
                untracked[i].ht / untracked[i].raw, tracked[i].raw / untracked[i].raw, tracked[i].ht / untracked[i].ht);
        } else {
            printf(" %8s %8s %8s | %8s %8s\n", "-", "-", "-", "-", "-");
        }
    }
    printf("\nht/raw: what heaptrack's registry adds (goal: at most 1.10x at every N, tracking on or off).\n"
        "tracking cost: ON over OFF; ESP-IDF's tracking finds a freed block by walking the task's list\n"
        "of blocks in that heap, so it grows with N.\n"
        "One critical section (portMUX; on the host a recursive pthread mutex) costs %.1f ns here;\n"
        "ht_malloc + ht_free enter three.\n", critical_section_ns());
    return 0;
}
