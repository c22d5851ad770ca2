// The hooks tracker: tracker.h on ESP-IDF's heap hooks (CONFIG_HEAP_USE_HOOKS:
// esp_heap_trace_alloc_hook / esp_heap_trace_free_hook, ESP-IDF v5.2 and
// later), heaptrack's own accounting with ESP-IDF's task tracking off. It
// keeps the statistics ESP-IDF's heap task tracking keeps (esp_heap_task_info.h,
// v5.5), the same way, so that reports come out identical:
//   - per task (TCB address; NULL is "Pre-scheduler"), in decreasing handle
//     order, named by pcTaskGetName() at its first allocation: current and peak
//     usage; per heap it used, in order of first use: current, peak, allocation
//     count and its live blocks in allocation order;
//   - a block's size is the allocator's size for it (TLSF's block size, what
//     ESP-IDF records through multi_heap_get_full_block_size);
//   - a block is charged to the task that allocated it, whoever frees it; a
//     freed block whose address is a task's handle is that task's TCB: the task
//     is DELETED, its record kept (CONFIG_HEAP_TRACK_DELETED_TASKS) until the
//     table of task records is full: then the record of the task deleted first
//     among those with no live block is reused, and counted;
//   - frees of blocks allocated with no task running (Pre-scheduler) change
//     nothing, as ESP-IDF cannot tell who owned them.
// What differs is the cost: ESP-IDF walks the freeing task's list of blocks on
// every free, and allocates its records from the biggest heap. Here every block
// is one 12-byte entry of a static table keyed by address (open addressing, at
// most 80% full, entries linked in allocation order by 16-bit slot indexes), so
// a malloc or free costs the same whatever the live blocks, nothing is ever
// allocated inside a hook (it would re-enter the hook), and the records take
// no heap at all. The allocation hook takes a straight path through the common
// case (a task allocating again in the heap of the last allocation:
// alloc_fast), and so does the free hook (record_free), each leaving every
// other case to a function of its own. All of it is guarded by one portMUX
// spinlock, so it is safe on both cores; nothing that can block runs while it
// is held. heaptrack's own allocations (heaptrack.malloc) tell their hook that
// the block is heaptrack's through a word taken without the lock, and its own
// frees drop the block's record and free it with that lock held, their hook
// skipping it (hand_out, give_back: where the code is built for size, both
// call the heap with the lock held instead).
//
// When a table is full the tracker does not guess: the allocation is left out
// of the statistics (and so is its free), and counted; heaptrack's reports say
// how many (ht_snapshot_t.untracked), and how many deleted tasks' records were
// reused (ht_snapshot_t.dropped_tasks).
//
// Hooks only see a block after the heap made it, and after the heap took it
// back, so three things differ from ESP-IDF's own tracking, which runs inside
// the allocator:
//   - realloc: the heap reports a resized block only as an allocation. One
//     resized in place (same address) is accounted as ESP-IDF does (the old
//     size leaves its owner, the new one is charged to the caller); one moved
//     within its heap leaves its old entry behind until that address is handed
//     out again. heaptrack itself never reallocates.
//   - a block freed on one core may be handed out again on the other before
//     the first core's free hook runs; the new block then replaces the entry,
//     and the late free hook, finding a block of the new entry's size in use
//     at that address (TLSF's header), leaves it alone. heaptrack's own frees
//     cannot be late: they take their record out, or their hooks run, in
//     heaptrack's critical section (where
//     ESP-IDF's tracking is on too, they mark their entry first: I_FREEING);
//     the storage of snapshots comes from below the hooks
//     (ht_idf_uncharged_alloc), so no free of it can take such an entry.
//   - until its free hook runs, a freed block still counts: an allocation its
//     owner makes meanwhile in that heap (on the other core) can raise the
//     owner's peak by it, where ESP-IDF's tracking had taken it off already.
//
// The hooks run inside ESP-IDF's heap calls, which are in IRAM (unless
// CONFIG_HEAP_PLACE_FUNCTION_INTO_FLASH) so that an interrupt handler may
// allocate while the flash cache is disabled (a flash write: MicroPython's
// filesystem). So everything a hook reaches is HEAP_IRAM_ATTR, reads no
// constant data (which lives in flash), and calls out only to what ESP-IDF
// places in IRAM or ROM for that same configuration: the current task and its
// name (FreeRTOS), critical sections, a block's size (multi_heap). What needs
// flash -- naming heaps, finding the block heap_caps_init() made before any
// hook -- waits for the API's first call, in task context (ensure_ready).
// `make check-idf` proves it per board, from the relocations of the compiled
// objects (mk/check_placement.py).
//
// It includes no MicroPython header, so that `make check-idf` compiles it
// against ESP-IDF's headers alone (v5.3, v5.4, v5.5).
//
// Build-time knobs (define with -D; the tables are static, in internal RAM; a
// board sets the first two in its mpconfigboard.cmake, HEAPTRACK_HOOKS_MAX_*,
// and `make check-idf` holds the total to the board's budget):
//   HT_HOOKS_MAX_BLOCKS        live blocks tracked at once, every task's: the
//                              whole system's, not only heaptrack.malloc's
//                              (default 1024; a power of two, at most 32768;
//                              15 bytes each: 12 per slot, 1.25 slots per block)
//   HT_HOOKS_MAX_TASKS         task records, deleted tasks' included (64; 44 bytes each)
//   HT_HOOKS_MAX_HEAP_RECORDS  (task, heap) records (4 per task record; 20 bytes each)
//   HT_HOOKS_MAX_BIG_BLOCKS    live blocks of 2 MiB or more (16, 8 bytes each:
//                              every such block of a 32 MiB heap)
//   HT_HOOKS_MAX_HEAPS         heaps (16)
//   HT_HOOKS_MAX_SNAPSHOTS     snapshots held at the same time (16)
//   HT_HOOKS_SNAPSHOT_LIBC     1: snapshots live in the C library's heap, not
//                              ESP-IDF's (the host's differential builds, where
//                              ESP-IDF's tracker runs too and would see them)

#include <stdint.h>
#include <string.h>

#include "sdkconfig.h"
#include "esp_heap_caps.h"
#include "esp_memory_utils.h"
#include "heap_memory_layout.h"
#include "soc/soc.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"

#include "tracker.h"
#include "idf_heaps.h"
#include "tracker_private.h"

#if !CONFIG_HEAP_USE_HOOKS
#error "tracker_hooks.c needs CONFIG_HEAP_USE_HOOKS=y (boards/sdkconfig.heaptrack_hooks)"
#endif

#ifndef HT_HOOKS_MAX_BLOCKS
#define HT_HOOKS_MAX_BLOCKS 1024
#endif
#ifndef HT_HOOKS_MAX_TASKS
#define HT_HOOKS_MAX_TASKS 64
#endif
#ifndef HT_HOOKS_MAX_HEAP_RECORDS
#define HT_HOOKS_MAX_HEAP_RECORDS (4 * HT_HOOKS_MAX_TASKS)
#endif
#ifndef HT_HOOKS_MAX_HEAPS
#define HT_HOOKS_MAX_HEAPS 16
#endif
#ifndef HT_HOOKS_MAX_SNAPSHOTS
#define HT_HOOKS_MAX_SNAPSHOTS 16
#endif
#ifndef HT_HOOKS_MAX_BIG_BLOCKS
#define HT_HOOKS_MAX_BIG_BLOCKS 16
#endif
#ifndef HT_HOOKS_SNAPSHOT_LIBC
#define HT_HOOKS_SNAPSHOT_LIBC 0
#endif

#if HT_HOOKS_SNAPSHOT_LIBC
#include <stdlib.h>
#endif

_Static_assert(HT_HOOKS_MAX_BLOCKS > 0 && (HT_HOOKS_MAX_BLOCKS & (HT_HOOKS_MAX_BLOCKS - 1)) == 0
    && HT_HOOKS_MAX_BLOCKS <= 32768, "HT_HOOKS_MAX_BLOCKS must be a power of two, at most 32768");
_Static_assert(HT_HOOKS_MAX_BLOCKS + HT_HOOKS_MAX_BLOCKS / 4 < 0xffff, "slot indexes are 16-bit, NIL excluded");
_Static_assert(HT_HOOKS_MAX_TASKS > 0 && HT_HOOKS_MAX_TASKS < 0xffff, "HT_HOOKS_MAX_TASKS");
_Static_assert(HT_HOOKS_MAX_HEAP_RECORDS > 0 && HT_HOOKS_MAX_HEAP_RECORDS < 0x1000, "HT_HOOKS_MAX_HEAP_RECORDS");
_Static_assert(HT_HOOKS_MAX_HEAPS > 0 && HT_HOOKS_MAX_HEAPS <= 255, "HT_HOOKS_MAX_HEAPS");

// HT_STRAIGHT_PATHS: the hooks' common cases get straight copies of their
// own (record_free, esp_heap_trace_alloc_hook), fewer instructions for more
// IRAM, where the board's code is built for speed (the host, -O2 boards);
// what they leave (HT_OFF_PATH) is then a function of its own. Where it is
// built for size (-Os: ESP32-C2, C3, C5, C6), whose IRAM is scarce, one path
// does every case.
// (-DHT_HOOKS_STRAIGHT_PATHS=0 or 1 chooses, for tests of the other one.)
#if defined(HT_HOOKS_STRAIGHT_PATHS)
#define HT_STRAIGHT_PATHS HT_HOOKS_STRAIGHT_PATHS
#elif defined(__OPTIMIZE_SIZE__)
#define HT_STRAIGHT_PATHS 0
#else
#define HT_STRAIGHT_PATHS 1
#endif
#if HT_STRAIGHT_PATHS
#define HT_OFF_PATH __attribute__((noinline))
#else
#define HT_OFF_PATH inline
#endif

