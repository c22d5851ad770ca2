// ESP-IDF's heaps as the trackers read them (idf_heaps.h): its registry of
// heaps (heap_private.h, as ESP-IDF's own heap_task_info.c reads it) and the
// chip's layout, and the calls of tracker.h that need nothing else.

#include <string.h>

#include "esp_heap_caps.h"
#include "soc/soc.h"
// ESP-IDF's registry of heaps (components/heap, not a public header), read as
// the esp32 port's esp32.idf_heap_info() reads it. The heap component is
// compiled with MULTI_HEAP_FREERTOS wherever FreeRTOS is in the build, always
// on a board (components/heap/CMakeLists.txt); it gives heap_t's lock its type.
#ifndef MULTI_HEAP_FREERTOS
#define MULTI_HEAP_FREERTOS
#endif
#include "heap_private.h"

#include "idf_heaps.h"

// The interface's caps are ESP-IDF's, bit for bit.
_Static_assert(HT_CAP_EXEC == MALLOC_CAP_EXEC, "HT_CAP_EXEC");
_Static_assert(HT_CAP_32BIT == MALLOC_CAP_32BIT, "HT_CAP_32BIT");
_Static_assert(HT_CAP_8BIT == MALLOC_CAP_8BIT, "HT_CAP_8BIT");
_Static_assert(HT_CAP_DMA == MALLOC_CAP_DMA, "HT_CAP_DMA");
_Static_assert(HT_CAP_SPIRAM == MALLOC_CAP_SPIRAM, "HT_CAP_SPIRAM");
_Static_assert(HT_CAP_INTERNAL == MALLOC_CAP_INTERNAL, "HT_CAP_INTERNAL");
_Static_assert(HT_CAP_DEFAULT == MALLOC_CAP_DEFAULT, "HT_CAP_DEFAULT");
_Static_assert(sizeof(ht_task_t) == sizeof(TaskHandle_t), "ht_task_t holds a TaskHandle_t");

ht_task_t ht_current_task(void) {
    return (ht_task_t)xTaskGetCurrentTaskHandle();
}

#if defined(SOC_DIRAM_IRAM_LOW) && defined(SOC_DIRAM_DRAM_LOW) && SOC_DIRAM_IRAM_LOW != SOC_DIRAM_DRAM_LOW
static const char *const detail_exec_alias =
    "CAP_EXEC is not supported on this chip: ESP-IDF hands out executable memory at its "
    "instruction-bus address, and its task statistics record the data-bus address";
uint32_t ht_caps_refused(const char **reason) {
    *reason = detail_exec_alias;
    return HT_CAP_EXEC;
}
#else
uint32_t ht_caps_refused(const char **reason) {
    *reason = "";
    return 0;
}
#endif

const soc_memory_type_desc_t *ht_idf_memory_type(uintptr_t address) {
    for (size_t i = 0; i < soc_memory_region_count; ++i) {
        const soc_memory_region_t *region = &soc_memory_regions[i];
        if (address >= (uintptr_t)region->start && address - (uintptr_t)region->start < region->size) {
            return (size_t)region->type < soc_memory_type_count ? &soc_memory_types[region->type] : NULL;
        }
    }
    return NULL;
}

uint32_t ht_idf_type_caps(const soc_memory_type_desc_t *type) {
    uint32_t caps = 0;
    for (size_t prio = 0; prio < SOC_MEMORY_TYPE_NO_PRIOS; ++prio) {
        caps |= type->caps[prio];
    }
    return caps;
}

/******************************************************************************/
// Heap regions: ESP-IDF's registry of heaps in its own order, each with the
// figures heap_caps_get_info() sums for it (multi_heap_get_info(), less each
// block's owner word with task tracking: what heap_caps_malloc can hand out),
// the caps heap_caps_malloc matches it by, and the name of the SoC memory type
// it was made from.

static size_t minus_owner(size_t bytes) {
    return bytes > HT_BLOCK_OWNER_SIZE ? bytes - HT_BLOCK_OWNER_SIZE : 0;
}

