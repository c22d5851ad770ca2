// What reading the GC heap needs from the port (gc_port.h), on the QEMU board:
// QEMU's virt machine has RAM all through the program's flash and RAM areas
// (board.mk's --defsym for picolibc's linker script), and where a
// FreeRTOS-Kernel task's stack lies: the board's layer takes stacks from
// ESP-IDF's heap (idf_freertos.c: pvPortMalloc), so a stack's block says
// where it ends (the tasks themselves: native/heaptrack/gc_port_freertos.c).
#include "esp_heap_caps.h"

#include "gc_port.h"
#include "gc_port_freertos.h"

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
bool ht_gc_port_task_stack(const TaskStatus_t *status, uintptr_t *lo, uintptr_t *hi) {
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
