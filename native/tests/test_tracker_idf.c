// Unit tests of heaptrack's ESP-IDF tracker (native/heaptrack/tracker_idf.c)
// through tracker.h, on ESP-IDF's real heap and task tracking built for the
// host (boards/HOST/esp_idf.mk): ESP32-S3's heaps (or the ESP32-C3's),
// FreeRTOS tasks as threads. No MicroPython. `make -C native/tests` runs it
// these ways:
//
//   test_tracker_idf             the library as the firmware has it: the chip's
//                                real addresses, which some checks assert
//   test_tracker_idf_asan        ASan + UBSan; the shim moves DRAM out of ASan's
//                                shadow, so no check here names an address
//   test_tracker_idf_notracking  the library without heap task tracking
//                                (HT_TEST_TRACKING=0): heap calls work,
//                                statistics are unsupported
//   test_tracker_idf_hooks[_asan] the same tests of tracker.h on heaptrack's
//                                hooks tracker (tracker_hooks.c, HT_TEST_HOOKS=1),
//                                ESP-IDF's task tracking off; the few places
//                                where the two differ by design say so
//   test_tracker_idf_c3          the virtual ESP32-C3 (its sdkconfig.h): the
//                                chip the QEMU board is
//
// Every S3 run re-executes itself once with a PSRAM heap added
// (HEAPTRACK_IDF_REGIONS, which the shim reads at start-up) for the tests that
// need one. The heap is the process's: tests leave no heaptrack block behind
// (the harness checks) and compare before/after rather than absolute figures.
//
// The same file runs on the QEMU board (HT_TEST_QEMU, native/tests/qemu/):
// upstream FreeRTOS-Kernel with preemption on an emulated RV32IMC CPU, ESP-IDF's
// heap with the ESP32-C3's layout moved into QEMU's RAM, both trackers; its
// threads are FreeRTOS tasks (boards/QEMU_RV32/include/pthread.h).
#ifndef HT_TEST_QEMU
#define HT_TEST_QEMU 0
#endif

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "esp_heap_caps.h"
#include "esp_heap_caps_init.h"
#include "failures.h"
#include "tracker.h"
#if HT_TEST_QEMU
#include "qemu_board.h"
#else
#include "host_shim.h"
#endif

#ifndef HT_TEST_TRACKING
#define HT_TEST_TRACKING 1
#endif
#ifndef HT_TEST_HOOKS
#define HT_TEST_HOOKS 0
#endif
// The owner word ESP-IDF's task tracking adds to every block.
#if HT_TEST_TRACKING && !HT_TEST_HOOKS
#define HT_TEST_OWNER_SIZE 4u
#else
#define HT_TEST_OWNER_SIZE 0u
#endif
// As the library was built (esp_idf.mk TRACKER_DEFS; tracker_idf.c's default).
#ifndef HT_IDF_MAX_BLOCKS
#define HT_IDF_MAX_BLOCKS 1024
#endif
#define HT_IDF_MAX_SNAPSHOTS 16

#if defined(__SANITIZE_ADDRESS__)
#define HT_TEST_CHIP_ADDRESSES 0
#else
#define HT_TEST_CHIP_ADDRESSES 1
#endif

/******************************************************************************/
// The chip: the heaps ESP-IDF's heap_caps_init() makes with the configuration
// of heaptrack's firmware for it, in the order heap_caps_malloc tries them.

typedef struct {
    const char *name;
    uintptr_t start;
    size_t size;
    uint32_t caps;
} chip_heap_t;

#if CONFIG_IDF_TARGET_ESP32C3
// ESP-IDF's esp32c3 layout: RTC fast memory, the two Retention RAM blocks
// (the upper one the ROM's start-up stack until the scheduler runs), RAM.
// Memory protection off (MicroPython's), so RAM and RTC RAM are executable.
static const chip_heap_t s_chip_heaps[] = {
    { "RTCRAM", 0x50001204u, 3556, 0x00009807 },
    { "Retention RAM", 0x3FCDC710u, 10576, 0x0000580f },
    { "Retention RAM", 0x3FCC0000u, 116496, 0x0000580f },
    { "RAM", 0x3FC8D610u, 207344, 0x0000180f },
};
// The RAM heap has MALLOC_CAP_DEFAULT at its first priority, Retention RAM not.
#define CHIP_DEFAULT_HEAP (&s_chip_heaps[3])
// ESP-IDF has no PSRAM support for the ESP32-C3.
#define CHIP_HAS_PSRAM 0
#else
// heaptrack's ESP32_S3 firmware: MicroPython turns memory protection off, so
// RAM and RTC RAM are executable too (MALLOC_CAP_EXEC, bit 0).
static const chip_heap_t s_chip_heaps[] = {
    { "RTCRAM", 0x600FE010u, 8152, 0x00009807 },
    { "RAM", 0x3FCE9710u, 22308, 0x0010580f },
    { "DRAM", 0x3FCF0000u, 32768, 0x0010180e },
    { "RAM", 0x3FC955C0u, 344400, 0x0010580f },
};
// Both RAM heaps have MALLOC_CAP_DEFAULT at their first priority: the
// start-up stack's, listed first, takes a small block first.
#define CHIP_DEFAULT_HEAP (&s_chip_heaps[1])
#define CHIP_HAS_PSRAM 1
#endif
#define CHIP_HEAPS (sizeof(s_chip_heaps) / sizeof(s_chip_heaps[0]))
// RTC fast memory, a heap of its own with a caps bit no other has (ESP-IDF
// keeps its statistics in the biggest heap, not this one), first on both chips.
#define CHIP_RTCRAM (&s_chip_heaps[0])

/******************************************************************************/
// The platform: the host's virtual board, or the QEMU board.

#if HT_TEST_QEMU
// The chip's data addresses are moved into QEMU's RAM by a fixed offset
// (boards/QEMU_RV32/qemu_board.h).
#define chip_address(address) qemu_board_address(address)
#define thread_set_next_name(name) qemu_thread_set_next_name(name)
// The TCB ESP-IDF's task tracking sees: upstream FreeRTOS-Kernel's.
#define TCB_SIZE sizeof(StaticTask_t)
#else
#define chip_address(address) (address)
#define thread_set_next_name(name) host_task_set_next_name(name)
// ESP-IDF's FreeRTOS's TCB with the chip's configuration (the shim's sdkconfig.h).
#define TCB_SIZE HOST_TCB_SIZE
#endif

#if defined(HOST_CHIP_PSRAM) && HOST_CHIP_PSRAM
#define HT_TEST_PSRAM_BUILD 1
// The ESP32-S3 with octal PSRAM (boards/HOST/chips/esp32s3-psram): the chip's start-up
// adds its 8 MiB of PSRAM as ESP-IDF's esp_psram does, where
// boards/HOST/chips/esp32s3/layout.c maps it; only the PSRAM tests run.
#define PSRAM_START 0x3c200000u
#define PSRAM_SIZE (8u * 1024 * 1024)
#else
// The PSRAM the second run adds: 1 MiB at ESP32-S3's external RAM address.
#define PSRAM_REGIONS "SPIRAM:0x3c000000:1048576"
#define PSRAM_START 0x3c000000u
#define PSRAM_SIZE 1048576u
#define HT_TEST_PSRAM_BUILD 0
#endif

/******************************************************************************/
// Harness

static int g_test_failed;   // set from any thread

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

// ht_malloc's block, or NULL: what most checks here are about (those about
// why there was none call ht_malloc).
static void *try_malloc(size_t size, uint32_t caps) {
    void *p = &p;
    ht_err_t err = ht_malloc(size, caps, &p);
    CHECK((err == HT_OK) == (p != NULL));
    return p;
}

// The full size ESP-IDF records for a block: what heap_caps_malloc took from
// TLSF, with task tracking's owner word.
static size_t block_size(void *p) {
    return heap_caps_get_containing_block_size(p);
}

/******************************************************************************/
// Workers: FreeRTOS tasks that run one step at a time for the calling task, so
// a test can interleave several tasks deterministically. A worker waits for
// its next step in ulTaskNotifyTake(); vTaskDelete() from the test ends it
// there, and its TCB goes back to the heap, as on the chip.

// OP_HEAP_*: ESP-IDF's heap directly, as other firmware code calls it.
typedef enum { OP_MALLOC, OP_FREE, OP_CURRENT, OP_SNAPSHOT, OP_HEAP_MALLOC, OP_HEAP_REALLOC, OP_HEAP_FREE } op_kind_t;

typedef struct {
    op_kind_t kind;
    size_t size;
    uint32_t caps;
    void *address;
    ht_err_t err;
    ht_task_t handle;
} op_t;

