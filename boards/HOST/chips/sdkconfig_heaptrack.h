// What every host chip's sdkconfig.h shares: ESP-IDF's defaults and
// boards/sdkconfig.heaptrack for the options below are the same on every chip
// (make check-idf checks each chip's file, this one included, against
// kconfgen). Included by <chip>/sdkconfig.h.
// HEAPTRACK_IDF_TRACKING=0 gives the same chip without heap task tracking: the
// "firmware without tracking" and the baseline of the benchmarks; with
// HEAPTRACK_IDF_HOOKS=1 as well, the firmware of heaptrack's hooks tracker.
#pragma once

// Heap (components/heap/Kconfig).
#define CONFIG_HEAP_POISONING_DISABLED 1
// HEAPTRACK_IDF_TRACING=1: ESP-IDF's standalone heap tracing with its hash map
// of the default size, for bench/bench_tracker.c's column of it (no firmware
// has it). No callers recorded: the default on the RISC-V chips (on Xtensa
// ESP-IDF records 2 by default, walking frames the host's -O2 code does not keep).
#if HEAPTRACK_IDF_TRACING
#define CONFIG_HEAP_TRACING_STANDALONE 1
#define CONFIG_HEAP_TRACING 1
#define CONFIG_HEAP_TRACE_HASH_MAP 1
#define CONFIG_HEAP_TRACE_HASH_MAP_SIZE 512
#define CONFIG_HEAP_TRACING_STACK_DEPTH 0
#else
#define CONFIG_HEAP_TRACING_OFF 1
#endif
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

// FreeRTOS.
#define CONFIG_FREERTOS_HZ 100
#define CONFIG_FREERTOS_MAX_TASK_NAME_LEN 16
// uxTaskGetSystemState, which esp32.idf_task_info() reads (boards/sdkconfig.heaptrack).
#define CONFIG_FREERTOS_USE_TRACE_FACILITY 1

// The task that calls app_main (components/esp_system/Kconfig defaults);
// MicroPython's esp32 port sets CONFIG_NEWLIB_NANO_FORMAT, so its stack has
// no TASK_EXTRA_STACK_SIZE (esp_task.h).
#define CONFIG_ESP_MAIN_TASK_STACK_SIZE 3584
#define CONFIG_ESP_MAIN_TASK_AFFINITY_CPU0 1
#define CONFIG_ESP_MAIN_TASK_AFFINITY 0x0
#define CONFIG_LIBC_NEWLIB_NANO_FORMAT 1
#define CONFIG_NEWLIB_NANO_FORMAT CONFIG_LIBC_NEWLIB_NANO_FORMAT

// Logging: at INFO (intended.h), into the virtual board's console file, where
// the chip tests read heap_init's lines; the firmware logs errors only.
#define CONFIG_LOG_DEFAULT_LEVEL_INFO 1
#define CONFIG_LOG_DEFAULT_LEVEL 3
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

// ESP-IDF's assertions on (intended.h): they check heaptrack's use of ESP-IDF's
// heap on every host run; the firmware builds without them.
#define CONFIG_COMPILER_OPTIMIZATION_ASSERTIONS_ENABLE 1
#define CONFIG_COMPILER_ASSERT_NDEBUG_EVALUATE 1

// mbedTLS (components/mbedtls/Kconfig, MicroPython's sdkconfig.base): what a
// TLS session allocates and where (../mbedtls/mbedtls_sdkconfig.h reads
// these): the C library's allocator, a 16 KiB input and 4 KiB output record
// buffer, the peer's certificate and session tickets kept.
#define CONFIG_MBEDTLS_DEFAULT_MEM_ALLOC 1
#define CONFIG_MBEDTLS_ASYMMETRIC_CONTENT_LEN 1
#define CONFIG_MBEDTLS_SSL_IN_CONTENT_LEN 16384
#define CONFIG_MBEDTLS_SSL_OUT_CONTENT_LEN 4096
#define CONFIG_MBEDTLS_SSL_KEEP_PEER_CERTIFICATE 1
#define CONFIG_MBEDTLS_TLS_ENABLED 1
#define CONFIG_MBEDTLS_SSL_RENEGOTIATION 1
#define CONFIG_MBEDTLS_CLIENT_SSL_SESSION_TICKETS 1
#define CONFIG_MBEDTLS_SERVER_SSL_SESSION_TICKETS 1
