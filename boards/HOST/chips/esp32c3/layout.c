// The ESP32-C3 (`--chip esp32c3`): its memory, the linker and ROM symbols
// ESP-IDF's esp32c3 layout (components/heap/port/esp32c3/memory_layout.c)
// reads. One SRAM holds the app's IRAM code, its static data and the heaps:
// heap_caps_init() makes a RAM heap, two Retention RAM heaps (the SRAM block
// the CPU's retention DMA reaches; the upper one is the ROM's start-up stack,
// a heap once the scheduler runs) and an RTC fast memory heap.
//
// Memory: SRAM's data alias 0x3FC80000-0x3FCE0000 and RTC fast memory
// 0x50000000-0x50002000, at their own addresses.

#include "rom/rom_layout.h"
#include "soc/soc.h"

#include "host_chip.h"

// What ESP-IDF's linker script defines for an app on ESP32-C3: IRAM code from
// SRAM's start (its DRAM alias reserved), then static data up to _heap_start.
// These depend on the app and are the virtual board's own (host_tests/test_chips.py
// compares the chip's numbers only): 48 KiB of IRAM code and about 5.5 KiB of
// static data.
HOST_CHIP_SYMBOL(_iram_start, 0x40380000);
HOST_CHIP_SYMBOL(_iram_end, 0x4038C000);
HOST_CHIP_SYMBOL(_data_start, 0x3FC8C000);
HOST_CHIP_SYMBOL(_heap_start, 0x3FC8D610);
// RTC memory (one block, RTC "fast" data lands in it too): the app's RTC data
// up to _rtc_force_slow_end, the words the ROM and bootloader keep at its end.
// Those of the ESP32-C3 boot log cited in host_tests/test_chips.py ("At
// 50001204 len 00000DE4 (3 KiB): RTCRAM").
HOST_CHIP_SYMBOL(_rtc_force_slow_end, 0x50001204);
HOST_CHIP_SYMBOL(_rtc_reserved_start, 0x50001FE8);
HOST_CHIP_SYMBOL(_rtc_reserved_end, 0x50002000);

// ESP32-C3 ROM's layout table (ets_rom_layout_p): the start of the DRAM the
// ROM keeps for itself, where the start-up stack's heap ends (the cited log's
// "At 3FCDC710 len 00002950": 0x3FCDC710 + 0x2950).
static const ets_rom_layout_t s_rom_layout = {
    .dram0_rtos_reserved_start = (void *)0x3FCDF060u,
};
const ets_rom_layout_t *const ets_rom_layout_p = &s_rom_layout;

static const host_chip_memory_t s_memory[] = {
    // D/IRAM, which the instruction bus sees at SOC_DIRAM_IRAM_LOW up.
    { SOC_DIRAM_DRAM_LOW, SOC_DIRAM_DRAM_HIGH - SOC_DIRAM_DRAM_LOW, SOC_DIRAM_IRAM_LOW },
    { SOC_RTC_DRAM_LOW, SOC_RTC_DRAM_HIGH - SOC_RTC_DRAM_LOW, 0 },
};

const host_chip_t host_chip = {
    .name = "ESP32-C3",
    .memory = s_memory,
    .memory_count = sizeof(s_memory) / sizeof(s_memory[0]),
};