typedef struct {
    TaskHandle_t handle;
    TaskHandle_t caller;
    op_t *op;
} worker_t;

static void run_op(op_t *op) {
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
        case OP_HEAP_REALLOC:
            op->address = heap_caps_realloc(op->address, op->size, op->caps);
            break;
        case OP_HEAP_FREE:
            heap_caps_free(op->address);
            break;
    }
}

static void worker_main(void *arg) {
    worker_t *w = arg;
    for (;;) {
        ulTaskNotifyTake(pdTRUE, portMAX_DELAY);
        run_op(w->op);
        xTaskNotifyGive(w->caller);
    }
}

static ht_task_t worker_start(worker_t *w, const char *name) {
    memset(w, 0, sizeof(*w));
    CHECK(xTaskCreate(worker_main, name, 4096, w, 5, &w->handle) == pdPASS);
    return (ht_task_t)w->handle;
}

static void worker_run(worker_t *w, op_t *op) {
    w->op = op;
    w->caller = xTaskGetCurrentTaskHandle();
    xTaskNotifyGive(w->handle);
    ulTaskNotifyTake(pdTRUE, portMAX_DELAY);
}

static void *worker_malloc(worker_t *w, size_t size, uint32_t caps) {
    op_t op = { .kind = OP_MALLOC, .size = size, .caps = caps };
    worker_run(w, &op);
    return op.address;
}

__attribute__((unused)) static ht_err_t worker_free(worker_t *w, void *address) {
    op_t op = { .kind = OP_FREE, .address = address };
    worker_run(w, &op);
    return op.err;
}

__attribute__((unused)) static void *worker_heap_op(worker_t *w, op_kind_t kind, void *address, size_t size) {
    op_t op = { .kind = kind, .address = address, .size = size, .caps = MALLOC_CAP_DEFAULT };
    worker_run(w, &op);
    return op.address;
}

static ht_task_t worker_current(worker_t *w) {
    op_t op = { .kind = OP_CURRENT };
    worker_run(w, &op);
    return op.handle;
}

// Deletes the worker's task: its TCB is freed, which ESP-IDF sees as DELETED.
static void worker_stop(worker_t *w) {
    vTaskDelete(w->handle);
}

/******************************************************************************/
// Snapshot helpers

#if HT_TEST_TRACKING

static ht_snapshot_t take(bool with_blocks) {
    ht_snapshot_t snap;
    CHECK(ht_snapshot_take(&snap, true, 0, with_blocks) == HT_OK);
    return snap;
}