_Static_assert(HT_TASK_NAME_LEN == configMAX_TASK_NAME_LEN,
    "HT_TASK_NAME_LEN must equal CONFIG_FREERTOS_MAX_TASK_NAME_LEN");

// With ESP-IDF's task tracking also on (the host's differential builds) every
// block carries a 4-byte owner tag (HT_BLOCK_OWNER_SIZE, idf_heaps.h), which
// ESP-IDF counts in a block's size and heap_caps_get_allocated_size() leaves out.

/******************************************************************************/
// The sentences of ht_err_text: each names this firmware's limits and what to
// do; a code whose causes differ by call names them all, since the text
// depends on the code alone.

static const ht_err_texts_t s_texts = {
    .no_mem = HT_TEXT_NO_MEM,
    .full = "heaptrack's tracker is full: it records at most " HT_STR(HT_HOOKS_MAX_BLOCKS) " live blocks "
        "and " HT_STR(HT_HOOKS_MAX_TASKS) " tasks on this firmware: free some first "
        "(or rebuild with larger HT_HOOKS_MAX_BLOCKS, HT_HOOKS_MAX_TASKS, HT_HOOKS_MAX_HEAP_RECORDS); "
        "or " HT_TEXT_SNAPSHOTS_FULL(HT_HOOKS_MAX_SNAPSHOTS),
    .busy = HT_TEXT_BUSY("the"),
    .context = HT_TEXT_CONTEXT_PREFIX "a report copies every record with interrupts masked, "
        "and heaptrack keeps one rule on every build",
    .unsupported = "heaptrack's tracker does not support this",   // (it supports every call)
    .inconsistent = "heaptrack's tracker's records contradict themselves",   // (it never finds so)
};

const char *ht_err_text(ht_err_t err) {
    return ht_err_text_of(&s_texts, err);
}

// The hooks themselves run in any context (they take only a spinlock); the
// API refuses where ESP-IDF's tracker must, so that heaptrack behaves the same
// on every build, and no report copies records with interrupts masked for long.
ht_err_t ht_context_check(void) {
    if (!ht_idf_task_context()) {
        return HT_ERR_CONTEXT;
    }
    return HT_OK;
}

// Deleted tasks keep their records here (ESP-IDF's
// CONFIG_HEAP_TRACK_DELETED_TASKS), for as long as the table has room.
bool ht_track_deleted(void) {
    return true;
}

const char *ht_tracker_name(void) {
    return "hooks";
}

/******************************************************************************/
// The tables.

typedef uint16_t ix_t;
#define NIL ((ix_t)0xffff)

// One block, in a slot of the table keyed by its address, and listed in its
// (task, heap) record: 12 bytes, kept in three arrays indexed by slot (s_keys,
// s_infos, s_links) rather than one of 12-byte structs, so that a slot's
// field is one scaled index away (no multiplication by 12 on any chip), and a
// probe reads keys alone, 4 bytes a slot. An empty slot has key 0.
//   key   the address ESP-IDF records (the data address, DRAM alias for
//         EXEC), 4-aligned, with its K_ state in the low bits
//   info  its size / 4 (I_SIZE), its heap record (I_REC), I_FREEING
//   link  its record's blocks, in allocation order (slot indexes)
typedef struct {
    ix_t prev, next;
} link_t;

// A block's state, in its key's low bits. A lookup by address matches a key
// less than address + K_GHOST: a ghost is found by no address.
#define K_STATE    3u
#define K_PLAIN    0u
#define K_HANDED   1u   // heaptrack.malloc's: handed out by ht_malloc, not given back
#define K_CLAIMED  2u   // heaptrack.malloc's, claimed by ht_free_all, to be freed by it
#define K_GHOST    3u   // made with no task running, then freed: ESP-IDF keeps it listed

// Its size: TLSF's sizes are multiples of 4; one of 2 MiB or more (or not a
// multiple of 4) has I_SIZE_BIG and its size in s_big. (HT_HOOKS_SIZE_BITS: a
// narrower field, for the tests of s_big with small blocks.)
#ifdef HT_HOOKS_SIZE_BITS
#define I_SIZE_BITS  HT_HOOKS_SIZE_BITS
#else
#define I_SIZE_BITS  19
#endif
#define I_SIZE_BIG   ((1u << I_SIZE_BITS) - 1)
#define I_REC_SHIFT  I_SIZE_BITS
#define I_REC_MASK   0xfffu
#define I_FREEING    (1u << 31)   // being freed by ht_free or ht_free_all: its free hook is due

_Static_assert(I_REC_SHIFT + 12 <= 31, "an entry's info: size, heap record and I_FREEING");

// A block too big for its entry's size field.
typedef struct {
    uintptr_t address;   // 0: unused
    uint32_t size;
} big_t;

// A task's record (task_stat_t).
typedef struct {
    ht_task_t handle;
    uint32_t current;
    uint32_t peak;
    ix_t order_next;     // the next record in ESP-IDF's order
    ix_t hnext;          // the next record in its handle bucket
    ix_t heaps_first, heaps_last;
    uint16_t heap_count;
    bool alive;
    char name[HT_TASK_NAME_LEN];
    uint32_t deleted_at; // when its TCB was freed (s_deletions then)
} task_rec_t;

// A task's usage of one heap (heap_stat_t).
typedef struct {
    uint32_t current;
    uint32_t peak;
    uint16_t count;      // live (listed) blocks: fewer than HT_HOOKS_MAX_BLOCKS
    ix_t first, last;    // its blocks
    ix_t next;           // the task's next heap record
    ix_t task;
    uint8_t heap;        // index into s_heaps
} heap_rec_t;

// A heap as ESP-IDF registered it.
typedef struct {
    uintptr_t start, end;
    uint32_t caps;       // every capability of the heap (get_all_caps)
    void *handle;        // its multi_heap_handle_t
    const char *name;    // NULL until a snapshot first shows it (heap_name_of)
} heap_desc_t;

// The table of blocks: open addressing with linear probing, a quarter more
// slots than blocks so that probe runs stay short when it is full.
#define SLOTS (HT_HOOKS_MAX_BLOCKS + HT_HOOKS_MAX_BLOCKS / 4)
#define TASK_BUCKETS 64

// The RAM the table takes per block it can hold (for bench/bench_tracker.c).
#define ENTRY_BYTES (sizeof(uintptr_t) + sizeof(uint32_t) + sizeof(link_t))
const size_t ht_hooks_table_bytes_per_block = ENTRY_BYTES * SLOTS / HT_HOOKS_MAX_BLOCKS;

// Every table is ready as the C runtime sets it up (static initialisers), before
// heap_caps_init() and so before the first hook: a hook never sets anything up.
static uintptr_t s_keys[SLOTS];
static uint32_t s_infos[SLOTS];
static link_t s_links[SLOTS];
static big_t s_big[HT_HOOKS_MAX_BIG_BLOCKS];
static task_rec_t s_tasks[HT_HOOKS_MAX_TASKS];
static ix_t s_task_buckets[TASK_BUCKETS] = { [0 ... TASK_BUCKETS - 1] = NIL };
static heap_rec_t s_heap_recs[HT_HOOKS_MAX_HEAP_RECORDS];
static heap_desc_t s_heaps[HT_HOOKS_MAX_HEAPS];

static size_t s_listed;       // entries (slots in use), every one in its record's list
static uint16_t s_task_count;      // task records in use
static uint16_t s_tasks_made;      // records ever taken from the never-used tail
static ix_t s_free_task = NIL;     // records given back, linked by order_next
static uint16_t s_heap_rec_count;  // heap records in use
static uint16_t s_heap_recs_made;
static ix_t s_free_heap_rec = NIL; // linked by next
static uint32_t s_deletions;       // tasks deleted so far (wraps)
static uint16_t s_reclaimable;     // deleted tasks' records with no live block
static size_t s_dropped_tasks;     // deleted tasks' records reused for new tasks
static ix_t s_task_head = NIL;     // the first record in ESP-IDF's order
static unsigned s_heap_count; // written under s_lock, read anywhere
static unsigned s_last_heap;
static size_t s_untracked;    // allocations left out (a table was full)
static unsigned s_freeing;    // entries marked I_FREEING
static bool s_boot_adopted;   // heap_caps_init()'s block is in the tables (ensure_ready)
// ht_malloc's word with its own allocation hook (hand_out): the task whose
// heap_caps_malloc call is heaptrack's, taken without the lock, one task at a
// time; and the block that hook recorded for it.
#define HAND_OUT_NONE ((ht_task_t)1)   // no task's handle (handles are 4-aligned)
#define HAND_OUT_DONE ((ht_task_t)2)   // its hook has run
static ht_task_t s_hand_out_task = HAND_OUT_NONE;
static uintptr_t s_handed;
// The block heaptrack is giving back to the heap (give_back), its record
// already dropped: its free hook has nothing to do. 0: none.
static uintptr_t s_given_back;
static portMUX_TYPE s_lock = portMUX_INITIALIZER_UNLOCKED;

// The straight path of an allocation (alloc_fast): the task and heap of the
// last one, and their records, while those can take another block as is.
// The records are kept as pointers, and the heap record's index as it goes
// into an entry, so that the path does no index arithmetic.
#define FAST_NONE ((ht_task_t)1)   // no task's handle (handles are 4-aligned)
static ht_task_t s_fast_task = FAST_NONE;
static uintptr_t s_fast_start;     // the heap's bounds
static uintptr_t s_fast_span;
static heap_rec_t *s_fast_hr;
static task_rec_t *s_fast_tr;
static uint32_t s_fast_rec_bits;   // the heap record's index << I_REC_SHIFT

// A block's home slot (tracker_private.h's hash, scaled to the table). A
// 16-bit scaling instead would cost collisions.
static inline unsigned HEAP_IRAM_ATTR slot_home(uintptr_t address) {
    return ht_slot_of(ht_address_hash(address), SLOTS);
}

