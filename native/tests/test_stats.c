// The statistics (builds with them): figures and peaks, heap, block and task
// order, deleted tasks and reused handles, snapshots (one task, slots,
// churn, no memory, totals), records, owners, peaks reset; and ESP-IDF's
// tracker's own failure modes.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/******************************************************************************/
// Statistics (task tracking)

#if HT_TEST_TRACKING

void test_stats_and_peaks(void) {
    worker_t w;
    ht_task_t handle = worker_start(&w, "peaks");
    void *a = worker_malloc(&w, 100, HT_CAP_DEFAULT);
    void *b = worker_malloc(&w, 300, HT_CAP_DEFAULT);
    size_t sa = block_size(a), sb = block_size(b);
    CHECK(sa >= 100 + HT_TEST_OWNER_SIZE && sb >= 300 + HT_TEST_OWNER_SIZE);
    CHECK(worker_free(&w, a) == HT_OK);
    CHECK(worker_free(&w, b) == HT_OK);
    // The task's peak is over its total, not a sum of the heaps' peaks.
    void *c = worker_malloc(&w, 500, MALLOC_CAP_RTCRAM);
    size_t sc = block_size(c);
    ht_snapshot_t snap = take(true);
    check_snapshot(&snap, true);
    const ht_task_stat_t *task = find_task(&snap, handle);
    CHECK(task != NULL && task->heap_count == 2 && task->is_alive && strcmp(task->name, "peaks") == 0);
    if (task != NULL && task->heap_count == 2) {
        CHECK(task->overall_current_usage == sc);
        CHECK(task->overall_peak_usage == (sc > sa + sb ? sc : sa + sb));
        const ht_heap_stat_t *ram = &task->heap_stat[0], *rtc = &task->heap_stat[1];
        CHECK(strcmp(ram->name, CHIP_DEFAULT_HEAP->name) == 0 && strcmp(rtc->name, "RTCRAM") == 0);
        CHECK(ram->current_usage == 0 && ram->peak_usage == sa + sb && ram->alloc_count == 0);
        CHECK(ram->caps == CHIP_DEFAULT_HEAP->caps && ram->size == CHIP_DEFAULT_HEAP->size);
        CHECK(rtc->caps == CHIP_RTCRAM->caps && rtc->size == CHIP_RTCRAM->size);
        CHECK(rtc->current_usage == sc && rtc->peak_usage == sc && rtc->alloc_count == 1);
        CHECK(rtc->blocks[0].address == c && rtc->blocks[0].size == sc && rtc->blocks[0].task == handle);
    }
    ht_snapshot_release(&snap);
    CHECK(worker_free(&w, c) == HT_OK);
    worker_stop(&w);
}

void test_heap_and_block_order(void) {
    worker_t w;
    ht_task_t handle = worker_start(&w, "order");
    // Heaps in order of first use, blocks in order of allocation.
    void *rtc = worker_malloc(&w, 40, MALLOC_CAP_RTCRAM);
    void *dma = worker_malloc(&w, 40, HT_CAP_DMA);
    void *d[6];
    for (int k = 0; k < 6; ++k) {
        d[k] = worker_malloc(&w, 16 + 8 * (size_t)k, HT_CAP_DMA);
        CHECK(d[k] != NULL);
    }
    CHECK(worker_free(&w, d[1]) == HT_OK);
    CHECK(ht_free(d[4]) == HT_OK);   // freed by another task: leaves the owner's list
    CHECK(worker_free(&w, d[0]) == HT_OK);
    void *last = worker_malloc(&w, 16, HT_CAP_DMA);
    ht_snapshot_t snap = take(true);
    check_snapshot(&snap, true);
    const ht_task_stat_t *task = find_task(&snap, handle);
    const ht_heap_stat_t *dheap = heap_of(task, dma);
    CHECK(task != NULL && task->heap_count == 2);
    if (task != NULL && task->heap_count == 2) {
        CHECK(strcmp(task->heap_stat[0].name, "RTCRAM") == 0 && task->heap_stat[0].blocks[0].address == rtc);
        CHECK(dheap == &task->heap_stat[1] && dheap->alloc_count == 5);
        void *expect[5] = { dma, d[2], d[3], d[5], last };
        for (int k = 0; k < 5 && dheap->alloc_count == 5; ++k) {
            CHECK(dheap->blocks[k].address == expect[k]);
        }
    }
    ht_snapshot_release(&snap);
    CHECK(ht_free_all(NULL) == HT_OK);
    worker_stop(&w);
}

