// Machine-readable statistics: JSON lines for host tools.
#ifndef HEAPTRACK_DUMP_H
#define HEAPTRACK_DUMP_H

#include "py/mpprint.h"
#include "tracker.h"

// One {"type":"task",...} line per task and one {"type":"heap",...} line per
// heap it used, with its blocks when the snapshot holds them.
void dump_tasks(const mp_print_t *print, const ht_snapshot_t *snap);

#endif // HEAPTRACK_DUMP_H