// A task handle's bucket: the top bits of the same hash as a block's home slot
// (a TCB is a block: its free finds both with one multiplication).
static inline size_t HEAP_IRAM_ATTR bucket_of(uint32_t hash) {
    return (size_t)((hash >> 26) & (TASK_BUCKETS - 1));
}

static inline size_t HEAP_IRAM_ATTR task_bucket_of(ht_task_t handle) {
    return bucket_of(ht_address_hash(handle));
}

/******************************************************************************/
// Heaps: learned from ESP-IDF's registry of heaps, each the first time a block
// of it shows up (heap_learn, in a hook), and all of them at the API's first
// call (heaps_discover).

// ESP-IDF's name for a heap (v5.5, heap_caps_init.c): a heap of the chip's
// layout is named after its memory type; one added at run time after the first
// memory type with the same capabilities. Reads the chip's layout tables, which
// are in flash: task context only.
static const char *heap_name(uintptr_t start, uint32_t caps) {
    const soc_memory_type_desc_t *type = ht_idf_memory_type(start);
    if (type != NULL) {
        return type->name;
    }
    for (size_t i = 0; i < soc_memory_type_count; ++i) {
        if (ht_idf_type_caps(&soc_memory_types[i]) == caps) {
            return soc_memory_types[i].name;
        }
    }
    return "unknown";
}

static const char *heap_name_of(heap_desc_t *heap) {
    if (heap->name == NULL) {
        heap->name = heap_name(heap->start, heap->caps);
    }
    return heap->name;
}

// Adds a heap not known yet, with s_lock held.
static void HEAP_IRAM_ATTR heap_add(const ht_idf_heap_t *found) {
    for (unsigned k = 0; k < s_heap_count; ++k) {
        if (s_heaps[k].start == found->start) {
            return;
        }
    }
    if (s_heap_count < HT_HOOKS_MAX_HEAPS) {
        heap_desc_t *heap = &s_heaps[s_heap_count];
        heap->start = found->start;
        heap->end = found->end;
        heap->caps = found->caps;
        heap->handle = found->handle;
        heap->name = NULL;
        __atomic_store_n(&s_heap_count, s_heap_count + 1, __ATOMIC_RELEASE);
    }
}

// Learns the heaps ESP-IDF has now.
static void heaps_discover(void) {
    ht_idf_heap_t found[HT_HOOKS_MAX_HEAPS];
    size_t count = ht_idf_heaps(found, HT_HOOKS_MAX_HEAPS);
    count = count < HT_HOOKS_MAX_HEAPS ? count : HT_HOOKS_MAX_HEAPS;
    taskENTER_CRITICAL(&s_lock);
    for (size_t i = 0; i < count; ++i) {
        heap_add(&found[i]);
    }
    taskEXIT_CRITICAL(&s_lock);
}

// The index of the heap holding address, or -1. Heaps are only ever added.
static inline int HEAP_IRAM_ATTR heap_of(uintptr_t address) {
    unsigned n = __atomic_load_n(&s_heap_count, __ATOMIC_ACQUIRE);
    unsigned last = s_last_heap;
    if (last < n && address - s_heaps[last].start < s_heaps[last].end - s_heaps[last].start) {
        return (int)last;
    }
    for (unsigned i = 0; i < n; ++i) {
        if (address - s_heaps[i].start < s_heaps[i].end - s_heaps[i].start) {
            s_last_heap = i;
            return (int)i;
        }
    }
    return -1;
}

/******************************************************************************/
// Before any hook: heap_caps_init() takes the array of ESP-IDF's registered
// heaps from the first internal 8-bit heap (in the chip's layout order) that
// holds it, with no hook called, and ESP-IDF's task tracking records it as
// Pre-scheduler's first block, at the block's address. Heaps are laid out
// from the lowest address up and that block is never freed, so it stays the
// lowest used block of the lowest such heap: ensure_ready finds it there
// (heap_caps_walk is in flash, so not from a hook) and puts it where ESP-IDF
// has it (boot_block_adopt).

typedef struct {
    uintptr_t heap_start;  // the heap found, or 0
    uintptr_t address;
    uint32_t size;
} boot_scan_t;

static bool boot_scan_walker(walker_heap_into_t heap, walker_block_info_t block, void *user_data) {
    boot_scan_t *b = user_data;
    if (b->heap_start != 0 && (uintptr_t)heap.start >= b->heap_start) {
        return false;   // not before the heap found (heaps come in ESP-IDF's order)
    }
    if (block.used) {
        b->heap_start = (uintptr_t)heap.start;
        b->address = (uintptr_t)block.ptr;
        b->size = (uint32_t)block.size;
        return false;
    }
    return true;
}

static boot_scan_t boot_scan(void) {
    boot_scan_t b = { 0 };
    heap_caps_walk(MALLOC_CAP_8BIT | MALLOC_CAP_INTERNAL, boot_scan_walker, &b);
    return b;
}

/******************************************************************************/
// The table of blocks. Everything below runs with s_lock held.

// heaptrack's own frees (and its allocations where the code is built for
// size) call ESP-IDF's heap in heaptrack's critical section, so that their
// hooks run in it, or have nothing to do (hand_out, give_back)...
#if !CONFIG_HEAP_TASK_TRACKING
#define HT_CALL_IN_LOCK 1
#else
// ...except where ESP-IDF's task tracking is on as well (the host's
// differential builds): its allocations and frees take a mutex, which no
// critical section may. There a block heaptrack frees is marked I_FREEING
// before it goes back to the heap, and stays in the table until its free hook
// runs. Meanwhile the heap may hand the address out again, on the other core:
// the new block is then a second entry with the same address, and the free
// hook takes the I_FREEING one, so that a late free never removes the block
// made after it.
#define HT_CALL_IN_LOCK 0
#endif

// ht_malloc takes its word (hand_out) rather than the lock around its heap
// call where the code is built for speed, or must call the heap outside the
// lock; elsewhere (-Os: the smaller chips, whose IRAM is scarce) it holds the
// lock, which costs it a critical section but the hooks no code.
#define HT_HAND_OUT_WORD (HT_STRAIGHT_PATHS || !HT_CALL_IN_LOCK)
#if !HT_HAND_OUT_WORD
static uintptr_t s_hand_out;  // K_HANDED while ht_malloc's heap call runs, in the lock
#endif
// Likewise heaptrack's frees drop their block's record themselves, in the
// lock, and their hook skips it (give_back), only where the code is built for
// speed; elsewhere their hook does the work, in the lock they hold.
#define HT_GIVE_BACK_DROPS (HT_STRAIGHT_PATHS && HT_CALL_IN_LOCK)

static inline bool HEAP_IRAM_ATTR entry_freeing(ix_t e) {
    return !HT_CALL_IN_LOCK && (s_infos[e] & I_FREEING) != 0;
}

// Every entry lies in the run of used slots that starts at its home slot, so a
// probe stops at the first empty slot. A ghost stays there, found by nobody.
static inline bool HEAP_IRAM_ATTR entry_is(ix_t e, uintptr_t address) {
    return s_keys[e] - address < K_GHOST;
}

static inline uintptr_t HEAP_IRAM_ATTR entry_address(ix_t e) {
    return s_keys[e] & ~(uintptr_t)K_STATE;
}

static inline uint32_t HEAP_IRAM_ATTR entry_state(ix_t e) {
    return (uint32_t)(s_keys[e] & K_STATE);
}

static inline void HEAP_IRAM_ATTR entry_set_state(ix_t e, uint32_t state) {
    s_keys[e] = entry_address(e) | state;
}

static inline ix_t HEAP_IRAM_ATTR entry_rec(ix_t e) {
    return (ix_t)((s_infos[e] >> I_REC_SHIFT) & I_REC_MASK);
}

// The slot of s_big holding the block at address (0: a free slot), or -1.
static int HEAP_IRAM_ATTR big_slot(uintptr_t address) {
    for (int i = 0; i < HT_HOOKS_MAX_BIG_BLOCKS; ++i) {
        if (s_big[i].address == address) {
            return i;
        }
    }
    return -1;
}

static inline uint32_t HEAP_IRAM_ATTR entry_size(ix_t e) {
    uint32_t quarter = s_infos[e] & I_SIZE_BIG;
    // Every I_SIZE_BIG entry has its slot in s_big (big_put).
    return quarter != I_SIZE_BIG ? quarter << 2 : s_big[big_slot(entry_address(e))].size;
}

// Whether a block of this size fits its entry's size field.
static inline bool HEAP_IRAM_ATTR size_fits(uint32_t size) {
    return (size & 3) == 0 && (size >> 2) < I_SIZE_BIG;
}

// Keeps the size of a block too big for its entry, in a free slot of s_big
// (there is one: big_slot(0) >= 0).
static void HEAP_IRAM_ATTR big_put(uintptr_t address, uint32_t size) {
    big_t *big = &s_big[big_slot(0)];
    big->address = address;
    big->size = size;
}

static void HEAP_IRAM_ATTR big_drop(uintptr_t address) {
    s_big[big_slot(address)].address = 0;
}

// The entry of the block at address whose free is not under way, or NIL; in
// *empty (when NIL) the first empty slot of its run, where a new block would go.
static inline ix_t HEAP_IRAM_ATTR entry_probe(uintptr_t address, ix_t *empty) {
    unsigned i = slot_home(address);
    for (; s_keys[i] != 0; i = ht_slot_after(i, SLOTS)) {
        if (entry_is((ix_t)i, address) && !entry_freeing((ix_t)i)) {
            *empty = NIL;
            return (ix_t)i;
        }
    }
    *empty = (ix_t)i;
    return NIL;
}

static inline ix_t HEAP_IRAM_ATTR entry_find(uintptr_t address) {
    ix_t empty;
    return entry_probe(address, &empty);
}

