// The ESP-IDF tracker: tracker.h on top of ESP-IDF v5.5's heap task tracking
// (esp_heap_task_info.h). It includes no MicroPython header, so that
// `make check-idf` can compile it against ESP-IDF's headers alone.
//
// Three things keep the module's own bookkeeping out of ESP-IDF's statistics.
// heap_caps_malloc() charges the calling task, so:
//   - the registry of outstanding addresses is a static table, never heap;
//   - a full registry is detected before allocating, not by allocating and
//     freeing again (which would raise the caller's peak);
//   - snapshots live in arrays taken straight from the TLSF heap, uncharged,
//     as ESP-IDF takes its own statistics arrays (ht_idf_uncharged_alloc), so
//     taking a report neither creates a task record nor moves anyone's peak.
//     heap_caps_get_all_task_stat() fills them, and they are converted in place
//     to the tracker types, which have the same size (checked below).
//
// heaptrack sizes those arrays itself rather than through
// heap_caps_alloc_all_task_stat_arrays(), which also allocates a block array
// for every live block in the system (12 bytes each) in ESP-IDF's biggest
// heap, overviews included: a report of a board with 10,000 blocks would take
// 120 KB from under Wi-Fi's feet. An overview takes a task array and a heap
// array, sized as the last copy needed; only a report with blocks takes the
// block array, and only of the blocks there are.
//
// Snapshots always come from the all-tasks API, also for one task: ESP-IDF's
// single-task sizing counts only ALIVE tasks (a DELETED task would come back
// with heap_count > 0 but no heap array, however often we retried), treats a
// NULL handle as "the calling task" (ours means the Pre-scheduler pseudo-task),
// and locks twice. Filtering one consistent all-tasks copy has none of that.
//
// Build-time knobs (define with -D):
//   HT_IDF_MAX_BLOCKS       outstanding blocks heaptrack.malloc can hand out
//                           (default 1024; a power of two; 8 bytes of .bss each)
//   HT_IDF_MAX_SNAPSHOTS    snapshots that may be held at the same time (16)
//   HT_IDF_SNAPSHOT_TRIES   attempts to copy statistics that keep changing (8)
//   HT_IDF_SPARE_BLOCKS     spare entries after every block array handed to
//                           ESP-IDF (8, plus one per 16 blocks; see blocks_attach)
//
// ESP-IDF keeps its tracking records in its biggest heap only, and when that
// heap is full it drops them with one line of log. heaptrack counts those
// lines (log_watch), checks every copy it takes for figures that no longer add
// up, and tells how much room that heap has left (ht_records_info), so that
// reports and heap_info() can say when their numbers are incomplete.

#include <stdint.h>
#include <string.h>

#include "sdkconfig.h"
#include "esp_err.h"
#include "esp_heap_caps.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#if CONFIG_HEAP_TASK_TRACKING
#include "esp_heap_task_info.h"
#include "esp_log.h"
// ESP-IDF's registry of heaps (components/heap, not a public header): which
// heap holds the tracking records, and room there for the arrays handed to
// ESP-IDF (records_heap, blocks_attach). check-idf compiles this against every
// ESP-IDF the tracker supports. The heap component is compiled with
// MULTI_HEAP_FREERTOS wherever FreeRTOS is in the build, always on a board
// (components/heap/CMakeLists.txt); it gives heap_t's lock its type.
#ifndef MULTI_HEAP_FREERTOS
#define MULTI_HEAP_FREERTOS
#endif
#include "heap_private.h"
#endif

#include "tracker.h"
#include "idf_heaps.h"
#include "tracker_private.h"

// ESP-IDF v5.5.1 and v5.5.2 can reset a classic ESP32 at boot with heap task
// tracking on: find_biggest_heap() may pick a startup-stack heap that is not
// registered yet (espressif/esp-idf#17232, fixed in v5.5.3).
#include "esp_idf_version.h"
#if ESP_IDF_VERSION < ESP_IDF_VERSION_VAL(5, 5, 3)
#error "heaptrack needs ESP-IDF v5.5.3 or later: older heap task tracking can reset an ESP32 at boot (espressif/esp-idf#17232)"
#endif

#ifndef HT_IDF_MAX_BLOCKS
#define HT_IDF_MAX_BLOCKS 1024
#endif
#ifndef HT_IDF_MAX_SNAPSHOTS
#define HT_IDF_MAX_SNAPSHOTS 16
#endif
#ifndef HT_IDF_SNAPSHOT_TRIES
#define HT_IDF_SNAPSHOT_TRIES 8
#endif
#ifndef HT_IDF_SPARE_BLOCKS
#define HT_IDF_SPARE_BLOCKS 8
#endif

