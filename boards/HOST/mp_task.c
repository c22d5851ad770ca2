// MicroPython's task on the virtual board, started as the esp32 port starts
// it (ports/esp32/main.c) and holding MicroPython's heap as it does there:
//
//   - app_main, run by ESP-IDF's `main` task (boards/HOST/esp_idf/chip.c),
//     creates `mp_task` with xTaskCreatePinnedToCore. `main` allocates its
//     stack and TCB from ESP-IDF's heap, so ESP-IDF charges them to `main`,
//     which then returns from app_main and is deleted, holding them.
//   - mp_task takes MicroPython's GC heap, MICROPY_GC_INITIAL_HEAP_SIZE bytes,
//     from ESP-IDF's heap with the chip's malloc, once: it keeps it across
//     soft resets. As the GC heap fills, upstream's gc.c adds areas
//     (MICROPY_GC_SPLIT_HEAP_AUTO) with MP_PLAT_ALLOC_HEAP, the chip's malloc,
//     as large as gc_get_max_new_split() allows, and frees an area that a
//     collection empties; the soft reset's gc_sweep_all() empties all but the
//     first. All of it is charged to mp_task.
//
// The unix port's main() allocates a GC heap with the C library's malloc and
// passes it to gc_init(); the firmware links gc_init wrapped
// (boards/HOST/mpconfigvariant.mk), and the wrapper gives that block back and
// initialises the GC on mp_task's heap instead (so the unix port's
// -X heapsize has no effect: the heap's size is the port's).

#include <stdio.h>
#include <stdlib.h>

#include "py/gc.h"
#include "py/mpconfig.h"

#include "board.h"
#include "host_shim.h"

void __real_gc_init(void *start, void *end);
void __wrap_gc_init(void *start, void *end);

const bool host_starts_app = true;   // board_reset.c's __wrap_main does

static char *mp_task_heap;

void __wrap_gc_init(void *start, void *end) {
    (void)end;
    free(start);
    if (mp_task_heap == NULL) {
        mp_task_heap = MP_PLAT_ALLOC_HEAP(MICROPY_GC_INITIAL_HEAP_SIZE);
        if (mp_task_heap == NULL) {
            // The port prints this and restarts the chip; here that would loop.
            fprintf(stderr, "mp_task_heap allocation failed!\n");
            exit(2);
        }
    }
    __real_gc_init(mp_task_heap, mp_task_heap + MICROPY_GC_INITIAL_HEAP_SIZE);
}

// As ports/esp32/gccollect.c: a new area can be as large as the largest free
// block the chip's malloc could hand out.
size_t gc_get_max_new_split(void) {
    return host_chip_largest_free_block();
}

// The stack the esp32 port's mp_thread_create_ex gives a _thread thread (or
// heaptrack.start_task's task) asked for `requested` bytes (0: the default).
// FreeRTOS takes it from ESP-IDF's heap before the task's TCB, charged to the
// creating task, and frees it with the task: the host's thread runs on a stack
// of its own, so a block of this size stands for it in the statistics.
size_t host_thread_stack_size(size_t requested) {
    if (requested == 0) {
        return HOST_ESP32_THREAD_MIN_STACK_SIZE + HOST_ESP32_STACK_CHECK_MARGIN;
    }
    return requested < HOST_ESP32_THREAD_MIN_STACK_SIZE ? HOST_ESP32_THREAD_MIN_STACK_SIZE : requested;
}

static void mp_task(void *arg) {
    (void)arg;
    exit(board_main_loop());
}

void app_main(void) {
    // The stack depth in StackType_t, bytes on ESP-IDF.
    struct tskTaskControlBlock *handle;
    if (xTaskCreatePinnedToCore(mp_task, "mp_task", MICROPY_TASK_STACK_SIZE, NULL, MP_TASK_PRIORITY,
        &handle, MP_TASK_COREID) != 1) {
        fprintf(stderr, "cannot create mp_task\n");
        exit(2);
    }
}
