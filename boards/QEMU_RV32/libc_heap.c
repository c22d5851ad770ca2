// The C library's heap as an ESP-IDF application has it: ESP-IDF's newlib glue
// (components/newlib/src/heap.c) makes malloc, calloc, realloc, free and the
// aligned allocators calls of ESP-IDF's heap (the "default" paths, which
// heap_private.h declares), so a malloc'd block is the calling task's in
// ESP-IDF's statistics. They take the place of picolibc's own.

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "esp_heap_caps.h"

// ESP-IDF's heap_private.h.
void *heap_caps_malloc_default(size_t size);
void *heap_caps_realloc_default(void *ptr, size_t size);
void *heap_caps_aligned_alloc_default(size_t alignment, size_t size);

void *malloc(size_t size) {
    return heap_caps_malloc_default(size);
}

void free(void *ptr) {
    heap_caps_free(ptr);
}

void *realloc(void *ptr, size_t size) {
    return heap_caps_realloc_default(ptr, size);
}

// newlib's _calloc_r on ESP-IDF: a default block, zeroed; NULL when the
// product overflows.
void *calloc(size_t count, size_t size) {
    size_t bytes;
    if (__builtin_mul_overflow(count, size, &bytes)) {
        return NULL;
    }
    void *p = heap_caps_malloc_default(bytes);
    if (p != NULL) {
        memset(p, 0, bytes);
    }
    return p;
}

void *memalign(size_t alignment, size_t size) {
    return heap_caps_aligned_alloc_default(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    return heap_caps_aligned_alloc_default(alignment, size);
}

int posix_memalign(void **out, size_t alignment, size_t size) {
    if (size == 0) {
        *out = NULL;
        return 0;
    }
    void *p = heap_caps_aligned_alloc_default(alignment, size);
    if (p == NULL) {
        return ENOMEM;
    }
    *out = p;
    return 0;
}
