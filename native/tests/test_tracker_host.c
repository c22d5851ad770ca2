// Unit tests of the hosted tracker (native/heaptrack/tracker_host.c) alone:
// no MicroPython. Built and run under ASan/UBSan by `make -C native/tests`.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracker_host.h"

/******************************************************************************/
// Harness

static int g_test_failed;   // set from any thread, hence the atomics

#define CHECK(cond) do { \
        if (!(cond)) { \
            check_failed(__FILE__, __LINE__, #cond); \
        } \
} while (0)

static void check_failed(const char *file, int line, const char *what) {
    fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
    __atomic_store_n(&g_test_failed, 1, __ATOMIC_SEQ_CST);
}

static bool failed(void) {
    return __atomic_load_n(&g_test_failed, __ATOMIC_SEQ_CST) != 0;
}

// The layout each test starts from: unique names so stats map back to regions.
#define LAYOUT "IRAM:0x0000080e:256,DRAM:0x0010580e:2048,PSRAM:0x00001406:8192"
enum { IRAM, DRAM, PSRAM };

typedef struct {
    char name[16];
    size_t size;
} test_region_t;

static test_region_t g_layout[8];
static size_t g_layout_count;

// Resets the tracker to a known-good spec and remembers it for the invariants.
static void use_layout(const char *spec) {
    CHECK(ht_host_reset(spec) == HT_OK);
    g_layout_count = 0;
    for (const char *entry = spec; entry != NULL && g_layout_count < 8;) {
        test_region_t *region = &g_layout[g_layout_count++];
        const char *caps = strchr(entry, ':');
        const char *size = caps ? strchr(caps + 1, ':') : NULL;
        CHECK(size != NULL && caps - entry < 16);
        if (size == NULL || caps - entry >= 16) {
            return;
        }
        memcpy(region->name, entry, (size_t)(caps - entry));
        region->name[caps - entry] = '\0';
        region->size = strtoull(size + 1, NULL, 0);
        entry = strchr(entry, ',');
        entry = entry ? entry + 1 : NULL;
    }
}

/******************************************************************************/
// Snapshot helpers

static ht_snapshot_t take(bool with_blocks) {
    ht_snapshot_t snap;
    CHECK(ht_snapshot_take(&snap, true, 0, with_blocks) == HT_OK);
    return snap;
}

static const ht_task_stat_t *find_task(const ht_snapshot_t *snap, ht_task_t handle) {
    for (size_t i = 0; i < snap->task_count; ++i) {
        if (snap->tasks[i].handle == handle) {
            return &snap->tasks[i];
        }
    }
    return NULL;
}

static const ht_heap_stat_t *find_heap(const ht_task_stat_t *task, const char *name) {
    for (size_t i = 0; task != NULL && i < task->heap_count; ++i) {
        if (strcmp(task->heap_stat[i].name, name) == 0) {
            return &task->heap_stat[i];
        }
    }
    return NULL;
}

// The heap of task handle holding address, or a placeholder named "(none)".
static const ht_heap_stat_t *heap_of(const ht_snapshot_t *snap, ht_task_t handle, void *address) {
    static const ht_heap_stat_t none = { .name = "(none)" };
    const ht_task_stat_t *task = find_task(snap, handle);
    for (size_t h = 0; task != NULL && h < task->heap_count; ++h) {
        const ht_heap_stat_t *heap = &task->heap_stat[h];
        for (size_t b = 0; b < heap->alloc_count; ++b) {
            if (heap->blocks[b].address == address) {
                return heap;
            }
        }
    }
    return &none;
}

static size_t block_count(const ht_snapshot_t *snap) {
    size_t count = 0;
    for (size_t t = 0; t < snap->task_count; ++t) {
        for (size_t h = 0; h < snap->tasks[t].heap_count; ++h) {
            count += snap->tasks[t].heap_stat[h].alloc_count;
        }
    }
    return count;
}

// What holds for any snapshot taken with blocks.
static void check_snapshot(const ht_snapshot_t *snap) {
    for (size_t t = 0; t < snap->task_count; ++t) {
        const ht_task_stat_t *task = &snap->tasks[t];
        CHECK(task->handle != 0);
        CHECK(t == 0 || snap->tasks[t - 1].handle > task->handle);
        CHECK(task->overall_peak_usage >= task->overall_current_usage);
        CHECK(task->heap_count >= 1);
        CHECK(memchr(task->name, '\0', HT_TASK_NAME_LEN) != NULL);
        size_t sum = 0;
        for (size_t h = 0; h < task->heap_count; ++h) {
            const ht_heap_stat_t *heap = &task->heap_stat[h];
            CHECK(heap->peak_usage >= heap->current_usage);
            CHECK(heap->current_usage <= heap->size);
            CHECK(heap->blocks != NULL);
            size_t blocks = 0;
            for (size_t b = 0; heap->blocks != NULL && b < heap->alloc_count; ++b) {
                CHECK(heap->blocks[b].task == task->handle);
                CHECK(heap->blocks[b].size >= 12 && heap->blocks[b].size % 4 == 0);
                blocks += heap->blocks[b].size;
            }
            CHECK(blocks == heap->current_usage);
            for (size_t other = 0; other < h; ++other) {
                CHECK(task->heap_stat[other].name != heap->name);
            }
            sum += heap->current_usage;
        }
        CHECK(sum == task->overall_current_usage);
    }
}

// The snapshot invariants, and the regions' usage equal to what tasks hold.
static void check_invariants(void) {
    ht_snapshot_t snap = take(true);
    check_snapshot(&snap);
    for (size_t r = 0; r < g_layout_count; ++r) {
        size_t held = 0;
        for (size_t t = 0; t < snap.task_count; ++t) {
            for (size_t h = 0; h < snap.tasks[t].heap_count; ++h) {
                const ht_heap_stat_t *heap = &snap.tasks[t].heap_stat[h];
                if (strcmp(heap->name, g_layout[r].name) == 0 && heap->size == g_layout[r].size) {
                    held += heap->current_usage;
                }
            }
        }
        CHECK(held == ht_host_heap_used(r));
    }
    ht_snapshot_release(&snap);
}

static bool same_snapshot(const ht_snapshot_t *a, const ht_snapshot_t *b) {
    if (a->task_count != b->task_count) {
        return false;
    }
    for (size_t t = 0; t < a->task_count; ++t) {
        const ht_task_stat_t *x = &a->tasks[t], *y = &b->tasks[t];
        if (strcmp(x->name, y->name) != 0 || x->handle != y->handle || x->is_alive != y->is_alive
            || x->overall_peak_usage != y->overall_peak_usage
            || x->overall_current_usage != y->overall_current_usage
            || x->heap_count != y->heap_count) {
            return false;
        }
        for (size_t h = 0; h < x->heap_count; ++h) {
            const ht_heap_stat_t *p = &x->heap_stat[h], *q = &y->heap_stat[h];
            if (strcmp(p->name, q->name) != 0 || p->caps != q->caps || p->size != q->size
                || p->current_usage != q->current_usage || p->peak_usage != q->peak_usage
                || p->alloc_count != q->alloc_count) {
                return false;
            }
            for (size_t k = 0; p->blocks && q->blocks && k < p->alloc_count; ++k) {
                if (p->blocks[k].address != q->blocks[k].address || p->blocks[k].size != q->blocks[k].size
                    || p->blocks[k].task != q->blocks[k].task) {
                    return false;
                }
            }
        }
    }
    return true;
}