// The sentences of ht_err_text that name this firmware's limits and what to
// do; a code whose causes differ by call names them all, since the text
// depends on the code alone.
static const ht_err_texts_t s_texts = {
    #if CONFIG_HEAP_TASK_TRACKING
    .no_mem = HT_TEXT_NO_MEM,
    .full = "heaptrack can keep at most " HT_STR(HT_IDF_MAX_BLOCKS) " blocks outstanding on this firmware: "
        "free some first (or rebuild with a larger HT_IDF_MAX_BLOCKS); or "
        HT_TEXT_SNAPSHOTS_FULL(HT_IDF_MAX_SNAPSHOTS),
    .busy = HT_TEXT_BUSY("ESP-IDF's"),
    .inconsistent = "ESP-IDF's block counts are wrong (its realloc miscounts the blocks of a deleted task whose "
        "TCB address a new task got), so its blocks cannot be listed safely; overviews still work",
    // Only reset_peak and clear are unsupported with tracking on.
    .unsupported = "ESP-IDF's heap task tracking keeps each task's peak since its first allocation, inside its "
        "own records, with no call to reset it, and keeps every deleted task's record, its name, "
        "peak and heap usage (CONFIG_HEAP_TRACK_DELETED_TASKS), in its biggest heap until a hard "
        "reset (machine.reset()): only that forgets them, or heaptrack's tracker "
        "(HEAPTRACK_TRACKER=hooks), which can do both; host tools show peaks since their first sample",
    .context = HT_TEXT_CONTEXT_PREFIX "ESP-IDF's heap task tracking takes a FreeRTOS mutex "
        "on every allocation, free and report",
    #else
    .no_mem = "no heap with the requested capabilities has room for the block",
    .full = "heaptrack can keep at most " HT_STR(HT_IDF_MAX_BLOCKS) " blocks outstanding on this firmware: "
        "free some first (or rebuild with a larger HT_IDF_MAX_BLOCKS)",
    .unsupported = "this firmware was built without ESP-IDF heap task tracking: "
        "rebuild it with CONFIG_HEAP_TASK_TRACKING=y (and CONFIG_HEAP_TRACK_DELETED_TASKS=y) in its sdkconfig",
    // Without tracking nothing copies statistics or checks the context: these
    // codes cannot come from this build, but every code has a sentence.
    .busy = HT_TEXT_BUSY("the"),
    .inconsistent = "the task statistics contradict themselves",
    .context = "heaptrack cannot be used in an interrupt handler",
    #endif
};

const char *ht_err_text(ht_err_t err) {
    return ht_err_text_of(&s_texts, err);
}

ht_err_t ht_context_check(void) {
    #if CONFIG_HEAP_TASK_TRACKING
    if (!ht_idf_task_context()) {
        return HT_ERR_CONTEXT;
    }
    #endif
    return HT_OK;
}

bool ht_track_deleted(void) {
    #if CONFIG_HEAP_TASK_TRACKING && CONFIG_HEAP_TRACK_DELETED_TASKS
    return true;
    #else
    return false;
    #endif
}

const char *ht_tracker_name(void) {
    #if CONFIG_HEAP_TASK_TRACKING
    return "idf";
    #else
    return NULL;
    #endif
}

/******************************************************************************/
// The registry of outstanding addresses.
//
// One of tracker_private.h's tables of addresses, in static memory: twice as
// many slots as blocks, so probes stay short. A slot holds 0 (empty), an
// address handed out by ht_malloc, or that address with bit 0 set once
// ht_free_all has claimed it (heap blocks are at least 4-byte aligned, so
// bit 0 is free). A claimed address is no longer "handed out": ht_free
// refuses it, exactly as after a free.
//
// All of it is guarded by one spinlock. Nothing that can block (the heap takes
// a mutex) runs while it is held; the longest hold is one pass over the slots.

#define HT_SLOTS (2 * HT_IDF_MAX_BLOCKS)
_Static_assert(HT_IDF_MAX_BLOCKS > 0 && (HT_IDF_MAX_BLOCKS & (HT_IDF_MAX_BLOCKS - 1)) == 0,
    "HT_IDF_MAX_BLOCKS must be a power of two");

#define HT_CLAIMED ((uintptr_t)1)

static uintptr_t s_slots[HT_SLOTS];
static size_t s_used;       // occupied slots, claimed ones included
static size_t s_reserved;   // ht_malloc calls between reserving a slot and filling it
static portMUX_TYPE s_lock = portMUX_INITIALIZER_UNLOCKED;

static size_t slot_home(uintptr_t address) {
    return ht_slot_of(ht_address_hash(address), HT_SLOTS);
}

// Index of the slot holding exactly `value`, or HT_SLOTS.
static size_t slot_find(uintptr_t value) {
    for (size_t i = slot_home(value & ~HT_CLAIMED);; i = ht_slot_after(i, HT_SLOTS)) {
        if (s_slots[i] == value) {
            return i;
        }
        if (s_slots[i] == 0) {
            return HT_SLOTS;
        }
    }
}

static void slot_insert(uintptr_t value) {
    size_t i = slot_home(value);
    while (s_slots[i] != 0) {
        i = ht_slot_after(i, HT_SLOTS);
    }
    s_slots[i] = value;
    s_used += 1;
}

static uintptr_t slot_address(unsigned i) {
    return s_slots[i] & ~HT_CLAIMED;
}

static void slot_move(unsigned from, unsigned to) {
    s_slots[to] = s_slots[from];
}

static void slot_remove(size_t i) {
    s_slots[ht_slot_backshift(i, HT_SLOTS, slot_address, slot_move)] = 0;
    s_used -= 1;
}

ht_err_t ht_malloc(size_t size, uint32_t caps, void **address) {
    *address = NULL;
    ht_err_t err = ht_context_check();
    if (err != HT_OK) {
        return err;
    }
    // Reserve a slot first: finding the registry full only after allocating
    // would leave a trace in the caller's peak usage.
    bool full;
    taskENTER_CRITICAL(&s_lock);
    full = s_used + s_reserved >= HT_IDF_MAX_BLOCKS;
    if (!full) {
        s_reserved += 1;
    }
    taskEXIT_CRITICAL(&s_lock);
    if (full) {
        return HT_ERR_FULL;
    }

    void *p = heap_caps_malloc(size, caps);

    taskENTER_CRITICAL(&s_lock);
    s_reserved -= 1;
    if (p != NULL) {
        slot_insert((uintptr_t)p);
    }
    taskEXIT_CRITICAL(&s_lock);
    if (p == NULL) {
        return HT_ERR_NO_MEM;
    }
    *address = p;
    return HT_OK;
}

