// Safe task deletion: no task is deleted by another while it is inside
// ESP-IDF's heap.
//
// Why: with heap task tracking, every ESP-IDF malloc, free and statistics
// call takes a FreeRTOS mutex (heap_task_info.c). MicroPython's soft reset
// deletes every thread wherever it is (ports/esp32/mpthreadport.c,
// mp_thread_deinit: vTaskDelete); a thread deleted while it holds that mutex,
// e.g. in C code that allocates with the GIL released, never gives it back,
// and every later allocation of the chip waits for ever (or, through priority
// inheritance, writes to the freed TCB). The QEMU board's deletion test
// (native/tests/qemu/test_rtos.c) shows it within a few dozen deletions.
//
// How: linked with --wrap for vTaskDelete and for ESP-IDF's heap entry points
// (HT_TEARDOWN_WRAPS in boards/QEMU_RV32/board.mk lists them). Each heap call
// counts, in a FreeRTOS thread-local storage slot of the calling task, how
// deep it is inside ESP-IDF's heap. vTaskDelete of another task suspends it
// first; if it is outside the heap (count 0) it is deleted there, as
// FreeRTOS would have; otherwise it is marked, resumed, and suspends itself
// as it leaves the heap (a heap call takes microseconds; one blocked on the
// tracking mutex gets it once its holder gives it back), where it is deleted.
// A task deleting itself, and deletion from an interrupt handler, go to
// FreeRTOS unchanged.
//
// What it does not cover, and stays ESP-IDF's and MicroPython's: calls into
// the heap that do not cross into it through these entry points (from inside
// ESP-IDF's heap component itself, from ROM, heap_caps_*_prefer, which are
// variadic); a task suspended inside the heap by someone else, which this
// resumes to let it out; on two cores, the window between vTaskSuspend of a
// task running on the other core and its switching out (ESP-IDF's SMP kernel
// yields that core; not verified here, the QEMU board has one).

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "esp_heap_caps.h"
#include "esp_heap_task_info.h"

// The task's count lives in a FreeRTOS thread-local storage slot: slot 0 is
// ESP-IDF's pthread layer's (PTHREAD_TLS_INDEX), slot 1 the esp32 port's
// MicroPython thread state (mpthreadport.c), so heaptrack takes slot 2. It
// holds how deep the task is in the heap, and DELETE_PENDING once another
// task wants it gone. ESP-IDF's FreeRTOS, with TLSP deletion callbacks (its
// default), doubles configNUM_THREAD_LOCAL_STORAGE_POINTERS and keeps a
// callback per slot in the upper half, which it calls when the task is
// deleted: the count must stay in the lower half, the
// CONFIG_FREERTOS_THREAD_LOCAL_STORAGE_POINTERS slots.
#define HEAP_DEPTH_SLOT 2
#if defined(configTHREAD_LOCAL_STORAGE_DELETE_CALLBACKS) && configTHREAD_LOCAL_STORAGE_DELETE_CALLBACKS
#define TLS_SLOTS (configNUM_THREAD_LOCAL_STORAGE_POINTERS / 2)
#else
#define TLS_SLOTS configNUM_THREAD_LOCAL_STORAGE_POINTERS
#endif
#if TLS_SLOTS <= HEAP_DEPTH_SLOT
#error "heaptrack's safe teardown keeps a count in FreeRTOS thread-local storage slot 2 (0 is ESP-IDF's pthread layer's, 1 MicroPython's): it needs CONFIG_FREERTOS_THREAD_LOCAL_STORAGE_POINTERS=3"
#endif
#define DELETE_PENDING ((uintptr_t)1 << 31)

static uintptr_t slot_get(TaskHandle_t task) {
    return (uintptr_t)pvTaskGetThreadLocalStoragePointer(task, HEAP_DEPTH_SLOT);
}

static void slot_set(TaskHandle_t task, uintptr_t value) {
    vTaskSetThreadLocalStoragePointer(task, HEAP_DEPTH_SLOT, (void *)value);
}

// Only a task's own calls change its count; interrupt handlers, and start-up
// before any task runs, have none.
static bool counted(void) {
    return xTaskGetSchedulerState() != taskSCHEDULER_NOT_STARTED && !xPortInIsrContext();
}

// The deleter changes a task's slot too (DELETE_PENDING), while the task is
// suspended, which may be in the middle of its own update: updates are
// critical sections.
static portMUX_TYPE s_slot_lock = portMUX_INITIALIZER_UNLOCKED;

