// sdkconfig.h of the virtual ESP32-S3 (the default virtual board): ESP-IDF's
// default configuration plus boards/sdkconfig.heaptrack, as ESP-IDF's
// heap_task_tracking example is built (its output is our format contract: RAM
// heaps of CAPS 0x0010580e need the default CONFIG_ESP_SYSTEM_MEMPROT_FEATURE),
// cut down to the options that the ESP-IDF files the host compiles read.
// Values are what ESP-IDF's kconfgen writes for that configuration.
#pragma once

#define CONFIG_IDF_TARGET "esp32s3"
#define CONFIG_IDF_TARGET_ESP32S3 1
#define CONFIG_IDF_FIRMWARE_CHIP_ID 0x0009
#define CONFIG_SOC_CPU_CORES_NUM 2
#define CONFIG_FREERTOS_NUMBER_OF_CORES 2

// Memory layout (components/esp_system, esp32s3 cache and trace memory).
#define CONFIG_ESP32S3_INSTRUCTION_CACHE_16KB 1
#define CONFIG_ESP32S3_INSTRUCTION_CACHE_SIZE 0x4000
#define CONFIG_ESP32S3_DATA_CACHE_32KB 1
#define CONFIG_ESP32S3_DATA_CACHE_SIZE 0x8000
#define CONFIG_ESP32S3_TRACEMEM_RESERVE_DRAM 0x0
#define CONFIG_ESP_SYSTEM_ALLOW_RTC_FAST_MEM_AS_HEAP 1
#define CONFIG_ESP_SYSTEM_MEMPROT_FEATURE 1
#define CONFIG_ESP_SYSTEM_MEMPROT_FEATURE_LOCK 1
#define CONFIG_ESP_INT_WDT_TIMEOUT_MS 300

#include "../sdkconfig_heaptrack.h"
