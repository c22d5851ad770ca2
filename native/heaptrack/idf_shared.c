// What heaptrack's two trackers on ESP-IDF share (idf_shared.h): the calls of
// tracker.h that do not depend on how the statistics are kept, from ESP-IDF's
// public API only.

#include <string.h>

#include "esp_heap_caps.h"
#include "soc/soc.h"

#include "idf_shared.h"

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

bool ht_idf_task_context(void) {
    return !xPortInIsrContext() && xPortCanYield();
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
// Heap regions: heap_caps_walk_all() visits ESP-IDF's registered heaps in its
// own order, block by block, which gives each region's bounds, free bytes and
// largest free block; the SoC memory layout that ESP-IDF built those heaps
// from gives its name; which caps' walks visit it gives its caps (a heap added
// at run time has the caps it was added with, which need not be its layout
// region's: esp_psram's internal DMA pool).

typedef struct {
    ht_region_info_t *regions;
    size_t max;
    size_t count;          // regions seen so far, also beyond max
    intptr_t start;        // the region being walked
} region_walk_t;

static bool region_walker(walker_heap_into_t heap, walker_block_info_t block, void *user_data) {
    // Runs with the heap's lock held: record, nothing more.
    region_walk_t *w = user_data;
    if (w->count == 0 || heap.start != w->start) {
        w->start = heap.start;
        w->count += 1;
        if (w->count <= w->max) {
            ht_region_info_t *r = &w->regions[w->count - 1];
            memset(r, 0, sizeof(*r));
            r->start = (uintptr_t)heap.start;
            r->total_size = (size_t)(heap.end - heap.start);
        }
    }
    if (w->count > w->max) {
        return false;   // only counted: skip the rest of this heap
    }
    ht_region_info_t *r = &w->regions[w->count - 1];
    if (!block.used) {
        r->free_size += block.size;
        if (block.size > r->largest_free_block) {
            r->largest_free_block = block.size;
        }
    }
    return true;
}

typedef struct {
    ht_region_info_t *regions;
    size_t count;
    uint32_t cap;          // the one MALLOC_CAP_ bit being walked
} caps_walk_t;

static bool caps_walker(walker_heap_into_t heap, walker_block_info_t block, void *user_data) {
    (void)block;
    caps_walk_t *w = user_data;
    for (size_t i = 0; i < w->count; ++i) {
        if (w->regions[i].start == (uintptr_t)heap.start) {
            w->regions[i].caps |= w->cap;
            break;
        }
    }
    return false;   // one block told which heap: on to the next
}

// Every region's caps as ESP-IDF matches them: heap_caps_walk(cap) visits the
// heaps having cap at any priority.
static void walk_caps(ht_region_info_t *regions, size_t count) {
    for (size_t i = 0; i < count; ++i) {
        regions[i].caps = 0;
    }
    for (unsigned bit = 0; bit < 31; ++bit) {   // bit 31 is MALLOC_CAP_INVALID, "every heap"
        caps_walk_t w = { .regions = regions, .count = count, .cap = (uint32_t)1 << bit };
        heap_caps_walk(w.cap, caps_walker, &w);
    }
}

static size_t minus_owner(size_t bytes) {
    return bytes > HT_BLOCK_OWNER_SIZE ? bytes - HT_BLOCK_OWNER_SIZE : 0;
}

ht_err_t ht_region_info(ht_region_info_t *regions, size_t max, size_t *count) {
    ht_err_t err = ht_context_check();
    if (err != HT_OK) {
        *count = 0;
        return err;
    }
    region_walk_t w = { .regions = regions, .max = max };
    heap_caps_walk_all(region_walker, &w);
    walk_caps(regions, w.count < max ? w.count : max);
    for (size_t i = 0; i < w.count && i < max; ++i) {
        ht_region_info_t *r = &regions[i];
        const soc_memory_type_desc_t *type = ht_idf_memory_type(r->start);
        uint32_t caps = r->caps;
        r->name = type != NULL ? type->name : "unknown";
        r->free_size = minus_owner(r->free_size);
        r->largest_free_block = minus_owner(r->largest_free_block);
        // ESP-IDF keeps low-water marks per heap but shows them only summed
        // over every heap having a set of caps, and counts free bytes as TLSF
        // does (a few bytes per free block more than the walk sees). The sum
        // is this region's own when no other heap has all its caps; either
        // way the low-water mark cannot exceed the free size seen now.
        size_t minimum = caps != 0 ? heap_caps_get_minimum_free_size(caps) : r->free_size;
        minimum = minimum < r->free_size ? minimum : r->free_size;
        r->minimum_free_size = minimum;
    }
    *count = w.count;
    return HT_OK;
}
