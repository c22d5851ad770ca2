// Forced into ESP-IDF's esp32c3/memory_layout.c (board.mk): the RTC memory's
// start, which its SOC_RESERVE_MEMORY_REGION for the app's RTC data begins
// at, where the QEMU board has that memory (qemu_board.h). Its region table is
// compiled under another name, and chip.c moves it.
#pragma once

#include "soc/soc.h"
#include "qemu_board.h"

#undef SOC_RTC_DRAM_LOW
#define SOC_RTC_DRAM_LOW (0x50000000 + QEMU_CHIP_RTC_SHIFT)
