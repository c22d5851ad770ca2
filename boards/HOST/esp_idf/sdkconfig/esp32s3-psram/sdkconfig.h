// sdkconfig.h of the virtual ESP32-S3 with octal PSRAM (`--chip esp32s3
// --psram`): the ESP32-S3's configuration (../esp32s3/sdkconfig.h) plus
// MicroPython's PSRAM fragments as its ESP32_GENERIC_S3 SPIRAM_OCT variant
// applies them (ports/esp32/boards/sdkconfig.spiram_sx, then
// sdkconfig.spiram_oct). Values are what ESP-IDF's kconfgen writes for ESP-IDF's
// esp32s3 defaults + boards/sdkconfig.heaptrack + those two fragments.
#pragma once

#include "../esp32s3/sdkconfig.h"

// PSRAM (components/esp_psram/Kconfig): the layout's SPIRAM region and its
// reservation are compiled in; malloc() takes blocks above
// CONFIG_SPIRAM_MALLOC_ALWAYSINTERNAL bytes from PSRAM first.
#define CONFIG_SPIRAM 1
#define CONFIG_SPIRAM_MODE_OCT 1
#define CONFIG_SPIRAM_BOOT_INIT 1
#define CONFIG_SPIRAM_USE_MALLOC 1
#define CONFIG_SPIRAM_MALLOC_ALWAYSINTERNAL 8192
#define CONFIG_SPIRAM_MALLOC_RESERVE_INTERNAL 32768
#define CONFIG_ESP32S3_DATA_CACHE_LINE_32B 1
#define CONFIG_ESP32S3_DATA_CACHE_LINE_SIZE 32
