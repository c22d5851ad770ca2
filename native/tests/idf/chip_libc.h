// The C library's heap as an ESP32 application has it: ESP-IDF's newlib glue
// (components/newlib/src/heap.c) makes malloc, calloc, realloc, free, memalign
// and aligned_alloc ESP-IDF heap calls. Forced (-include) into ESP-IDF's heap
// test files only, which rely on that (a malloc'd buffer is DRAM, malloc fails
// when the chip's heap is full, free takes heap_caps blocks); the rest of the
// host process keeps glibc's heap. Object-like macros, so `&malloc` maps too.
#pragma once

#include <stdlib.h>
#include <malloc.h>

void *chip_malloc(size_t size);
void *chip_calloc(size_t nmemb, size_t size);
void *chip_realloc(void *ptr, size_t size);
void chip_free(void *ptr);
void *chip_memalign(size_t alignment, size_t size);
int chip_posix_memalign(void **out_ptr, size_t alignment, size_t size);

#define malloc chip_malloc
#define calloc chip_calloc
#define realloc chip_realloc
#define free chip_free
#define memalign chip_memalign
#define aligned_alloc chip_memalign
#define posix_memalign chip_posix_memalign
