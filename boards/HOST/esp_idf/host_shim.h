// What the host shim offers beyond the ESP-IDF and FreeRTOS API it stands in
// for: the few hooks a chip or FreeRTOS has no public call for.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// The name of the next task a pthread_create of this thread starts (the esp32
// port passes it to xTaskCreate). Used once; without it a thread is
// `mp_thread`, as the port names _thread threads.
void host_task_set_next_name(const char *name);

// The stack, in bytes, of the next task a pthread_create of this thread starts:
// a block of ESP-IDF's heap charged to the creating task, freed with the task
// (FreeRTOS's xTaskCreate allocates it before the TCB). Used once; without it
// the task has a TCB only.
void host_task_set_next_stack(size_t bytes);

// The handle of the task the last pthread_create of this thread started.
struct tskTaskControlBlock *host_task_last_created(void);

// Enter and leave MicroPython's atomic section as the esp32 port does
// (portENTER_CRITICAL on one spinlock): machine.disable_irq()/enable_irq().
void host_atomic_section_enter(void);
void host_atomic_section_exit(void);

// The scheduler has started: the calling (start-up) thread never runs again.
__attribute__((noreturn)) void host_scheduler_run(void);

// The chip's start-up after ESP-IDF's heap exists (esp_startup_start_app):
// creates the task `main`, charged to Pre-scheduler, which enables the
// start-up stacks' heap and calls app_main(), then deletes itself; the
// calling thread becomes the scheduler's (never returns).
__attribute__((noreturn)) void host_start_app(void);

// The application's entry, as on ESP-IDF: the firmware defines it.
void app_main(void);

// Defined by a program whose main() calls host_start_app() (the firmware).
// Without it (the C tests), start-up makes the program's first thread the task
// mp_task, before the scheduler (so its TCB is Pre-scheduler's), and enables
// the start-up stacks' heap: the program's main() runs as that task.
extern const bool host_starts_app __attribute__((weak));
void host_tasks_start(void);

// ESP-IDF's API that the firmware's own files call. Their headers need
// ESP-IDF's include paths, which the firmware is not compiled with: the same
// signatures as freertos/task.h and esp_heap_caps.h give them.
struct tskTaskControlBlock;
int xTaskCreatePinnedToCore(void (*code)(void *), const char *name, uint32_t stack_depth,
    void *parameters, unsigned int priority, struct tskTaskControlBlock **created, int core_id);
void heap_caps_free(void *ptr);

// The chip's C library malloc and calloc (ESP-IDF's newlib glue:
// heap_caps_malloc_default, which ESP-IDF keeps private), and the largest block
// malloc could hand out now (heap_caps_get_largest_free_block(MALLOC_CAP_DEFAULT)):
// what the esp32 port's MicroPython heap is allocated and grown with, and what
// mbedTLS allocates with where the firmware's sdkconfig says so.
void *host_chip_malloc(size_t size);
void *host_chip_calloc(size_t count, size_t size);
size_t host_chip_largest_free_block(void);

// A task as FreeRTOS's uxTaskGetSystemState reports it, for esp32.idf_task_info().
typedef struct {
    uintptr_t handle;
    char name[16];
    int state;            // eTaskState
    unsigned priority;
} host_task_info_t;

// Copies up to max live tasks into tasks, oldest first; returns how many
// there are (which may exceed max).
size_t host_task_info(host_task_info_t *tasks, size_t max);

// A task's stack as the host runs it: the host thread's stack, where the task's
// C frames (and so its references to MicroPython objects) are, as on the chip
// they are in the stack block FreeRTOS gave it.
typedef struct {
    uintptr_t handle;
    char name[16];
    uintptr_t lo, hi;
} host_task_stack_t;

// Every live task but the calling one whose thread runs: up to max into
// stacks, newest first; returns how many there are (which may exceed max).
size_t host_task_stacks(host_task_stack_t *stacks, size_t max);

// The calling task's handle (0 for none), its name into name (16 bytes).
uintptr_t host_task_self(char *name);

// One ESP-IDF heap, as the esp32 port's esp32.idf_heap_info() reports it:
// its bounds and multi_heap_get_info()'s figures.
typedef struct {
    uintptr_t start;
    size_t total;
    size_t free;
    size_t largest_free;
    size_t minimum_free;
} host_heap_t;

// The heaps ESP-IDF matches with every bit of caps (heap_caps_match), in
// ESP-IDF's order: up to max into heaps; returns how many there are.
size_t host_heaps_with_caps(uint32_t caps, host_heap_t *heaps, size_t max);

// The differential firmware only (oracle.c, with heap task tracking): what
// ESP-IDF's own printers write, or its statistics one line per record, as text
// from the C library's heap (the caller frees it), NULL if that fails. task is
// for the single-task printers (NULL: the calling task, as in ESP-IDF).
enum {
    HOST_ORACLE_OVERVIEW,       // heap_caps_print_all_task_stat_overview
    HOST_ORACLE_DETAILS,        // heap_caps_print_all_task_stat
    HOST_ORACLE_OVERVIEW_ONE,   // heap_caps_print_single_task_stat_overview
    HOST_ORACLE_DETAILS_ONE,    // heap_caps_print_single_task_stat
    HOST_ORACLE_STATS,          // heap_caps_get_all_task_stat, as lines
};
char *host_oracle_text(int what, uintptr_t task, size_t *length);
