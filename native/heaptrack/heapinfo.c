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

static const qstr region_fields[] = {
    MP_QSTR_name, MP_QSTR_caps, MP_QSTR_total, MP_QSTR_free, MP_QSTR_largest_free,
    MP_QSTR_minimum_free,
};

static const qstr records_fields[] = {
    MP_QSTR_region, MP_QSTR_room, MP_QSTR_full, MP_QSTR_untracked, MP_QSTR_tasks, MP_QSTR_deleted,
    MP_QSTR_bytes, MP_QSTR_tasks_left, MP_QSTR_low,
};

static const qstr area_fields[] = {
    MP_QSTR_address, MP_QSTR_size, MP_QSTR_task,
};

static const qstr gc_fields[] = {
    MP_QSTR_total, MP_QSTR_used, MP_QSTR_free, MP_QSTR_largest_free, MP_QSTR_areas,
    MP_QSTR_in_esp_heap,
};

// The region table lives on the C stack: no heap is touched while reading it.
size_t heapinfo_read_regions(ht_region_info_t *regions) {
    size_t count = 0;
    tracker_check(ht_region_info(regions, HEAPINFO_MAX_REGIONS, &count));
    return count < HEAPINFO_MAX_REGIONS ? count : HEAPINFO_MAX_REGIONS;
}

static mp_obj_t heapinfo_regions(void) {
    ht_region_info_t regions[HEAPINFO_MAX_REGIONS];
    size_t count = heapinfo_read_regions(regions);
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

void heapinfo_read_gc(heapinfo_gc_t *gc, const ht_region_info_t *regions, size_t region_count) {
    gc_info_t info;
    gc_info(&info);
    gc->total = info.total;
    gc->used = info.used;
    gc->free = info.free;
    gc->largest_free = info.max_free * MICROPY_BYTES_PER_GC_BLOCK;
    gc->areas = 0;
    gc->in_esp_heap = 0;
    for (mp_state_mem_area_t *area = &MP_STATE_MEM(area); area != NULL;
         #if MICROPY_GC_SPLIT_HEAP
         area = area->next
         #else
         area = NULL
         #endif
         ) {
        gc->areas++;
        for (size_t i = 0; i < region_count; i++) {
            if (inside(&regions[i], area->gc_alloc_table_start)) {
                gc->in_esp_heap += area->gc_pool_end - area->gc_alloc_table_start;
                break;
            }
        }
    }
}

static mp_obj_t heapinfo_gc(void) {
    ht_region_info_t regions[HEAPINFO_MAX_REGIONS];
    size_t region_count = heapinfo_read_regions(regions);
    heapinfo_gc_t gc;
    heapinfo_read_gc(&gc, regions, region_count);
    mp_obj_t items[] = {
        mp_obj_new_int_from_uint(gc.total),
        mp_obj_new_int_from_uint(gc.used),
        mp_obj_new_int_from_uint(gc.free),
        mp_obj_new_int_from_uint(gc.largest_free),
        mp_obj_new_int_from_uint(gc.areas),
        mp_obj_new_int_from_uint(gc.in_esp_heap),
    };
    return mp_obj_new_attrtuple(gc_fields, MP_ARRAY_SIZE(items), items);
}
MP_DEFINE_CONST_FUN_OBJ_0(heapinfo_gc_obj, heapinfo_gc);

// The index in region_info() of the region starting at start, or None.
static mp_obj_t region_index(uintptr_t start) {
    ht_region_info_t regions[HEAPINFO_MAX_REGIONS];
    size_t count = heapinfo_read_regions(regions);
    for (size_t i = 0; start != 0 && i < count; i++) {
        if (regions[i].start == start) {
            return MP_OBJ_NEW_SMALL_INT(i);
        }
    }
    return mp_const_none;
}

// Where the tracker keeps its records (region: an index in region_info(), or
// None for static tables) and how much room is left there; None on a firmware
// without task tracking.
static mp_obj_t heapinfo_records(void) {
    ht_records_t records;
    ht_err_t err = ht_records_info(&records);
    if (err == HT_ERR_UNSUPPORTED) {
        return mp_const_none;
    }
    tracker_check(err);
    mp_obj_t items[] = {
        region_index(records.heap_start),
        mp_obj_new_int_from_uint(records.room),
        mp_obj_new_bool(records.full),
        mp_obj_new_int_from_uint(records.untracked),
        mp_obj_new_int_from_uint(records.tasks),
        mp_obj_new_int_from_uint(records.deleted),
        mp_obj_new_int_from_uint(records.bytes),
        mp_obj_new_int_from_uint(records.tasks_left),
        mp_obj_new_bool(records.low),
    };
    return mp_obj_new_attrtuple(records_fields, MP_ARRAY_SIZE(items), items);
}
MP_DEFINE_CONST_FUN_OBJ_0(heapinfo_records_obj, heapinfo_records);

// The block of ESP-IDF's heap a GC area lies in starts where the area's
// allocation does: the first area's pool (gc_init is given the block), every
// later one's header (gc_try_add_heap puts it at the block's start).
static uintptr_t area_block(const mp_state_mem_area_t *area) {
    return area == &MP_STATE_MEM(area) ? (uintptr_t)area->gc_alloc_table_start : (uintptr_t)area;
}

size_t heapinfo_read_gc_areas(heapinfo_gc_area_t *areas, const ht_region_info_t *regions, size_t region_count) {
    size_t count = 0;
    for (mp_state_mem_area_t *area = &MP_STATE_MEM(area); area != NULL && count < HEAPINFO_MAX_GC_AREAS;
         #if MICROPY_GC_SPLIT_HEAP
         area = area->next
         #else
         area = NULL
         #endif
         ) {
        uintptr_t address = area_block(area);
        bool in_esp_heap = false;
        for (size_t i = 0; i < region_count && !in_esp_heap; i++) {
            in_esp_heap = inside(&regions[i], (const byte *)address);
        }
        if (!in_esp_heap) {
            continue;
        }
        heapinfo_gc_area_t *a = &areas[count++];
        a->address = address;
        a->task_known = ht_block_owner(address, &a->task, &a->size) == HT_OK;
        if (!a->task_known) {
            a->task = 0;
            a->size = area->gc_pool_end - (byte *)address;
        }
    }
    return count;
}

// The MicroPython GC heap's areas that are blocks of ESP-IDF's heap, each as
// (address, size, task): the block as the statistics list it (its ALLOC line)
// and the handle of the task it is charged to (None when the tracker does not
// know the block, or the firmware has no task tracking).
static mp_obj_t heapinfo_gc_areas(void) {
    ht_region_info_t regions[HEAPINFO_MAX_REGIONS];
    size_t region_count = heapinfo_read_regions(regions);
    heapinfo_gc_area_t areas[HEAPINFO_MAX_GC_AREAS];
    size_t count = heapinfo_read_gc_areas(areas, regions, region_count);
    mp_obj_t list = mp_obj_new_list(0, NULL);
    for (size_t i = 0; i < count; i++) {
        mp_obj_t items[] = {
            mp_obj_new_int_from_uint(areas[i].address),
            mp_obj_new_int_from_uint(areas[i].size),
            areas[i].task_known ? mp_obj_new_int_from_uint(areas[i].task) : mp_const_none,
        };
        mp_obj_list_append(list, mp_obj_new_attrtuple(area_fields, MP_ARRAY_SIZE(items), items));
    }
    return list;
}
MP_DEFINE_CONST_FUN_OBJ_0(heapinfo_gc_areas_obj, heapinfo_gc_areas);
