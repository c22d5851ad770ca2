// The record of failed allocations (failures.h): wrong caps, exhausted and
// fragmented heaps, PSRAM or internal, its ring, the GC heap's figures.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/******************************************************************************/
// Failed allocations (failures.h): every failed heap_caps_* call, recorded by
// ESP-IDF's callback with the figures of each heap that has its caps.

typedef struct {
    ht_failure_t f[HT_FAILURES];
    size_t count;
    uint32_t total;
    uint32_t lost;
} failures_t;

static failures_t failures_now(void) {
    failures_t fs;
    memset(&fs, 0, sizeof(fs));
    CHECK(ht_failures_copy(fs.f, HT_FAILURES, &fs.count, &fs.total, &fs.lost) == HT_OK);
    CHECK(fs.count == (fs.total < HT_FAILURES ? fs.total : HT_FAILURES) && fs.lost == fs.total - fs.count);
    return fs;
}

// The newest failure, which must be the only one since the last clear.
static ht_failure_t only_failure(void) {
    failures_t fs = failures_now();
    CHECK(fs.total == 1 && fs.count == 1 && fs.lost == 0);
    return fs.f[0];
}

// A record's heaps are exactly the regions with every caps bit asked for, in
// ESP-IDF's order, with the figures ht_region_info() gives now (nothing has
// moved since the failure).
static void check_heaps_of(const ht_failure_t *f, const regions_t *now) {
    size_t k = 0;
    for (size_t i = 0; i < now->count; ++i) {
        const ht_region_info_t *r = &now->r[i];
        if (f->caps == 0 || (r->caps & f->caps) != f->caps) {
            continue;
        }
        CHECK((f->caps & MALLOC_CAP_EXEC) == 0);   // not used with executable memory here
        if (k < HT_FAILURE_HEAPS) {
            const ht_failure_heap_t *h = &f->heaps[k];
            CHECK(h->start == r->start && h->caps == r->caps && h->total == r->total_size);
            CHECK(h->free == r->free_size && h->largest == r->largest_free_block);
            CHECK(strcmp(h->name, r->name) == 0);
        }
        ++k;
    }
    CHECK(f->heap_count == k);
}

static void check_caller(const ht_failure_t *f, ht_task_t task, const char *name, size_t size, uint32_t caps,
    const char *function) {
    CHECK(f->task == task && strcmp(f->task_name, name) == 0);
    CHECK(f->size == size && f->caps == caps && !f->in_isr);
    CHECK(f->function != NULL && strcmp(f->function, function) == 0);
}

// The RTC fast memory heap (its own caps bit) filled with blocks of `size`:
// returns how many are in p.
static size_t fill_rtcram(void **p, size_t max, size_t size) {
    size_t n = 0;
    while (n < max && (p[n] = heap_caps_malloc(size, MALLOC_CAP_RTCRAM)) != NULL) {
        ++n;
    }
    return n;
}

void test_failure_wrong_caps(void) {
    CHECK(ht_failures_clear() == HT_OK);
    CHECK(ht_failures_newest(NULL) == 0);
    uint32_t ticks = xTaskGetTickCount();
    // Byte-addressable executable memory: ESP-IDF has no such heap.
    CHECK(heap_caps_malloc(48, MALLOC_CAP_EXEC | MALLOC_CAP_8BIT) == NULL);
    ht_failure_t f = only_failure();
    check_caller(&f, ht_current_task(), "mp_task", 48, MALLOC_CAP_EXEC | MALLOC_CAP_8BIT, "heap_caps_malloc");
    CHECK(f.number == 1 && f.heap_count == 0);
    CHECK(f.ticks >= ticks && f.ticks <= xTaskGetTickCount());
    CHECK(f.ms == (uint64_t)f.ticks * 1000 / CONFIG_FREERTOS_HZ);
    CHECK(f.gc_total == SIZE_MAX);   // no probe: not known
    // calloc is named as such, with the bytes it wanted.
    CHECK(heap_caps_calloc(3, 100, MALLOC_CAP_SPIRAM | MALLOC_CAP_INTERNAL) == NULL);
    ht_failure_t newest;
    CHECK(ht_failures_newest(&newest) == 2 && newest.number == 2);
    check_caller(&newest, ht_current_task(), "mp_task", 300, MALLOC_CAP_SPIRAM | MALLOC_CAP_INTERNAL, "heap_caps_calloc");
    CHECK(newest.heap_count == 0);
    CHECK(ht_failures_clear() == HT_OK);
    failures_t none = failures_now();
    CHECK(none.total == 0 && none.count == 0);
}