// The entry heaptrack.malloc handed out at address, or NIL. An address has at
// most one entry whose free is not under way (record_alloc takes a stale one
// out before it adds the new block): that one, if heaptrack handed it out.
static inline ix_t HEAP_IRAM_ATTR entry_find_handed(uintptr_t address) {
    ix_t e = entry_find(address);
    return e != NIL && entry_state(e) == K_HANDED ? e : NIL;
}

// The entry a free at address takes (hash: its ht_address_hash): the first of
// its address, or, while heaptrack frees blocks outside its lock, the one
// marked I_FREEING if there are two.
static inline ix_t HEAP_IRAM_ATTR entry_find_freed(uintptr_t address, uint32_t hash) {
    ix_t e = NIL;
    for (unsigned i = ht_slot_of(hash, SLOTS); s_keys[i] != 0; i = ht_slot_after(i, SLOTS)) {
        if (entry_is((ix_t)i, address)) {
            if (e == NIL || entry_freeing((ix_t)i)) {
                e = (ix_t)i;
            }
            if (HT_CALL_IN_LOCK || s_freeing == 0 || entry_freeing((ix_t)i)) {
                break;
            }
        }
    }
    return e;
}

static inline bool HEAP_IRAM_ATTR entry_available(void) {
    return s_listed < HT_HOOKS_MAX_BLOCKS;
}

// Moves entry `from` to the empty slot `to`, and its list's links with it.
static inline void HEAP_IRAM_ATTR entry_move(ix_t from, ix_t to) {
    uint32_t info = s_infos[from];
    ix_t prev = s_links[from].prev, next = s_links[from].next;
    s_keys[to] = s_keys[from];
    s_infos[to] = info;
    s_links[to].prev = prev;
    s_links[to].next = next;
    if (prev != NIL) {
        s_links[prev].next = to;
    } else {
        s_heap_recs[(info >> I_REC_SHIFT) & I_REC_MASK].first = to;
    }
    if (next != NIL) {
        s_links[next].prev = to;
    } else {
        s_heap_recs[(info >> I_REC_SHIFT) & I_REC_MASK].last = to;
    }
}

static inline uintptr_t HEAP_IRAM_ATTR entry_slot_address(unsigned i) {
    return s_keys[i] & ~(uintptr_t)K_STATE;
}

static inline void HEAP_IRAM_ATTR entry_slot_move(unsigned from, unsigned to) {
    entry_move((ix_t)from, (ix_t)to);
}

// Empties slot e (its entry already out of its list).
static inline void HEAP_IRAM_ATTR entry_remove(ix_t e) {
    s_keys[ht_slot_backshift(e, SLOTS, entry_slot_address, entry_slot_move)] = 0;
    s_listed -= 1;
}

// Takes an entry out of its record, as ESP-IDF's free does.
static inline void HEAP_IRAM_ATTR entry_unlist(ix_t e, heap_rec_t *hr, task_rec_t *tr, uint32_t size) {
    ix_t prev = s_links[e].prev, next = s_links[e].next;
    if (prev != NIL) {
        s_links[prev].next = next;
    } else {
        hr->first = next;
    }
    if (next != NIL) {
        s_links[next].prev = prev;
    } else {
        hr->last = prev;
    }
    hr->count -= 1;
    hr->current -= size;
    tr->current -= size;
    if (!tr->alive && tr->current == 0) {
        s_reclaimable += 1;
    }
}

// The alive record of the task `handle`, or NIL.
static inline ix_t HEAP_IRAM_ATTR task_find_alive(ht_task_t handle) {
    for (ix_t t = s_task_buckets[task_bucket_of(handle)]; t != NIL; t = s_tasks[t].hnext) {
        if (s_tasks[t].handle == handle && s_tasks[t].alive) {
            return t;
        }
    }
    return NIL;
}

// Puts a new record where ESP-IDF's list would have it: before the first record
// with a smaller handle, or first if its handle is at least the first one's.
// False where ESP-IDF would leave it out of its list (a Pre-scheduler record
// made after other tasks': nothing is smaller than 0).
static bool HEAP_IRAM_ATTR task_link(ix_t t) {
    ht_task_t handle = s_tasks[t].handle;
    if (s_task_head == NIL || handle >= s_tasks[s_task_head].handle) {
        s_tasks[t].order_next = s_task_head;
        s_task_head = t;
        return true;
    }
    for (ix_t prev = s_task_head, cur = s_tasks[prev].order_next; cur != NIL;
         prev = cur, cur = s_tasks[cur].order_next) {
        if (s_tasks[cur].handle < handle) {
            s_tasks[t].order_next = cur;
            s_tasks[prev].order_next = t;
            return true;
        }
    }
    return false;
}

// Every record of the task whose TCB is being freed is a deleted task's: the
// straight path, which relies on its record being alive, no longer takes it.
static void HEAP_IRAM_ATTR tcb_deleted(ix_t t) {
    task_rec_t *tr = &s_tasks[t];
    tr->alive = false;
    tr->deleted_at = s_deletions++;
    if (tr->current == 0) {
        s_reclaimable += 1;
    }
    s_fast_task = FAST_NONE;
}

static inline void HEAP_IRAM_ATTR tcb_freed(uintptr_t address) {
    for (ix_t t = s_task_buckets[task_bucket_of((ht_task_t)address)]; t != NIL; t = s_tasks[t].hnext) {
        if (s_tasks[t].handle == (ht_task_t)address && s_tasks[t].alive) {
            tcb_deleted(t);
        }
    }
}

/******************************************************************************/
// Records of deleted tasks. Like ESP-IDF with CONFIG_HEAP_TRACK_DELETED_TASKS,
// a deleted task's record stays, with its peak and any block it left behind,
// for reports to show. ESP-IDF keeps them in its heap until that runs out, and
// then silently stops recording new tasks; here, when the table of task (or
// heap) records is full, the record of the task deleted first among those
// with no live block left is reused, and counted (s_dropped_tasks), so that
// new tasks are always recorded and a report says what it no longer shows. A
// deleted task's record with live blocks is never reused: its blocks would
// lose their owner.

static inline bool HEAP_IRAM_ATTR task_record_available(void) {
    return s_free_task != NIL || s_tasks_made < HT_HOOKS_MAX_TASKS;
}

static inline bool HEAP_IRAM_ATTR heap_record_available(void) {
    return s_free_heap_rec != NIL || s_heap_recs_made < HT_HOOKS_MAX_HEAP_RECORDS;
}

static inline bool HEAP_IRAM_ATTR reclaimable(const task_rec_t *tr) {
    return !tr->alive && tr->current == 0;
}

// Takes record t, whose predecessor in ESP-IDF's order is prev, out of every
// list, and gives it and its heap records back.
static void HEAP_IRAM_ATTR task_record_free(ix_t t, ix_t prev) {
    task_rec_t *tr = &s_tasks[t];
    if (prev == NIL) {
        s_task_head = tr->order_next;
    } else {
        s_tasks[prev].order_next = tr->order_next;
    }
    ix_t *link = &s_task_buckets[task_bucket_of(tr->handle)];
    while (*link != t) {
        link = &s_tasks[*link].hnext;
    }
    *link = tr->hnext;
    for (ix_t h = tr->heaps_first, next; h != NIL; h = next) {
        next = s_heap_recs[h].next;
        s_heap_recs[h].next = s_free_heap_rec;
        s_free_heap_rec = h;
        s_heap_rec_count -= 1;
    }
    tr->order_next = s_free_task;
    s_free_task = t;
    s_task_count -= 1;
    s_fast_task = FAST_NONE;
}

// Gives back the record of the task deleted first among those with no live
// block. False if there is none. Walks the records, so it runs only when a
// table is full and such a record exists.
static bool HEAP_IRAM_ATTR task_reclaim(void) {
    if (s_reclaimable == 0) {
        return false;
    }
    ix_t victim = NIL, victim_prev = NIL;
    for (ix_t prev = NIL, t = s_task_head; t != NIL; prev = t, t = s_tasks[t].order_next) {
        if (reclaimable(&s_tasks[t]) && (victim == NIL
            || (int32_t)(s_tasks[t].deleted_at - s_tasks[victim].deleted_at) < 0)) {
            victim = t;
            victim_prev = prev;
        }
    }
    if (victim == NIL) {
        return false;
    }
    task_record_free(victim, victim_prev);
    s_reclaimable -= 1;
    s_dropped_tasks += 1;
    return true;
}

static inline ix_t HEAP_IRAM_ATTR task_record_take(void) {
    ix_t t = s_free_task;
    if (t != NIL) {
        s_free_task = s_tasks[t].order_next;
    } else {
        t = s_tasks_made++;
    }
    return t;
}

static inline ix_t HEAP_IRAM_ATTR heap_record_take(void) {
    ix_t h = s_free_heap_rec;
    if (h != NIL) {
        s_free_heap_rec = s_heap_recs[h].next;
    } else {
        h = s_heap_recs_made++;
    }
    s_heap_rec_count += 1;
    return h;
}

// A block's size as ESP-IDF records it: TLSF's size for the block
// (multi_heap_get_full_block_size; heap_caps_get_allocated_size() less task
// tracking's owner word). multi_heap_get_allocated_size() of the block's heap
// gives it (in IRAM or ROM wherever ESP-IDF's heap is in IRAM, and in ESP-IDF
// v5.3 and v5.4 too), but costs a hook two calls. TLSF keeps the size in the
// word before the block (its low two bits are flags): once the first
// SIZE_CHECKS blocks showed the word and the call agree, the word is read
// directly. Where they disagree (heap poisoning puts its own header there, a
// ROM TLSF might lay it out otherwise) the call stays, for good. With s_lock held.
#define SIZE_CHECKS 64
static int s_size_checks;   // blocks that agreed so far; -1: they did not

