// tracker.h's calls that every build has: error sentences, the calling task,
// malloc and free, free_all, the registry's limit, regions, threads as tasks;
// and, without heap task tracking, what still works.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/******************************************************************************/
// Tests for every build

// Every code has the tracker's sentence, and the busy one tells the caller
// to try again: the bindings raise what it says, with no text of their own.
void test_err_text(void) {
    for (int e = HT_OK; e <= HT_ERR_INCONSISTENT; ++e) {
        const char *text = ht_err_text((ht_err_t)e);
        CHECK(text != NULL && text[0] != '\0');
        CHECK(strcmp(text, ht_err_text(e == HT_OK ? HT_ERR_NO_MEM : HT_OK)) != 0);
    }
    CHECK(strstr(ht_err_text(HT_ERR_BUSY), "try again") != NULL);
    CHECK(strstr(ht_err_text(HT_ERR_NO_MEM), "try again") == NULL);
}

void test_current_task(void) {
    ht_task_t me = ht_current_task();
    CHECK(me != 0 && me == (ht_task_t)xTaskGetCurrentTaskHandle());
    CHECK(strcmp(pcTaskGetName(NULL), "mp_task") == 0);
    CHECK(ht_track_deleted() == (HT_TEST_TRACKING != 0));
    const char *tracker = ht_tracker_name();
    #if HT_TEST_TRACKING
    CHECK(tracker != NULL && strcmp(tracker, HT_TEST_HOOKS ? "hooks" : "idf") == 0);
    #else
    CHECK(tracker == NULL);
    #endif
    worker_t w;
    ht_task_t handle = worker_start(&w, "current");
    CHECK(handle != 0 && handle != me);
    CHECK(worker_current(&w) == handle);
    CHECK(ht_current_task() == me);
    worker_stop(&w);
}

void test_malloc_free(void) {
    // ESP-IDF records a task's first use of a heap once and for all: use it
    // first, so that what follows leaves the heaps as it found them.
    CHECK(ht_free(try_malloc(100, HT_CAP_DEFAULT)) == HT_OK);
    regions_t before = regions();
    char *p = try_malloc(100, HT_CAP_DEFAULT);
    CHECK(p != NULL && (uintptr_t)p % 4 == 0);
    memset(p, 0x5a, 100);
    const ht_region_info_t *r = region_of(&before, p);
    CHECK(r != NULL && (r->caps & HT_CAP_DEFAULT) != 0);
    regions_t during = regions();
    const ht_region_info_t *r2 = region_of(&during, p);
    CHECK(r2 != NULL && r2->free_size + block_size(p) <= r->free_size);
    CHECK(ht_free(p) == HT_OK);
    CHECK(ht_free(p) == HT_ERR_NO_BLOCK);
    regions_t after = regions();
    CHECK(same_regions(&before, &after));
    // Every caps bit heaptrack.malloc accepts reaches ESP-IDF as is.
    void *internal = try_malloc(40, HT_CAP_INTERNAL | HT_CAP_8BIT);
    void *dma = try_malloc(40, HT_CAP_DMA);
    void *word = try_malloc(40, HT_CAP_32BIT);
    CHECK(internal && dma && word);
    CHECK((region_of(&after, dma)->caps & HT_CAP_DMA) != 0);
    CHECK(ht_free(internal) == HT_OK && ht_free(dma) == HT_OK && ht_free(word) == HT_OK);
    // No caps at all match no heap in ESP-IDF (heap_caps_malloc wants a heap
    // with at least one of them).
    CHECK(try_malloc(40, 0) == NULL);
    CHECK(heap_caps_check_integrity_all(true));
}

void test_no_heap_for_caps(void) {
    state_t before = state_now(true);
    // Executable memory is not byte-addressable (ESP-IDF refuses the pair), this
    // run has no PSRAM, and nothing can hold half the address space.
    void *none = &before;
    CHECK(ht_malloc(16, HT_CAP_EXEC | HT_CAP_8BIT, &none) == HT_ERR_NO_MEM && none == NULL);
    CHECK(strstr(ht_err_text(HT_ERR_NO_MEM), "no heap with the requested capabilities") != NULL);
    if (heap_caps_get_total_size(MALLOC_CAP_SPIRAM) == 0) {
        CHECK(try_malloc(16, HT_CAP_SPIRAM) == NULL);
    }
    CHECK(try_malloc(16, HT_CAP_SPIRAM | HT_CAP_INTERNAL) == NULL);
    CHECK(try_malloc(0x80000000u, HT_CAP_DEFAULT) == NULL);
    CHECK(try_malloc(SIZE_MAX, 0) == NULL);
    CHECK(try_malloc(SIZE_MAX - 3, 0) == NULL);
    CHECK(try_malloc(0, HT_CAP_DEFAULT) == NULL);   // ESP-IDF's malloc(0)
    check_unchanged(&before);
    size_t count = 99;
    CHECK(ht_free_all(&count) == HT_OK && count == 0);
}

