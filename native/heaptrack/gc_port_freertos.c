// The tasks whose stacks the holder search looks at (gc_port.h), on FreeRTOS:
// every task but the caller, its stack where the board says it lies
// (gc_port_freertos.h).
#include <string.h>

#include "gc_port.h"
#include "gc_port_freertos.h"

// The tasks looked at: a TaskStatus_t each, on the caller's stack.
#define HT_GC_PORT_TASKS (20)

size_t ht_gc_port_stacks(ht_gc_stack_t *stacks, size_t max) {
    TaskStatus_t status[HT_GC_PORT_TASKS];
    // 0 when there are more tasks than it has room for: then none are looked at.
    UBaseType_t count = uxTaskGetSystemState(status, HT_GC_PORT_TASKS, NULL);
    TaskHandle_t self = xTaskGetCurrentTaskHandle();
    size_t n = 0;
    for (UBaseType_t i = 0; i < count; i++) {
        ht_gc_stack_t s;
        if (status[i].xHandle == self || !ht_gc_port_task_stack(&status[i], &s.lo, &s.hi)) {
            continue;
        }
        if (n < max) {
            s.task = (ht_task_t)status[i].xHandle;
            strncpy(s.name, status[i].pcTaskName, sizeof(s.name) - 1);
            s.name[sizeof(s.name) - 1] = '\0';
            stacks[n] = s;
        }
        n++;
    }
    return n;
}

void ht_gc_port_current(ht_gc_stack_t *self) {
    TaskHandle_t task = xTaskGetCurrentTaskHandle();
    const char *name = pcTaskGetName(task);
    memset(self, 0, sizeof(*self));
    self->task = (ht_task_t)task;
    strncpy(self->name, name != NULL ? name : "", sizeof(self->name) - 1);
}
