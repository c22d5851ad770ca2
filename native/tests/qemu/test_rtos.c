// What only a real RTOS on a real CPU can show, on the QEMU board
// (boards/QEMU_RV32: upstream FreeRTOS-Kernel with preemption and its tick
// interrupt, ESP-IDF's heap and task tracking as the ESP32-C3 has them):
//
//   interrupt  heaptrack's API called from real interrupt handlers (the CLINT's
//              software interrupt and FreeRTOS's tick interrupt) refuses with
//              HT_ERR_CONTEXT and changes nothing; so does it in a task's
//              critical section (interrupts masked);
//   deletion   tasks inside ESP-IDF's malloc and free, preempted by the tick
//              at random points and deleted there by another task, many times;
//              the heap must keep working (a watchdog task catches a hang);
//   idle       tasks that delete themselves, whose stacks and TCBs the idle
//              task frees (taking ESP-IDF's tracking mutex) while other tasks
//              allocate: no hang, every task ends DELETED, and the statistics
//              of the workload are printed for comparison with the host's
//              (workload_idle.c, make test compares them).
//
// Built twice (native/tests/qemu/Makefile): with heaptrack's safe teardown
// (idf_teardown.c in front of vTaskDelete), where every test must pass, and
// without it (HT_TEST_UNSAFE_TEARDOWN), where the deletion test must fail: that
// run shows what the test catches on FreeRTOS's plain vTaskDelete.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "esp_heap_caps.h"

#include "qemu_board.h"
#include "tracker.h"
#include "workload_idle.h"

#ifndef HT_TEST_UNSAFE_TEARDOWN
#define HT_TEST_UNSAFE_TEARDOWN 0
#endif

static int s_failures;

