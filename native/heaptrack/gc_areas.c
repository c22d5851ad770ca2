// MicroPython's GC heap areas taken from and given back to ESP-IDF's heap
// (gc_areas.h).
#include <string.h>

#include "sdkconfig.h"
#include "esp_heap_caps.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#ifndef MULTI_HEAP_FREERTOS
#define MULTI_HEAP_FREERTOS
#endif
#include "heap_private.h"

#include "gc_areas.h"
#include "idf_heaps.h"

static ht_gc_event_t s_ring[HT_GC_EVENTS];
static uint32_t s_total;
// The live areas (the size of a block is not in MP_PLAT_FREE_HEAP's call).
static struct {
    uintptr_t address;
    size_t size;
} s_areas[HT_GC_AREAS];
static portMUX_TYPE s_lock = portMUX_INITIALIZER_UNLOCKED;

// ESP-IDF's largest free block with HT_GC_EVENT_CAPS, as heap_info() reads it.
static size_t largest_internal(void) {
    ht_idf_heap_t heaps[16];
    size_t n = ht_idf_heaps(heaps, sizeof(heaps) / sizeof(heaps[0]));
    size_t largest = 0;
    for (size_t i = 0; i < n && i < sizeof(heaps) / sizeof(heaps[0]); ++i) {
        if ((heaps[i].caps & HT_GC_EVENT_CAPS) != HT_GC_EVENT_CAPS) {
            continue;
        }
        size_t free_bytes, block;
        ht_idf_heap_free(&heaps[i], &free_bytes, &block);
        if (block > largest) {
            largest = block;
        }
    }
    return largest;
}

static void record(bool grew, void *area, size_t size, size_t before, size_t after) {
    ht_gc_event_t e;
    memset(&e, 0, sizeof(e));
    TaskHandle_t task = xTaskGetCurrentTaskHandle();
    e.task = (ht_task_t)task;
    const char *name = task != NULL ? pcTaskGetName(task) : NULL;
    if (name != NULL) {
        strncpy(e.task_name, name, sizeof(e.task_name) - 1);
    }
    e.ticks = xTaskGetTickCount();
    e.grew = grew;
    e.address = (uintptr_t)area;
    const soc_memory_type_desc_t *type = ht_idf_memory_type(e.address);
    e.heap = type != NULL ? type->name : "unknown";
    e.largest_before = before;
    e.largest_after = after;
    taskENTER_CRITICAL(&s_lock);
    for (size_t i = 0; i < HT_GC_AREAS; ++i) {
        if (grew ? s_areas[i].address == 0 : s_areas[i].address == e.address) {
            if (grew) {
                s_areas[i].address = e.address;
                s_areas[i].size = size;
            } else {
                size = s_areas[i].size;
                s_areas[i].address = 0;
            }
            break;
        }
    }
    e.size = size;
    for (size_t i = 0; i < HT_GC_AREAS; ++i) {
        if (s_areas[i].address != 0) {
            e.gc_areas += 1;
            e.gc_bytes += s_areas[i].size;
        }
    }
    s_total += 1;
    e.number = s_total;
    s_ring[(s_total - 1) % HT_GC_EVENTS] = e;
    taskEXIT_CRITICAL(&s_lock);
}

void *ht_gc_area_alloc(size_t size) {
    size_t before = largest_internal();
    void *area = heap_caps_malloc_default(size);
    if (area != NULL) {
        record(true, area, size, before, largest_internal());
    }
    return area;
}

void ht_gc_area_free(void *area) {
    if (area == NULL) {
        return;
    }
    size_t before = largest_internal();
    heap_caps_free(area);
    // Its size: what was recorded when it was taken (0 past HT_GC_AREAS areas).
    record(false, area, 0, before, largest_internal());
}

ht_err_t ht_gc_events_copy(ht_gc_event_t *out, size_t max, size_t *count, uint32_t *total, uint32_t *lost) {
    *count = 0;
    *total = 0;
    *lost = 0;
    ht_err_t err = ht_context_check();
    if (err != HT_OK) {
        return err;
    }
    taskENTER_CRITICAL(&s_lock);
    uint32_t held = s_total < HT_GC_EVENTS ? s_total : HT_GC_EVENTS;
    uint32_t first = s_total - held + 1;
    size_t n = 0;
    for (uint32_t number = first; number <= s_total && n < max; ++number) {
        out[n++] = s_ring[(number - 1) % HT_GC_EVENTS];
    }
    *count = n;
    *total = s_total;
    *lost = first - 1;
    taskEXIT_CRITICAL(&s_lock);
    return HT_OK;
}

uint64_t ht_gc_event_ms(const ht_gc_event_t *event) {
    return (uint64_t)event->ticks * 1000u / CONFIG_FREERTOS_HZ;
}
