// gc_port.h's task half on FreeRTOS (gc_port_freertos.c), the same on every
// board that runs it: the tasks come from uxTaskGetSystemState. Where a
// task's stack lies is the board's (ESP-IDF's snapshot of the TCB on a chip,
// the stack's heap block on the QEMU board).
#ifndef HEAPTRACK_GC_PORT_FREERTOS_H
#define HEAPTRACK_GC_PORT_FREERTOS_H

#include <stdbool.h>
#include <stdint.h>

#include "freertos/FreeRTOS.h"
#include "freertos/task.h"

// The words [*lo, *hi) of the task's stack that may hold references: from its
// saved stack pointer to its stack's end. False when the board cannot say
// with confidence (the task is then not looked at).
bool ht_gc_port_task_stack(const TaskStatus_t *status, uintptr_t *lo, uintptr_t *hi);

#endif // HEAPTRACK_GC_PORT_FREERTOS_H
