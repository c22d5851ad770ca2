// The chip's CPU (esp_hw_support's esp_cpu.h, whose inline functions are
// Xtensa or RISC-V assembly), as far as the ESP-IDF files compiled for the
// host use it: heap_caps_init.c names the startup-function table, which reads
// the core number. The host runs every task on "core 0". ESP-IDF's heap tests
// read the cycle counter (test_allocator_timings.c, for log lines).
#pragma once

#include <stdint.h>
#include <time.h>

typedef uint32_t esp_cpu_cycle_count_t;

static inline int esp_cpu_get_core_id(void) {
    return 0;
}

// CCOUNT of a 240 MHz ESP32-S3, from the host's monotonic clock.
static inline esp_cpu_cycle_count_t esp_cpu_get_cycle_count(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (esp_cpu_cycle_count_t)((uint64_t)ts.tv_sec * 240000000u + (uint64_t)ts.tv_nsec * 6u / 25u);
}
