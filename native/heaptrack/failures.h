// Failed ESP-IDF allocations: every heap_caps_* call that could not allocate,
// as ESP-IDF reports it to heap_caps_register_failed_alloc_callback(), kept in
// a ring with the heaps' figures of that moment, so that "why did it fail?"
// can be answered afterwards. Pure C, no MicroPython, like the trackers; the
// same on both trackers and on every board.
//
// Recording starts before app_main (a constructor registers the callback) and
// survives soft resets, as the statistics do; ht_failures_clear() forgets.
//
// ESP-IDF calls the callback inside the failed call, which may run in an
// interrupt handler while the flash cache is disabled: the recording is in IRAM
// where ESP-IDF's heap is and reaches no flash (make check-idf checks it). The
// heaps' figures need flash code: they are taken in task context only, and a
// failure in an interrupt handler is recorded without them.
//
// Build-time knobs: HT_FAILURES (failures kept, the newest; 8),
// HT_FAILURE_HEAPS (heaps whose figures one failure keeps; 6).
#ifndef HEAPTRACK_FAILURES_H
#define HEAPTRACK_FAILURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tracker.h"

#ifndef HT_FAILURES
#define HT_FAILURES 8
#endif
#ifndef HT_FAILURE_HEAPS
#define HT_FAILURE_HEAPS 6
#endif

// One heap that has the failed call's caps, at that moment.
typedef struct {
    const char *name;           // its memory type's name, as ESP-IDF's reports name it
    uintptr_t start;
    uint32_t caps;              // every capability of the heap
    size_t total;               // its size
    size_t free;                // free bytes (less task tracking's owner word, as heap_caps_get_info)
    size_t largest;             // its largest free block (the same)
    size_t gc;                  // bytes of it MicroPython's GC heap held (SIZE_MAX: not known)
} ht_failure_heap_t;

typedef struct {
    uint32_t number;            // the how-many-th failure since power-on: 1, 2, ...
    uint32_t ticks;             // FreeRTOS ticks since start-up, as recorded
    uint64_t ms;                // the same in milliseconds (ht_failures_copy fills it)
    ht_task_t task;             // the calling task (0: before the scheduler ran)
    char task_name[HT_TASK_NAME_LEN];
    size_t size;                // what was asked for
    uint32_t caps;              // with these caps
    const char *function;       // the ESP-IDF call that failed, as ESP-IDF names it
    bool in_isr;                // in an interrupt handler: no heaps' figures
    size_t heap_count;          // heaps with those caps then (heaps[] holds the first HT_FAILURE_HEAPS)
    ht_failure_heap_t heaps[HT_FAILURE_HEAPS];
    size_t gc_total;            // the size of MicroPython's GC heap then (SIZE_MAX: not known)
} ht_failure_t;

// What the ring holds: up to `max` failures into `out`, oldest first; *count
// gets how many were copied, *total how many failures there were since
// power-on (or the last clear), *lost how many of those the ring no longer
// holds. Task context.
ht_err_t ht_failures_copy(ht_failure_t *out, size_t max, size_t *count, uint32_t *total, uint32_t *lost);

// How many failures there were since power-on (or the last clear), and into
// *newest (unless NULL) the newest of them when there was one. Task context.
uint32_t ht_failures_newest(ht_failure_t *newest);

// Forgets every failure recorded (the count starts again). Task context.
ht_err_t ht_failures_clear(void);

// The number of the newest failure heaptrack has told the user of (a report's
// line, or heaptrack.malloc's own MemoryError), so that each is told once; it
// survives soft resets, as the ring does.
uint32_t ht_failures_reported(void);
void ht_failures_set_reported(uint32_t number);

// How many bytes of MicroPython's GC heap lie in [start, end): asked at each
// failure in task context, inside the failed call, so it must allocate
// nothing, lock nothing and raise nothing (the module sets it; NULL: not known).
typedef size_t (*ht_gc_probe_t)(uintptr_t start, uintptr_t end);
void ht_failures_set_gc_probe(ht_gc_probe_t probe);

// Registers the callback (a constructor does, before app_main; again is harmless).
void ht_failures_start(void);

#endif // HEAPTRACK_FAILURES_H
