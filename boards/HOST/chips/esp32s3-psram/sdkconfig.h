// sdkconfig.h of the virtual ESP32-S3 with octal PSRAM (`--chip esp32s3
// --psram`): heaptrack's ESP32_S3 firmware in MicroPython's SPIRAM_OCT variant
// (its fragments add sdkconfig.240mhz and sdkconfig.spiram_oct), on a module
// with 8 MiB of octal PSRAM, which the shim maps and ESP-IDF adds to the heap
// (../esp32s3/layout.c). Checked as ../esp32s3/sdkconfig.h is.
#pragma once

#include "../esp32s3/sdkconfig.h"

#undef CONFIG_SPIRAM_MODE_QUAD
#define CONFIG_SPIRAM_MODE_OCT 1
#define CONFIG_ESP32S3_DATA_CACHE_LINE_32B 1
#define CONFIG_ESP32S3_DATA_CACHE_LINE_SIZE 32

// Not a CONFIG_ value: the module has PSRAM (the shim maps it).
#define HOST_CHIP_PSRAM 1
