// heaptrack.metrics(): the statistics in Prometheus's text exposition format
// (version 0.0.4), for a Prometheus server that scrapes the board
// (examples/metrics_server.py) or the host's exporter (mpheaptrack exporter).
#ifndef HEAPTRACK_METRICS_H
#define HEAPTRACK_METRICS_H

#include "py/mpprint.h"
#include "heapinfo.h"
#include "tracker.h"

// The most deleted tasks metrics() lists one by one (its max_deleted), and its
// default. Every alive task is listed; deleted ones are kept by ESP-IDF
// (CONFIG_HEAP_TRACK_DELETED_TASKS) and pile up as tasks come and go, so they
// are what bounds the number of series.
#define METRICS_MAX_DELETED_LIMIT (64)
#define METRICS_MAX_DELETED_DEFAULT (16)

// Everything one exposition shows, read before its first line is printed.
typedef struct {
    const ht_snapshot_t *snap;   // every task, without blocks; the tracker's records (snap->records)
    const ht_region_info_t *regions;
    size_t region_count;
    const heapinfo_gc_t *gc;
    size_t alloc_failures;   // ht_failures_newest(): since power-on or the last clear
    size_t max_deleted;   // at most METRICS_MAX_DELETED_LIMIT
} metrics_input_t;

// Prints the exposition: each metric family's HELP and TYPE lines, then its
// samples. Nothing is allocated: the listing rule for deleted tasks works on
// an array on the C stack.
void metrics_print(const mp_print_t *print, const metrics_input_t *in);

#endif // HEAPTRACK_METRICS_H