void test_task_order_and_names(void) {
    ht_task_t me = ht_current_task();
    worker_t w[4];
    ht_task_t handle[4];
    static const char *names[4] = { "first", "second", "a_name_longer_than_fifteen", "fourth" };
    for (int k = 0; k < 4; ++k) {
        handle[k] = worker_start(&w[k], names[k]);
    }
    // A task appears at its first allocation, not before.
    ht_snapshot_t snap = take(false);
    for (int k = 0; k < 4; ++k) {
        CHECK(find_task(&snap, handle[k]) == NULL || !find_task(&snap, handle[k])->is_alive);
    }
    ht_snapshot_release(&snap);
    void *p[3];
    p[0] = worker_malloc(&w[2], 10, HT_CAP_DEFAULT);
    p[1] = worker_malloc(&w[0], 10, HT_CAP_DEFAULT);
    p[2] = worker_malloc(&w[3], 10, HT_CAP_DEFAULT);
    CHECK(p[0] && p[1] && p[2]);
    snap = take(false);
    check_snapshot(&snap, false);
    CHECK(strcmp(find_task(&snap, handle[2])->name, "a_name_longer_t") == 0);
    CHECK(strcmp(find_task(&snap, handle[0])->name, "first") == 0);
    CHECK(strcmp(find_task(&snap, handle[3])->name, "fourth") == 0);
    CHECK(find_task(&snap, handle[1]) == NULL || !find_task(&snap, handle[1])->is_alive);
    CHECK(strcmp(find_task(&snap, me)->name, "mp_task") == 0);
    // The main task's TCB was allocated before any task ran: Pre-scheduler's, last.
    const ht_task_stat_t *pre = &snap.tasks[snap.task_count - 1];
    CHECK(pre->handle == 0 && strcmp(pre->name, "Pre-scheduler") == 0 && pre->is_alive);
    for (size_t t = 0; t < snap.task_count; ++t) {
        for (size_t h = 0; h < snap.tasks[t].heap_count; ++h) {
            CHECK(snap.tasks[t].heap_stat[h].blocks == NULL);
        }
    }
    ht_snapshot_release(&snap);
    CHECK(snap.storage == NULL && snap.tasks == NULL && snap.task_count == 0);
    // Handles are the TCBs' addresses: blocks the creator allocated.
    snap = take(true);
    const ht_heap_stat_t *tcb_heap = heap_of(find_task(&snap, me), (void *)handle[0]);
    CHECK(strcmp(tcb_heap->name, "(none)") != 0);
    CHECK(block_size((void *)handle[0]) >= TCB_SIZE + HT_TEST_OWNER_SIZE);
    ht_snapshot_release(&snap);
    for (int k = 0; k < 3; ++k) {
        CHECK(ht_free(p[k]) == HT_OK);
    }
    for (int k = 0; k < 4; ++k) {
        worker_stop(&w[k]);
    }
}

void test_free_by_other_task(void) {
    worker_t w;
    ht_task_t owner = worker_start(&w, "owner");
    void *a = worker_malloc(&w, 100, HT_CAP_DEFAULT);
    void *b = worker_malloc(&w, 200, HT_CAP_DEFAULT);
    CHECK(a && b);
    size_t sa = block_size(a), sb = block_size(b);
    ht_snapshot_t before;
    CHECK(ht_snapshot_take(&before, false, ht_current_task(), true) == HT_OK);
    // The main task frees the owner's block: it leaves the owner's record,
    // and the main task's record does not change.
    CHECK(ht_free(a) == HT_OK);
    ht_snapshot_t snap = take(true);
    const ht_task_stat_t *task = find_task(&snap, owner);
    CHECK(task != NULL && task_blocks(task) == 1 && heap_of(task, b)->alloc_count == 1);
    CHECK(task != NULL && task->overall_current_usage == sb);
    CHECK(task != NULL && task->overall_peak_usage == sa + sb);
    CHECK(same_task(&before.tasks[0], find_task(&snap, ht_current_task())));
    ht_snapshot_release(&snap);
    ht_snapshot_release(&before);
    // And the other way round.
    void *mine = try_malloc(50, HT_CAP_DEFAULT);
    CHECK(worker_free(&w, mine) == HT_OK);
    CHECK(worker_free(&w, b) == HT_OK);
    snap = take(true);
    CHECK(block_listed(&snap, mine) == 0 && block_listed(&snap, b) == 0);
    CHECK(find_task(&snap, owner)->overall_current_usage == 0);
    ht_snapshot_release(&snap);
    worker_stop(&w);
}

void test_deleted_tasks(void) {
    worker_t w;
    ht_task_t handle = worker_start(&w, "leaker");
    void *p[3];
    for (int k = 0; k < 3; ++k) {
        p[k] = worker_malloc(&w, 64 * (size_t)(k + 1), HT_CAP_DEFAULT);
        CHECK(p[k] != NULL);
    }
    size_t peak = block_size(p[0]) + block_size(p[1]) + block_size(p[2]);
    CHECK(worker_free(&w, p[1]) == HT_OK);
    ht_snapshot_t snap = take(true);
    CHECK(find_task(&snap, handle)->is_alive);
    ht_snapshot_release(&snap);
    worker_stop(&w);
    snap = take(true);
    check_snapshot(&snap, true);
    const ht_task_stat_t *task = find_named(&snap, handle, "leaker");
    CHECK(task != NULL && !task->is_alive);
    CHECK(task != NULL && task_blocks(task) == 2);
    CHECK(task != NULL && task->heap_stat[0].blocks[0].address == p[0]);
    CHECK(task != NULL && task->heap_stat[0].blocks[1].address == p[2]);
    ht_snapshot_release(&snap);
    // A single-task snapshot finds a deleted task too (if earlier tasks had
    // this TCB, one of their records: nothing tells deleted records apart).
    snap = take(false);
    bool unique = count_records(&snap, handle) == 1;
    ht_snapshot_release(&snap);
    CHECK(ht_snapshot_take(&snap, false, handle, true) == HT_OK);
    CHECK(snap.task_count == 1 && snap.tasks[0].handle == handle && !snap.tasks[0].is_alive);
    CHECK(!unique || (strcmp(snap.tasks[0].name, "leaker") == 0 && snap.tasks[0].heap_stat[0].alloc_count == 2));
    ht_snapshot_release(&snap);
    // Its blocks can still be freed, by anyone; the record stays.
    CHECK(ht_free(p[0]) == HT_OK);
    CHECK(ht_free(p[2]) == HT_OK);
    snap = take(true);
    task = find_named(&snap, handle, "leaker");
    CHECK(task != NULL && !task->is_alive && task->overall_current_usage == 0 && task->heap_count == 1);
    CHECK(task != NULL && task->overall_peak_usage == peak);
    ht_snapshot_release(&snap);
}

