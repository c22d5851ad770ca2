// The task port: starting a named task that runs a MicroPython function, and
// yielding. It needs MicroPython's thread machinery, so it lives apart from
// heap accounting (tracker.h). task_port_esp32.c implements it with the esp32
// port's FreeRTOS tasks, task_port_host.c with the unix port's threads, which
// the host's FreeRTOS stand-in makes tasks (boards/HOST/esp_idf/freertos.c).
//
// Errors: ht_task_create raises (nlr) when no task can be made: MemoryError
// through task_no_memory when no heap has room for the task's stack and TCB;
// nothing else here fails.
#ifndef HEAPTRACK_TASK_PORT_H
#define HEAPTRACK_TASK_PORT_H

#include <stddef.h>

#include "py/mpconfig.h"

#include "tracker.h"

/******************************************************************************/
// What a port implements.

// Starts a named task running entry(arg) with MicroPython's thread machinery.
// *stack_size is in bytes, 0 for the port's default, and is updated like
// mp_thread_create's. arg must be reachable by the GC (the port keeps it as a
// root). Returns the new task's handle. The name is copied (truncated to
// HT_TASK_NAME_LEN - 1 bytes, as FreeRTOS stores it). The caller must not
// let another thread be created until entry has begun running (see ht_yield):
// the esp32 port keeps the entry pointer in one static.
ht_task_t ht_task_create(const char *name, void *(*entry)(void *), void *arg, size_t *stack_size);

// Gives the CPU to other tasks for a moment without touching the GIL.
void ht_yield(void);

/******************************************************************************/
// What the port calls (task.c).

// Raises MemoryError: no heap has room for the stack (stack_size bytes, the
// size the port chose) and TCB of the task `name`.
MP_NORETURN void task_no_memory(const char *name, size_t stack_size);

#endif // HEAPTRACK_TASK_PORT_H
