// What an ESP32-S3 application around ESP-IDF's heap tests provides and the
// host shim does not: the C library's heap functions (chip_libc.h), the
// esp_system calls the tests and ESP-IDF's Unity runner use, and the cache
// HAL's line size. Each is the chip's behaviour, from the ESP-IDF source named.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esp_heap_caps.h"
#include "esp_system.h"
#include "hal/cache_hal.h"
#include "hal/cache_ll.h"

#include "chip_libc.h"
#include "host_shim.h"

// ESP-IDF's heap_private.h: the "default" allocation paths malloc() takes.
void *heap_caps_realloc_default(void *ptr, size_t size);
void *heap_caps_aligned_alloc_default(size_t alignment, size_t size);

// components/newlib/src/heap.c (malloc and calloc: the shim's, host_shim.h)
void *chip_malloc(size_t size) {
    return host_chip_malloc(size);
}

void *chip_realloc(void *ptr, size_t size) {
    return heap_caps_realloc_default(ptr, size);
}

void chip_free(void *ptr) {
    heap_caps_free(ptr);
}

void *chip_calloc(size_t nmemb, size_t size) {
    return host_chip_calloc(nmemb, size);
}

void *chip_memalign(size_t alignment, size_t size) {
    return heap_caps_aligned_alloc_default(alignment, size);
}

int chip_posix_memalign(void **out_ptr, size_t alignment, size_t size) {
    if (size == 0) {
        *out_ptr = NULL;
        return 0;
    }
    void *result = heap_caps_aligned_alloc_default(alignment, size);
    if (result != NULL) {
        *out_ptr = result;
        return 0;
    }
    return ENOMEM;
}

// newlib's strlcpy (the chip's C library has it; glibc has it from 2.38 only).
size_t strlcpy(char *dst, const char *src, size_t size) {
    size_t n = strlen(src);
    if (size != 0) {
        size_t k = n < size - 1 ? n : size - 1;
        memcpy(dst, src, k);
        dst[k] = '\0';
    }
    return n;
}

// components/esp_system/esp_system.c
uint32_t esp_get_free_heap_size(void) {
    return heap_caps_get_free_size(MALLOC_CAP_DEFAULT);
}

// ESP-IDF's Unity runner restarts the chip after "[leaks]" and multi-stage
// test cases; none of the test cases run here is one.
void esp_restart(void) {
    fprintf(stderr, "esp_restart(): the host cannot restart the chip\n");
    exit(3);
}

// components/hal/cache_hal.c on ESP32-S3, where internal memory is not behind
// the cache (no SOC_CACHE_INTERNAL_MEM_VIA_L1CACHE): only external memory has
// a cache line, the data cache's 32 bytes (CONFIG_ESP32S3_DATA_CACHE_LINE_32B)
// or the instruction cache's 32 bytes.
uint32_t cache_hal_get_cache_line_size(uint32_t cache_level, cache_type_t type) {
    if (cache_level != CACHE_LL_LEVEL_EXT_MEM) {
        return 0;
    }
    return type == CACHE_TYPE_DATA || type == CACHE_TYPE_INSTRUCTION ? 32 : 0;
}