// A deleted task's TCB, and so its handle, given to a new task: `old_task`
// allocates a 40-byte block (kept) and is deleted, then `young_task` starts,
// until it gets old_task's TCB (8 attempts; the young tasks that did not stay
// alive, in spare, so that the next attempt gets another TCB).
typedef struct {
    worker_t old, young, spare[8];
    size_t spares;
    ht_task_t handle;   // both tasks' handle
    void *kept;         // old_task's block
} tcb_reuse_t;

static bool tcb_reused(tcb_reuse_t *r) {
    r->spares = 0;
    for (int attempt = 0; attempt < 8; ++attempt) {
        ht_task_t old_handle = worker_start(&r->old, "old_task");
        r->kept = worker_malloc(&r->old, 40, HT_CAP_DEFAULT);
        worker_stop(&r->old);
        if (worker_start(&r->young, "young_task") == old_handle) {
            r->handle = old_handle;
            return true;
        }
        CHECK(ht_free(r->kept) == HT_OK);
        r->spare[r->spares++] = r->young;   // keep that TCB taken for the next attempt
    }
    CHECK(!"a new task got a deleted task's TCB within 8 attempts");
    return false;
}

static void tcb_reuse_spares_stop(tcb_reuse_t *r) {
    for (size_t k = 0; k < r->spares; ++k) {
        worker_stop(&r->spare[k]);
    }
}

// A new task may get a deleted task's TCB, and so its handle: both records
// stay, and the handle names the living task.
void test_handle_reuse(void) {
    static tcb_reuse_t r;
    if (!tcb_reused(&r)) {
        tcb_reuse_spares_stop(&r);
        return;
    }
    worker_t *young = &r.young;
    ht_task_t young_handle = r.handle;
    void *old_block = r.kept, *young_block = NULL;
    // Until the young task allocates, the handle has only deleted records.
    ht_snapshot_t snap = take(false);
    size_t records = count_records(&snap, young_handle);
    CHECK(find_named(&snap, young_handle, "old_task") != NULL);
    ht_snapshot_release(&snap);
    CHECK(ht_snapshot_take(&snap, false, young_handle, true) == HT_OK);
    CHECK(snap.task_count == 1 && !snap.tasks[0].is_alive);
    CHECK(records > 1 || strcmp(snap.tasks[0].name, "old_task") == 0);
    ht_snapshot_release(&snap);
    young_block = worker_malloc(young, 48, HT_CAP_DEFAULT);
    CHECK(young_block != NULL);
    snap = take(true);
    check_snapshot(&snap, true);
    CHECK(count_records(&snap, young_handle) == records + 1);
    CHECK(find_named(&snap, young_handle, "old_task") != NULL && !find_named(&snap, young_handle, "old_task")->is_alive);
    const ht_task_stat_t *living = find_task(&snap, young_handle);
    CHECK(living != NULL && living->is_alive && strcmp(living->name, "young_task") == 0);
    CHECK(living != NULL && living->heap_stat[0].blocks[0].address == young_block);
    ht_snapshot_release(&snap);
    CHECK(ht_snapshot_take(&snap, false, young_handle, true) == HT_OK);
    CHECK(snap.task_count == 1 && snap.tasks[0].is_alive && strcmp(snap.tasks[0].name, "young_task") == 0);
    CHECK(snap.tasks[0].heap_stat[0].alloc_count == 1 && snap.tasks[0].heap_stat[0].blocks[0].address == young_block);
    ht_snapshot_release(&snap);
    // Each record keeps its own blocks; freeing one touches only its own.
    CHECK(ht_free(old_block) == HT_OK);
    snap = take(true);
    CHECK(task_blocks(find_named(&snap, young_handle, "old_task")) == 0);
    CHECK(task_blocks(find_named(&snap, young_handle, "young_task")) == 1);
    ht_snapshot_release(&snap);
    worker_stop(young);
    snap = take(true);
    CHECK(count_records(&snap, young_handle) == records + 1);
    CHECK(!find_task(&snap, young_handle)->is_alive);
    ht_snapshot_release(&snap);
    CHECK(ht_free(young_block) == HT_OK);
    tcb_reuse_spares_stop(&r);
}

