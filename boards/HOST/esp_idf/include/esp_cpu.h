// The chip's CPU (esp_hw_support's esp_cpu.h, whose inline functions are
// Xtensa or RISC-V assembly), as far as the ESP-IDF files compiled for the
// host use it: heap_caps_init.c names the startup-function table, which reads
// the core number. The host runs every task on "core 0".
#pragma once

#include <stdint.h>

static inline int esp_cpu_get_core_id(void) {
    return 0;
}
