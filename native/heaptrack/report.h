// Renders tracker snapshots in ESP-IDF's heap_caps_print_* format.
#ifndef HEAPTRACK_REPORT_H
#define HEAPTRACK_REPORT_H

#include "py/mpprint.h"
#include "tracker.h"

// The table of heap_caps_print_all_task_stat_overview (nothing for no tasks).
void report_print_overview(const mp_print_t *print, const ht_snapshot_t *snap);

// The tree of heap_caps_print_all_task_stat; blocks are printed when the
// snapshot holds them.
void report_print_details(const mp_print_t *print, const ht_snapshot_t *snap);

#endif // HEAPTRACK_REPORT_H