void test_single_task_snapshot(void) {
    worker_t w, idle;
    ht_task_t other = worker_start(&w, "single");
    ht_task_t idle_handle = worker_start(&idle, "idle");
    void *a = worker_malloc(&w, 100, HT_CAP_DEFAULT);
    void *b = try_malloc(200, HT_CAP_DEFAULT);
    CHECK(a && b);
    ht_snapshot_t all = take(true), snap;
    CHECK(ht_snapshot_take(&snap, false, other, true) == HT_OK);
    CHECK(snap.task_count == 1 && snap.tasks[0].handle == other);
    CHECK(same_task(&snap.tasks[0], find_task(&all, other)));
    CHECK(snap.tasks[0].heap_stat[0].blocks[0].address == a);
    check_snapshot(&snap, true);
    ht_snapshot_release(&snap);
    ht_snapshot_release(&snap);   // released twice: harmless
    CHECK(ht_snapshot_take(&snap, false, ht_current_task(), false) == HT_OK);
    CHECK(snap.task_count == 1 && task_blocks(&snap.tasks[0]) == task_blocks(find_task(&all, ht_current_task())));
    check_snapshot(&snap, false);
    ht_snapshot_release(&snap);
    ht_snapshot_release(&all);
    // Handle 0 is ESP-IDF's Pre-scheduler record.
    CHECK(ht_snapshot_take(&snap, false, 0, false) == HT_OK);
    CHECK(snap.task_count == 1 && strcmp(snap.tasks[0].name, "Pre-scheduler") == 0);
    ht_snapshot_release(&snap);
    // Unknown handles, and a task that never allocated: nothing, and nothing made.
    static const ht_task_t unknown[] = { 12345, 0x3fc80000u, UINTPTR_MAX };
    for (size_t k = 0; k < sizeof(unknown) / sizeof(unknown[0]); ++k) {
        CHECK(ht_snapshot_take(&snap, false, unknown[k], true) == HT_ERR_NO_TASK);
        CHECK(snap.task_count == 0 && snap.tasks == NULL && snap.storage == NULL);
    }
    CHECK(ht_snapshot_take(&snap, false, idle_handle, true) == HT_ERR_NO_TASK);
    // Taking snapshots charges nobody: the idle task takes one and stays unknown.
    op_t op = { .kind = OP_SNAPSHOT };
    worker_run(&idle, &op);
    CHECK(op.err == HT_OK);
    CHECK(ht_snapshot_take(&snap, false, idle_handle, true) == HT_ERR_NO_TASK);
    CHECK(worker_free(&w, a) == HT_OK && ht_free(b) == HT_OK);
    worker_stop(&w);
    worker_stop(&idle);
}

void test_snapshot_changes_nothing(void) {
    void *p = try_malloc(64, HT_CAP_DEFAULT);
    regions_t before = regions();
    ht_snapshot_t a = take(true);
    ht_snapshot_t b = take(false);
    ht_snapshot_t c = take(true);
    CHECK(same_snapshot(&a, &c));
    CHECK(b.task_count == a.task_count);
    ht_snapshot_release(&a);
    ht_snapshot_release(&b);
    ht_snapshot_release(&c);
    regions_t after = regions();
    CHECK(same_regions(&before, &after));
    CHECK(ht_free(p) == HT_OK);
}

// (the most snapshot slots these tests hold: above any build's)
#define SLOTS_MAX 64

static size_t snapshot_slots(void) {
    ht_capacity_t cap;
    ht_capacity(&cap);
    CHECK(cap.snapshots > 3 && cap.snapshots < SLOTS_MAX);
    return cap.snapshots > 3 && cap.snapshots < SLOTS_MAX ? cap.snapshots : 0;
}

// Snapshots live in the tracker's slots, at most its capacity at a time.
void test_snapshot_slots(void) {
    ht_snapshot_t held[SLOTS_MAX + 1];
    const size_t slots = snapshot_slots();
    if (slots == 0) {
        return;
    }
    for (size_t k = 0; k < slots; ++k) {
        CHECK(ht_snapshot_take(&held[k], k % 2 == 0, ht_current_task(), k % 3 == 0) == HT_OK);
    }
    CHECK(ht_snapshot_take(&held[slots], true, 0, true) == HT_ERR_FULL);
    CHECK(strstr(ht_err_text(HT_ERR_FULL), "too many statistics snapshots") != NULL);
    CHECK(held[slots].storage == NULL && held[slots].task_count == 0);
    ht_snapshot_release(&held[3]);
    CHECK(ht_snapshot_take(&held[3], true, 0, true) == HT_OK);
    for (size_t k = 0; k < slots; ++k) {
        check_snapshot(&held[k], k % 3 == 0 || k == 3);
        ht_snapshot_release(&held[k]);
    }
    ht_snapshot_t snap;
    CHECK(ht_snapshot_take(&snap, true, 0, true) == HT_OK);
    ht_snapshot_release(&snap);
}

// After a soft reset, snapshots that deleted tasks never released are taken
// back (ht_vm_restart), and a block-table reservation of a task deleted inside
// ht_malloc no longer counts against the table.
void test_vm_restart_reclaims(void) {
    ht_snapshot_t lost[SLOTS_MAX];
    const size_t slots = snapshot_slots();
    for (size_t k = 0; k < slots; ++k) {
        CHECK(ht_snapshot_take(&lost[k], true, 0, k % 2 == 0) == HT_OK);
    }
    ht_snapshot_t snap;
    CHECK(ht_snapshot_take(&snap, true, 0, true) == HT_ERR_FULL);     // all slots held
    ht_vm_restart();                                                   // their holders are gone
    CHECK(ht_snapshot_take(&snap, true, 0, true) == HT_OK);
    check_snapshot(&snap, true);
    ht_snapshot_release(&snap);
    void *p = try_malloc(32, HT_CAP_DEFAULT);
    CHECK(p != NULL && ht_free(p) == HT_OK);
}