/******************************************************************************/
// Workers: threads that run one step at a time for the main thread, so a test
// can interleave several tasks deterministically.

typedef enum { OP_MALLOC, OP_FREE, OP_CURRENT, OP_CALL } op_kind_t;

typedef struct {
    op_kind_t kind;
    size_t size;
    uint32_t caps;
    void *address;
    ht_err_t err;
    ht_task_t handle;
    void (*fn)(void);
} op_t;

typedef struct {
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    ht_host_task_t *bind;
    op_t *op;
    bool quit;
} worker_t;

static void run_op(op_t *op) {
    switch (op->kind) {
        case OP_MALLOC:
            op->address = ht_malloc(op->size, op->caps);
            break;
        case OP_FREE:
            op->err = ht_free(op->address);
            break;
        case OP_CURRENT:
            op->handle = ht_current_task();
            break;
        case OP_CALL:
            op->fn();
            break;
    }
}

static void *worker_main(void *arg) {
    worker_t *w = arg;
    if (w->bind != NULL) {
        ht_host_task_bind(w->bind);
    }
    pthread_mutex_lock(&w->mutex);
    for (;;) {
        while (w->op == NULL && !w->quit) {
            pthread_cond_wait(&w->cond, &w->mutex);
        }
        if (w->op == NULL) {
            break;
        }
        op_t *op = w->op;
        pthread_mutex_unlock(&w->mutex);
        run_op(op);
        pthread_mutex_lock(&w->mutex);
        w->op = NULL;
        pthread_cond_broadcast(&w->cond);
    }
    pthread_mutex_unlock(&w->mutex);
    return NULL;
}

// Starts a worker bound to a new task called name, or unbound if name is NULL.
static ht_task_t worker_start(worker_t *w, const char *name) {
    memset(w, 0, sizeof(*w));
    pthread_mutex_init(&w->mutex, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->bind = name ? ht_host_task_new(name) : NULL;
    CHECK(name == NULL || w->bind != NULL);
    pthread_create(&w->thread, NULL, worker_main, w);
    return w->bind ? ht_host_task_handle(w->bind) : 0;
}

static void worker_run(worker_t *w, op_t *op) {
    pthread_mutex_lock(&w->mutex);
    w->op = op;
    pthread_cond_broadcast(&w->cond);
    while (w->op != NULL) {
        pthread_cond_wait(&w->cond, &w->mutex);
    }
    pthread_mutex_unlock(&w->mutex);
}

static void *worker_malloc(worker_t *w, size_t size, uint32_t caps) {
    op_t op = { .kind = OP_MALLOC, .size = size, .caps = caps };
    worker_run(w, &op);
    return op.address;
}

static ht_err_t worker_free(worker_t *w, void *address) {
    op_t op = { .kind = OP_FREE, .address = address };
    worker_run(w, &op);
    return op.err;
}

static ht_task_t worker_current(worker_t *w) {
    op_t op = { .kind = OP_CURRENT };
    worker_run(w, &op);
    return op.handle;
}

// Ends the worker's thread and waits for it (its task is then DELETED).
static void worker_stop(worker_t *w) {
    pthread_mutex_lock(&w->mutex);
    w->quit = true;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->mutex);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->mutex);
    pthread_cond_destroy(&w->cond);
}

/******************************************************************************/
// TLSF sizes

static void test_tlsf_fixed_points(void) {
    // Sizes from ESP-IDF's example output: each is its own block size.
    static const size_t small_heap[] = { 6656, 3584, 1152, 20, 12, 16 };
    static const size_t big_heap[] = { 1312, 4224, 344, 1568, 164, 88, 24, 16, 12, 132 };
    for (size_t i = 0; i < sizeof(small_heap) / sizeof(small_heap[0]); ++i) {
        CHECK(ht_host_block_size(small_heap[i], 22308) == small_heap[i]);
    }
    for (size_t i = 0; i < sizeof(big_heap) / sizeof(big_heap[0]); ++i) {
        CHECK(ht_host_block_size(big_heap[i], 344400) == big_heap[i]);
    }
    // Small requests: multiples of 4, at least 12.
    CHECK(ht_host_block_size(0, 22308) == 12);
    CHECK(ht_host_block_size(1, 22308) == 12);
    CHECK(ht_host_block_size(12, 22308) == 12);
    CHECK(ht_host_block_size(13, 22308) == 16);
    CHECK(ht_host_block_size(63, 22308) == 64);
    // Second-level index size follows the heap size: 8, 16 or 32 classes.
    CHECK(ht_host_block_size(100, 16384) == 104);
    CHECK(ht_host_block_size(100, 16385) == 100);
    CHECK(ht_host_block_size(1000, 16384) == 1024);
    CHECK(ht_host_block_size(1000, 262144) == 1024);
    CHECK(ht_host_block_size(1000, 262145) == 1008);
    CHECK(ht_host_block_size(6600, 22308) == 6656);
    // Rounding that carries into the next power of two.
    CHECK(ht_host_block_size(4095, 22308) == 4096);
    CHECK(ht_host_block_size(8191, 344400) == 8192);
    // Requests too big for any size class still come back >= the request.
    CHECK(ht_host_block_size(SIZE_MAX, 344400) == SIZE_MAX);
    CHECK(ht_host_block_size(SIZE_MAX - 100, 22308) >= SIZE_MAX - 100);
}

static void test_tlsf_properties(void) {
    static const size_t heaps[] = { 256, 16384, 16385, 22308, 262144, 262145, 344400, 1u << 30 };
    for (size_t h = 0; h < sizeof(heaps) / sizeof(heaps[0]); ++h) {
        size_t previous = 0;
        int bad = 0;
        for (size_t r = 1; r <= 200000 && bad < 5; ++r) {
            size_t size = ht_host_block_size(r, heaps[h]);
            if (size < r || size < previous || size % 4 != 0 || ht_host_block_size(size, heaps[h]) != size) {
                fprintf(stderr, "heap %zu request %zu -> %zu\n", heaps[h], r, size);
                ++bad;
            }
            previous = size;
        }
        CHECK(bad == 0);
    }
}

/******************************************************************************/
// Layout and placement

