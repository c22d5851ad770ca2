// ESP-IDF's own view of its heap task tracking, as text, for the differential
// firmware (make HEAPTRACK_TRACKER=diff; boards/HOST/idf_oracle.c makes it the
// module _idf_oracle). There heaptrack's module reports through the hooks
// tracker while ESP-IDF's task tracking records the same allocations; the
// differential test compares the two. Not a chip or FreeRTOS facility: test
// equipment, built only with task tracking on (esp_idf.mk).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "esp_heap_task_info.h"

#include "host_shim.h"

// ESP-IDF's statistics in one line per record, by heap_caps_get_all_task_stat():
//   T <name>|<handle> <alive> <current> <peak> <heap count>
//   H <name>|<caps> <size> <current> <peak> <alloc count>
//   B <address> <size> <task>
// (numbers in hex). NULL when ESP-IDF cannot make its arrays.
static void stats_text(FILE *out) {
    heap_all_tasks_stat_t a;
    memset(&a, 0, sizeof(a));
    if (heap_caps_alloc_all_task_stat_arrays(&a) != ESP_OK || heap_caps_get_all_task_stat(&a) != ESP_OK) {
        fprintf(out, "ERROR ESP-IDF could not copy its statistics\n");
        heap_caps_free_all_task_stat_arrays(&a);
        return;
    }
    for (size_t t = 0; t < a.task_count; ++t) {
        const task_stat_t *ts = &a.stat_arr[t];
        fprintf(out, "T %s|%lx %d %lx %lx %lx\n", ts->name, (unsigned long)(uintptr_t)ts->handle,
            ts->is_alive ? 1 : 0, (unsigned long)ts->overall_current_usage,
            (unsigned long)ts->overall_peak_usage, (unsigned long)ts->heap_count);
        for (size_t h = 0; ts->heap_stat != NULL && h < ts->heap_count; ++h) {
            const heap_stat_t *hs = &ts->heap_stat[h];
            fprintf(out, "H %s|%lx %lx %lx %lx %lx\n", hs->name, (unsigned long)hs->caps,
                (unsigned long)hs->size, (unsigned long)hs->current_usage,
                (unsigned long)hs->peak_usage, (unsigned long)hs->alloc_count);
            for (size_t b = 0; hs->alloc_stat != NULL && b < hs->alloc_count; ++b) {
                const heap_task_block_t *blk = &hs->alloc_stat[b];
                fprintf(out, "B %lx %lx %lx\n", (unsigned long)(uintptr_t)blk->address,
                    (unsigned long)blk->size, (unsigned long)(uintptr_t)blk->task);
            }
        }
    }
    heap_caps_free_all_task_stat_arrays(&a);
}

char *host_oracle_text(int what, uintptr_t task, size_t *length) {
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (out == NULL) {
        return NULL;
    }
    switch (what) {
        case HOST_ORACLE_OVERVIEW:
            heap_caps_print_all_task_stat_overview(out);
            break;
        case HOST_ORACLE_DETAILS:
            heap_caps_print_all_task_stat(out);
            break;
        case HOST_ORACLE_OVERVIEW_ONE:
            heap_caps_print_single_task_stat_overview(out, (TaskHandle_t)task);
            break;
        case HOST_ORACLE_DETAILS_ONE:
            heap_caps_print_single_task_stat(out, (TaskHandle_t)task);
            break;
        default:
            stats_text(out);
            break;
    }
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    *length = len;
    return text;
}