// Snapshots taken while tasks are created, allocate and are deleted: each is
// consistent, or the tracker says ESP-IDF's records kept changing. This is
// where the tracker's retries (records grown between ESP-IDF's sizing and
// filling, a fill exactly at capacity) get exercised.
#define CHURN_THREADS 3
#define CHURN_TASKS 60

static int g_churn_done;

static void churn_task(void *arg) {
    TaskHandle_t creator = arg;
    void *p = try_malloc(24, HT_CAP_DEFAULT);
    void *q = try_malloc(24, MALLOC_CAP_RTCRAM);
    if (q != NULL) {
        ht_free(q);
    }
    if (p != NULL) {
        ht_free(p);
    }
    xTaskNotifyGive(creator);
    ulTaskNotifyTake(pdTRUE, portMAX_DELAY);
}

static void *churn_main(void *arg) {
    (void)arg;
    for (int k = 0; k < CHURN_TASKS; ++k) {
        TaskHandle_t t;
        char name[16];
        snprintf(name, sizeof(name), "churn%u", (unsigned)k % 1000);
        if (xTaskCreate(churn_task, name, 4096, xTaskGetCurrentTaskHandle(), 5, &t) != pdPASS) {
            CHECK(!"xTaskCreate");
            break;
        }
        ulTaskNotifyTake(pdTRUE, portMAX_DELAY);
        vTaskDelete(t);
    }
    return NULL;
}

void test_snapshot_under_churn(void) {
    pthread_t threads[CHURN_THREADS];
    __atomic_store_n(&g_churn_done, 0, __ATOMIC_SEQ_CST);
    for (int k = 0; k < CHURN_THREADS; ++k) {
        CHECK(pthread_create(&threads[k], NULL, churn_main, NULL) == 0);
    }
    size_t ok = 0, busy = 0;
    for (int k = 0; k < 400; ++k) {
        ht_snapshot_t snap;
        bool blocks = k % 2 == 0;
        ht_err_t err = ht_snapshot_take(&snap, k % 4 != 1, ht_current_task(), blocks);
        if (err == HT_OK) {
            check_snapshot(&snap, blocks);
            ++ok;
        } else {
            CHECK(err == HT_ERR_BUSY && strstr(ht_err_text(err), "kept changing") != NULL);
            ++busy;
        }
        ht_snapshot_release(&snap);
    }
    for (int k = 0; k < CHURN_THREADS; ++k) {
        pthread_join(threads[k], NULL);
    }
    CHECK(ok > 0);
    ht_snapshot_t snap = take(true);
    check_snapshot(&snap, true);
    size_t churned = 0;
    for (size_t t = 0; t < snap.task_count; ++t) {
        if (strncmp(snap.tasks[t].name, "churn", 5) == 0) {
            CHECK(!snap.tasks[t].is_alive && snap.tasks[t].overall_current_usage == 0);
            ++churned;
        }
    }
    CHECK(churned >= CHURN_THREADS * CHURN_TASKS);
    ht_snapshot_release(&snap);
    printf("  (%zu snapshots, %zu refused as busy)\n", ok, busy);
}

// ESP-IDF copies its records into arrays it takes from its biggest heap: with
// no room there, no snapshot (and a sentence saying why), while heap calls go on.
void test_snapshot_no_memory(void) {
    worker_t w;
    ht_task_t hog = worker_start(&w, "hog");
    // Fill every heap with the default caps down to fragments. Each block
    // leaves 128 bytes behind, room for ESP-IDF's per-block record.
    enum { MAX = 64 };
    void *held[MAX];
    size_t n = 0, largest;
    while (n < MAX && (largest = heap_caps_get_largest_free_block(MALLOC_CAP_DEFAULT)) >= 512) {
        held[n] = worker_malloc(&w, largest - 128, HT_CAP_DEFAULT);
        if (held[n] == NULL) {
            break;
        }
        ++n;
    }
    CHECK(n > 2 && heap_caps_get_largest_free_block(MALLOC_CAP_DEFAULT) < 512);
    ht_snapshot_t snap;
    CHECK(ht_snapshot_take(&snap, true, 0, true) == HT_ERR_NO_MEM);
    CHECK(strstr(ht_err_text(HT_ERR_NO_MEM), "not enough free heap") != NULL);
    CHECK(strstr(ht_err_text(HT_ERR_NO_MEM), "a copy of the task statistics") != NULL);
    CHECK(snap.storage == NULL && snap.tasks == NULL && snap.task_count == 0);
    #if !HT_TEST_HOOKS
    // ESP-IDF's tracker copies every record for one task too; the hooks
    // tracker only that task's, which may fit in what is left.
    CHECK(ht_snapshot_take(&snap, false, ht_current_task(), false) == HT_ERR_NO_MEM);
    #endif
    ht_snapshot_release(&snap);
    for (size_t k = 0; k < n; ++k) {
        CHECK(ht_free(held[k]) == HT_OK);
    }
    // Room again; and ESP-IDF kept a record of every block meanwhile.
    snap = take(true);
    check_snapshot(&snap, true);
    const ht_task_stat_t *task = find_task(&snap, hog);
    // Its peak: most of the heaps it filled.
    size_t most = heap_caps_get_total_size(MALLOC_CAP_DEFAULT) / 4 * 3;
    CHECK(task != NULL && task->overall_current_usage == 0 && task->overall_peak_usage > most);
    ht_snapshot_release(&snap);
    worker_stop(&w);
}

