// _heaptrack: ESP-IDF heap task tracking for Python. The frozen heaptrack
// package (modules/heaptrack) re-exports it; users import heaptrack.
#include <string.h>

#include "py/mphal.h"
#include "py/objint.h"
#include "py/objstr.h"
#include "py/runtime.h"
#include "py/smallint.h"
#include "py/stream.h"

#include "dump.h"
#include "errors.h"
#include "failures.h"
#include "heapinfo.h"
#include "linebuf.h"
#include "modgc.h"
#include "metrics.h"
#include "report.h"
#include "stats.h"
#include "task.h"
#include "tracker.h"

// A task argument: None for all tasks, else an int handle.
static bool task_arg(mp_obj_t arg, ht_task_t *task) {
    if (arg == mp_const_none) {
        return true;
    }
    if (!mp_obj_is_int(arg)) {
        mp_raise_TypeError(MP_ERROR_TEXT("task must be an int handle or None"));
    }
    mp_uint_t value;
    if (!arg_word(arg, &value)) {
        tracker_raise(HT_ERR_NO_TASK);   // no task has a handle that does not fit a word
    }
    *task = (ht_task_t)value;
    return false;
}

// What a snapshot copies: every task's totals only (what an overview needs,
// in the least memory), its heaps too, or its heaps and their blocks.
typedef enum { SNAP_TOTALS, SNAP_HEAPS, SNAP_BLOCKS } snap_kind_t;

static void take_snapshot(ht_snapshot_t *snap, mp_obj_t task_in, snap_kind_t kind) {
    ht_task_t task = 0;
    bool all = task_arg(task_in, &task);
    tracker_check(kind == SNAP_TOTALS ? ht_snapshot_take_totals(snap, all, task)
        : ht_snapshot_take(snap, all, task, kind == SNAP_BLOCKS));
}

static mp_obj_t heaptrack_current_task(void) {
    return mp_obj_new_int_from_uint(ht_current_task());
}
static MP_DEFINE_CONST_FUN_OBJ_0(heaptrack_current_task_obj, heaptrack_current_task);

// malloc(size, caps=CAP_DEFAULT)
static mp_obj_t heaptrack_malloc(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_size, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_caps, MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
    };
    mp_arg_val_t parsed[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args, pos_args, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, parsed);
    const mp_obj_t args[] = { parsed[0].u_obj, parsed[1].u_obj };
    if (!mp_obj_is_int(args[0])) {
        mp_raise_TypeError(MP_ERROR_TEXT("size must be an int"));
    }
    if (mp_obj_int_sign(args[0]) <= 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("size must be > 0"));
    }
    mp_uint_t caps = HT_CAP_DEFAULT;
    if (args[1] != MP_OBJ_NULL) {
        if (!mp_obj_is_int(args[1])) {
            mp_raise_TypeError(MP_ERROR_TEXT("caps must be an int"));
        }
        if (!arg_word(args[1], &caps) || (caps & ~(mp_uint_t)HT_CAP_ALLOWED)) {
            mp_raise_ValueError(MP_ERROR_TEXT("caps has bits that are not heaptrack.CAP_* values"));
        }
        const char *reason;
        if (caps & ht_caps_refused(&reason)) {
            mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%s"), reason);
        }
    }
    // A size wider than a small int fits no heap: the same MemoryError as any
    // other request that no heap with those caps can hold.
    ht_err_t err = HT_ERR_NO_MEM;
    void *address = NULL;
    if (mp_obj_is_small_int(args[0])) {
        uint32_t failures_before = ht_failures_newest(NULL);
        err = ht_malloc(MP_OBJ_SMALL_INT_VALUE(args[0]), caps, &address);
        // The MemoryError tells the caller of the failure ESP-IDF recorded: a
        // report need not (unless others were untold before).
        if (err == HT_ERR_NO_MEM && ht_failures_reported() >= failures_before) {
            ht_failures_set_reported(ht_failures_newest(NULL));
        }
    }
    tracker_check(err);
    return mp_obj_new_int_from_uint((uintptr_t)address);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(heaptrack_malloc_obj, 0, heaptrack_malloc);