static void test_default_layout_lazy(void) {
    // Runs first, before any reset: the tracker loads its layout on first use.
    if (getenv(HT_HOST_HEAPS_ENV) != NULL) {
        printf("  (skipped: %s is set)\n", HT_HOST_HEAPS_ENV);
        return;
    }
    CHECK(ht_ready() == HT_OK);
    void *p = ht_malloc(6600, HT_CAP_DEFAULT);
    CHECK(p != NULL);
    ht_snapshot_t snap = take(true);
    const ht_task_stat_t *me = find_task(&snap, ht_current_task());
    CHECK(me != NULL && me->heap_count == 1);
    if (me != NULL) {
        CHECK(strcmp(me->heap_stat[0].name, "RAM") == 0);
        CHECK(me->heap_stat[0].caps == 0x0010580e);
        CHECK(me->heap_stat[0].size == 22308);
        CHECK(me->heap_stat[0].current_usage == 6656);
    }
    ht_snapshot_release(&snap);
    CHECK(ht_free(p) == HT_OK);
}

static void test_default_layout_overflow(void) {
    use_layout(HT_HOST_DEFAULT_HEAPS);
    // Three 6656-byte blocks fit the 22308-byte heap, the fourth goes to the big one.
    void *p[4];
    for (int i = 0; i < 4; ++i) {
        p[i] = ht_malloc(6656, HT_CAP_DEFAULT | HT_CAP_8BIT);
        CHECK(p[i] != NULL);
    }
    CHECK(ht_host_heap_used(0) == 3 * 6656);
    CHECK(ht_host_heap_used(1) == 6656);
    ht_snapshot_t snap = take(true);
    const ht_task_stat_t *me = find_task(&snap, ht_current_task());
    CHECK(me != NULL && me->heap_count == 2);
    CHECK(heap_of(&snap, ht_current_task(), p[3])->size == 344400);
    ht_snapshot_release(&snap);
    // No heap has SPIRAM or EXEC in the default layout.
    CHECK(ht_malloc(16, HT_CAP_SPIRAM) == NULL);
    CHECK(ht_malloc(16, HT_CAP_EXEC) == NULL);
}

static void test_placement_by_caps(void) {
    use_layout(LAYOUT);
    void *dflt = ht_malloc(100, HT_CAP_DEFAULT);        // IRAM lacks DEFAULT
    void *byte = ht_malloc(40, HT_CAP_8BIT);            // IRAM is first with 8BIT
    void *dma = ht_malloc(40, HT_CAP_DMA | HT_CAP_8BIT);
    void *spi = ht_malloc(100, HT_CAP_SPIRAM);
    void *none = ht_malloc(40, 0);                      // any heap: the first
    CHECK(dflt && byte && dma && spi && none);
    CHECK(ht_malloc(100, HT_CAP_EXEC) == NULL);          // no heap has it
    CHECK(ht_malloc(100, HT_CAP_SPIRAM | HT_CAP_INTERNAL) == NULL);
    ht_snapshot_t snap = take(true);
    ht_task_t me = ht_current_task();
    CHECK(strcmp(heap_of(&snap, me, dflt)->name, "DRAM") == 0);
    CHECK(strcmp(heap_of(&snap, me, byte)->name, "IRAM") == 0);
    CHECK(strcmp(heap_of(&snap, me, dma)->name, "IRAM") == 0);
    CHECK(strcmp(heap_of(&snap, me, spi)->name, "PSRAM") == 0);
    CHECK(strcmp(heap_of(&snap, me, none)->name, "IRAM") == 0);
    CHECK(heap_of(&snap, me, spi)->caps == 0x00001406);
    ht_snapshot_release(&snap);
}

static void test_placement_by_capacity(void) {
    use_layout(LAYOUT);
    size_t big = ht_host_block_size(1000, 2048);
    CHECK(big == 1024);
    // DRAM holds two of them exactly; the third spills to PSRAM.
    void *a = ht_malloc(1000, HT_CAP_DEFAULT);
    void *b = ht_malloc(1000, HT_CAP_DEFAULT);
    void *c = ht_malloc(1000, HT_CAP_DEFAULT);
    CHECK(a && b && c);
    CHECK(ht_host_heap_used(DRAM) == 2048);
    CHECK(ht_host_heap_used(PSRAM) == ht_host_block_size(1000, 8192));
    // Freeing gives the capacity back: the next one goes to DRAM again.
    CHECK(ht_free(a) == HT_OK);
    void *d = ht_malloc(1000, HT_CAP_DEFAULT);
    ht_snapshot_t snap = take(true);
    CHECK(strcmp(heap_of(&snap, ht_current_task(), d)->name, "DRAM") == 0);
    CHECK(strcmp(heap_of(&snap, ht_current_task(), c)->name, "PSRAM") == 0);
    ht_snapshot_release(&snap);
    // A block exactly the size of a heap fits only when the heap is empty.
    CHECK(ht_malloc(8192, HT_CAP_SPIRAM) == NULL);
    CHECK(ht_free(c) == HT_OK);
    void *whole = ht_malloc(8192, HT_CAP_SPIRAM);
    CHECK(whole != NULL);
    CHECK(ht_host_heap_used(PSRAM) == 8192);
    CHECK(ht_malloc(1, HT_CAP_SPIRAM) == NULL);
    // Small heap rounding: 256-byte IRAM takes 12-byte minimum blocks.
    void *tiny = ht_malloc(1, HT_CAP_32BIT);
    CHECK(tiny != NULL);
    CHECK(ht_host_heap_used(IRAM) == 12);
    check_invariants();
}

static void test_no_room_changes_nothing(void) {
    use_layout(LAYOUT);
    // A task's first allocation failing must not create its record.
    CHECK(ht_malloc(100000, HT_CAP_DEFAULT) == NULL);
    ht_snapshot_t empty = take(true);
    CHECK(empty.task_count == 0);
    ht_snapshot_release(&empty);

    void *a = ht_malloc(500, HT_CAP_DEFAULT);
    void *b = ht_malloc(7000, HT_CAP_SPIRAM);
    CHECK(a && b);
    ht_snapshot_t before = take(true);
    size_t used[3] = { ht_host_heap_used(0), ht_host_heap_used(1), ht_host_heap_used(2) };
    CHECK(ht_malloc(2048, HT_CAP_DEFAULT) == NULL);      // DRAM too full, PSRAM too
    CHECK(ht_malloc(8192, 0) == NULL);
    CHECK(ht_malloc(SIZE_MAX, 0) == NULL);
    CHECK(ht_malloc(SIZE_MAX - 8, 0) == NULL);
    CHECK(ht_malloc(SIZE_MAX / 2, 0) == NULL);
    CHECK(ht_malloc(0xffffffffu, 0) == NULL);
    CHECK(ht_malloc(100, HT_CAP_EXEC) == NULL);
    CHECK(ht_malloc(0, HT_CAP_DEFAULT) == NULL);
    ht_snapshot_t after = take(true);
    CHECK(same_snapshot(&before, &after));
    CHECK(ht_host_heap_used(0) == used[0] && ht_host_heap_used(1) == used[1]
        && ht_host_heap_used(2) == used[2]);
    ht_snapshot_release(&before);
    ht_snapshot_release(&after);
}