// A heap filled to the last byte: NULL and the detail, nothing else moves.
void test_full_heap(void) {
    // RTC fast memory (CHIP_RTCRAM), in blocks of a 16th of it, then smaller.
    enum { MAX = 200 };
    void *p[MAX];
    size_t n = 0;
    for (size_t size = CHIP_RTCRAM->size / 16; size >= 4; size /= 2) {
        while (n < MAX && (p[n] = try_malloc(size, MALLOC_CAP_RTCRAM)) != NULL) {
            ++n;
        }
    }
    CHECK(n > 8 && n < MAX);
    CHECK(heap_caps_get_free_size(MALLOC_CAP_RTCRAM) < 16);
    state_t before = state_now(true);
    for (int k = 0; k < 3; ++k) {
        void *none = &before;
        CHECK(ht_malloc(4, MALLOC_CAP_RTCRAM, &none) == HT_ERR_NO_MEM && none == NULL);
        CHECK(strstr(ht_err_text(HT_ERR_NO_MEM), "no heap with the requested capabilities has room for the block") != NULL);
    }
    check_unchanged(&before);
    for (size_t k = 0; k < n; ++k) {
        CHECK(ht_free(p[k]) == HT_OK);
    }
    // Not the heap's whole size (the allocator keeps some of it), half of it.
    CHECK(try_malloc(CHIP_RTCRAM->size - 152, MALLOC_CAP_RTCRAM) == NULL);
    void *again = try_malloc(CHIP_RTCRAM->size / 2, MALLOC_CAP_RTCRAM);
    CHECK(again != NULL && ht_free(again) == HT_OK);
}

void test_bad_free(void) {
    char *a = try_malloc(100, HT_CAP_DEFAULT);
    char *b = try_malloc(100, HT_CAP_DEFAULT);
    char *raw = heap_caps_malloc(100, MALLOC_CAP_DEFAULT);   // ESP-IDF's, not heaptrack's
    CHECK(a && b && raw);
    CHECK(ht_free(a) == HT_OK);
    int on_stack = 0;
    char *host = malloc(32);
    state_t before = state_now(true);
    CHECK(ht_free(a) == HT_ERR_NO_BLOCK);            // double free
    CHECK(ht_free(raw) == HT_ERR_NO_BLOCK);          // a block heaptrack did not hand out
    CHECK(ht_free(b + 1) == HT_ERR_NO_BLOCK);        // inside a block
    CHECK(ht_free(b + 4) == HT_ERR_NO_BLOCK);
    CHECK(ht_free(b - 4) == HT_ERR_NO_BLOCK);        // ESP-IDF's owner word
    CHECK(ht_free((void *)((uintptr_t)b | 1)) == HT_ERR_NO_BLOCK);   // the registry's claim bit
    CHECK(ht_free(&on_stack) == HT_ERR_NO_BLOCK);
    CHECK(ht_free(host) == HT_ERR_NO_BLOCK);
    CHECK(ht_free(NULL) == HT_ERR_NO_BLOCK);
    check_unchanged(&before);
    free(host);
    // Both blocks are intact and still freeable by their owners' calls.
    CHECK(ht_free(b) == HT_OK);
    CHECK(ht_free(b) == HT_ERR_NO_BLOCK);
    heap_caps_free(raw);
    CHECK(heap_caps_check_integrity_all(true));
}

