// ESP-IDF's report layout, written through mp_print so the output reaches the
// REPL's wire (on native-USB boards ESP-IDF's own stdout is another wire).
// Everything is printed straight from the statistics: no Python objects are
// made, so a report of any length needs no MicroPython heap. Sizes print at
// their full width (size_t), never cut to 32 bits.
#include "report.h"

static const char overview_top[] =
    "┌────────────────────┬─────────┬──────────────────────┬───────────────────┬─────────────────┐\n"
    "│ TASK               │ STATUS  │ CURRENT MEMORY USAGE │ PEAK MEMORY USAGE │ TOTAL HEAP USED │\n"
    "├────────────────────┼─────────┼──────────────────────┼───────────────────┼─────────────────┤\n";
static const char overview_bottom[] =
    "└────────────────────┴─────────┴──────────────────────┴───────────────────┴─────────────────┘\n";

// After a report, when the tracker had to leave allocations out (the hooks
// tracker's tables were full): how many, so that nobody reads the figures as
// complete. ESP-IDF's tracker never has any; then nothing is printed.
// Likewise the deleted tasks whose records were reused for new tasks.
static void print_untracked(const mp_print_t *print, const ht_snapshot_t *snap) {
    if (snap->untracked != 0) {
        mp_printf(print, "heaptrack: %lu allocation%s not in these figures: the tracker's tables were full\n",
            (unsigned long)snap->untracked, snap->untracked == 1 ? " is" : "s are");
    }
    if (snap->dropped_tasks != 0) {
        mp_printf(print, "heaptrack: %lu deleted task%s not in these figures: their records were reused "
            "for new tasks, the tracker's table of tasks being full\n",
            (unsigned long)snap->dropped_tasks, snap->dropped_tasks == 1 ? " is" : "s are");
    }
}

void report_print_overview(const mp_print_t *print, const ht_snapshot_t *snap) {
    if (snap->task_count == 0) {
        print_untracked(print, snap);
        return;
    }
    mp_print_str(print, overview_top);
    for (size_t i = 0; i < snap->task_count; i++) {
        const ht_task_stat_t *task = &snap->tasks[i];
        mp_printf(print, "│ %18s │ %7s │ %20lu │ %17lu │ %15lu │\n",
            task->name,
            task->is_alive ? "ALIVE  " : "DELETED",
            (unsigned long)task->overall_current_usage,
            (unsigned long)task->overall_peak_usage,
            (unsigned long)task->heap_count);
    }
    mp_print_str(print, overview_bottom);
    print_untracked(print, snap);
}

// ESP-IDF's integer percentage, without overflowing for large heaps.
static unsigned long percent_of(size_t part, size_t whole) {
    return whole == 0 ? 0 : (unsigned long)(((unsigned long long)part * 100) / whole);
}

static void print_heap(const mp_print_t *print, const ht_heap_stat_t *heap,
    const char *task_rail, bool is_last_heap, size_t max_blocks) {
    const char *heap_rail = is_last_heap ? " " : "│";
    mp_printf(print, "%s    %s HEAP: %s, CAPS: 0x%08lx, SIZE: %lu, USAGE: CURRENT %lu (%lu%%), PEAK %lu (%lu%%), ALLOC COUNT: %lu\n",
        task_rail,
        is_last_heap ? "└" : "├",
        heap->name,
        (unsigned long)heap->caps,
        (unsigned long)heap->size,
        (unsigned long)heap->current_usage,
        percent_of(heap->current_usage, heap->size),
        (unsigned long)heap->peak_usage,
        percent_of(heap->peak_usage, heap->size),
        (unsigned long)heap->alloc_count);
    if (heap->blocks == NULL) {
        return;
    }
    for (size_t i = 0; i < heap->alloc_count; i++) {
        if (i == max_blocks) {
            mp_printf(print, "%s    %s    ├ ... %lu more blocks\n", task_rail, heap_rail,
                (unsigned long)(heap->alloc_count - i));
            break;
        }
        // ESP-IDF draws every ALLOC line with a tee, the last one included.
        mp_printf(print, "%s    %s    ├ ALLOC 0x%p, SIZE %lu\n",
            task_rail, heap_rail, heap->blocks[i].address, (unsigned long)heap->blocks[i].size);
    }
}

void report_print_task(const mp_print_t *print, const ht_task_stat_t *task, bool is_last_task,
    bool with_handle, size_t max_blocks) {
    mp_printf(print, "%s %s: %s",
        is_last_task ? "└" : "├",
        task->is_alive ? "ALIVE" : "DELETED",
        task->name);
    if (with_handle) {
        mp_printf(print, " (0x%08lx)", (unsigned long)task->handle);
    }
    mp_printf(print, ", CURRENT MEMORY USAGE %lu, PEAK MEMORY USAGE %lu, TOTAL HEAP USED %lu:\n",
        (unsigned long)task->overall_current_usage,
        (unsigned long)task->overall_peak_usage,
        (unsigned long)task->heap_count);
    for (size_t h = 0; h < task->heap_count; h++) {
        print_heap(print, &task->heap_stat[h], is_last_task ? " " : "│", h + 1 == task->heap_count,
            max_blocks);
    }
}

void report_print_details(const mp_print_t *print, const ht_snapshot_t *snap) {
    for (size_t i = 0; i < snap->task_count; i++) {
        report_print_task(print, &snap->tasks[i], i + 1 == snap->task_count, false, SIZE_MAX);
    }
    print_untracked(print, snap);
}
