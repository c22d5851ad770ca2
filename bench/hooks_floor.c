// The least an exact tracker on ESP-IDF's heap hooks can cost: not a tracker,
// a lower bound for bench/bench_tracker.c to measure beside the real ones.
//
// Whatever else a tracker keeps, it must find a freed block among the live
// ones by its address, and it must do so safely on both cores. These hooks do
// only that, with the hooks tracker's own table (tracker_hooks.c): every live
// block's address and size in an open-addressed table of FLOOR_SLOTS slots
// (the hooks tracker's for the bench's build, so that both run at the same
// load), home slots from the same hash, linear probing, deletion by backward
// shift (no tombstones, no links), guarded by one portMUX critical section per
// hook, as a dual-core tracker needs. No task, no heap, no statistics, no
// order: what a real tracker adds to this is what it costs beyond the floor.
//
// It is linked into the bench's floor build (`bench_tracker_floor`), against
// ESP-IDF's heap with its hooks on and its task tracking off.
#include <stdint.h>
#include <stddef.h>

#include "esp_heap_caps.h"
#include "freertos/FreeRTOS.h"

#ifndef FLOOR_SLOTS
#error "FLOOR_SLOTS: the hooks tracker's table slots in the bench's build (native/tests/Makefile)"
#endif

size_t bench_floor_live(void);

typedef struct {
    uintptr_t address;   // 0: empty
    uint32_t size;
} floor_slot_t;

static floor_slot_t s_slots[FLOOR_SLOTS];
static size_t s_live;
static portMUX_TYPE s_lock = portMUX_INITIALIZER_UNLOCKED;

static inline unsigned home_of(uintptr_t address) {
    uint32_t h = (uint32_t)(address >> 2) * 0x9e3779b1u;
    return (unsigned)(((uint64_t)h * FLOOR_SLOTS) >> 32);
}

static inline unsigned after(unsigned i) {
    return i + 1 == FLOOR_SLOTS ? 0 : i + 1;
}

static inline unsigned distance(unsigned from, unsigned to) {
    return to >= from ? to - from : to + FLOOR_SLOTS - from;
}

void esp_heap_trace_alloc_hook(void *ptr, size_t size, uint32_t caps) {
    (void)size;
    (void)caps;
    uintptr_t address = (uintptr_t)ptr;
    // TLSF's size for the block, in the word before it (its low bits are flags).
    uint32_t block_size = (uint32_t)(((const size_t *)ptr)[-1] & ~(size_t)3);
    taskENTER_CRITICAL(&s_lock);
    unsigned i = home_of(address);
    while (s_slots[i].address != 0 && s_slots[i].address != address) {
        i = after(i);
    }
    s_live += s_slots[i].address == 0;
    s_slots[i].address = address;
    s_slots[i].size = block_size;
    taskEXIT_CRITICAL(&s_lock);
}

void esp_heap_trace_free_hook(void *ptr) {
    uintptr_t address = (uintptr_t)ptr;
    taskENTER_CRITICAL(&s_lock);
    unsigned i = home_of(address);
    while (s_slots[i].address != 0 && s_slots[i].address != address) {
        i = after(i);
    }
    if (s_slots[i].address != 0) {
        // Backward shift: pull each later entry of the run into the hole when
        // its home does not lie between the hole and it.
        unsigned hole = i;
        for (unsigned j = after(hole); s_slots[j].address != 0; j = after(j)) {
            if (distance(home_of(s_slots[j].address), j) >= distance(hole, j)) {
                s_slots[hole] = s_slots[j];
                hole = j;
            }
        }
        s_slots[hole].address = 0;
        s_live -= 1;
    }
    taskEXIT_CRITICAL(&s_lock);
}

// For the bench to check that the table kept every block.
size_t bench_floor_live(void) {
    taskENTER_CRITICAL(&s_lock);
    size_t live = s_live;
    taskEXIT_CRITICAL(&s_lock);
    return live;
}
