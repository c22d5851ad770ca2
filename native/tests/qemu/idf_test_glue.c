// What an ESP32-C3 application around ESP-IDF's heap tests provides and the
// QEMU board does not: the esp_system calls the tests and ESP-IDF's Unity
// runner use, and the cache HAL's line size. Each is the chip's behaviour,
// from the ESP-IDF source named (native/tests/idf/chip_glue.c is the host's).
#include <stdio.h>
#include <stdlib.h>

#include "esp_heap_caps.h"
#include "esp_system.h"
#include "hal/cache_hal.h"
#include "hal/cache_ll.h"

// components/esp_system/esp_system.c
uint32_t esp_get_free_heap_size(void) {
    return heap_caps_get_free_size(MALLOC_CAP_DEFAULT);
}

// ESP-IDF's Unity runner restarts the chip after "[leaks]" and multi-stage
// test cases; none of the test cases run here is one.
void esp_restart(void) {
    printf("esp_restart(): the QEMU board's tests do not restart the chip\n");
    exit(3);
}

// components/hal/cache_hal.c on ESP32-C3, whose internal memory is not behind
// the cache: only external memory (flash) has a cache line, 32 bytes
// (CONFIG_ESP32C3_INSTRUCTION_CACHE_LINE_32B).
uint32_t cache_hal_get_cache_line_size(uint32_t cache_level, cache_type_t type) {
    if (cache_level != CACHE_LL_LEVEL_EXT_MEM) {
        return 0;
    }
    return type == CACHE_TYPE_DATA || type == CACHE_TYPE_INSTRUCTION ? 32 : 0;
}

// POSIX's fsync, which ESP-IDF's Unity port (unity_port_linux.c) calls after
// each flush of stdout: picolibc's semihosting has none, and what it writes
// has reached QEMU once fflush returns.
int fsync(int fd);
int fsync(int fd) {
    (void)fd;
    return 0;
}