ht_err_t ht_free(void *address) {
    ht_err_t err = ht_context_check();
    if (err != HT_OK) {
        return err;
    }
    uintptr_t a = (uintptr_t)address;
    if (a == 0 || (a & HT_CLAIMED) != 0) {
        return HT_ERR_NO_BLOCK;
    }
    size_t i;
    taskENTER_CRITICAL(&s_lock);
    i = slot_find(a);
    if (i != HT_SLOTS) {
        slot_remove(i);
    }
    taskEXIT_CRITICAL(&s_lock);
    if (i == HT_SLOTS) {
        return HT_ERR_NO_BLOCK;
    }
    // Out of the registry before it goes back to the heap, so that a block the
    // heap hands out again at this address is registered afresh.
    heap_caps_free(address);
    return HT_OK;
}

static bool slot_claim(size_t i) {
    if (s_slots[i] != 0 && (s_slots[i] & HT_CLAIMED) == 0) {
        s_slots[i] |= HT_CLAIMED;
        return true;
    }
    return false;
}

static bool slot_claimed(size_t i) {
    return (s_slots[i] & HT_CLAIMED) != 0;
}

// Out of the registry, freed after the lock (as ht_free does).
static void *slot_take(size_t i) {
    void *p = (void *)(s_slots[i] & ~HT_CLAIMED);
    slot_remove(i);
    return p;
}

static const ht_claim_table_t s_claim_table = {
    .lock = &s_lock,
    .slots = HT_SLOTS,
    .batch = HT_FREE_BATCH,
    .claim = slot_claim,
    .claimed = slot_claimed,
    .take = slot_take,
};

ht_err_t ht_free_all(size_t *count) {
    ht_err_t err = ht_context_check();
    if (err != HT_OK) {
        if (count != NULL) {
            *count = 0;
        }
        return err;
    }
    size_t freed = ht_free_claimed(&s_claim_table);
    if (count != NULL) {
        *count = freed;
    }
    return HT_OK;
}

void ht_capacity(ht_capacity_t *capacity) {
    capacity->handed_out = HT_IDF_MAX_BLOCKS;
    capacity->blocks = 0;
    capacity->tasks = 0;
    capacity->snapshots = HT_IDF_MAX_SNAPSHOTS;
}

/******************************************************************************/
// Snapshots.

#if CONFIG_HEAP_TASK_TRACKING

// The tracker types are ESP-IDF's structs field for field; the in-place
// conversion below needs at least the same sizes (array strides).
_Static_assert(HT_TASK_NAME_LEN == configMAX_TASK_NAME_LEN,
    "HT_TASK_NAME_LEN must equal CONFIG_FREERTOS_MAX_TASK_NAME_LEN");
_Static_assert(sizeof(ht_task_stat_t) == sizeof(task_stat_t), "ht_task_stat_t vs task_stat_t");
_Static_assert(sizeof(ht_heap_stat_t) == sizeof(heap_stat_t), "ht_heap_stat_t vs heap_stat_t");
_Static_assert(sizeof(ht_block_t) == sizeof(heap_task_block_t), "ht_block_t vs heap_task_block_t");

/******************************************************************************/
// ESP-IDF's records, and the ones it could not make.

// The only trace ESP-IDF leaves of a tracking record it could not make, in
// heap_task_info.c: one ESP_LOGE line with this text, written with its
// tracking mutex held.
static const char record_failure_text[] = "Could not allocate memory to add new task statistics";

static vprintf_like_t s_log_next;   // what printed the log before log_watch
// Only log_watch writes it, and only under ESP-IDF's tracking mutex, so a
// plain increment cannot lose a count; readers read one aligned word.
static volatile size_t s_records_dropped;

static int log_watch(const char *format, va_list args) {
    if (strstr(format, record_failure_text) != NULL) {
        s_records_dropped = s_records_dropped + 1;
    }
    return s_log_next(format, args);
}

// In front of whatever prints ESP-IDF's log, once: failures before the first
// import go uncounted, and code that replaces the log's vprintf later without
// chaining to the previous one stops the count (heap_info() still shows the
// biggest heap's room, and every copy is checked for figures that do not add up).
static void log_watch_install(void) {
    static bool installed;
    if (!installed) {
        installed = true;
        s_log_next = esp_log_set_vprintf(log_watch);
    }
}

// ESP-IDF's records, as heap_task_info.c v5.5 defines them: a task's
// (task_info_t: its task_stat_t, a list head of two pointers and a link), a
// task's use of one heap (heap_stats_t: the heap, its heap_stat_t, a list head
// and a link) and a live block's (alloc_stats_t: its heap_task_block_t and a
// link). Each is a block of ESP-IDF's biggest heap, with TLSF's size word.
#define HT_IDF_RECORD_MAX (sizeof(task_stat_t) + 3 * sizeof(void *))
#define HT_IDF_HEAP_RECORD (sizeof(heap_stat_t) + 4 * sizeof(void *))
#define HT_IDF_BLOCK_RECORD (sizeof(heap_task_block_t) + sizeof(void *))
#define HT_IDF_IN_HEAP(bytes) ((((bytes) + 3) & ~(size_t)3) + sizeof(size_t))

