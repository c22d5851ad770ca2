// JSON lines straight from the statistics, like the report printers: no Python
// object per task or block, so dumping 10,000 blocks costs no MicroPython heap.
#include "dump.h"

// Task and heap names are user text: quote them as JSON strings.
void dump_json_string(const mp_print_t *print, const char *s) {
    mp_print_str(print, "\"");
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            mp_printf(print, "\\%c", c);
        } else if (c < 0x20) {
            mp_printf(print, "\\u%04x", c);
        } else {
            mp_printf(print, "%c", c);
        }
    }
    mp_print_str(print, "\"");
}

// A decimal of any width (mp_printf has no portable format for size_t).
static void print_number(const mp_print_t *print, unsigned long long value) {
    char digits[24];
    char *p = digits + sizeof(digits);
    *--p = '\0';
    do {
        *--p = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    mp_print_str(print, p);
}

// ,"key":value
static void field(const mp_print_t *print, const char *key, unsigned long long value) {
    mp_printf(print, ",\"%s\":", key);
    print_number(print, value);
}

static void dump_heap(const mp_print_t *print, ht_task_t task, const ht_heap_stat_t *heap) {
    mp_print_str(print, "{\"type\":\"heap\"");
    field(print, "task", task);
    mp_print_str(print, ",\"name\":");
    dump_json_string(print, heap->name);
    field(print, "caps", heap->caps);
    field(print, "size", heap->size);
    field(print, "current", heap->current_usage);
    field(print, "peak", heap->peak_usage);
    field(print, "alloc_count", heap->alloc_count);
    if (heap->blocks != NULL) {
        mp_print_str(print, ",\"blocks\":[");
        size_t listed = ht_heap_block_count(heap);
        for (size_t i = 0; i < listed; i++) {
            mp_print_str(print, i == 0 ? "[" : ",[");
            print_number(print, (uintptr_t)heap->blocks[i].address);
            mp_print_str(print, ",");
            print_number(print, heap->blocks[i].size);
            mp_print_str(print, "]");
        }
        mp_print_str(print, "]");
    }
    mp_print_str(print, "}\n");
}

void dump_task(const mp_print_t *print, const ht_task_stat_t *task) {
    mp_print_str(print, "{\"type\":\"task\",\"name\":");
    dump_json_string(print, task->name);
    field(print, "handle", task->handle);
    mp_printf(print, ",\"alive\":%s", task->is_alive ? "true" : "false");
    field(print, "current", task->overall_current_usage);
    field(print, "peak", task->overall_peak_usage);
    field(print, "heap_count", task->heap_count);
    mp_print_str(print, "}\n");
    for (size_t h = 0; h < task->heap_count; h++) {
        dump_heap(print, task->handle, &task->heap_stat[h]);
    }
}

void dump_tasks(const mp_print_t *print, const ht_snapshot_t *snap) {
    for (size_t i = 0; i < snap->task_count; i++) {
        dump_task(print, &snap->tasks[i]);
    }
}

void dump_all(const mp_print_t *print, const ht_snapshot_t *snap, mp_uint_t ticks_ms,
    const ht_region_info_t *regions, size_t region_count, const heapinfo_gc_t *gc,
    const heapinfo_gc_area_t *areas, size_t area_count) {
    mp_printf(print, "{\"type\":\"begin\",\"version\":%d", DUMP_FORMAT_VERSION);
    field(print, "ticks_ms", ticks_ms);
    mp_printf(print, ",\"track_deleted\":%s}\n", ht_track_deleted() ? "true" : "false");
    for (size_t i = 0; i < region_count; i++) {
        const ht_region_info_t *r = &regions[i];
        mp_print_str(print, "{\"type\":\"region\",\"name\":");
        dump_json_string(print, r->name);
        field(print, "caps", r->caps);
        field(print, "total", r->total_size);
        field(print, "free", r->free_size);
        field(print, "largest_free", r->largest_free_block);
        field(print, "minimum_free", r->minimum_free_size);
        mp_print_str(print, "}\n");
    }
    mp_print_str(print, "{\"type\":\"gc\"");
    field(print, "total", gc->total);
    field(print, "used", gc->used);
    field(print, "free", gc->free);
    field(print, "largest_free", gc->largest_free);
    field(print, "areas", gc->areas);
    field(print, "in_esp_heap", gc->in_esp_heap);
    // Its areas that are blocks of ESP-IDF's heap: [address, size, task or null].
    mp_print_str(print, ",\"area_blocks\":[");
    for (size_t i = 0; i < area_count; i++) {
        mp_print_str(print, i == 0 ? "[" : ",[");
        print_number(print, areas[i].address);
        mp_print_str(print, ",");
        print_number(print, areas[i].size);
        mp_print_str(print, ",");
        if (areas[i].task_known) {
            print_number(print, areas[i].task);
        } else {
            mp_print_str(print, "null");
        }
        mp_print_str(print, "]");
    }
    mp_print_str(print, "]}\n");
    dump_tasks(print, snap);
    mp_print_str(print, "{\"type\":\"end\"}\n");
}
