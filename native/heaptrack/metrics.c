// Prometheus's text exposition format, version 0.0.4, printed straight from
// the statistics as the report printers print them (metrics.h).
//
// Names follow Prometheus's conventions: the heaptrack_ prefix, the base unit
// in the name (_bytes), _total on counters, one HELP and TYPE line per family
// before its samples. Label values are escaped as the format asks (backslash,
// double quote, line feed); a task name that is not UTF-8 (only C code can
// make one) has its non-ASCII bytes printed as '?', so the text always is.
#include <stdint.h>
#include <string.h>

#include "py/mpconfig.h"
#include "py/unicode.h"

#include "metrics.h"

// Output is gathered here and printed a buffer at a time: to a str that is one
// copy per 256 bytes, to a stream one write. Printing a field at a time
// through mp_printf took half as long again.
typedef struct {
    const mp_print_t *print;
    size_t len;
    char buf[256];
} out_t;

static void out_flush(out_t *out) {
    if (out->len > 0) {
        out->print->print_strn(out->print->data, out->buf, out->len);
        out->len = 0;
    }
}

static void put_n_slow(out_t *out, const char *s, size_t n) {
    while (n > sizeof(out->buf) - out->len) {
        size_t room = sizeof(out->buf) - out->len;
        memcpy(out->buf + out->len, s, room);
        out->len += room;
        s += room;
        n -= room;
        out_flush(out);
    }
    memcpy(out->buf + out->len, s, n);
    out->len += n;
}

// Most pieces fit in what is left of the buffer: inlined, even where the
// firmware is built for size.
static inline __attribute__((always_inline)) void put_n(out_t *out, const char *s, size_t n) {
    if (n <= sizeof(out->buf) - out->len) {
        memcpy(out->buf + out->len, s, n);
        out->len += n;
    } else {
        put_n_slow(out, s, n);
    }
}

static void put(out_t *out, const char *s) {
    put_n(out, s, strlen(s));
}

// A string literal, its length known when compiled.
#define PUT(out, literal) put_n((out), (literal), sizeof(literal) - 1)

