// sdkconfig.h of the virtual ESP32-S3 (the default virtual board): heaptrack's
// ESP32_S3 firmware as a user flashes it, on a module without PSRAM: the
// configuration kconfgen makes from MicroPython's fragments for
// ESP32_GENERIC_S3 (sdkconfig.base, .ble, .spiram_sx, the board's) and
// boards/sdkconfig.heaptrack, cut down to the options that the ESP-IDF files
// the host compiles, and its shim, read. make check-idf checks every value
// against kconfgen's, and that ESP-IDF's heap sources preprocess the same with
// this file as with kconfgen's, but for what intended.h lists (board: the
// board it stands for).
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
#define CONFIG_ESP_INT_WDT_TIMEOUT_MS 300
// No CONFIG_ESP_SYSTEM_MEMPROT_FEATURE: MicroPython turns memory protection off
// (sdkconfig.base), so RAM is executable too (its heaps' caps have
// MALLOC_CAP_EXEC), and the layout has an IRAM region at 0x40374000, which the
// app's IRAM code covers (layout.c).

// PSRAM support (ports/esp32/boards/sdkconfig.spiram_sx): compiled in, the
// layout's SPIRAM region reserved; with no PSRAM on the module, ESP-IDF goes on
// without it (CONFIG_SPIRAM_IGNORE_NOTFOUND), as this virtual board does.
// ../esp32s3-psram is the same firmware with octal PSRAM found.
#define CONFIG_SPIRAM 1
#define CONFIG_SPIRAM_MODE_QUAD 1
#define CONFIG_SPIRAM_BOOT_INIT 1
#define CONFIG_SPIRAM_IGNORE_NOTFOUND 1
#define CONFIG_SPIRAM_USE_MALLOC 1
#define CONFIG_SPIRAM_MALLOC_ALWAYSINTERNAL 8192
#define CONFIG_SPIRAM_MALLOC_RESERVE_INTERNAL 32768
#define CONFIG_FREERTOS_TASK_CREATE_ALLOW_EXT_MEM 1

// Not a CONFIG_ value: sizeof(TCB_t) of ESP-IDF v5.5's FreeRTOS with this
// configuration (its newlib struct _reent included), the size of the TCB
// blocks the shim's FreeRTOS allocates; make check-idf computes it.
#define HOST_TCB_SIZE 356

#include "../sdkconfig_heaptrack.h"
