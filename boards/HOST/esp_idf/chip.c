// The chip that the virtual board's ESP-IDF heap runs on: the start-up steps
// that build the heaps, and what other chip parts tell the heap. The chip's
// own facts (its memory, the linker and ROM symbols ESP-IDF's layout code
// reads, its PSRAM) are in its folder's layout.c (boards/HOST/chips/<chip>/,
// the one esp_idf.mk's CHIP names; host_chip.h). Nothing here decides a heap's place, size or caps: ESP-IDF's
// own heap_caps_init() does, from ESP-IDF's own layout of that chip
// (components/heap/port/<chip>/memory_layout.c), as on the chip.
//
// The chip's RAM is mapped at its own addresses, so block addresses read as
// on a board. AddressSanitizer's 32-bit shadow covers 0x28000000-0x3FFFFFFF,
// so a sanitizer build (ESP32-S3 only) moves every region there down by
// HOST_CHIP_SHADOW_SHIFT (see relocate_layout()); all else is the same.
//
// Extra heaps for tests, as a board with PSRAM or a runtime heap_caps_add_region
// has them: HEAPTRACK_IDF_REGIONS="TYPE:ADDRESS:SIZE[,...]" registers each with
// ESP-IDF's heap_caps_add_region_with_caps(), with the caps of the chip's
// memory type named TYPE (on the ESP32-S3: RAM, DRAM, IRAM, SPIRAM, RTCRAM),
// e.g. "SPIRAM:0x3c000000:1048576" for 1 MiB of PSRAM.

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "host_chip.h"

#if HOST_CHIP_SHADOW_SHIFT
// The sanitizer build compiles ESP-IDF's memory_layout.c with its region
// table renamed to these (esp_idf.mk); the table under the real name, which
// the rest of ESP-IDF reads, is the shifted copy below.
#define soc_memory_regions host_layout_regions
#define soc_memory_region_count host_layout_region_count
#endif

#include "esp_heap_caps.h"
#include "esp_heap_caps_init.h"
#include "heap_memory_layout.h"
#include "hal/efuse_hal.h"
#include "esp_private/esp_cache_private.h"
#include "soc/soc.h"
#include "heap_private.h"

#include "host_shim.h"

/******************************************************************************/
// What other chip parts tell the heap.

// eFuse: flash encryption is off (it only decides DMA alignment for flash).
bool efuse_hal_flash_encryption_enabled(void) {
    return false;
}

// Cache line sizes, for heap_caps_malloc's DMA-capable alignment: internal
// RAM is not behind a cache; PSRAM is, with a 32-byte data cache line on the
// chips with PSRAM here (ESP32's, and ESP32-S3's default
// CONFIG_ESP32S3_DATA_CACHE_LINE_32B).
esp_err_t esp_cache_get_alignment(uint32_t heap_caps, size_t *out_alignment) {
    if (out_alignment == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    *out_alignment = (heap_caps & MALLOC_CAP_SPIRAM) ? 32 : 4;
    return ESP_OK;
}

/******************************************************************************/
// Start-up.

void host_chip_fail(const char *what, const char *detail) {
    fprintf(stderr, "virtual %s: %s: %s\n", host_chip.name, what, detail);
    exit(2);
}

#if HOST_CHIP_SHADOW_SHIFT
#define HOST_LAYOUT_MAX_REGIONS 16
// Global: ESP-IDF and the tracker read the table under these names.
soc_memory_region_t s_shifted_regions[HOST_LAYOUT_MAX_REGIONS] __asm__("soc_memory_regions");
size_t s_shifted_region_count __asm__("soc_memory_region_count");

// ESP-IDF's regions of the chip's internal DRAM, which is under the
// sanitizer's shadow, moved down; and the ESP32-S3's IRAM region below D/IRAM,
// which the app's IRAM code covers: the linker symbols that reserve it also
// reserve the code's DRAM alias, and move with DRAM (chips/esp32s3/layout.c), so the
// region moves with them. (The PSRAM region, also under the shadow, stays:
// ESP-IDF reserves all of it by constant addresses.)
static void relocate_layout(void) {
    if (host_layout_region_count > HOST_LAYOUT_MAX_REGIONS) {
        host_chip_fail("memory", "more layout regions than HOST_LAYOUT_MAX_REGIONS");
    }
    for (size_t i = 0; i < host_layout_region_count; ++i) {
        soc_memory_region_t r = host_layout_regions[i];
        if ((r.start >= SOC_DIRAM_DRAM_LOW && r.start < 0x40000000) || (r.start >= 0x40370000 && r.start < SOC_DIRAM_IRAM_LOW)) {
            r.start -= HOST_CHIP_SHADOW_SHIFT;
        }
        s_shifted_regions[i] = r;
    }
    s_shifted_region_count = host_layout_region_count;
}
#else
static void relocate_layout(void) {
}
#endif

static void map_at(uintptr_t start, size_t size, int flags, int fd) {
    void *p = mmap((void *)start, size, PROT_READ | PROT_WRITE, flags | MAP_FIXED_NOREPLACE, fd, 0);
    if (p != (void *)start) {
        char detail[120];
        snprintf(detail, sizeof(detail), "cannot map %zu bytes at 0x%08lx (%s)",
            size, (unsigned long)start, p == MAP_FAILED ? strerror(errno) : "mapped elsewhere");
        if (p != MAP_FAILED) {
            munmap(p, size);
        }
        host_chip_fail("memory", detail);
    }
}

void host_chip_map(uintptr_t start, size_t size) {
    map_at(start, size, MAP_PRIVATE | MAP_ANONYMOUS, -1);
}

// One memory at two addresses: a file of no name, mapped shared twice.
void host_chip_map_aliased(uintptr_t start, size_t size, uintptr_t iram_alias) {
    if (iram_alias == 0 || HOST_CHIP_SHADOW_SHIFT != 0) {
        host_chip_map(start, size);
        return;
    }
    int fd = memfd_create("chip-diram", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)size) != 0) {
        host_chip_fail("memory", "cannot make the D/IRAM that both buses see");
    }
    map_at(start, size, MAP_SHARED, fd);
    map_at(iram_alias, size, MAP_SHARED, fd);
    close(fd);
}

