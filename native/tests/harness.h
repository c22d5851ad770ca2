// The harness of heaptrack's C tests of the trackers, on ESP-IDF's heap built
// for the host (or on the QEMU board): what every test program shares, so
// that a check, a worker or a snapshot means the same in each. Each topic
// file (test_api.c, test_stats.c, test_concurrency.c, test_psram.c,
// test_failures.c) holds tests of tracker.h; test_tracker_idf.c lists them
// and runs them; test_tracker_hooks.c and test_tracker_diff.c use the same
// harness for what only the hooks tracker does and for the differential test.
// Capacities come from the tracker (ht_capacity), never from copies of its
// build-time knobs.
#ifndef HEAPTRACK_TESTS_HARNESS_H
#define HEAPTRACK_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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
#include "tracker_private.h"
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

// Both chips' layouts have four heaps (harness.c).
#define CHIP_HEAPS ((size_t)4)
extern const chip_heap_t s_chip_heaps[CHIP_HEAPS];

#if CONFIG_IDF_TARGET_ESP32C3
// ESP-IDF's esp32c3 layout: RTC fast memory, the two Retention RAM blocks
// (the upper one the ROM's start-up stack until the scheduler runs), RAM.
// Memory protection off (MicroPython's), so RAM and RTC RAM are executable.
// The RAM heap has MALLOC_CAP_DEFAULT at its first priority, Retention RAM not.
#define CHIP_DEFAULT_HEAP (&s_chip_heaps[3])
// ESP-IDF has no PSRAM support for the ESP32-C3.
#define CHIP_HAS_PSRAM 0
#else
// heaptrack's ESP32_S3 firmware: MicroPython turns memory protection off, so
// RAM and RTC RAM are executable too (MALLOC_CAP_EXEC, bit 0).
// Both RAM heaps have MALLOC_CAP_DEFAULT at their first priority: the
// start-up stack's, listed first, takes a small block first.
#define CHIP_DEFAULT_HEAP (&s_chip_heaps[1])
#define CHIP_HAS_PSRAM 1
#endif
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
// Checks. A failed check is reported and the test goes on; the runner says
// which tests failed. check_context (the differential test's seed and step)
// is printed before each report; check_limit > 0 ends the program after that
// many failed checks.

extern int g_test_failed;
extern int g_checks_failed;
extern const char *(*check_context)(void);
extern int check_limit;

#define CHECK(cond) do { \
        if (!(cond)) { \
            check_failed(__FILE__, __LINE__, #cond); \
        } \
} while (0)

void check_failed(const char *file, int line, const char *what);
bool failed(void);
void *try_malloc(size_t size, uint32_t caps);
size_t block_size(void *p);

/******************************************************************************/
// Workers: FreeRTOS tasks that run one step at a time for the calling task, so
// a test can interleave several tasks deterministically. A worker waits for
// its next step in ulTaskNotifyTake(); vTaskDelete() from the test ends it
// there, and its TCB goes back to the heap, as on the chip.

// OP_HEAP_*: ESP-IDF's heap directly, as other firmware code calls it;
// OP_CALL: op->call(op), what a test program adds.
typedef enum {
    OP_MALLOC, OP_FREE, OP_CURRENT, OP_SNAPSHOT, OP_HEAP_MALLOC, OP_HEAP_CALLOC, OP_HEAP_ALIGNED,
    OP_HEAP_REALLOC, OP_HEAP_FREE, OP_CALL,
} op_kind_t;

typedef struct op {
    op_kind_t kind;
    size_t size;
    uint32_t caps;
    void *address;
    ht_err_t err;
    ht_task_t handle;
    void (*call)(struct op *op);
} op_t;

typedef struct {
    TaskHandle_t handle;
    TaskHandle_t caller;
    op_t *op;
} worker_t;


void run_op(op_t *op);
void worker_main(void *arg);
ht_task_t worker_start(worker_t *w, const char *name);
void worker_run(worker_t *w, op_t *op);
void *worker_malloc(worker_t *w, size_t size, uint32_t caps);
ht_err_t worker_free(worker_t *w, void *address);
void *worker_heap_op(worker_t *w, op_kind_t kind, void *address, size_t size);
ht_task_t worker_current(worker_t *w);
void worker_stop(worker_t *w);

/******************************************************************************/
// Snapshot helpers

#if HT_TEST_TRACKING
ht_snapshot_t take(bool with_blocks);
const ht_task_stat_t *find_task(const ht_snapshot_t *snap, ht_task_t handle);
const ht_task_stat_t *find_named(const ht_snapshot_t *snap, ht_task_t handle, const char *name);
size_t count_records(const ht_snapshot_t *snap, ht_task_t handle);
const ht_heap_stat_t *heap_of(const ht_task_stat_t *task, const void *address);
size_t block_listed(const ht_snapshot_t *snap, const void *address);
size_t task_blocks(const ht_task_stat_t *task);
void check_snapshot(const ht_snapshot_t *snap, bool with_blocks);
bool same_task(const ht_task_stat_t *x, const ht_task_stat_t *y);
bool same_snapshot(const ht_snapshot_t *a, const ht_snapshot_t *b);
#endif

/******************************************************************************/
// Regions, and "bad input changes nothing"

#define MAX_REGIONS 8

typedef struct {
    ht_region_info_t r[MAX_REGIONS];
    size_t count;
} regions_t;

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

regions_t regions(void);
const ht_region_info_t *region_of(const regions_t *rs, const void *p);
bool same_regions(const regions_t *a, const regions_t *b);
state_t state_now(bool all_tasks);
void check_unchanged(state_t *before);

/******************************************************************************/
// The runner

typedef struct {
    const char *name;
    void (*fn)(void);
    // Known to fail, and why: reported as XFAIL; passing makes the run fail,
    // so that the entry goes once the cause is fixed.
    const char *xfail;
} test_t;

// stderr away while a known failure runs, and back.
int stderr_quiet(void);
void stderr_restore(int saved);
// Runs the tests in order, each followed by a check that it left no
// heaptrack block behind; prints ok/FAIL/XFAIL per test; returns how many failed.
int run(const test_t *tests, size_t count);

#endif // HEAPTRACK_TESTS_HARNESS_H
