// Heap accounting: the seam between the heaptrack bindings and ESP-IDF's heap.
// Pure C, no MicroPython: tracker_idf.c implements it on ESP-IDF's heap task
// tracking, on every board and on the host (ESP-IDF's heap built for the
// host, boards/HOST/esp_idf), and the C unit tests drive it directly;
// tracker_hooks.c, heaptrack's own tracker on ESP-IDF's heap hooks, is the
// other implementation, chosen per build (docs/hooks-tracker.md).
// Starting tasks needs MicroPython and lives apart, in task_port.h.
// Everything above these two headers is platform-free.
//
// The statistics types mirror ESP-IDF's esp_heap_task_info.h (task_stat_t,
// heap_stat_t, heap_task_block_t) so that the ESP-IDF tracker is a field-by-field
// copy and the renderer prints exactly what ESP-IDF would.
//
// Memory for snapshots and bookkeeping comes from the C heap (or ESP-IDF's heap),
// never from the MicroPython GC heap, so reports can stream any number of blocks.
#ifndef HEAPTRACK_TRACKER_H
#define HEAPTRACK_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// ESP-IDF's MALLOC_CAP_* bit values (esp_heap_caps.h).
#define HT_CAP_EXEC            (1u << 0)
#define HT_CAP_32BIT           (1u << 1)
#define HT_CAP_8BIT            (1u << 2)
#define HT_CAP_DMA             (1u << 3)
#define HT_CAP_SPIRAM          (1u << 10)
#define HT_CAP_INTERNAL        (1u << 11)
#define HT_CAP_DEFAULT         (1u << 12)
// The caps a caller may request through heaptrack.malloc().
#define HT_CAP_ALLOWED (HT_CAP_EXEC | HT_CAP_32BIT | HT_CAP_8BIT | HT_CAP_DMA | \
    HT_CAP_SPIRAM | HT_CAP_INTERNAL | HT_CAP_DEFAULT)

// configMAX_TASK_NAME_LEN on the esp32 port (terminating NUL included).
#define HT_TASK_NAME_LEN (16)

// A task handle: TaskHandle_t's value, the address of the task's TCB (reused
// once the TCB is freed and the heap hands its block out again).
typedef uintptr_t ht_task_t;

// The error contract. Every call that can fail returns one of these, and its
// results go through out-parameters; its prototype below lists the codes it
// can return. A code names one cause a caller can act on, the same on every
// tracker, so that the bindings map each to one exception (errors.c) with no
// case of their own; ht_err_text() gives the tracker's sentence for it. Calls
// that cannot fail (facts fixed at build time, the calling task, releasing a
// snapshot) return their value directly.
typedef enum {
    HT_OK = 0,
    HT_ERR_NO_MEM,        // no heap has room: none with the requested caps for
                          // the block, or none for the copy of the statistics
                          // (free memory, or ask for less: an overview copies least)
    HT_ERR_FULL,          // one of the tracker's own tables is full: its records
                          // of blocks or tasks, or its snapshot slots (free
                          // blocks or release snapshots first; a build-time knob
                          // makes it bigger)
    HT_ERR_BUSY,          // the statistics kept changing while being copied,
                          // every attempt: nothing is wrong, call again
    HT_ERR_NO_TASK,       // no record of that task handle (tasks are tracked
                          // from their first allocation)
    HT_ERR_NO_BLOCK,      // an address that is not a live block handed out
                          // (by ht_malloc, for ht_free), or freed already
    HT_ERR_CONTEXT,       // called from an interrupt handler or with interrupts
                          // masked, where ESP-IDF's tracking cannot run
    HT_ERR_UNSUPPORTED,   // this firmware's tracker cannot do it (built without
                          // heap task tracking, or the call has no ESP-IDF
                          // equivalent)
    HT_ERR_INCONSISTENT,  // the tracker's records contradict themselves so that
                          // the blocks cannot be listed safely (overviews still work)
} ht_err_t;

// The tracker's sentence for err, naming this firmware's limits and what to
// do (as esp_err_to_name() does for esp_err_t, with reasons): a constant
// string, never NULL, the same for every caller, so no tracker keeps a
// message of the last failure that concurrent tasks would overwrite.
const char *ht_err_text(ht_err_t err);

// heap_task_block_t
typedef struct {
    ht_task_t task;
    void *address;
    uint32_t size;
} ht_block_t;

// heap_stat_t
typedef struct {
    const char *name;
    uint32_t caps;
    size_t size;
    size_t current_usage;
    size_t peak_usage;
    size_t alloc_count;
    ht_block_t *blocks;   // alloc_count entries in allocation order, or NULL
                          // when the snapshot was taken without blocks; see
                          // ht_heap_block_count
} ht_heap_stat_t;