// Exhausted: the heap's free bytes are fewer than asked for.
void test_failure_exhausted(void) {
    enum { MAX = 200 };
    void *p[MAX];
    size_t n = 0;
    for (size_t size = CHIP_RTCRAM->size / 16; size >= 4; size /= 2) {
        n += fill_rtcram(p + n, MAX - n, size);
    }
    CHECK(n > 8 && n < MAX);
    CHECK(ht_failures_clear() == HT_OK);
    CHECK(heap_caps_malloc(64, MALLOC_CAP_RTCRAM) == NULL);
    ht_failure_t f = only_failure();
    regions_t now = regions();
    check_caller(&f, ht_current_task(), "mp_task", 64, MALLOC_CAP_RTCRAM, "heap_caps_malloc");
    CHECK(f.heap_count == 1);
    check_heaps_of(&f, &now);
    CHECK(f.heaps[0].free < 64 && f.heaps[0].largest <= f.heaps[0].free);
    for (size_t k = 0; k < n; ++k) {
        heap_caps_free(p[k]);
    }
}

// Fragmented: free bytes enough, no free block big enough.
void test_failure_fragmented(void) {
    // Blocks of a 32nd of the heap, every other one freed: each hole is far
    // smaller than 1024 bytes, all of them together more.
    enum { MAX = 64 };
    const size_t block = (CHIP_RTCRAM->size / 32) & ~(size_t)7;
    void *p[MAX];
    size_t n = fill_rtcram(p, MAX, block);
    void *rest[MAX];
    size_t m = 0;
    for (size_t size = block / 2; size >= 4; size /= 2) {
        m += fill_rtcram(rest + m, MAX - m, size);
    }
    CHECK(n > 16 && n < MAX && m < MAX);
    for (size_t k = 0; k < n; k += 2) {
        heap_caps_free(p[k]);
        p[k] = NULL;
    }
    CHECK(ht_failures_clear() == HT_OK);
    CHECK(heap_caps_malloc(1024, MALLOC_CAP_RTCRAM) == NULL);
    ht_failure_t f = only_failure();
    regions_t now = regions();
    check_caller(&f, ht_current_task(), "mp_task", 1024, MALLOC_CAP_RTCRAM, "heap_caps_malloc");
    check_heaps_of(&f, &now);
    CHECK(f.heap_count == 1 && f.heaps[0].free >= 1024 && f.heaps[0].largest < 1024);
    for (size_t k = 0; k < n; ++k) {
        heap_caps_free(p[k]);
    }
    for (size_t k = 0; k < m; ++k) {
        heap_caps_free(rest[k]);
    }
}

// Internal RAM versus PSRAM (the PSRAM runs): each failure keeps the heaps of
// its own caps only.
void test_failure_psram_or_internal(void) {
    CHECK(ht_failures_clear() == HT_OK);
    CHECK(heap_caps_malloc(PSRAM_SIZE, MALLOC_CAP_SPIRAM) == NULL);
    CHECK(heap_caps_malloc(PSRAM_SIZE, MALLOC_CAP_INTERNAL | MALLOC_CAP_8BIT) == NULL);
    failures_t fs = failures_now();
    regions_t now = regions();
    CHECK(fs.total == 2 && fs.count == 2);
    check_heaps_of(&fs.f[0], &now);
    CHECK(fs.f[0].heap_count == 1 && fs.f[0].heaps[0].total == PSRAM_SIZE
        && (fs.f[0].heaps[0].caps & MALLOC_CAP_SPIRAM) != 0);
    check_heaps_of(&fs.f[1], &now);
    CHECK(fs.f[1].heap_count >= 2);
    for (size_t i = 0; i < fs.f[1].heap_count && i < HT_FAILURE_HEAPS; ++i) {
        CHECK((fs.f[1].heaps[i].caps & (MALLOC_CAP_SPIRAM | MALLOC_CAP_INTERNAL)) == MALLOC_CAP_INTERNAL);
    }
}

