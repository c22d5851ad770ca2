// The C tests' harness (harness.h): checks, workers, snapshot helpers,
// check_unchanged and the runner, for every test program of the trackers.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

const chip_heap_t s_chip_heaps[CHIP_HEAPS] = {
#if CONFIG_IDF_TARGET_ESP32C3
    { "RTCRAM", 0x50001204u, 3556, 0x00009807 },
    { "Retention RAM", 0x3FCDC710u, 10576, 0x0000580f },
    { "Retention RAM", 0x3FCC0000u, 116496, 0x0000580f },
    { "RAM", 0x3FC8D610u, 207344, 0x0000180f },
#else
    { "RTCRAM", 0x600FE010u, 8152, 0x00009807 },
    { "RAM", 0x3FCE9710u, 22308, 0x0010580f },
    { "DRAM", 0x3FCF0000u, 32768, 0x0010180e },
    { "RAM", 0x3FC955C0u, 344400, 0x0010580f },
#endif
};

/******************************************************************************/
// Harness

int g_test_failed;   // set from any thread
int g_checks_failed;
const char *(*check_context)(void);
int check_limit;

void check_failed(const char *file, int line, const char *what) {
    fprintf(stderr, "%s:%d: %scheck failed: %s\n", file, line, check_context != NULL ? check_context() : "", what);
    __atomic_store_n(&g_test_failed, 1, __ATOMIC_SEQ_CST);
    if (__atomic_add_fetch(&g_checks_failed, 1, __ATOMIC_SEQ_CST) > check_limit && check_limit > 0) {
        exit(1);
    }
}

bool failed(void) {
    return __atomic_load_n(&g_test_failed, __ATOMIC_SEQ_CST) != 0;
}

// ht_malloc's block, or NULL: what most checks here are about (those about
// why there was none call ht_malloc).
void *try_malloc(size_t size, uint32_t caps) {
    void *p = &p;
    ht_err_t err = ht_malloc(size, caps, &p);
    CHECK((err == HT_OK) == (p != NULL));
    return p;
}

// The full size ESP-IDF records for a block: what heap_caps_malloc took from
// TLSF, with task tracking's owner word.
size_t block_size(void *p) {
    return heap_caps_get_containing_block_size(p);
}

/******************************************************************************/
// Workers (harness.h says what they are for)

void run_op(op_t *op) {
    switch (op->kind) {
        case OP_MALLOC:
            op->address = try_malloc(op->size, op->caps);
            break;
        case OP_FREE:
            op->err = ht_free(op->address);
            break;
        case OP_CURRENT:
            op->handle = ht_current_task();
            break;
        case OP_SNAPSHOT: {
            ht_snapshot_t snap;
            op->err = ht_snapshot_take(&snap, true, 0, true);
            ht_snapshot_release(&snap);
            break;
        }
        case OP_HEAP_MALLOC:
            op->address = heap_caps_malloc(op->size, op->caps);
            break;
        case OP_HEAP_CALLOC:
            op->address = heap_caps_calloc(1, op->size, op->caps);
            break;
        case OP_HEAP_ALIGNED:
            op->address = heap_caps_aligned_alloc(64, op->size, op->caps);
            break;
        case OP_CALL:
            op->call(op);
            break;
        case OP_HEAP_REALLOC:
            op->address = heap_caps_realloc(op->address, op->size, op->caps);
            break;
        case OP_HEAP_FREE:
            heap_caps_free(op->address);
            break;
    }
}

void worker_main(void *arg) {
    worker_t *w = arg;
    for (;;) {
        ulTaskNotifyTake(pdTRUE, portMAX_DELAY);
        run_op(w->op);
        xTaskNotifyGive(w->caller);
    }
}

ht_task_t worker_start(worker_t *w, const char *name) {
    memset(w, 0, sizeof(*w));
    CHECK(xTaskCreate(worker_main, name, 4096, w, 5, &w->handle) == pdPASS);
    return (ht_task_t)w->handle;
}

void worker_run(worker_t *w, op_t *op) {
    w->op = op;
    w->caller = xTaskGetCurrentTaskHandle();
    xTaskNotifyGive(w->handle);
    ulTaskNotifyTake(pdTRUE, portMAX_DELAY);
}

void *worker_malloc(worker_t *w, size_t size, uint32_t caps) {
    op_t op = { .kind = OP_MALLOC, .size = size, .caps = caps };
    worker_run(w, &op);
    return op.address;
}

ht_err_t worker_free(worker_t *w, void *address) {
    op_t op = { .kind = OP_FREE, .address = address };
    worker_run(w, &op);
    return op.err;
}

void *worker_heap_op(worker_t *w, op_kind_t kind, void *address, size_t size) {
    op_t op = { .kind = kind, .address = address, .size = size, .caps = MALLOC_CAP_DEFAULT };
    worker_run(w, &op);
    return op.address;
}

ht_task_t worker_current(worker_t *w) {
    op_t op = { .kind = OP_CURRENT };
    worker_run(w, &op);
    return op.handle;
}

// Deletes the worker's task: its TCB is freed, which ESP-IDF sees as DELETED.
void worker_stop(worker_t *w) {
    vTaskDelete(w->handle);
}