// task_stat_t
typedef struct {
    char name[HT_TASK_NAME_LEN];
    ht_task_t handle;
    bool is_alive;
    size_t overall_peak_usage;
    size_t overall_current_usage;
    size_t heap_count;
    ht_heap_stat_t *heap_stat;   // heap_count entries, in order of first use
} ht_task_stat_t;

// Where the tracker keeps its records, and whether they still fit.
typedef struct {
    uintptr_t heap_start;   // the heap region holding them (ht_region_info_t.start);
                            // 0 when they live in static tables
    size_t room;            // records the tracker can still make there: for a heap,
                            // its largest free block in bytes; for tables, free entries
    bool full;              // the next new task, heap or block may go unrecorded
    size_t untracked;       // as ht_snapshot_t.untracked
    size_t tasks;           // task records held, deleted tasks' included
    size_t deleted;         // ... of them deleted tasks' (kept until a hard reset by
                            // ESP-IDF's tracker; reused when full by heaptrack's)
    size_t bytes;           // what the records take: of the heap holding them, or of
                            // heaptrack's static tables
    size_t tasks_left;      // about how many more tasks can get a record, and be
                            // reported, before the records run out
    bool low;               // tasks_left is down to the tasks recorded or fewer: the
                            // records have taken over half their room (warn now)
} ht_records_t;

// One consistent copy of the tracker's state, in ESP-IDF's task order
// (decreasing task handle).
typedef struct {
    size_t task_count;
    ht_task_stat_t *tasks;
    void *storage;   // owned by the tracker; released by ht_snapshot_release
    size_t untracked;   // allocations the tracker could not record (ht_untracked_cause
                        // says why), so missing from these figures
    size_t drifted;     // tasks whose figures in this copy do not add up (their heaps'
                        // usage against their total, their blocks against their
                        // counts): the tracker lost some of their records
    size_t dropped_tasks;   // deleted tasks whose records were reused for new
                            // tasks (the table of records was full), so no
                            // longer in these figures; always 0 for ESP-IDF's
    ht_records_t records;   // the records' room when the copy was taken
                            // (ht_records_info's figures)
} ht_snapshot_t;

// What heap->blocks points at, in a snapshot with blocks and in copies of
// one, for a heap that lists none: an empty list, where NULL says that no
// blocks were copied.
extern ht_block_t ht_no_blocks[1];

// How many of heap->blocks hold a block: alloc_count, or fewer when the tracker
// counted blocks whose records it could not make (ESP-IDF's tracker, with its
// biggest heap full). Those are the trailing entries, with a NULL address.
static inline size_t ht_heap_block_count(const ht_heap_stat_t *heap) {
    size_t n = 0;
    while (heap->blocks != NULL && n < heap->alloc_count && heap->blocks[n].address != NULL) {
        n++;
    }
    return n;
}

// Fills *records (the figures heaptrack.heap_info() shows about the tracker).
// Returns HT_OK; HT_ERR_CONTEXT; HT_ERR_UNSUPPORTED without task tracking.
ht_err_t ht_records_info(ht_records_t *records);

// Why allocations go unrecorded, as a phrase ("its tables were full").
const char *ht_untracked_cause(void);

// Sets every alive task's peak usage, overall and per heap, back to its current
// usage, as tracemalloc.reset_peak() does.
// Returns HT_OK; HT_ERR_CONTEXT; HT_ERR_UNSUPPORTED where the tracker cannot:
// ESP-IDF's keeps each peak inside its own records, with no call to reset it.
ht_err_t ht_reset_peak(void);

// Forgets the records of deleted tasks that hold no block: their peaks and heap
// usage. A deleted task that still holds blocks keeps its record, or its
// blocks would lose their owner. *dropped gets how many were forgotten (0 on
// any error).
// Returns HT_OK; HT_ERR_CONTEXT; HT_ERR_UNSUPPORTED where the tracker cannot
// forget them: ESP-IDF's keeps every deleted task's record
// (CONFIG_HEAP_TRACK_DELETED_TASKS) until a hard reset.
ht_err_t ht_clear(size_t *dropped);

// The task a live block was charged to, and its size as the statistics count it
// (ht_block_t.size). address is what the allocation returned (for a block of
// executable memory, its data address), and must be a live block's: ESP-IDF's
// tracker reads the owner word its tracking writes before the block (the
// module asks only of the GC heap's areas), heaptrack's looks it up.
// Returns HT_OK; HT_ERR_CONTEXT (heaptrack's tracker); HT_ERR_NO_BLOCK for a
// block heaptrack's tracker does not know; HT_ERR_UNSUPPORTED without task
// tracking.
ht_err_t ht_block_owner(uintptr_t address, ht_task_t *owner, size_t *size);