// The most a report with no blocks takes from any heap, as docs/real-boards.md
// states it: (tasks + 4) task records and (task-heap records + 8) heap records
// of ESP-IDF's sizes, 16 spare block entries, and the allocator's header of
// each of its three arrays; once the tracker has seen how many there are (the
// first copy may try a smaller size first).
static size_t report_bound(const ht_snapshot_t *snap) {
    size_t heaps = 0;
    for (size_t t = 0; t < snap->task_count; ++t) {
        heaps += snap->tasks[t].heap_count;
    }
    return (snap->task_count + 4) * sizeof(ht_task_stat_t) + (heaps + 8) * sizeof(ht_heap_stat_t)
        + 16 * sizeof(ht_block_t) + 3 * 16;
}

// The heap ESP-IDF keeps its records in (the biggest), and its lowest free
// bytes since heap_caps_monitor_local_minimum_free_size_start().
static const ht_region_info_t *biggest_region(const regions_t *rs) {
    const ht_region_info_t *biggest = &rs->r[0];
    for (size_t i = 1; i < rs->count; ++i) {
        if (rs->r[i].total_size > biggest->total_size) {
            biggest = &rs->r[i];
        }
    }
    return biggest;
}

// A report of a system with 10,000 live blocks takes from the heap ESP-IDF
// keeps its records in no more than its task and heap arrays: not a block
// array of 12 bytes per live block (120 KB), which ESP-IDF's own
// heap_caps_alloc_all_task_stat_arrays() takes for an overview too. (In the
// PSRAM run: ESP-IDF's records of 10,000 blocks need more than the chip's
// internal RAM.)
void test_report_bound(void) {
    enum { LIVE = 10000 };
    void **live = malloc(LIVE * sizeof(void *));
    CHECK(live != NULL);
    size_t n = 0;
    for (; live != NULL && n < LIVE && (live[n] = heap_caps_malloc(16, MALLOC_CAP_SPIRAM)) != NULL; ++n) {
    }
    CHECK(n == LIVE);
    ht_snapshot_t snap;
    CHECK(ht_snapshot_take(&snap, true, 0, false) == HT_OK);   // sizes the tracker's arrays
    ht_snapshot_release(&snap);

    CHECK(heap_caps_monitor_local_minimum_free_size_start() == ESP_OK);
    regions_t before = regions();
    CHECK(ht_snapshot_take(&snap, true, 0, false) == HT_OK);
    regions_t during = regions();
    size_t bound = report_bound(&snap);
    ht_snapshot_release(&snap);
    CHECK(heap_caps_monitor_local_minimum_free_size_stop() == ESP_OK);
    for (size_t i = 0; i < before.count; ++i) {
        size_t taken = before.r[i].free_size - during.r[i].minimum_free_size;
        if (taken > bound) {
            fprintf(stderr, "  an overview took %zu bytes from %s at 0x%08lx (bound %zu)\n", taken,
                before.r[i].name, (unsigned long)before.r[i].start, bound);
        }
        CHECK(taken <= bound);
    }
    CHECK(bound < LIVE * sizeof(ht_block_t) / 8);
    CHECK(biggest_region(&before)->free_size >= biggest_region(&during)->free_size);
    for (size_t k = 0; k < n; ++k) {
        heap_caps_free(live[k]);
    }
    free(live);
}

#if !HT_TEST_HOOKS   // ESP-IDF's tracker's own failure modes