static void check_config_error(const char *spec, const char *expect) {
    CHECK(ht_host_reset(spec) == HT_ERR_CONFIG);
    const char *detail = ht_error_detail();
    if (strstr(detail, expect) == NULL || strstr(detail, "NAME:CAPS:SIZE") == NULL) {
        fprintf(stderr, "spec \"%s\": detail \"%s\" lacks \"%s\"\n", spec, detail, expect);
        CHECK(!"detail names the bad entry");
    }
    // Every call reports the bad configuration.
    int x;
    size_t count = 99;
    ht_snapshot_t snap;
    CHECK(ht_malloc(16, 0) == NULL);
    CHECK(ht_ready() == HT_ERR_CONFIG);
    CHECK(ht_free(&x) == HT_ERR_CONFIG);
    CHECK(ht_free(NULL) == HT_ERR_CONFIG);
    CHECK(ht_free_all(&count) == HT_ERR_CONFIG && count == 99);
    CHECK(ht_snapshot_take(&snap, true, 0, true) == HT_ERR_CONFIG);
    CHECK(snap.storage == NULL && snap.task_count == 0);
    CHECK(ht_snapshot_take(&snap, false, ht_current_task(), false) == HT_ERR_CONFIG);
    CHECK(ht_current_task() != 0);
    CHECK(strcmp(ht_error_detail(), detail) == 0);
}

static void test_bad_layouts(void) {
    check_config_error("", "empty");
    check_config_error("RAM", "\"RAM\"");
    check_config_error("RAM:0x10", "\"RAM:0x10\"");
    check_config_error("RAM:0x10:100:7", "\"RAM:0x10:100:7\"");
    check_config_error("RAM:0x10:abc", "\"RAM:0x10:abc\"");
    check_config_error("RAM:0x10:-5", "\"RAM:0x10:-5\"");
    check_config_error("RAM:0x10:0", "SIZE");
    check_config_error("RAM:0x10:4294967296", "\"RAM:0x10:4294967296\"");
    check_config_error("RAM:0x10: 100", "\"RAM:0x10: 100\"");
    check_config_error("RAM:zz:100", "CAPS");
    check_config_error("RAM:0x:100", "\"RAM:0x:100\"");
    check_config_error("RAM:0:100", "CAPS");
    check_config_error("RAM:0x123456789:100", "CAPS");
    check_config_error(":0x10:100", "NAME");
    check_config_error("A VERY LONG NAME:0x10:100", "NAME");
    check_config_error("MUCHTOOLONGNAMEX:0x10:100", "\"MUCHTOOLONGNAMEX:0x10:100\"");
    check_config_error("RAM:0x10:100,", "empty entry");
    check_config_error(",RAM:0x10:100", "empty entry");
    check_config_error("A:0x10:100,,B:0x10:5", "empty entry");
    check_config_error("A:1:1,B:1:1,C:1:1,D:1:1,E:1:1,F:1:1,G:1:1,H:1:1,I:1:1", "\"I:1:1\"");
    check_config_error("GOOD:0x1800:1000,BAD:0x1800:1k", "\"BAD:0x1800:1k\"");
    // The first bad entry is named, then a good layout brings everything back.
    use_layout("A:1:1,B:1:1,C:1:1,D:1:1,E:1:1,F:1:1,G:1:1,H:0xFFFFFFFF:0xFFFFFFFF");
    CHECK(strcmp(ht_error_detail(), "") == 0);
    void *p = ht_malloc(100, HT_CAP_SPIRAM);
    CHECK(p != NULL);
    ht_snapshot_t snap = take(true);
    CHECK(strcmp(heap_of(&snap, ht_current_task(), p)->name, "H") == 0);
    ht_snapshot_release(&snap);
}

static void test_env_layout(void) {
    char *saved = getenv(HT_HOST_HEAPS_ENV) ? strdup(getenv(HT_HOST_HEAPS_ENV)) : NULL;
    setenv(HT_HOST_HEAPS_ENV, "X:0x1000:100,Y:bad:5", 1);
    CHECK(ht_host_reset(NULL) == HT_ERR_CONFIG);
    CHECK(strstr(ht_error_detail(), HT_HOST_HEAPS_ENV) != NULL);
    CHECK(strstr(ht_error_detail(), "\"Y:bad:5\"") != NULL);
    setenv(HT_HOST_HEAPS_ENV, "", 1);
    CHECK(ht_host_reset(NULL) == HT_ERR_CONFIG);
    CHECK(strstr(ht_error_detail(), HT_HOST_HEAPS_ENV " is empty") != NULL);
    setenv(HT_HOST_HEAPS_ENV, "ENV:0x1000:1000", 1);
    CHECK(ht_host_reset(NULL) == HT_OK);
    void *p = ht_malloc(10, HT_CAP_DEFAULT);
    ht_snapshot_t snap = take(true);
    CHECK(p != NULL && strcmp(heap_of(&snap, ht_current_task(), p)->name, "ENV") == 0);
    ht_snapshot_release(&snap);
    unsetenv(HT_HOST_HEAPS_ENV);
    CHECK(ht_host_reset(NULL) == HT_OK);
    CHECK(ht_malloc(6600, HT_CAP_DEFAULT) != NULL);
    CHECK(ht_host_heap_used(0) == 6656 && ht_host_heap_used(1) == 0);
    if (saved != NULL) {
        setenv(HT_HOST_HEAPS_ENV, saved, 1);
        free(saved);
    }
}

/******************************************************************************/
// Records

static void test_stats_and_peaks(void) {
    use_layout(LAYOUT);
    ht_task_t me = ht_current_task();
    size_t s100 = ht_host_block_size(100, 2048), s300 = ht_host_block_size(300, 2048);
    size_t p500 = ht_host_block_size(500, 8192);
    void *a = ht_malloc(100, HT_CAP_DEFAULT);
    void *b = ht_malloc(300, HT_CAP_DEFAULT);
    CHECK(ht_free(a) == HT_OK);
    CHECK(ht_free(b) == HT_OK);
    // The task's peak is over its total, not a sum of the heaps' peaks.
    void *c = ht_malloc(500, HT_CAP_SPIRAM);
    ht_snapshot_t snap = take(true);
    const ht_task_stat_t *task = find_task(&snap, me);
    CHECK(task != NULL && task->heap_count == 2 && task->is_alive);
    if (task != NULL && task->heap_count == 2) {
        CHECK(task->overall_current_usage == p500);
        CHECK(task->overall_peak_usage == (p500 > s100 + s300 ? p500 : s100 + s300));
        const ht_heap_stat_t *dram = find_heap(task, "DRAM"), *psram = find_heap(task, "PSRAM");
        CHECK(dram == &task->heap_stat[0] && psram == &task->heap_stat[1]);
        CHECK(dram->current_usage == 0 && dram->peak_usage == s100 + s300 && dram->alloc_count == 0);
        CHECK(dram->size == 2048 && dram->caps == 0x0010580e);
        CHECK(psram->current_usage == p500 && psram->peak_usage == p500 && psram->alloc_count == 1);
        CHECK(psram->blocks[0].address == c && psram->blocks[0].size == p500);
    }
    ht_snapshot_release(&snap);
    check_invariants();
}