// Another task's failure is its own; the ring keeps the newest HT_FAILURES and
// counts the rest.
void test_failure_ring(void) {
    CHECK(ht_failures_clear() == HT_OK);
    worker_t w;
    ht_task_t handle = worker_start(&w, "asker");
    op_t op = { .kind = OP_HEAP_MALLOC, .size = 0x40000000u, .caps = MALLOC_CAP_DEFAULT };
    worker_run(&w, &op);
    CHECK(op.address == NULL);
    ht_failure_t f = only_failure();
    check_caller(&f, handle, "asker", 0x40000000u, MALLOC_CAP_DEFAULT, "heap_caps_malloc");
    worker_stop(&w);
    enum { MORE = HT_FAILURES + 3 };
    for (size_t i = 0; i < MORE; ++i) {
        CHECK(heap_caps_malloc(0x40000000u + i, MALLOC_CAP_DEFAULT) == NULL);
    }
    failures_t fs = failures_now();
    CHECK(fs.total == MORE + 1 && fs.count == HT_FAILURES && fs.lost == MORE + 1 - HT_FAILURES);
    for (size_t i = 0; i < fs.count; ++i) {   // oldest first, numbered
        CHECK(fs.f[i].number == fs.lost + 1 + i);
        CHECK(fs.f[i].size == 0x40000000u + (fs.f[i].number - 2));
    }
    // A soft reset keeps them, as it keeps the statistics.
    ht_vm_restart();
    failures_t again = failures_now();
    CHECK(again.total == fs.total && again.count == fs.count && again.f[0].number == fs.f[0].number);
    CHECK(ht_failures_clear() == HT_OK);
}

// What the GC probe says per heap: here a block standing in for a GC area.
static uintptr_t s_gc_area;
static size_t s_gc_area_size;

static size_t gc_probe(uintptr_t start, uintptr_t end) {
    return s_gc_area >= start && s_gc_area < end ? s_gc_area_size : 0;
}

void test_failure_gc_figures(void) {
    s_gc_area_size = 4096;
    void *area = heap_caps_malloc(s_gc_area_size, MALLOC_CAP_DEFAULT);
    CHECK(area != NULL);
    s_gc_area = (uintptr_t)area;
    ht_failures_set_gc_probe(gc_probe);
    CHECK(ht_failures_clear() == HT_OK);
    CHECK(heap_caps_malloc(0x40000000u, MALLOC_CAP_DEFAULT) == NULL);
    ht_failures_set_gc_probe(NULL);
    ht_failure_t f = only_failure();
    CHECK(f.gc_total == s_gc_area_size);
    size_t holding = 0;
    for (size_t i = 0; i < f.heap_count && i < HT_FAILURE_HEAPS; ++i) {
        bool in = s_gc_area >= f.heaps[i].start && s_gc_area - f.heaps[i].start < f.heaps[i].total;
        CHECK(f.heaps[i].gc == (in ? s_gc_area_size : 0));
        holding += in;
    }
    CHECK(holding == 1);
    heap_caps_free(area);
    // A report tells of a failure once: what it has told is kept.
    CHECK(ht_failures_reported() == 0);
    ht_failures_set_reported(1);
    CHECK(ht_failures_reported() == 1);
    CHECK(ht_failures_clear() == HT_OK && ht_failures_reported() == 0);
}