// free(addr)
static mp_obj_t heaptrack_free(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_addr, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
    };
    mp_arg_val_t parsed[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args, pos_args, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, parsed);
    mp_obj_t address_in = parsed[0].u_obj;
    if (!mp_obj_is_int(address_in)) {
        mp_raise_TypeError(MP_ERROR_TEXT("address must be an int"));
    }
    mp_uint_t address;
    // An int wider than a word was never handed out.
    tracker_check(arg_word(address_in, &address) ? ht_free((void *)(uintptr_t)address) : HT_ERR_NO_BLOCK);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(heaptrack_free_obj, 0, heaptrack_free);

static mp_obj_t heaptrack_free_all(void) {
    size_t count = 0;
    tracker_check(ht_free_all(&count));
    return mp_obj_new_int_from_uint(count);
}
static MP_DEFINE_CONST_FUN_OBJ_0(heaptrack_free_all_obj, heaptrack_free_all);

// reset_peak(): every alive task's peaks back to its current usage, where the
// tracker can (tracemalloc.reset_peak()).
static mp_obj_t heaptrack_reset_peak(void) {
    tracker_check(ht_reset_peak());
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_0(heaptrack_reset_peak_obj, heaptrack_reset_peak);

// clear(): forgets deleted tasks' records that hold no block, where the
// tracker can; returns how many.
static mp_obj_t heaptrack_clear(void) {
    size_t dropped = 0;
    tracker_check(ht_clear(&dropped));
    return mp_obj_new_int_from_uint(dropped);
}
static MP_DEFINE_CONST_FUN_OBJ_0(heaptrack_clear_obj, heaptrack_clear);

static mp_obj_t heaptrack_track_deleted(void) {
    return mp_obj_new_bool(ht_track_deleted());
}
static MP_DEFINE_CONST_FUN_OBJ_0(heaptrack_track_deleted_obj, heaptrack_track_deleted);

// Runs fn over a snapshot (with ctx, what else fn needs) and releases the
// snapshot however fn leaves.
static mp_obj_t with_snapshot(mp_obj_t task_in, snap_kind_t kind,
    mp_obj_t (*fn)(const ht_snapshot_t *snap, bool all, void *ctx), void *ctx) {
    ht_snapshot_t snap;
    take_snapshot(&snap, task_in, kind);
    mp_obj_t result = MP_OBJ_NULL;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        result = fn(&snap, task_in == mp_const_none, ctx);
        nlr_pop();
    }
    ht_snapshot_release(&snap);
    if (result == MP_OBJ_NULL) {
        nlr_jump(nlr.ret_val);
    }
    return result;
}

static mp_obj_t stats_from(const ht_snapshot_t *snap, bool all, void *ctx) {
    if (!all) {
        return stats_new_task(&snap->tasks[0]);
    }
    return stats_new_tasks(snap->tasks, snap->task_count);
}

static mp_obj_t heaptrack_task_stats(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_task, ARG_blocks };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_task, MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_blocks, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args, pos_args, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    return with_snapshot(args[ARG_task].u_obj, args[ARG_blocks].u_bool ? SNAP_BLOCKS : SNAP_HEAPS, stats_from, NULL);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(heaptrack_task_stats_obj, 0, heaptrack_task_stats);

// _task_totals(): [(name, handle, alive, current, peak)] of every task, from a
// copy of the totals only: what host tools sample (heaptrack.dump_sample),
// still there when a board's records leave no room for a full copy.
static mp_obj_t totals_from(const ht_snapshot_t *snap, bool all, void *ctx) {
    (void)all;
    mp_obj_t list = mp_obj_new_list(snap->task_count, NULL);
    mp_obj_t *items = ((mp_obj_list_t *)MP_OBJ_TO_PTR(list))->items;
    for (size_t i = 0; i < snap->task_count; i++) {
        const ht_task_stat_t *t = &snap->tasks[i];
        mp_obj_t fields[] = {
            mp_obj_new_str(t->name, strlen(t->name)),
            mp_obj_new_int_from_uint(t->handle),
            mp_obj_new_bool(t->is_alive),
            mp_obj_new_int_from_uint(t->overall_current_usage),
            mp_obj_new_int_from_uint(t->overall_peak_usage),
        };
        items[i] = mp_obj_new_tuple(MP_ARRAY_SIZE(fields), fields);
    }
    return list;
}

