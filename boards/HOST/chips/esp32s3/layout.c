// The ESP32-S3 (the default virtual board): its memory, the linker and ROM
// symbols ESP-IDF's esp32s3 layout (components/heap/port/esp32s3/memory_layout.c)
// reads, and with HOST_CHIP_PSRAM (../esp32s3-psram) the octal PSRAM of
// a module for MicroPython's ESP32_GENERIC_S3 SPIRAM_OCT variant. Without it,
// the firmware's CONFIG_SPIRAM finds no PSRAM and goes on without
// (CONFIG_SPIRAM_IGNORE_NOTFOUND): nothing to do here.
//
// Memory: internal data RAM (0x3FC88000-0x3FD00000, the union of the layout's
// DIRAM and DRAM regions) and RTC fast memory (0x600FE000-0x60100000), at
// their own addresses.

#include "esp_heap_caps.h"
#include "esp_heap_caps_init.h"
#include "esp_log.h"
#include "rom/rom_layout.h"
#include "esp_private/esp_psram_extram.h"
#include "soc/soc.h"

#include "host_chip.h"

// What ESP-IDF's linker script defines for an app on ESP32-S3: IRAM code and
// static data end where the heap_task_tracking example's first heap starts
// (0x3FC955C0), the rest of DIRAM is heap. The IRAM/data split does not
// matter to the heap.
HOST_CHIP_SHIFTED_SYMBOL(_data_start, 0x3FC90000);
HOST_CHIP_SHIFTED_SYMBOL(_heap_start, 0x3FC955C0);
// IRAM code: from where the 16 KB instruction cache leaves off (ESP-IDF's
// esp32s3 memory.ld: SRAM_IRAM_ORG, 0x40370000 + 0x4000) through the IRAM
// heap region of the layout (0x40374000-0x40378000), which it covers, and on
// into D/IRAM, whose DRAM alias (minus SOC_I_D_OFFSET) ESP-IDF reserves too.
HOST_CHIP_SHIFTED_SYMBOL(_iram_start, 0x40374000);
HOST_CHIP_SHIFTED_SYMBOL(_iram_end, 0x40380000);
// RTC fast memory: RTC data of the app at its start, ROM's reserved words at its end.
HOST_CHIP_SYMBOL(_rtc_force_fast_end, 0x600FE010);
HOST_CHIP_SYMBOL(_rtc_noinit_end, 0x600FE010);
HOST_CHIP_SYMBOL(_rtc_reserved_start, 0x600FFFE8);
HOST_CHIP_SYMBOL(_rtc_reserved_end, 0x60100000);

// ESP32-S3 ROM's layout table (ets_rom_layout_p): only the start of the DRAM
// the ROM keeps for itself matters to the heap. Below it, down to the end of
// the app's DRAM, is the startup-stack heap (22308 bytes) that
// heap_caps_enable_nonos_stack_heaps() adds.
static const ets_rom_layout_t s_rom_layout = {
    .dram0_rtos_reserved_start = (void *)(0x3FCEEE34u - HOST_CHIP_SHADOW_SHIFT),
};
const ets_rom_layout_t *const ets_rom_layout_p = &s_rom_layout;

static const host_chip_memory_t s_memory[] = {
    // D/IRAM, which the instruction bus sees at SOC_DIRAM_IRAM_LOW up.
    { SOC_DIRAM_DRAM_LOW - HOST_CHIP_SHADOW_SHIFT, SOC_DIRAM_DRAM_HIGH - SOC_DIRAM_DRAM_LOW, SOC_DIRAM_IRAM_LOW },
    // DRAM the data cache does not use (32 KB of cache here).
    { SOC_DIRAM_DRAM_HIGH - HOST_CHIP_SHADOW_SHIFT, 0x3FD00000u - SOC_DIRAM_DRAM_HIGH, 0 },
    // RTC fast memory, at one address for both buses.
    { SOC_RTC_DRAM_LOW, 0x2000u, 0 },
};

