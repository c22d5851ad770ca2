// ESP-IDF's <freertos/task.h> on the QEMU board: upstream's task.h, with
// ESP-IDF's forms of what it changes (critical sections on a portMUX, stack
// depths in bytes) and its additions (idf_additions.h) that this board's
// callers use. See FreeRTOS.h.
#pragma once

#include "freertos/FreeRTOS.h"
#include <task.h>

// ESP-IDF's value (upstream's is its SMP kernel's core mask).
#undef tskNO_AFFINITY
#define tskNO_AFFINITY ((BaseType_t)0x7FFFFFFF)

#undef taskENTER_CRITICAL
#undef taskEXIT_CRITICAL
#undef taskENTER_CRITICAL_ISR
#undef taskEXIT_CRITICAL_ISR
#define taskENTER_CRITICAL(mux) vPortEnterCriticalMux(mux)
#define taskEXIT_CRITICAL(mux) vPortExitCriticalMux(mux)
#define taskENTER_CRITICAL_ISR(mux) vPortEnterCriticalMux(mux)
#define taskEXIT_CRITICAL_ISR(mux) vPortExitCriticalMux(mux)

// ESP-IDF's xTaskCreatePinnedToCore (idf_additions.h): stack_depth in bytes,
// the stack and then the TCB from ESP-IDF's heap (internal, 8-bit capable),
// as ESP-IDF's FreeRTOS allocates them; core_id is the only core or
// tskNO_AFFINITY on this one-core board.
BaseType_t xTaskCreatePinnedToCore(TaskFunction_t code, const char *name, uint32_t stack_depth,
    void *parameters, UBaseType_t priority, TaskHandle_t *created, BaseType_t core_id);

// ESP-IDF's xTaskCreate: the same, stack depth in bytes. (Upstream's takes
// words: code written for ESP-IDF calls this one.)
#undef xTaskCreate
#define xTaskCreate(code, name, stack_depth, parameters, priority, created) \
    xTaskCreatePinnedToCore((code), (name), (stack_depth), (parameters), (priority), (created), tskNO_AFFINITY)

// ESP-IDF's pxTaskGetStackStart (idf_additions.h): where the task's stack begins.
uint8_t *pxTaskGetStackStart(TaskHandle_t task);

#include "freertos/semphr.h"