void test_free_all(void) {
    worker_t w;
    worker_start(&w, "free_all");
    size_t count = 99;
    CHECK(ht_free_all(&count) == HT_OK && count == 0);
    void *raw = heap_caps_malloc(64, MALLOC_CAP_DEFAULT);
    void *kept[20];
    for (int k = 0; k < 10; ++k) {
        kept[k] = try_malloc(24, (uint32_t)(k % 2 ? MALLOC_CAP_RTCRAM : HT_CAP_DEFAULT));
        kept[10 + k] = worker_malloc(&w, 16, HT_CAP_8BIT);
        CHECK(kept[k] && kept[10 + k]);
    }
    CHECK(ht_free(kept[3]) == HT_OK);
    worker_stop(&w);   // a deleted task's blocks are freed too
    regions_t before = regions();
    CHECK(ht_free_all(&count) == HT_OK && count == 19);
    regions_t after = regions();
    for (size_t i = 0; i < after.count; ++i) {
        CHECK(after.r[i].free_size >= before.r[i].free_size);
    }
    for (int k = 0; k < 20; ++k) {
        CHECK(ht_free(kept[k]) == HT_ERR_NO_BLOCK);
    }
    CHECK(ht_free_all(NULL) == HT_OK);
    // ESP-IDF's own blocks are not heaptrack's to free.
    CHECK(heap_caps_get_allocated_size(raw) >= 64);
    heap_caps_free(raw);
    // The registry works on after a free_all.
    void *again = try_malloc(16, HT_CAP_DEFAULT);
    CHECK(again != NULL && ht_free(again) == HT_OK);
    CHECK(heap_caps_check_integrity_all(true));
}

// The registry holds its capacity of outstanding blocks; one more is refused
// before the heap is touched. (The hooks tracker has no registry of its own:
// its table holds every block of the system, and test_tracker_hooks.c fills it.)
#if !HT_TEST_HOOKS
// (the most this test's table holds: above the firmware's and the tests' builds)
#define REGISTRY_MAX 4096

void test_registry_full(void) {
    static void *p[REGISTRY_MAX];
    ht_capacity_t cap;
    ht_capacity(&cap);
    const size_t max = cap.handed_out;
    CHECK(max > 0 && max <= REGISTRY_MAX);
    if (max == 0 || max > REGISTRY_MAX) {
        return;
    }
    for (size_t k = 0; k < max; ++k) {
        p[k] = try_malloc(4, HT_CAP_DEFAULT);
        CHECK(p[k] != NULL);
    }
    state_t before = state_now(false);
    void *none = &before;
    CHECK(ht_malloc(4, HT_CAP_DEFAULT, &none) == HT_ERR_FULL && none == NULL);
    char expect[40];
    snprintf(expect, sizeof(expect), "at most %u blocks", (unsigned)max);
    CHECK(strstr(ht_err_text(HT_ERR_FULL), expect) != NULL);
    CHECK(strstr(ht_err_text(HT_ERR_FULL), "HT_IDF_MAX_BLOCKS") != NULL);
    CHECK(ht_malloc(4, HT_CAP_EXEC, &none) == HT_ERR_FULL && none == NULL);   // full first, whatever the caps
    check_unchanged(&before);   // the peak did not move either
    // One freed, one more fits; every other order of frees keeps the table whole.
    CHECK(ht_free(p[max / 2]) == HT_OK);
    p[max / 2] = try_malloc(4, HT_CAP_DEFAULT);
    CHECK(p[max / 2] != NULL);
    CHECK(try_malloc(4, HT_CAP_DEFAULT) == NULL);
    unsigned seed = 12345;
    for (size_t round = 0; round < 4; ++round) {
        for (size_t k = 0; k < max; ++k) {
            seed = seed * 1103515245u + 12345u;
            size_t i = (seed >> 8) % max;
            if (p[i] != NULL) {
                CHECK(ht_free(p[i]) == HT_OK);
                CHECK(ht_free(p[i]) == HT_ERR_NO_BLOCK);
                p[i] = NULL;
            }
        }
        for (size_t k = 0; k < max; ++k) {
            if (p[k] == NULL) {
                p[k] = try_malloc(4 + 4 * (round + k % 3), HT_CAP_DEFAULT);
                CHECK(p[k] != NULL);
            }
        }
        CHECK(try_malloc(4, HT_CAP_DEFAULT) == NULL);
    }
    for (size_t k = 0; k < max; ++k) {
        CHECK(ht_free(p[k]) == HT_OK);
    }
    size_t count = 99;
    CHECK(ht_free_all(&count) == HT_OK && count == 0);
}
#endif

