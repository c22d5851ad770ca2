// _heaptrack: ESP-IDF heap task tracking for Python. The frozen heaptrack
// package (modules/heaptrack) re-exports it; users import heaptrack.
#include "py/runtime.h"
#include "py/objint.h"
#include "py/objtuple.h"

#include "dump.h"
#include "errors.h"
#include "heapinfo.h"
#include "linebuf.h"
#include "report.h"
#include "task.h"
#include "tracker.h"

// True, with *out set, when arg is a non-negative int that fits a machine word.
static bool word_value(mp_obj_t arg, mp_uint_t *out) {
    if (mp_obj_int_sign(arg) < 0) {
        return false;
    }
    if (mp_obj_is_small_int(arg)) {
        *out = MP_OBJ_SMALL_INT_VALUE(arg);
        return true;
    }
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        *out = mp_obj_int_get_uint_checked(arg);
        nlr_pop();
        return true;
    }
    return false;
}

// A task argument: None for all tasks, else an int handle.
static bool task_arg(mp_obj_t arg, ht_task_t *task) {
    if (arg == mp_const_none) {
        return true;
    }
    if (!mp_obj_is_int(arg)) {
        mp_raise_TypeError(MP_ERROR_TEXT("task must be an int handle or None"));
    }
    mp_uint_t value;
    if (!word_value(arg, &value)) {
        tracker_raise(HT_ERR_NOT_FOUND);
    }
    *task = (ht_task_t)value;
    return false;
}

static void take_snapshot(ht_snapshot_t *snap, mp_obj_t task_in, bool with_blocks) {
    ht_task_t task = 0;
    bool all = task_arg(task_in, &task);
    tracker_check(ht_snapshot_take(snap, all, task, with_blocks));
}

static mp_obj_t heaptrack_current_task(void) {
    return mp_obj_new_int_from_uint(ht_current_task());
}
static MP_DEFINE_CONST_FUN_OBJ_0(heaptrack_current_task_obj, heaptrack_current_task);

static mp_obj_t heaptrack_malloc(size_t n_args, const mp_obj_t *args) {
    if (!mp_obj_is_int(args[0])) {
        mp_raise_TypeError(MP_ERROR_TEXT("size must be an int"));
    }
    if (mp_obj_int_sign(args[0]) <= 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("size must be > 0"));
    }
    mp_uint_t caps = HT_CAP_DEFAULT;
    if (n_args > 1) {
        if (!mp_obj_is_int(args[1])) {
            mp_raise_TypeError(MP_ERROR_TEXT("caps must be an int"));
        }
        if (!word_value(args[1], &caps) || (caps & ~(mp_uint_t)HT_CAP_ALLOWED)) {
            mp_raise_ValueError(MP_ERROR_TEXT("caps has bits that are not heaptrack.CAP_* values"));
        }
        const char *reason;
        if (caps & ht_caps_refused(&reason)) {
            mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%s"), reason);
        }
    }
    // A size wider than a small int fits no heap: the same MemoryError as any
    // other request that no heap with those caps can hold.
    void *address = NULL;
    if (mp_obj_is_small_int(args[0])) {
        tracker_check(ht_context_check());   // a RuntimeError, not "no memory"
        address = ht_malloc(MP_OBJ_SMALL_INT_VALUE(args[0]), caps);
        if (address == NULL) {
            // The tracker may know more, e.g. that its table of live blocks is full.
            if (*ht_error_detail() != '\0') {
                mp_raise_msg_varg(&mp_type_MemoryError, MP_ERROR_TEXT("%s"), ht_error_detail());
            }
        }
    }
    if (address == NULL) {
        mp_raise_msg_varg(&mp_type_MemoryError,
            MP_ERROR_TEXT("no heap with caps 0x%x can hold the block"), (unsigned)caps);
    }
    return mp_obj_new_int_from_uint((uintptr_t)address);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(heaptrack_malloc_obj, 1, 2, heaptrack_malloc);