// What one more deleted task takes: its task record and the record of the
// heap it used, and its entry in an overview's copy of every task's totals.
#define HT_IDF_TASK_COST (HT_IDF_IN_HEAP(HT_IDF_RECORD_MAX) + HT_IDF_IN_HEAP(HT_IDF_HEAP_RECORD) + sizeof(task_stat_t))

// What a copy of `tasks` tasks' totals takes: its task array, and the block
// array of spare entries every copy has (blocks_attach).
#define totals_bytes(tasks) ((tasks) * sizeof(task_stat_t) \
    + (3 * HT_IDF_SPARE_BLOCKS + 1) * sizeof(heap_task_block_t) + 4 * sizeof(size_t))

// Room kept for the next overview once the records are low (see reserve_keep).
static void *s_reserve;
static size_t s_reserve_bytes;

// What the last copy of the records held (arrays_take): how many task, heap
// and block records, and how many tasks were deleted.
typedef struct {
    size_t tasks, deleted, heaps, blocks;
} seen_t;
static seen_t s_seen;

// The capacities of the task and heap arrays a copy takes beyond the records
// it found last time (arrays_take).
#define HT_IDF_TASK_SLACK 4
#define HT_IDF_HEAP_SLACK 8

// ht_records_info's figures from the last copy: the records' bytes in the
// biggest heap, and how many more tasks' records fit there beside the arrays
// a report of every task takes. A deleted task keeps a task record and a heap
// record, and adds an entry to each of a report's task and heap arrays.
//
// records_count gives all of them but the room (room, full): the largest free
// block is found only by a walk of every block of the heap, and keeping the
// reserve (reserve_keep, after every copy) needs only the free bytes, which
// the heap counts. It returns the heap holding the records, or NULL.
static heap_t *records_count(ht_records_t *records) {
    memset(records, 0, sizeof(*records));
    seen_t seen = s_seen;
    records->tasks = seen.tasks;
    records->deleted = seen.deleted;
    records->bytes = seen.tasks * HT_IDF_IN_HEAP(HT_IDF_RECORD_MAX) + seen.heaps * HT_IDF_IN_HEAP(HT_IDF_HEAP_RECORD)
        + seen.blocks * HT_IDF_IN_HEAP(HT_IDF_BLOCK_RECORD);
    records->untracked = s_records_dropped;
    heap_t *heap = ht_idf_biggest_heap();
    if (heap == NULL) {
        return NULL;
    }
    records->heap_start = (uintptr_t)heap->start;
    // An overview of every task (a copy of their totals) must fit beside the
    // records, in the room kept for it (s_reserve) or else in what is free.
    size_t free_bytes = multi_heap_free_size(heap->heap);
    size_t report = totals_bytes(seen.tasks + HT_IDF_TASK_SLACK);
    report = report > s_reserve_bytes ? report - s_reserve_bytes : 0;
    records->tasks_left = free_bytes > report ? (free_bytes - report) / HT_IDF_TASK_COST : 0;
    records->low = records->tasks_left <= records->tasks;
    return heap;
}

static void records_compute(ht_records_t *records) {
    heap_t *heap = records_count(records);
    if (heap == NULL) {
        return;
    }
    multi_heap_info_t info;
    multi_heap_get_info(heap->heap, &info);
    records->room = info.largest_free_block;
    records->full = info.largest_free_block < HT_IDF_RECORD_MAX;
}

// What a copy holds: each task's totals only (no heap array: every task's
// heap_stat stays NULL, its heap_count says how many heaps it used), its heaps
// too, or its heaps and their blocks.
typedef enum { COPY_TOTALS, COPY_HEAPS, COPY_BLOCKS } copy_t;

static ht_err_t arrays_take(heap_all_tasks_stat_t *out, copy_t copy, bool *overran);
static void arrays_free(heap_all_tasks_stat_t *a);
static void reserve_keep(void);

ht_err_t ht_records_info(ht_records_t *records) {
    memset(records, 0, sizeof(*records));
    ht_err_t err = ht_context_check();
    if (err != HT_OK) {
        return err;
    }
    // A fresh count of the records, when a copy can be had (else the last one's).
    heap_all_tasks_stat_t a;
    bool overran;
    if (arrays_take(&a, COPY_TOTALS, &overran) == HT_OK) {
        arrays_free(&a);
        reserve_keep();
    }
    records_compute(records);
    return HT_OK;
}

ht_err_t ht_reset_peak(void) {
    return HT_ERR_UNSUPPORTED;
}

ht_err_t ht_clear(size_t *dropped) {
    *dropped = 0;
    return HT_ERR_UNSUPPORTED;
}

// ESP-IDF's tracking writes a block's owner in the word before what
// heap_caps_malloc returns, and records the block's full size.
ht_err_t ht_block_owner(uintptr_t address, ht_task_t *owner, size_t *size) {
    ht_idf_heap_t heap;
    if (address < HT_BLOCK_OWNER_SIZE || !ht_idf_heap_containing(address, &heap)) {
        return HT_ERR_NO_BLOCK;
    }
    void *block = (void *)(address - HT_BLOCK_OWNER_SIZE);
    *owner = (ht_task_t)MULTI_HEAP_GET_BLOCK_OWNER(block);
    *size = multi_heap_get_full_block_size(heap.handle, block);
    return HT_OK;
}

const char *ht_untracked_cause(void) {
    return "ESP-IDF keeps its tracking records in its biggest heap, and it was full";
}