// One heap region, with multi_heap_info_t's figures.
typedef struct {
    const char *name;
    uint32_t caps;
    uintptr_t start;            // first address
    size_t total_size;
    size_t free_size;
    size_t largest_free_block;
    size_t minimum_free_size;   // low-water mark of free_size since start-up
} ht_region_info_t;

// Copies up to max regions, in the order heap_caps_malloc tries them, into
// regions; *count gets how many there are (which may exceed max; 0 on error).
// Returns HT_OK; HT_ERR_CONTEXT.
ht_err_t ht_region_info(ht_region_info_t *regions, size_t max, size_t *count);

// Allocates size bytes with the given caps, charged to the calling task, into
// *address (NULL on any error, and then nothing is charged to anybody).
// Returns HT_OK; HT_ERR_NO_MEM when no heap with those caps can hold it (a
// size of 0 included, as ESP-IDF's malloc(0)); HT_ERR_FULL when the tracker
// has no room to record another block, whatever the caps; HT_ERR_CONTEXT.
ht_err_t ht_malloc(size_t size, uint32_t caps, void **address);

// Frees a block that ht_malloc returned.
// Returns HT_OK; HT_ERR_NO_BLOCK, and nothing touched, for any other address
// or a block already freed (by ht_free or ht_free_all); HT_ERR_CONTEXT.
ht_err_t ht_free(void *address);

// Frees every block ht_malloc handed out and nobody freed; *count gets how
// many (0 on error).
// Returns HT_OK; HT_ERR_CONTEXT.
ht_err_t ht_free_all(size_t *count);

// Fills *snap (zeroed on any error, and then nothing to release). With all
// set, every tracked task; otherwise only `task`. with_blocks adds the live
// blocks.
// Returns HT_OK; HT_ERR_NO_TASK when `task` has no record; HT_ERR_NO_MEM when
// no heap has room for the copy; HT_ERR_FULL when every snapshot slot is held;
// HT_ERR_BUSY when the statistics kept changing through every attempt to copy
// them; HT_ERR_INCONSISTENT (with_blocks only, ESP-IDF's tracker) when its
// block counts cannot be trusted to list blocks; HT_ERR_CONTEXT;
// HT_ERR_UNSUPPORTED without task tracking.
ht_err_t ht_snapshot_take(ht_snapshot_t *snap, bool all, ht_task_t task, bool with_blocks);
// As ht_snapshot_take without blocks, but each task's totals only: its
// heap_count without its heaps (heap_stat NULL). What an overview prints, in
// the least memory a copy takes, so that overviews and host tools' samples
// keep working when a board's records leave too little room for a full copy.
// Returns as ht_snapshot_take without blocks.
ht_err_t ht_snapshot_take_totals(ht_snapshot_t *snap, bool all, ht_task_t task);
// Gives a snapshot's memory and slot back; a zeroed snapshot is fine. Cannot fail.
void ht_snapshot_release(ht_snapshot_t *snap);

// Whether the caller may use the tracker: with heap task tracking, every
// heap_caps_malloc, free and statistics copy takes a FreeRTOS mutex, which an
// interrupt handler or code between machine.disable_irq() and enable_irq()
// must not (ESP-IDF asserts). ht_malloc, ht_free, ht_free_all,
// ht_snapshot_take and ht_region_info check it themselves and change nothing
// when it fails.
// Returns HT_OK; HT_ERR_CONTEXT.
ht_err_t ht_context_check(void);

// MicroPython has (re)started, after a soft reset: every task that ran Python
// code before it was deleted, possibly in the middle of a heaptrack call (a
// report releases the GIL while it prints). Reclaims what such a task held:
// snapshots it had not released, registry slots it had reserved. Call before
// any task uses the tracker (the module's first import does). Cannot fail.
void ht_vm_restart(void);

// The calling task's handle.
ht_task_t ht_current_task(void);

// True when deleted tasks keep their records (CONFIG_HEAP_TRACK_DELETED_TASKS).
bool ht_track_deleted(void);

// Which tracker this firmware was built with, as heaptrack.TRACKER names it:
// "idf" (tracker_idf.c, ESP-IDF's heap task tracking) or "hooks"
// (tracker_hooks.c, heaptrack's own on ESP-IDF's heap hooks). NULL when
// there is none: tracker_idf.c built with CONFIG_HEAP_TASK_TRACKING off, where
// malloc and free work and statistics fail with HT_ERR_UNSUPPORTED.
const char *ht_tracker_name(void);

// The caps bits heaptrack.malloc refuses on this chip (0 for none), and in
// *reason why (a sentence). On chips whose data and instruction buses see
// internal RAM at different addresses, heap_caps_malloc(MALLOC_CAP_EXEC) hands
// out the instruction-bus alias while ESP-IDF's statistics record the data
// address, so such a block could not be matched in reports.
uint32_t ht_caps_refused(const char **reason);

#endif // HEAPTRACK_TRACKER_H
