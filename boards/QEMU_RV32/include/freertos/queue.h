// ESP-IDF's <freertos/queue.h> on the QEMU board: upstream's, as is.
#pragma once

#include "freertos/FreeRTOS.h"
#include <queue.h>