void ht_idf_heap_free(const ht_idf_heap_t *heap, size_t *free_bytes, size_t *largest) {
    multi_heap_info_t info;
    multi_heap_get_info(heap->handle, &info);
    *free_bytes = minus_owner(info.total_free_bytes);
    *largest = minus_owner(info.largest_free_block);
}

static void region_fill(ht_region_info_t *r, heap_t *heap) {
    multi_heap_info_t info;
    multi_heap_get_info(heap->heap, &info);
    const soc_memory_type_desc_t *type = ht_idf_memory_type((uintptr_t)heap->start);
    memset(r, 0, sizeof(*r));
    r->name = type != NULL ? type->name : "unknown";
    r->caps = get_all_caps(heap);
    r->start = (uintptr_t)heap->start;
    r->total_size = (size_t)(heap->end - heap->start);
    r->free_size = minus_owner(info.total_free_bytes);
    r->largest_free_block = minus_owner(info.largest_free_block);
    r->minimum_free_size = minus_owner(info.minimum_free_bytes);
}

heap_t *ht_idf_heap_after(heap_t *heap) {
    heap = heap == NULL ? SLIST_FIRST(&registered_heaps) : SLIST_NEXT(heap, next);
    while (heap != NULL && heap->heap == NULL) {
        heap = SLIST_NEXT(heap, next);
    }
    return heap;
}

static void HEAP_IRAM_ATTR heap_describe(ht_idf_heap_t *out, const heap_t *heap) {
    out->start = (uintptr_t)heap->start;
    out->end = (uintptr_t)heap->end;
    out->caps = get_all_caps(heap);
    out->handle = heap->heap;
}

size_t ht_idf_heaps(ht_idf_heap_t *heaps, size_t max) {
    size_t n = 0;
    for (heap_t *heap = ht_idf_heap_after(NULL); heap != NULL; heap = ht_idf_heap_after(heap)) {
        if (n < max) {
            heap_describe(&heaps[n], heap);
        }
        n += 1;
    }
    return n;
}

heap_t *ht_idf_biggest_heap(void) {
    heap_t *biggest = NULL;
    for (heap_t *heap = ht_idf_heap_after(NULL); heap != NULL; heap = ht_idf_heap_after(heap)) {
        if (biggest == NULL || biggest->end - biggest->start < heap->end - heap->start) {
            biggest = heap;
        }
    }
    return biggest;
}

// A heap ESP-IDF gives out only when asked for by its capabilities.
static bool held_in_reserve(const heap_t *heap) {
    return heap->caps[0] == 0;
}

void *ht_idf_uncharged_alloc(size_t bytes) {
    heap_t *biggest = ht_idf_biggest_heap();
    void *p = biggest != NULL ? multi_heap_malloc(biggest->heap, bytes) : NULL;
    for (heap_t *heap = ht_idf_heap_after(NULL); heap != NULL && p == NULL; heap = ht_idf_heap_after(heap)) {
        if (heap != biggest && (get_all_caps(heap) & MALLOC_CAP_8BIT) != 0 && !held_in_reserve(heap)) {
            p = multi_heap_malloc(heap->heap, bytes);
        }
    }
    return p;
}

void ht_idf_uncharged_free(void *p) {
    if (p != NULL) {
        heap_t *heap = find_containing_heap(p);
        if (heap != NULL) {
            multi_heap_free(heap->heap, p);
        }
    }
}

// find_containing_heap() (heap_private.h), which is always inlined.
bool HEAP_IRAM_ATTR ht_idf_heap_containing(uintptr_t address, ht_idf_heap_t *heap) {
    heap_t *found = find_containing_heap((void *)address);
    if (found == NULL) {
        return false;
    }
    heap_describe(heap, found);
    return true;
}

ht_err_t ht_region_info(ht_region_info_t *regions, size_t max, size_t *count) {
    ht_err_t err = ht_context_check();
    if (err != HT_OK) {
        *count = 0;
        return err;
    }
    size_t n = 0;
    for (heap_t *heap = ht_idf_heap_after(NULL); heap != NULL; heap = ht_idf_heap_after(heap)) {
        if (n < max) {
            region_fill(&regions[n], heap);
        }
        n += 1;
    }
    *count = n;
    return HT_OK;
}
