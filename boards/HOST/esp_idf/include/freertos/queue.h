// FreeRTOS queues on the host: ESP-IDF's heap tests include this header
// (test_malloc.c) but use no queue; nothing else here needs one.
#pragma once

#include "freertos/FreeRTOS.h"
