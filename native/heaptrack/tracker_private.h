// What the two trackers (tracker_idf.c, tracker_hooks.c) have in common
// beyond ESP-IDF's heap (idf_heaps.h), written once: their sentences for
// ht_err_text, the snapshot slots, ht_free_all's claim-then-free sweep, the
// address hash of their tables and its backward-shift deletion, and their
// capacities for the C tests. Private to the trackers, as ESP-IDF's
// heap_private.h is to its heap: the bindings see tracker.h only.
//
// The hash and deletion are static inline and HEAP_IRAM_ATTR: the hooks
// tracker runs them inside ESP-IDF's heap calls, which may run with the flash
// cache off (tracker_hooks.c says why). Everything else runs in task context
// and lives in tracker_private.c. No MicroPython header, like the trackers.
#ifndef HEAPTRACK_TRACKER_PRIVATE_H
#define HEAPTRACK_TRACKER_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp_heap_caps.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"

#include "tracker.h"

// A build-time knob's value inside a sentence.
#define HT_STR2(x) #x
#define HT_STR(x) HT_STR2(x)

/******************************************************************************/
// ht_err_text: each tracker gives the sentences that name its own limits;
// those that are the same on both are here, so that the two cannot drift.

#define HT_TEXT_NO_MEM \
    "not enough free heap: no heap with the requested capabilities has room for the block, " \
    "or for a copy of the task statistics"
// whose: whose statistics were being copied.
#define HT_TEXT_BUSY(whose) whose " task statistics kept changing while being copied: try again"
// The snapshot slots' half of HT_ERR_FULL's sentence.
#define HT_TEXT_SNAPSHOTS_FULL(max) "too many statistics snapshots held at once (at most " HT_STR(max) ")"
#define HT_TEXT_CONTEXT_PREFIX \
    "heaptrack cannot be used in an interrupt handler or with interrupts disabled (machine.disable_irq()): "

// The sentences that differ by tracker (and by build), for ht_err_texts.
typedef struct {
    const char *no_mem;
    const char *full;
    const char *busy;
    const char *context;
    const char *unsupported;
    const char *inconsistent;
} ht_err_texts_t;

// ht_err_text's answer for err from a tracker's sentences: the codes whose
// causes are the same everywhere (no task, no block) have one sentence here.
const char *ht_err_text_of(const ht_err_texts_t *texts, ht_err_t err);

/******************************************************************************/
// Snapshot slots. ht_snapshot_t has one pointer for the tracker, which points
// at one of a fixed number of static slots: a full set of slots is
// HT_ERR_FULL before anything is copied, and ht_vm_restart can take back
// those of tasks a soft reset deleted.

typedef struct {
    bool *held;            // count flags, one per slot
    size_t count;
    portMUX_TYPE *lock;    // the tracker's
} ht_slots_t;

// A free slot, now held; -1 when every one is held.
int ht_slot_take(const ht_slots_t *slots);
// Gives a held slot back (its storage freed by the tracker first).
void ht_slot_give(const ht_slots_t *slots, int slot);

/******************************************************************************/
// ht_free_all: every block handed out now is claimed in one pass under the
// lock, so that blocks allocated while it frees are not its to free, and a
// concurrent ht_free of a claimed one finds it gone. The claimed blocks are
// then emptied a batch at a time, each batch in its own critical section,
// sweeping the table until a whole sweep finds none: emptying a slot moves
// later entries back (into the slot just looked at, or from the table's
// first slots past its end), and a concurrent ht_free_all shares the claimed
// blocks, each counting its own.

#define HT_FREE_BATCH 16

// A tracker's table as ht_free_claimed sweeps it. Every call is made with
// *lock held.
typedef struct {
    portMUX_TYPE *lock;
    size_t slots;
    size_t batch;                         // slots emptied per critical section (1..HT_FREE_BATCH)
    bool (*claim)(size_t slot);           // claims a block handed out (and not claimed); whether it did
    bool (*claimed)(size_t slot);
    // Empties a claimed slot (perhaps moving a later entry into it): the block
    // to give back to the heap once the lock is released, or NULL when it gave
    // it back itself.
    void *(*take)(size_t slot);
} ht_claim_table_t;

// Claims every block handed out, then frees them; how many this call freed.
size_t ht_free_claimed(const ht_claim_table_t *table);

/******************************************************************************/
// The tables of addresses (ESP-IDF's tracker's registry of handed-out blocks,
// the hooks tracker's table of every block): open addressing with linear
// probing, and deletion by backward shift, no tombstones, so that probes
// never lengthen with use.

#define HT_ALWAYS_INLINE inline __attribute__((always_inline))

// An address's hash: Fibonacci hashing of the word address.
static HT_ALWAYS_INLINE uint32_t HEAP_IRAM_ATTR ht_address_hash(uintptr_t address) {
    return (uint32_t)(address >> 2) * 0x9e3779b1u;
}

// A hash scaled to a table of `slots` by the high word of a 32x32-bit
// product (no division). Every ESP chip computes that in one instruction
// (Xtensa's MULUH, RISC-V's MULHU), not in a library routine, which would be
// in flash.
static HT_ALWAYS_INLINE unsigned HEAP_IRAM_ATTR ht_slot_of(uint32_t hash, unsigned slots) {
    return (unsigned)(((uint64_t)hash * slots) >> 32);
}

static HT_ALWAYS_INLINE unsigned HEAP_IRAM_ATTR ht_slot_after(unsigned i, unsigned slots) {
    return i + 1 == slots ? 0 : i + 1;
}

// The distance from slot `from` forward to slot `to`, around the table's end.
static HT_ALWAYS_INLINE unsigned HEAP_IRAM_ATTR ht_slot_distance(unsigned from, unsigned to, unsigned slots) {
    return to >= from ? to - from : to + slots - from;
}

// Empties slot `hole` of a table of `slots`: each later entry of its run
// moves back into the hole when its home slot allows (it may fill the hole
// unless its home lies in (hole, j]). address(j): the address slot j holds,
// 0 when empty; move(from, to): moves an entry to the empty slot `to`.
// Returns the slot left empty at the end, for the caller to clear.
static HT_ALWAYS_INLINE unsigned HEAP_IRAM_ATTR ht_slot_backshift(unsigned hole, unsigned slots,
    uintptr_t (*address)(unsigned slot), void (*move)(unsigned from, unsigned to)) {
    uintptr_t a;
    for (unsigned j = ht_slot_after(hole, slots); (a = address(j)) != 0; j = ht_slot_after(j, slots)) {
        unsigned home = ht_slot_of(ht_address_hash(a), slots);
        if (ht_slot_distance(home, j, slots) >= ht_slot_distance(hole, j, slots)) {
            move(j, hole);
            hole = j;
        }
    }
    return hole;
}

/******************************************************************************/
// What a tracker can hold, as it was built: the C tests read these rather
// than copy its build-time knobs.
typedef struct {
    size_t handed_out;   // blocks ht_malloc can have outstanding
    size_t blocks;       // blocks recorded at once, every task's (0: as many as
                         // ESP-IDF's biggest heap holds records for)
    size_t tasks;        // task records (0: as ESP-IDF's heap allows)
    size_t snapshots;    // snapshots held at once
} ht_capacity_t;

void ht_capacity(ht_capacity_t *capacity);

#endif // HEAPTRACK_TRACKER_PRIVATE_H
