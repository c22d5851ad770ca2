// What only heaptrack's hooks tracker (native/heaptrack/tracker_hooks.c) does,
// on ESP-IDF's heap with its hooks on and task tracking off (esp_idf.mk
// TRACKER=hooks), with small tables (native/tests/Makefile: 256 blocks, 12
// task records) so that they fill: a full table leaves allocations out and
// counts them instead of drifting; heaptrack.malloc refuses a block it could
// not record and leaves no trace; a realloc in place moves the block to its
// new size and the caller; the array heap_caps_init() made is Pre-scheduler's;
// a full table of task records reuses the records of deleted tasks that have
// no live block, oldest first, and counts them; its table of blocks (open
// addressing, entries moving back when one before them goes) keeps every
// block findable and every record's blocks in allocation order, nearly full;
// a block too big for its entry's size field keeps its size in a side table,
// and is left out and counted when that is full.
// tracker.h's general behaviour, the same for both trackers, is
// test_tracker_idf.c's and the differential test's.
// Its tables' sizes are read from the tracker (ht_capacity), as the library
// was built.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

// (the most blocks this file's tables hold: above the small build's table)
#define BLOCKS_MAX 1024

static ht_capacity_t capacity(void) {
    ht_capacity_t cap;
    ht_capacity(&cap);
    CHECK(cap.blocks > 24 && cap.blocks <= BLOCKS_MAX && cap.tasks > 0);
    return cap;
}

// The alive task's record (harness.h's find_task takes a deleted one's when
// no task with the handle is alive).
static const ht_task_stat_t *find(const ht_snapshot_t *snap, ht_task_t handle) {
    for (size_t t = 0; t < snap->task_count; ++t) {
        if (snap->tasks[t].handle == handle && snap->tasks[t].is_alive) {
            return &snap->tasks[t];
        }
    }
    return NULL;
}

static size_t listed(const ht_snapshot_t *snap) {
    size_t n = 0;
    for (size_t t = 0; t < snap->task_count; ++t) {
        for (size_t h = 0; h < snap->tasks[t].heap_count; ++h) {
            n += snap->tasks[t].heap_stat[h].alloc_count;
        }
    }
    return n;
}

static void test_boot_block(void) {
    // heap_caps_init()'s array of heaps, before any hook: Pre-scheduler's first block.
    ht_snapshot_t snap = take(true);
    const ht_task_stat_t *pre = &snap.tasks[snap.task_count - 1];
    CHECK(pre->handle == 0 && strcmp(pre->name, "Pre-scheduler") == 0);
    CHECK(pre->heap_count >= 1 && pre->heap_stat[0].alloc_count >= 2);
    CHECK(pre->heap_stat[0].blocks[0].size == heap_caps_get_allocated_size(pre->heap_stat[0].blocks[0].address));
    ht_snapshot_release(&snap);
}

static void test_realloc_in_place(void) {
    void *p = heap_caps_malloc(400, MALLOC_CAP_DEFAULT);
    void *q = heap_caps_realloc(p, 100, MALLOC_CAP_DEFAULT);   // shrinks where it is
    CHECK(q == p);
    ht_snapshot_t snap = take(true);
    const ht_task_stat_t *me = find(&snap, ht_current_task());
    bool seen = false;
    for (size_t h = 0; me != NULL && h < me->heap_count; ++h) {
        for (size_t b = 0; b < me->heap_stat[h].alloc_count; ++b) {
            if (me->heap_stat[h].blocks[b].address == q) {
                CHECK(!seen && me->heap_stat[h].blocks[b].size == heap_caps_get_allocated_size(q));
                seen = true;
            }
        }
    }
    CHECK(seen);
    ht_snapshot_release(&snap);
    heap_caps_free(q);
}

// The calling task's blocks in its first heap record, as a snapshot lists them.
static size_t my_blocks(void **addresses, size_t *sizes, size_t max) {
    ht_snapshot_t snap;
    if (ht_snapshot_take(&snap, false, ht_current_task(), true) != HT_OK) {
        return (size_t)-1;
    }
    size_t n = 0;
    for (size_t h = 0; h < snap.tasks[0].heap_count; ++h) {
        const ht_heap_stat_t *heap = &snap.tasks[0].heap_stat[h];
        if (heap->caps & MALLOC_CAP_SPIRAM) {
            continue;
        }
        for (size_t b = 0; b < ht_heap_block_count(heap) && n < max; ++b, ++n) {
            addresses[n] = heap->blocks[b].address;
            sizes[n] = heap->blocks[b].size;
        }
    }
    ht_snapshot_release(&snap);
    return n;
}

