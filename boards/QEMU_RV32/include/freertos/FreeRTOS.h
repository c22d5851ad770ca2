// ESP-IDF's <freertos/FreeRTOS.h> on the QEMU board: upstream FreeRTOS-Kernel's
// FreeRTOS.h (its RISC-V port), plus what ESP-IDF's FreeRTOS adds to it and
// ESP-IDF's heap and heaptrack use. Each addition names the ESP-IDF facility it
// stands for; idf_freertos.c implements the functions. Only code written for
// ESP-IDF includes this (as "freertos/FreeRTOS.h"); the kernel's own files
// compile against upstream's headers alone.
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <FreeRTOS.h>

// ESP-IDF's portmacro.h brings in the heap API (and esp_err.h), as ESP-IDF
// code expects of FreeRTOS.h.
#include "esp_err.h"
#include "esp_heap_caps.h"

// portMUX_TYPE: ESP-IDF's spinlock (esp_hw_support's spinlock.h), the same
// shape: the owner (a core's owner word) and how many times the owner took it again.
// On this one-hart board, as on the single-core ESP32-C3, taking one is a
// critical section of the kernel's (interrupts masked on the hart); the owner
// and count are kept so that a release by a non-owner is caught, as
// spinlock_release asserts on the chip.
#define portMUX_FREE_VAL 0xB33FFFFFu
// The owner word of a spinlock core 0 holds: ESP-IDF's SPINLOCK_OWNER_ID_0, never 0,
// which a zeroed (never initialised) spinlock has.
#define portMUX_OWNER_CORE0 0xCDCDu
typedef struct {
    uint32_t owner;
    uint32_t count;
} portMUX_TYPE;
typedef portMUX_TYPE spinlock_t;
#define portMUX_INITIALIZER_UNLOCKED { .owner = portMUX_FREE_VAL, .count = 0 }
#define SPINLOCK_INITIALIZER portMUX_INITIALIZER_UNLOCKED

void vPortMuxInitialize(portMUX_TYPE *mux);
void vPortEnterCriticalMux(portMUX_TYPE *mux);
void vPortExitCriticalMux(portMUX_TYPE *mux);
#define portMUX_INITIALIZE(mux) vPortMuxInitialize(mux)

// ESP-IDF's critical sections take the spinlock. Upstream's
// portENTER_CRITICAL() takes none: these replace it for ESP-IDF code only.
#undef portENTER_CRITICAL
#undef portEXIT_CRITICAL
#define portENTER_CRITICAL(mux) vPortEnterCriticalMux(mux)
#define portEXIT_CRITICAL(mux) vPortExitCriticalMux(mux)
#define portENTER_CRITICAL_ISR(mux) vPortEnterCriticalMux(mux)
#define portEXIT_CRITICAL_ISR(mux) vPortExitCriticalMux(mux)
#define portENTER_CRITICAL_SAFE(mux) vPortEnterCriticalMux(mux)
#define portEXIT_CRITICAL_SAFE(mux) vPortExitCriticalMux(mux)

// ESP-IDF's port: true in an interrupt handler (its nesting count is non-zero).
BaseType_t xPortInIsrContext(void);
// ESP-IDF's port: false where a task must not block, i.e. with interrupts
// masked on this core (inside a critical section) or in an interrupt handler.
bool xPortCanYield(void);
// ESP-IDF's xPortGetCoreID(): the one core, 0.
static inline BaseType_t xPortGetCoreID(void) {
    return 0;
}
