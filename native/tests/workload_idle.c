// See workload_idle.h. ESP-IDF's FreeRTOS API only (the host shim's and the
// QEMU board's both provide it), and heaptrack's tracker.h.
#include <stdio.h>
#include <string.h>

#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "esp_heap_caps.h"

#include "workload_idle.h"

#define KEPT_PER_TASK 3

typedef struct {
    unsigned index;
    TaskHandle_t creator;
    void *kept[KEPT_PER_TASK];
} idle_task_t;

static idle_task_t s_tasks[WORKLOAD_IDLE_TASKS];

// Task k: 2k + 3 blocks of sizes fixed by k, frees all but KEPT_PER_TASK,
// then deletes itself; its stack and TCB are freed after it stopped running.
// In RTC memory, a heap nothing else here uses: a block's size (TLSF rounds
// up where the rest is too small to split) depends on the heap's history,
// which then is this workload's alone, on the host as on the QEMU board.
static void idle_task_main(void *arg) {
    idle_task_t *t = arg;
    void *blocks[2 * WORKLOAD_IDLE_TASKS + 3];
    unsigned count = 2 * t->index + 3;
    for (unsigned j = 0; j < count; ++j) {
        (void)ht_malloc(16 + 8 * ((t->index + j) % 7), MALLOC_CAP_RTCRAM, &blocks[j]);   // NULL if refused
    }
    for (unsigned j = 0; j < count; ++j) {
        if (j < KEPT_PER_TASK) {
            t->kept[j] = blocks[j];
        } else if (blocks[j] != NULL) {
            ht_free(blocks[j]);
        }
    }
    xTaskNotifyGive(t->creator);
    vTaskDelete(NULL);
}

static bool is_workload(const ht_task_stat_t *task) {
    return strncmp(task->name, "idle_wl", 7) == 0;
}

static unsigned deleted_count(ht_snapshot_t *snap) {
    unsigned n = 0;
    for (size_t i = 0; i < snap->task_count; ++i) {
        n += is_workload(&snap->tasks[i]) && !snap->tasks[i].is_alive;
    }
    return n;
}

bool workload_idle_run(workload_idle_result_t *result, unsigned deadline_ms) {
    memset(result, 0, sizeof(*result));
    for (unsigned k = 0; k < WORKLOAD_IDLE_TASKS; ++k) {
        idle_task_t *t = &s_tasks[k];
        memset(t, 0, sizeof(*t));
        t->index = k;
        t->creator = xTaskGetCurrentTaskHandle();
        char name[16];
        snprintf(name, sizeof(name), "idle_wl%u", k);
        if (xTaskCreate(idle_task_main, name, 3 * 1024, t, 1, NULL) != pdPASS) {
            return false;
        }
        ulTaskNotifyTake(pdTRUE, portMAX_DELAY);
        result->tasks += 1;
    }
    // ESP-IDF marks a task DELETED when its TCB is freed: by the idle task on
    // FreeRTOS, some time after the task stopped.
    TickType_t start = xTaskGetTickCount();
    for (;;) {
        if (ht_snapshot_take(&result->snap, true, 0, true) != HT_OK) {
            return false;
        }
        result->deleted = deleted_count(&result->snap);
        if (result->deleted == WORKLOAD_IDLE_TASKS) {
            break;
        }
        ht_snapshot_release(&result->snap);
        if (xTaskGetTickCount() - start > pdMS_TO_TICKS(deadline_ms)) {
            return false;
        }
        vTaskDelay(1);
    }
    for (unsigned k = 0; k < WORKLOAD_IDLE_TASKS; ++k) {
        for (unsigned j = 0; j < KEPT_PER_TASK; ++j) {
            if (ht_free(s_tasks[k].kept[j]) != HT_OK) {
                return false;
            }
        }
    }
    return true;
}

void workload_idle_print(workload_idle_result_t *result) {
    const ht_snapshot_t *snap = &result->snap;
    // By name: ESP-IDF's order goes by handle, i.e. by where the TCBs landed.
    for (unsigned k = 0; k < WORKLOAD_IDLE_TASKS; ++k) {
        char name[16];
        snprintf(name, sizeof(name), "idle_wl%u", k);
        for (size_t i = 0; i < snap->task_count; ++i) {
            const ht_task_stat_t *task = &snap->tasks[i];
            if (strcmp(task->name, name) != 0) {
                continue;
            }
            printf("idle-stats: %s %s current %u peak %u heaps %u\n", task->name, task->is_alive ? "ALIVE" : "DELETED",
                (unsigned)task->overall_current_usage, (unsigned)task->overall_peak_usage, (unsigned)task->heap_count);
            for (size_t h = 0; h < task->heap_count; ++h) {
                const ht_heap_stat_t *heap = &task->heap_stat[h];
                printf("idle-stats:   heap %s size %u current %u peak %u blocks %u:", heap->name, (unsigned)heap->size,
                    (unsigned)heap->current_usage, (unsigned)heap->peak_usage, (unsigned)heap->alloc_count);
                for (size_t b = 0; heap->blocks != NULL && b < heap->alloc_count; ++b) {
                    printf(" %u", (unsigned)heap->blocks[b].size);
                }
                printf("\n");
            }
        }
    }
    ht_snapshot_release(&result->snap);
}
