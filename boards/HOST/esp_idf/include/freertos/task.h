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

// What uxTaskGetSystemState reports of a task (CONFIG_FREERTOS_USE_TRACE_FACILITY).
typedef enum {
    eRunning = 0,
    eReady,
    eBlocked,
    eSuspended,
    eDeleted,
    eInvalid,
} eTaskState;

typedef struct {
    TaskHandle_t xHandle;
    const char *pcTaskName;
    UBaseType_t xTaskNumber;
    eTaskState eCurrentState;
    UBaseType_t uxCurrentPriority;
    UBaseType_t uxBasePriority;
    uint32_t ulRunTimeCounter;
    StackType_t *pxStackBase;
    uint32_t usStackHighWaterMark;
    BaseType_t xCoreID;
} TaskStatus_t;

UBaseType_t uxTaskGetNumberOfTasks(void);
UBaseType_t uxTaskGetSystemState(TaskStatus_t *status, UBaseType_t max, uint32_t *total_run_time);
void vTaskDelay(TickType_t ticks);
TickType_t xTaskGetTickCount(void);
TickType_t xTaskGetTickCountFromISR(void);
BaseType_t xTaskNotifyGive(TaskHandle_t task);
uint32_t ulTaskNotifyTake(BaseType_t clear_on_exit, TickType_t ticks_to_wait);

static inline BaseType_t xTaskCreate(TaskFunction_t code, const char *name, uint32_t stack_depth,
    void *parameters, UBaseType_t priority, TaskHandle_t *created) {
    return xTaskCreatePinnedToCore(code, name, stack_depth, parameters, priority, created, tskNO_AFFINITY);
}

// As ESP-IDF's task.h does through idf_additions.h.
#include "freertos/semphr.h"
