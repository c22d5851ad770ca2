// The figures behind heaptrack.heap_info(): every ESP-IDF heap region, and the
// MicroPython GC heap that lives inside them on a board. Together they answer
// "why does a 16 KB allocation fail while gc.mem_free() is large?".
#include "py/gc.h"
#include "py/mpstate.h"
#include "py/objtuple.h"
#include "py/runtime.h"

#include "errors.h"
#include "failures.h"
#include "gc_heap.h"
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
    ht_gc_room_t room;
    ht_gc_room(&room);
    gc->total = room.total;
    gc->used = room.used;
    gc->free = room.free;
    gc->largest_free = room.largest_free;
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

/******************************************************************************/
// Failed ESP-IDF allocations (failures.h), as the frozen package's failures()
// explains them.

static const qstr failure_fields[] = {
    MP_QSTR_number, MP_QSTR_ms, MP_QSTR_task, MP_QSTR_task_name, MP_QSTR_size, MP_QSTR_caps,
    MP_QSTR_function, MP_QSTR_in_isr, MP_QSTR_heap_count, MP_QSTR_heaps, MP_QSTR_gc_total,
};

static const qstr failure_heap_fields[] = {
    MP_QSTR_name, MP_QSTR_start, MP_QSTR_caps, MP_QSTR_total, MP_QSTR_free, MP_QSTR_largest, MP_QSTR_gc,
};

static mp_obj_t failure_obj(const ht_failure_t *f) {
    size_t kept = f->heap_count < HT_FAILURE_HEAPS ? f->heap_count : HT_FAILURE_HEAPS;
    mp_obj_t heaps = mp_obj_new_tuple(kept, NULL);
    for (size_t i = 0; i < kept; ++i) {
        const ht_failure_heap_t *h = &f->heaps[i];
        mp_obj_t items[] = {
            mp_obj_new_str_from_cstr(h->name),
            mp_obj_new_int_from_uint(h->start),
            mp_obj_new_int_from_uint(h->caps),
            mp_obj_new_int_from_uint(h->total),
            mp_obj_new_int_from_uint(h->free),
            mp_obj_new_int_from_uint(h->largest),
            h->gc == SIZE_MAX ? mp_const_none : mp_obj_new_int_from_uint(h->gc),
        };
        ((mp_obj_tuple_t *)MP_OBJ_TO_PTR(heaps))->items[i] =
            mp_obj_new_attrtuple(failure_heap_fields, MP_ARRAY_SIZE(items), items);
    }
    mp_obj_t items[] = {
        mp_obj_new_int_from_uint(f->number),
        mp_obj_new_int_from_ull(f->ms),
        mp_obj_new_int_from_uint(f->task),
        mp_obj_new_str_from_cstr(f->task_name),
        mp_obj_new_int_from_uint(f->size),
        mp_obj_new_int_from_uint(f->caps),
        f->function != NULL ? mp_obj_new_str_from_cstr(f->function) : mp_const_none,
        mp_obj_new_bool(f->in_isr),
        mp_obj_new_int_from_uint(f->heap_count),
        heaps,
        f->gc_total == SIZE_MAX ? mp_const_none : mp_obj_new_int_from_uint(f->gc_total),
    };
    return mp_obj_new_attrtuple(failure_fields, MP_ARRAY_SIZE(items), items);
}

// failures(after=None) -> (total, lost, [failure, ...]): the failures since
// power-on (or the last clear), how many of them the ring no longer holds,
// and those it holds, oldest first. Without `after` the caller is told of
// them all (reports stop announcing them); with it, only those numbered
// after it are listed and nobody counts as told: what a sampler asks every
// sample, at the cost of a count when nothing failed.
static mp_obj_t heapinfo_failures(size_t n_args, const mp_obj_t *args) {
    bool telling = n_args == 0 || args[0] == mp_const_none;
    mp_uint_t after = telling ? 0 : arg_word_or_raise(args[0], MP_QSTR_after);
    if (!telling) {
        uint32_t now = ht_failures_newest(NULL);
        if (now < after) {
            after = 0;   // cleared since: every one held is new
        }
        if (now == after) {
            // Nothing new: answered without copying the ring (the ring keeps
            // the newest HT_FAILURES, so that is what it no longer holds).
            mp_obj_t items[] = { mp_obj_new_int_from_uint(now),
                                 mp_obj_new_int_from_uint(now > HT_FAILURES ? now - HT_FAILURES : 0),
                                 mp_obj_new_list(0, NULL) };
            return mp_obj_new_tuple(MP_ARRAY_SIZE(items), items);
        }
    }
    ht_failure_t *held = m_new(ht_failure_t, HT_FAILURES);
    size_t count;
    uint32_t total, lost;
    ht_err_t err = ht_failures_copy(held, HT_FAILURES, &count, &total, &lost);
    if (err != HT_OK) {
        m_del(ht_failure_t, held, HT_FAILURES);
        tracker_raise(err);
    }
    mp_obj_t list = mp_obj_new_list(0, NULL);
    for (size_t i = 0; i < count; ++i) {
        if (held[i].number > after) {
            mp_obj_list_append(list, failure_obj(&held[i]));
        }
    }
    m_del(ht_failure_t, held, HT_FAILURES);
    if (telling) {
        ht_failures_set_reported(total);
    }
    mp_obj_t items[] = { mp_obj_new_int_from_uint(total), mp_obj_new_int_from_uint(lost), list };
    return mp_obj_new_tuple(MP_ARRAY_SIZE(items), items);
}
MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(heapinfo_failures_obj, 0, 1, heapinfo_failures);

static mp_obj_t heapinfo_clear_failures(void) {
    tracker_check(ht_failures_clear());
    return mp_const_none;
}
MP_DEFINE_CONST_FUN_OBJ_0(heapinfo_clear_failures_obj, heapinfo_clear_failures);

// The bytes of MicroPython's GC heap in [start, end), for a failure's record:
// called inside whatever heap call failed, in any task, so it raises nothing,
// allocates nothing and only reads where the GC's areas lie.
static size_t gc_bytes_within(uintptr_t start, uintptr_t end) {
    size_t bytes = 0;
    for (mp_state_mem_area_t *area = &MP_STATE_MEM(area); area != NULL;
         #if MICROPY_GC_SPLIT_HEAP
         area = area->next
         #else
         area = NULL
         #endif
         ) {
        uintptr_t at = (uintptr_t)area->gc_alloc_table_start;
        if (at != 0 && at >= start && at < end) {
            bytes += area->gc_pool_end - area->gc_alloc_table_start;
        }
    }
    return bytes;
}

void heapinfo_init(void) {
    ht_failures_set_gc_probe(gc_bytes_within);
}

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