static void test_heap_and_block_order(void) {
    use_layout(LAYOUT);
    // First use: PSRAM, then IRAM, then DRAM, whatever the layout order.
    void *p = ht_malloc(40, HT_CAP_SPIRAM);
    void *i = ht_malloc(40, HT_CAP_32BIT);
    void *d[6];
    for (int k = 0; k < 6; ++k) {
        d[k] = ht_malloc(16 + 8 * (size_t)k, HT_CAP_DEFAULT);
        CHECK(d[k] != NULL);
    }
    CHECK(ht_free(d[1]) == HT_OK);
    CHECK(ht_free(d[4]) == HT_OK);
    CHECK(ht_free(d[0]) == HT_OK);
    void *last = ht_malloc(16, HT_CAP_DEFAULT);
    ht_snapshot_t snap = take(true);
    const ht_task_stat_t *task = find_task(&snap, ht_current_task());
    CHECK(task != NULL && task->heap_count == 3);
    if (task != NULL && task->heap_count == 3) {
        CHECK(strcmp(task->heap_stat[0].name, "PSRAM") == 0 && task->heap_stat[0].blocks[0].address == p);
        CHECK(strcmp(task->heap_stat[1].name, "IRAM") == 0 && task->heap_stat[1].blocks[0].address == i);
        const ht_heap_stat_t *dram = &task->heap_stat[2];
        CHECK(strcmp(dram->name, "DRAM") == 0 && dram->alloc_count == 4);
        void *expect[4] = { d[2], d[3], d[5], last };
        for (int k = 0; k < 4 && dram->alloc_count == 4; ++k) {
            CHECK(dram->blocks[k].address == expect[k]);
        }
        CHECK(dram->blocks[2].size == 56);
    }
    ht_snapshot_release(&snap);
    check_invariants();
}

static void test_task_order(void) {
    use_layout(LAYOUT);
    worker_t w[4];
    ht_task_t handle[4];
    static const char *names[4] = { "first", "second", "third", "fourth" };
    for (int k = 0; k < 4; ++k) {
        handle[k] = worker_start(&w[k], names[k]);
        CHECK(k == 0 || handle[k] > handle[k - 1]);
        CHECK(worker_current(&w[k]) == handle[k]);
    }
    // A task appears at its first allocation, not before.
    ht_snapshot_t snap = take(false);
    CHECK(snap.task_count == 0);
    ht_snapshot_release(&snap);
    // Allocate out of handle order; the main thread too.
    CHECK(worker_malloc(&w[2], 10, 0) != NULL);
    CHECK(ht_malloc(10, 0) != NULL);
    CHECK(worker_malloc(&w[0], 10, 0) != NULL);
    CHECK(worker_malloc(&w[3], 10, 0) != NULL);
    snap = take(false);
    CHECK(snap.task_count == 4);
    if (snap.task_count == 4) {
        CHECK(snap.tasks[0].handle == handle[3] && strcmp(snap.tasks[0].name, "fourth") == 0);
        CHECK(snap.tasks[1].handle == handle[2] && strcmp(snap.tasks[1].name, "third") == 0);
        CHECK(snap.tasks[2].handle == handle[0] && strcmp(snap.tasks[2].name, "first") == 0);
        CHECK(snap.tasks[3].handle == ht_current_task() && strcmp(snap.tasks[3].name, "mp_task") == 0);
    }
    for (size_t t = 0; t < snap.task_count; ++t) {
        CHECK(snap.tasks[t].heap_stat[0].blocks == NULL);
    }
    ht_snapshot_release(&snap);
    CHECK(snap.storage == NULL && snap.tasks == NULL && snap.task_count == 0);
    for (int k = 0; k < 4; ++k) {
        worker_stop(&w[k]);
    }
    check_invariants();
}

static void test_names_and_handles(void) {
    use_layout(LAYOUT);
    ht_task_t me = ht_current_task();
    CHECK(me != 0 && me == ht_current_task());
    worker_t unbound, named;
    worker_start(&unbound, NULL);
    ht_task_t named_handle = worker_start(&named, "a_name_longer_than_fifteen");
    ht_task_t unbound_handle = worker_current(&unbound);
    CHECK(unbound_handle != 0 && unbound_handle != me && unbound_handle != named_handle);
    CHECK(me < unbound_handle && me < named_handle);   // main sorts last
    CHECK(worker_malloc(&unbound, 8, 0) != NULL);
    CHECK(worker_malloc(&named, 8, 0) != NULL);
    CHECK(ht_malloc(8, 0) != NULL);
    ht_snapshot_t snap = take(true);
    CHECK(strcmp(find_task(&snap, me)->name, "mp_task") == 0);
    CHECK(strcmp(find_task(&snap, unbound_handle)->name, "mp_thread") == 0);
    CHECK(strcmp(find_task(&snap, named_handle)->name, "a_name_longer_t") == 0);
    CHECK(snap.tasks[snap.task_count - 1].handle == me);
    ht_snapshot_release(&snap);
    worker_stop(&unbound);
    worker_stop(&named);
    // Handles are never reused, not even across a reset; main keeps its own.
    ht_task_t t1 = ht_host_task_handle(ht_host_task_new("x"));
    use_layout(LAYOUT);
    ht_host_task_t *t2 = ht_host_task_new(NULL);
    CHECK(ht_host_task_handle(t2) > t1);
    CHECK(ht_host_task_handle(t2) > unbound_handle);
    CHECK(ht_current_task() == me);
    CHECK(ht_track_deleted());
}

static void test_free_by_other_task(void) {
    use_layout(LAYOUT);
    worker_t w;
    ht_task_t owner = worker_start(&w, "owner");
    void *a = worker_malloc(&w, 100, HT_CAP_DEFAULT);
    void *b = worker_malloc(&w, 200, HT_CAP_DEFAULT);
    CHECK(a && b);
    // The main thread frees the owner's block: it leaves the owner's record,
    // and the main thread (which never allocated) gets no record.
    CHECK(ht_free(a) == HT_OK);
    ht_snapshot_t snap = take(true);
    CHECK(snap.task_count == 1);
    const ht_task_stat_t *task = find_task(&snap, owner);
    CHECK(task != NULL && task->heap_stat[0].alloc_count == 1);
    CHECK(task != NULL && task->heap_stat[0].blocks[0].address == b);
    CHECK(task != NULL && task->overall_current_usage == ht_host_block_size(200, 2048));
    CHECK(task != NULL && task->overall_peak_usage == ht_host_block_size(100, 2048) + ht_host_block_size(200, 2048));
    ht_snapshot_release(&snap);
    // And the other way round.
    void *mine = ht_malloc(50, HT_CAP_DEFAULT);
    CHECK(worker_free(&w, mine) == HT_OK);
    snap = take(true);
    CHECK(find_task(&snap, ht_current_task())->overall_current_usage == 0);
    CHECK(find_task(&snap, ht_current_task())->heap_stat[0].alloc_count == 0);
    ht_snapshot_release(&snap);
    worker_stop(&w);
    check_invariants();
}

