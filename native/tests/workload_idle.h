// One workload run on both the host's virtual ESP32-C3 and the QEMU board:
// tasks that allocate, keep some blocks and delete themselves. On the QEMU
// board the idle task frees their stacks and TCBs (FreeRTOS's deferred
// deletion), on the host the ending thread does; ESP-IDF's task tracking must
// come to the same statistics either way. workload_idle_print() writes them
// as lines starting "idle-stats:", which make test compares between the two.
#pragma once

#include <stdbool.h>

#include "tracker.h"

#define WORKLOAD_IDLE_TASKS 8

typedef struct {
    unsigned tasks;                 // started
    unsigned deleted;               // records ESP-IDF marked DELETED
    ht_snapshot_t snap;             // every task's statistics once all were deleted
} workload_idle_result_t;

// Runs the workload; waits (deadline_ms at most) until ESP-IDF has marked every
// task DELETED, then takes the snapshot and frees what the tasks left.
// False if the deadline passed or a call failed.
bool workload_idle_run(workload_idle_result_t *result, unsigned deadline_ms);

// Prints the workload tasks' statistics (names, status, current and peak
// usage, per heap: name, current, peak, block count and sizes; no addresses),
// and releases the snapshot.
void workload_idle_print(workload_idle_result_t *result);
