// sdkconfig.h of the virtual board: an ESP32-S3 with ESP-IDF's default
// configuration plus boards/sdkconfig.heaptrack, as ESP-IDF's
// heap_task_tracking example is built (its output is our format contract: RAM
// heaps of CAPS 0x0010580e need the default CONFIG_ESP_SYSTEM_MEMPROT_FEATURE),
// cut down to the options that the ESP-IDF files the host compiles read.
// Values are what ESP-IDF's kconfgen writes for that configuration.
// HEAPTRACK_IDF_TRACKING=0 gives the same chip without heap task tracking: the
// "firmware without tracking" and the baseline of the benchmarks; with
// HEAPTRACK_IDF_HOOKS=1 as well, the firmware of heaptrack's hooks tracker.
#pragma once

#define CONFIG_IDF_TARGET "esp32s3"
#define CONFIG_IDF_TARGET_ESP32S3 1
#define CONFIG_IDF_FIRMWARE_CHIP_ID 0x0009
#define CONFIG_SOC_CPU_CORES_NUM 2

// Heap (components/heap/Kconfig).
#define CONFIG_HEAP_POISONING_DISABLED 1
#define CONFIG_HEAP_TRACING_OFF 1
#ifndef HEAPTRACK_IDF_TRACKING
#define HEAPTRACK_IDF_TRACKING 1
#endif
#if HEAPTRACK_IDF_TRACKING
#define CONFIG_HEAP_TASK_TRACKING 1
#define CONFIG_HEAP_TRACK_DELETED_TASKS 1
#endif
// HEAPTRACK_IDF_HOOKS=1: ESP-IDF calls esp_heap_trace_alloc_hook and
// esp_heap_trace_free_hook on every allocation and free, which heaptrack's
// hooks tracker (tracker_hooks.c) implements: boards/sdkconfig.heaptrack_hooks.
#ifndef HEAPTRACK_IDF_HOOKS
#define HEAPTRACK_IDF_HOOKS 0
#endif
#if HEAPTRACK_IDF_HOOKS
#define CONFIG_HEAP_USE_HOOKS 1
#endif

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

// FreeRTOS.
#define CONFIG_FREERTOS_HZ 100
#define CONFIG_FREERTOS_MAX_TASK_NAME_LEN 16
#define CONFIG_FREERTOS_NUMBER_OF_CORES 2
// uxTaskGetSystemState, which esp32.idf_task_info() reads (boards/sdkconfig.heaptrack).
#define CONFIG_FREERTOS_USE_TRACE_FACILITY 1

// The task that calls app_main (components/esp_system/Kconfig defaults);
// MicroPython's esp32 port sets CONFIG_NEWLIB_NANO_FORMAT, so its stack has
// no TASK_EXTRA_STACK_SIZE (esp_task.h).
#define CONFIG_ESP_MAIN_TASK_STACK_SIZE 3584
#define CONFIG_ESP_MAIN_TASK_AFFINITY_CPU0 1
#define CONFIG_ESP_MAIN_TASK_AFFINITY 0x0
#define CONFIG_NEWLIB_NANO_FORMAT 1

// Logging.
#define CONFIG_LOG_DEFAULT_LEVEL_INFO 1
#define CONFIG_LOG_DEFAULT_LEVEL 3
#define CONFIG_LOG_MAXIMUM_EQUALS_DEFAULT 1
#define CONFIG_LOG_MAXIMUM_LEVEL 3
#define CONFIG_LOG_VERSION_1 1
#define CONFIG_LOG_VERSION 1
#define CONFIG_LOG_MODE_TEXT_EN 1
#define CONFIG_LOG_MODE_TEXT 1
#define CONFIG_LOG_TIMESTAMP_SOURCE_RTOS 1
#define CONFIG_LOG_DYNAMIC_LEVEL_CONTROL 1
#define CONFIG_LOG_TAG_LEVEL_IMPL_CACHE_AND_LINKED_LIST 1
#define CONFIG_LOG_TAG_LEVEL_CACHE_BINARY_MIN_HEAP 1
#define CONFIG_LOG_TAG_LEVEL_IMPL_CACHE_SIZE 31

#define CONFIG_COMPILER_OPTIMIZATION_ASSERTIONS_ENABLE 1
#define CONFIG_COMPILER_ASSERT_NDEBUG_EVALUATE 1