// Random allocations and frees in any order, with the table nearly full (its
// runs of used slots long, wrapping past its end): after each step the task's
// blocks are exactly the live ones, in allocation order, at their sizes.
static void test_table_churn(void) {
    enum { STEPS = 6000 };
    const size_t blocks = capacity().blocks;
    const size_t LIVE_MAX = blocks - 24;
    static void *live[BLOCKS_MAX];
    static size_t live_sizes[BLOCKS_MAX];
    static void *seen[BLOCKS_MAX];
    static size_t seen_sizes[BLOCKS_MAX];
    CHECK(my_blocks(seen, seen_sizes, blocks) == 0);   // the calling task holds no internal block yet
    size_t n = 0;
    unsigned seed = 12345;
    bool ok = true;
    for (int step = 0; step < STEPS && ok; ++step) {
        seed = seed * 1103515245u + 12345u;
        unsigned r = seed >> 8;
        bool grow = n == 0 || (n < LIVE_MAX && (r % 100) < (n < LIVE_MAX * 7 / 8 ? 65u : 35u));
        if (grow) {
            void *p = heap_caps_malloc(8 + r % 120, MALLOC_CAP_INTERNAL | MALLOC_CAP_8BIT);
            CHECK(p != NULL);
            if (p == NULL) {
                break;
            }
            live[n] = p;
            live_sizes[n] = heap_caps_get_allocated_size(p);
            ++n;
        } else {
            size_t k = (r / 100) % n;
            heap_caps_free(live[k]);
            memmove(&live[k], &live[k + 1], (n - k - 1) * sizeof(live[0]));
            memmove(&live_sizes[k], &live_sizes[k + 1], (n - k - 1) * sizeof(live_sizes[0]));
            --n;
        }
        size_t got = my_blocks(seen, seen_sizes, blocks);
        ok = got == n;
        for (size_t i = 0; ok && i < n; ++i) {
            ok = seen[i] == live[i] && seen_sizes[i] == live_sizes[i];
        }
        if (!ok) {
            fprintf(stderr, "table churn: step %d: %zu blocks listed, %zu live, or not in allocation order\n",
                step, got, n);
        }
    }
    CHECK(ok);
    // heaptrack.malloc's blocks among them, all freed by ht_free_all while
    // entries move: every one, and nothing else.
    void *ours[16];
    for (int i = 0; i < 16; ++i) {
        CHECK(ht_malloc(24, HT_CAP_INTERNAL | HT_CAP_8BIT, &ours[i]) == HT_OK && ours[i] != NULL);
    }
    size_t count = 0;
    CHECK(ht_free_all(&count) == HT_OK && count == 16);
    size_t got = my_blocks(seen, seen_sizes, blocks);
    CHECK(got == n);
    for (size_t i = 0; i < n; ++i) {
        heap_caps_free(live[i]);
    }
    CHECK(my_blocks(seen, seen_sizes, blocks) == 0);
}

static void test_full_table(void) {
    ht_snapshot_t before = take(true);
    CHECK(before.untracked == 0);
    size_t base = listed(&before);
    ht_snapshot_release(&before);

    // heaptrack.malloc's blocks until the table is full: the next is refused,
    // says why, and leaves nothing behind (no count, no peak).
    const size_t blocks = capacity().blocks;
    static void *held[BLOCKS_MAX + 1];
    size_t n = 0;
    ht_err_t err = HT_OK;
    while (n < blocks && (err = ht_malloc(16, HT_CAP_DEFAULT, &held[n])) == HT_OK) {
        ++n;
    }
    CHECK(n > 0 && n < blocks && n + base >= blocks - 2);
    CHECK(err == HT_ERR_FULL && held[n] == NULL && strstr(ht_err_text(err), "tracker is full") != NULL);
    ht_snapshot_t full = take(true);
    CHECK(full.untracked == 0);
    const ht_task_stat_t *me = find(&full, ht_current_task());
    size_t peak = me != NULL ? me->overall_peak_usage : 0;
    void *none = &full;
    CHECK(ht_malloc(16, HT_CAP_DEFAULT, &none) == HT_ERR_FULL && none == NULL);
    ht_snapshot_release(&full);
    full = take(true);
    me = find(&full, ht_current_task());
    CHECK(full.untracked == 0 && me != NULL && me->overall_peak_usage == peak);
    ht_snapshot_release(&full);

    // Anyone else's allocation now is left out and counted; so is its free (not at all).
    void *other[3];
    for (int i = 0; i < 3; ++i) {
        other[i] = heap_caps_malloc(32, MALLOC_CAP_DEFAULT);
        CHECK(other[i] != NULL);
    }
    full = take(true);
    CHECK(full.untracked == 3);
    me = find(&full, ht_current_task());
    CHECK(me != NULL && me->overall_peak_usage == peak);
    ht_snapshot_release(&full);
    for (int i = 0; i < 3; ++i) {
        heap_caps_free(other[i]);
    }

    // Room again: everything is counted, the figures still add up.
    for (size_t i = 0; i < n; ++i) {
        CHECK(ht_free(held[i]) == HT_OK);
    }
    void *p = heap_caps_malloc(32, MALLOC_CAP_DEFAULT);
    ht_snapshot_t after = take(true);
    CHECK(after.untracked == 3 && listed(&after) == base + 1);
    me = find(&after, ht_current_task());
    size_t sum = 0;
    for (size_t h = 0; me != NULL && h < me->heap_count; ++h) {
        for (size_t b = 0; b < me->heap_stat[h].alloc_count; ++b) {
            sum += me->heap_stat[h].blocks[b].size;
        }
    }
    CHECK(me != NULL && me->overall_current_usage == sum);
    ht_snapshot_release(&after);
    heap_caps_free(p);
}

