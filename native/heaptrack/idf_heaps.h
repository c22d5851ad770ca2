// ESP-IDF's heaps as both trackers (tracker_idf.c, tracker_hooks.c) and the
// failure record read them, in idf_heaps.c: its registry of heaps
// (heap_private.h), the chip's memory layout (heap_memory_layout.h), memory
// taken below heap_caps_malloc for copies of the statistics, and tracker.h's
// calls that read only these (ht_current_task, ht_caps_refused,
// ht_region_info). What the trackers share beyond ESP-IDF's heap is in
// tracker_private.h. No MicroPython header, like the trackers, so that
// `make check-idf` compiles it against ESP-IDF's headers alone.
#ifndef HEAPTRACK_IDF_HEAPS_H
#define HEAPTRACK_IDF_HEAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sdkconfig.h"
#include "heap_memory_layout.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"

#include "tracker.h"

// With ESP-IDF's task tracking on, every block carries its owner's handle
// before the caller's bytes: ESP-IDF counts it in a block's size, and
// heap_caps_get_free_size() and friends count it as not free.
#if CONFIG_HEAP_TASK_TRACKING
#define HT_BLOCK_OWNER_SIZE sizeof(TaskHandle_t)
#else
#define HT_BLOCK_OWNER_SIZE ((size_t)0)
#endif

// False in an interrupt handler or with interrupts masked on this core
// (machine.disable_irq()), where heaptrack refuses to run on every build.
// Inline: heaptrack.malloc and free ask it on every call.
static inline bool ht_idf_task_context(void) {
    return !xPortInIsrContext() && xPortCanYield();
}

// The SoC memory type of the chip's layout region holding address, or NULL.
const soc_memory_type_desc_t *ht_idf_memory_type(uintptr_t address);

// Every capability of a memory type, whatever its priority.
uint32_t ht_idf_type_caps(const soc_memory_type_desc_t *type);

// One of ESP-IDF's registered heaps: its bounds, every capability
// heap_caps_malloc matches it by, and its multi_heap handle.
typedef struct {
    uintptr_t start, end;
    uint32_t caps;
    void *handle;   // multi_heap_handle_t
} ht_idf_heap_t;

// ESP-IDF's registered heaps in its own order (its registry, as
// ht_region_info reads it): up to max into heaps; returns how many there are.
size_t ht_idf_heaps(ht_idf_heap_t *heaps, size_t max);

// A heap's free bytes and its largest free block now, less task tracking's
// owner word, as heap_caps_get_info() counts them: what heap_caps_malloc can
// hand out. Takes the heap's lock (task context).
void ht_idf_heap_free(const ht_idf_heap_t *heap, size_t *free_bytes, size_t *largest);

// The registered heap holding address, into *heap; false when none does.
// In IRAM where ESP-IDF's heap is (HEAP_IRAM_ATTR), with no call out of it:
// heap hooks call it, and they may run with the flash cache disabled.
bool ht_idf_heap_containing(uintptr_t address, ht_idf_heap_t *heap);

// The same walk for code that includes ESP-IDF's heap_private.h (heap_t is
// `struct heap_t_` there): the registered heap after `heap`, the first for
// NULL, skipping a start-up stack's region registered before it is a heap.
// NULL after the last.
struct heap_t_;
struct heap_t_ *ht_idf_heap_after(struct heap_t_ *heap);

// The heap ESP-IDF keeps its task tracking records and statistics arrays in:
// find_biggest_heap()'s rule in heap_task_info.c (v5.5), the registered heap
// spanning the most addresses, the first of equals.
struct heap_t_ *ht_idf_biggest_heap(void);

// Memory for a tracker's copies of the statistics, taken straight from a heap
// below heap_caps_malloc, as ESP-IDF takes its statistics arrays: no task is
// charged for it and no hook sees it. From the biggest heap, else from another
// byte-addressable heap, but never from one ESP-IDF hands out only when asked
// for by its capabilities (nothing at its first priority): the pool of internal
// RAM a PSRAM board keeps for DMA (CONFIG_SPIRAM_MALLOC_RESERVE_INTERNAL) stays
// for what needs it. NULL when none has room. Task context.
void *ht_idf_uncharged_alloc(size_t bytes);
// Frees what ht_idf_uncharged_alloc returned (NULL: nothing).
void ht_idf_uncharged_free(void *p);

#endif // HEAPTRACK_IDF_HEAPS_H
