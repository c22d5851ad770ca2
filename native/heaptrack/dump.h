// Machine-readable statistics: JSON lines for host tools (heaptrack.dump(),
// read back by heaptrack_host.dump) and for Snapshot.dump() files.
#ifndef HEAPTRACK_DUMP_H
#define HEAPTRACK_DUMP_H

#include "py/mpprint.h"
#include "heapinfo.h"
#include "tracker.h"

// The format version in the begin line.
#define DUMP_FORMAT_VERSION (1)

// One {"type":"task",...} line and one {"type":"heap",...} line per heap it
// used, with its blocks when the statistics hold them.
void dump_task(const mp_print_t *print, const ht_task_stat_t *task);

// dump_task for every task of a snapshot.
void dump_tasks(const mp_print_t *print, const ht_snapshot_t *snap);

// The whole of heaptrack.dump(): begin, region, gc (with its areas in
// ESP-IDF's heap), task and heap lines, end. Everything is read before the
// first line is printed.
void dump_all(const mp_print_t *print, const ht_snapshot_t *snap, mp_uint_t ticks_ms,
    const ht_region_info_t *regions, size_t region_count, const heapinfo_gc_t *gc,
    const heapinfo_gc_area_t *areas, size_t area_count);

// A JSON string.
void dump_json_string(const mp_print_t *print, const char *s);

#endif // HEAPTRACK_DUMP_H