// ESP-IDF's three arrays behind each snapshot slot (tracker_private.h).
static heap_all_tasks_stat_t s_snapshots[HT_IDF_MAX_SNAPSHOTS];
static bool s_snapshot_held[HT_IDF_MAX_SNAPSHOTS];
static const ht_slots_t s_snapshot_slots = { s_snapshot_held, HT_IDF_MAX_SNAPSHOTS, &s_lock };

// ESP-IDF sizes the arrays under its lock, releases it, allocates, and fills
// them under the lock again; in between, records can grow. It then leaves
// out what no longer fits: a task's heap_stat becomes NULL, a heap's
// alloc_stat becomes NULL, trailing tasks are dropped. Decide whether a fill
// saw everything.
typedef enum { FILL_COMPLETE, FILL_TRUNCATED, FILL_AMBIGUOUS } fill_t;

// More blocks than any heap could hold: a count that wrapped.
#define HT_COUNT_SANE (SIZE_MAX / 16)

static fill_t fill_check(const heap_all_tasks_stat_t *a, size_t task_capacity, copy_t copy) {
    bool with_blocks = copy == COPY_BLOCKS;
    for (size_t t = 0; t < a->task_count; ++t) {
        const task_stat_t *ts = &a->stat_arr[t];
        if (ts->heap_count == 0 || copy == COPY_TOTALS) {
            continue;
        }
        if (ts->heap_stat == NULL) {
            return FILL_TRUNCATED;
        }
        // A count that wrapped below zero (see blocks_attach) never fits: no
        // retry would change that, and the copy is flagged instead.
        for (size_t h = 0; with_blocks && h < ts->heap_count; ++h) {
            const heap_stat_t *hs = &ts->heap_stat[h];
            if (hs->alloc_count != 0 && hs->alloc_stat == NULL && hs->alloc_count <= HT_COUNT_SANE) {
                return FILL_TRUNCATED;
            }
        }
    }
    if (a->task_count < task_capacity) {
        return FILL_COMPLETE;
    }
    // Full to capacity: complete if the last record copied is the Pre-scheduler
    // pseudo-task. ESP-IDF keeps records in decreasing handle order and that
    // one has handle 0, so nothing can follow it.
    if (a->task_count > 0 && a->stat_arr[a->task_count - 1].handle == NULL) {
        return FILL_COMPLETE;
    }
    return FILL_AMBIGUOUS;
}

// Rewrites ESP-IDF's records in place as the tracker's (same sizes; copied
// through locals so that each object is only ever accessed as one type).
static void arrays_convert(heap_all_tasks_stat_t *a, bool with_blocks) {
    for (size_t t = 0; t < a->task_count; ++t) {
        task_stat_t ts;
        memcpy(&ts, &a->stat_arr[t], sizeof(ts));
        for (size_t h = 0; ts.heap_stat != NULL && h < ts.heap_count; ++h) {
            heap_stat_t hs;
            memcpy(&hs, &ts.heap_stat[h], sizeof(hs));
            ht_block_t *blocks = NULL;
            if (with_blocks) {
                for (size_t b = 0; b < hs.alloc_count; ++b) {
                    heap_task_block_t eb;
                    memcpy(&eb, &hs.alloc_stat[b], sizeof(eb));
                    ht_block_t hb = {
                        .task = (ht_task_t)eb.task,
                        .address = eb.address,
                        .size = eb.size,
                    };
                    memcpy(&hs.alloc_stat[b], &hb, sizeof(hb));
                }
                // (ESP-IDF copied none where its count wrapped: see blocks_attach)
                blocks = hs.alloc_stat != NULL ? (ht_block_t *)(void *)hs.alloc_stat : ht_no_blocks;
            }
            ht_heap_stat_t hh = {
                .name = hs.name,
                .caps = hs.caps,
                .size = hs.size,
                .current_usage = hs.current_usage,
                .peak_usage = hs.peak_usage,
                .alloc_count = hs.alloc_count,
                .blocks = blocks,
            };
            memcpy(&ts.heap_stat[h], &hh, sizeof(hh));
        }
        ht_task_stat_t ht = {
            .handle = (ht_task_t)ts.handle,
            .is_alive = ts.is_alive,
            .overall_peak_usage = ts.overall_peak_usage,
            .overall_current_usage = ts.overall_current_usage,
            .heap_count = ts.heap_count,
            .heap_stat = (ht_heap_stat_t *)(void *)ts.heap_stat,
        };
        memcpy(ht.name, ts.name, sizeof(ht.name));
        ht.name[sizeof(ht.name) - 1] = '\0';
        memcpy(&a->stat_arr[t], &ht, sizeof(ht));
    }
}

// ESP-IDF's fill assumes that no heap record lists more blocks than it
// counts, and its realloc path can break that: it takes one off the count of
// every record with the block owner's handle -- a deleted task's too, when a
// new task got its TCB's address -- though only one of them lists the block.
// A record then lists more than it counts, or counts "minus one" (the count
// wraps), and the fill writes past that record's share of the array: past the
// array's end, before its start (its index wraps too), or, for a record that
// counts none, at the array's start even when no blocks were asked for.
//
// So the block array handed to ESP-IDF always has marked spare entries on both
// sides: a mark overwritten tells that the copy is inconsistent, instead of a
// heap corrupted. HT_IDF_SPARE_BLOCKS entries lie before it, as many plus one
// per 16 blocks after it; a wrong count then overruns only when one copy
// meets more miscounts than that.
#define HT_SPARE_MARK ((void *)UINTPTR_MAX)

typedef struct {
    heap_task_block_t *before;   // HT_IDF_SPARE_BLOCKS entries
    heap_task_block_t *after;
    size_t after_count;
} spare_t;

