// What reading the GC heap needs from the port (gc_port.h), on the esp32 port:
// ESP-IDF's memory layout, and where a FreeRTOS task's stack lies
// (gc_port_freertos.h; the tasks themselves: gc_port_freertos.c).

#include "esp_memory_utils.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "esp_private/freertos_debug.h"

#include "gc_port.h"
#include "gc_port_freertos.h"

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
bool ht_gc_port_task_stack(const TaskStatus_t *status, uintptr_t *lo, uintptr_t *hi) {
    TaskSnapshot_t snap;
    if (vTaskGetSnapshot(status->xHandle, &snap) != pdTRUE) {
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
