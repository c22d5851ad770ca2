// Forced into ESP-IDF's memory_layout_utils.c in a sanitizer build (esp_idf.mk).
// chip.c moves the chip's DRAM down by HOST_CHIP_SHADOW_SHIFT, out of
// AddressSanitizer's 32-bit shadow, and shifts the ROM's reserved-DRAM start
// with it; the end of that reservation is soc.h's SOC_DIRAM_DRAM_HIGH, a
// constant, which has to move too (or the reservation would span everything
// from the shifted DRAM up to the chip's, overlapping the other reservations).
#pragma once

#include "soc/soc.h"

#undef SOC_DIRAM_DRAM_HIGH
#define SOC_DIRAM_DRAM_HIGH (0x3FCF0000 - 0x30000000)   // chip.c's HOST_CHIP_SHADOW_SHIFT
