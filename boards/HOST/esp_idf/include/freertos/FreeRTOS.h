// The part of FreeRTOS (ESP-IDF's SMP kernel) that ESP-IDF's heap, heaptrack's
// tracker and ESP-IDF's heap tests use, for the host. Each name stands for the
// FreeRTOS facility of the same name; freertos.c says how the host provides it.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include "sdkconfig.h"
#include "esp_err.h"
#include "esp_cpu.h"
// ESP-IDF's portmacro.h, which FreeRTOS.h includes, brings in the heap API.
#include "esp_heap_caps.h"

typedef int BaseType_t;
typedef unsigned int UBaseType_t;
typedef uint32_t TickType_t;
// As ESP-IDF's port: stack depths are in bytes.
typedef uint8_t StackType_t;

#define pdFALSE ((BaseType_t)0)
#define pdTRUE ((BaseType_t)1)
#define pdFAIL pdFALSE
#define pdPASS pdTRUE
#define portMAX_DELAY ((TickType_t)0xffffffffUL)
#define portTICK_PERIOD_MS ((TickType_t)1000 / CONFIG_FREERTOS_HZ)
#define pdMS_TO_TICKS(ms) ((TickType_t)(((uint64_t)(ms) * CONFIG_FREERTOS_HZ) / 1000U))
#define configMAX_TASK_NAME_LEN CONFIG_FREERTOS_MAX_TASK_NAME_LEN
#define configASSERT(x) do { if (!(x)) { abort(); } } while (0)
#define tskNO_AFFINITY ((BaseType_t)0x7fffffff)

// portMUX_TYPE: ESP-IDF's spinlock (esp_hw_support's spinlock.h), the same
// shape: the owner's id, taken by compare-and-set, and how many times the
// owner took it again (nested critical sections). On the chip the owner is a
// core; on the host a thread.
#define portMUX_FREE_VAL 0xB33FFFFFu
typedef struct {
    uint32_t owner;
    uint32_t count;
} portMUX_TYPE;
typedef portMUX_TYPE spinlock_t;

#define portMUX_INITIALIZER_UNLOCKED { .owner = portMUX_FREE_VAL, .count = 0 }
#define SPINLOCK_INITIALIZER portMUX_INITIALIZER_UNLOCKED

void vPortMuxInitialize(portMUX_TYPE *mux);
void vPortEnterCritical(portMUX_TYPE *mux);
void vPortExitCritical(portMUX_TYPE *mux);
BaseType_t xPortInIsrContext(void);
// The core the caller runs on (ESP-IDF's portmacro.h): esp_cpu.h's.
static inline BaseType_t xPortGetCoreID(void) {
    return (BaseType_t)esp_cpu_get_core_id();
}
// False inside a critical section (interrupts masked on this core): a task
// must not block there. Inline, as ESP-IDF's portmacro.h has it (the chip reads
// its interrupt level): the host reads the calling thread's nesting count.
extern __thread unsigned host_critical_nesting;
static inline bool xPortCanYield(void) {
    return host_critical_nesting == 0;
}

#define portMUX_INITIALIZE(mux) vPortMuxInitialize(mux)
#define portENTER_CRITICAL(mux) vPortEnterCritical(mux)
#define portEXIT_CRITICAL(mux) vPortExitCritical(mux)
#define portENTER_CRITICAL_ISR(mux) vPortEnterCritical(mux)
#define portEXIT_CRITICAL_ISR(mux) vPortExitCritical(mux)
#define portENTER_CRITICAL_SAFE(mux) vPortEnterCritical(mux)
#define portEXIT_CRITICAL_SAFE(mux) vPortExitCritical(mux)
#define taskENTER_CRITICAL(mux) vPortEnterCritical(mux)
#define taskEXIT_CRITICAL(mux) vPortExitCritical(mux)
#define taskENTER_CRITICAL_ISR(mux) vPortEnterCritical(mux)
#define taskEXIT_CRITICAL_ISR(mux) vPortExitCritical(mux)
