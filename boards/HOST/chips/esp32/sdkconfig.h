// sdkconfig.h of the virtual ESP32 (classic, `--chip esp32`): heaptrack's
// ESP32 firmware, the configuration kconfgen makes from MicroPython's
// fragments for ESP32_GENERIC and boards/sdkconfig.heaptrack and
// sdkconfig.heaptrack_iram, cut down to the options that the ESP-IDF files the
// host compiles, and its shim, read; checked as ../esp32s3/sdkconfig.h is.
// RTC fast memory stays out of the heap on this chip (no
// CONFIG_ESP_SYSTEM_ALLOW_RTC_FAST_MEM_AS_HEAP), its trace memory unreserved,
// and SRAM1 is data RAM (no CONFIG_ESP_SYSTEM_ESP32_SRAM1_REGION_AS_IRAM).
#pragma once

#define CONFIG_IDF_TARGET "esp32"
#define CONFIG_IDF_TARGET_ESP32 1
#define CONFIG_IDF_FIRMWARE_CHIP_ID 0x0000
#define CONFIG_SOC_CPU_CORES_NUM 2
#define CONFIG_FREERTOS_NUMBER_OF_CORES 2

// Memory layout (components/esp_system, esp32 trace memory).
#define CONFIG_ESP32_TRACEMEM_RESERVE_DRAM 0x0
#define CONFIG_ESP_INT_WDT_TIMEOUT_MS 300

// boards/sdkconfig.heaptrack_iram (the ESP32's IRAM is tight): ESP-IDF's heap
// functions in flash.
#define CONFIG_HEAP_PLACE_FUNCTION_INTO_FLASH 1

// Not a CONFIG_ value: sizeof(TCB_t) of ESP-IDF v5.5's FreeRTOS with this
// configuration (its newlib struct _reent included), the size of the TCB
// blocks the shim's FreeRTOS allocates; make check-idf computes it.
#define HOST_TCB_SIZE 356

#include "../sdkconfig_heaptrack.h"
