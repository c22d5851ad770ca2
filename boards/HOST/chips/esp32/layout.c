// The classic ESP32 (`--chip esp32`): its memory and the linker symbols
// ESP-IDF's esp32 layout (components/heap/port/esp32/memory_layout.c) reads.
// That layout splits internal RAM into many regions with the ROM's data,
// the app's static data and the caches reserved between them: heap_caps_init()
// makes the fragmented heaps a classic ESP32 has (five DRAM, D/IRAM and IRAM
// heaps, none larger than about 160 KiB).
//
// Memory: data RAM 0x3FFAE000-0x40000000 (SRAM2 and SRAM1's data alias) and
// instruction RAM 0x40080000-0x400A0000 (SRAM0 past the caches, where the
// IRAM heap lies), at their own addresses. ESP-IDF's defaults keep RTC fast
// memory out of the heap on this chip. The ESP32 ROM has no layout table
// (ESP_ROM_HAS_LAYOUT_TABLE is unset): the layout reserves ROM's data itself.

#include "soc/soc.h"

#include "host_chip.h"

// What ESP-IDF's linker script defines for an app on ESP32. The static data
// starts at SRAM2's start (0x3FFB0000, dram0_0_seg) and ends at _heap_start;
// IRAM code starts at SRAM0's (0x40080000, iram0_0_seg) and ends at
// _iram_end. Both ends depend on the app: these are those of the boot log
// cited in host_tests/test_chips.py (heap_init's "At 3FFB86F8 ... DRAM" and
// "At 40095BB0 ... IRAM").
HOST_CHIP_SYMBOL(_data_start, 0x3FFB0000);
HOST_CHIP_SYMBOL(_heap_start, 0x3FFB86F8);
HOST_CHIP_SYMBOL(_iram_start, 0x40080000);
HOST_CHIP_SYMBOL(_iram_end, 0x40095BB0);
// RTC memory: the app's RTC data (none) and the words the ROM and bootloader
// keep at the end of RTC slow memory. Outside every heap region of this
// configuration (RTC fast memory is not heap with ESP-IDF's esp32 defaults),
// but the layout reserves them, so they exist; ESP-IDF wants each reserved
// range to start at its own address.
HOST_CHIP_SYMBOL(_rtc_force_fast_end, 0x3FF80000);
HOST_CHIP_SYMBOL(_rtc_noinit_end, 0x3FF80000);
HOST_CHIP_SYMBOL(_rtc_fast_reserved_start, 0x3FF82000);
HOST_CHIP_SYMBOL(_rtc_fast_reserved_end, 0x3FF82000);
HOST_CHIP_SYMBOL(_rtc_slow_reserved_start, 0x50001FE8);
HOST_CHIP_SYMBOL(_rtc_slow_reserved_end, 0x50002000);

// The instruction bus sees SRAM1 (D/IRAM) backwards (SOC_DIRAM_INVERTED),
// which this host does not map: executable blocks come from the IRAM heap,
// which ESP-IDF tries first, and only once that is full from D/IRAM.
static const host_chip_memory_t s_memory[] = {
    { SOC_DRAM_LOW, SOC_DRAM_HIGH - SOC_DRAM_LOW, 0 },
    { 0x40080000u, 0x400A0000u - 0x40080000u, 0 },
};

const host_chip_t host_chip = {
    .name = "ESP32",
    .memory = s_memory,
    .memory_count = sizeof(s_memory) / sizeof(s_memory[0]),
};