static inline uint32_t HEAP_IRAM_ATTR size_word(uintptr_t address) {
    return (uint32_t)(((const size_t *)(address - HT_BLOCK_OWNER_SIZE))[-1] & ~(size_t)3);
}

static uint32_t HEAP_IRAM_ATTR block_size_checked(uintptr_t address, unsigned heap) {
    uint32_t size = (uint32_t)multi_heap_get_allocated_size(s_heaps[heap].handle,
        (void *)(address - HT_BLOCK_OWNER_SIZE));
    if (s_size_checks >= 0) {
        s_size_checks = size_word(address) == size ? s_size_checks + 1 : -1;
    }
    return size;
}

static inline uint32_t HEAP_IRAM_ATTR block_size_of(uintptr_t address, unsigned heap) {
    return s_size_checks >= SIZE_CHECKS ? size_word(address) : block_size_checked(address, heap);
}

// Whether the heap holds a block at address, of this size, as in use: TLSF's
// word before it (bit 0 is set while the block is free). Only once that word
// is trusted (false before).
static inline bool HEAP_IRAM_ATTR block_in_use(uintptr_t address, uint32_t size) {
    if (s_size_checks < SIZE_CHECKS) {
        return false;
    }
    // In use (bit 0 clear) and of this size, bit 1 being the previous
    // block's state: one mask and one comparison where the size is known to
    // be a multiple of 4 (record_free's straight path), which the compiler
    // then drops; the size has its low bits clear only when it is one.
    size_t word = ((const size_t *)(address - HT_BLOCK_OWNER_SIZE))[-1];
    return (size & 3) == 0 && (uint32_t)(word & ~(size_t)2) == size;
}

// Charges a block to heap record hr and its task tr, and puts it in the empty
// slot `slot` of its run, last in the record's list, under `key` (its address
// with its K_ state). `info`: its entry's size
// field (size / 4, or I_SIZE_BIG with its size in s_big already) and the
// record's index. Pointers and the ready-made info word, so that the straight
// path (alloc_fast) has nothing to compute here.
static inline void HEAP_IRAM_ATTR block_add(uintptr_t key, uint32_t size, uint32_t info,
    heap_rec_t *hr, task_rec_t *tr, ix_t slot) {
    uint32_t current = tr->current + size;
    tr->current = current;
    if (current > tr->peak) {
        tr->peak = current;
    }
    current = hr->current + size;
    hr->current = current;
    if (current > hr->peak) {
        hr->peak = current;
    }
    hr->count += 1;
    ix_t last = hr->last;
    s_keys[slot] = key;
    s_infos[slot] = info;
    s_links[slot].prev = last;
    s_links[slot].next = NIL;
    if (last == NIL) {
        hr->first = slot;
    } else {
        s_links[last].next = slot;
    }
    hr->last = slot;
    s_listed += 1;
}

// A task's name, as FreeRTOS has it, into a record (no library call: hooks
// reach only IRAM). Pre-scheduler's is left empty: its name is a constant, in
// flash, which the snapshot supplies.
static void HEAP_IRAM_ATTR name_copy(char *name, ht_task_t task) {
    const char *from = task != 0 ? pcTaskGetName((TaskHandle_t)task) : NULL;
    bool more = from != NULL;
    for (size_t i = 0; i < HT_TASK_NAME_LEN; ++i) {
        char c = more && i + 1 < HT_TASK_NAME_LEN ? from[i] : '\0';
        more = c != '\0';
        name[i] = c;
    }
}

// A new record for the task `task`, in ESP-IDF's order; NIL where ESP-IDF
// would leave it out (the caller counts the allocation). There is a record to take (task_record_available).
static ix_t HEAP_IRAM_ATTR task_record_new(ht_task_t task) {
    ix_t t = task_record_take();
    task_rec_t *tr = &s_tasks[t];
    tr->handle = task;
    tr->current = 0;
    tr->peak = 0;
    tr->order_next = NIL;
    tr->hnext = NIL;
    tr->heaps_first = tr->heaps_last = NIL;
    tr->heap_count = 0;
    tr->alive = true;
    tr->deleted_at = 0;
    name_copy(tr->name, task);
    if (!task_link(t)) {
        tr->order_next = s_free_task;
        s_free_task = t;
        return NIL;
    }
    s_task_count += 1;
    size_t b = task_bucket_of(task);
    tr->hnext = s_task_buckets[b];
    s_task_buckets[b] = t;
    return t;
}

// A new heap record of task record t, last of its heaps. There is a record to
// take (heap_record_available).
static ix_t HEAP_IRAM_ATTR heap_record_new(ix_t t, unsigned heap) {
    task_rec_t *tr = &s_tasks[t];
    ix_t h = heap_record_take();
    heap_rec_t *hr = &s_heap_recs[h];
    hr->current = 0;
    hr->peak = 0;
    hr->count = 0;
    hr->first = hr->last = hr->next = NIL;
    hr->task = t;
    hr->heap = (uint8_t)heap;
    if (tr->heaps_last == NIL) {
        tr->heaps_first = h;
    } else {
        s_heap_recs[tr->heaps_last].next = h;
    }
    tr->heaps_last = h;
    tr->heap_count += 1;
    return h;
}

// Takes entry e, of the block at address, out of its record and the table.
// Off the straight paths (record_free has its own): one copy.
static __attribute__((noinline)) void HEAP_IRAM_ATTR record_drop(ix_t e, uintptr_t address) {
    heap_rec_t *hr = &s_heap_recs[entry_rec(e)];
    uint32_t size = entry_size(e);
    if ((s_infos[e] & I_SIZE_BIG) == I_SIZE_BIG) {
        big_drop(address);
    }
    entry_unlist(e, hr, &s_tasks[hr->task], size);
    entry_remove(e);
}

// An allocation the tables have no room for: counted, unless it is
// ht_malloc's (K_HANDED) and ht_malloc holds its word, which gives it back at
// once (hand_out), knowing so from s_handed. (Holding the lock instead, it
// counts what the hook counted.)
static HT_OFF_PATH void HEAP_IRAM_ATTR left_out(uintptr_t state) {
    if (HT_HAND_OUT_WORD && state == K_HANDED) {
        s_handed = 0;
    } else {
        s_untracked += 1;
    }
}

// A block `size` bytes long at `address`, in heap `heap`, made by `task`, to
// be recorded in K_ state `state`: what alloc_fast leaves.
static void HEAP_IRAM_ATTR record_alloc(uintptr_t address, uintptr_t state, uint32_t size, unsigned heap,
    ht_task_t task) {
    ix_t slot;
    ix_t old = entry_probe(address, &slot);
    if (old != NIL) {
        // Resized in place (or freed by someone else on another core whose
        // free hook has not run yet, or whose late free hook found the new
        // block in use: record_free): the old block leaves its owner, as
        // ESP-IDF's realloc does.
        record_drop(old, address);
        entry_probe(address, &slot);   // the run may have moved back
    }

    // Everything this needs is checked first, so that a full table changes nothing.
    ix_t t = task_find_alive(task);
    ix_t h = NIL;
    if (t != NIL) {
        for (h = s_tasks[t].heaps_first; h != NIL && s_heap_recs[h].heap != heap; h = s_heap_recs[h].next) {
        }
    }
    if (!entry_available() || (!size_fits(size) && big_slot(0) < 0)) {
        left_out(state);
        return;
    }
    while ((t == NIL && !task_record_available()) || (h == NIL && !heap_record_available())) {
        if (!task_reclaim()) {
            left_out(state);
            return;
        }
    }
    if (t == NIL) {
        t = task_record_new(task);
        if (t == NIL) {
            left_out(state);
            return;
        }
    }
    if (h == NIL) {
        h = heap_record_new(t, heap);
    }
    uint32_t quarter = size >> 2;
    if (!size_fits(size)) {
        big_put(address, size);
        quarter = I_SIZE_BIG;
    }
    heap_rec_t *hr = &s_heap_recs[h];
    task_rec_t *tr = &s_tasks[t];
    block_add(address | state, size, quarter | ((uint32_t)h << I_REC_SHIFT), hr, tr, slot);
    // The straight path relies on TLSF's size word (block_size_of).
    s_fast_task = s_size_checks >= SIZE_CHECKS ? task : FAST_NONE;
    s_fast_start = s_heaps[heap].start;
    s_fast_span = s_heaps[heap].end - s_heaps[heap].start;
    s_fast_hr = hr;
    s_fast_tr = tr;
    s_fast_rec_bits = (uint32_t)h << I_REC_SHIFT;
}

// A freed block made before any task ran: ESP-IDF knows no owner for it and
// leaves its record alone; so does this, found by nobody now.
static void HEAP_IRAM_ATTR record_ghost(ix_t e) {
    s_infos[e] &= ~I_FREEING;
    entry_set_state(e, K_GHOST);
}

// A free at address that found its entry e, every case (record_free takes
// the common one itself).
static HT_OFF_PATH void HEAP_IRAM_ATTR record_free_any(ix_t e, uintptr_t address, uint32_t hash) {
    uint32_t size = entry_size(e);
    if (entry_freeing(e)) {
        s_freeing -= 1;
    } else if (block_in_use(address, size)) {
        // A late hook: the heap handed this address out again, as the block
        // of this size in use there, before the free it reports got here (on
        // the other core). That block's entry stays (if its own alloc hook
        // has not run yet, that hook takes the old one out: record_alloc).
        tcb_freed(address);
        return;
    }
    heap_rec_t *hr = &s_heap_recs[entry_rec(e)];
    if (s_tasks[hr->task].handle == 0) {
        record_ghost(e);
        return;
    }
    record_drop(e, address);
    if (s_task_buckets[bucket_of(hash)] != NIL) {
        tcb_freed(address);
    }
}

