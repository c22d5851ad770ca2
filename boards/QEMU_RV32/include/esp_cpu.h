// ESP-IDF's esp_cpu.h (esp_hw_support) as far as the ESP-IDF files the QEMU
// board compiles use it: the core number (heap_caps_init.c's start-up table)
// and the cycle counter (ESP-IDF's heap tests log it). ESP-IDF's own reads the
// ESP32-C3's performance counter, a custom CSR (0x7E2) that QEMU's generic
// RISC-V CPU has not; this reads the standard mcycle instead.
#pragma once

#include <stdint.h>

typedef uint32_t esp_cpu_cycle_count_t;

static inline int esp_cpu_get_core_id(void) {
    return 0;
}

static inline esp_cpu_cycle_count_t esp_cpu_get_cycle_count(void) {
    uint32_t cycles;
    __asm__ volatile ("csrr %0, mcycle" : "=r"(cycles));
    return cycles;
}
