// FreeRTOS mutexes on the host: see FreeRTOS.h and freertos.c.
#pragma once

#include "freertos/FreeRTOS.h"

typedef struct {
    pthread_mutex_t mutex;
} StaticSemaphore_t;
typedef StaticSemaphore_t *SemaphoreHandle_t;

SemaphoreHandle_t xSemaphoreCreateMutexStatic(StaticSemaphore_t *buffer);
BaseType_t xSemaphoreTake(SemaphoreHandle_t semaphore, TickType_t ticks_to_wait);
BaseType_t xSemaphoreGive(SemaphoreHandle_t semaphore);