// A free at address. The common case, straight through: a block whose size
// fits its entry, no longer in use at the heap, charged to a task (not
// Pre-scheduler), whose free is not under way in heaptrack; its entry's
// fields are read once, and every other case goes to record_free_any.
static inline void HEAP_IRAM_ATTR record_free(uintptr_t address) {
    uint32_t hash = ht_address_hash(address);
    ix_t e = entry_find_freed(address, hash);
    if (e == NIL) {
        // Not recorded (a table was full, or the tracker's own): its owner is
        // unknown, but a task's handle can only be freed as its TCB.
        tcb_freed(address);
        return;
    }
    if (!HT_STRAIGHT_PATHS) {
        record_free_any(e, address, hash);
        return;
    }
    uint32_t info = s_infos[e];
    uint32_t quarter = info & I_SIZE_BIG;
    heap_rec_t *hr = &s_heap_recs[(info >> I_REC_SHIFT) & I_REC_MASK];
    task_rec_t *tr = &s_tasks[hr->task];
    if (quarter == I_SIZE_BIG || entry_freeing(e) || block_in_use(address, quarter << 2) || tr->handle == 0) {
        record_free_any(e, address, hash);
        return;
    }
    entry_unlist(e, hr, tr, quarter << 2);
    entry_remove(e);
    if (s_task_buckets[bucket_of(hash)] != NIL) {
        tcb_freed(address);
    }
}

// The common allocation, straight through: made by the task in the heap of
// the last allocation (whose records are alive, and TLSF's size word trusted),
// a new block whose size fits its entry, with room for it. False, having changed nothing, for anything
// else (record_alloc's work).
static inline bool HEAP_IRAM_ATTR alloc_fast(uintptr_t address, uintptr_t state, ht_task_t task) {
    if (task != s_fast_task || address - s_fast_start >= s_fast_span || !entry_available()) {
        return false;
    }
    uint32_t size = size_word(address);   // a multiple of 4
    ix_t slot;
    if (size >= (I_SIZE_BIG << 2) || entry_probe(address, &slot) != NIL) {
        return false;
    }
    block_add(address | state, size, (size >> 2) | s_fast_rec_bits, s_fast_hr, s_fast_tr, slot);
    return true;
}

// An allocation, every case.
static void HEAP_IRAM_ATTR __attribute__((noinline)) alloc_any(uintptr_t address, uintptr_t state, ht_task_t task) {
    int heap = heap_of(address);
    ht_idf_heap_t found;
    if (heap < 0 && ht_idf_heap_containing(address, &found)) {
        // A heap not known yet, from ESP-IDF's registry.
        heap_add(&found);
        heap = heap_of(address);
    }
    if (heap >= 0) {
        record_alloc(address, state, block_size_of(address, (unsigned)heap), (unsigned)heap, task);
    } else {
        left_out(state);
    }
}

// The state of a block made by the task that holds ht_malloc's word
// (hand_out): heaptrack's, unless an interrupt handler made it on that task's
// core meanwhile (the current task is then the one it interrupted). The word
// then says that the hook ran, and s_handed that it recorded the block
// (left_out clears it).
static inline uintptr_t HEAP_IRAM_ATTR hand_out_state(uintptr_t address) {
    if (xPortInIsrContext()) {
        return K_PLAIN;
    }
    __atomic_store_n(&s_hand_out_task, HAND_OUT_DONE, __ATOMIC_RELAXED);
    s_handed = address;
    return K_HANDED;
}

// Puts heap_caps_init()'s block (boot_scan) where ESP-IDF's tracking has it
// since start-up, the hooks having missed it: Pre-scheduler's first block in
// its first heap, its size in their usage and peaks all along (the block was
// never freed, so each peak is what the hooks saw plus its size). With s_lock
// held.
static void boot_block_adopt(uintptr_t address, uint32_t size, unsigned heap) {
    ix_t slot;
    if (entry_probe(address, &slot) != NIL || !entry_available() || !size_fits(size)) {
        return;   // the hooks know it (they cannot), or no room: it stays out
    }
    ix_t t = task_find_alive(0);
    if (t == NIL) {
        if (!task_record_available() || !heap_record_available()) {
            s_untracked += 1;
            return;
        }
        // Last in ESP-IDF's order (handle 0), where ESP-IDF has it from the first.
        t = task_record_take();
        task_rec_t *tr = &s_tasks[t];
        memset(tr, 0, sizeof(*tr));
        tr->alive = true;
        tr->order_next = NIL;
        tr->heaps_first = tr->heaps_last = NIL;
        ix_t *link = &s_task_head;
        while (*link != NIL) {
            link = &s_tasks[*link].order_next;
        }
        *link = t;
        s_task_count += 1;
        size_t b = task_bucket_of(0);
        tr->hnext = s_task_buckets[b];
        s_task_buckets[b] = t;
    }
    task_rec_t *tr = &s_tasks[t];
    ix_t h = tr->heaps_first, prev = NIL;
    while (h != NIL && s_heap_recs[h].heap != heap) {
        prev = h;
        h = s_heap_recs[h].next;
    }
    if (h == NIL) {
        if (!heap_record_available()) {
            s_untracked += 1;
            return;
        }
        h = heap_record_take();
        heap_rec_t *hr = &s_heap_recs[h];
        memset(hr, 0, sizeof(*hr));
        hr->first = hr->last = hr->next = NIL;
        hr->task = t;
        hr->heap = (uint8_t)heap;
        tr->heap_count += 1;
        if (tr->heaps_last == NIL) {
            tr->heaps_last = h;
        }
    } else if (prev != NIL) {
        s_heap_recs[prev].next = s_heap_recs[h].next;   // out of its place, to the front
        if (tr->heaps_last == h) {
            tr->heaps_last = prev;
        }
    }
    if (tr->heaps_first != h) {
        s_heap_recs[h].next = tr->heaps_first;
        tr->heaps_first = h;
    }
    heap_rec_t *hr = &s_heap_recs[h];
    tr->current += size;
    tr->peak += size;
    hr->current += size;
    hr->peak += size;
    hr->count += 1;
    s_keys[slot] = address;
    s_infos[slot] = (size >> 2) | ((uint32_t)h << I_REC_SHIFT);
    s_links[slot].prev = NIL;
    s_links[slot].next = hr->first;
    if (hr->first != NIL) {
        s_links[hr->first].prev = slot;
    } else {
        hr->last = slot;
    }
    hr->first = slot;
    s_listed += 1;
    s_fast_task = FAST_NONE;   // its heap records moved
}

// What the hooks leave to the API's first call, in task context: every heap
// ESP-IDF has, and the block heap_caps_init() made. Walks heaps: call without
// s_lock held.
static void ensure_ready(void) {
    if (__atomic_load_n(&s_boot_adopted, __ATOMIC_ACQUIRE)) {
        return;
    }
    heaps_discover();
    boot_scan_t b = boot_scan();
    int heap = b.heap_start != 0 ? heap_of(b.address) : -1;
    taskENTER_CRITICAL(&s_lock);
    if (!s_boot_adopted) {
        if (heap >= 0) {
            boot_block_adopt(b.address, b.size, (unsigned)heap);
        }
        __atomic_store_n(&s_boot_adopted, true, __ATOMIC_RELEASE);
    }
    taskEXIT_CRITICAL(&s_lock);
}

/******************************************************************************/
// The hooks.

// The address ESP-IDF records for a block: executable memory handed out at its
// instruction-bus alias is recorded (and freed) at its data address, which
// ESP-IDF keeps in the word before the block.
static inline uintptr_t HEAP_IRAM_ATTR data_address(void *ptr) {
    if ((!esp_dram_match_iram() && esp_ptr_in_diram_iram(ptr)) ||
        (!esp_rtc_dram_match_rtc_iram() && esp_ptr_in_rtc_iram_fast(ptr))) {
        return (uintptr_t)((uint32_t *)ptr)[-1];
    }
    return (uintptr_t)ptr;
}

void esp_heap_trace_alloc_hook(void *ptr, size_t size, uint32_t caps) {
    (void)size;
    (void)caps;
    uintptr_t address = data_address(ptr);
    ht_task_t task = (ht_task_t)xTaskGetCurrentTaskHandle();
    taskENTER_CRITICAL(&s_lock);
    #if !HT_HAND_OUT_WORD
    if (!alloc_fast(address, s_hand_out, task)) {
        alloc_any(address, s_hand_out, task);
    }
    #else
    bool handed = task == __atomic_load_n(&s_hand_out_task, __ATOMIC_RELAXED);
    if (HT_STRAIGHT_PATHS && __builtin_expect(!handed, 1)) {
        // Anyone's: the straight path with its state a constant.
        if (!alloc_fast(address, K_PLAIN, task)) {
            alloc_any(address, K_PLAIN, task);
        }
    } else {
        uintptr_t state = handed ? hand_out_state(address) : K_PLAIN;
        if (!alloc_fast(address, state, task)) {
            alloc_any(address, state, task);
        }
    }
    #endif
    taskEXIT_CRITICAL(&s_lock);
}

void esp_heap_trace_free_hook(void *ptr) {
    // heaptrack's own free (give_back) dropped the record already, under the
    // lock it still holds: not a second critical section for nothing. (The
    // other core reads this too, only for a free of the same address, as late
    // as the race described at the top: it skips what it would have left alone.)
    if (HT_GIVE_BACK_DROPS && (uintptr_t)ptr == __atomic_load_n(&s_given_back, __ATOMIC_RELAXED)) {
        return;
    }
    taskENTER_CRITICAL(&s_lock);
    record_free((uintptr_t)ptr);
    taskEXIT_CRITICAL(&s_lock);
}

