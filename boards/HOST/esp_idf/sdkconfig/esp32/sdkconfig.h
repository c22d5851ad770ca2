// sdkconfig.h of the virtual ESP32 (classic, `--chip esp32`): ESP-IDF's
// default configuration for esp32 plus boards/sdkconfig.heaptrack, cut down to
// the options that the ESP-IDF files the host compiles read. Values are what
// ESP-IDF's kconfgen writes for that configuration. ESP-IDF's defaults leave
// RTC fast memory out of the heap on this chip (no
// CONFIG_ESP_SYSTEM_ALLOW_RTC_FAST_MEM_AS_HEAP), its trace memory unreserved,
// and SRAM1 as data RAM (no CONFIG_ESP_SYSTEM_ESP32_SRAM1_REGION_AS_IRAM).
#pragma once

#define CONFIG_IDF_TARGET "esp32"
#define CONFIG_IDF_TARGET_ESP32 1
#define CONFIG_IDF_FIRMWARE_CHIP_ID 0x0000
#define CONFIG_SOC_CPU_CORES_NUM 2
#define CONFIG_FREERTOS_NUMBER_OF_CORES 2

// Memory layout (components/esp_system, esp32 trace memory).
#define CONFIG_ESP32_TRACEMEM_RESERVE_DRAM 0x0
#define CONFIG_ESP_INT_WDT_TIMEOUT_MS 300

#include "../sdkconfig_heaptrack.h"
