// ESP-IDF's report layout, written through mp_print so the output reaches the
// REPL's wire (on native-USB boards ESP-IDF's own stdout is another wire).
// Everything is printed straight from the snapshot: no Python objects are made,
// so a report of any length needs no MicroPython heap.
#include "report.h"

static const char overview_top[] =
    "┌────────────────────┬─────────┬──────────────────────┬───────────────────┬─────────────────┐\n"
    "│ TASK               │ STATUS  │ CURRENT MEMORY USAGE │ PEAK MEMORY USAGE │ TOTAL HEAP USED │\n"
    "├────────────────────┼─────────┼──────────────────────┼───────────────────┼─────────────────┤\n";
static const char overview_bottom[] =
    "└────────────────────┴─────────┴──────────────────────┴───────────────────┴─────────────────┘\n";

void report_print_overview(const mp_print_t *print, const ht_snapshot_t *snap) {
    if (snap->task_count == 0) {
        return;
    }
    mp_print_str(print, overview_top);
    for (size_t i = 0; i < snap->task_count; i++) {
        const ht_task_stat_t *task = &snap->tasks[i];
        mp_printf(print, "│ %18s │ %7s │ %20u │ %17u │ %15u │\n",
            task->name,
            task->is_alive ? "ALIVE  " : "DELETED",
            (unsigned)task->overall_current_usage,
            (unsigned)task->overall_peak_usage,
            (unsigned)task->heap_count);
    }
    mp_print_str(print, overview_bottom);
}

static unsigned percent_of(size_t part, size_t whole) {
    return whole == 0 ? 0 : (unsigned)((part * 100) / whole);
}

static void print_heap(const mp_print_t *print, const ht_heap_stat_t *heap,
    const char *task_rail, bool is_last_heap) {
    const char *heap_rail = is_last_heap ? " " : "│";
    mp_printf(print, "%s    %s HEAP: %s, CAPS: 0x%08x, SIZE: %u, USAGE: CURRENT %u (%u%%), PEAK %u (%u%%), ALLOC COUNT: %u\n",
        task_rail,
        is_last_heap ? "└" : "├",
        heap->name,
        (unsigned)heap->caps,
        (unsigned)heap->size,
        (unsigned)heap->current_usage,
        percent_of(heap->current_usage, heap->size),
        (unsigned)heap->peak_usage,
        percent_of(heap->peak_usage, heap->size),
        (unsigned)heap->alloc_count);
    if (heap->blocks == NULL) {
        return;
    }
    for (size_t i = 0; i < heap->alloc_count; i++) {
        // ESP-IDF draws every ALLOC line with a tee, the last one included.
        mp_printf(print, "%s    %s    ├ ALLOC 0x%p, SIZE %u\n",
            task_rail, heap_rail, heap->blocks[i].address, (unsigned)heap->blocks[i].size);
    }
}

void report_print_details(const mp_print_t *print, const ht_snapshot_t *snap) {
    for (size_t i = 0; i < snap->task_count; i++) {
        const ht_task_stat_t *task = &snap->tasks[i];
        bool is_last_task = i + 1 == snap->task_count;
        mp_printf(print, "%s %s: %s, CURRENT MEMORY USAGE %u, PEAK MEMORY USAGE %u, TOTAL HEAP USED %u:\n",
            is_last_task ? "└" : "├",
            task->is_alive ? "ALIVE" : "DELETED",
            task->name,
            (unsigned)task->overall_current_usage,
            (unsigned)task->overall_peak_usage,
            (unsigned)task->heap_count);
        for (size_t h = 0; h < task->heap_count; h++) {
            print_heap(print, &task->heap_stat[h], is_last_task ? " " : "│", h + 1 == task->heap_count);
        }
    }
}
