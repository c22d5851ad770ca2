// sdkconfig.h of the virtual ESP32-C3 (`--chip esp32c3`): heaptrack's
// ESP32_C3 firmware, the configuration kconfgen makes from MicroPython's
// fragments for ESP32_GENERIC_C3 and boards/sdkconfig.heaptrack, cut down to
// the options that the ESP-IDF files the host compiles, and its shim, read;
// checked as ../esp32s3/sdkconfig.h is. One core: FreeRTOS is single-core, and
// so is MicroPython's task (ports/esp32's MP_TASK_COREID). MicroPython turns
// memory protection off (sdkconfig.base): RAM is executable too.
#pragma once

#define CONFIG_IDF_TARGET "esp32c3"
#define CONFIG_IDF_TARGET_ESP32C3 1
#define CONFIG_IDF_FIRMWARE_CHIP_ID 0x0005
#define CONFIG_IDF_TARGET_ARCH_RISCV 1
#define CONFIG_SOC_CPU_CORES_NUM 1
#define CONFIG_FREERTOS_NUMBER_OF_CORES 1
#define CONFIG_FREERTOS_UNICORE 1
#define CONFIG_ESP_SYSTEM_SINGLE_CORE_MODE 1

// Memory layout (components/esp_system).
#define CONFIG_ESP_SYSTEM_ALLOW_RTC_FAST_MEM_AS_HEAP 1
#define CONFIG_ESP_INT_WDT_TIMEOUT_MS 300

// Not a CONFIG_ value: sizeof(TCB_t) of ESP-IDF v5.5's FreeRTOS with this
// configuration (its newlib struct _reent included), the size of the TCB
// blocks the shim's FreeRTOS allocates; make check-idf computes it.
#define HOST_TCB_SIZE 352

#include "../sdkconfig_heaptrack.h"