// The arrays of one copy, all ours; the block array HT_IDF_SPARE_BLOCKS entries
// into its allocation.
static void arrays_free(heap_all_tasks_stat_t *a) {
    ht_idf_uncharged_free(a->stat_arr);
    ht_idf_uncharged_free(a->heap_stat_start);
    ht_idf_uncharged_free(a->alloc_stat_start != NULL ? a->alloc_stat_start - HT_IDF_SPARE_BLOCKS : NULL);
    memset(a, 0, sizeof(*a));
}

static void spare_mark(heap_task_block_t *entries, size_t count) {
    for (size_t i = 0; i < count; ++i) {
        entries[i].address = HT_SPARE_MARK;
    }
}

static bool spare_touched(const heap_task_block_t *entries, size_t count) {
    for (size_t i = 0; i < count; ++i) {
        if (entries[i].address != HT_SPARE_MARK) {
            return true;
        }
    }
    return false;
}

// Replaces the block array (if any) by one with room for `counted` blocks and
// the spare entries. False when no heap has room for it.
static bool blocks_attach(heap_all_tasks_stat_t *a, size_t counted, spare_t *spare) {
    ht_idf_uncharged_free(a->alloc_stat_start != NULL ? a->alloc_stat_start - HT_IDF_SPARE_BLOCKS : NULL);
    a->alloc_stat_start = NULL;
    a->alloc_count = 0;
    size_t after = HT_IDF_SPARE_BLOCKS + counted / 16;
    size_t total = HT_IDF_SPARE_BLOCKS + counted + after;
    heap_task_block_t *entries = ht_idf_uncharged_alloc(total * sizeof(heap_task_block_t));
    if (entries == NULL) {
        return false;
    }
    // Entries ESP-IDF counted but could not record read as zeros (a NULL
    // address: see ht_heap_block_count), not garbage.
    memset(entries, 0, total * sizeof(heap_task_block_t));
    spare->before = entries;
    spare->after = entries + HT_IDF_SPARE_BLOCKS + counted;
    spare->after_count = after;
    spare_mark(spare->before, HT_IDF_SPARE_BLOCKS);
    spare_mark(spare->after, after);
    a->alloc_stat_start = entries + HT_IDF_SPARE_BLOCKS;
    a->alloc_count = counted;
    return true;
}

static bool spare_overran(const spare_t *spare) {
    return spare_touched(spare->before, HT_IDF_SPARE_BLOCKS) || spare_touched(spare->after, spare->after_count);
}

static bool counts_wrapped(const heap_all_tasks_stat_t *a) {
    for (size_t t = 0; t < a->task_count; ++t) {
        const task_stat_t *ts = &a->stat_arr[t];
        for (size_t h = 0; ts->heap_stat != NULL && h < ts->heap_count; ++h) {
            if (ts->heap_stat[h].alloc_count > HT_COUNT_SANE) {
                return true;
            }
        }
    }
    return false;
}

// The capacities of the task and heap arrays for the next copy: what held
// every record last time, and a little room to grow. With deleted tasks kept,
// records are only ever added, so one fill usually does.
static size_t s_task_capacity = 8;
static size_t s_heap_capacity = 16;

// Room kept for reports once the records are low (records_count): one
// block, uncharged, for a copy of the totals of every task there can be, those
// recorded now and the about tasks_left more that fit beside them. It goes
// back to the heap just before a copy allocates its arrays, and is taken again
// when the copy is released. So when ESP-IDF's records, the GC heap and
// everything else fill the heap, overviews of what is recorded still work:
// new records go unrecorded first (and reports say so). Taken while there is
// still room for it, it need not grow again.
static void reserve_give_back(void) {
    taskENTER_CRITICAL(&s_lock);
    void *p = s_reserve;
    s_reserve = NULL;
    s_reserve_bytes = 0;
    taskEXIT_CRITICAL(&s_lock);
    ht_idf_uncharged_free(p);
}

static bool reserve_take(size_t bytes) {
    void *p = ht_idf_uncharged_alloc(bytes);
    if (p == NULL) {
        return false;
    }
    taskENTER_CRITICAL(&s_lock);
    if (s_reserve == NULL) {
        s_reserve = p;
        s_reserve_bytes = bytes;
        p = NULL;
    }
    taskEXIT_CRITICAL(&s_lock);
    ht_idf_uncharged_free(p);
    return true;
}

static void reserve_keep(void) {
    ht_records_t records;
    records_count(&records);
    if (!records.low) {
        reserve_give_back();   // the heap has room again (a large block was freed)
        return;
    }
    size_t next_copy = totals_bytes(s_task_capacity + s_task_capacity / 4 + HT_IDF_TASK_SLACK);
    if (s_reserve_bytes >= next_copy) {
        return;
    }
    size_t all_there_can_be = totals_bytes(records.tasks + records.tasks_left + HT_IDF_TASK_SLACK);
    reserve_give_back();
    if (!reserve_take(all_there_can_be > next_copy ? all_there_can_be : next_copy)) {
        reserve_take(next_copy);
    }
}

// Task and heap arrays of these capacities, and a block array of spare entries.
static bool arrays_alloc(heap_all_tasks_stat_t *a, size_t tasks, size_t heaps, spare_t *spare) {
    reserve_give_back();
    memset(a, 0, sizeof(*a));
    a->stat_arr = ht_idf_uncharged_alloc(tasks * sizeof(task_stat_t));
    a->heap_stat_start = heaps != 0 ? ht_idf_uncharged_alloc(heaps * sizeof(heap_stat_t)) : NULL;
    if (a->stat_arr == NULL || (heaps != 0 && a->heap_stat_start == NULL) || !blocks_attach(a, 0, spare)) {
        arrays_free(a);
        return false;
    }
    a->task_count = tasks;
    a->heap_count = heaps;
    return true;
}

