// FreeRTOS tasks on the host: see FreeRTOS.h and freertos.c.
#pragma once

#include "freertos/FreeRTOS.h"

typedef struct tskTaskControlBlock *TaskHandle_t;
typedef void (*TaskFunction_t)(void *);

TaskHandle_t xTaskGetCurrentTaskHandle(void);
char *pcTaskGetName(TaskHandle_t task);
BaseType_t xTaskCreatePinnedToCore(TaskFunction_t code, const char *name, uint32_t stack_depth,
    void *parameters, UBaseType_t priority, TaskHandle_t *created, BaseType_t core_id);
void vTaskDelete(TaskHandle_t task);
void vTaskDelay(TickType_t ticks);
BaseType_t xTaskNotifyGive(TaskHandle_t task);
uint32_t ulTaskNotifyTake(BaseType_t clear_on_exit, TickType_t ticks_to_wait);

static inline BaseType_t xTaskCreate(TaskFunction_t code, const char *name, uint32_t stack_depth,
    void *parameters, UBaseType_t priority, TaskHandle_t *created) {
    return xTaskCreatePinnedToCore(code, name, stack_depth, parameters, priority, created, tskNO_AFFINITY);
}

// As ESP-IDF's task.h does through idf_additions.h.
#include "freertos/semphr.h"
