// What a chip's layout.c (boards/HOST/chips/<chip>/) gives chip.c, the virtual chip's common
// start-up: the chip's memory, the linker and ROM symbols ESP-IDF's layout
// code reads, and the PSRAM its start-up adds. One layout.c is linked, the
// one esp_idf.mk's CHIP names.
#pragma once

#include <stddef.h>
#include <stdint.h>

// AddressSanitizer's 32-bit shadow covers 0x28000000-0x3FFFFFFF: a sanitizer
// build moves the ESP32-S3's DRAM down by this much (chip.c); the sanitizer
// build is for the ESP32-S3 only (esp_idf.mk).
#if defined(__SANITIZE_ADDRESS__)
#define HOST_CHIP_SHADOW_SHIFT 0x30000000
#else
#define HOST_CHIP_SHADOW_SHIFT 0
#endif

// A linker symbol at a chip address, as ESP-IDF's linker script defines it
// for an app; SHIFTED for one in DRAM that a sanitizer build moves.
#define HOST_CHIP_STR(x) #x
#define HOST_CHIP_SYMBOL(name, value) \
    __asm__(".globl " #name "\n.set " #name ", " HOST_CHIP_STR(value))
#define HOST_CHIP_SHIFTED_SYMBOL(name, value) HOST_CHIP_SYMBOL(name, (value) - HOST_CHIP_SHADOW_SHIFT)

typedef struct {
    uintptr_t start;
    size_t size;
    // Where the instruction bus sees the same memory (D/IRAM), 0 for nowhere:
    // ESP-IDF hands out executable blocks there (heap_caps_malloc with
    // MALLOC_CAP_EXEC, where memory protection is off). Not in a sanitizer
    // build, whose DRAM is off the chip's addresses that ESP-IDF's alias
    // arithmetic needs.
    uintptr_t iram_alias;
} host_chip_memory_t;

typedef struct {
    const char *name;                    // as Espressif writes it, for messages
    const host_chip_memory_t *memory;    // the RAM mapped at the chip's addresses
    size_t memory_count;
    // What the chip's start-up does with PSRAM once the heaps exist (NULL: none).
    void (*add_psram)(void);
    // What ESP-IDF's main task does for the chip before app_main (NULL: nothing).
    void (*main_task_start)(void);
} host_chip_t;

extern const host_chip_t host_chip;

// Maps size bytes at the chip address start (and the same bytes again at
// iram_alias, unless 0), or stops the program saying why.
void host_chip_map(uintptr_t start, size_t size);
void host_chip_map_aliased(uintptr_t start, size_t size, uintptr_t iram_alias);
__attribute__((noreturn)) void host_chip_fail(const char *what, const char *detail);