// Fills a to these capacities (its arrays must hold them); after it, a's
// counts are what ESP-IDF filled. Whether that saw every record.
static fill_t fill(heap_all_tasks_stat_t *a, size_t tasks, size_t heaps, size_t blocks, copy_t copy) {
    a->task_count = tasks;
    a->heap_count = heaps;
    a->alloc_count = blocks;
    if (heap_caps_get_all_task_stat(a) != ESP_OK) {   // only for arguments it refuses
        a->task_count = a->heap_count = a->alloc_count = 0;
        return FILL_TRUNCATED;
    }
    return fill_check(a, tasks, copy);
}

// The heap records, and the blocks, that a filled copy's tasks count.
static size_t heaps_counted(const heap_all_tasks_stat_t *a) {
    size_t counted = 0;
    for (size_t t = 0; t < a->task_count; ++t) {
        counted += a->stat_arr[t].heap_count;
    }
    return counted;
}

static size_t blocks_counted(const heap_all_tasks_stat_t *a) {
    size_t counted = 0;
    for (size_t t = 0; t < a->task_count; ++t) {
        const task_stat_t *ts = &a->stat_arr[t];
        for (size_t h = 0; ts->heap_stat != NULL && h < ts->heap_count; ++h) {
            counted += ts->heap_stat[h].alloc_count;
        }
    }
    return counted;
}

// One complete copy of ESP-IDF's records into *out (its arrays, unconverted,
// with their filled counts); *overran tells whether ESP-IDF wrote into the
// spare entries. A fill that finds its arrays too small says how much it saw,
// and the next one has room for that (tasks doubling while they fill their
// array): that converges, or a heap runs out of room. Records that change
// between the fill without blocks and the one with them are a retry, at most
// HT_IDF_SNAPSHOT_TRIES.
static ht_err_t arrays_take(heap_all_tasks_stat_t *out, copy_t copy, bool *overran) {
    bool with_blocks = copy == COPY_BLOCKS;
    size_t tasks = s_task_capacity;
    size_t heaps = copy == COPY_TOTALS ? 0 : s_heap_capacity;
    size_t too_few = 0;   // a task capacity that the records outgrew
    int changed = 0;
    for (;;) {
        heap_all_tasks_stat_t a;
        spare_t spare;
        if (!arrays_alloc(&a, tasks, heaps, &spare)) {
            if (too_few != 0 && tasks > too_few + HT_IDF_TASK_SLACK) {
                // Grown past what the heap holds: try half way back.
                tasks = too_few + (tasks - too_few) / 2;
                continue;
            }
            return HT_ERR_NO_MEM;
        }
        // First without blocks, which is safe whatever the counts say (every
        // record counting some is skipped, and the index stays at 0): a count
        // that wrapped below zero would walk a fill with blocks back before
        // the array, so such a copy is refused (an overview only flags it).
        fill_t result = fill(&a, tasks, heaps, 0, copy == COPY_TOTALS ? COPY_TOTALS : COPY_HEAPS);
        if (result == FILL_COMPLETE && with_blocks && counts_wrapped(&a)) {
            arrays_free(&a);
            return HT_ERR_INCONSISTENT;
        }
        if (result == FILL_COMPLETE && with_blocks) {
            size_t counted = blocks_counted(&a);
            if (!blocks_attach(&a, counted, &spare)) {
                arrays_free(&a);
                return HT_ERR_NO_MEM;
            }
            result = fill(&a, tasks, heaps, counted, COPY_BLOCKS);
            changed += result != FILL_COMPLETE;
        }
        if (result == FILL_COMPLETE) {
            seen_t seen = { a.task_count, 0, heaps_counted(&a), s_seen.blocks };
            if (copy != COPY_TOTALS) {   // (a totals copy counts no blocks)
                seen.blocks = counts_wrapped(&a) ? 0 : blocks_counted(&a);
            }
            for (size_t t = 0; t < a.task_count; ++t) {
                seen.deleted += a.stat_arr[t].is_alive ? 0 : 1;
            }
            s_seen = seen;
            s_task_capacity = a.task_count + HT_IDF_TASK_SLACK;
            s_heap_capacity = seen.heaps + HT_IDF_HEAP_SLACK;
            *out = a;
            *overran = spare_overran(&spare);
            return HT_OK;
        }
        size_t seen = heaps_counted(&a);
        arrays_free(&a);
        if (changed >= HT_IDF_SNAPSHOT_TRIES) {
            return HT_ERR_BUSY;
        }
        if (result == FILL_AMBIGUOUS) {
            // Grown by a quarter, not doubled: a board whose records fill its
            // heap has room for a little more, rarely for twice as much (and
            // back towards too_few when even that does not fit).
            too_few = tasks;
            tasks += tasks / 4 + HT_IDF_TASK_SLACK;
        }
        if (copy != COPY_TOTALS) {
            heaps = (seen > heaps ? seen : heaps) + HT_IDF_HEAP_SLACK;
        }
    }
}

static void snapshot_slot_release(int slot) {
    arrays_free(&s_snapshots[slot]);
    ht_slot_give(&s_snapshot_slots, slot);
    reserve_keep();
}