/******************************************************************************/
// Snapshot helpers

#if HT_TEST_TRACKING

ht_snapshot_t take(bool with_blocks) {
    ht_snapshot_t snap;
    CHECK(ht_snapshot_take(&snap, true, 0, with_blocks) == HT_OK);
    return snap;
}

// The record for handle: the living task's if a deleted one had the same TCB.
const ht_task_stat_t *find_task(const ht_snapshot_t *snap, ht_task_t handle) {
    const ht_task_stat_t *found = NULL;
    for (size_t i = 0; i < snap->task_count; ++i) {
        if (snap->tasks[i].handle == handle && (found == NULL || snap->tasks[i].is_alive)) {
            found = &snap->tasks[i];
        }
    }
    return found;
}

// The record of the task called name with that handle (TCBs, and so handles,
// are reused: earlier tests' deleted tasks may have had this one's).
const ht_task_stat_t *find_named(const ht_snapshot_t *snap, ht_task_t handle, const char *name) {
    for (size_t i = 0; i < snap->task_count; ++i) {
        if (snap->tasks[i].handle == handle && strcmp(snap->tasks[i].name, name) == 0) {
            return &snap->tasks[i];
        }
    }
    return NULL;
}

size_t count_records(const ht_snapshot_t *snap, ht_task_t handle) {
    size_t n = 0;
    for (size_t i = 0; i < snap->task_count; ++i) {
        n += snap->tasks[i].handle == handle;
    }
    return n;
}

// The heap of a task holding address, or a placeholder named "(none)".
const ht_heap_stat_t *heap_of(const ht_task_stat_t *task, const void *address) {
    static const ht_heap_stat_t none = { .name = "(none)" };
    for (size_t h = 0; task != NULL && h < task->heap_count; ++h) {
        const ht_heap_stat_t *heap = &task->heap_stat[h];
        for (size_t b = 0; heap->blocks != NULL && b < heap->alloc_count; ++b) {
            if (heap->blocks[b].address == address) {
                return heap;
            }
        }
    }
    return &none;
}

// How many records, over all tasks, list address.
size_t block_listed(const ht_snapshot_t *snap, const void *address) {
    size_t n = 0;
    for (size_t t = 0; t < snap->task_count; ++t) {
        n += strcmp(heap_of(&snap->tasks[t], address)->name, "(none)") != 0;
    }
    return n;
}

size_t task_blocks(const ht_task_stat_t *task) {
    size_t n = 0;
    for (size_t h = 0; task != NULL && h < task->heap_count; ++h) {
        n += task->heap_stat[h].alloc_count;
    }
    return n;
}

// What holds for any snapshot (with_blocks: taken with blocks).
void check_snapshot(const ht_snapshot_t *snap, bool with_blocks) {
    for (size_t t = 0; t < snap->task_count; ++t) {
        const ht_task_stat_t *task = &snap->tasks[t];
        // ESP-IDF's order: decreasing handle, Pre-scheduler (0) last; a
        // reused handle has a record per task that had it.
        CHECK(t == 0 || snap->tasks[t - 1].handle >= task->handle);
        CHECK(task->handle != 0 || t == snap->task_count - 1);
        CHECK(task->overall_peak_usage >= task->overall_current_usage);
        CHECK(task->heap_count >= 1);
        CHECK(memchr(task->name, '\0', HT_TASK_NAME_LEN) != NULL);
        size_t sum = 0;
        for (size_t h = 0; h < task->heap_count; ++h) {
            const ht_heap_stat_t *heap = &task->heap_stat[h];
            CHECK(heap->name != NULL && heap->size > 0);
            CHECK(heap->peak_usage >= heap->current_usage);
            CHECK(heap->current_usage <= heap->size);
            CHECK(with_blocks ? heap->blocks != NULL : heap->blocks == NULL);
            size_t bytes = 0;
            CHECK(ht_heap_block_count(heap) == (heap->blocks != NULL ? heap->alloc_count : 0));
            for (size_t b = 0; heap->blocks != NULL && b < heap->alloc_count; ++b) {
                CHECK(heap->blocks[b].task == task->handle);
                CHECK(heap->blocks[b].size >= 12 && heap->blocks[b].size % 4 == 0);
                bytes += heap->blocks[b].size;
            }
            CHECK(!with_blocks || bytes == heap->current_usage);
            sum += heap->current_usage;
        }
        CHECK(sum == task->overall_current_usage);
    }
    CHECK(snap->untracked == 0 && snap->drifted == 0);
}

