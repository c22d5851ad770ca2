// The chip's CPU (esp_hw_support's esp_cpu.h, whose inline functions are
// Xtensa or RISC-V assembly), as far as the ESP-IDF files compiled for the
// host use it: heap_caps_init.c names the startup-function table, which reads
// the core number. The host runs every task on "core 0". ESP-IDF's heap tests
// read the cycle counter (test_allocator_timings.c, for log lines), and so does
// ESP-IDF's heap tracing on every allocation (heap_trace.inc, bench_tracker's
// column of it).
#pragma once

#include <stdint.h>

typedef uint32_t esp_cpu_cycle_count_t;

static inline int esp_cpu_get_core_id(void) {
    return 0;
}

// The chip reads its cycle counter (CCOUNT, mcycle) in one instruction; so
// does the host, its time-stamp counter, so that what reads it costs what it
// costs on the chip. It counts at the host's rate, not the chip's 240 MHz.
static inline esp_cpu_cycle_count_t esp_cpu_get_cycle_count(void) {
    return (esp_cpu_cycle_count_t)__builtin_ia32_rdtsc();
}
