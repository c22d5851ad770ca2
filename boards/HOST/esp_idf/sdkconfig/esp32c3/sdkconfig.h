// sdkconfig.h of the virtual ESP32-C3 (`--chip esp32c3`): ESP-IDF's default
// configuration for esp32c3 plus boards/sdkconfig.heaptrack, cut down to the
// options that the ESP-IDF files the host compiles read. Values are what
// ESP-IDF's kconfgen writes for that configuration. One core: FreeRTOS is
// single-core, and so is MicroPython's task (ports/esp32's MP_TASK_COREID).
#pragma once

#define CONFIG_IDF_TARGET "esp32c3"
#define CONFIG_IDF_TARGET_ESP32C3 1
#define CONFIG_IDF_FIRMWARE_CHIP_ID 0x0005
#define CONFIG_SOC_CPU_CORES_NUM 1
#define CONFIG_FREERTOS_NUMBER_OF_CORES 1
#define CONFIG_FREERTOS_UNICORE 1
#define CONFIG_ESP_SYSTEM_SINGLE_CORE_MODE 1

// Memory layout (components/esp_system).
#define CONFIG_ESP_SYSTEM_ALLOW_RTC_FAST_MEM_AS_HEAP 1
#define CONFIG_ESP_SYSTEM_MEMPROT_FEATURE 1
#define CONFIG_ESP_SYSTEM_MEMPROT_FEATURE_LOCK 1
#define CONFIG_ESP_INT_WDT_TIMEOUT_MS 300

#include "../sdkconfig_heaptrack.h"