#if HOST_CHIP_PSRAM
// The board's PSRAM: 8 MiB of octal PSRAM (an ESP32-S3 module such as the
// ESP32-S3-WROOM-1 N8R8 that the SPIRAM_OCT variant is for). ESP-IDF's
// esp_psram maps it into the data bus's external range (SOC_EXTRAM_DATA_LOW
// up) after the pages the app's flash text and rodata take, and adds it to
// the heap at start-up (esp_psram.c's add_psram_to_heap). Where the mapping
// starts depends on the app's size: 2 MiB on, about a MicroPython firmware's.
#define CHIP_PSRAM_SIZE (8u * 1024 * 1024)
#define CHIP_PSRAM_START (SOC_EXTRAM_DATA_LOW + 0x200000u)

static const char *const TAG = "esp_psram";

// As esp_psram_extram_add_to_heap_allocator(), then malloc() may use PSRAM.
static void add_psram(void) {
    host_chip_map(CHIP_PSRAM_START, CHIP_PSRAM_SIZE);
    ESP_EARLY_LOGI(TAG, "Adding pool of %dK of PSRAM memory to heap allocator", CHIP_PSRAM_SIZE / 1024);
    // esp_psram's caps for byte-aligned PSRAM, as ESP-IDF v5.5.4 gives them.
    const uint32_t byte_aligned_caps[] = {
        MALLOC_CAP_SPIRAM | MALLOC_CAP_DEFAULT, 0, MALLOC_CAP_8BIT | MALLOC_CAP_32BIT | MALLOC_CAP_SIMD
    };
    if (heap_caps_add_region_with_caps(byte_aligned_caps, (intptr_t)CHIP_PSRAM_START,
        (intptr_t)(CHIP_PSRAM_START + CHIP_PSRAM_SIZE)) != ESP_OK) {
        host_chip_fail("PSRAM", "External RAM could not be added to heap!");
    }
    #if CONFIG_SPIRAM_USE_MALLOC
    heap_caps_malloc_extmem_enable(CONFIG_SPIRAM_MALLOC_ALWAYSINTERNAL);
    #endif
}

// ESP-IDF's main task, once the start-up stacks are heap, keeps
// CONFIG_SPIRAM_MALLOC_RESERVE_INTERNAL bytes of internal RAM for DMA and
// internal-only allocations (esp_psram_extram_reserve_dma_pool): it allocates
// them, in as many blocks as it takes, and makes each block a heap of its own
// that only such requests reach. The blocks are `main`'s allocations.
static void reserve_dma_pool(void) {
    static const uint32_t pool_caps[] = { 0, MALLOC_CAP_DMA | MALLOC_CAP_INTERNAL, MALLOC_CAP_8BIT | MALLOC_CAP_32BIT };
    ESP_EARLY_LOGI(TAG, "Reserving pool of %dK of internal memory for DMA/internal allocations",
        CONFIG_SPIRAM_MALLOC_RESERVE_INTERNAL / 1024);
    for (size_t left = CONFIG_SPIRAM_MALLOC_RESERVE_INTERNAL; left > 0;) {
        size_t largest = heap_caps_get_largest_free_block(MALLOC_CAP_DMA | MALLOC_CAP_INTERNAL);
        size_t size = largest < left ? largest : left;
        uint8_t *block = size > 0 ? heap_caps_malloc(size, MALLOC_CAP_DMA | MALLOC_CAP_INTERNAL) : NULL;
        // ESP-IDF's pool heap ends one byte short of its block.
        if (block == NULL || heap_caps_add_region_with_caps(pool_caps, (intptr_t)block, (intptr_t)block + size - 1) != ESP_OK) {
            host_chip_fail("PSRAM", "Could not reserve internal/DMA pool");
        }
        left -= size;
    }
}
#endif

// esp_psram's: whether p lies in the PSRAM the chip mapped (none without it).
bool esp_psram_check_ptr_addr(const void *p) {
    #if HOST_CHIP_PSRAM
    return (uintptr_t)p >= CHIP_PSRAM_START && (uintptr_t)p - CHIP_PSRAM_START < CHIP_PSRAM_SIZE;
    #else
    (void)p;
    return false;
    #endif
}

const host_chip_t host_chip = {
    .name = "ESP32-S3",
    .memory = s_memory,
    .memory_count = sizeof(s_memory) / sizeof(s_memory[0]),
    #if HOST_CHIP_PSRAM
    .add_psram = add_psram,
    .main_task_start = reserve_dma_pool,
    #endif
};
