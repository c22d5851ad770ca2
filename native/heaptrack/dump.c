// JSON lines straight from a snapshot, like the report printers: no Python
// object per task or block, so dumping 10,000 blocks costs no MicroPython heap.
#include "dump.h"

// Task and heap names are user text: quote them as JSON strings.
static void print_json_string(const mp_print_t *print, const char *s) {
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

// mp_printf has no portable format for a pointer-wide decimal.
static void print_word(const mp_print_t *print, uintptr_t value) {
    char digits[24];
    char *p = digits + sizeof(digits);
    *--p = '\0';
    do {
        *--p = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    mp_print_str(print, p);
}

static void dump_heap(const mp_print_t *print, ht_task_t task, const ht_heap_stat_t *heap) {
    mp_print_str(print, "{\"type\":\"heap\",\"task\":");
    print_word(print, task);
    mp_print_str(print, ",\"name\":");
    print_json_string(print, heap->name);
    mp_printf(print, ",\"caps\":%u,\"size\":%u,\"current\":%u,\"peak\":%u,\"alloc_count\":%u",
        (unsigned)heap->caps, (unsigned)heap->size, (unsigned)heap->current_usage,
        (unsigned)heap->peak_usage, (unsigned)heap->alloc_count);
    if (heap->blocks != NULL) {
        mp_print_str(print, ",\"blocks\":[");
        for (size_t i = 0; i < heap->alloc_count; i++) {
            mp_print_str(print, i == 0 ? "[" : ",[");
            print_word(print, (uintptr_t)heap->blocks[i].address);
            mp_printf(print, ",%u]", (unsigned)heap->blocks[i].size);
        }
        mp_print_str(print, "]");
    }
    mp_print_str(print, "}\n");
}

void dump_tasks(const mp_print_t *print, const ht_snapshot_t *snap) {
    for (size_t i = 0; i < snap->task_count; i++) {
        const ht_task_stat_t *task = &snap->tasks[i];
        mp_print_str(print, "{\"type\":\"task\",\"name\":");
        print_json_string(print, task->name);
        mp_print_str(print, ",\"handle\":");
        print_word(print, task->handle);
        mp_printf(print, ",\"alive\":%s,\"current\":%u,\"peak\":%u,\"heap_count\":%u}\n",
            task->is_alive ? "true" : "false",
            (unsigned)task->overall_current_usage, (unsigned)task->overall_peak_usage,
            (unsigned)task->heap_count);
        for (size_t h = 0; h < task->heap_count; h++) {
            dump_heap(print, task->handle, &task->heap_stat[h]);
        }
    }
}
