// heap_info(): ESP-IDF's heap regions beside MicroPython's GC heap.
#ifndef HEAPTRACK_HEAPINFO_H
#define HEAPTRACK_HEAPINFO_H

#include "py/obj.h"
#include "tracker.h"

// Enough for every ESP32 chip's region list.
#define HEAPINFO_MAX_REGIONS (16)

// The MicroPython GC heap's figures.
typedef struct {
    size_t total;
    size_t used;
    size_t free;
    size_t largest_free;
    size_t areas;
    size_t in_esp_heap;   // bytes of the GC areas that lie inside ESP-IDF heaps
} heapinfo_gc_t;

// Reads up to HEAPINFO_MAX_REGIONS regions into regions (raises on failure);
// returns how many.
size_t heapinfo_read_regions(ht_region_info_t *regions);

// One area of the GC heap that is a block of ESP-IDF's heap: the block's
// address and size as the statistics list it, and the task it is charged to.
typedef struct {
    uintptr_t address;
    size_t size;
    ht_task_t task;
    bool task_known;   // false when the tracker does not know the block
} heapinfo_gc_area_t;

// The GC areas a board has: MICROPY_GC_SPLIT_HEAP_AUTO adds one per growth.
#define HEAPINFO_MAX_GC_AREAS (16)

// Reads up to HEAPINFO_MAX_GC_AREAS of the GC heap's areas inside ESP-IDF
// heaps (regions from heapinfo_read_regions); returns how many.
size_t heapinfo_read_gc_areas(heapinfo_gc_area_t *areas, const ht_region_info_t *regions, size_t region_count);

// Reads the GC heap's figures; regions (from heapinfo_read_regions) tell which
// GC areas lie inside ESP-IDF heaps.
void heapinfo_read_gc(heapinfo_gc_t *gc, const ht_region_info_t *regions, size_t region_count);

MP_DECLARE_CONST_FUN_OBJ_0(heapinfo_regions_obj);
MP_DECLARE_CONST_FUN_OBJ_0(heapinfo_gc_obj);
MP_DECLARE_CONST_FUN_OBJ_0(heapinfo_records_obj);
MP_DECLARE_CONST_FUN_OBJ_0(heapinfo_failures_obj);
MP_DECLARE_CONST_FUN_OBJ_0(heapinfo_clear_failures_obj);

// At the module's first import: failures' records learn where MicroPython's GC
// heap is.
void heapinfo_init(void);
MP_DECLARE_CONST_FUN_OBJ_0(heapinfo_gc_areas_obj);

#endif // HEAPTRACK_HEAPINFO_H