// ht_region_info against ESP-IDF's own figures (heap_caps_get_info).
void test_region_info(void) {
    regions_t rs = regions();
    size_t n = 99;
    CHECK(ht_region_info(NULL, 0, &n) == HT_OK && n == rs.count);
    ht_region_info_t one[1];
    CHECK(ht_region_info(one, 1, &n) == HT_OK && n == rs.count);
    CHECK(one[0].start == rs.r[0].start && one[0].total_size == rs.r[0].total_size);
    // The chip's heaps (s_chip_heaps), PSRAM's first where there is some.
    bool psram = heap_caps_get_total_size(MALLOC_CAP_SPIRAM) != 0;
    CHECK(rs.count == CHIP_HEAPS + psram);
    size_t first = psram ? 1 : 0;
    if (psram) {
        CHECK(strcmp(rs.r[0].name, "SPIRAM") == 0 && rs.r[0].total_size == PSRAM_SIZE);
        CHECK((rs.r[0].caps & HT_CAP_SPIRAM) != 0);
    }
    for (size_t i = 0; i < CHIP_HEAPS && first + i < rs.count; ++i) {
        const ht_region_info_t *r = &rs.r[first + i];
        CHECK(strcmp(r->name, s_chip_heaps[i].name) == 0);
        CHECK(r->total_size == s_chip_heaps[i].size);
        CHECK(r->caps == s_chip_heaps[i].caps);
        #if HT_TEST_CHIP_ADDRESSES
        CHECK(r->start == chip_address(s_chip_heaps[i].start));
        #endif
    }
    for (size_t i = 0; i < rs.count; ++i) {
        const ht_region_info_t *r = &rs.r[i];
        CHECK(r->free_size <= r->total_size);
        CHECK(r->largest_free_block <= r->free_size);
        CHECK(r->minimum_free_size <= r->free_size);
        for (size_t j = 0; j < i; ++j) {   // no overlaps
            CHECK(r->start >= rs.r[j].start + rs.r[j].total_size || rs.r[j].start >= r->start + r->total_size);
        }
    }
    // Per caps: the regions having them add up to exactly what ESP-IDF's
    // heap_caps_get_info() says of the heaps having them (each region is one
    // heap's share of that sum). Its largest block is the exception: it takes
    // the owner word off again for every heap after the largest one
    // (heap_caps.c, v5.5.4), so it may read up to 4 bytes per heap lower than
    // the heap's own figure less one owner word, which is ours.
    static const uint32_t caps[] = {
        MALLOC_CAP_8BIT, MALLOC_CAP_32BIT, MALLOC_CAP_DMA, MALLOC_CAP_INTERNAL, MALLOC_CAP_DEFAULT,
        MALLOC_CAP_RTCRAM, MALLOC_CAP_SPIRAM, MALLOC_CAP_SIMD, MALLOC_CAP_RETENTION,
    };
    for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); ++c) {
        regions_t now = regions();
        multi_heap_info_t info;
        heap_caps_get_info(&info, caps[c]);
        size_t total = 0, free_bytes = 0, largest = 0, minimum = 0, heaps = 0;
        for (size_t i = 0; i < now.count; ++i) {
            if ((now.r[i].caps & caps[c]) == caps[c]) {
                total += now.r[i].total_size;
                free_bytes += now.r[i].free_size;
                minimum += now.r[i].minimum_free_size;
                largest = now.r[i].largest_free_block > largest ? now.r[i].largest_free_block : largest;
                heaps += 1;
            }
        }
        if (total != heap_caps_get_total_size(caps[c]) || free_bytes != info.total_free_bytes
            || largest < info.largest_free_block || largest - info.largest_free_block > 4 * heaps
            || minimum != info.minimum_free_bytes || (heaps == 0) != (info.total_free_bytes == 0)) {
            fprintf(stderr, "caps 0x%08x: regions total %zu free %zu largest %zu; ESP-IDF total %zu free %zu"
                " in %zu free blocks, largest %zu\n", (unsigned)caps[c], total, free_bytes, largest,
                heap_caps_get_total_size(caps[c]), info.total_free_bytes, info.free_blocks, info.largest_free_block);
            CHECK(!"ht_region_info agrees with heap_caps_get_info");
        }
    }
    // A block taken shows in its region's figures, and the low-water mark stays.
    CHECK(ht_free(try_malloc(16384, HT_CAP_DMA)) == HT_OK);   // the heap's record exists
    regions_t before = regions();
    void *p = try_malloc(16384, HT_CAP_DMA);
    CHECK(p != NULL);
    regions_t during = regions();
    size_t i = (size_t)(region_of(&during, p) - during.r);
    CHECK(during.r[i].free_size + block_size(p) <= before.r[i].free_size);
    CHECK(during.r[i].minimum_free_size <= during.r[i].free_size);
    CHECK(ht_free(p) == HT_OK);
    regions_t after = regions();
    CHECK(same_regions(&before, &after));
    CHECK(after.r[i].minimum_free_size <= after.r[i].free_size);
}