static void put_decimal(out_t *out, unsigned long value) {
    char digits[24];
    char *p = digits + sizeof(digits);
    do {
        *--p = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    put_n(out, p, digits + sizeof(digits) - p);
}

static void put_hex32(out_t *out, unsigned long value) {
    char hex[10];
    hex[0] = '0';
    hex[1] = 'x';
    for (int i = 9; i >= 2; i--, value >>= 4) {
        hex[i] = "0123456789abcdef"[value & 0xf];
    }
    put_n(out, hex, sizeof(hex));
}

// The bytes a label value cannot hold as they are, a bit each: the NUL that
// ends it, line feed, double quote, backslash, and every byte from 0x80 (which
// is printed as it is only where the name is UTF-8).
static const uint32_t label_special[8] = {
    (1u << 0) | (1u << '\n'), 1u << ('"' - 32), 1u << ('\\' - 64), 0,
    0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu,
};

// A label value, escaped. Most task and heap names need no escaping: they are
// looked at once, up to their end, and copied whole.
static void put_label(out_t *out, const char *s) {
    size_t len = 0;
    unsigned char first;   // the first byte that is special
    while (first = (unsigned char)s[len], (label_special[first >> 5] >> (first & 31) & 1) == 0) {
        len++;
    }
    if (first == '\0') {
        put_n(out, s, len);
        return;
    }
    len += strlen(s + len);
    bool utf8 = utf8_check((const byte *)s, len);
    const char *run = s;
    for (const char *p = s; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        const char *escaped = c == '\\' ? "\\\\" : c == '"' ? "\\\"" : c == '\n' ? "\\n"
            : (!utf8 && c >= 0x80) ? "?" : NULL;
        if (escaped != NULL) {
            put_n(out, run, p - run);
            put(out, escaped);
            run = p + 1;
        }
    }
    put_n(out, run, s + len - run);
}

// " value\n": the end of a sample line.
static void put_value(out_t *out, unsigned long value) {
    PUT(out, " ");
    put_decimal(out, value);
    PUT(out, "\n");
}

// A string literal and its length, known when compiled: the names, types and
// help texts of the families, printed over and over.
typedef struct {
    const char *s;
    size_t n;
} text_t;
#define T(literal) ((text_t) { (literal), sizeof(literal) - 1 })

static void put_text(out_t *out, text_t t) {
    put_n(out, t.s, t.n);
}

static void family(out_t *out, text_t name, text_t type, text_t help) {
    PUT(out, "# HELP ");
    put_text(out, name);
    PUT(out, " ");
    put_text(out, help);
    PUT(out, "\n# TYPE ");
    put_text(out, name);
    PUT(out, " ");
    put_text(out, type);
    PUT(out, "\n");
}

// A family with one sample and no labels.
static void single(out_t *out, text_t name, text_t type, text_t help, unsigned long value) {
    family(out, name, type, help);
    put_text(out, name);
    put_value(out, value);
}

/******************************************************************************/
// Which deleted tasks are listed: at most max_deleted, those holding the most
// memory first (a deleted task that holds memory is a leak: the alerts are
// about them), then in ESP-IDF's order. The others are counted together.

#define LISTED_ALL SIZE_MAX
#define LISTED_NONE (SIZE_MAX - 1)

static bool ranks_before(const ht_snapshot_t *snap, size_t a, size_t b) {
    size_t held_a = snap->tasks[a].overall_current_usage;
    size_t held_b = snap->tasks[b].overall_current_usage;
    return held_a > held_b || (held_a == held_b && a < b);
}

// The last deleted task listed, in rank order; LISTED_ALL when every deleted
// task is, LISTED_NONE when none is. top[] keeps the best so far, ranked.
static size_t deleted_cut(const ht_snapshot_t *snap, size_t max_deleted) {
    size_t top[METRICS_MAX_DELETED_LIMIT];
    size_t kept = 0;
    size_t deleted = 0;
    for (size_t i = 0; i < snap->task_count; i++) {
        if (snap->tasks[i].is_alive) {
            continue;
        }
        deleted += 1;
        if (max_deleted == 0 || (kept == max_deleted && !ranks_before(snap, i, top[kept - 1]))) {
            continue;
        }
        size_t at = kept < max_deleted ? kept++ : kept - 1;
        while (at > 0 && ranks_before(snap, i, top[at - 1])) {
            top[at] = top[at - 1];
            at--;
        }
        top[at] = i;
    }
    if (deleted <= max_deleted) {
        return LISTED_ALL;
    }
    return max_deleted == 0 ? LISTED_NONE : top[max_deleted - 1];
}

static bool task_listed(const ht_snapshot_t *snap, size_t cut, size_t i) {
    if (snap->tasks[i].is_alive || cut == LISTED_ALL) {
        return true;
    }
    return cut != LISTED_NONE && !ranks_before(snap, cut, i);
}

/******************************************************************************/
// Tasks

static unsigned long task_current(const ht_task_stat_t *task) {
    return task->overall_current_usage;
}

static unsigned long task_peak(const ht_task_stat_t *task) {
    return task->overall_peak_usage;
}

static unsigned long task_blocks(const ht_task_stat_t *task) {
    unsigned long blocks = 0;
    for (size_t h = 0; h < task->heap_count; h++) {
        blocks += task->heap_stat[h].alloc_count;
    }
    return blocks;
}

static const struct {
    text_t name;
    text_t help;
    unsigned long (*value)(const ht_task_stat_t *task);
} task_families[] = {
    { T("heaptrack_task_current_bytes"),
      T("ESP-IDF heap memory the task holds now: what it allocated and nobody freed."), task_current },
    { T("heaptrack_task_peak_bytes"), T("Most ESP-IDF heap memory the task held at once."), task_peak },
    { T("heaptrack_task_live_blocks"), T("ESP-IDF heap blocks the task holds now."), task_blocks },
};

static void task_sample(out_t *out, size_t f, const ht_task_stat_t *task) {
    put_text(out, task_families[f].name);
    PUT(out, "{task=\"");
    put_label(out, task->name);
    PUT(out, "\",handle=\"");
    put_hex32(out, task->handle);
    if (task->is_alive) {
        PUT(out, "\",status=\"alive\"}");
    } else {
        PUT(out, "\",status=\"deleted\"}");
    }
    put_value(out, task_families[f].value(task));
}

static void print_tasks(out_t *out, const ht_snapshot_t *snap, size_t max_deleted) {
    size_t cut = deleted_cut(snap, max_deleted);
    for (size_t f = 0; f < MP_ARRAY_SIZE(task_families); f++) {
        family(out, task_families[f].name, T("gauge"), task_families[f].help);
        for (size_t i = 0; i < snap->task_count; i++) {
            if (task_listed(snap, cut, i)) {
                task_sample(out, f, &snap->tasks[i]);
            }
        }
    }
    unsigned long alive = 0, unlisted = 0, unlisted_bytes = 0;
    for (size_t i = 0; i < snap->task_count; i++) {
        alive += snap->tasks[i].is_alive ? 1 : 0;
        if (!task_listed(snap, cut, i)) {
            unlisted += 1;
            unlisted_bytes += snap->tasks[i].overall_current_usage;
        }
    }
    family(out, T("heaptrack_tasks"), T("gauge"), T("Tasks the tracker holds records of."));
    PUT(out, "heaptrack_tasks{status=\"alive\"}");
    put_value(out, alive);
    PUT(out, "heaptrack_tasks{status=\"deleted\"}");
    put_value(out, snap->task_count - alive);
    single(out, T("heaptrack_unlisted_deleted_tasks"), T("gauge"),
        T("Deleted tasks left out of the heaptrack_task_ series: beyond metrics(max_deleted=...), those holding least."),
        unlisted);
    single(out, T("heaptrack_unlisted_deleted_bytes"), T("gauge"),
        T("ESP-IDF heap memory the unlisted deleted tasks hold together."), unlisted_bytes);
}

/******************************************************************************/
// Heaps

static unsigned long region_size(const ht_region_info_t *r) {
    return r->total_size;
}

static unsigned long region_free(const ht_region_info_t *r) {
    return r->free_size;
}

static unsigned long region_largest(const ht_region_info_t *r) {
    return r->largest_free_block;
}

static unsigned long region_minimum(const ht_region_info_t *r) {
    return r->minimum_free_size;
}

static const struct {
    text_t name;
    text_t help;
    unsigned long (*value)(const ht_region_info_t *r);
} heap_families[] = {
    { T("heaptrack_heap_size_bytes"), T("Size of the ESP-IDF heap region."), region_size },
    { T("heaptrack_heap_free_bytes"), T("Free memory in the ESP-IDF heap region."), region_free },
    { T("heaptrack_heap_largest_free_block_bytes"), T("Largest free block of the ESP-IDF heap region."),
      region_largest },
    { T("heaptrack_heap_minimum_free_bytes"),
      T("Least free memory the ESP-IDF heap region had since start-up (its low-water mark)."), region_minimum },
};

// The largest block heap_caps_malloc could hand out for caps: the most any
// region with those caps has (heap_caps_get_largest_free_block's rule).
static const struct {
    const char *label;
    uint32_t caps;
} caps_classes[] = {
    { "internal", HT_CAP_INTERNAL | HT_CAP_8BIT },
    { "default", HT_CAP_DEFAULT },
    { "spiram", HT_CAP_SPIRAM },
};

static void print_heaps(out_t *out, const ht_region_info_t *regions, size_t count) {
    for (size_t f = 0; f < MP_ARRAY_SIZE(heap_families); f++) {
        family(out, heap_families[f].name, T("gauge"), heap_families[f].help);
        for (size_t i = 0; i < count; i++) {
            put_text(out, heap_families[f].name);
            PUT(out, "{heap=\"");
            put_label(out, regions[i].name);
            PUT(out, "\",caps=\"");
            put_hex32(out, regions[i].caps);
            PUT(out, "\",address=\"");
            put_hex32(out, regions[i].start);
            PUT(out, "\"}");
            put_value(out, heap_families[f].value(&regions[i]));
        }
    }
    family(out, T("heaptrack_largest_free_block_bytes"), T("gauge"),
        T("Largest block heap_caps_malloc can hand out now for these caps: internal is "
        "MALLOC_CAP_INTERNAL|MALLOC_CAP_8BIT, default MALLOC_CAP_DEFAULT, spiram MALLOC_CAP_SPIRAM."));
    for (size_t c = 0; c < MP_ARRAY_SIZE(caps_classes); c++) {
        bool any = false;
        size_t largest = 0;
        for (size_t i = 0; i < count; i++) {
            if ((regions[i].caps & caps_classes[c].caps) == caps_classes[c].caps) {
                any = true;
                largest = regions[i].largest_free_block > largest ? regions[i].largest_free_block : largest;
            }
        }
        if (any) {
            PUT(out, "heaptrack_largest_free_block_bytes{caps=\"");
            put(out, caps_classes[c].label);
            PUT(out, "\"}");
            put_value(out, largest);
        }
    }
}

/******************************************************************************/

static void print_gc(out_t *out, const heapinfo_gc_t *gc) {
    single(out, T("heaptrack_gc_heap_size_bytes"), T("gauge"), T("Size of MicroPython's GC heap, every area."), gc->total);
    single(out, T("heaptrack_gc_heap_free_bytes"), T("gauge"), T("Free memory in MicroPython's GC heap."), gc->free);
    single(out, T("heaptrack_gc_heap_largest_free_block_bytes"), T("gauge"),
        T("Largest free block of MicroPython's GC heap."), gc->largest_free);
}

static void print_health(out_t *out, const metrics_input_t *in) {
    const ht_snapshot_t *snap = in->snap;
    single(out, T("heaptrack_untracked_allocations_total"), T("counter"),
        T("Allocations the tracker could not record (its records were full): the task figures miss them."),
        snap->untracked);
    single(out, T("heaptrack_dropped_deleted_tasks_total"), T("counter"),
        T("Deleted tasks whose records went to new tasks (the tracker's table of tasks was full)."),
        snap->dropped_tasks);
    single(out, T("heaptrack_drifted_tasks"), T("gauge"),
        T("Tasks whose figures do not add up in this copy of the statistics (records were lost)."), snap->drifted);
    bool incomplete = snap->untracked != 0 || snap->drifted != 0 || snap->dropped_tasks != 0;
    single(out, T("heaptrack_incomplete"), T("gauge"),
        T("1 when the task figures are incomplete (the three above), as heaptrack's reports then warn; else 0."),
        incomplete ? 1 : 0);
    single(out, T("heaptrack_records_full"), T("gauge"),
        T("1 when the tracker has no room for its next new record; else 0."), in->snap->records.full ? 1 : 0);
    single(out, T("heaptrack_alloc_failures_total"), T("counter"),
        T("Allocations ESP-IDF's heap refused (NULL from heap_caps_*, any caller) since power-on or "
        "heaptrack.clear_failures(): heaptrack.failures() explains the newest."),
        in->alloc_failures);
}

static void print_info(out_t *out) {
    const char *tracker = ht_tracker_name();
    family(out, T("heaptrack_info"), T("gauge"), T("The firmware: heaptrack's version, its tracker, the board."));
    put(out, "heaptrack_info{version=\"" HEAPTRACK_VERSION "\",tracker=\"");
    put(out, tracker != NULL ? tracker : "none");
    put(out, ht_track_deleted() ? "\",track_deleted=\"true\",machine=\"" : "\",track_deleted=\"false\",machine=\"");
    put_label(out, MICROPY_BANNER_MACHINE);
    PUT(out, "\"}");
    put_value(out, 1);
}

void metrics_print(const mp_print_t *print, const metrics_input_t *in) {
    out_t out = { .print = print, .len = 0 };
    print_info(&out);
    print_tasks(&out, in->snap, in->max_deleted);
    print_heaps(&out, in->regions, in->region_count);
    print_gc(&out, in->gc);
    print_health(&out, in);
    out_flush(&out);
}