// The record for handle: the living task's if a deleted one had the same TCB.
static const ht_task_stat_t *find_task(const ht_snapshot_t *snap, ht_task_t handle) {
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
static const ht_task_stat_t *find_named(const ht_snapshot_t *snap, ht_task_t handle, const char *name) {
    for (size_t i = 0; i < snap->task_count; ++i) {
        if (snap->tasks[i].handle == handle && strcmp(snap->tasks[i].name, name) == 0) {
            return &snap->tasks[i];
        }
    }
    return NULL;
}

static size_t count_records(const ht_snapshot_t *snap, ht_task_t handle) {
    size_t n = 0;
    for (size_t i = 0; i < snap->task_count; ++i) {
        n += snap->tasks[i].handle == handle;
    }
    return n;
}

// The heap of a task holding address, or a placeholder named "(none)".
static const ht_heap_stat_t *heap_of(const ht_task_stat_t *task, const void *address) {
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
static size_t block_listed(const ht_snapshot_t *snap, const void *address) {
    size_t n = 0;
    for (size_t t = 0; t < snap->task_count; ++t) {
        n += strcmp(heap_of(&snap->tasks[t], address)->name, "(none)") != 0;
    }
    return n;
}

static size_t task_blocks(const ht_task_stat_t *task) {
    size_t n = 0;
    for (size_t h = 0; task != NULL && h < task->heap_count; ++h) {
        n += task->heap_stat[h].alloc_count;
    }
    return n;
}

// What holds for any snapshot (with_blocks: taken with blocks).
static void check_snapshot(const ht_snapshot_t *snap, bool with_blocks) {
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

static bool same_task(const ht_task_stat_t *x, const ht_task_stat_t *y) {
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

static bool same_snapshot(const ht_snapshot_t *a, const ht_snapshot_t *b) {
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

#define MAX_REGIONS 8

typedef struct {
    ht_region_info_t r[MAX_REGIONS];
    size_t count;
} regions_t;

static regions_t regions(void) {
    regions_t rs;
    memset(&rs, 0, sizeof(rs));
    CHECK(ht_region_info(rs.r, MAX_REGIONS, &rs.count) == HT_OK);
    CHECK(rs.count >= 1 && rs.count <= MAX_REGIONS);
    return rs;
}

static const ht_region_info_t *region_of(const regions_t *rs, const void *p) {
    for (size_t i = 0; i < rs->count; ++i) {
        if ((uintptr_t)p >= rs->r[i].start && (uintptr_t)p - rs->r[i].start < rs->r[i].total_size) {
            return &rs->r[i];
        }
    }
    return NULL;
}

static bool same_regions(const regions_t *a, const regions_t *b) {
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
typedef struct {
    #if HT_TEST_TRACKING
    ht_snapshot_t snap;
    bool all_tasks;
    #endif
    regions_t regions;
} state_t;

static state_t state_now(bool all_tasks) {
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
static void check_unchanged(state_t *before) {
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

/******************************************************************************/
// Tests for every build

// Every code has the tracker's sentence, and the busy one tells the caller
// to try again: the bindings raise what it says, with no text of their own.
static void test_err_text(void) {
    for (int e = HT_OK; e <= HT_ERR_INCONSISTENT; ++e) {
        const char *text = ht_err_text((ht_err_t)e);
        CHECK(text != NULL && text[0] != '\0');
        CHECK(strcmp(text, ht_err_text(e == HT_OK ? HT_ERR_NO_MEM : HT_OK)) != 0);
    }
    CHECK(strstr(ht_err_text(HT_ERR_BUSY), "try again") != NULL);
    CHECK(strstr(ht_err_text(HT_ERR_NO_MEM), "try again") == NULL);
}

static void test_current_task(void) {
    ht_task_t me = ht_current_task();
    CHECK(me != 0 && me == (ht_task_t)xTaskGetCurrentTaskHandle());
    CHECK(strcmp(pcTaskGetName(NULL), "mp_task") == 0);
    CHECK(ht_track_deleted() == (HT_TEST_TRACKING != 0));
    const char *tracker = ht_tracker_name();
    #if HT_TEST_TRACKING
    CHECK(tracker != NULL && strcmp(tracker, HT_TEST_HOOKS ? "hooks" : "idf") == 0);
    #else
    CHECK(tracker == NULL);
    #endif
    worker_t w;
    ht_task_t handle = worker_start(&w, "current");
    CHECK(handle != 0 && handle != me);
    CHECK(worker_current(&w) == handle);
    CHECK(ht_current_task() == me);
    worker_stop(&w);
}

static void test_malloc_free(void) {
    // ESP-IDF records a task's first use of a heap once and for all: use it
    // first, so that what follows leaves the heaps as it found them.
    CHECK(ht_free(try_malloc(100, HT_CAP_DEFAULT)) == HT_OK);
    regions_t before = regions();
    char *p = try_malloc(100, HT_CAP_DEFAULT);
    CHECK(p != NULL && (uintptr_t)p % 4 == 0);
    memset(p, 0x5a, 100);
    const ht_region_info_t *r = region_of(&before, p);
    CHECK(r != NULL && (r->caps & HT_CAP_DEFAULT) != 0);
    regions_t during = regions();
    const ht_region_info_t *r2 = region_of(&during, p);
    CHECK(r2 != NULL && r2->free_size + block_size(p) <= r->free_size);
    CHECK(ht_free(p) == HT_OK);
    CHECK(ht_free(p) == HT_ERR_NO_BLOCK);
    regions_t after = regions();
    CHECK(same_regions(&before, &after));
    // Every caps bit heaptrack.malloc accepts reaches ESP-IDF as is.
    void *internal = try_malloc(40, HT_CAP_INTERNAL | HT_CAP_8BIT);
    void *dma = try_malloc(40, HT_CAP_DMA);
    void *word = try_malloc(40, HT_CAP_32BIT);
    CHECK(internal && dma && word);
    CHECK((region_of(&after, dma)->caps & HT_CAP_DMA) != 0);
    CHECK(ht_free(internal) == HT_OK && ht_free(dma) == HT_OK && ht_free(word) == HT_OK);
    // No caps at all match no heap in ESP-IDF (heap_caps_malloc wants a heap
    // with at least one of them).
    CHECK(try_malloc(40, 0) == NULL);
    CHECK(heap_caps_check_integrity_all(true));
}

static void test_no_heap_for_caps(void) {
    state_t before = state_now(true);
    // Executable memory is not byte-addressable (ESP-IDF refuses the pair), this
    // run has no PSRAM, and nothing can hold half the address space.
    void *none = &before;
    CHECK(ht_malloc(16, HT_CAP_EXEC | HT_CAP_8BIT, &none) == HT_ERR_NO_MEM && none == NULL);
    CHECK(strstr(ht_err_text(HT_ERR_NO_MEM), "no heap with the requested capabilities") != NULL);
    if (heap_caps_get_total_size(MALLOC_CAP_SPIRAM) == 0) {
        CHECK(try_malloc(16, HT_CAP_SPIRAM) == NULL);
    }
    CHECK(try_malloc(16, HT_CAP_SPIRAM | HT_CAP_INTERNAL) == NULL);
    CHECK(try_malloc(0x80000000u, HT_CAP_DEFAULT) == NULL);
    CHECK(try_malloc(SIZE_MAX, 0) == NULL);
    CHECK(try_malloc(SIZE_MAX - 3, 0) == NULL);
    CHECK(try_malloc(0, HT_CAP_DEFAULT) == NULL);   // ESP-IDF's malloc(0)
    check_unchanged(&before);
    size_t count = 99;
    CHECK(ht_free_all(&count) == HT_OK && count == 0);
}

// A heap filled to the last byte: NULL and the detail, nothing else moves.
static void test_full_heap(void) {
    // RTC fast memory (CHIP_RTCRAM), in blocks of a 16th of it, then smaller.
    enum { MAX = 200 };
    void *p[MAX];
    size_t n = 0;
    for (size_t size = CHIP_RTCRAM->size / 16; size >= 4; size /= 2) {
        while (n < MAX && (p[n] = try_malloc(size, MALLOC_CAP_RTCRAM)) != NULL) {
            ++n;
        }
    }
    CHECK(n > 8 && n < MAX);
    CHECK(heap_caps_get_free_size(MALLOC_CAP_RTCRAM) < 16);
    state_t before = state_now(true);
    for (int k = 0; k < 3; ++k) {
        void *none = &before;
        CHECK(ht_malloc(4, MALLOC_CAP_RTCRAM, &none) == HT_ERR_NO_MEM && none == NULL);
        CHECK(strstr(ht_err_text(HT_ERR_NO_MEM), "no heap with the requested capabilities has room for the block") != NULL);
    }
    check_unchanged(&before);
    for (size_t k = 0; k < n; ++k) {
        CHECK(ht_free(p[k]) == HT_OK);
    }
    // Not the heap's whole size (the allocator keeps some of it), half of it.
    CHECK(try_malloc(CHIP_RTCRAM->size - 152, MALLOC_CAP_RTCRAM) == NULL);
    void *again = try_malloc(CHIP_RTCRAM->size / 2, MALLOC_CAP_RTCRAM);
    CHECK(again != NULL && ht_free(again) == HT_OK);
}

static void test_bad_free(void) {
    char *a = try_malloc(100, HT_CAP_DEFAULT);
    char *b = try_malloc(100, HT_CAP_DEFAULT);
    char *raw = heap_caps_malloc(100, MALLOC_CAP_DEFAULT);   // ESP-IDF's, not heaptrack's
    CHECK(a && b && raw);
    CHECK(ht_free(a) == HT_OK);
    int on_stack = 0;
    char *host = malloc(32);
    state_t before = state_now(true);
    CHECK(ht_free(a) == HT_ERR_NO_BLOCK);            // double free
    CHECK(ht_free(raw) == HT_ERR_NO_BLOCK);          // a block heaptrack did not hand out
    CHECK(ht_free(b + 1) == HT_ERR_NO_BLOCK);        // inside a block
    CHECK(ht_free(b + 4) == HT_ERR_NO_BLOCK);
    CHECK(ht_free(b - 4) == HT_ERR_NO_BLOCK);        // ESP-IDF's owner word
    CHECK(ht_free((void *)((uintptr_t)b | 1)) == HT_ERR_NO_BLOCK);   // the registry's claim bit
    CHECK(ht_free(&on_stack) == HT_ERR_NO_BLOCK);
    CHECK(ht_free(host) == HT_ERR_NO_BLOCK);
    CHECK(ht_free(NULL) == HT_ERR_NO_BLOCK);
    check_unchanged(&before);
    free(host);
    // Both blocks are intact and still freeable by their owners' calls.
    CHECK(ht_free(b) == HT_OK);
    CHECK(ht_free(b) == HT_ERR_NO_BLOCK);
    heap_caps_free(raw);
    CHECK(heap_caps_check_integrity_all(true));
}

static void test_free_all(void) {
    worker_t w;
    worker_start(&w, "free_all");
    size_t count = 99;
    CHECK(ht_free_all(&count) == HT_OK && count == 0);
    void *raw = heap_caps_malloc(64, MALLOC_CAP_DEFAULT);
    void *kept[20];
    for (int k = 0; k < 10; ++k) {
        kept[k] = try_malloc(24, (uint32_t)(k % 2 ? MALLOC_CAP_RTCRAM : HT_CAP_DEFAULT));
        kept[10 + k] = worker_malloc(&w, 16, HT_CAP_8BIT);
        CHECK(kept[k] && kept[10 + k]);
    }
    CHECK(ht_free(kept[3]) == HT_OK);
    worker_stop(&w);   // a deleted task's blocks are freed too
    regions_t before = regions();
    CHECK(ht_free_all(&count) == HT_OK && count == 19);
    regions_t after = regions();
    for (size_t i = 0; i < after.count; ++i) {
        CHECK(after.r[i].free_size >= before.r[i].free_size);
    }
    for (int k = 0; k < 20; ++k) {
        CHECK(ht_free(kept[k]) == HT_ERR_NO_BLOCK);
    }
    CHECK(ht_free_all(NULL) == HT_OK);
    // ESP-IDF's own blocks are not heaptrack's to free.
    CHECK(heap_caps_get_allocated_size(raw) >= 64);
    heap_caps_free(raw);
    // The registry works on after a free_all.
    void *again = try_malloc(16, HT_CAP_DEFAULT);
    CHECK(again != NULL && ht_free(again) == HT_OK);
    CHECK(heap_caps_check_integrity_all(true));
}

// The registry holds HT_IDF_MAX_BLOCKS outstanding blocks; one more is refused
// before the heap is touched. (The hooks tracker has no registry of its own:
// its table holds every block of the system, and test_tracker_hooks.c fills it.)
#if !HT_TEST_HOOKS
static void test_registry_full(void) {
    static void *p[HT_IDF_MAX_BLOCKS];
    for (size_t k = 0; k < HT_IDF_MAX_BLOCKS; ++k) {
        p[k] = try_malloc(4, HT_CAP_DEFAULT);
        CHECK(p[k] != NULL);
    }
    state_t before = state_now(false);
    void *none = &before;
    CHECK(ht_malloc(4, HT_CAP_DEFAULT, &none) == HT_ERR_FULL && none == NULL);
    char expect[40];
    snprintf(expect, sizeof(expect), "at most %u blocks", (unsigned)HT_IDF_MAX_BLOCKS);
    CHECK(strstr(ht_err_text(HT_ERR_FULL), expect) != NULL);
    CHECK(strstr(ht_err_text(HT_ERR_FULL), "HT_IDF_MAX_BLOCKS") != NULL);
    CHECK(ht_malloc(4, HT_CAP_EXEC, &none) == HT_ERR_FULL && none == NULL);   // full first, whatever the caps
    check_unchanged(&before);   // the peak did not move either
    // One freed, one more fits; every other order of frees keeps the table whole.
    CHECK(ht_free(p[HT_IDF_MAX_BLOCKS / 2]) == HT_OK);
    p[HT_IDF_MAX_BLOCKS / 2] = try_malloc(4, HT_CAP_DEFAULT);
    CHECK(p[HT_IDF_MAX_BLOCKS / 2] != NULL);
    CHECK(try_malloc(4, HT_CAP_DEFAULT) == NULL);
    unsigned seed = 12345;
    for (size_t round = 0; round < 4; ++round) {
        for (size_t k = 0; k < HT_IDF_MAX_BLOCKS; ++k) {
            seed = seed * 1103515245u + 12345u;
            size_t i = (seed >> 8) % HT_IDF_MAX_BLOCKS;
            if (p[i] != NULL) {
                CHECK(ht_free(p[i]) == HT_OK);
                CHECK(ht_free(p[i]) == HT_ERR_NO_BLOCK);
                p[i] = NULL;
            }
        }
        for (size_t k = 0; k < HT_IDF_MAX_BLOCKS; ++k) {
            if (p[k] == NULL) {
                p[k] = try_malloc(4 + 4 * (round + k % 3), HT_CAP_DEFAULT);
                CHECK(p[k] != NULL);
            }
        }
        CHECK(try_malloc(4, HT_CAP_DEFAULT) == NULL);
    }
    for (size_t k = 0; k < HT_IDF_MAX_BLOCKS; ++k) {
        CHECK(ht_free(p[k]) == HT_OK);
    }
    size_t count = 99;
    CHECK(ht_free_all(&count) == HT_OK && count == 0);
}
#endif

// ht_region_info against ESP-IDF's own figures (heap_caps_get_info).
static void test_region_info(void) {
    regions_t rs = regions();
    size_t n = 99;
    CHECK(ht_region_info(NULL, 0, &n) == HT_OK && n == rs.count);
    ht_region_info_t one[1];
    CHECK(ht_region_info(one, 1, &n) == HT_OK && n == rs.count);
    CHECK(one[0].start == rs.r[0].start && one[0].total_size == rs.r[0].total_size);
    // The chip's heaps (s_chip_heaps), PSRAM's first where there is some.
    bool psram = heap_caps_get_total_size(MALLOC_CAP_SPIRAM) != 0;
    CHECK(rs.count == CHIP_HEAPS + psram);
    size_t first = psram ? 1 : 0;
    if (psram) {
        CHECK(strcmp(rs.r[0].name, "SPIRAM") == 0 && rs.r[0].total_size == PSRAM_SIZE);
        CHECK((rs.r[0].caps & HT_CAP_SPIRAM) != 0);
    }
    for (size_t i = 0; i < CHIP_HEAPS && first + i < rs.count; ++i) {
        const ht_region_info_t *r = &rs.r[first + i];
        CHECK(strcmp(r->name, s_chip_heaps[i].name) == 0);
        CHECK(r->total_size == s_chip_heaps[i].size);
        CHECK(r->caps == s_chip_heaps[i].caps);
        #if HT_TEST_CHIP_ADDRESSES
        CHECK(r->start == chip_address(s_chip_heaps[i].start));
        #endif
    }
    for (size_t i = 0; i < rs.count; ++i) {
        const ht_region_info_t *r = &rs.r[i];
        CHECK(r->free_size <= r->total_size);
        CHECK(r->largest_free_block <= r->free_size);
        CHECK(r->minimum_free_size <= r->free_size);
        for (size_t j = 0; j < i; ++j) {   // no overlaps
            CHECK(r->start >= rs.r[j].start + rs.r[j].total_size || rs.r[j].start >= r->start + r->total_size);
        }
    }
    // Per caps: the regions having them add up to exactly what ESP-IDF's
    // heap_caps_get_info() says of the heaps having them (each region is one
    // heap's share of that sum). Its largest block is the exception: it takes
    // the owner word off again for every heap after the largest one
    // (heap_caps.c, v5.5.4), so it may read up to 4 bytes per heap lower than
    // the heap's own figure less one owner word, which is ours.
    static const uint32_t caps[] = {
        MALLOC_CAP_8BIT, MALLOC_CAP_32BIT, MALLOC_CAP_DMA, MALLOC_CAP_INTERNAL, MALLOC_CAP_DEFAULT,
        MALLOC_CAP_RTCRAM, MALLOC_CAP_SPIRAM, MALLOC_CAP_SIMD, MALLOC_CAP_RETENTION,
    };
    for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); ++c) {
        regions_t now = regions();
        multi_heap_info_t info;
        heap_caps_get_info(&info, caps[c]);
        size_t total = 0, free_bytes = 0, largest = 0, minimum = 0, heaps = 0;
        for (size_t i = 0; i < now.count; ++i) {
            if ((now.r[i].caps & caps[c]) == caps[c]) {
                total += now.r[i].total_size;
                free_bytes += now.r[i].free_size;
                minimum += now.r[i].minimum_free_size;
                largest = now.r[i].largest_free_block > largest ? now.r[i].largest_free_block : largest;
                heaps += 1;
            }
        }
        if (total != heap_caps_get_total_size(caps[c]) || free_bytes != info.total_free_bytes
            || largest < info.largest_free_block || largest - info.largest_free_block > 4 * heaps
            || minimum != info.minimum_free_bytes || (heaps == 0) != (info.total_free_bytes == 0)) {
            fprintf(stderr, "caps 0x%08x: regions total %zu free %zu largest %zu; ESP-IDF total %zu free %zu"
                " in %zu free blocks, largest %zu\n", (unsigned)caps[c], total, free_bytes, largest,
                heap_caps_get_total_size(caps[c]), info.total_free_bytes, info.free_blocks, info.largest_free_block);
            CHECK(!"ht_region_info agrees with heap_caps_get_info");
        }
    }
    // A block taken shows in its region's figures, and the low-water mark stays.
    CHECK(ht_free(try_malloc(16384, HT_CAP_DMA)) == HT_OK);   // the heap's record exists
    regions_t before = regions();
    void *p = try_malloc(16384, HT_CAP_DMA);
    CHECK(p != NULL);
    regions_t during = regions();
    size_t i = (size_t)(region_of(&during, p) - during.r);
    CHECK(during.r[i].free_size + block_size(p) <= before.r[i].free_size);
    CHECK(during.r[i].minimum_free_size <= during.r[i].free_size);
    CHECK(ht_free(p) == HT_OK);
    regions_t after = regions();
    CHECK(same_regions(&before, &after));
    CHECK(after.r[i].minimum_free_size <= after.r[i].free_size);
}

// Threads started with pthread_create are tasks too (MicroPython's _thread):
// `mp_thread` unless the shim was told a name first.
static void *thread_main(void *arg) {
    void **out = arg;
    out[0] = (void *)ht_current_task();
    out[1] = try_malloc(48, HT_CAP_DEFAULT);
    return NULL;
}

static void test_threads_are_tasks(void) {
    void *named[2], *plain[2];
    pthread_t t;
    thread_set_next_name("py_worker");
    CHECK(pthread_create(&t, NULL, thread_main, named) == 0);
    pthread_join(t, NULL);
    CHECK(pthread_create(&t, NULL, thread_main, plain) == 0);
    pthread_join(t, NULL);
    CHECK(named[0] != NULL && plain[0] != NULL && named[1] != NULL && plain[1] != NULL);
    #if HT_TEST_TRACKING
    ht_snapshot_t snap = take(true);
    const ht_task_stat_t *a = NULL, *b = NULL;
    for (size_t i = 0; i < snap.task_count; ++i) {
        if (strcmp(heap_of(&snap.tasks[i], named[1])->name, "(none)") != 0) {
            a = &snap.tasks[i];
        }
        if (strcmp(heap_of(&snap.tasks[i], plain[1])->name, "(none)") != 0) {
            b = &snap.tasks[i];
        }
    }
    CHECK(a != NULL && strcmp(a->name, "py_worker") == 0 && !a->is_alive && a->handle == (ht_task_t)named[0]);
    CHECK(b != NULL && strcmp(b->name, "mp_thread") == 0 && !b->is_alive && b->handle == (ht_task_t)plain[0]);
    ht_snapshot_release(&snap);
    #endif
    CHECK(ht_free(named[1]) == HT_OK && ht_free(plain[1]) == HT_OK);
}

/******************************************************************************/
// Statistics (task tracking)

#if HT_TEST_TRACKING

static void test_stats_and_peaks(void) {
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

static void test_heap_and_block_order(void) {
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

static void test_task_order_and_names(void) {
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

static void test_free_by_other_task(void) {
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

static void test_deleted_tasks(void) {
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
static void test_handle_reuse(void) {
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

static void test_single_task_snapshot(void) {
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

static void test_snapshot_changes_nothing(void) {
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

// Snapshots live in ESP-IDF's arrays, at most HT_IDF_MAX_SNAPSHOTS at a time.
static void test_snapshot_slots(void) {
    ht_snapshot_t held[HT_IDF_MAX_SNAPSHOTS + 1];
    for (size_t k = 0; k < HT_IDF_MAX_SNAPSHOTS; ++k) {
        CHECK(ht_snapshot_take(&held[k], k % 2 == 0, ht_current_task(), k % 3 == 0) == HT_OK);
    }
    CHECK(ht_snapshot_take(&held[HT_IDF_MAX_SNAPSHOTS], true, 0, true) == HT_ERR_FULL);
    CHECK(strstr(ht_err_text(HT_ERR_FULL), "too many statistics snapshots") != NULL);
    CHECK(held[HT_IDF_MAX_SNAPSHOTS].storage == NULL && held[HT_IDF_MAX_SNAPSHOTS].task_count == 0);
    ht_snapshot_release(&held[3]);
    CHECK(ht_snapshot_take(&held[3], true, 0, true) == HT_OK);
    for (size_t k = 0; k < HT_IDF_MAX_SNAPSHOTS; ++k) {
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
static void test_vm_restart_reclaims(void) {
    ht_snapshot_t lost[HT_IDF_MAX_SNAPSHOTS];
    for (size_t k = 0; k < HT_IDF_MAX_SNAPSHOTS; ++k) {
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

static void test_snapshot_under_churn(void) {
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
static void test_snapshot_no_memory(void) {
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
static void test_report_bound(void) {
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
static void test_records_heap_full(void) {
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
static void test_realloc_miscount(void) {
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
static void test_totals_snapshot(void) {
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
static void test_block_owner(void) {
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
static void test_records_counted(void) {
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
static void test_reset_peak_and_clear(void) {
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

/******************************************************************************/
// Concurrency: tasks and threads allocate, free each other's blocks, take
// snapshots and region figures at once; afterwards every block is where it
// should be and ESP-IDF's heaps are intact.

#define STRESS_THREADS (6)
#define STRESS_OPS (6000)
#define STRESS_LIVE (64)
#define STRESS_SHARED (16)

typedef struct {
    unsigned seed;
    void *live[STRESS_LIVE];
    size_t mallocs, frees, failures;
    TaskHandle_t handle;
    TaskHandle_t parent;
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

static void stress_run(stress_t *s) {
    static const uint32_t caps[] = {
        HT_CAP_DEFAULT, HT_CAP_8BIT, HT_CAP_DMA, HT_CAP_32BIT, HT_CAP_EXEC, MALLOC_CAP_RTCRAM, HT_CAP_SPIRAM,
    };
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
                    size_t size = 1 + (r >> 12) % 400;
                    // Caps heaptrack.malloc refuses on this chip (CAP_EXEC) are the API's to refuse.
                    const char *why;
                    uint32_t c = caps[(r >> 20) % (sizeof(caps) / sizeof(caps[0]))];
                    s->live[slot] = try_malloc(size, (c & ht_caps_refused(&why)) ? HT_CAP_DEFAULT : c);
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
}

static void stress_task(void *arg) {
    stress_t *s = arg;
    stress_run(s);
    xTaskNotifyGive(s->parent);
    ulTaskNotifyTake(pdTRUE, portMAX_DELAY);   // deleted here
}

static void *stress_thread(void *arg) {
    stress_run(arg);
    return NULL;
}

static void *observer_main(void *arg) {
    size_t *taken = arg;
    while (!__atomic_load_n(&g_stress_done, __ATOMIC_SEQ_CST)) {
        #if HT_TEST_TRACKING
        ht_snapshot_t snap;
        ht_err_t err = ht_snapshot_take(&snap, true, 0, true);
        CHECK(err == HT_OK || err == HT_ERR_NO_MEM || err == HT_ERR_BUSY);
        if (err == HT_OK) {
            check_snapshot(&snap, true);
        }
        ht_snapshot_release(&snap);
        #endif
        ht_region_info_t r[MAX_REGIONS];
        size_t n;
        CHECK(ht_region_info(r, MAX_REGIONS, &n) == HT_OK && n >= 4);
        ++*taken;
    }
    return NULL;
}

static void test_concurrency(void) {
    static stress_t s[STRESS_THREADS];
    pthread_t threads[STRESS_THREADS];
    memset(s, 0, sizeof(s));
    memset(g_shared, 0, sizeof(g_shared));
    __atomic_store_n(&g_stress_done, 0, __ATOMIC_SEQ_CST);
    pthread_t observer;
    size_t observed = 0;
    CHECK(pthread_create(&observer, NULL, observer_main, &observed) == 0);
    for (int k = 0; k < STRESS_THREADS; ++k) {
        s[k].seed = 0x9e3779b9u * (unsigned)(k + 1);
        s[k].parent = xTaskGetCurrentTaskHandle();
        if (k % 2 == 0) {
            char name[HT_TASK_NAME_LEN];
            snprintf(name, sizeof(name), "stress%u", (unsigned)k % 10);
            CHECK(xTaskCreate(stress_task, name, 4096, &s[k], 5, &s[k].handle) == pdPASS);
        } else {
            CHECK(pthread_create(&threads[k], NULL, stress_thread, &s[k]) == 0);
        }
    }
    size_t mallocs = 0, frees = 0, failures = 0;
    for (int k = 0; k < STRESS_THREADS; ++k) {
        if (k % 2 == 0) {
            ulTaskNotifyTake(pdFALSE, portMAX_DELAY);   // one of the tasks is done (count one)
        } else {
            pthread_join(threads[k], NULL);
        }
    }
    for (int k = 0; k < STRESS_THREADS; k += 2) {
        vTaskDelete(s[k].handle);
    }
    __atomic_store_n(&g_stress_done, 1, __ATOMIC_SEQ_CST);
    pthread_join(observer, NULL);
    for (int k = 0; k < STRESS_THREADS; ++k) {
        mallocs += s[k].mallocs;
        frees += s[k].frees;
        failures += s[k].failures;
    }
    CHECK(mallocs > 3000 && frees > 1500 && failures > 0 && observed > 0);
    CHECK(heap_caps_check_integrity_all(true));

    size_t held = 0;
    for (int k = 0; k < STRESS_THREADS; ++k) {
        for (int i = 0; i < STRESS_LIVE; ++i) {
            held += s[k].live[i] != NULL;
        }
    }
    for (int i = 0; i < STRESS_SHARED; ++i) {
        held += g_shared[i] != NULL;
    }
    CHECK(mallocs - frees == held);
    #if HT_TEST_TRACKING
    // Every block still held is listed exactly once, under a deleted task.
    ht_snapshot_t snap = take(true);
    check_snapshot(&snap, true);
    for (int k = 0; k < STRESS_THREADS; ++k) {
        for (int i = 0; i < STRESS_LIVE; ++i) {
            if (s[k].live[i] != NULL) {
                CHECK(block_listed(&snap, s[k].live[i]) == 1);
            }
        }
    }
    ht_snapshot_release(&snap);
    #endif
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
    CHECK(heap_caps_check_integrity_all(true));
}

// ht_free_all racing ht_free: each block is freed exactly once, by one of them.
typedef struct {
    void **blocks;
    size_t from, to;
    size_t freed;
} free_race_t;

static void *free_race_main(void *arg) {
    free_race_t *r = arg;
    for (size_t k = r->from; k < r->to; ++k) {
        ht_err_t err = ht_free(r->blocks[k]);
        CHECK(err == HT_OK || err == HT_ERR_NO_BLOCK);
        r->freed += err == HT_OK;
    }
    return NULL;
}

static void *free_all_main(void *arg) {
    size_t *count = arg;
    CHECK(ht_free_all(count) == HT_OK);
    return NULL;
}

static void test_free_all_races_free(void) {
    enum { N = 600, THREADS = 3 };
    static void *blocks[N];
    for (int round = 0; round < 10; ++round) {
        for (size_t k = 0; k < N; ++k) {
            blocks[k] = try_malloc(8 + k % 32, HT_CAP_DEFAULT);
            CHECK(blocks[k] != NULL);
        }
        free_race_t r[THREADS];
        pthread_t t[THREADS + 2];
        size_t all_count[2] = { 0, 0 };
        for (int k = 0; k < THREADS; ++k) {
            r[k] = (free_race_t){ .blocks = blocks, .from = (size_t)k * N / THREADS, .to = (size_t)(k + 1) * N / THREADS };
            CHECK(pthread_create(&t[k], NULL, free_race_main, &r[k]) == 0);
        }
        CHECK(pthread_create(&t[THREADS], NULL, free_all_main, &all_count[0]) == 0);
        CHECK(pthread_create(&t[THREADS + 1], NULL, free_all_main, &all_count[1]) == 0);
        size_t freed = 0;
        for (int k = 0; k < THREADS + 2; ++k) {
            pthread_join(t[k], NULL);
            freed += k < THREADS ? r[k].freed : 0;
        }
        CHECK(freed + all_count[0] + all_count[1] == N);
        size_t count = 99;
        CHECK(ht_free_all(&count) == HT_OK && count == 0);
    }
    CHECK(heap_caps_check_integrity_all(true));
}

/******************************************************************************/
// PSRAM (the second run)

static void test_psram(void) {
    CHECK(heap_caps_get_total_size(MALLOC_CAP_SPIRAM) == PSRAM_SIZE);
    regions_t rs = regions();
    CHECK(rs.count == 5);
    void *ext = try_malloc(100000, HT_CAP_SPIRAM);
    void *internal = try_malloc(100, HT_CAP_DEFAULT);
    void *too_big = try_malloc(PSRAM_SIZE, HT_CAP_SPIRAM);
    CHECK(ext != NULL && internal != NULL && too_big == NULL);
    const ht_region_info_t *ext_region = region_of(&rs, ext);
    CHECK(ext_region != NULL && ext_region->total_size == PSRAM_SIZE);
    #if HT_TEST_CHIP_ADDRESSES
    CHECK(ext_region != NULL && ext_region->start == PSRAM_START);
    #endif
    #if HT_TEST_PSRAM_BUILD
    // ESP-IDF's esp_psram gives its heap MALLOC_CAP_DEFAULT at the first
    // priority, and ESP-IDF lists a heap added at run time first: a DEFAULT
    // block goes to PSRAM (malloc() keeps blocks up to
    // CONFIG_SPIRAM_MALLOC_ALWAYSINTERNAL internal).
    CHECK(region_of(&rs, internal) == ext_region);
    #else
    CHECK(region_of(&rs, internal) != ext_region);   // DEFAULT prefers internal RAM
    #endif
    CHECK(try_malloc(16, HT_CAP_SPIRAM | HT_CAP_INTERNAL) == NULL);
    #if HT_TEST_TRACKING
    ht_snapshot_t snap;
    CHECK(ht_snapshot_take(&snap, false, ht_current_task(), true) == HT_OK);
    const ht_heap_stat_t *heap = heap_of(&snap.tasks[0], ext);
    CHECK(strcmp(heap->name, "SPIRAM") == 0 && heap->size == PSRAM_SIZE && (heap->caps & HT_CAP_SPIRAM) != 0);
    CHECK(heap->current_usage >= 100000);
    check_snapshot(&snap, true);
    ht_snapshot_release(&snap);
    #endif
    // Fill it in big steps, then small: NULL at the end, and nothing moves.
    enum { MAX = 64 };
    void *p[MAX];
    size_t n = 0;
    for (size_t size = 262144; size >= 64; size /= 4) {
        while (n < MAX && (p[n] = try_malloc(size, HT_CAP_SPIRAM)) != NULL) {
            ++n;
        }
    }
    CHECK(n < MAX);
    regions_t before = regions();
    void *none = &before;
    CHECK(ht_malloc(64, HT_CAP_SPIRAM, &none) == HT_ERR_NO_MEM && none == NULL);
    CHECK(strstr(ht_err_text(HT_ERR_NO_MEM), "no heap with the requested capabilities") != NULL);
    regions_t after = regions();
    CHECK(same_regions(&before, &after));
    for (size_t k = 0; k < n; ++k) {
        CHECK(ht_free(p[k]) == HT_OK);
    }
    CHECK(ht_free(ext) == HT_OK && ht_free(internal) == HT_OK);
    CHECK(heap_caps_check_integrity_all(true));
}

#if HT_TEST_TRACKING
// The pool of internal RAM a PSRAM board keeps for DMA and internal-only
// requests: ESP-IDF v5.5's esp_psram_extram_reserve_dma_pool() makes a block of
// CONFIG_SPIRAM_MALLOC_RESERVE_INTERNAL bytes a heap of its own with nothing at
// its first priority, as this does (the start-up that does it on the virtual
// board does not run here). With every other heap full, a report does without
// rather than take from it, though it has room. (Last of its run: the pool stays.)
static void test_dma_pool_kept(void) {
    static const uint32_t pool_caps[] = { 0, MALLOC_CAP_DMA | MALLOC_CAP_INTERNAL, MALLOC_CAP_8BIT | MALLOC_CAP_32BIT };
    enum { POOL = 32768 };
    uint8_t *block = heap_caps_malloc(POOL, MALLOC_CAP_DMA | MALLOC_CAP_INTERNAL);
    CHECK(block != NULL && heap_caps_add_region_with_caps(pool_caps, (intptr_t)block, (intptr_t)block + POOL - 1) == ESP_OK);
    uintptr_t pool_start = (uintptr_t)block;
    // Every other byte-addressable heap, full: each filled with requests for
    // all its capabilities, which the pool (no DEFAULT, SPIRAM or RTCRAM)
    // never serves.
    enum { MAX = 512 };
    void *held[MAX];
    size_t n = 0;
    regions_t rs = regions();
    for (size_t i = 0; i < rs.count; ++i) {
        uint32_t caps = rs.r[i].caps & ~(uint32_t)HT_CAP_EXEC;
        if (rs.r[i].start == pool_start || !(caps & HT_CAP_8BIT)) {
            continue;
        }
        for (size_t size = 1 << 20; size >= 16 && n < MAX;) {
            void *p = heap_caps_malloc(size, caps);
            if (p == NULL) {
                size /= 2;
            } else {
                held[n++] = p;
            }
        }
    }
    CHECK(n < MAX);
    regions_t before = regions();
    const ht_region_info_t *pool_before = NULL;
    for (size_t i = 0; i < before.count; ++i) {
        if (before.r[i].start == pool_start) {
            pool_before = &before.r[i];
        } else if (before.r[i].caps & HT_CAP_8BIT) {
            if (before.r[i].largest_free_block >= 64) {
                fprintf(stderr, "  %s at 0x%08lx caps 0x%08lx: %zu free\n", before.r[i].name,
                    (unsigned long)before.r[i].start, (unsigned long)before.r[i].caps, before.r[i].largest_free_block);
            }
            CHECK(before.r[i].largest_free_block < 64);
        }
    }
    CHECK(pool_before != NULL && pool_before->largest_free_block > 4096);   // room it could have taken
    ht_snapshot_t snap;
    CHECK(ht_snapshot_take(&snap, true, 0, false) == HT_ERR_NO_MEM);
    ht_snapshot_release(&snap);
    regions_t after = regions();
    CHECK(pool_before != NULL && same_regions(&before, &after));
    for (size_t k = 0; k < n; ++k) {
        heap_caps_free(held[k]);
    }
    CHECK(heap_caps_check_integrity_all(true));
}
#endif

/******************************************************************************/
// Failed allocations (failures.h): every failed heap_caps_* call, recorded by
// ESP-IDF's callback with the figures of each heap that has its caps.

typedef struct {
    ht_failure_t f[HT_FAILURES];
    size_t count;
    uint32_t total;
    uint32_t lost;
} failures_t;

static failures_t failures_now(void) {
    failures_t fs;
    memset(&fs, 0, sizeof(fs));
    CHECK(ht_failures_copy(fs.f, HT_FAILURES, &fs.count, &fs.total, &fs.lost) == HT_OK);
    CHECK(fs.count == (fs.total < HT_FAILURES ? fs.total : HT_FAILURES) && fs.lost == fs.total - fs.count);
    return fs;
}

// The newest failure, which must be the only one since the last clear.
static ht_failure_t only_failure(void) {
    failures_t fs = failures_now();
    CHECK(fs.total == 1 && fs.count == 1 && fs.lost == 0);
    return fs.f[0];
}

// A record's heaps are exactly the regions with every caps bit asked for, in
// ESP-IDF's order, with the figures ht_region_info() gives now (nothing has
// moved since the failure).
static void check_heaps_of(const ht_failure_t *f, const regions_t *now) {
    size_t k = 0;
    for (size_t i = 0; i < now->count; ++i) {
        const ht_region_info_t *r = &now->r[i];
        if (f->caps == 0 || (r->caps & f->caps) != f->caps) {
            continue;
        }
        CHECK((f->caps & MALLOC_CAP_EXEC) == 0);   // not used with executable memory here
        if (k < HT_FAILURE_HEAPS) {
            const ht_failure_heap_t *h = &f->heaps[k];
            CHECK(h->start == r->start && h->caps == r->caps && h->total == r->total_size);
            CHECK(h->free == r->free_size && h->largest == r->largest_free_block);
            CHECK(strcmp(h->name, r->name) == 0);
        }
        ++k;
    }
    CHECK(f->heap_count == k);
}

static void check_caller(const ht_failure_t *f, ht_task_t task, const char *name, size_t size, uint32_t caps,
    const char *function) {
    CHECK(f->task == task && strcmp(f->task_name, name) == 0);
    CHECK(f->size == size && f->caps == caps && !f->in_isr);
    CHECK(f->function != NULL && strcmp(f->function, function) == 0);
}

// The RTC fast memory heap (its own caps bit) filled with blocks of `size`:
// returns how many are in p.
static size_t fill_rtcram(void **p, size_t max, size_t size) {
    size_t n = 0;
    while (n < max && (p[n] = heap_caps_malloc(size, MALLOC_CAP_RTCRAM)) != NULL) {
        ++n;
    }
    return n;
}

static void test_failure_wrong_caps(void) {
    CHECK(ht_failures_clear() == HT_OK);
    CHECK(ht_failures_newest(NULL) == 0);
    uint32_t ticks = xTaskGetTickCount();
    // Byte-addressable executable memory: ESP-IDF has no such heap.
    CHECK(heap_caps_malloc(48, MALLOC_CAP_EXEC | MALLOC_CAP_8BIT) == NULL);
    ht_failure_t f = only_failure();
    check_caller(&f, ht_current_task(), "mp_task", 48, MALLOC_CAP_EXEC | MALLOC_CAP_8BIT, "heap_caps_malloc");
    CHECK(f.number == 1 && f.heap_count == 0);
    CHECK(f.ticks >= ticks && f.ticks <= xTaskGetTickCount());
    CHECK(f.ms == (uint64_t)f.ticks * 1000 / CONFIG_FREERTOS_HZ);
    CHECK(f.gc_total == SIZE_MAX);   // no probe: not known
    // calloc is named as such, with the bytes it wanted.
    CHECK(heap_caps_calloc(3, 100, MALLOC_CAP_SPIRAM | MALLOC_CAP_INTERNAL) == NULL);
    ht_failure_t newest;
    CHECK(ht_failures_newest(&newest) == 2 && newest.number == 2);
    check_caller(&newest, ht_current_task(), "mp_task", 300, MALLOC_CAP_SPIRAM | MALLOC_CAP_INTERNAL, "heap_caps_calloc");
    CHECK(newest.heap_count == 0);
    CHECK(ht_failures_clear() == HT_OK);
    failures_t none = failures_now();
    CHECK(none.total == 0 && none.count == 0);
}

// Exhausted: the heap's free bytes are fewer than asked for.
static void test_failure_exhausted(void) {
    enum { MAX = 200 };
    void *p[MAX];
    size_t n = 0;
    for (size_t size = CHIP_RTCRAM->size / 16; size >= 4; size /= 2) {
        n += fill_rtcram(p + n, MAX - n, size);
    }
    CHECK(n > 8 && n < MAX);
    CHECK(ht_failures_clear() == HT_OK);
    CHECK(heap_caps_malloc(64, MALLOC_CAP_RTCRAM) == NULL);
    ht_failure_t f = only_failure();
    regions_t now = regions();
    check_caller(&f, ht_current_task(), "mp_task", 64, MALLOC_CAP_RTCRAM, "heap_caps_malloc");
    CHECK(f.heap_count == 1);
    check_heaps_of(&f, &now);
    CHECK(f.heaps[0].free < 64 && f.heaps[0].largest <= f.heaps[0].free);
    for (size_t k = 0; k < n; ++k) {
        heap_caps_free(p[k]);
    }
}

// Fragmented: free bytes enough, no free block big enough.
static void test_failure_fragmented(void) {
    // Blocks of a 32nd of the heap, every other one freed: each hole is far
    // smaller than 1024 bytes, all of them together more.
    enum { MAX = 64 };
    const size_t block = (CHIP_RTCRAM->size / 32) & ~(size_t)7;
    void *p[MAX];
    size_t n = fill_rtcram(p, MAX, block);
    void *rest[MAX];
    size_t m = 0;
    for (size_t size = block / 2; size >= 4; size /= 2) {
        m += fill_rtcram(rest + m, MAX - m, size);
    }
    CHECK(n > 16 && n < MAX && m < MAX);
    for (size_t k = 0; k < n; k += 2) {
        heap_caps_free(p[k]);
        p[k] = NULL;
    }
    CHECK(ht_failures_clear() == HT_OK);
    CHECK(heap_caps_malloc(1024, MALLOC_CAP_RTCRAM) == NULL);
    ht_failure_t f = only_failure();
    regions_t now = regions();
    check_caller(&f, ht_current_task(), "mp_task", 1024, MALLOC_CAP_RTCRAM, "heap_caps_malloc");
    check_heaps_of(&f, &now);
    CHECK(f.heap_count == 1 && f.heaps[0].free >= 1024 && f.heaps[0].largest < 1024);
    for (size_t k = 0; k < n; ++k) {
        heap_caps_free(p[k]);
    }
    for (size_t k = 0; k < m; ++k) {
        heap_caps_free(rest[k]);
    }
}

// Internal RAM versus PSRAM (the PSRAM runs): each failure keeps the heaps of
// its own caps only.
static void test_failure_psram_or_internal(void) {
    CHECK(ht_failures_clear() == HT_OK);
    CHECK(heap_caps_malloc(PSRAM_SIZE, MALLOC_CAP_SPIRAM) == NULL);
    CHECK(heap_caps_malloc(PSRAM_SIZE, MALLOC_CAP_INTERNAL | MALLOC_CAP_8BIT) == NULL);
    failures_t fs = failures_now();
    regions_t now = regions();
    CHECK(fs.total == 2 && fs.count == 2);
    check_heaps_of(&fs.f[0], &now);
    CHECK(fs.f[0].heap_count == 1 && fs.f[0].heaps[0].total == PSRAM_SIZE
        && (fs.f[0].heaps[0].caps & MALLOC_CAP_SPIRAM) != 0);
    check_heaps_of(&fs.f[1], &now);
    CHECK(fs.f[1].heap_count >= 2);
    for (size_t i = 0; i < fs.f[1].heap_count && i < HT_FAILURE_HEAPS; ++i) {
        CHECK((fs.f[1].heaps[i].caps & (MALLOC_CAP_SPIRAM | MALLOC_CAP_INTERNAL)) == MALLOC_CAP_INTERNAL);
    }
}

// Another task's failure is its own; the ring keeps the newest HT_FAILURES and
// counts the rest.
static void test_failure_ring(void) {
    CHECK(ht_failures_clear() == HT_OK);
    worker_t w;
    ht_task_t handle = worker_start(&w, "asker");
    op_t op = { .kind = OP_HEAP_MALLOC, .size = 0x40000000u, .caps = MALLOC_CAP_DEFAULT };
    worker_run(&w, &op);
    CHECK(op.address == NULL);
    ht_failure_t f = only_failure();
    check_caller(&f, handle, "asker", 0x40000000u, MALLOC_CAP_DEFAULT, "heap_caps_malloc");
    worker_stop(&w);
    enum { MORE = HT_FAILURES + 3 };
    for (size_t i = 0; i < MORE; ++i) {
        CHECK(heap_caps_malloc(0x40000000u + i, MALLOC_CAP_DEFAULT) == NULL);
    }
    failures_t fs = failures_now();
    CHECK(fs.total == MORE + 1 && fs.count == HT_FAILURES && fs.lost == MORE + 1 - HT_FAILURES);
    for (size_t i = 0; i < fs.count; ++i) {   // oldest first, numbered
        CHECK(fs.f[i].number == fs.lost + 1 + i);
        CHECK(fs.f[i].size == 0x40000000u + (fs.f[i].number - 2));
    }
    // A soft reset keeps them, as it keeps the statistics.
    ht_vm_restart();
    failures_t again = failures_now();
    CHECK(again.total == fs.total && again.count == fs.count && again.f[0].number == fs.f[0].number);
    CHECK(ht_failures_clear() == HT_OK);
}

// What the GC probe says per heap: here a block standing in for a GC area.
static uintptr_t s_gc_area;
static size_t s_gc_area_size;

static size_t gc_probe(uintptr_t start, uintptr_t end) {
    return s_gc_area >= start && s_gc_area < end ? s_gc_area_size : 0;
}

static void test_failure_gc_figures(void) {
    s_gc_area_size = 4096;
    void *area = heap_caps_malloc(s_gc_area_size, MALLOC_CAP_DEFAULT);
    CHECK(area != NULL);
    s_gc_area = (uintptr_t)area;
    ht_failures_set_gc_probe(gc_probe);
    CHECK(ht_failures_clear() == HT_OK);
    CHECK(heap_caps_malloc(0x40000000u, MALLOC_CAP_DEFAULT) == NULL);
    ht_failures_set_gc_probe(NULL);
    ht_failure_t f = only_failure();
    CHECK(f.gc_total == s_gc_area_size);
    size_t holding = 0;
    for (size_t i = 0; i < f.heap_count && i < HT_FAILURE_HEAPS; ++i) {
        bool in = s_gc_area >= f.heaps[i].start && s_gc_area - f.heaps[i].start < f.heaps[i].total;
        CHECK(f.heaps[i].gc == (in ? s_gc_area_size : 0));
        holding += in;
    }
    CHECK(holding == 1);
    heap_caps_free(area);
    // A report tells of a failure once: what it has told is kept.
    CHECK(ht_failures_reported() == 0);
    ht_failures_set_reported(1);
    CHECK(ht_failures_reported() == 1);
    CHECK(ht_failures_clear() == HT_OK && ht_failures_reported() == 0);
}

/******************************************************************************/

typedef struct {
    const char *name;
    void (*fn)(void);
    // Known to fail, and why: reported as XFAIL; passing makes the run fail,
    // so that the entry goes once the cause is fixed.
    const char *xfail;
} test_t;

static const test_t g_tests[] = {
    { "err_text", test_err_text, NULL },
    { "current_task", test_current_task, NULL },
    { "malloc_free", test_malloc_free, NULL },
    { "no_heap_for_caps", test_no_heap_for_caps, NULL },
    { "full_heap", test_full_heap, NULL },
    { "bad_free", test_bad_free, NULL },
    { "free_all", test_free_all, NULL },
    { "failure_wrong_caps", test_failure_wrong_caps, NULL },
    { "failure_exhausted", test_failure_exhausted, NULL },
    { "failure_fragmented", test_failure_fragmented, NULL },
    { "failure_ring", test_failure_ring, NULL },
    { "failure_gc_figures", test_failure_gc_figures, NULL },
    #if !HT_TEST_HOOKS
    { "registry_full", test_registry_full, NULL },
    #endif
    { "region_info", test_region_info, NULL },
    { "threads_are_tasks", test_threads_are_tasks, NULL },
    #if HT_TEST_TRACKING
    { "stats_and_peaks", test_stats_and_peaks, NULL },
    { "heap_and_block_order", test_heap_and_block_order, NULL },
    { "task_order_and_names", test_task_order_and_names, NULL },
    { "free_by_other_task", test_free_by_other_task, NULL },
    { "deleted_tasks", test_deleted_tasks, NULL },
    { "handle_reuse", test_handle_reuse, NULL },
    { "single_task_snapshot", test_single_task_snapshot, NULL },
    { "snapshot_changes_nothing", test_snapshot_changes_nothing, NULL },
    { "snapshot_slots", test_snapshot_slots, NULL },
    { "vm_restart_reclaims", test_vm_restart_reclaims, NULL },
    { "snapshot_under_churn", test_snapshot_under_churn, NULL },
    { "totals_snapshot", test_totals_snapshot, NULL },
    { "block_owner", test_block_owner, NULL },
    { "records_counted", test_records_counted, NULL },
    { "reset_peak_and_clear", test_reset_peak_and_clear, NULL },
    #else
    { "tracking_off", NULL, NULL },   // filled in below
    #endif
    { "concurrency", test_concurrency, NULL },
    { "free_all_races_free", test_free_all_races_free, NULL },
    #if HT_TEST_TRACKING
    { "snapshot_no_memory", test_snapshot_no_memory, NULL },
    #if !HT_TEST_HOOKS
    // These two leave records whose figures do not add up: last.
    { "records_heap_full", test_records_heap_full, NULL },
    { "realloc_miscount", test_realloc_miscount, NULL },
    #endif
    #endif
};

static const test_t g_psram_tests[] = {
    { "psram", test_psram, NULL },
    #if HT_TEST_TRACKING
    { "report_bound", test_report_bound, NULL },
    #endif
    { "no_heap_for_caps", test_no_heap_for_caps, NULL },
    { "failure_psram_or_internal", test_failure_psram_or_internal, NULL },
    #if !defined(__SANITIZE_ADDRESS__)
    { "region_info", test_region_info, NULL },
    #else
    { "region_info", test_region_info,
      "ht_region_info() takes a region's name from the SoC memory layout; the sanitizer build maps the "
      "PSRAM added at start-up below ASan's shadow, off the layout's SPIRAM region, so it reads as "
      "\"unknown\" (ESP-IDF's own heap record calls it SPIRAM); the other builds name it" },
    #endif
    #if HT_TEST_TRACKING
    { "dma_pool_kept", test_dma_pool_kept, NULL },
    #endif
};

#if !HT_TEST_TRACKING
// The firmware without heap task tracking: heap calls work, statistics do not.
static void test_tracking_off(void) {
    CHECK(!ht_track_deleted());
    void *a = try_malloc(100, HT_CAP_DEFAULT);
    CHECK(a != NULL && block_size(a) >= 100 && block_size(a) < 104 + 4);
    ht_snapshot_t snap;
    CHECK(ht_snapshot_take(&snap, true, 0, true) == HT_ERR_UNSUPPORTED);
    CHECK(snap.storage == NULL && snap.tasks == NULL && snap.task_count == 0);
    CHECK(strstr(ht_err_text(HT_ERR_UNSUPPORTED), "without ESP-IDF heap task tracking") != NULL);
    CHECK(strstr(ht_err_text(HT_ERR_UNSUPPORTED), "CONFIG_HEAP_TASK_TRACKING=y") != NULL);
    CHECK(ht_snapshot_take(&snap, false, ht_current_task(), false) == HT_ERR_UNSUPPORTED);
    CHECK(ht_snapshot_take_totals(&snap, true, 0) == HT_ERR_UNSUPPORTED);
    ht_snapshot_release(&snap);
    CHECK(snap.storage == NULL);
    size_t dropped = 9;
    ht_task_t owner;
    size_t size;
    CHECK(ht_reset_peak() == HT_ERR_UNSUPPORTED && ht_clear(&dropped) == HT_ERR_UNSUPPORTED && dropped == 0);
    CHECK(ht_block_owner((uintptr_t)a, &owner, &size) == HT_ERR_UNSUPPORTED);
    CHECK(ht_free(a) == HT_OK);
    CHECK(ht_free(a) == HT_ERR_NO_BLOCK);
    size_t count = 99;
    CHECK(try_malloc(10, HT_CAP_DEFAULT) != NULL);
    CHECK(ht_free_all(&count) == HT_OK && count == 1);
}
#endif

// A known failure's check failures are expected: out of the log while it
// runs. (QEMU's semihosted stderr cannot be redirected; no test is a known
// failure there.)
static int stderr_quiet(void) {
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

static void stderr_restore(int saved) {
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

static int run(const test_t *tests, size_t count) {
    int failures = 0;
    for (size_t i = 0; i < count; ++i) {
        void (*fn)(void) = tests[i].fn;
        #if !HT_TEST_TRACKING
        if (fn == NULL) {
            fn = test_tracking_off;
        }
        #endif
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

#if HT_TEST_QEMU
// The board runs it as the task mp_task (boards/QEMU_RV32/chip.c).
int qemu_app_main(int argc, char **argv) {
    const char *program = HT_TEST_HOOKS ? "test_tracker_idf (QEMU board, hooks tracker)"
        : "test_tracker_idf (QEMU board, ESP-IDF's tracker)";
#else
int main(int argc, char **argv) {
    const char *program = argv[0];
#endif
    bool psram_run = HT_TEST_PSRAM_BUILD || (argc > 1 && strcmp(argv[1], "--psram") == 0);
    ht_vm_restart();   // as the module's first import does
    int failures;
    size_t count;
    if (!psram_run) {
        count = sizeof(g_tests) / sizeof(g_tests[0]);
        failures = run(g_tests, count);
    } else {
        count = sizeof(g_psram_tests) / sizeof(g_psram_tests[0]);
        failures = run(g_psram_tests, count);
    }
    CHECK(heap_caps_check_integrity_all(true));
    printf("%s: %zu tests, %d failed%s\n", program, count, failures, psram_run ? " (with PSRAM)" : "");
    fflush(stdout);
    if (failures != 0 || failed()) {
        return 1;
    }
    #if CHIP_HAS_PSRAM && !HT_TEST_PSRAM_BUILD
    if (!psram_run) {
        // Again with a PSRAM heap: the shim adds regions only at start-up.
        setenv("HEAPTRACK_IDF_REGIONS", PSRAM_REGIONS, 1);
        char *args[] = { argv[0], "--psram", NULL };
        execv("/proc/self/exe", args);
        perror("re-executing with HEAPTRACK_IDF_REGIONS");
        return 1;
    }
    #elif !CHIP_HAS_PSRAM
    printf("SKIP the PSRAM tests: ESP-IDF has no PSRAM support on the %s\n", CONFIG_IDF_TARGET);
    #endif
    return 0;
}