static void test_thread_exit_marks_deleted(void) {
    use_layout(LAYOUT);
    worker_t w, plain;
    ht_task_t handle = worker_start(&w, "leaker");
    worker_start(&plain, NULL);
    void *p[3];
    for (int k = 0; k < 3; ++k) {
        p[k] = worker_malloc(&w, 64 * (size_t)(k + 1), HT_CAP_DEFAULT);
    }
    CHECK(worker_free(&w, p[1]) == HT_OK);
    ht_task_t plain_handle = worker_current(&plain);
    void *q = worker_malloc(&plain, 32, HT_CAP_SPIRAM);
    worker_stop(&w);
    worker_stop(&plain);
    ht_snapshot_t snap = take(true);
    const ht_task_stat_t *task = find_task(&snap, handle);
    CHECK(task != NULL && !task->is_alive && strcmp(task->name, "leaker") == 0);
    CHECK(task != NULL && task->heap_stat[0].alloc_count == 2);
    CHECK(task != NULL && task->heap_stat[0].blocks[0].address == p[0]);
    CHECK(task != NULL && task->heap_stat[0].blocks[1].address == p[2]);
    const ht_task_stat_t *other = find_task(&snap, plain_handle);
    CHECK(other != NULL && !other->is_alive && strcmp(other->name, "mp_thread") == 0);
    CHECK(other != NULL && other->heap_stat[0].blocks[0].address == q);
    ht_snapshot_release(&snap);
    check_invariants();
    // Its blocks can still be freed, by anyone; the record stays.
    CHECK(ht_free(p[0]) == HT_OK);
    CHECK(ht_free(p[2]) == HT_OK);
    snap = take(true);
    task = find_task(&snap, handle);
    CHECK(task != NULL && !task->is_alive && task->overall_current_usage == 0 && task->heap_count == 1);
    CHECK(task != NULL && task->overall_peak_usage == 64 + 128 + 192);
    ht_snapshot_release(&snap);
    check_invariants();
}

static void test_identity_dropped_on_exit(void) {
    use_layout(LAYOUT);
    (void)ht_current_task();
    size_t before = ht_host_identity_count();
    // An unbound thread that only asks for its handle leaves nothing behind.
    worker_t w;
    worker_start(&w, NULL);
    CHECK(worker_current(&w) != 0);
    CHECK(ht_host_identity_count() == before + 1);
    worker_stop(&w);
    CHECK(ht_host_identity_count() == before);
    // A named task that ran and never allocated: not in reports, handle stays.
    ht_task_t named = worker_start(&w, "idle");
    CHECK(worker_current(&w) == named);
    worker_stop(&w);
    ht_snapshot_t snap;
    CHECK(ht_snapshot_take(&snap, false, named, true) == HT_ERR_NOT_FOUND);
}

static void test_reset_drops_stale_identities(void) {
    use_layout(LAYOUT);
    worker_t w;
    ht_task_t named = worker_start(&w, "before_reset");
    CHECK(worker_malloc(&w, 16, 0) != NULL);
    use_layout(LAYOUT);
    ht_snapshot_t snap = take(true);
    CHECK(snap.task_count == 0);
    ht_snapshot_release(&snap);
    // The thread is still running: it comes back as a fresh mp_thread.
    ht_task_t again = worker_current(&w);
    CHECK(again != named && again > named);
    CHECK(worker_malloc(&w, 16, 0) != NULL);
    snap = take(true);
    CHECK(snap.task_count == 1 && strcmp(snap.tasks[0].name, "mp_thread") == 0 && snap.tasks[0].is_alive);
    ht_snapshot_release(&snap);
    worker_stop(&w);
    snap = take(true);
    CHECK(snap.task_count == 1 && !snap.tasks[0].is_alive);
    ht_snapshot_release(&snap);
}

static void test_bad_free(void) {
    use_layout(LAYOUT);
    char *a = ht_malloc(100, HT_CAP_DEFAULT);
    char *b = ht_malloc(100, HT_CAP_DEFAULT);
    CHECK(ht_free(a) == HT_OK);
    ht_snapshot_t before = take(true);
    size_t used = ht_host_heap_used(DRAM);
    int on_stack;
    char *host = malloc(32);
    CHECK(ht_free(a) == HT_ERR_NOT_FOUND);          // double free
    CHECK(ht_free(b + 1) == HT_ERR_NOT_FOUND);      // inside a block
    CHECK(ht_free(b - 16) == HT_ERR_NOT_FOUND);     // the tracker's own record
    CHECK(ht_free(&on_stack) == HT_ERR_NOT_FOUND);
    CHECK(ht_free(host) == HT_ERR_NOT_FOUND);
    CHECK(ht_free(NULL) == HT_ERR_NOT_FOUND);
    CHECK(ht_free((void *)(uintptr_t)0x3fc80000) == HT_ERR_NOT_FOUND);
    free(host);
    ht_snapshot_t after = take(true);
    CHECK(same_snapshot(&before, &after));
    CHECK(ht_host_heap_used(DRAM) == used);
    ht_snapshot_release(&before);
    ht_snapshot_release(&after);
    CHECK(ht_free(b) == HT_OK);
    CHECK(ht_free(b) == HT_ERR_NOT_FOUND);
}

static void test_free_all(void) {
    use_layout(LAYOUT);
    worker_t w;
    ht_task_t other = worker_start(&w, "other");
    size_t count = 99;
    CHECK(ht_free_all(&count) == HT_OK && count == 0);
    void *kept[20];
    for (int k = 0; k < 10; ++k) {
        kept[k] = ht_malloc(24, (uint32_t)(k % 2 ? HT_CAP_SPIRAM : HT_CAP_DEFAULT));
        kept[10 + k] = worker_malloc(&w, 16, HT_CAP_8BIT);
    }
    CHECK(ht_free(kept[3]) == HT_OK);
    CHECK(ht_free_all(&count) == HT_OK && count == 19);
    ht_snapshot_t snap = take(true);
    CHECK(snap.task_count == 2);
    for (size_t t = 0; t < snap.task_count; ++t) {
        CHECK(snap.tasks[t].overall_current_usage == 0 && snap.tasks[t].overall_peak_usage > 0);
        for (size_t h = 0; h < snap.tasks[t].heap_count; ++h) {
            CHECK(snap.tasks[t].heap_stat[h].alloc_count == 0);
            CHECK(snap.tasks[t].heap_stat[h].peak_usage > 0);
        }
    }
    CHECK(find_task(&snap, other) != NULL && find_task(&snap, other)->heap_count == 1);
    ht_snapshot_release(&snap);
    for (size_t r = 0; r < 3; ++r) {
        CHECK(ht_host_heap_used(r) == 0);
    }
    CHECK(ht_free(kept[0]) == HT_ERR_NOT_FOUND);
    CHECK(ht_free_all(NULL) == HT_OK);
    // The address map keeps working after a free_all.
    void *again = worker_malloc(&w, 16, HT_CAP_8BIT);
    CHECK(again != NULL && ht_free(again) == HT_OK);
    worker_stop(&w);
    check_invariants();
}

