// TaskStat and HeapStat: a task's statistics as Python sees them.
//
// A TaskStat is a one-block view of a record in ESP-IDF's task_stat_t layout
// (tracker.h's ht_task_stat_t), its heap_stat_t array and the blocks of every
// heap, so a snapshot costs one small object and one record per task, and the
// report renderers print a TaskStat exactly as they print a live snapshot. The
// records of one task_stats() call share GC blocks of up to 8 KB (stats.c says
// why): a TaskStat kept keeps the records beside it in its block. Python objects for the
// fields are made only when a field is read; a HeapStat is a view of one heap
// of its TaskStat. Both behave like named tuples: fields by name and by
// index, len, iteration, equality and hashing by value, and a repr with
// caps, handles and addresses in hex as ESP-IDF's reports print them.
#ifndef HEAPTRACK_STATS_H
#define HEAPTRACK_STATS_H

#include "py/obj.h"
#include "tracker.h"

extern const mp_obj_type_t stats_task_type;
extern const mp_obj_type_t stats_heap_type;

// A TaskStat holding a copy of *task, its blocks included when it has them.
mp_obj_t stats_new_task(const ht_task_stat_t *task);

// A list of TaskStats holding copies of the count tasks, in time linear in
// their count and size.
mp_obj_t stats_new_tasks(const ht_task_stat_t *tasks, size_t count);

// The statistics inside a TaskStat (TypeError for any other object); valid
// for as long as the object is.
const ht_task_stat_t *stats_task_get(mp_obj_t obj);

#endif // HEAPTRACK_STATS_H
