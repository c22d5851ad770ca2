// With a PSRAM heap (the re-executed run): PSRAM blocks, and the pool of
// internal RAM kept for DMA.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/******************************************************************************/
// PSRAM (the second run)

void test_psram(void) {
    CHECK(heap_caps_get_total_size(MALLOC_CAP_SPIRAM) == PSRAM_SIZE);
    regions_t rs = regions();
    CHECK(rs.count == 5);
    void *ext = try_malloc(100000, HT_CAP_SPIRAM);
    void *internal = try_malloc(100, HT_CAP_DEFAULT);
    void *too_big = try_malloc(PSRAM_SIZE, HT_CAP_SPIRAM);
    CHECK(ext != NULL && internal != NULL && too_big == NULL);
    const ht_region_info_t *ext_region = region_of(&rs, ext);
    CHECK(ext_region != NULL && ext_region->total_size == PSRAM_SIZE);
    #if HT_TEST_CHIP_ADDRESSES
    CHECK(ext_region != NULL && ext_region->start == PSRAM_START);
    #endif
    #if HT_TEST_PSRAM_BUILD
    // ESP-IDF's esp_psram gives its heap MALLOC_CAP_DEFAULT at the first
    // priority, and ESP-IDF lists a heap added at run time first: a DEFAULT
    // block goes to PSRAM (malloc() keeps blocks up to
    // CONFIG_SPIRAM_MALLOC_ALWAYSINTERNAL internal).
    CHECK(region_of(&rs, internal) == ext_region);
    #else
    CHECK(region_of(&rs, internal) != ext_region);   // DEFAULT prefers internal RAM
    #endif
    CHECK(try_malloc(16, HT_CAP_SPIRAM | HT_CAP_INTERNAL) == NULL);
    #if HT_TEST_TRACKING
    ht_snapshot_t snap;
    CHECK(ht_snapshot_take(&snap, false, ht_current_task(), true) == HT_OK);
    const ht_heap_stat_t *heap = heap_of(&snap.tasks[0], ext);
    CHECK(strcmp(heap->name, "SPIRAM") == 0 && heap->size == PSRAM_SIZE && (heap->caps & HT_CAP_SPIRAM) != 0);
    CHECK(heap->current_usage >= 100000);
    check_snapshot(&snap, true);
    ht_snapshot_release(&snap);
    #endif
    // Fill it in big steps, then small: NULL at the end, and nothing moves.
    enum { MAX = 64 };
    void *p[MAX];
    size_t n = 0;
    for (size_t size = 262144; size >= 64; size /= 4) {
        while (n < MAX && (p[n] = try_malloc(size, HT_CAP_SPIRAM)) != NULL) {
            ++n;
        }
    }
    CHECK(n < MAX);
    regions_t before = regions();
    void *none = &before;
    CHECK(ht_malloc(64, HT_CAP_SPIRAM, &none) == HT_ERR_NO_MEM && none == NULL);
    CHECK(strstr(ht_err_text(HT_ERR_NO_MEM), "no heap with the requested capabilities") != NULL);
    regions_t after = regions();
    CHECK(same_regions(&before, &after));
    for (size_t k = 0; k < n; ++k) {
        CHECK(ht_free(p[k]) == HT_OK);
    }
    CHECK(ht_free(ext) == HT_OK && ht_free(internal) == HT_OK);
    CHECK(heap_caps_check_integrity_all(true));
}

#if HT_TEST_TRACKING
// The pool of internal RAM a PSRAM board keeps for DMA and internal-only
// requests: ESP-IDF v5.5's esp_psram_extram_reserve_dma_pool() makes a block of
// CONFIG_SPIRAM_MALLOC_RESERVE_INTERNAL bytes a heap of its own with nothing at
// its first priority, as this does (the start-up that does it on the virtual
// board does not run here). With every other heap full, a report does without
// rather than take from it, though it has room. (Last of its run: the pool stays.)
void test_dma_pool_kept(void) {
    static const uint32_t pool_caps[] = { 0, MALLOC_CAP_DMA | MALLOC_CAP_INTERNAL, MALLOC_CAP_8BIT | MALLOC_CAP_32BIT };
    enum { POOL = 32768 };
    uint8_t *block = heap_caps_malloc(POOL, MALLOC_CAP_DMA | MALLOC_CAP_INTERNAL);
    CHECK(block != NULL && heap_caps_add_region_with_caps(pool_caps, (intptr_t)block, (intptr_t)block + POOL - 1) == ESP_OK);
    uintptr_t pool_start = (uintptr_t)block;
    // Every other byte-addressable heap, full: each filled with requests for
    // all its capabilities, which the pool (no DEFAULT, SPIRAM or RTCRAM)
    // never serves.
    enum { MAX = 512 };
    void *held[MAX];
    size_t n = 0;
    regions_t rs = regions();
    for (size_t i = 0; i < rs.count; ++i) {
        uint32_t caps = rs.r[i].caps & ~(uint32_t)HT_CAP_EXEC;
        if (rs.r[i].start == pool_start || !(caps & HT_CAP_8BIT)) {
            continue;
        }
        for (size_t size = 1 << 20; size >= 16 && n < MAX;) {
            void *p = heap_caps_malloc(size, caps);
            if (p == NULL) {
                size /= 2;
            } else {
                held[n++] = p;
            }
        }
    }
    CHECK(n < MAX);
    regions_t before = regions();
    const ht_region_info_t *pool_before = NULL;
    for (size_t i = 0; i < before.count; ++i) {
        if (before.r[i].start == pool_start) {
            pool_before = &before.r[i];
        } else if (before.r[i].caps & HT_CAP_8BIT) {
            if (before.r[i].largest_free_block >= 64) {
                fprintf(stderr, "  %s at 0x%08lx caps 0x%08lx: %zu free\n", before.r[i].name,
                    (unsigned long)before.r[i].start, (unsigned long)before.r[i].caps, before.r[i].largest_free_block);
            }
            CHECK(before.r[i].largest_free_block < 64);
        }
    }
    CHECK(pool_before != NULL && pool_before->largest_free_block > 4096);   // room it could have taken
    ht_snapshot_t snap;
    CHECK(ht_snapshot_take(&snap, true, 0, false) == HT_ERR_NO_MEM);
    ht_snapshot_release(&snap);
    regions_t after = regions();
    CHECK(pool_before != NULL && same_regions(&before, &after));
    for (size_t k = 0; k < n; ++k) {
        heap_caps_free(held[k]);
    }
    CHECK(heap_caps_check_integrity_all(true));
}
#endif
