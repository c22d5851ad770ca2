// ESP-IDF's <freertos/FreeRTOSConfig.h> on the QEMU board: the kernel's
// configuration (boards/QEMU_RV32/FreeRTOSConfig.h), which ESP-IDF code such
// as esp_task.h includes by this name.
#pragma once

#include <FreeRTOSConfig.h>