// A task's slot plus add, with the bits of set; returns the new value.
static uintptr_t slot_update(TaskHandle_t task, uintptr_t add, uintptr_t set) {
    portENTER_CRITICAL(&s_slot_lock);
    uintptr_t value = (slot_get(task) + add) | set;
    slot_set(task, value);
    portEXIT_CRITICAL(&s_slot_lock);
    return value;
}

static void heap_enter(void) {
    if (counted()) {
        slot_update(NULL, 1, 0);
    }
}

// Out of the heap with a deletion pending: stop here, where the deleter
// (waiting for this) deletes the task.
static void heap_leave(void) {
    if (counted() && slot_update(NULL, (uintptr_t)-1, 0) == DELETE_PENDING) {
        vTaskSuspend(NULL);
    }
}

void __real_vTaskDelete(TaskHandle_t task);

void __wrap_vTaskDelete(TaskHandle_t task) {
    if (task == NULL || task == xTaskGetCurrentTaskHandle() || !counted()) {
        __real_vTaskDelete(task);
        return;
    }
    vTaskSuspend(task);
    if ((slot_update(task, 0, DELETE_PENDING) & ~DELETE_PENDING) != 0) {
        vTaskResume(task);
        // Until it has suspended itself out of the heap (a tick each look:
        // it may have a lower priority than this task).
        while (eTaskGetState(task) != eSuspended || slot_get(task) != DELETE_PENDING) {
            vTaskDelay(1);
        }
    }
    __real_vTaskDelete(task);
}

// One wrapper per entry point: the count around ESP-IDF's own function.
#define HT_WRAP(ret, name, params, args) \
    ret __real_##name params; \
    ret __wrap_##name params; \
    ret __wrap_##name params { \
        heap_enter(); \
        ret result = __real_##name args; \
        heap_leave(); \
        return result; \
    }
#define HT_WRAP_VOID(name, params, args) \
    void __real_##name params; \
    void __wrap_##name params; \
    void __wrap_##name params { \
        heap_enter(); \
        __real_##name args; \
        heap_leave(); \
    }

HT_WRAP(void *, heap_caps_malloc, (size_t size, uint32_t caps), (size, caps))
HT_WRAP(void *, heap_caps_calloc, (size_t n, size_t size, uint32_t caps), (n, size, caps))
HT_WRAP(void *, heap_caps_realloc, (void *ptr, size_t size, uint32_t caps), (ptr, size, caps))
HT_WRAP_VOID(heap_caps_free, (void *ptr), (ptr))
HT_WRAP(void *, heap_caps_aligned_alloc, (size_t alignment, size_t size, uint32_t caps), (alignment, size, caps))
HT_WRAP(void *, heap_caps_aligned_calloc, (size_t alignment, size_t n, size_t size, uint32_t caps),
    (alignment, n, size, caps))
HT_WRAP_VOID(heap_caps_aligned_free, (void *ptr), (ptr))
// The C library's malloc, realloc and memalign (ESP-IDF's newlib glue calls
// these; heap_private.h declares them).
HT_WRAP(void *, heap_caps_malloc_default, (size_t size), (size))
HT_WRAP(void *, heap_caps_realloc_default, (void *ptr, size_t size), (ptr, size))
HT_WRAP(void *, heap_caps_aligned_alloc_default, (size_t alignment, size_t size), (alignment, size))
#if CONFIG_HEAP_TASK_TRACKING
// Task tracking's statistics, which take the same mutex.
HT_WRAP(esp_err_t, heap_caps_get_all_task_stat, (heap_all_tasks_stat_t *stat), (stat))
HT_WRAP(esp_err_t, heap_caps_get_single_task_stat, (heap_single_task_stat_t *stat, TaskHandle_t task), (stat, task))
HT_WRAP(esp_err_t, heap_caps_alloc_all_task_stat_arrays, (heap_all_tasks_stat_t *stat), (stat))
HT_WRAP_VOID(heap_caps_free_all_task_stat_arrays, (heap_all_tasks_stat_t *stat), (stat))
HT_WRAP(esp_err_t, heap_caps_alloc_single_task_stat_arrays, (heap_single_task_stat_t *stat, TaskHandle_t task),
    (stat, task))
HT_WRAP_VOID(heap_caps_free_single_task_stat_arrays, (heap_single_task_stat_t *stat), (stat))
HT_WRAP_VOID(heap_caps_print_all_task_stat, (FILE *stream), (stream))
HT_WRAP_VOID(heap_caps_print_all_task_stat_overview, (FILE *stream), (stream))
HT_WRAP_VOID(heap_caps_print_single_task_stat, (FILE *stream, TaskHandle_t task), (stream, task))
HT_WRAP_VOID(heap_caps_print_single_task_stat_overview, (FILE *stream, TaskHandle_t task), (stream, task))
#endif
