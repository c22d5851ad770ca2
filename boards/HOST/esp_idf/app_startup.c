// ESP-IDF's application start-up (components/freertos/app_startup.c) for the
// firmware: the task `main`, created before the scheduler runs (so charged to
// Pre-scheduler), enables the start-up stacks' heap and calls app_main().
// Apart from chip.c so that only a program that calls host_start_app() (the
// firmware) needs an app_main.

#include <stdio.h>
#include <stdlib.h>

#include "esp_heap_caps_init.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"

#include "host_chip.h"
#include "host_shim.h"

// ESP-IDF's main task (components/freertos/app_startup.c): the start-up
// stacks become heap, a chip with PSRAM sets internal memory aside for DMA
// (host_chip.h), then the application runs; a task must not return.
static void main_task(void *arg) {
    (void)arg;
    heap_caps_enable_nonos_stack_heaps();
    if (host_chip.main_task_start != NULL) {
        host_chip.main_task_start();
    }
    app_main();
    vTaskDelete(NULL);
}

// esp_startup_start_app: `main` with ESP_TASK_MAIN_STACK bytes of stack at
// ESP_TASK_MAIN_PRIO on ESP_TASK_MAIN_CORE (esp_task.h).
#define CHIP_MAIN_TASK_STACK CONFIG_ESP_MAIN_TASK_STACK_SIZE
#define CHIP_MAIN_TASK_PRIO 1
void host_start_app(void) {
    if (xTaskCreatePinnedToCore(main_task, "main", CHIP_MAIN_TASK_STACK, NULL, CHIP_MAIN_TASK_PRIO,
        NULL, CONFIG_ESP_MAIN_TASK_AFFINITY) != pdPASS) {
        fprintf(stderr, "virtual %s: start-up: cannot create the main task\n", host_chip.name);
        exit(2);
    }
    host_scheduler_run();
}
