// What reading the GC heap needs from the port (gc_port.h), on the QEMU board:
// QEMU's virt machine has RAM all through the program's flash and RAM areas
// (board.mk's --defsym for picolibc's linker script), and FreeRTOS-Kernel's
// tasks, whose stacks the board's layer takes from ESP-IDF's heap
// (idf_freertos.c: pvPortMalloc), so a stack's block says where it ends.
#include <string.h>

#include "FreeRTOS.h"
#include "task.h"
#include "esp_heap_caps.h"

#include "gc_port.h"

// The tasks whose stacks the holder search can look at: a TaskStatus_t each,
// on the caller's stack (as gc_port_esp32.c).
#define HT_GC_PORT_TASKS (20)

// picolibc's linker script's areas, as board.mk places them: a symbol's
// address is its value.
extern char __flash[], __flash_size[], __ram[], __ram_size[];

static bool within(uintptr_t start, uintptr_t end, uintptr_t lo, uintptr_t size) {
    return start >= lo && end <= lo + size;
}

bool ht_gc_port_static(const void *p, size_t len) {
    uintptr_t start = (uintptr_t)p;
    uintptr_t end = start + len;
    if (len == 0 || end < start) {
        return false;
    }
    return within(start, end, (uintptr_t)__flash, (uintptr_t)__flash_size)
           || within(start, end, (uintptr_t)__ram, (uintptr_t)__ram_size);
}

// From the task's saved stack pointer (a TCB's first word, which FreeRTOS
// writes at every switch) to the end of its stack's block.
static bool stack_of(const TaskStatus_t *status, uintptr_t *lo, uintptr_t *hi) {
    uintptr_t base = (uintptr_t)status->pxStackBase;
    uintptr_t top = *(volatile uintptr_t *)status->xHandle;
    if (base == 0) {
        return false;
    }
    uintptr_t end = base + heap_caps_get_allocated_size(status->pxStackBase);
    if (top < base || top >= end) {
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
        if (status[i].xHandle == self || !stack_of(&status[i], &s.lo, &s.hi)) {
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