static mp_obj_t heaptrack_free(mp_obj_t address_in) {
    if (!mp_obj_is_int(address_in)) {
        mp_raise_TypeError(MP_ERROR_TEXT("address must be an int"));
    }
    mp_uint_t address;
    ht_err_t err = HT_ERR_NOT_FOUND;
    if (word_value(address_in, &address)) {
        err = ht_free((void *)(uintptr_t)address);
    }
    if (err == HT_ERR_NOT_FOUND) {
        mp_raise_ValueError(MP_ERROR_TEXT("address was not returned by heaptrack.malloc or is already freed"));
    }
    tracker_check(err);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(heaptrack_free_obj, heaptrack_free);

static mp_obj_t heaptrack_free_all(void) {
    size_t count = 0;
    tracker_check(ht_free_all(&count));
    return mp_obj_new_int_from_uint(count);
}
static MP_DEFINE_CONST_FUN_OBJ_0(heaptrack_free_all_obj, heaptrack_free_all);

static mp_obj_t heaptrack_track_deleted(void) {
    return mp_obj_new_bool(ht_track_deleted());
}
static MP_DEFINE_CONST_FUN_OBJ_0(heaptrack_track_deleted_obj, heaptrack_track_deleted);

// TaskStat and HeapStat are attrtuples: indexable, named, and cheap.
static const qstr heap_stat_fields[] = {
    MP_QSTR_name, MP_QSTR_caps, MP_QSTR_size, MP_QSTR_current, MP_QSTR_peak,
    MP_QSTR_alloc_count, MP_QSTR_blocks,
};
static const qstr task_stat_fields[] = {
    MP_QSTR_name, MP_QSTR_handle, MP_QSTR_alive, MP_QSTR_current, MP_QSTR_peak, MP_QSTR_heaps,
};

static mp_obj_t new_heap_stat(const ht_heap_stat_t *heap) {
    mp_obj_t blocks = mp_const_none;
    if (heap->blocks != NULL) {
        blocks = mp_obj_new_tuple(heap->alloc_count, NULL);
        mp_obj_t *items = ((mp_obj_tuple_t *)MP_OBJ_TO_PTR(blocks))->items;
        for (size_t i = 0; i < heap->alloc_count; i++) {
            mp_obj_t pair[2] = {
                mp_obj_new_int_from_uint((uintptr_t)heap->blocks[i].address),
                mp_obj_new_int_from_uint(heap->blocks[i].size),
            };
            items[i] = mp_obj_new_tuple(2, pair);
        }
    }
    mp_obj_t items[] = {
        mp_obj_new_str_from_cstr(heap->name),
        mp_obj_new_int_from_uint(heap->caps),
        mp_obj_new_int_from_uint(heap->size),
        mp_obj_new_int_from_uint(heap->current_usage),
        mp_obj_new_int_from_uint(heap->peak_usage),
        mp_obj_new_int_from_uint(heap->alloc_count),
        blocks,
    };
    return mp_obj_new_attrtuple(heap_stat_fields, MP_ARRAY_SIZE(items), items);
}

static mp_obj_t new_task_stat(const ht_task_stat_t *task) {
    mp_obj_t heaps = mp_obj_new_tuple(task->heap_count, NULL);
    mp_obj_t *heap_items = ((mp_obj_tuple_t *)MP_OBJ_TO_PTR(heaps))->items;
    for (size_t i = 0; i < task->heap_count; i++) {
        heap_items[i] = new_heap_stat(&task->heap_stat[i]);
    }
    mp_obj_t items[] = {
        mp_obj_new_str_from_cstr(task->name),
        mp_obj_new_int_from_uint(task->handle),
        mp_obj_new_bool(task->is_alive),
        mp_obj_new_int_from_uint(task->overall_current_usage),
        mp_obj_new_int_from_uint(task->overall_peak_usage),
        heaps,
    };
    return mp_obj_new_attrtuple(task_stat_fields, MP_ARRAY_SIZE(items), items);
}

// Runs fn over a snapshot and releases the snapshot however fn leaves.
static mp_obj_t with_snapshot(mp_obj_t task_in, bool with_blocks,
    mp_obj_t (*fn)(const ht_snapshot_t *snap, bool all)) {
    ht_snapshot_t snap;
    take_snapshot(&snap, task_in, with_blocks);
    mp_obj_t result = MP_OBJ_NULL;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        result = fn(&snap, task_in == mp_const_none);
        nlr_pop();
    }
    ht_snapshot_release(&snap);
    if (result == MP_OBJ_NULL) {
        nlr_jump(nlr.ret_val);
    }
    return result;
}

static mp_obj_t stats_from(const ht_snapshot_t *snap, bool all) {
    if (!all) {
        return new_task_stat(&snap->tasks[0]);
    }
    mp_obj_t list = mp_obj_new_list(snap->task_count, NULL);
    mp_obj_t *items = ((mp_obj_list_t *)MP_OBJ_TO_PTR(list))->items;
    for (size_t i = 0; i < snap->task_count; i++) {
        items[i] = new_task_stat(&snap->tasks[i]);
    }
    return list;
}

static mp_obj_t heaptrack_task_stats(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_task, ARG_blocks };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_task, MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_blocks, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args, pos_args, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    return with_snapshot(args[ARG_task].u_obj, args[ARG_blocks].u_bool, stats_from);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(heaptrack_task_stats_obj, 0, heaptrack_task_stats);