static const soc_memory_type_desc_t *memory_type(const char *name, size_t len) {
    for (size_t i = 0; i < soc_memory_type_count; ++i) {
        if (strlen(soc_memory_types[i].name) == len && strncmp(soc_memory_types[i].name, name, len) == 0) {
            return &soc_memory_types[i];
        }
    }
    return NULL;
}

static void add_extra_regions(const char *spec) {
    const char *p = spec;
    while (*p != '\0') {
        const char *colon = strchr(p, ':');
        char *end;
        if (colon == NULL) {
            host_chip_fail("HEAPTRACK_IDF_REGIONS", "expected TYPE:ADDRESS:SIZE entries separated by commas");
        }
        const soc_memory_type_desc_t *type = memory_type(p, (size_t)(colon - p));
        if (type == NULL) {
            host_chip_fail("HEAPTRACK_IDF_REGIONS", "unknown memory type (not one of the chip layout's soc_memory_types)");
        }
        errno = 0;
        unsigned long start = strtoul(colon + 1, &end, 0);
        if (*end != ':' || errno != 0) {
            host_chip_fail("HEAPTRACK_IDF_REGIONS", "bad ADDRESS");
        }
        unsigned long size = strtoul(end + 1, &end, 0);
        if ((*end != ',' && *end != '\0') || errno != 0 || size == 0 || start + size < start) {
            host_chip_fail("HEAPTRACK_IDF_REGIONS", "bad SIZE");
        }
        if (start >= 0x28000000u && start < 0x40000000u) {
            start -= HOST_CHIP_SHADOW_SHIFT;
        }
        host_chip_map(start, size);
        esp_err_t err = heap_caps_add_region_with_caps(type->caps, (intptr_t)start, (intptr_t)(start + size));
        if (err != ESP_OK) {
            host_chip_fail("HEAPTRACK_IDF_REGIONS", err == ESP_FAIL ? "the region overlaps a heap" :
                err == ESP_ERR_NO_MEM ? "no internal heap has room for the new heap's record" :
                "ESP-IDF refused the region (too small?)");
        }
        p = *end == ',' ? end + 1 : end;
    }
}

// What the chip's start-up code does for the heap before any task runs
// (esp_system's do_core_init()), before the firmware's main().
__attribute__((constructor)) static void chip_start(void) {
    relocate_layout();
    for (size_t i = 0; i < host_chip.memory_count; ++i) {
        host_chip_map_aliased(host_chip.memory[i].start, host_chip.memory[i].size, host_chip.memory[i].iram_alias);
    }
    heap_caps_init();
    if (host_chip.add_psram != NULL) {
        host_chip.add_psram();
    }
    // As a board's PSRAM or a region added at start-up: before any task.
    const char *extra = getenv("HEAPTRACK_IDF_REGIONS");
    if (extra != NULL) {
        add_extra_regions(extra);
    }
    if (&host_starts_app == NULL) {
        host_tasks_start();
        heap_caps_enable_nonos_stack_heaps();
    }
}

/******************************************************************************/
// What the firmware asks of the chip's heap (host_shim.h).

void *host_chip_malloc(size_t size) {
    return heap_caps_malloc_default(size);
}

// components/newlib/src/heap.c's calloc: malloc's path, zeroed.
void *host_chip_calloc(size_t count, size_t size) {
    size_t bytes;
    if (__builtin_mul_overflow(count, size, &bytes)) {
        return NULL;
    }
    void *block = heap_caps_malloc_default(bytes);
    if (block != NULL) {
        memset(block, 0, bytes);
    }
    return block;
}

size_t host_chip_largest_free_block(void) {
    return heap_caps_get_largest_free_block(MALLOC_CAP_DEFAULT);
}

// As ports/esp32/modesp32.c reads them: every registered heap that
// heap_caps_match() accepts, multi_heap_get_info()'s figures unadjusted.
size_t host_heaps_with_caps(uint32_t caps, host_heap_t *heaps, size_t max) {
    size_t count = 0;
    heap_t *heap;
    SLIST_FOREACH(heap, &registered_heaps, next) {
        if (heap->heap == NULL || !heap_caps_match(heap, caps)) {
            continue;
        }
        if (count < max) {
            multi_heap_info_t info;
            multi_heap_get_info(heap->heap, &info);
            heaps[count] = (host_heap_t) {
                .start = (uintptr_t)heap->start,
                .total = (size_t)(heap->end - heap->start),
                .free = info.total_free_bytes,
                .largest_free = info.largest_free_block,
                .minimum_free = info.minimum_free_bytes,
            };
        }
        count += 1;
    }
    return count;
}
