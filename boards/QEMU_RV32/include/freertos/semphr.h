// ESP-IDF's <freertos/semphr.h> on the QEMU board: upstream's, as is.
#pragma once

#include "freertos/FreeRTOS.h"
#include <queue.h>
#include <semphr.h>