/******************************************************************************/
// heaptrack.malloc's blocks: their entries' keys carry K_HANDED.
//
// heaptrack's own frees are made in its critical section, the block's record
// dropped first: the hook of that very call, which runs inside it, skips the
// block, and no other core's hook runs between the heap's work and its hook.
// Its allocations are made outside it, the hook told by ht_malloc's word
// (hand_out); where the code is built for size, in it too, the hook told by
// s_hand_out. With ESP-IDF's task tracking on as well (the host's
// differential builds), ESP-IDF's own allocations and frees take a mutex,
// which no critical section may: there the block is marked before its free,
// and the call made outside the lock.

// heap_caps_free for heaptrack, with s_lock held, of the block at p whose
// entry is e (K_HANDED or K_CLAIMED; NIL: none).
static void give_back(ix_t e, void *p) {
    #if HT_CALL_IN_LOCK
    // Its record goes first, here, and its hook, which runs inside this
    // critical section, skips it (esp_heap_trace_free_hook). A new block the
    // heap hands out at this address meanwhile, on the other core, waits for
    // this lock to be recorded, so its free comes after s_given_back is 0 again.
    if (HT_GIVE_BACK_DROPS && e != NIL) {
        uintptr_t address = entry_address(e);
        record_drop(e, address);
        __atomic_store_n(&s_given_back, address, __ATOMIC_RELAXED);
    }
    heap_caps_free(p);
    __atomic_store_n(&s_given_back, 0, __ATOMIC_RELAXED);
    #else
    if (e != NIL) {
        // Given back before it goes back to the heap: a second ht_free of it,
        // even a concurrent one, finds it gone; its hook takes this entry.
        entry_set_state(e, K_PLAIN);
        s_infos[e] |= I_FREEING;
        s_freeing += 1;
    }
    taskEXIT_CRITICAL(&s_lock);
    heap_caps_free(p);
    taskENTER_CRITICAL(&s_lock);
    #endif
}