static void test_single_task_snapshot(void) {
    use_layout(LAYOUT);
    worker_t w;
    ht_task_t other = worker_start(&w, "single");
    void *a = worker_malloc(&w, 100, HT_CAP_DEFAULT);
    void *b = ht_malloc(200, HT_CAP_DEFAULT);
    CHECK(a && b);
    ht_snapshot_t snap;
    CHECK(ht_snapshot_take(&snap, false, other, true) == HT_OK);
    CHECK(snap.task_count == 1 && snap.tasks[0].handle == other && snap.storage == snap.tasks);
    CHECK(snap.tasks[0].heap_stat[0].blocks[0].address == a);
    check_snapshot(&snap);
    ht_snapshot_release(&snap);
    CHECK(ht_snapshot_take(&snap, false, ht_current_task(), false) == HT_OK);
    CHECK(snap.task_count == 1 && snap.tasks[0].heap_stat[0].blocks == NULL);
    CHECK(snap.tasks[0].heap_stat[0].alloc_count == 1);
    ht_snapshot_release(&snap);
    CHECK(ht_snapshot_take(&snap, false, 0, true) == HT_ERR_NOT_FOUND);
    CHECK(ht_snapshot_take(&snap, false, 12345, true) == HT_ERR_NOT_FOUND);
    CHECK(snap.task_count == 0 && snap.storage == NULL);
    ht_host_task_t *unused = ht_host_task_new("unused");
    CHECK(ht_snapshot_take(&snap, false, ht_host_task_handle(unused), true) == HT_ERR_NOT_FOUND);
    // Heap names in a snapshot outlive a layout change.
    CHECK(ht_snapshot_take(&snap, true, 0, false) == HT_OK);
    use_layout("OTHER:0x1000:4096");
    CHECK(strcmp(snap.tasks[0].heap_stat[0].name, "DRAM") == 0);
    ht_snapshot_release(&snap);
    ht_snapshot_release(&snap);   // released twice: harmless
    worker_stop(&w);
}

/******************************************************************************/
// Concurrency

#define STRESS_THREADS (6)
#define STRESS_OPS (20000)
#define STRESS_LIVE (64)
#define STRESS_SHARED (16)

typedef struct {
    pthread_t thread;
    ht_host_task_t *task;
    unsigned seed;
    void *live[STRESS_LIVE];
    size_t mallocs, frees, failures;
} stress_t;

static void *g_shared[STRESS_SHARED];   // blocks handed between threads
static int g_stress_done;

