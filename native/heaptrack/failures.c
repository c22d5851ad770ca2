// Failed ESP-IDF allocations (failures.h): ESP-IDF's failed-allocation
// callback, a ring of the newest HT_FAILURES, and the heaps' figures of each.

#include <string.h>

#include "sdkconfig.h"
#include "esp_heap_caps.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"

#include "failures.h"
#include "idf_heaps.h"

static ht_failure_t s_ring[HT_FAILURES];
static uint32_t s_total;       // failures since power-on or the last clear
static uint32_t s_reported;    // the newest a report has mentioned
static ht_gc_probe_t s_gc_probe;
static portMUX_TYPE s_lock = portMUX_INITIALIZER_UNLOCKED;

// Reads ESP-IDF's registry of heaps and their figures, which is flash code:
// called from the callback (in IRAM) only when it runs in a task, whose flash
// cache is on (ESP-IDF disables it only for a flash operation, during which no
// other task runs and the operating one does not allocate). The section name
// says so to make check-idf (mk/check_placement.py), which allows IRAM code to
// call flash code only in such a section.
#define HT_TASK_CONTEXT_ONLY(name) __attribute__((noinline, section(".text.task_context." #name)))

static HT_TASK_CONTEXT_ONLY(figures_take) void figures_take(ht_failure_t *f) {
    ht_idf_heap_t heaps[16];
    size_t n = ht_idf_heaps(heaps, sizeof(heaps) / sizeof(heaps[0]));
    n = n < sizeof(heaps) / sizeof(heaps[0]) ? n : sizeof(heaps) / sizeof(heaps[0]);
    f->heap_count = 0;
    // heap_caps_malloc's rules (v5.5, heap_caps_base.c): executable memory is
    // never byte- or DMA-addressable, whatever a heap's caps say, and is 32-bit.
    uint32_t caps = f->caps;
    if (caps & MALLOC_CAP_EXEC) {
        if (caps & (MALLOC_CAP_8BIT | MALLOC_CAP_DMA)) {
            n = 0;
        }
        caps |= MALLOC_CAP_32BIT;
    }
    for (size_t i = 0; i < n; ++i) {
        // The heaps heap_caps_malloc could have taken the block from: they
        // have every capability asked for (its priorities only order them).
        if (caps == 0 || (heaps[i].caps & caps) != caps) {
            continue;
        }
        if (f->heap_count < HT_FAILURE_HEAPS) {
            ht_failure_heap_t *h = &f->heaps[f->heap_count];
            const soc_memory_type_desc_t *type = ht_idf_memory_type(heaps[i].start);
            h->name = type != NULL ? type->name : "unknown";
            h->start = heaps[i].start;
            h->caps = heaps[i].caps;
            h->total = heaps[i].end - heaps[i].start;
            ht_idf_heap_free(&heaps[i], &h->free, &h->largest);
            h->gc = s_gc_probe != NULL ? s_gc_probe(heaps[i].start, heaps[i].end) : SIZE_MAX;
        }
        f->heap_count += 1;
    }
    f->gc_total = s_gc_probe != NULL ? s_gc_probe(0, UINTPTR_MAX) : SIZE_MAX;
}

// Into the ring, numbered, the oldest entry making way: field by field, as a
// struct copy (or a copying loop) may become a call to memcpy, which is in flash.
static void HEAP_IRAM_ATTR ring_put(const ht_failure_t *f) {
    taskENTER_CRITICAL(&s_lock);
    s_total += 1;
    ht_failure_t *slot = &s_ring[(s_total - 1) % HT_FAILURES];
    slot->number = s_total;
    slot->ticks = f->ticks;
    slot->task = f->task;
    volatile char *name = slot->task_name;   // volatile: a loop the compiler keeps as a loop
    for (size_t i = 0; i < HT_TASK_NAME_LEN; ++i) {
        name[i] = f->task_name[i];
    }
    slot->size = f->size;
    slot->caps = f->caps;
    slot->function = f->function;
    slot->in_isr = f->in_isr;
    slot->heap_count = f->heap_count;
    for (size_t i = 0; i < HT_FAILURE_HEAPS && i < f->heap_count; ++i) {
        slot->heaps[i].name = f->heaps[i].name;
        slot->heaps[i].start = f->heaps[i].start;
        slot->heaps[i].caps = f->heaps[i].caps;
        slot->heaps[i].total = f->heaps[i].total;
        slot->heaps[i].free = f->heaps[i].free;
        slot->heaps[i].largest = f->heaps[i].largest;
        slot->heaps[i].gc = f->heaps[i].gc;
    }
    slot->gc_total = f->gc_total;
    taskEXIT_CRITICAL(&s_lock);
}