// The size of the block at address in a task's snapshot, or 0 when not listed.
static size_t listed_size(const ht_task_stat_t *task, const void *address) {
    for (size_t h = 0; task != NULL && h < task->heap_count; ++h) {
        for (size_t b = 0; b < task->heap_stat[h].alloc_count; ++b) {
            if (task->heap_stat[h].blocks[b].address == address) {
                return task->heap_stat[h].blocks[b].size;
            }
        }
    }
    return 0;
}

// This build's entries hold sizes up to 16 KB (HT_HOOKS_SIZE_BITS=12) and its
// side table two bigger blocks (HT_HOOKS_MAX_BIG_BLOCKS=2): the first two are
// exact, the third is left out and counted; heaptrack.malloc refuses one while
// the side table is full, and takes one again once a big block was freed.
static void test_big_blocks(void) {
    enum { BIG = 20000 };
    ht_snapshot_t snap = take(true);
    size_t untracked = snap.untracked;
    const ht_task_stat_t *me = find(&snap, ht_current_task());
    size_t current = me != NULL ? me->overall_current_usage : 0;
    ht_snapshot_release(&snap);

    void *big[3];
    for (int i = 0; i < 3; ++i) {
        big[i] = heap_caps_malloc(BIG, MALLOC_CAP_DEFAULT);
        CHECK(big[i] != NULL);
    }
    size_t size0 = heap_caps_get_allocated_size(big[0]), size1 = heap_caps_get_allocated_size(big[1]);
    snap = take(true);
    me = find(&snap, ht_current_task());
    CHECK(snap.untracked == untracked + 1);
    CHECK(listed_size(me, big[0]) == size0 && listed_size(me, big[1]) == size1 && listed_size(me, big[2]) == 0);
    CHECK(me != NULL && me->overall_current_usage == current + size0 + size1);
    ht_snapshot_release(&snap);

    void *p = &snap;
    ht_err_t err = ht_malloc(BIG, HT_CAP_DEFAULT, &p);
    CHECK(err == HT_ERR_FULL && p == NULL);
    CHECK(strstr(ht_err_text(err), "tracker is full") != NULL);
    heap_caps_free(big[0]);
    CHECK(ht_malloc(BIG, HT_CAP_DEFAULT, &p) == HT_OK && p != NULL);
    snap = take(true);
    me = find(&snap, ht_current_task());
    CHECK(snap.untracked == untracked + 1);
    CHECK(listed_size(me, p) == heap_caps_get_allocated_size(p) && listed_size(me, big[1]) == size1);
    CHECK(me != NULL && me->overall_current_usage == current + size1 + heap_caps_get_allocated_size(p));
    ht_snapshot_release(&snap);

    CHECK(ht_free(p) == HT_OK);
    heap_caps_free(big[1]);
    heap_caps_free(big[2]);
    snap = take(true);
    me = find(&snap, ht_current_task());
    CHECK(snap.untracked == untracked + 1 && me != NULL && me->overall_current_usage == current);
    ht_snapshot_release(&snap);
}

static void idle(void *arg) {
    (void)arg;
    void *p = heap_caps_malloc(24, MALLOC_CAP_DEFAULT);
    (void)p;
    for (;;) {
        ulTaskNotifyTake(pdTRUE, portMAX_DELAY);
    }
}

static int g_worked;

// Allocates and frees a block (its record then holds no live block), or with
// arg set leaves it live; then waits to be deleted.
static void worker(void *arg) {
    void *p = heap_caps_malloc(40, MALLOC_CAP_DEFAULT);
    if (arg == NULL) {
        heap_caps_free(p);
    }
    __atomic_store_n(&g_worked, 1, __ATOMIC_RELEASE);
    for (;;) {
        ulTaskNotifyTake(pdTRUE, portMAX_DELAY);
    }
}

