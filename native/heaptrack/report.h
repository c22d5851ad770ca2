// Renders tracker statistics in ESP-IDF's heap_caps_print_* format.
#ifndef HEAPTRACK_REPORT_H
#define HEAPTRACK_REPORT_H

#include "py/mpprint.h"
#include "tracker.h"

// The table of heap_caps_print_all_task_stat_overview (nothing for no tasks).
void report_print_overview(const mp_print_t *print, const ht_snapshot_t *snap);

// The tree of heap_caps_print_all_task_stat; blocks are printed when the
// snapshot holds them.
void report_print_details(const mp_print_t *print, const ht_snapshot_t *snap);

// What a report of heaptrack's own says of a block after its ALLOC line.
typedef enum {
    REPORT_GC_AREA,   // an area of MicroPython's GC heap
    REPORT_STALE,     // Pre-scheduler's record of a block freed before any task
                      // ran, which ESP-IDF keeps: the heap has handed the
                      // address out again, and another task lists it
} report_mark_kind_t;

typedef struct {
    uintptr_t address;
    ht_task_t task;   // the task whose list holds it
    report_mark_kind_t kind;
} report_mark_t;

typedef struct {
    const report_mark_t *marks;
    size_t count;
} report_marks_t;

// The marks one report takes: the GC heap's areas (MICROPY_GC_SPLIT_HEAP_AUTO
// adds one per growth, a board has a handful) and Pre-scheduler's stale blocks.
#define REPORT_MAX_MARKS (32)

// One task's part of that tree (is_last_task: drawn as the tree's last
// branch); with_handle adds " (0x<handle>)" after the name, which ESP-IDF's
// report does not print; after max_blocks ALLOC lines of a heap (SIZE_MAX:
// all of them), one line says how many more there are. marks (NULL: none, as
// in ESP-IDF's report) names the blocks it lists.
void report_print_task(const mp_print_t *print, const ht_task_stat_t *task, bool is_last_task,
    bool with_handle, size_t max_blocks, const report_marks_t *marks);

#endif // HEAPTRACK_REPORT_H
