// What the host shim offers beyond the ESP-IDF and FreeRTOS API it stands in
// for: the few hooks a chip or FreeRTOS has no public call for.
#pragma once

#include <stddef.h>
#include <stdint.h>

// The name of the next task a pthread_create of this thread starts (the esp32
// port passes it to xTaskCreate). Used once; without it a thread is
// `mp_thread`, as the port names _thread threads.
void host_task_set_next_name(const char *name);

// The handle of the task the last pthread_create of this thread started.
struct tskTaskControlBlock *host_task_last_created(void);

// Enter and leave MicroPython's atomic section as the esp32 port does
// (portENTER_CRITICAL on one spinlock): machine.disable_irq()/enable_irq().
void host_atomic_section_enter(void);
void host_atomic_section_exit(void);

// Boot: makes the calling (first) thread the task `mp_task`. Called by the
// chip's start-up code after ESP-IDF's heap exists.
void host_tasks_start(void);

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
