// ESP-IDF's report layout, written through mp_print so the output reaches the
// REPL's wire (on native-USB boards ESP-IDF's own stdout is another wire).
// Everything is printed straight from the statistics: no Python objects are
// made, so a report of any length needs no MicroPython heap. Sizes print at
// their full width (size_t), never cut to 32 bits.
#include "report.h"
#include "failures.h"

static const char overview_top[] =
    "┌────────────────────┬─────────┬──────────────────────┬───────────────────┬─────────────────┐\n"
    "│ TASK               │ STATUS  │ CURRENT MEMORY USAGE │ PEAK MEMORY USAGE │ TOTAL HEAP USED │\n"
    "├────────────────────┼─────────┼──────────────────────┼───────────────────┼─────────────────┤\n";
static const char overview_bottom[] =
    "└────────────────────┴─────────┴──────────────────────┴───────────────────┴─────────────────┘\n";

// The records running out, as a phrase.
static void print_records_low(const mp_print_t *print, const ht_records_t *records) {
    if (records->heap_start != 0) {
        mp_printf(print, "task records take %lu bytes of ESP-IDF's biggest heap (%lu tasks, %lu deleted), "
            "kept until a hard reset: room for about %lu more tasks",
            (unsigned long)records->bytes, (unsigned long)records->tasks, (unsigned long)records->deleted,
            (unsigned long)records->tasks_left);
    } else {
        mp_printf(print, "the table of task records is nearly full (%lu tasks, %lu deleted): room for about "
            "%lu more tasks", (unsigned long)records->tasks, (unsigned long)records->deleted,
            (unsigned long)records->tasks_left);
    }
}

// Before a report, one line when its figures can no longer be trusted
// (allocations the tracker could not record, and why; tasks whose figures do
// not add up; deleted tasks whose records went to new tasks), or when the
// records are running out. Nothing otherwise, so reports stay ESP-IDF's, byte
// for byte.
static void print_warning(const mp_print_t *print, const ht_snapshot_t *snap) {
    bool incomplete = snap->untracked != 0 || snap->drifted != 0 || snap->dropped_tasks != 0;
    if (!incomplete && !snap->records.low) {
        return;
    }
    if (!incomplete) {
        mp_print_str(print, "heaptrack: warning: ");
        print_records_low(print, &snap->records);
        mp_print_str(print, "\n");
        return;
    }
    mp_print_str(print, "heaptrack: warning: these figures are incomplete:");
    const char *sep = " ";
    if (snap->untracked != 0) {
        mp_printf(print, "%s%lu allocation%s could not be recorded (%s)", sep,
            (unsigned long)snap->untracked, snap->untracked == 1 ? "" : "s", ht_untracked_cause());
        sep = "; ";
    }
    if (snap->drifted != 0) {
        mp_printf(print, "%sthe figures of %lu task%s do not add up (records lost)", sep,
            (unsigned long)snap->drifted, snap->drifted == 1 ? "" : "s");
        sep = "; ";
    }
    if (snap->dropped_tasks != 0) {
        mp_printf(print, "%s%lu deleted task%s left out (%s records went to new tasks: the table of tasks was full)",
            sep, (unsigned long)snap->dropped_tasks, snap->dropped_tasks == 1 ? "" : "s",
            snap->dropped_tasks == 1 ? "its" : "their");
    }
    if (snap->records.low) {
        mp_print_str(print, "; ");
        print_records_low(print, &snap->records);
    }
    mp_print_str(print, "\n");
}

// Before a report, once: one line when ESP-IDF's heap failed allocations that
// heaptrack has not told of yet (heaptrack.failures() explains each).
static void print_new_failures(const mp_print_t *print) {
    ht_failure_t newest;
    uint32_t total = ht_failures_newest(&newest);
    uint32_t told = ht_failures_reported();
    if (total <= told) {
        return;
    }
    uint32_t untold = total - told;
    mp_printf(print, "heaptrack: %lu ESP-IDF heap allocation%s failed (the newest: %lu bytes with caps 0x%08lx "
        "in %s, %s); heaptrack.failures() explains %s\n",
        (unsigned long)untold, untold == 1 ? "" : "s", (unsigned long)newest.size, (unsigned long)newest.caps,
        newest.task == 0 ? "Pre-scheduler" : newest.task_name, newest.function != NULL ? newest.function : "?",
        untold == 1 ? "it" : "them");
    ht_failures_set_reported(total);
}

static void print_notes(const mp_print_t *print, const ht_snapshot_t *snap) {
    print_new_failures(print);
    print_warning(print, snap);
}

void report_print_overview(const mp_print_t *print, const ht_snapshot_t *snap) {
    print_notes(print, snap);
    if (snap->task_count == 0) {
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
}

// ESP-IDF's integer percentage, without overflowing for large heaps.
static unsigned long percent_of(size_t part, size_t whole) {
    return whole == 0 ? 0 : (unsigned long)(((unsigned long long)part * 100) / whole);
}

static const char *const mark_text[] = {
    [REPORT_GC_AREA] = " (MicroPython GC heap area)",
    [REPORT_STALE] = " (start-up block, freed since: ESP-IDF keeps listing it; the address is in use again)",
};

static const char *mark_of(const report_marks_t *marks, ht_task_t task, const void *address) {
    for (size_t i = 0; marks != NULL && i < marks->count; i++) {
        if (marks->marks[i].address == (uintptr_t)address && marks->marks[i].task == task) {
            return mark_text[marks->marks[i].kind];
        }
    }
    return "";
}

static void print_heap(const mp_print_t *print, const ht_heap_stat_t *heap, ht_task_t task,
    const char *task_rail, bool is_last_heap, size_t max_blocks, const report_marks_t *marks) {
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
    // ESP-IDF lists the blocks it holds records of, which its count may exceed.
    size_t listed = ht_heap_block_count(heap);
    for (size_t i = 0; i < listed; i++) {
        if (i == max_blocks) {
            mp_printf(print, "%s    %s    ├ ... %lu more blocks\n", task_rail, heap_rail,
                (unsigned long)(listed - i));
            break;
        }
        // ESP-IDF draws every ALLOC line with a tee, the last one included.
        mp_printf(print, "%s    %s    ├ ALLOC 0x%p, SIZE %lu%s\n",
            task_rail, heap_rail, heap->blocks[i].address, (unsigned long)heap->blocks[i].size,
            mark_of(marks, task, heap->blocks[i].address));
    }
}

void report_print_task(const mp_print_t *print, const ht_task_stat_t *task, bool is_last_task,
    bool with_handle, size_t max_blocks, const report_marks_t *marks) {
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
        print_heap(print, &task->heap_stat[h], task->handle, is_last_task ? " " : "│", h + 1 == task->heap_count,
            max_blocks, marks);
    }
}

void report_print_details(const mp_print_t *print, const ht_snapshot_t *snap) {
    print_notes(print, snap);
    for (size_t i = 0; i < snap->task_count; i++) {
        report_print_task(print, &snap->tasks[i], i + 1 == snap->task_count, false, SIZE_MAX, NULL);
    }
}
