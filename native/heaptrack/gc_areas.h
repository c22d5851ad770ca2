// How MicroPython's GC heap takes ESP-IDF's heap: every area MicroPython takes
// for its GC heap (at boot, then each time it grows, MICROPY_GC_SPLIT_HEAP_AUTO)
// and gives back (an area a collection emptied; at a soft reset all but the
// first), recorded as it happens: when, how much, where, in which task's
// allocation, ESP-IDF's largest free internal block before and after, and the
// GC heap's size after. Pure C, no MicroPython, like the trackers: the same on
// both trackers and every board.
//
// MicroPython takes and gives back its areas with MP_PLAT_ALLOC_HEAP and
// MP_PLAT_FREE_HEAP, port configuration macros (py/mpconfig.h's default is the
// C library's malloc and free, ESP-IDF's heap_caps_malloc_default on a board):
// every heaptrack board sets them to these functions (boards/heaptrack_board.h,
// the virtual board's mpconfigvariant.h), which do what the default does and
// record it. MicroPython itself is unchanged.
//
// Build-time knobs: HT_GC_EVENTS (events kept, the newest; 16), HT_GC_AREAS
// (areas whose sizes are remembered until given back; 16). 60 bytes of RAM an event.
#ifndef HEAPTRACK_GC_AREAS_H
#define HEAPTRACK_GC_AREAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tracker.h"

#ifndef HT_GC_EVENTS
#define HT_GC_EVENTS 16
#endif
#ifndef HT_GC_AREAS
#define HT_GC_AREAS 16
#endif

// MP_PLAT_ALLOC_HEAP and MP_PLAT_FREE_HEAP: the chip's malloc and free, recorded.
void *ht_gc_area_alloc(size_t size);
void ht_gc_area_free(void *area);

typedef struct {
    uint32_t number;            // the how-many-th event since power-on: 1, 2, ...
    uint32_t ticks;             // FreeRTOS ticks since start-up
    bool grew;                  // an area taken (else given back)
    uintptr_t address;          // the area's block in ESP-IDF's heap
    size_t size;                // its bytes
    const char *heap;           // the memory type of the ESP-IDF heap it is in ("RAM", "SPIRAM")
    ht_task_t task;             // the task whose allocation (or collection) it was
    char task_name[HT_TASK_NAME_LEN];
    size_t largest_before;      // ESP-IDF's largest free internal block before
    size_t largest_after;       // ... and after (as heap_info() counts it)
    size_t gc_areas;            // the GC heap's areas after
    size_t gc_bytes;            // their bytes after (of ESP-IDF's heap)
} ht_gc_event_t;

// Milliseconds since start-up at an event.
uint64_t ht_gc_event_ms(const ht_gc_event_t *event);

// Up to max events into out, oldest first; *count gets how many were copied,
// *total how many there were since power-on, *lost how many of those are no
// longer kept. Task context.
ht_err_t ht_gc_events_copy(ht_gc_event_t *out, size_t max, size_t *count, uint32_t *total, uint32_t *lost);

// The caps whose largest free block the events record: internal, byte-addressable
// RAM, what TLS, Wi-Fi and sockets need.
#define HT_GC_EVENT_CAPS (HT_CAP_INTERNAL | HT_CAP_8BIT)

#endif // HEAPTRACK_GC_AREAS_H
