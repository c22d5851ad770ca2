// Forced into ESP-IDF's memory_layout_utils.c (board.mk): the end of the
// DRAM the ROM reserves, which it takes from soc.h, where the QEMU board has
// that memory (qemu_board.h); the start comes from the ROM layout table
// (chip.c), moved alike.
#pragma once

#include "soc/soc.h"
#include "qemu_board.h"

#undef SOC_DIRAM_DRAM_HIGH
#define SOC_DIRAM_DRAM_HIGH (0x3FCE0000 + QEMU_CHIP_DRAM_SHIFT)