bool same_task(const ht_task_stat_t *x, const ht_task_stat_t *y) {
    if (strcmp(x->name, y->name) != 0 || x->handle != y->handle || x->is_alive != y->is_alive
        || x->overall_peak_usage != y->overall_peak_usage
        || x->overall_current_usage != y->overall_current_usage || x->heap_count != y->heap_count) {
        return false;
    }
    for (size_t h = 0; h < x->heap_count; ++h) {
        const ht_heap_stat_t *p = &x->heap_stat[h], *q = &y->heap_stat[h];
        if (strcmp(p->name, q->name) != 0 || p->caps != q->caps || p->size != q->size
            || p->current_usage != q->current_usage || p->peak_usage != q->peak_usage
            || p->alloc_count != q->alloc_count || (p->blocks == NULL) != (q->blocks == NULL)) {
            return false;
        }
        for (size_t k = 0; p->blocks != NULL && k < p->alloc_count; ++k) {
            if (p->blocks[k].address != q->blocks[k].address || p->blocks[k].size != q->blocks[k].size
                || p->blocks[k].task != q->blocks[k].task) {
                return false;
            }
        }
    }
    return true;
}

bool same_snapshot(const ht_snapshot_t *a, const ht_snapshot_t *b) {
    if (a->task_count != b->task_count) {
        return false;
    }
    for (size_t t = 0; t < a->task_count; ++t) {
        if (!same_task(&a->tasks[t], &b->tasks[t])) {
            return false;
        }
    }
    return true;
}

#endif // HT_TEST_TRACKING

/******************************************************************************/
// Regions

regions_t regions(void) {
    regions_t rs;
    memset(&rs, 0, sizeof(rs));
    CHECK(ht_region_info(rs.r, MAX_REGIONS, &rs.count) == HT_OK);
    CHECK(rs.count >= 1 && rs.count <= MAX_REGIONS);
    return rs;
}

const ht_region_info_t *region_of(const regions_t *rs, const void *p) {
    for (size_t i = 0; i < rs->count; ++i) {
        if ((uintptr_t)p >= rs->r[i].start && (uintptr_t)p - rs->r[i].start < rs->r[i].total_size) {
            return &rs->r[i];
        }
    }
    return NULL;
}

bool same_regions(const regions_t *a, const regions_t *b) {
    if (a->count != b->count) {
        return false;
    }
    for (size_t i = 0; i < a->count; ++i) {
        const ht_region_info_t *x = &a->r[i], *y = &b->r[i];
        if (x->start != y->start || x->total_size != y->total_size || x->free_size != y->free_size
            || x->largest_free_block != y->largest_free_block || x->caps != y->caps
            || strcmp(x->name, y->name) != 0) {
            return false;
        }
    }
    return true;
}

// "Bad input changes nothing": the heaps' figures and, where the tracker keeps
// statistics, its snapshot (of every task, or of the calling one) are the same
// before and after. The snapshot is taken first: its arrays come from the heap.

state_t state_now(bool all_tasks) {
    state_t st;
    #if HT_TEST_TRACKING
    st.all_tasks = all_tasks;
    CHECK(ht_snapshot_take(&st.snap, all_tasks, ht_current_task(), true) == HT_OK);
    #else
    (void)all_tasks;
    #endif
    st.regions = regions();
    return st;
}

// Checks that nothing changed since `before`, and releases it.
void check_unchanged(state_t *before) {
    regions_t after = regions();
    CHECK(same_regions(&before->regions, &after));
    #if HT_TEST_TRACKING
    ht_snapshot_t snap_after;
    CHECK(ht_snapshot_take(&snap_after, before->all_tasks, ht_current_task(), true) == HT_OK);
    CHECK(same_snapshot(&before->snap, &snap_after));
    ht_snapshot_release(&before->snap);
    ht_snapshot_release(&snap_after);
    #endif
}

// A known failure's check failures are expected: out of the log while it
// runs. (QEMU's semihosted stderr cannot be redirected; no test is a known
// failure there.)
int stderr_quiet(void) {
    fflush(stderr);
    #if HT_TEST_QEMU
    return -1;
    #else
    int saved = dup(2);
    if (freopen("/dev/null", "w", stderr) == NULL) {
        perror("stderr to /dev/null");
    }
    return saved;
    #endif
}

void stderr_restore(int saved) {
    fflush(stderr);
    #if HT_TEST_QEMU
    (void)saved;
    #else
    if (saved >= 0) {
        dup2(saved, 2);
        close(saved);
    }
    #endif
}

int run(const test_t *tests, size_t count) {
    int failures = 0;
    for (size_t i = 0; i < count; ++i) {
        void (*fn)(void) = tests[i].fn;
        __atomic_store_n(&g_test_failed, 0, __ATOMIC_SEQ_CST);
        int saved_stderr = tests[i].xfail != NULL ? stderr_quiet() : -1;
        fn();
        // Each test leaves no heaptrack block behind.
        size_t left = 0;
        ht_free_all(&left);
        CHECK(left == 0);
        if (tests[i].xfail != NULL) {
            stderr_restore(saved_stderr);
        }
        if (tests[i].xfail != NULL) {
            if (failed()) {
                printf("XFAIL %s: %s\n", tests[i].name, tests[i].xfail);
            } else {
                printf("XPASS %s: passes now; take it off the known failures\n", tests[i].name);
                ++failures;
            }
        } else if (failed()) {
            printf("FAIL %s\n", tests[i].name);
            ++failures;
        } else {
            printf("ok   %s\n", tests[i].name);
        }
        fflush(stdout);
    }
    __atomic_store_n(&g_test_failed, 0, __ATOMIC_SEQ_CST);
    return failures;
}