static mp_obj_t heaptrack_task_totals(void) {
    return with_snapshot(mp_const_none, SNAP_TOTALS, totals_from, NULL);
}
static MP_DEFINE_CONST_FUN_OBJ_0(heaptrack_task_totals_obj, heaptrack_task_totals);

// Reports go out a line at a time: one write per line, not one per field.
static mp_obj_t print_lines(const ht_snapshot_t *snap,
    void (*render)(const mp_print_t *print, const ht_snapshot_t *snap)) {
    linebuf_t lb;
    linebuf_init(&lb, &mp_plat_print);
    render(&lb.print, snap);
    linebuf_flush(&lb);
    return mp_const_none;
}

static mp_obj_t print_overview_of(const ht_snapshot_t *snap, bool all, void *ctx) {
    return print_lines(snap, report_print_overview);
}

static mp_obj_t print_details_of(const ht_snapshot_t *snap, bool all, void *ctx) {
    return print_lines(snap, report_print_details);
}

// The task argument of print_overview(task=None) and print_details(task=None).
static mp_obj_t task_kw(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_task, MP_ARG_OBJ, {.u_obj = mp_const_none} },
    };
    mp_arg_val_t parsed[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args, pos_args, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, parsed);
    return parsed[0].u_obj;
}

static mp_obj_t heaptrack_print_overview(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    return with_snapshot(task_kw(n_args, pos_args, kw_args), SNAP_TOTALS, print_overview_of, NULL);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(heaptrack_print_overview_obj, 0, heaptrack_print_overview);

static mp_obj_t heaptrack_print_details(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    return with_snapshot(task_kw(n_args, pos_args, kw_args), SNAP_BLOCKS, print_details_of, NULL);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(heaptrack_print_details_obj, 0, heaptrack_print_details);

// dump(task=None, blocks=True): everything is read (and a bad task refused)
// before the first line goes out, so a failed dump prints nothing.
static mp_obj_t dump_all_of(const ht_snapshot_t *snap, bool all, void *ctx) {
    ht_region_info_t regions[HEAPINFO_MAX_REGIONS];
    size_t region_count = heapinfo_read_regions(regions);
    heapinfo_gc_t gc;
    heapinfo_read_gc(&gc, regions, region_count);
    heapinfo_gc_area_t areas[HEAPINFO_MAX_GC_AREAS];
    size_t area_count = heapinfo_read_gc_areas(areas, regions, region_count);
    mp_uint_t ticks = mp_hal_ticks_ms() & (MICROPY_PY_TIME_TICKS_PERIOD - 1);
    linebuf_t lb;
    linebuf_init(&lb, &mp_plat_print);
    dump_all(&lb.print, snap, ticks, regions, region_count, &gc, areas, area_count);
    linebuf_flush(&lb);
    return mp_const_none;
}

static mp_obj_t heaptrack_dump(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_task, MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_blocks, MP_ARG_OBJ, {.u_obj = mp_const_true} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args, pos_args, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    return with_snapshot(args[0].u_obj, mp_obj_is_true(args[1].u_obj) ? SNAP_BLOCKS : SNAP_HEAPS, dump_all_of, NULL);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(heaptrack_dump_obj, 0, heaptrack_dump);

// The items of a list or tuple of TaskStat (TypeError for anything else).
static mp_obj_t *task_list(mp_obj_t tasks_in, size_t *count) {
    mp_obj_t *tasks;
    mp_obj_get_array(tasks_in, count, &tasks);
    for (size_t i = 0; i < *count; i++) {
        stats_task_get(tasks[i]);
    }
    return tasks;
}

// Writes to a stream object through mp_print: all of it, or OSError. A stream
// that would block or timed out raises too (mp_stream_write would return None
// and go on), so output cut short never passes for whole.
static void stream_strn(void *data, const char *str, size_t len) {
    int err = 0;
    if (mp_stream_write_exactly(MP_OBJ_FROM_PTR(data), str, len, &err) != len) {
        mp_raise_OSError(err != 0 ? err : MP_EIO);
    }
}

// _write_tasks(stream, tasks): the task and heap lines of dump() for each
// TaskStat, written to a file (Snapshot.dump).
static mp_obj_t heaptrack_write_tasks(mp_obj_t stream_in, mp_obj_t tasks_in) {
    mp_get_stream_raise(stream_in, MP_STREAM_OP_WRITE);
    size_t count;
    mp_obj_t *tasks = task_list(tasks_in, &count);
    mp_print_t out = { MP_OBJ_TO_PTR(stream_in), stream_strn };
    linebuf_t lb;
    linebuf_init(&lb, &out);
    for (size_t i = 0; i < count; i++) {
        dump_task(&lb.print, stats_task_get(tasks[i]));
    }
    linebuf_flush(&lb);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(heaptrack_write_tasks_obj, heaptrack_write_tasks);

// metrics(out=None, *, max_deleted=16): Prometheus's text exposition of the
// statistics (metrics.c), returned as a str, or written to the stream out 256
// bytes at a time (then no MicroPython heap is used for the text). Everything is read
// (and the arguments checked) before the first byte is made.
static size_t metrics_max_deleted(mp_obj_t arg) {
    if (arg == MP_OBJ_NULL) {
        return METRICS_MAX_DELETED_DEFAULT;
    }
    mp_uint_t n = arg_word_or_raise(arg, MP_QSTR_max_deleted);
    if (n > METRICS_MAX_DELETED_LIMIT) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("max_deleted must be 0 to %d"),
            METRICS_MAX_DELETED_LIMIT);
    }
    return n;
}

// The text's size, roughly: each listed task's three lines, each region's
// four, and the fixed part (HELP and TYPE lines), so that the str is made in
// one allocation in the common case.
static size_t metrics_size_guess(const metrics_input_t *in) {
    size_t alive = 0;
    for (size_t i = 0; i < in->snap->task_count; i++) {
        alive += in->snap->tasks[i].is_alive ? 1 : 0;
    }
    size_t deleted = in->snap->task_count - alive;
    size_t listed = alive + (deleted < in->max_deleted ? deleted : in->max_deleted);
    return 256 * listed + 400 * in->region_count + 3072;
}

// The text as a str, its buffer cut to size, made without hashing it:
// mp_obj_new_str_from_vstr hashes it twice (to look for an interned copy, and
// for the str), a fifth of the time metrics() takes, for a hash nobody asks
// for. A str's hash may be 0, "not computed" (py/objstr.h), and is then
// computed when asked.
static mp_obj_t str_unhashed(vstr_t *vstr) {
    byte *data = (byte *)m_renew(char, vstr->buf, vstr->alloc, vstr->len + 1);
    data[vstr->len] = '\0';
    mp_obj_str_t *str = mp_obj_malloc(mp_obj_str_t, &mp_type_str);
    str->hash = 0;
    str->len = vstr->len;
    str->data = data;
    return MP_OBJ_FROM_PTR(str);
}

// ctx: the metrics_input_t, but its snapshot, and the out argument.
typedef struct {
    metrics_input_t in;
    mp_obj_t out;
} metrics_call_t;

static mp_obj_t metrics_of(const ht_snapshot_t *snap, bool all, void *ctx) {
    metrics_call_t *call = ctx;
    call->in.snap = snap;
    if (call->out == mp_const_none) {
        vstr_t vstr;
        mp_print_t print;
        vstr_init_print(&vstr, metrics_size_guess(&call->in), &print);
        metrics_print(&print, &call->in);
        return str_unhashed(&vstr);
    }
    mp_print_t stream = { MP_OBJ_TO_PTR(call->out), stream_strn };
    metrics_print(&stream, &call->in);
    return mp_const_none;
}

static mp_obj_t heaptrack_metrics(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_out, ARG_max_deleted };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_out, MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_max_deleted, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args, pos_args, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    mp_obj_t out = args[ARG_out].u_obj;
    if (out != mp_const_none) {
        if (!MP_OBJ_TYPE_HAS_SLOT(mp_obj_get_type(out), protocol)) {
            mp_raise_TypeError(MP_ERROR_TEXT("out must be a stream (a file, a socket, sys.stdout) or None"));
        }
        mp_get_stream_raise(out, MP_STREAM_OP_WRITE);
    }
    ht_region_info_t regions[HEAPINFO_MAX_REGIONS];
    heapinfo_gc_t gc;
    metrics_call_t call = {
        .in = {
            .regions = regions,
            .gc = &gc,
            .max_deleted = metrics_max_deleted(args[ARG_max_deleted].u_obj),
        },
        .out = out,
    };
    call.in.region_count = heapinfo_read_regions(regions);
    heapinfo_read_gc(&gc, regions, call.in.region_count);
    call.in.alloc_failures = ht_failures_newest(NULL);
    return with_snapshot(mp_const_none, SNAP_HEAPS, metrics_of, &call);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(heaptrack_metrics_obj, 0, heaptrack_metrics);

// _render(header, tasks, as_str, max_tasks, max_blocks, marks): the header
// line, then ESP-IDF's detail tree of the TaskStats with each task's handle
// and what marks say of blocks ((address, task, kind) triples, kind a
// report_mark_kind_t: a MicroPython GC heap area, a stale Pre-scheduler
// record), at most max_tasks tasks and max_blocks ALLOC lines per heap (None:
// all), each cut said in one line; returned as a str, or streamed to the REPL
// a line at a time when as_str is false.
static size_t limit_arg(mp_obj_t arg) {
    return arg == mp_const_none ? SIZE_MAX : (size_t)mp_obj_get_int(arg);
}

static mp_obj_t heaptrack_render(size_t n_args, const mp_obj_t *args) {
    size_t count;
    mp_obj_t *tasks = task_list(args[1], &count);
    const char *header = mp_obj_str_get_str(args[0]);
    size_t max_tasks = limit_arg(args[3]);
    size_t max_blocks = limit_arg(args[4]);
    size_t mark_count;
    mp_obj_t *mark_objs;
    mp_obj_get_array(args[5], &mark_count, &mark_objs);
    report_mark_t mark_list[REPORT_MAX_MARKS];
    report_marks_t marks = { mark_list, 0 };
    for (size_t i = 0; i < mark_count && i < REPORT_MAX_MARKS; i++) {
        mp_obj_t *triple;
        mp_obj_get_array_fixed_n(mark_objs[i], 3, &triple);
        mark_list[marks.count++] = (report_mark_t) {
            .address = mp_obj_get_int_truncated(triple[0]),
            .task = mp_obj_get_int_truncated(triple[1]),
            .kind = mp_obj_get_int(triple[2]) == REPORT_STALE ? REPORT_STALE : REPORT_GC_AREA,
        };
    }
    vstr_t vstr;
    mp_print_t to_vstr;
    linebuf_t lb;
    const mp_print_t *print;
    bool as_str = mp_obj_is_true(args[2]);
    if (as_str) {
        vstr_init_print(&vstr, 128, &to_vstr);
        print = &to_vstr;
    } else {
        linebuf_init(&lb, &mp_plat_print);
        print = &lb.print;
    }
    mp_printf(print, "%s\n", header);
    size_t shown = count < max_tasks ? count : max_tasks;
    for (size_t i = 0; i < shown; i++) {
        report_print_task(print, stats_task_get(tasks[i]), i + 1 == count, true, max_blocks, &marks);
    }
    if (shown < count) {
        mp_printf(print, "└ ... %lu more tasks\n", (unsigned long)(count - shown));
    }
    if (as_str) {
        if (vstr.len > 0 && vstr.buf[vstr.len - 1] == '\n') {
            vstr.len--;   // str() ends without a line end, as print() adds one
        }
        return mp_obj_new_str_from_utf8_vstr(&vstr);
    }
    linebuf_flush(&lb);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(heaptrack_render_obj, 6, 6, heaptrack_render);

static MP_DEFINE_STR_OBJ(heaptrack_version_obj, HEAPTRACK_VERSION);

// The tracker the firmware was built with ("idf" or "hooks"; None without heap
// task tracking): the frozen package's TRACKER. A function, as this file is
// the same for every tracker: the one linked knows its name.
static mp_obj_t heaptrack_tracker(void) {
    const char *name = ht_tracker_name();
    return name == NULL ? mp_const_none : mp_obj_new_str_from_cstr(name);
}
static MP_DEFINE_CONST_FUN_OBJ_0(heaptrack_tracker_obj, heaptrack_tracker);

static MP_DEFINE_CONST_FUN_OBJ_KW(heaptrack_start_task_obj, 0, task_start);

// Runs at the module's first import after each (soft) reset
// (MICROPY_MODULE_BUILTIN_INIT): tasks of the previous VM may have died in the
// middle of a heaptrack call.
static mp_obj_t heaptrack___init__(void) {
    ht_vm_restart();
    heapinfo_init();
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_0(heaptrack___init___obj, heaptrack___init__);

static const mp_rom_map_elem_t heaptrack_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR__heaptrack) },
    { MP_ROM_QSTR(MP_QSTR___init__), MP_ROM_PTR(&heaptrack___init___obj) },
    { MP_ROM_QSTR(MP_QSTR_start_task), MP_ROM_PTR(&heaptrack_start_task_obj) },
    { MP_ROM_QSTR(MP_QSTR_current_task), MP_ROM_PTR(&heaptrack_current_task_obj) },
    { MP_ROM_QSTR(MP_QSTR_malloc), MP_ROM_PTR(&heaptrack_malloc_obj) },
    { MP_ROM_QSTR(MP_QSTR_free), MP_ROM_PTR(&heaptrack_free_obj) },
    { MP_ROM_QSTR(MP_QSTR_free_all), MP_ROM_PTR(&heaptrack_free_all_obj) },
    { MP_ROM_QSTR(MP_QSTR_reset_peak), MP_ROM_PTR(&heaptrack_reset_peak_obj) },
    { MP_ROM_QSTR(MP_QSTR_clear), MP_ROM_PTR(&heaptrack_clear_obj) },
    { MP_ROM_QSTR(MP_QSTR_task_stats), MP_ROM_PTR(&heaptrack_task_stats_obj) },
    { MP_ROM_QSTR(MP_QSTR__task_totals), MP_ROM_PTR(&heaptrack_task_totals_obj) },
    { MP_ROM_QSTR(MP_QSTR_print_overview), MP_ROM_PTR(&heaptrack_print_overview_obj) },
    { MP_ROM_QSTR(MP_QSTR_print_details), MP_ROM_PTR(&heaptrack_print_details_obj) },
    { MP_ROM_QSTR(MP_QSTR_track_deleted), MP_ROM_PTR(&heaptrack_track_deleted_obj) },
    { MP_ROM_QSTR(MP_QSTR_dump), MP_ROM_PTR(&heaptrack_dump_obj) },
    { MP_ROM_QSTR(MP_QSTR_metrics), MP_ROM_PTR(&heaptrack_metrics_obj) },
    { MP_ROM_QSTR(MP_QSTR__write_tasks), MP_ROM_PTR(&heaptrack_write_tasks_obj) },
    { MP_ROM_QSTR(MP_QSTR__render), MP_ROM_PTR(&heaptrack_render_obj) },
    { MP_ROM_QSTR(MP_QSTR_TaskStat), MP_ROM_PTR(&stats_task_type) },
    { MP_ROM_QSTR(MP_QSTR_HeapStat), MP_ROM_PTR(&stats_heap_type) },
    { MP_ROM_QSTR(MP_QSTR___version__), MP_ROM_PTR(&heaptrack_version_obj) },
    { MP_ROM_QSTR(MP_QSTR_tracker), MP_ROM_PTR(&heaptrack_tracker_obj) },
    { MP_ROM_QSTR(MP_QSTR_region_info), MP_ROM_PTR(&heapinfo_regions_obj) },
    { MP_ROM_QSTR(MP_QSTR_gc_info), MP_ROM_PTR(&heapinfo_gc_obj) },
    { MP_ROM_QSTR(MP_QSTR_records_info), MP_ROM_PTR(&heapinfo_records_obj) },
    { MP_ROM_QSTR(MP_QSTR_failures), MP_ROM_PTR(&heapinfo_failures_obj) },
    { MP_ROM_QSTR(MP_QSTR_clear_failures), MP_ROM_PTR(&heapinfo_clear_failures_obj) },
    { MP_ROM_QSTR(MP_QSTR_gc_census), MP_ROM_PTR(&heaptrack_gc_census_obj) },
    { MP_ROM_QSTR(MP_QSTR_gc_holders), MP_ROM_PTR(&heaptrack_gc_holders_obj) },
    { MP_ROM_QSTR(MP_QSTR_gc_holders_of), MP_ROM_PTR(&heaptrack_gc_holders_of_obj) },
    { MP_ROM_QSTR(MP_QSTR_gc_events), MP_ROM_PTR(&heaptrack_gc_events_obj) },
    { MP_ROM_QSTR(MP_QSTR_gc_areas), MP_ROM_PTR(&heapinfo_gc_areas_obj) },

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