static void snapshots_reclaim(void) {
    for (int i = 0; i < HT_IDF_MAX_SNAPSHOTS; ++i) {
        if (s_snapshot_held[i]) {
            snapshot_slot_release(i);
        }
    }
}

// Whether a task's figures add up: its heaps' usage to its total, and, in a
// copy with blocks, each heap's blocks to its count and usage. ESP-IDF updates
// them together, so they part only where it lost a record: its biggest heap
// was full, or its realloc path miscounted (see blocks_attach).
static bool task_adds_up(const ht_task_stat_t *task) {
    if (task->heap_stat == NULL) {
        return true;   // totals only: nothing to add up
    }
    size_t usage = 0;
    for (size_t h = 0; h < task->heap_count; ++h) {
        const ht_heap_stat_t *heap = &task->heap_stat[h];
        usage += heap->current_usage;
        if (heap->alloc_count > HT_COUNT_SANE || heap->current_usage > heap->size) {
            return false;   // wrapped below zero
        }
        if (heap->blocks != NULL) {
            size_t listed = ht_heap_block_count(heap);
            size_t bytes = 0;
            for (size_t b = 0; b < listed; ++b) {
                bytes += heap->blocks[b].size;
            }
            if (listed != heap->alloc_count || bytes != heap->current_usage) {
                return false;
            }
        }
    }
    return usage == task->overall_current_usage;
}

static size_t tasks_drifted(const ht_task_stat_t *tasks, size_t count, bool overran) {
    size_t drifted = 0;
    for (size_t t = 0; t < count; ++t) {
        drifted += task_adds_up(&tasks[t]) ? 0 : 1;
    }
    // A miscount can leave every sum intact (both sides lose the same bytes);
    // the spare entries still show it.
    return drifted == 0 && overran ? 1 : drifted;
}

static ht_err_t snapshot_take(ht_snapshot_t *snap, bool all, ht_task_t task, copy_t copy) {
    memset(snap, 0, sizeof(*snap));
    ht_err_t context = ht_context_check();
    if (context != HT_OK) {
        return context;
    }
    int slot = ht_slot_take(&s_snapshot_slots);
    if (slot < 0) {
        return HT_ERR_FULL;
    }
    heap_all_tasks_stat_t *arrays = &s_snapshots[slot];
    bool overran = false;
    ht_err_t err = arrays_take(arrays, copy, &overran);
    if (err != HT_OK) {
        snapshot_slot_release(slot);
        return err;
    }

    size_t first = 0;
    size_t count = arrays->task_count;
    if (!all) {
        // The record for `task` (0 is the Pre-scheduler pseudo-task). A handle
        // can have two records when a new task got a deleted one's TCB: the
        // handle names the living task, so its record wins.
        size_t found = count;
        for (size_t t = 0; t < count; ++t) {
            if ((ht_task_t)arrays->stat_arr[t].handle == task) {
                if (found == count || arrays->stat_arr[t].is_alive) {
                    found = t;
                }
            }
        }
        if (found == count) {
            snapshot_slot_release(slot);
            return HT_ERR_NO_TASK;
        }
        first = found;
        count = 1;
    }

    arrays_convert(arrays, copy == COPY_BLOCKS);
    snap->storage = arrays;
    snap->tasks = (ht_task_stat_t *)(void *)(arrays->stat_arr + first);
    snap->task_count = count;
    snap->untracked = s_records_dropped;
    snap->drifted = tasks_drifted(snap->tasks, count, overran);
    records_compute(&snap->records);
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
        snapshot_slot_release((int)((heap_all_tasks_stat_t *)snap->storage - s_snapshots));
    }
    memset(snap, 0, sizeof(*snap));
}

#else // !CONFIG_HEAP_TASK_TRACKING

static void snapshots_reclaim(void) {
}

// Heap memory still works; statistics do not exist.
ht_err_t ht_snapshot_take(ht_snapshot_t *snap, bool all, ht_task_t task, bool with_blocks) {
    (void)all;
    (void)task;
    (void)with_blocks;
    memset(snap, 0, sizeof(*snap));
    return HT_ERR_UNSUPPORTED;
}

ht_err_t ht_snapshot_take_totals(ht_snapshot_t *snap, bool all, ht_task_t task) {
    return ht_snapshot_take(snap, all, task, false);
}

void ht_snapshot_release(ht_snapshot_t *snap) {
    memset(snap, 0, sizeof(*snap));
}

static void log_watch_install(void) {
}

ht_err_t ht_records_info(ht_records_t *records) {
    memset(records, 0, sizeof(*records));
    return HT_ERR_UNSUPPORTED;
}

const char *ht_untracked_cause(void) {
    return "this firmware has no heap task tracking";
}

ht_err_t ht_reset_peak(void) {
    return HT_ERR_UNSUPPORTED;
}

ht_err_t ht_clear(size_t *dropped) {
    *dropped = 0;
    return HT_ERR_UNSUPPORTED;
}

ht_err_t ht_block_owner(uintptr_t address, ht_task_t *owner, size_t *size) {
    (void)address;
    *owner = 0;
    *size = 0;
    return HT_ERR_UNSUPPORTED;
}

#endif // CONFIG_HEAP_TASK_TRACKING

/******************************************************************************/

void ht_vm_restart(void) {
    log_watch_install();
    // The tasks of the previous VM are gone; nobody else holds these.
    snapshots_reclaim();
    taskENTER_CRITICAL(&s_lock);
    s_reserved = 0;
    taskEXIT_CRITICAL(&s_lock);
}
