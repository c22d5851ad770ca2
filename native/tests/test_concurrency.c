// Many tasks at once: allocations, frees and snapshots racing, and
// free_all racing free.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/******************************************************************************/
// Concurrency: tasks and threads allocate, free each other's blocks, take
// snapshots and region figures at once; afterwards every block is where it
// should be and ESP-IDF's heaps are intact.

#define STRESS_THREADS (6)
#define STRESS_OPS (6000)
#define STRESS_LIVE (64)
#define STRESS_SHARED (16)

typedef struct {
    unsigned seed;
    void *live[STRESS_LIVE];
    size_t mallocs, frees, failures;
    TaskHandle_t handle;
    TaskHandle_t parent;
} stress_t;

static void *g_shared[STRESS_SHARED];   // blocks handed between threads
static int g_stress_done;

static unsigned next_random(unsigned *state) {
    unsigned x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

static void stress_run(stress_t *s) {
    static const uint32_t caps[] = {
        HT_CAP_DEFAULT, HT_CAP_8BIT, HT_CAP_DMA, HT_CAP_32BIT, HT_CAP_EXEC, MALLOC_CAP_RTCRAM, HT_CAP_SPIRAM,
    };
    for (int op = 0; op < STRESS_OPS; ++op) {
        unsigned r = next_random(&s->seed);
        unsigned slot = (r >> 8) % STRESS_LIVE;
        switch (r % 8) {
            case 0: {
                // Swap with the shared pool; free what comes back (another thread's block).
                void *mine = s->live[slot];
                s->live[slot] = NULL;
                void *theirs = __atomic_exchange_n(&g_shared[(r >> 16) % STRESS_SHARED], mine, __ATOMIC_SEQ_CST);
                if (theirs != NULL) {
                    CHECK(ht_free(theirs) == HT_OK);
                    s->frees++;
                }
                break;
            }
            case 1:
            case 2:
            case 3:
                if (s->live[slot] != NULL) {
                    CHECK(ht_free(s->live[slot]) == HT_OK);
                    s->live[slot] = NULL;
                    s->frees++;
                }
                break;
            default:
                if (s->live[slot] == NULL) {
                    size_t size = 1 + (r >> 12) % 400;
                    // Caps heaptrack.malloc refuses on this chip (CAP_EXEC) are the API's to refuse.
                    const char *why;
                    uint32_t c = caps[(r >> 20) % (sizeof(caps) / sizeof(caps[0]))];
                    s->live[slot] = try_malloc(size, (c & ht_caps_refused(&why)) ? HT_CAP_DEFAULT : c);
                    if (s->live[slot] != NULL) {
                        memset(s->live[slot], 0xa5, size);
                        s->mallocs++;
                    } else {
                        s->failures++;
                    }
                }
                break;
        }
    }
}

static void stress_task(void *arg) {
    stress_t *s = arg;
    stress_run(s);
    xTaskNotifyGive(s->parent);
    ulTaskNotifyTake(pdTRUE, portMAX_DELAY);   // deleted here
}

static void *stress_thread(void *arg) {
    stress_run(arg);
    return NULL;
}

static void *observer_main(void *arg) {
    size_t *taken = arg;
    while (!__atomic_load_n(&g_stress_done, __ATOMIC_SEQ_CST)) {
        #if HT_TEST_TRACKING
        ht_snapshot_t snap;
        ht_err_t err = ht_snapshot_take(&snap, true, 0, true);
        CHECK(err == HT_OK || err == HT_ERR_NO_MEM || err == HT_ERR_BUSY);
        if (err == HT_OK) {
            check_snapshot(&snap, true);
        }
        ht_snapshot_release(&snap);
        #endif
        ht_region_info_t r[MAX_REGIONS];
        size_t n;
        CHECK(ht_region_info(r, MAX_REGIONS, &n) == HT_OK && n >= 4);
        __atomic_add_fetch(taken, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

void test_concurrency(void) {
    static stress_t s[STRESS_THREADS];
    pthread_t threads[STRESS_THREADS];
    memset(s, 0, sizeof(s));
    memset(g_shared, 0, sizeof(g_shared));
    __atomic_store_n(&g_stress_done, 0, __ATOMIC_SEQ_CST);
    pthread_t observer;
    size_t observed = 0;
    CHECK(pthread_create(&observer, NULL, observer_main, &observed) == 0);
    // The workers start once the observer has looked once: on a loaded machine
    // they could otherwise all finish before it first runs.
    while (__atomic_load_n(&observed, __ATOMIC_SEQ_CST) == 0) {
        vTaskDelay(1);
    }
    for (int k = 0; k < STRESS_THREADS; ++k) {
        s[k].seed = 0x9e3779b9u * (unsigned)(k + 1);
        s[k].parent = xTaskGetCurrentTaskHandle();
        if (k % 2 == 0) {
            char name[HT_TASK_NAME_LEN];
            snprintf(name, sizeof(name), "stress%u", (unsigned)k % 10);
            CHECK(xTaskCreate(stress_task, name, 4096, &s[k], 5, &s[k].handle) == pdPASS);
        } else {
            CHECK(pthread_create(&threads[k], NULL, stress_thread, &s[k]) == 0);
        }
    }
    size_t mallocs = 0, frees = 0, failures = 0;
    for (int k = 0; k < STRESS_THREADS; ++k) {
        if (k % 2 == 0) {
            ulTaskNotifyTake(pdFALSE, portMAX_DELAY);   // one of the tasks is done (count one)
        } else {
            pthread_join(threads[k], NULL);
        }
    }
    for (int k = 0; k < STRESS_THREADS; k += 2) {
        vTaskDelete(s[k].handle);
    }
    __atomic_store_n(&g_stress_done, 1, __ATOMIC_SEQ_CST);
    pthread_join(observer, NULL);
    for (int k = 0; k < STRESS_THREADS; ++k) {
        mallocs += s[k].mallocs;
        frees += s[k].frees;
        failures += s[k].failures;
    }
    CHECK(mallocs > 3000 && frees > 1500 && failures > 0 && observed > 0);
    CHECK(heap_caps_check_integrity_all(true));

    size_t held = 0;
    for (int k = 0; k < STRESS_THREADS; ++k) {
        for (int i = 0; i < STRESS_LIVE; ++i) {
            held += s[k].live[i] != NULL;
        }
    }
    for (int i = 0; i < STRESS_SHARED; ++i) {
        held += g_shared[i] != NULL;
    }
    CHECK(mallocs - frees == held);
    #if HT_TEST_TRACKING
    // Every block still held is listed exactly once, under a deleted task.
    ht_snapshot_t snap = take(true);
    check_snapshot(&snap, true);
    for (int k = 0; k < STRESS_THREADS; ++k) {
        for (int i = 0; i < STRESS_LIVE; ++i) {
            if (s[k].live[i] != NULL) {
                CHECK(block_listed(&snap, s[k].live[i]) == 1);
            }
        }
    }
    ht_snapshot_release(&snap);
    #endif
    for (int k = 0; k < STRESS_THREADS; ++k) {
        for (int i = 0; i < STRESS_LIVE; ++i) {
            CHECK(s[k].live[i] == NULL || ht_free(s[k].live[i]) == HT_OK);
        }
    }
    for (int i = 0; i < STRESS_SHARED; ++i) {
        CHECK(g_shared[i] == NULL || ht_free(g_shared[i]) == HT_OK);
    }
    size_t count = 99;
    CHECK(ht_free_all(&count) == HT_OK && count == 0);
    CHECK(heap_caps_check_integrity_all(true));
}

// ht_free_all racing ht_free: each block is freed exactly once, by one of them.
typedef struct {
    void **blocks;
    size_t from, to;
    size_t freed;
} free_race_t;

static void *free_race_main(void *arg) {
    free_race_t *r = arg;
    for (size_t k = r->from; k < r->to; ++k) {
        ht_err_t err = ht_free(r->blocks[k]);
        CHECK(err == HT_OK || err == HT_ERR_NO_BLOCK);
        r->freed += err == HT_OK;
    }
    return NULL;
}

static void *free_all_main(void *arg) {
    size_t *count = arg;
    CHECK(ht_free_all(count) == HT_OK);
    return NULL;
}

void test_free_all_races_free(void) {
    enum { N = 600, THREADS = 3 };
    static void *blocks[N];
    for (int round = 0; round < 10; ++round) {
        for (size_t k = 0; k < N; ++k) {
            blocks[k] = try_malloc(8 + k % 32, HT_CAP_DEFAULT);
            CHECK(blocks[k] != NULL);
        }
        free_race_t r[THREADS];
        pthread_t t[THREADS + 2];
        size_t all_count[2] = { 0, 0 };
        for (int k = 0; k < THREADS; ++k) {
            r[k] = (free_race_t){ .blocks = blocks, .from = (size_t)k * N / THREADS, .to = (size_t)(k + 1) * N / THREADS };
            CHECK(pthread_create(&t[k], NULL, free_race_main, &r[k]) == 0);
        }
        CHECK(pthread_create(&t[THREADS], NULL, free_all_main, &all_count[0]) == 0);
        CHECK(pthread_create(&t[THREADS + 1], NULL, free_all_main, &all_count[1]) == 0);
        size_t freed = 0;
        for (int k = 0; k < THREADS + 2; ++k) {
            pthread_join(t[k], NULL);
            freed += k < THREADS ? r[k].freed : 0;
        }
        CHECK(freed + all_count[0] + all_count[1] == N);
        size_t count = 99;
        CHECK(ht_free_all(&count) == HT_OK && count == 0);
    }
    CHECK(heap_caps_check_integrity_all(true));
}
