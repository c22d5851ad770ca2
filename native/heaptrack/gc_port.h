// What reading MicroPython's GC heap (gc_heap.h) needs from the port: where
// the firmware's own static memory is, so that a word that may be a built-in
// type's address is read through only where no read can fault, and where the
// stacks of the other tasks running Python code are, which the holder search
// (gc_holders.h) looks at as the GC does. gc_port_esp32.c implements it with
// ESP-IDF's memory layout and FreeRTOS, gc_port_host.c with the host
// executable's loaded segments and the host shim's tasks.
#ifndef HEAPTRACK_GC_PORT_H
#define HEAPTRACK_GC_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tracker.h"

// Whether [p, p + len) lies in the firmware's own static memory (read-only data,
// data, bss), where MicroPython's built-in types live: reading there cannot
// fault. Asked only about addresses outside the GC heap (gc_heap.c looks there
// first, by the GC's own rules).
bool ht_gc_port_static(const void *p, size_t len);

// One task's stack: the words [lo, hi) that may hold references (from its saved
// stack pointer up, where the port knows it, else the whole stack).
typedef struct {
    uintptr_t lo, hi;
    ht_task_t task;
    char name[HT_TASK_NAME_LEN];
} ht_gc_stack_t;

// The stacks of the tasks other than the calling one that may hold references
// to GC objects (MicroPython's threads and heaptrack's tasks, which are
// blocked on the GIL while the caller holds it): up to max into stacks;
// returns how many there are (which may exceed max).
size_t ht_gc_port_stacks(ht_gc_stack_t *stacks, size_t max);

// The calling task: its handle and name (its stack bounds unused).
void ht_gc_port_current(ht_gc_stack_t *self);

#endif // HEAPTRACK_GC_PORT_H
