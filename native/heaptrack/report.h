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

// One task's part of that tree (is_last_task: drawn as the tree's last
// branch); with_handle adds " (0x<handle>)" after the name, which ESP-IDF's
// report does not print; after max_blocks ALLOC lines of a heap (SIZE_MAX:
// all of them), one line says how many more there are.
void report_print_task(const mp_print_t *print, const ht_task_stat_t *task, bool is_last_task,
    bool with_handle, size_t max_blocks);

#endif // HEAPTRACK_REPORT_H
