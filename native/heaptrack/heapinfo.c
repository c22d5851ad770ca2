// The figures behind heaptrack.heap_info(): every ESP-IDF heap region, and the
// MicroPython GC heap that lives inside them on a board. Together they answer
// "why does a 16 KB allocation fail while gc.mem_free() is large?".
#include "py/gc.h"
#include "py/mpstate.h"
#include "py/objtuple.h"
#include "py/runtime.h"

#include "errors.h"
#include "heapinfo.h"
#include "tracker.h"

// Enough for every ESP32 chip's region list.
#define MAX_REGIONS (16)

static const qstr region_fields[] = {
    MP_QSTR_name, MP_QSTR_caps, MP_QSTR_total, MP_QSTR_free, MP_QSTR_largest_free,
    MP_QSTR_minimum_free,
};

static const qstr gc_fields[] = {
    MP_QSTR_total, MP_QSTR_used, MP_QSTR_free, MP_QSTR_largest_free, MP_QSTR_areas,
    MP_QSTR_in_esp_heap,
};

// The region table lives on the C stack: no heap is touched while reading it.
static size_t read_regions(ht_region_info_t *regions) {
    size_t count = 0;
    tracker_check(ht_region_info(regions, MAX_REGIONS, &count));
    return count < MAX_REGIONS ? count : MAX_REGIONS;
}

static mp_obj_t heapinfo_regions(void) {
    ht_region_info_t regions[MAX_REGIONS];
    size_t count = read_regions(regions);
    mp_obj_t list = mp_obj_new_list(0, NULL);
    for (size_t i = 0; i < count; i++) {
        const ht_region_info_t *r = &regions[i];
        mp_obj_t items[] = {
            mp_obj_new_str_from_cstr(r->name),
            mp_obj_new_int_from_uint(r->caps),
            mp_obj_new_int_from_uint(r->total_size),
            mp_obj_new_int_from_uint(r->free_size),
            mp_obj_new_int_from_uint(r->largest_free_block),
            mp_obj_new_int_from_uint(r->minimum_free_size),
        };
        mp_obj_list_append(list, mp_obj_new_attrtuple(region_fields, MP_ARRAY_SIZE(items), items));
    }
    return list;
}
MP_DEFINE_CONST_FUN_OBJ_0(heapinfo_regions_obj, heapinfo_regions);

static bool inside(const ht_region_info_t *region, const byte *address) {
    uintptr_t a = (uintptr_t)address;
    return region->start != 0 && a >= region->start && a - region->start < region->total_size;
}

static mp_obj_t heapinfo_gc(void) {
    ht_region_info_t regions[MAX_REGIONS];
    size_t region_count = read_regions(regions);

    gc_info_t info;
    gc_info(&info);

    size_t areas = 0;
    size_t in_esp_heap = 0;
    for (mp_state_mem_area_t *area = &MP_STATE_MEM(area); area != NULL;
         #if MICROPY_GC_SPLIT_HEAP
         area = area->next
         #else
         area = NULL
         #endif
         ) {
        areas++;
        for (size_t i = 0; i < region_count; i++) {
            if (inside(&regions[i], area->gc_alloc_table_start)) {
                in_esp_heap += area->gc_pool_end - area->gc_alloc_table_start;
                break;
            }
        }
    }
    mp_obj_t items[] = {
        mp_obj_new_int_from_uint(info.total),
        mp_obj_new_int_from_uint(info.used),
        mp_obj_new_int_from_uint(info.free),
        mp_obj_new_int_from_uint(info.max_free * MICROPY_BYTES_PER_GC_BLOCK),
        mp_obj_new_int_from_uint(areas),
        mp_obj_new_int_from_uint(in_esp_heap),
    };
    return mp_obj_new_attrtuple(gc_fields, MP_ARRAY_SIZE(items), items);
}
MP_DEFINE_CONST_FUN_OBJ_0(heapinfo_gc_obj, heapinfo_gc);
