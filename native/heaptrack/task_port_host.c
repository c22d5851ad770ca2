// The task port (task_port.h) on the host firmware: a MicroPython thread
// (the unix port's mp_thread_create) that the host's FreeRTOS stand-in turns
// into a task named `name`, with its TCB made by this, the creating, task
// (boards/HOST/esp_idf/freertos.c), as the esp32 port's xTaskCreate does.
#include <sched.h>

#include "py/runtime.h"
#include "py/mpthread.h"

#include "host_shim.h"
#include "task_port.h"

ht_task_t ht_task_create(const char *name, void *(*entry)(void *), void *arg, size_t *stack_size) {
    host_task_set_next_name(name);
    // Raises OSError if no thread (or no TCB) can be made.
    mp_thread_create(entry, arg, stack_size);
    return (ht_task_t)host_task_last_created();
}

void ht_yield(void) {
    sched_yield();
}