// ESP-IDF keeps its records in its biggest heap only. Filled up, it drops
// them with a line of log: heaptrack counts them, flags the figures that no
// longer add up, and says the heap is full. (Last of the tests: the filler's
// record keeps a block count with no block behind it.)
void test_records_heap_full(void) {
    ht_records_t before;
    CHECK(ht_records_info(&before) == HT_OK);
    CHECK(before.heap_start != 0 && !before.full && before.untracked == 0);
    regions_t rs = regions();
    const ht_region_info_t *biggest = region_of(&rs, (void *)before.heap_start);
    CHECK(biggest != NULL);
    for (size_t i = 0; biggest != NULL && i < rs.count; ++i) {
        CHECK(rs.r[i].total_size <= biggest->total_size);
    }
    worker_t w;
    worker_start(&w, "filler");
    // Every internal heap, down to crumbs; one block outside the biggest heap
    // is kept aside to be handed out again while that heap is full.
    enum { MAX = 256 };
    void *held[MAX];
    size_t n = 0;
    void *aside = NULL;
    for (size_t size = 65536; size >= 8 && n < MAX;) {
        void *p = worker_malloc(&w, size, HT_CAP_INTERNAL);
        if (p == NULL) {
            size /= 2;
        } else if (aside == NULL && size >= 64 && region_of(&rs, p) != biggest) {
            aside = p;
        } else {
            held[n++] = p;
        }
    }
    CHECK(aside != NULL && n < MAX);
    ht_records_t full;
    CHECK(ht_records_info(&full) == HT_OK && full.full && full.room < 64);
    // Freeing the block aside frees its record (room for one block's record,
    // not a task's): a new task's TCB fits aside, its first block's task
    // record fits nowhere.
    CHECK(worker_free(&w, aside) == HT_OK);
    size_t dropped = full.untracked;
    worker_t late;
    ht_task_t late_handle = worker_start(&late, "late");
    void *unrecorded = worker_malloc(&late, 32, HT_CAP_INTERNAL);
    CHECK(unrecorded != NULL && region_of(&rs, unrecorded) != biggest);
    ht_records_t after;
    CHECK(ht_records_info(&after) == HT_OK && after.untracked > dropped);
    dropped = after.untracked;
    for (size_t k = 0; k < n; ++k) {
        CHECK(worker_free(&w, held[k]) == HT_OK);
    }
    CHECK(ht_records_info(&after) == HT_OK && !after.full);
    // The filler's heap counts the block, lists none: flagged, and listed as
    // ESP-IDF lists it.
    ht_snapshot_t snap = take(true);
    CHECK(snap.untracked == dropped && snap.drifted >= 1);
    CHECK(find_named(&snap, late_handle, "late") == NULL);
    const ht_task_stat_t *filler = find_task(&snap, worker_current(&w));
    bool short_listed = false;
    for (size_t h = 0; filler != NULL && h < filler->heap_count; ++h) {
        const ht_heap_stat_t *hs = &filler->heap_stat[h];
        size_t listed = ht_heap_block_count(hs);
        for (size_t b = 0; b < listed; ++b) {
            CHECK(hs->blocks[b].address != NULL && hs->blocks[b].address != unrecorded);
        }
        short_listed |= listed < hs->alloc_count;
    }
    CHECK(short_listed);
    ht_snapshot_release(&snap);
    CHECK(worker_free(&late, unrecorded) == HT_OK);
    worker_stop(&late);
    worker_stop(&w);
    CHECK(heap_caps_check_integrity_all(true));
}

// Overviews flag the copy; copies with blocks flag it too, or refuse when a
// count wrapped below zero; the heap stays intact either way.
static void check_miscount_flagged(void) {
    for (int with_blocks = 0; with_blocks < 2; ++with_blocks) {
        ht_snapshot_t snap;
        ht_err_t err = ht_snapshot_take(&snap, true, 0, with_blocks);
        CHECK(err == HT_OK || (with_blocks && err == HT_ERR_INCONSISTENT
            && strstr(ht_err_text(err), "overviews still work") != NULL));
        CHECK(err != HT_OK || snap.drifted >= 1);
        ht_snapshot_release(&snap);
        CHECK(heap_caps_check_integrity_all(true));
    }
}

// ESP-IDF's realloc takes the old block off every record with its owner's
// handle, also a deleted task's whose TCB a new task got, which then counts
// one block fewer than it lists (or "minus one"). Copies of those records
// must not write outside the arrays heaptrack hands ESP-IDF (an overview would
// write through a NULL one), and are flagged.
void test_realloc_miscount(void) {
    static tcb_reuse_t r;
    if (tcb_reused(&r)) {
        // The old record counts 1 and lists 1; after the realloc it counts 0.
        void *b = worker_heap_op(&r.young, OP_HEAP_MALLOC, NULL, 40);
        b = worker_heap_op(&r.young, OP_HEAP_REALLOC, b, 400);
        CHECK(b != NULL);
        check_miscount_flagged();
        // Freed, the old record counts "minus one" after the next realloc.
        CHECK(ht_free(r.kept) == HT_OK);
        b = worker_heap_op(&r.young, OP_HEAP_REALLOC, b, 40);
        CHECK(b != NULL);
        check_miscount_flagged();
        worker_heap_op(&r.young, OP_HEAP_FREE, b, 0);
        worker_stop(&r.young);
    }
    tcb_reuse_spares_stop(&r);
}

#endif // !HT_TEST_HOOKS

// Each task's totals only: the same tasks and figures as a full copy, no heaps.
void test_totals_snapshot(void) {
    worker_t w;
    ht_task_t handle = worker_start(&w, "totals");
    void *p = worker_malloc(&w, 300, HT_CAP_DEFAULT);
    CHECK(p != NULL);
    ht_snapshot_t full = take(false);
    ht_snapshot_t totals;
    CHECK(ht_snapshot_take_totals(&totals, true, 0) == HT_OK);
    CHECK(totals.task_count == full.task_count);
    for (size_t i = 0; i < totals.task_count && i < full.task_count; ++i) {
        const ht_task_stat_t *a = &totals.tasks[i], *b = &full.tasks[i];
        CHECK(a->handle == b->handle && strcmp(a->name, b->name) == 0 && a->is_alive == b->is_alive);
        CHECK(a->overall_current_usage == b->overall_current_usage && a->overall_peak_usage == b->overall_peak_usage);
        CHECK(a->heap_count == b->heap_count && a->heap_stat == NULL);
    }
    ht_snapshot_release(&totals);
    ht_snapshot_release(&full);
    CHECK(ht_snapshot_take_totals(&totals, false, handle) == HT_OK);
    CHECK(totals.task_count == 1 && totals.tasks[0].handle == handle && totals.tasks[0].heap_count == 1);
    ht_snapshot_release(&totals);
    CHECK(worker_free(&w, p) == HT_OK);
    worker_stop(&w);
}

