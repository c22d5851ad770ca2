// What reading the GC heap needs from the port (gc_port.h), on the esp32 port:
// ESP-IDF's memory layout and FreeRTOS's tasks.
#include <string.h>

#include "esp_memory_utils.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "esp_private/freertos_debug.h"

#include "gc_port.h"

// The tasks whose stacks the holder search can look at (the firmware's own,
// MicroPython's threads and heaptrack's tasks). A FreeRTOS TaskStatus_t each,
// on the caller's stack.
#define HT_GC_PORT_TASKS (20)

// The application's read-only data as ESP-IDF's linker scripts lay it out
// (sections.ld: the built-in types are const, so they are there); only the
// pages the application maps there exist, which is why a read outside faults.
extern char _rodata_reserved_start;
extern char _rodata_reserved_end;

bool ht_gc_port_static(const void *p, size_t len) {
    uintptr_t start = (uintptr_t)p;
    uintptr_t end = start + len;
    if (len == 0 || end < start) {
        return false;
    }
    if (start >= (uintptr_t)&_rodata_reserved_start && end <= (uintptr_t)&_rodata_reserved_end) {
        return true;
    }
    // Internal data RAM (data, bss, heaps): all of it is there to read.
    return esp_ptr_in_dram(p) && esp_ptr_in_dram((const char *)p + len - 1);
}

// Where a task's saved registers and frames are: from its top of stack (saved
// at its last switch) to its stack's end. FreeRTOS's snapshot reads the TCB
// without a lock, so what it says is checked: a stack of task memory, of a
// task's size.
static bool stack_of(TaskHandle_t task, uintptr_t *lo, uintptr_t *hi) {
    TaskSnapshot_t snap;
    if (vTaskGetSnapshot(task, &snap) != pdTRUE) {
        return false;
    }
    uintptr_t top = (uintptr_t)snap.pxTopOfStack;
    uintptr_t end = (uintptr_t)snap.pxEndOfStack;
    if (top >= end || end - top > 256 * 1024
        || !(esp_ptr_in_dram(snap.pxTopOfStack) || esp_ptr_external_ram(snap.pxTopOfStack))) {
        return false;
    }
    *lo = top;
    *hi = end;
    return true;
}

size_t ht_gc_port_stacks(ht_gc_stack_t *stacks, size_t max) {
    TaskStatus_t status[HT_GC_PORT_TASKS];
    // 0 when there are more tasks than it has room for: then none are looked at.
    UBaseType_t count = uxTaskGetSystemState(status, HT_GC_PORT_TASKS, NULL);
    TaskHandle_t self = xTaskGetCurrentTaskHandle();
    size_t n = 0;
    for (UBaseType_t i = 0; i < count; i++) {
        ht_gc_stack_t s;
        if (status[i].xHandle == self || !stack_of(status[i].xHandle, &s.lo, &s.hi)) {
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