// ESP-IDF's esp_alloc_failed_hook_t, called inside the failed heap_caps_* call.
static void HEAP_IRAM_ATTR failed_alloc(size_t size, uint32_t caps, const char *function) {
    ht_failure_t f;
    TaskHandle_t task = xTaskGetCurrentTaskHandle();
    f.task = (ht_task_t)task;
    // No name before the scheduler runs (no task: Pre-scheduler's, which the
    // module supplies), and none copied from a constant (it would be in flash).
    const char *name = task != NULL ? pcTaskGetName(task) : NULL;
    bool more = name != NULL;
    for (size_t i = 0; i < HT_TASK_NAME_LEN; ++i) {
        char c = more && i + 1 < HT_TASK_NAME_LEN ? name[i] : '\0';
        more = c != '\0';
        f.task_name[i] = c;
    }
    f.size = size;
    f.caps = caps;
    f.function = function;
    f.in_isr = xPortInIsrContext();
    f.ticks = f.in_isr ? xTaskGetTickCountFromISR() : xTaskGetTickCount();
    f.heap_count = 0;
    f.gc_total = SIZE_MAX;
    if (!f.in_isr) {
        figures_take(&f);
    }
    ring_put(&f);
}

void ht_failures_start(void) {
    heap_caps_register_failed_alloc_callback(failed_alloc);
}

// Before app_main (ESP-IDF runs constructors in do_global_ctors; the host at
// program start): failures from then on are recorded.
__attribute__((constructor)) static void failures_boot(void) {
    ht_failures_start();
}

void ht_failures_set_gc_probe(ht_gc_probe_t probe) {
    s_gc_probe = probe;
}

ht_err_t ht_failures_copy(ht_failure_t *out, size_t max, size_t *count, uint32_t *total, uint32_t *lost) {
    *count = 0;
    *total = 0;
    *lost = 0;
    ht_err_t err = ht_context_check();
    if (err != HT_OK) {
        return err;
    }
    taskENTER_CRITICAL(&s_lock);
    uint32_t held = s_total < HT_FAILURES ? s_total : HT_FAILURES;
    uint32_t first = s_total - held + 1;
    size_t n = 0;
    for (uint32_t number = first; number <= s_total && n < max; ++number) {
        out[n] = s_ring[(number - 1) % HT_FAILURES];
        out[n].ms = (uint64_t)out[n].ticks * 1000u / CONFIG_FREERTOS_HZ;
        n++;
    }
    *count = n;
    *total = s_total;
    *lost = first - 1;
    taskEXIT_CRITICAL(&s_lock);
    return HT_OK;
}

uint32_t ht_failures_newest(ht_failure_t *newest) {
    taskENTER_CRITICAL(&s_lock);
    uint32_t total = s_total;
    if (total != 0 && newest != NULL) {
        *newest = s_ring[(total - 1) % HT_FAILURES];
        newest->ms = (uint64_t)newest->ticks * 1000u / CONFIG_FREERTOS_HZ;
    }
    taskEXIT_CRITICAL(&s_lock);
    return total;
}

ht_err_t ht_failures_clear(void) {
    ht_err_t err = ht_context_check();
    if (err != HT_OK) {
        return err;
    }
    taskENTER_CRITICAL(&s_lock);
    s_total = 0;
    s_reported = 0;
    memset(s_ring, 0, sizeof(s_ring));
    taskEXIT_CRITICAL(&s_lock);
    return HT_OK;
}

uint32_t ht_failures_reported(void) {
    return s_reported;
}

void ht_failures_set_reported(uint32_t number) {
    s_reported = number;
}