static unsigned next_random(unsigned *state) {
    unsigned x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

static void *stress_main(void *arg) {
    stress_t *s = arg;
    if (s->task != NULL) {
        ht_host_task_bind(s->task);
    }
    static const uint32_t caps[] = { HT_CAP_DEFAULT, HT_CAP_8BIT, HT_CAP_SPIRAM, HT_CAP_32BIT, HT_CAP_EXEC };
    for (int op = 0; op < STRESS_OPS; ++op) {
        unsigned r = next_random(&s->seed);
        unsigned slot = (r >> 8) % STRESS_LIVE;
        switch (r % 8) {
            case 0: {
                // Swap with the shared pool; free what comes back (another thread's block).
                void *mine = s->live[slot];
                s->live[slot] = NULL;
                void *theirs = __atomic_exchange_n(&g_shared[(r >> 16) % STRESS_SHARED], mine, __ATOMIC_SEQ_CST);
                if (theirs != NULL) {
                    CHECK(ht_free(theirs) == HT_OK);
                    s->frees++;
                }
                break;
            }
            case 1:
            case 2:
            case 3:
                if (s->live[slot] != NULL) {
                    CHECK(ht_free(s->live[slot]) == HT_OK);
                    s->live[slot] = NULL;
                    s->frees++;
                }
                break;
            default:
                if (s->live[slot] == NULL) {
                    size_t size = 1 + (r >> 12) % 700;
                    s->live[slot] = ht_malloc(size, caps[(r >> 20) % 5]);
                    if (s->live[slot] != NULL) {
                        memset(s->live[slot], 0xa5, size);
                        s->mallocs++;
                    } else {
                        s->failures++;
                    }
                }
                break;
        }
    }
    return NULL;
}

static void *snapshot_main(void *arg) {
    size_t *taken = arg;
    while (!__atomic_load_n(&g_stress_done, __ATOMIC_SEQ_CST)) {
        ht_snapshot_t snap;
        CHECK(ht_snapshot_take(&snap, true, 0, true) == HT_OK);
        check_snapshot(&snap);
        ht_snapshot_release(&snap);
        ++*taken;
    }
    return NULL;
}

static void test_concurrency(void) {
    use_layout("SRAM:0x0010580e:65536,PSRAM:0x00001406:131072,IRAM:0x0000000f:4096");
    static stress_t s[STRESS_THREADS];
    memset(s, 0, sizeof(s));
    memset(g_shared, 0, sizeof(g_shared));
    g_stress_done = 0;
    pthread_t snapshotter;
    size_t snapshots = 0;
    pthread_create(&snapshotter, NULL, snapshot_main, &snapshots);
    for (int k = 0; k < STRESS_THREADS; ++k) {
        char name[HT_TASK_NAME_LEN];
        snprintf(name, sizeof(name), "stress%u", (unsigned)k % 10);
        s[k].task = k % 2 ? ht_host_task_new(name) : NULL;   // half bound, half mp_thread
        s[k].seed = 0x9e3779b9u * (unsigned)(k + 1);
        pthread_create(&s[k].thread, NULL, stress_main, &s[k]);
    }
    size_t mallocs = 0, frees = 0, failures = 0;
    for (int k = 0; k < STRESS_THREADS; ++k) {
        pthread_join(s[k].thread, NULL);
        mallocs += s[k].mallocs;
        frees += s[k].frees;
        failures += s[k].failures;
    }
    __atomic_store_n(&g_stress_done, 1, __ATOMIC_SEQ_CST);
    pthread_join(snapshotter, NULL);
    CHECK(mallocs > 10000 && frees > 5000 && failures > 0 && snapshots > 0);

    // Every block still held by someone is in exactly one record.
    check_invariants();
    ht_snapshot_t snap = take(true);
    CHECK(snap.task_count == STRESS_THREADS);
    size_t held = 0;
    for (int k = 0; k < STRESS_THREADS; ++k) {
        for (int i = 0; i < STRESS_LIVE; ++i) {
            held += s[k].live[i] != NULL;
        }
    }
    for (int i = 0; i < STRESS_SHARED; ++i) {
        held += g_shared[i] != NULL;
    }
    CHECK(block_count(&snap) == held);
    CHECK(mallocs - frees == held);
    for (size_t t = 0; t < snap.task_count; ++t) {
        CHECK(!snap.tasks[t].is_alive);
    }
    ht_snapshot_release(&snap);
    for (int k = 0; k < STRESS_THREADS; ++k) {
        for (int i = 0; i < STRESS_LIVE; ++i) {
            CHECK(s[k].live[i] == NULL || ht_free(s[k].live[i]) == HT_OK);
        }
    }
    for (int i = 0; i < STRESS_SHARED; ++i) {
        CHECK(g_shared[i] == NULL || ht_free(g_shared[i]) == HT_OK);
    }
    size_t count = 99;
    CHECK(ht_free_all(&count) == HT_OK && count == 0);
    for (size_t r = 0; r < g_layout_count; ++r) {
        CHECK(ht_host_heap_used(r) == 0);
    }
    check_invariants();
}

// Many live blocks: the address map grows and shrinks back through deletions.
static void test_many_blocks(void) {
    use_layout("BIG:0x0010580e:0x10000000");
    enum { N = 50000 };
    void **p = malloc(N * sizeof(void *));
    for (size_t k = 0; k < N; ++k) {
        p[k] = ht_malloc(1 + k % 100, HT_CAP_DEFAULT);
        CHECK(p[k] != NULL);
    }
    check_invariants();
    for (size_t k = 0; k < N; k += 2) {
        CHECK(ht_free(p[k]) == HT_OK);
    }
    // The survivors come back in allocation order, whatever the map's order.
    ht_snapshot_t snap = take(true);
    CHECK(snap.task_count == 1 && snap.tasks[0].heap_stat[0].alloc_count == N / 2);
    for (size_t k = 1; snap.task_count == 1 && k < N; k += 2) {
        const ht_block_t *block = &snap.tasks[0].heap_stat[0].blocks[k / 2];
        if (block->address != p[k] || block->size != ht_host_block_size(1 + k % 100, 0x10000000)) {
            CHECK(!"blocks in allocation order with their sizes");
            break;
        }
    }
    ht_snapshot_release(&snap);
    for (size_t k = 0; k < N; ++k) {
        CHECK(ht_free(p[k]) == (k % 2 ? HT_OK : HT_ERR_NOT_FOUND));
    }
    CHECK(ht_host_heap_used(0) == 0);
    free(p);
}

/******************************************************************************/

typedef struct {
    const char *name;
    void (*fn)(void);
} test_t;


static void test_tracking_off(void) {
    setenv(HT_HOST_TRACKING_ENV, "0", 1);
    use_layout("RAM:0x0010580e:1024");
    CHECK(!ht_track_deleted());
    void *a = ht_malloc(100, HT_CAP_DEFAULT);
    CHECK(a != NULL && ht_host_heap_used(0) == ht_host_block_size(100, 1024));
    ht_snapshot_t snap;
    CHECK(ht_snapshot_take(&snap, true, 0, true) == HT_ERR_UNSUPPORTED);
    CHECK(snap.storage == NULL && snap.task_count == 0);
    CHECK(strstr(ht_error_detail(), "CONFIG_HEAP_TASK_TRACKING") != NULL);
    CHECK(ht_malloc(2000, HT_CAP_DEFAULT) == NULL);   // the heap model still holds
    CHECK(ht_free(a) == HT_OK && ht_host_heap_used(0) == 0);
    CHECK(ht_free(a) == HT_ERR_NOT_FOUND);
    size_t count = 99;
    CHECK(ht_malloc(10, 0) != NULL);
    CHECK(ht_free_all(&count) == HT_OK && count == 1);
    unsetenv(HT_HOST_TRACKING_ENV);
    use_layout("RAM:0x0010580e:1024");
    CHECK(ht_track_deleted());
    CHECK(ht_snapshot_take(&snap, true, 0, true) == HT_OK);
    ht_snapshot_release(&snap);
}

static void test_region_info(void) {
    use_layout("RAM:0x0010580e:1024,SPIRAM:0x00001406:4096");
    ht_region_info_t r[4];
    size_t n = 0;
    CHECK(ht_region_info(r, 4, &n) == HT_OK && n == 2);
    CHECK(strcmp(r[0].name, "RAM") == 0 && r[0].caps == 0x0010580e && r[0].total_size == 1024);
    CHECK(r[0].free_size == 1024 && r[0].largest_free_block == 1024 && r[0].minimum_free_size == 1024);
    CHECK(strcmp(r[1].name, "SPIRAM") == 0 && r[1].caps == 0x00001406 && r[1].total_size == 4096);
    void *a = ht_malloc(900, HT_CAP_DEFAULT);   // a 960-byte TLSF block in RAM
    CHECK(a != NULL);
    n = 0;
    CHECK(ht_region_info(r, 1, &n) == HT_OK && n == 2);   // room for one: the count still says two
    CHECK(r[0].free_size == 64 && r[0].largest_free_block == 64 && r[0].minimum_free_size == 64);
    CHECK(ht_free(a) == HT_OK);
    CHECK(ht_region_info(r, 4, &n) == HT_OK);
    CHECK(r[0].free_size == 1024 && r[0].minimum_free_size == 64 && r[1].free_size == 4096);
}

static const test_t g_tests[] = {
    { "default_layout_lazy", test_default_layout_lazy },   // must stay first
    { "tlsf_fixed_points", test_tlsf_fixed_points },
    { "tlsf_properties", test_tlsf_properties },
    { "default_layout_overflow", test_default_layout_overflow },
    { "placement_by_caps", test_placement_by_caps },
    { "placement_by_capacity", test_placement_by_capacity },
    { "no_room_changes_nothing", test_no_room_changes_nothing },
    { "bad_layouts", test_bad_layouts },
    { "env_layout", test_env_layout },
    { "stats_and_peaks", test_stats_and_peaks },
    { "heap_and_block_order", test_heap_and_block_order },
    { "task_order", test_task_order },
    { "names_and_handles", test_names_and_handles },
    { "free_by_other_task", test_free_by_other_task },
    { "thread_exit_marks_deleted", test_thread_exit_marks_deleted },
    { "identity_dropped_on_exit", test_identity_dropped_on_exit },
    { "reset_drops_stale_identities", test_reset_drops_stale_identities },
    { "bad_free", test_bad_free },
    { "free_all", test_free_all },
    { "single_task_snapshot", test_single_task_snapshot },
    { "concurrency", test_concurrency },
    { "many_blocks", test_many_blocks },
    { "region_info", test_region_info },
    { "tracking_off", test_tracking_off },
};

int main(void) {
    int passed = 0, failures = 0;
    for (size_t i = 0; i < sizeof(g_tests) / sizeof(g_tests[0]); ++i) {
        __atomic_store_n(&g_test_failed, 0, __ATOMIC_SEQ_CST);
        g_tests[i].fn();
        if (failed()) {
            printf("FAIL %s\n", g_tests[i].name);
            ++failures;
        } else {
            printf("ok   %s\n", g_tests[i].name);
            ++passed;
        }
    }
    ht_host_reset(NULL);   // frees everything, for the leak checker
    printf("%d passed, %d failed\n", passed, failures);
    return failures != 0;
}