// Threads started with pthread_create are tasks too (MicroPython's _thread):
// `mp_thread` unless the shim was told a name first.
static void *thread_main(void *arg) {
    void **out = arg;
    out[0] = (void *)ht_current_task();
    out[1] = try_malloc(48, HT_CAP_DEFAULT);
    return NULL;
}

void test_threads_are_tasks(void) {
    void *named[2], *plain[2];
    pthread_t t;
    thread_set_next_name("py_worker");
    CHECK(pthread_create(&t, NULL, thread_main, named) == 0);
    pthread_join(t, NULL);
    CHECK(pthread_create(&t, NULL, thread_main, plain) == 0);
    pthread_join(t, NULL);
    CHECK(named[0] != NULL && plain[0] != NULL && named[1] != NULL && plain[1] != NULL);
    #if HT_TEST_TRACKING
    ht_snapshot_t snap = take(true);
    const ht_task_stat_t *a = NULL, *b = NULL;
    for (size_t i = 0; i < snap.task_count; ++i) {
        if (strcmp(heap_of(&snap.tasks[i], named[1])->name, "(none)") != 0) {
            a = &snap.tasks[i];
        }
        if (strcmp(heap_of(&snap.tasks[i], plain[1])->name, "(none)") != 0) {
            b = &snap.tasks[i];
        }
    }
    CHECK(a != NULL && strcmp(a->name, "py_worker") == 0 && !a->is_alive && a->handle == (ht_task_t)named[0]);
    CHECK(b != NULL && strcmp(b->name, "mp_thread") == 0 && !b->is_alive && b->handle == (ht_task_t)plain[0]);
    ht_snapshot_release(&snap);
    #endif
    CHECK(ht_free(named[1]) == HT_OK && ht_free(plain[1]) == HT_OK);
}

#if !HT_TEST_TRACKING
// The firmware without heap task tracking: heap calls work, statistics do not.
void test_tracking_off(void) {
    CHECK(!ht_track_deleted());
    void *a = try_malloc(100, HT_CAP_DEFAULT);
    CHECK(a != NULL && block_size(a) >= 100 && block_size(a) < 104 + 4);
    ht_snapshot_t snap;
    CHECK(ht_snapshot_take(&snap, true, 0, true) == HT_ERR_UNSUPPORTED);
    CHECK(snap.storage == NULL && snap.tasks == NULL && snap.task_count == 0);
    CHECK(strstr(ht_err_text(HT_ERR_UNSUPPORTED), "without ESP-IDF heap task tracking") != NULL);
    CHECK(strstr(ht_err_text(HT_ERR_UNSUPPORTED), "CONFIG_HEAP_TASK_TRACKING=y") != NULL);
    CHECK(ht_snapshot_take(&snap, false, ht_current_task(), false) == HT_ERR_UNSUPPORTED);
    CHECK(ht_snapshot_take_totals(&snap, true, 0) == HT_ERR_UNSUPPORTED);
    ht_snapshot_release(&snap);
    CHECK(snap.storage == NULL);
    size_t dropped = 9;
    ht_task_t owner;
    size_t size;
    CHECK(ht_reset_peak() == HT_ERR_UNSUPPORTED && ht_clear(&dropped) == HT_ERR_UNSUPPORTED && dropped == 0);
    CHECK(ht_block_owner((uintptr_t)a, &owner, &size) == HT_ERR_UNSUPPORTED);
    CHECK(ht_free(a) == HT_OK);
    CHECK(ht_free(a) == HT_ERR_NO_BLOCK);
    size_t count = 99;
    CHECK(try_malloc(10, HT_CAP_DEFAULT) != NULL);
    CHECK(ht_free_all(&count) == HT_OK && count == 1);
}
#endif