// Reports go out a line at a time: one write per line, not one per field.
static mp_obj_t print_lines(const ht_snapshot_t *snap,
    void (*render)(const mp_print_t *print, const ht_snapshot_t *snap)) {
    linebuf_t lb;
    linebuf_init(&lb, &mp_plat_print);
    render(&lb.print, snap);
    linebuf_flush(&lb);
    return mp_const_none;
}

static mp_obj_t print_overview_of(const ht_snapshot_t *snap, bool all) {
    return print_lines(snap, report_print_overview);
}

static mp_obj_t print_details_of(const ht_snapshot_t *snap, bool all) {
    return print_lines(snap, report_print_details);
}

static mp_obj_t heaptrack_print_overview(size_t n_args, const mp_obj_t *args) {
    return with_snapshot(n_args > 0 ? args[0] : mp_const_none, false, print_overview_of);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(heaptrack_print_overview_obj, 0, 1, heaptrack_print_overview);

static mp_obj_t heaptrack_print_details(size_t n_args, const mp_obj_t *args) {
    return with_snapshot(n_args > 0 ? args[0] : mp_const_none, true, print_details_of);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(heaptrack_print_details_obj, 0, 1, heaptrack_print_details);

static mp_obj_t dump_tasks_of(const ht_snapshot_t *snap, bool all) {
    return print_lines(snap, dump_tasks);
}

static mp_obj_t heaptrack_dump_tasks(mp_obj_t task_in, mp_obj_t blocks_in) {
    return with_snapshot(task_in, mp_obj_is_true(blocks_in), dump_tasks_of);
}
static MP_DEFINE_CONST_FUN_OBJ_2(heaptrack_dump_tasks_obj, heaptrack_dump_tasks);

static MP_DEFINE_CONST_FUN_OBJ_KW(heaptrack_start_task_obj, 2, task_start);

static const mp_rom_map_elem_t heaptrack_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR__heaptrack) },
    { MP_ROM_QSTR(MP_QSTR_start_task), MP_ROM_PTR(&heaptrack_start_task_obj) },
    { MP_ROM_QSTR(MP_QSTR_current_task), MP_ROM_PTR(&heaptrack_current_task_obj) },
    { MP_ROM_QSTR(MP_QSTR_malloc), MP_ROM_PTR(&heaptrack_malloc_obj) },
    { MP_ROM_QSTR(MP_QSTR_free), MP_ROM_PTR(&heaptrack_free_obj) },
    { MP_ROM_QSTR(MP_QSTR_free_all), MP_ROM_PTR(&heaptrack_free_all_obj) },
    { MP_ROM_QSTR(MP_QSTR_task_stats), MP_ROM_PTR(&heaptrack_task_stats_obj) },
    { MP_ROM_QSTR(MP_QSTR_print_overview), MP_ROM_PTR(&heaptrack_print_overview_obj) },
    { MP_ROM_QSTR(MP_QSTR_print_details), MP_ROM_PTR(&heaptrack_print_details_obj) },
    { MP_ROM_QSTR(MP_QSTR_track_deleted), MP_ROM_PTR(&heaptrack_track_deleted_obj) },
    { MP_ROM_QSTR(MP_QSTR_dump_tasks), MP_ROM_PTR(&heaptrack_dump_tasks_obj) },
    { MP_ROM_QSTR(MP_QSTR_region_info), MP_ROM_PTR(&heapinfo_regions_obj) },
    { MP_ROM_QSTR(MP_QSTR_gc_info), MP_ROM_PTR(&heapinfo_gc_obj) },

    { MP_ROM_QSTR(MP_QSTR_CAP_EXEC), MP_ROM_INT(HT_CAP_EXEC) },
    { MP_ROM_QSTR(MP_QSTR_CAP_32BIT), MP_ROM_INT(HT_CAP_32BIT) },
    { MP_ROM_QSTR(MP_QSTR_CAP_8BIT), MP_ROM_INT(HT_CAP_8BIT) },
    { MP_ROM_QSTR(MP_QSTR_CAP_DMA), MP_ROM_INT(HT_CAP_DMA) },
    { MP_ROM_QSTR(MP_QSTR_CAP_SPIRAM), MP_ROM_INT(HT_CAP_SPIRAM) },
    { MP_ROM_QSTR(MP_QSTR_CAP_INTERNAL), MP_ROM_INT(HT_CAP_INTERNAL) },
    { MP_ROM_QSTR(MP_QSTR_CAP_DEFAULT), MP_ROM_INT(HT_CAP_DEFAULT) },
};
static MP_DEFINE_CONST_DICT(heaptrack_module_globals, heaptrack_module_globals_table);

const mp_obj_module_t heaptrack_user_cmodule = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&heaptrack_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR__heaptrack, heaptrack_user_cmodule);