// The task a block is charged to, and its size as the statistics count it.
void test_block_owner(void) {
    worker_t w;
    ht_task_t handle = worker_start(&w, "owner");
    void *p = worker_malloc(&w, 200, HT_CAP_DEFAULT);
    CHECK(p != NULL);
    ht_task_t owner = 0;
    size_t size = 0;
    CHECK(ht_block_owner((uintptr_t)p, &owner, &size) == HT_OK);
    CHECK(owner == handle && size == block_size(p));
    ht_snapshot_t snap = take(true);
    const ht_task_stat_t *task = find_task(&snap, handle);
    CHECK(task != NULL && task->heap_stat[0].blocks[0].address == p && task->heap_stat[0].blocks[0].size == size);
    ht_snapshot_release(&snap);
    CHECK(worker_free(&w, p) == HT_OK);
    #if HT_TEST_HOOKS
    CHECK(ht_block_owner((uintptr_t)p, &owner, &size) == HT_ERR_NO_BLOCK);
    #endif
    worker_stop(&w);
}

// How many records there are, of deleted tasks among them, and room for more.
void test_records_counted(void) {
    ht_records_t before;
    CHECK(ht_records_info(&before) == HT_OK && before.tasks > 0 && before.tasks_left > 0 && !before.low);
    worker_t w;
    worker_start(&w, "counted");
    void *p = worker_malloc(&w, 64, HT_CAP_DEFAULT);
    CHECK(worker_free(&w, p) == HT_OK);
    worker_stop(&w);
    ht_records_t after;
    CHECK(ht_records_info(&after) == HT_OK);
    ht_snapshot_t snap = take(false);
    size_t deleted = 0;
    for (size_t i = 0; i < snap.task_count; ++i) {
        deleted += !snap.tasks[i].is_alive;
    }
    CHECK(after.tasks == snap.task_count && after.deleted == deleted);
    CHECK(snap.records.tasks == after.tasks && snap.records.deleted == after.deleted);
    ht_snapshot_release(&snap);
    #if HT_TEST_HOOKS
    // Reused when full: a record dropped by clear() is room again.
    CHECK(after.tasks_left >= before.tasks_left - 1);
    #else
    CHECK(after.tasks == before.tasks + 1 && after.deleted == before.deleted + 1);
    CHECK(after.bytes > before.bytes && after.tasks_left < before.tasks_left);
    #endif
}

// tracemalloc's controls: reset_peak() brings alive tasks' peaks back to their
// current usage, clear() forgets deleted tasks that hold nothing. heaptrack's
// tracker can; ESP-IDF's cannot, and says what it keeps.
void test_reset_peak_and_clear(void) {
    worker_t w, gone, holder;
    ht_task_t handle = worker_start(&w, "peaky");
    void *big = worker_malloc(&w, 4000, HT_CAP_DEFAULT);
    void *small = worker_malloc(&w, 100, HT_CAP_DEFAULT);
    CHECK(worker_free(&w, big) == HT_OK);
    ht_task_t gone_handle = worker_start(&gone, "gone");
    void *q = worker_malloc(&gone, 64, HT_CAP_DEFAULT);
    CHECK(worker_free(&gone, q) == HT_OK);
    worker_stop(&gone);
    ht_task_t holder_handle = worker_start(&holder, "holder");
    void *held = worker_malloc(&holder, 96, HT_CAP_DEFAULT);
    worker_stop(&holder);
    size_t dropped = 99;
    #if HT_TEST_HOOKS
    CHECK(ht_reset_peak() == HT_OK);
    ht_snapshot_t snap = take(false);
    const ht_task_stat_t *task = find_task(&snap, handle);
    CHECK(task != NULL && task->overall_peak_usage == task->overall_current_usage);
    CHECK(task != NULL && task->heap_stat[0].peak_usage == task->heap_stat[0].current_usage);
    CHECK(task != NULL && task->overall_current_usage == block_size(small));
    const ht_task_stat_t *dead = find_named(&snap, holder_handle, "holder");
    CHECK(dead != NULL && dead->overall_peak_usage == block_size(held));   // deleted: not touched
    ht_snapshot_release(&snap);
    CHECK(ht_clear(&dropped) == HT_OK && dropped >= 1);
    snap = take(true);
    CHECK(find_named(&snap, gone_handle, "gone") == NULL);
    CHECK(find_named(&snap, holder_handle, "holder") != NULL);   // its block keeps its owner
    CHECK(find_task(&snap, handle) != NULL);
    ht_snapshot_release(&snap);
    #else
    CHECK(ht_reset_peak() == HT_ERR_UNSUPPORTED && strstr(ht_err_text(HT_ERR_UNSUPPORTED), "no call to reset it") != NULL);
    CHECK(ht_clear(&dropped) == HT_ERR_UNSUPPORTED && dropped == 0);
    CHECK(strstr(ht_err_text(HT_ERR_UNSUPPORTED), "until a hard reset") != NULL);
    ht_snapshot_t snap = take(false);
    CHECK(find_named(&snap, gone_handle, "gone") != NULL);
    ht_snapshot_release(&snap);
    (void)handle;
    (void)holder_handle;
    #endif
    CHECK(ht_free(held) == HT_OK);
    CHECK(worker_free(&w, small) == HT_OK);
    worker_stop(&w);
}

#endif // HT_TEST_TRACKING