// Starts a worker named `name`, lets it allocate, deletes it.
static void run_worker(const char *name, bool leak) {
    TaskHandle_t task;
    __atomic_store_n(&g_worked, 0, __ATOMIC_RELEASE);
    CHECK(xTaskCreate(worker, name, 4096, leak ? (void *)1 : NULL, 5, &task) == pdPASS);
    while (!__atomic_load_n(&g_worked, __ATOMIC_ACQUIRE)) {
        vTaskDelay(1);
    }
    vTaskDelete(task);
}

static const ht_task_stat_t *find_name(const ht_snapshot_t *snap, const char *name) {
    for (size_t t = 0; t < snap->task_count; ++t) {
        if (strcmp(snap->tasks[t].name, name) == 0) {
            return &snap->tasks[t];
        }
    }
    return NULL;
}

static void test_deleted_task_records_reused(void) {
    ht_snapshot_t before = take(true);
    size_t untracked = before.untracked;
    CHECK(before.dropped_tasks == 0);
    ht_snapshot_release(&before);

    // A deleted task that left a block behind keeps its record for good.
    run_worker("leaker", true);
    // Three times as many tasks as there are records, each deleted with no
    // live block: every one is recorded, the oldest deleted records make room.
    const size_t tasks = capacity().tasks;
    const int ROUNDS = (int)(3 * tasks);
    int first_kept = 0;
    for (int i = 0; i < ROUNDS; ++i) {
        char name[16];
        snprintf(name, sizeof(name), "r%d", i);
        run_worker(name, false);
        ht_snapshot_t snap = take(true);
        const ht_task_stat_t *rec = find_name(&snap, name);
        CHECK(rec != NULL && !rec->is_alive && rec->overall_peak_usage > 0 && rec->overall_current_usage == 0);
        const ht_task_stat_t *leaker = find_name(&snap, "leaker");
        CHECK(leaker != NULL && !leaker->is_alive && leaker->overall_current_usage > 0);
        CHECK(snap.untracked == untracked);
        // The records kept are those of the tasks deleted last, and every
        // record dropped is counted.
        int kept = 0;
        for (int k = 0; k <= i; ++k) {
            snprintf(name, sizeof(name), "r%d", k);
            kept += find_name(&snap, name) != NULL;
        }
        first_kept = i + 1 - kept;
        for (int k = 0; k <= i; ++k) {
            snprintf(name, sizeof(name), "r%d", k);
            CHECK((find_name(&snap, name) != NULL) == (k >= first_kept));
        }
        CHECK(snap.dropped_tasks == (size_t)first_kept);
        CHECK(snap.task_count <= tasks);
        ht_snapshot_release(&snap);
    }
    CHECK(first_kept > 0);
}

static void test_full_task_records(void) {
    ht_snapshot_t before = take(true);
    size_t untracked = before.untracked, tasks = before.task_count, dropped = before.dropped_tasks;
    ht_snapshot_release(&before);
    // More tasks allocating than there are task records left.
    TaskHandle_t made[16];
    for (int i = 0; i < 16; ++i) {
        char name[16];
        snprintf(name, sizeof(name), "t%d", i);
        CHECK(xTaskCreate(idle, name, 4096, NULL, 5, &made[i]) == pdPASS);
    }
    vTaskDelay(10);
    // Each took a record as long as one was free or reusable (a deleted
    // task's with no live block); the others' allocations are left out.
    ht_snapshot_t full = take(true);
    CHECK(full.task_count >= tasks && full.task_count <= capacity().tasks);
    int found = 0;
    for (int i = 0; i < 16; ++i) {
        char name[16];
        snprintf(name, sizeof(name), "t%d", i);
        found += find_name(&full, name) != NULL;
    }
    CHECK(found > 0 && found < 16 && full.dropped_tasks >= dropped);
    CHECK(full.untracked > untracked);
    ht_snapshot_release(&full);
    for (int i = 0; i < 16; ++i) {
        vTaskDelete(made[i]);
    }
}

static const test_t g_tests[] = {
    { "boot_block", test_boot_block, NULL },
    { "realloc_in_place", test_realloc_in_place, NULL },
    { "table_churn", test_table_churn, NULL },
    { "full_table", test_full_table, NULL },
    { "big_blocks", test_big_blocks, NULL },
    { "deleted_task_records_reused", test_deleted_task_records_reused, NULL },
    { "full_task_records", test_full_task_records, NULL },
};

int main(void) {
    int failures = run(g_tests, sizeof(g_tests) / sizeof(g_tests[0]));
    printf("%s: %s\n", "test_tracker_hooks", failures != 0 ? "FAILED" : "all passed");
    return failures != 0;
}