// heap_caps_malloc for ht_malloc: its block, recorded and marked K_HANDED, in
// *address; HT_ERR_NO_MEM or HT_ERR_FULL if the heap or the tables had no
// room. The call is made outside the lock (taking it around the heap's call
// would cost every ht_malloc a critical section of its own): the task takes
// ht_malloc's word instead, so that its hook marks the block as it records
// it (alloc_handed). While another task holds the word, the block is recorded
// as anyone's and marked afterwards, under the lock: nobody else knows its
// address meanwhile, so nobody can free it as heaptrack's.
static ht_err_t hand_out(size_t size, uint32_t caps, void **address) {
    void *p;
    bool recorded;
    #if !HT_HAND_OUT_WORD
    // In the lock: its hook runs in it, on this core, with interrupts masked.
    taskENTER_CRITICAL(&s_lock);
    size_t untracked = s_untracked;
    s_hand_out = K_HANDED;
    p = heap_caps_malloc(size, caps);
    s_hand_out = K_PLAIN;
    recorded = s_untracked == untracked;
    // Not handed out (below): its hook counted it, and it goes back.
    s_untracked = untracked;
    taskEXIT_CRITICAL(&s_lock);
    #else
    ht_task_t self = (ht_task_t)xTaskGetCurrentTaskHandle();
    ht_task_t none = HAND_OUT_NONE;
    if (__atomic_compare_exchange_n(&s_hand_out_task, &none, self, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
        p = heap_caps_malloc(size, caps);
        // Its hook has run, in this task, if there is a block: s_handed says
        // whether it recorded it.
        recorded = p != NULL && s_handed == data_address(p);
        __atomic_store_n(&s_hand_out_task, HAND_OUT_NONE, __ATOMIC_RELEASE);
    } else {
        size_t untracked = __atomic_load_n(&s_untracked, __ATOMIC_RELAXED);
        p = heap_caps_malloc(size, caps);
        taskENTER_CRITICAL(&s_lock);
        ix_t e = p != NULL ? entry_find(data_address(p)) : NIL;
        if (e != NIL) {
            entry_set_state(e, K_HANDED);
        } else if (p != NULL) {
            // Not handed out (below): its hook counted it, and it goes back.
            s_untracked -= s_untracked > untracked ? 1 : 0;
        }
        taskEXIT_CRITICAL(&s_lock);
        recorded = e != NIL;
    }
    #endif
    if (p == NULL) {
        return HT_ERR_NO_MEM;
    }
    if (!recorded) {
        // A block the statistics cannot show is not handed out: it goes back
        // at once, and its free finds no entry.
        heap_caps_free(p);
        return HT_ERR_FULL;
    }
    *address = p;
    return HT_OK;
}

ht_err_t ht_malloc(size_t size, uint32_t caps, void **address) {
    *address = NULL;
    ht_err_t err = ht_context_check();
    if (err != HT_OK) {
        return err;
    }
    return hand_out(size, caps, address);
}

ht_err_t ht_free(void *address) {
    ht_err_t err = ht_context_check();
    if (err != HT_OK) {
        return err;
    }
    if (address == NULL || ((uintptr_t)address & K_STATE) != 0) {
        return HT_ERR_NO_BLOCK;   // not a block's address (a key would match it)
    }
    ensure_ready();
    taskENTER_CRITICAL(&s_lock);
    ix_t e = entry_find_handed(data_address(address));
    if (e != NIL) {
        give_back(e, address);
    }
    taskEXIT_CRITICAL(&s_lock);
    return e != NIL ? HT_OK : HT_ERR_NO_BLOCK;
}

static bool handed_claim(size_t slot) {
    if (entry_state((ix_t)slot) == K_HANDED) {
        entry_set_state((ix_t)slot, K_CLAIMED);
        return true;
    }
    return false;
}

static bool handed_claimed(size_t slot) {
    return entry_state((ix_t)slot) == K_CLAIMED;
}

// Given back here, one per critical section: its free hook must know the
// block is heaptrack's (give_back).
static void *handed_take(size_t slot) {
    give_back((ix_t)slot, (void *)entry_address((ix_t)slot));
    return NULL;
}

static const ht_claim_table_t s_claim_table = {
    .lock = &s_lock,
    .slots = SLOTS,
    .batch = 1,
    .claim = handed_claim,
    .claimed = handed_claimed,
    .take = handed_take,
};

ht_err_t ht_free_all(size_t *count) {
    if (count != NULL) {
        *count = 0;
    }
    ht_err_t err = ht_context_check();
    if (err != HT_OK) {
        return err;
    }
    ensure_ready();
    size_t freed = ht_free_claimed(&s_claim_table);
    if (count != NULL) {
        *count = freed;
    }
    return HT_OK;
}

void ht_capacity(ht_capacity_t *capacity) {
    capacity->handed_out = HT_HOOKS_MAX_BLOCKS;
    capacity->blocks = HT_HOOKS_MAX_BLOCKS;
    capacity->tasks = HT_HOOKS_MAX_TASKS;
    capacity->snapshots = HT_HOOKS_MAX_SNAPSHOTS;
}

/******************************************************************************/
// Snapshots: one copy of the records, taken under the lock, into memory no
// task is charged for and no hook sees (ht_idf_uncharged_alloc: from the
// biggest heap, where ESP-IDF's tracker takes its arrays, PSRAM where there is
// some; never from a pool kept in reserve).

static void *snapshot_alloc(size_t bytes) {
    #if HT_HOOKS_SNAPSHOT_LIBC
    void *p = malloc(bytes);
    #else
    void *p = ht_idf_uncharged_alloc(bytes);
    #endif
    return p;
}

static void snapshot_free(void *p) {
    #if HT_HOOKS_SNAPSHOT_LIBC
    free(p);
    #else
    ht_idf_uncharged_free(p);
    #endif
}

typedef struct {
    size_t tasks, heaps, blocks;
} counts_t;

// The record a one-task snapshot shows: the alive one with that handle, else
// the first (a handle has several records when a new task got a deleted one's TCB).
static ix_t snapshot_task(ht_task_t handle) {
    ix_t found = NIL;
    for (ix_t t = s_task_head; t != NIL; t = s_tasks[t].order_next) {
        if (s_tasks[t].handle == handle && (found == NIL || s_tasks[t].alive)) {
            found = t;
        }
    }
    return found;
}

// What a snapshot copies: each task's totals only, its heaps too, or its
// heaps and their blocks (tracker.h: ht_snapshot_take_totals, ht_snapshot_take).
typedef enum { COPY_TOTALS, COPY_HEAPS, COPY_BLOCKS } copy_t;

static counts_t snapshot_counts(bool all, ix_t one, copy_t copy) {
    counts_t c = { 0, 0, 0 };
    bool with_blocks = copy == COPY_BLOCKS;
    if (all) {
        c.tasks = s_task_count;
        c.heaps = copy == COPY_TOTALS ? 0 : s_heap_rec_count;
        c.blocks = with_blocks ? s_listed : 0;
    } else if (one != NIL) {
        c.tasks = 1;
        c.heaps = copy == COPY_TOTALS ? 0 : s_tasks[one].heap_count;
        for (ix_t h = s_tasks[one].heaps_first; with_blocks && h != NIL; h = s_heap_recs[h].next) {
            c.blocks += s_heap_recs[h].count;
        }
    }
    return c;
}

static size_t snapshot_bytes(counts_t c) {
    return c.tasks * sizeof(ht_task_stat_t) + c.heaps * sizeof(ht_heap_stat_t) + c.blocks * sizeof(ht_block_t);
}

static void snapshot_copy_task(ix_t t, ht_task_stat_t *out, ht_heap_stat_t **heaps, ht_block_t **blocks,
    bool with_blocks) {
    const task_rec_t *tr = &s_tasks[t];
    memset(out, 0, sizeof(*out));
    if (tr->handle == 0) {
        strcpy(out->name, "Pre-scheduler");
    } else {
        memcpy(out->name, tr->name, sizeof(out->name));
        out->name[sizeof(out->name) - 1] = '\0';
    }
    out->handle = tr->handle;
    out->is_alive = tr->alive;
    out->overall_current_usage = tr->current;
    out->overall_peak_usage = tr->peak;
    out->heap_count = tr->heap_count;
    if (heaps == NULL) {
        return;   // totals only
    }
    out->heap_stat = *heaps;
    for (ix_t h = tr->heaps_first; h != NIL; h = s_heap_recs[h].next) {
        const heap_rec_t *hr = &s_heap_recs[h];
        heap_desc_t *heap = &s_heaps[hr->heap];
        ht_heap_stat_t *hs = (*heaps)++;
        *hs = (ht_heap_stat_t) {
            .name = heap_name_of(heap),
            .caps = heap->caps,
            .size = heap->end - heap->start,
            .current_usage = hr->current,
            .peak_usage = hr->peak,
            .alloc_count = hr->count,
            .blocks = NULL,
        };
        if (with_blocks) {
            hs->blocks = hr->count != 0 ? *blocks : ht_no_blocks;
            for (ix_t e = hr->first; e != NIL; e = s_links[e].next) {
                ht_block_t *b = (*blocks)++;
                b->task = tr->handle;
                b->address = (void *)entry_address(e);
                b->size = entry_size(e);
            }
        }
    }
}

#define HT_SNAPSHOT_TRIES 8

static void records_compute(ht_records_t *records);

// The storage of each snapshot slot (tracker_private.h): NULL while a held
// slot's copy is being made, or when it needed none.
static void *s_storage[HT_HOOKS_MAX_SNAPSHOTS];
static bool s_held[HT_HOOKS_MAX_SNAPSHOTS];
static const ht_slots_t s_snapshot_slots = { s_held, HT_HOOKS_MAX_SNAPSHOTS, &s_lock };

static void held_release(int slot) {
    taskENTER_CRITICAL(&s_lock);
    void *storage = s_storage[slot];
    s_storage[slot] = NULL;
    taskEXIT_CRITICAL(&s_lock);
    if (storage != NULL) {
        snapshot_free(storage);
    }
    ht_slot_give(&s_snapshot_slots, slot);
}

static ht_err_t snapshot_fill(ht_snapshot_t *snap, bool all, ht_task_t task, copy_t copy, void **held) {
    bool with_blocks = copy == COPY_BLOCKS;
    ensure_ready();
    for (int attempt = 0; attempt < HT_SNAPSHOT_TRIES; ++attempt) {
        taskENTER_CRITICAL(&s_lock);
        ix_t one = all ? NIL : snapshot_task(task);
        counts_t want = snapshot_counts(all, one, copy);
        taskEXIT_CRITICAL(&s_lock);
        if (!all && one == NIL) {
            return HT_ERR_NO_TASK;
        }
        size_t bytes = snapshot_bytes(want);
        void *storage = NULL;
        if (bytes != 0) {
            storage = snapshot_alloc(bytes);
            if (storage == NULL) {
                return HT_ERR_NO_MEM;
            }
        }

        taskENTER_CRITICAL(&s_lock);
        one = all ? NIL : snapshot_task(task);
        counts_t have = snapshot_counts(all, one, copy);
        bool fits = (all || one != NIL) && have.tasks <= want.tasks && have.heaps <= want.heaps
            && have.blocks <= want.blocks;
        if (fits) {
            ht_task_stat_t *tasks = storage;
            ht_heap_stat_t *heaps = (ht_heap_stat_t *)(void *)(tasks + want.tasks);
            ht_block_t *blocks = (ht_block_t *)(void *)(heaps + want.heaps);
            ht_heap_stat_t **heaps_at = copy == COPY_TOTALS ? NULL : &heaps;
            size_t n = 0;
            if (all) {
                for (ix_t t = s_task_head; t != NIL; t = s_tasks[t].order_next) {
                    snapshot_copy_task(t, &tasks[n++], heaps_at, &blocks, with_blocks);
                }
            } else {
                snapshot_copy_task(one, &tasks[n++], heaps_at, &blocks, with_blocks);
            }
            snap->task_count = n;
            snap->tasks = n != 0 ? tasks : NULL;
            snap->untracked = s_untracked;
            snap->dropped_tasks = s_dropped_tasks;
            records_compute(&snap->records);
            *held = storage;
        }
        taskEXIT_CRITICAL(&s_lock);
        if (fits) {
            return HT_OK;
        }
        if (storage != NULL) {
            snapshot_free(storage);
        }
        if (!all && one == NIL) {
            return HT_ERR_NO_TASK;
        }
    }
    return HT_ERR_BUSY;
}

static ht_err_t snapshot_take(ht_snapshot_t *snap, bool all, ht_task_t task, copy_t copy) {
    memset(snap, 0, sizeof(*snap));
    ht_err_t err = ht_context_check();
    if (err != HT_OK) {
        return err;
    }
    int slot = ht_slot_take(&s_snapshot_slots);
    if (slot < 0) {
        return HT_ERR_FULL;
    }
    void *storage = NULL;
    err = snapshot_fill(snap, all, task, copy, &storage);
    if (err != HT_OK) {
        held_release(slot);
        memset(snap, 0, sizeof(*snap));
        return err;
    }
    taskENTER_CRITICAL(&s_lock);
    s_storage[slot] = storage;
    taskEXIT_CRITICAL(&s_lock);
    snap->storage = &s_storage[slot];
    return HT_OK;
}

ht_err_t ht_snapshot_take(ht_snapshot_t *snap, bool all, ht_task_t task, bool with_blocks) {
    return snapshot_take(snap, all, task, with_blocks ? COPY_BLOCKS : COPY_HEAPS);
}

ht_err_t ht_snapshot_take_totals(ht_snapshot_t *snap, bool all, ht_task_t task) {
    return snapshot_take(snap, all, task, COPY_TOTALS);
}

void ht_snapshot_release(ht_snapshot_t *snap) {
    if (snap->storage != NULL) {
        held_release((int)((void **)snap->storage - s_storage));
    }
    memset(snap, 0, sizeof(*snap));
}

void ht_vm_restart(void) {
    // The tasks of the previous VM are gone: ht_malloc's word, if one was
    // deleted inside ht_malloc (only the VM's tasks call it, and none runs
    // now), and the snapshots they held are nobody's now.
    __atomic_store_n(&s_hand_out_task, HAND_OUT_NONE, __ATOMIC_RELEASE);
    for (int i = 0; i < HT_HOOKS_MAX_SNAPSHOTS; ++i) {
        if (s_held[i]) {
            held_release(i);
        }
    }
    ensure_ready();
}

/******************************************************************************/
// The tables' room, for heap_info().

// With s_lock held. The records never take heap here, and a new task gets a
// deleted one's record when the table is full, if one holds no block: the
// records run out only when deleted tasks holding blocks fill the table.
static void records_compute(ht_records_t *records) {
    records->room = HT_HOOKS_MAX_BLOCKS - s_listed;
    records->full = !entry_available();
    records->untracked = s_untracked;
    records->tasks = s_task_count;
    records->deleted = 0;
    for (ix_t t = s_task_head; t != NIL; t = s_tasks[t].order_next) {
        records->deleted += s_tasks[t].alive ? 0 : 1;
    }
    records->bytes = s_task_count * sizeof(task_rec_t) + s_heap_rec_count * sizeof(heap_rec_t)
        + s_listed * ENTRY_BYTES;
    records->tasks_left = (size_t)(HT_HOOKS_MAX_TASKS - s_task_count) + s_reclaimable;
    records->low = records->tasks_left < HT_HOOKS_MAX_TASKS / 4;
}

ht_err_t ht_records_info(ht_records_t *records) {
    memset(records, 0, sizeof(*records));
    ht_err_t err = ht_context_check();
    if (err != HT_OK) {
        return err;
    }
    taskENTER_CRITICAL(&s_lock);
    records_compute(records);
    taskEXIT_CRITICAL(&s_lock);
    return HT_OK;
}

ht_err_t ht_reset_peak(void) {
    ht_err_t err = ht_context_check();
    if (err != HT_OK) {
        return err;
    }
    ensure_ready();
    taskENTER_CRITICAL(&s_lock);
    for (ix_t t = s_task_head; t != NIL; t = s_tasks[t].order_next) {
        task_rec_t *tr = &s_tasks[t];
        if (!tr->alive) {
            continue;
        }
        tr->peak = tr->current;
        for (ix_t h = tr->heaps_first; h != NIL; h = s_heap_recs[h].next) {
            s_heap_recs[h].peak = s_heap_recs[h].current;
        }
    }
    taskEXIT_CRITICAL(&s_lock);
    return HT_OK;
}

ht_err_t ht_clear(size_t *dropped) {
    *dropped = 0;
    ht_err_t err = ht_context_check();
    if (err != HT_OK) {
        return err;
    }
    ensure_ready();
    taskENTER_CRITICAL(&s_lock);
    for (ix_t prev = NIL, t = s_task_head; t != NIL;) {
        ix_t next = s_tasks[t].order_next;
        if (reclaimable(&s_tasks[t])) {
            task_record_free(t, prev);
            s_reclaimable -= 1;
            *dropped += 1;
        } else {
            prev = t;
        }
        t = next;
    }
    taskEXIT_CRITICAL(&s_lock);
    return HT_OK;
}

ht_err_t ht_block_owner(uintptr_t address, ht_task_t *owner, size_t *size) {
    ht_err_t err = ht_context_check();
    if (err != HT_OK) {
        return err;
    }
    ensure_ready();
    taskENTER_CRITICAL(&s_lock);
    ix_t e = entry_find(data_address((void *)address));
    if (e != NIL) {
        *owner = s_tasks[s_heap_recs[entry_rec(e)].task].handle;
        *size = entry_size(e);
    }
    taskEXIT_CRITICAL(&s_lock);
    return e != NIL ? HT_OK : HT_ERR_NO_BLOCK;
}

const char *ht_untracked_cause(void) {
    return "the tracker's tables were full";
}