#define CHECK(cond) do { \
        if (!(cond)) { \
            printf("%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            ++s_failures; \
        } \
} while (0)

static unsigned s_seed = 0x2545F491u;

static unsigned rnd(void) {
    s_seed = s_seed * 1103515245u + 12345u;
    return s_seed >> 8;
}

// Waits (ticks) until *flag is set, up to deadline_ms; true if it was.
static bool wait_for(volatile int *flag, unsigned deadline_ms) {
    TickType_t start = xTaskGetTickCount();
    while (!*flag) {
        if (xTaskGetTickCount() - start > pdMS_TO_TICKS(deadline_ms)) {
            return false;
        }
        vTaskDelay(1);
    }
    return true;
}

/******************************************************************************/
// interrupt: heaptrack's API from interrupt handlers.

typedef struct {
    int in_isr;            // xPortInIsrContext() there
    int context;           // ht_context_check()
    int malloc_refused;    // ht_malloc returned HT_ERR_CONTEXT and no block
    int free;              // ht_free of a live block
    int free_all;
    int snapshot;
    int regions;
} isr_result_t;

static void *s_isr_live_block;

static void isr_calls(isr_result_t *r) {
    r->in_isr = xPortInIsrContext();
    r->context = ht_context_check();
    void *p = &r;
    r->malloc_refused = ht_malloc(16, HT_CAP_DEFAULT, &p) == HT_ERR_CONTEXT && p == NULL;
    r->free = ht_free(s_isr_live_block);
    r->free_all = ht_free_all(NULL);
    ht_snapshot_t snap;
    r->snapshot = ht_snapshot_take(&snap, true, 0, true);
    ht_snapshot_release(&snap);
    ht_region_info_t regions[8];
    size_t count;
    r->regions = ht_region_info(regions, 8, &count);
}

static volatile int s_software_done;
static isr_result_t s_software_result;

static void software_interrupt(void) {
    isr_calls(&s_software_result);
    s_software_done = 1;
}

static volatile int s_tick_done;
static isr_result_t s_tick_result;

static void tick_interrupt(void) {
    if (!s_tick_done) {
        isr_calls(&s_tick_result);
        s_tick_done = 1;
    }
}

static bool refused(const isr_result_t *r) {
    return r->in_isr && r->context == HT_ERR_CONTEXT && r->malloc_refused && r->free == HT_ERR_CONTEXT
        && r->free_all == HT_ERR_CONTEXT && r->snapshot == HT_ERR_CONTEXT && r->regions == HT_ERR_CONTEXT;
}

typedef struct {
    ht_region_info_t regions[8];
    size_t region_count;
    ht_snapshot_t snap;
} state_t;

// The snapshot's arrays come from the heap: the state before is the snapshot
// then the heaps, the state after the heaps then the snapshot, so that both
// see the heaps with one snapshot held.
static void state_before(state_t *st) {
    CHECK(ht_snapshot_take(&st->snap, true, 0, true) == HT_OK);
    CHECK(ht_region_info(st->regions, 8, &st->region_count) == HT_OK);
}

static void state_after(state_t *st) {
    CHECK(ht_region_info(st->regions, 8, &st->region_count) == HT_OK);
    CHECK(ht_snapshot_take(&st->snap, true, 0, true) == HT_OK);
}

static bool same_state(const state_t *a, const state_t *b) {
    if (a->region_count != b->region_count || a->snap.task_count != b->snap.task_count) {
        return false;
    }
    for (size_t i = 0; i < a->region_count; ++i) {
        if (a->regions[i].free_size != b->regions[i].free_size
            || a->regions[i].largest_free_block != b->regions[i].largest_free_block) {
            return false;
        }
    }
    for (size_t t = 0; t < a->snap.task_count; ++t) {
        const ht_task_stat_t *x = &a->snap.tasks[t], *y = &b->snap.tasks[t];
        if (x->handle != y->handle || x->is_alive != y->is_alive || x->overall_current_usage != y->overall_current_usage
            || x->overall_peak_usage != y->overall_peak_usage || x->heap_count != y->heap_count) {
            return false;
        }
    }
    return true;
}

#define ISR_ROUNDS 50

static void test_interrupt(void) {
    vTaskDelay(2);   // the idle task frees `main`, which deleted itself: the heaps settle
    CHECK(ht_malloc(64, HT_CAP_DEFAULT, &s_isr_live_block) == HT_OK && s_isr_live_block != NULL);
    CHECK(!xPortInIsrContext() && ht_context_check() == HT_OK);
    state_t before, after;
    state_before(&before);
    qemu_board_set_software_interrupt(software_interrupt);
    unsigned software_ok = 0, tick_ok = 0;
    for (int k = 0; k < ISR_ROUNDS; ++k) {
        s_software_done = 0;
        memset(&s_software_result, 0, sizeof(s_software_result));
        qemu_board_raise_software_interrupt();
        CHECK(wait_for(&s_software_done, 1000));
        software_ok += refused(&s_software_result);
        s_tick_done = 0;
        memset(&s_tick_result, 0, sizeof(s_tick_result));
        qemu_board_set_tick_hook(tick_interrupt);
        CHECK(wait_for(&s_tick_done, 1000));
        qemu_board_set_tick_hook(NULL);
        tick_ok += refused(&s_tick_result);
    }
    state_after(&after);
    CHECK(software_ok == ISR_ROUNDS && tick_ok == ISR_ROUNDS);
    CHECK(same_state(&before, &after));
    ht_snapshot_release(&before.snap);
    ht_snapshot_release(&after.snap);
    // A task with interrupts masked (machine.disable_irq()): refused too.
    static portMUX_TYPE mux = portMUX_INITIALIZER_UNLOCKED;
    portENTER_CRITICAL(&mux);
    ht_err_t in_critical = ht_context_check();
    void *p = &mux;
    ht_err_t malloc_in_critical = ht_malloc(16, HT_CAP_DEFAULT, &p);
    portEXIT_CRITICAL(&mux);
    CHECK(in_critical == HT_ERR_CONTEXT && malloc_in_critical == HT_ERR_CONTEXT && p == NULL);
    CHECK(ht_free(s_isr_live_block) == HT_OK);
    printf("interrupt: %u software interrupts and %u tick interrupts called heaptrack's API: all refused "
        "(HT_ERR_CONTEXT), nothing changed; refused in a critical section too\n", software_ok, tick_ok);
}

/******************************************************************************/
// deletion: tasks deleted inside ESP-IDF's malloc and free.

#define VICTIMS 2
#define VICTIM_BLOCKS 8
#define DELETION_ROUNDS 200
#define HANG_MS 3000

typedef struct {
    TaskHandle_t handle;
    void *volatile blocks[VICTIM_BLOCKS];
    volatile int in_heap;       // inside heap_caps_malloc/free (the test's own marker)
    unsigned seed;
} victim_t;

static victim_t s_victims[VICTIMS];
static volatile unsigned s_progress;      // rounds done; the watchdog looks at it
static volatile unsigned s_round;

// C code of a MicroPython thread with the GIL released: ESP-IDF heap calls,
// through its tracking, and through heaptrack's.
static void victim_main(void *arg) {
    victim_t *v = arg;
    for (;;) {
        v->seed = v->seed * 1103515245u + 12345u;
        unsigned slot = (v->seed >> 8) % VICTIM_BLOCKS;
        void *p = v->blocks[slot];
        if (p != NULL) {
            v->blocks[slot] = NULL;
            v->in_heap = 1;
            heap_caps_free(p);
            v->in_heap = 0;
        } else {
            size_t size = 8 + (v->seed >> 16) % 300;
            v->in_heap = 1;
            p = heap_caps_malloc(size, MALLOC_CAP_DEFAULT);
            v->in_heap = 0;
            v->blocks[slot] = p;
        }
    }
}

// The watchdog: the highest priority, no heap call. No round done for
// HANG_MS means the heap hangs (a task deleted holding ESP-IDF's mutex):
// the run stops, saying so.
static void watchdog_main(void *arg) {
    (void)arg;
    unsigned last = s_progress;
    TickType_t since = xTaskGetTickCount();
    for (;;) {
        vTaskDelay(pdMS_TO_TICKS(100));
        if (s_progress != last) {
            last = s_progress;
            since = xTaskGetTickCount();
        } else if (xTaskGetTickCount() - since > pdMS_TO_TICKS(HANG_MS)) {
            char what[128];
            snprintf(what, sizeof(what), "deletion: HANG in round %u: no allocation finished for %u ms "
                "(a task was deleted holding ESP-IDF's task tracking mutex)", s_round, (unsigned)HANG_MS);
            qemu_board_fail(what);
        }
    }
}

static void victim_start(victim_t *v, unsigned id) {
    memset((void *)v->blocks, 0, sizeof(v->blocks));
    v->in_heap = 0;
    v->seed = rnd() ^ id;
    char name[16];
    snprintf(name, sizeof(name), "victim%u", id);
    // As ports/esp32 starts a _thread thread: 5 KiB stack, priority below the deleter.
    if (xTaskCreate(victim_main, name, 5 * 1024, v, 2, &v->handle) != pdPASS) {
        qemu_board_fail("deletion: cannot create a victim task");
    }
}

// What MicroPython's soft reset does to the victim (mp_thread_deinit:
// vTaskDelete wherever it is), then what the GC does with its blocks.
static bool victim_delete(victim_t *v) {
    bool inside = v->in_heap;   // the victim is not running: the deleter has the higher priority
    vTaskDelete(v->handle);
    for (int k = 0; k < VICTIM_BLOCKS; ++k) {
        if (v->blocks[k] != NULL) {
            heap_caps_free(v->blocks[k]);
        }
    }
    return inside;
}

static void test_deletion(void) {
    TaskHandle_t watchdog;
    CHECK(xTaskCreate(watchdog_main, "watchdog", 2048, NULL, configMAX_PRIORITIES - 1, &watchdog) == pdPASS);
    vTaskPrioritySet(NULL, 3);
    unsigned inside = 0, deleted = 0;
    for (unsigned k = 0; k < VICTIMS; ++k) {
        victim_start(&s_victims[k], k);
    }
    for (unsigned round = 0; round < DELETION_ROUNDS; ++round) {
        s_round = round;
        // Wake at the tick after next: the victims are preempted wherever the tick finds them.
        vTaskDelay(1 + rnd() % 2);
        victim_t *v = &s_victims[rnd() % VICTIMS];
        inside += victim_delete(v);
        deleted += 1;
        victim_start(v, round % 100);
        s_progress = round + 1;
    }
    for (unsigned k = 0; k < VICTIMS; ++k) {
        victim_delete(&s_victims[k]);
    }
    vTaskDelete(watchdog);
    vTaskPrioritySet(NULL, 1);
    vTaskDelay(2);   // the idle task frees what it has to
    CHECK(heap_caps_check_integrity_all(true));
    ht_snapshot_t snap;
    CHECK(ht_snapshot_take(&snap, true, 0, false) == HT_OK);
    for (size_t t = 0; t < snap.task_count; ++t) {
        if (strncmp(snap.tasks[t].name, "victim", 6) == 0) {
            CHECK(!snap.tasks[t].is_alive || snap.tasks[t].handle == (ht_task_t)s_victims[0].handle
                || snap.tasks[t].handle == (ht_task_t)s_victims[1].handle);
        }
    }
    ht_snapshot_release(&snap);
    CHECK(inside > DELETION_ROUNDS / 10);
    printf("deletion: %u tasks deleted by another task at random points, %u of them inside ESP-IDF's "
        "malloc/free; the heap kept working, integrity checked\n", deleted, inside);
}

/******************************************************************************/
// idle: self-deleting tasks whose TCBs the idle task frees.

static volatile int s_background_stop;
static volatile unsigned s_background_calls;

// Another task allocating all along, while the idle task frees TCBs.
static void background_main(void *arg) {
    (void)arg;
    void *held[4] = { NULL };
    unsigned k = 0;
    while (!s_background_stop) {
        unsigned slot = k++ % 4;
        heap_caps_free(held[slot]);
        held[slot] = heap_caps_malloc(16 + (k * 37) % 200, MALLOC_CAP_DEFAULT);
        s_background_calls++;
        if (k % 256 == 0) {
            vTaskDelay(1);   // as any task does now and then: the idle task runs
        } else if (k % 16 == 0) {
            taskYIELD();     // and mp_task, of its priority
        }
    }
    for (int i = 0; i < 4; ++i) {
        heap_caps_free(held[i]);
    }
    s_background_stop = 2;
    vTaskDelete(NULL);
}

static void test_idle(void) {
    TaskHandle_t background;
    CHECK(xTaskCreate(background_main, "background", 3 * 1024, NULL, 1, &background) == pdPASS);
    workload_idle_result_t result;
    bool ok = workload_idle_run(&result, 3000);
    s_background_stop = 1;
    CHECK(wait_for((volatile int *)&s_background_stop, 2000));
    CHECK(ok);
    CHECK(s_background_calls > 100);
    CHECK(heap_caps_check_integrity_all(true));
    printf("idle: %u self-deleting tasks, each freed by the idle task (ESP-IDF marked all %u DELETED) "
        "while another task made %u heap calls\n", result.tasks, result.deleted, s_background_calls);
    workload_idle_print(&result);
}

/******************************************************************************/

int qemu_app_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    ht_vm_restart();
    printf("QEMU board: FreeRTOS-Kernel %s with preemption, tick %u Hz; ESP-IDF's heap (ESP32-C3 layout), tracker %s%s\n",
        tskKERNEL_VERSION_NUMBER, (unsigned)configTICK_RATE_HZ, ht_tracker_name(),
        HT_TEST_UNSAFE_TEARDOWN ? ", FreeRTOS's plain vTaskDelete (no safe teardown)" : ", heaptrack's safe teardown");
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        { "interrupt", test_interrupt },
        { "deletion", test_deletion },
        { "idle", test_idle },
    };
    int failed = 0;
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); ++i) {
        int before = s_failures;
        printf("== %s\n", tests[i].name);
        fflush(stdout);
        TickType_t start = xTaskGetTickCount();
        tests[i].fn();
        bool ok = s_failures == before;
        printf("%s %s (%u ms)\n", ok ? "ok  " : "FAIL", tests[i].name,
            (unsigned)((xTaskGetTickCount() - start) * portTICK_PERIOD_MS));
        failed += !ok;
    }
    size_t n = sizeof(tests) / sizeof(tests[0]);
    printf("%zu passed, %d failed\n", n - (size_t)failed, failed);
    return failed != 0;
}
