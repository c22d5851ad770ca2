// What the virtual board's sdkconfig.h sets otherwise than the firmware of the
// board each chip stands for, on purpose. make check-idf applies these to the
// sdkconfig.h ESP-IDF's kconfgen makes for that firmware before it compares the
// two (mk/check_host_config.py): nothing else may differ. None changes a heap's
// layout, a block's size or a task's statistics.
#pragma once

// ESP-IDF's assertions stay on: on every host run they check heaptrack's use of
// ESP-IDF's heap. The firmware builds without them (MicroPython's
// sdkconfig.base, CONFIG_COMPILER_OPTIMIZATION_ASSERTIONS_DISABLE).
#undef CONFIG_COMPILER_OPTIMIZATION_ASSERTIONS_DISABLE
#define CONFIG_COMPILER_OPTIMIZATION_ASSERTIONS_ENABLE 1

// ESP-IDF's log at INFO, into the virtual board's console file, where the chip
// tests read heap_init's lines. The firmware logs errors only (sdkconfig.base).
#undef CONFIG_LOG_DEFAULT_LEVEL_ERROR
#undef CONFIG_LOG_DEFAULT_LEVEL
#define CONFIG_LOG_DEFAULT_LEVEL_INFO 1
#define CONFIG_LOG_DEFAULT_LEVEL 3
