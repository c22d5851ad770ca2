// Differential test of heaptrack's two trackers on ESP-IDF's real heap: one
// library with ESP-IDF's heap task tracking AND its heap hooks on
// (esp_idf.mk TRACKING=1 HOOKS=1), tracker_idf.c as is, and tracker_hooks.c
// beside it with its API renamed hk_* (native/tests/Makefile). Every
// allocation and free is seen by both: ESP-IDF records it inside the allocator,
// the hooks tracker in the hooks. Random workloads (seeded; many tasks,
// cross-task frees, aligned and zeroed blocks, task deletion and TCB reuse,
// heaps filled until they refuse) run, and after every step the two trackers'
// statistics must be identical, field by field, block by block, in the same
// order: every task, and every task alone.
//
// Known differences, by design (docs/hooks-tracker.md, "What hooks cannot
// see"), which the workloads steer clear of, and which known_differences()
// shows are still exactly what the documentation says:
//   - realloc that moves a block within its heap: ESP-IDF's heap calls only
//     the allocation hook, so the hooks tracker keeps the old block charged
//     to its owner until the heap hands that address out again;
//   - a block freed on one core while its owner allocates in the same heap on
//     the other: until the free hook runs the freed block still counts, and
//     can raise the owner's peak (a TCB freed by the idle task while its
//     creator starts the next task). It takes two cores and a preemption in
//     a window of a few instructions, which no workload here can arrange;
//     host_tests/test_tracker_diff.py waits for every free's hook instead.
//
//   test_tracker_diff [SEEDS [STEPS]]
//
// The process re-executes itself once with a small PSRAM heap (128 KiB, so that
// filling it leaves ESP-IDF's records room in its biggest heap, the internal RAM).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

// tracker_hooks.c, compiled with -Dht_<name>=hk_<name>.
ht_err_t hk_snapshot_take(ht_snapshot_t *snap, bool all, ht_task_t task, bool with_blocks);
void hk_snapshot_release(ht_snapshot_t *snap);
ht_err_t hk_malloc(size_t size, uint32_t caps, void **address);
ht_err_t hk_free(void *address);
const char *hk_err_text(ht_err_t err);

#define DIFF_PSRAM_REGIONS "SPIRAM:0x3c000000:131072"

static unsigned g_seed;
static unsigned g_step;

// Every failed check says where in which workload (harness.h's check_context).
static const char *seed_and_step(void) {
    static char where[48];
    snprintf(where, sizeof(where), "seed %u step %u: ", g_seed, g_step);
    return where;
}

static unsigned g_rng;
static unsigned rnd(unsigned n) {
    g_rng = g_rng * 1103515245u + 12345u;
    return ((g_rng >> 8) & 0xffffff) % n;
}

/******************************************************************************/
// Workers (harness.h): heap calls as other firmware code makes them, and
// heaptrack.malloc on either tracker.

static void hk_malloc_op(op_t *op) {
    (void)hk_malloc(op->size, op->caps, &op->address);   // NULL if refused
}

static bool diff_worker_start(worker_t *w, unsigned n) {
    char name[16];
    snprintf(name, sizeof(name), "w%u", n);
    return worker_start(w, name) != 0;
}

/******************************************************************************/
// Comparing the trackers.

static bool same_str(const char *a, const char *b) {
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void compare_tasks(const ht_task_stat_t *a, const ht_task_stat_t *b, bool with_blocks) {
    CHECK(strcmp(a->name, b->name) == 0);
    CHECK(a->handle == b->handle);
    CHECK(a->is_alive == b->is_alive);
    CHECK(a->overall_current_usage == b->overall_current_usage);
    CHECK(a->overall_peak_usage == b->overall_peak_usage);
    CHECK(a->heap_count == b->heap_count);
    if (a->heap_count != b->heap_count) {
        return;
    }
    for (size_t h = 0; h < a->heap_count; ++h) {
        const ht_heap_stat_t *x = &a->heap_stat[h], *y = &b->heap_stat[h];
        CHECK(same_str(x->name, y->name));
        CHECK(x->caps == y->caps);
        CHECK(x->size == y->size);
        CHECK(x->current_usage == y->current_usage);
        CHECK(x->peak_usage == y->peak_usage);
        CHECK(x->alloc_count == y->alloc_count);
        if (with_blocks && x->alloc_count == y->alloc_count) {
            CHECK(x->blocks != NULL && y->blocks != NULL);
            for (size_t k = 0; x->blocks != NULL && y->blocks != NULL && k < x->alloc_count; ++k) {
                CHECK(x->blocks[k].address == y->blocks[k].address);
                CHECK(x->blocks[k].size == y->blocks[k].size);
                CHECK(x->blocks[k].task == y->blocks[k].task);
            }
        }
    }
}

static size_t g_compared;
static size_t g_no_room;

static void dump(const char *who, const ht_snapshot_t *s) {
    fprintf(stderr, "  %s:\n", who);
    for (size_t t = 0; t < s->task_count; ++t) {
        const ht_task_stat_t *ts = &s->tasks[t];
        fprintf(stderr, "    %-15s %08lx %s cur %zu peak %zu heaps %zu\n", ts->name, (unsigned long)ts->handle,
            ts->is_alive ? "alive" : "DEAD ", ts->overall_current_usage, ts->overall_peak_usage, ts->heap_count);
        for (size_t h = 0; h < ts->heap_count; ++h) {
            const ht_heap_stat_t *hs = &ts->heap_stat[h];
            fprintf(stderr, "      %s %08lx size %zu cur %zu peak %zu count %zu:", hs->name, (unsigned long)hs->caps,
                hs->size, hs->current_usage, hs->peak_usage, hs->alloc_count);
            for (size_t b = 0; hs->blocks != NULL && b < hs->alloc_count && b < 8; ++b) {
                fprintf(stderr, " %p/%lu", hs->blocks[b].address, (unsigned long)hs->blocks[b].size);
            }
            fprintf(stderr, "\n");
        }
    }
}

static void compare(bool all, ht_task_t task, bool with_blocks) {
    ht_snapshot_t a, b;
    ht_err_t ea = ht_snapshot_take(&a, all, task, with_blocks);
    ht_err_t eb = hk_snapshot_take(&b, all, task, with_blocks);
    if ((ea == HT_ERR_NO_MEM || ea == HT_ERR_BUSY) && eb == HT_OK) {
        // ESP-IDF found no room for its arrays in its biggest heap (the
        // workload's blocks and its own records share it), or its records
        // kept changing through every try: nothing to compare.
        g_no_room += 1;
        ht_snapshot_release(&a);
        hk_snapshot_release(&b);
        return;
    }
    CHECK(ea == eb);
    if (ea != eb && g_checks_failed < 3) {
        fprintf(stderr, "  ESP-IDF: %d (%s), hooks: %d (%s)\n", ea, ht_err_text(ea), eb, hk_err_text(eb));
    }
    if (ea == HT_OK && eb == HT_OK) {
        CHECK(a.task_count == b.task_count);
        CHECK(b.untracked == 0);
        int before = g_checks_failed;
        for (size_t t = 0; t < a.task_count && t < b.task_count; ++t) {
            compare_tasks(&a.tasks[t], &b.tasks[t], with_blocks);
        }
        if (g_checks_failed != before && before == 0) {
            dump("ESP-IDF's tracker", &a);
            dump("hooks tracker", &b);
        }
        g_compared += 1;
    }
    ht_snapshot_release(&a);
    hk_snapshot_release(&b);
}

// Every task together, then each task alone (by every handle recorded).
static void compare_all(void) {
    compare(true, 0, true);
    compare(true, 0, false);
    ht_snapshot_t a;
    if (ht_snapshot_take(&a, true, 0, false) == HT_OK) {
        for (size_t t = 0; t < a.task_count; ++t) {
            compare(false, a.tasks[t].handle, t % 2 == 0);
        }
        ht_snapshot_release(&a);
    }
    compare(false, 0x12345678, true);   // nobody's
}

/******************************************************************************/
// The workload.

#define WORKERS 12
#define LIVE 192

typedef struct {
    void *address;
} live_t;

static const uint32_t g_caps[] = {
    MALLOC_CAP_DEFAULT, MALLOC_CAP_8BIT, MALLOC_CAP_INTERNAL | MALLOC_CAP_8BIT, MALLOC_CAP_DMA,
    MALLOC_CAP_32BIT, MALLOC_CAP_RTCRAM, MALLOC_CAP_SPIRAM,
};

static unsigned g_started;

static void run_seed(unsigned seed, unsigned steps, bool psram) {
    g_seed = seed;
    g_rng = seed;
    static worker_t workers[WORKERS];
    static live_t live[LIVE];
    memset(live, 0, sizeof(live));
    for (unsigned i = 0; i < WORKERS; ++i) {
        CHECK(diff_worker_start(&workers[i], g_started++));
    }
    for (g_step = 0; g_step < steps; ++g_step) {
        unsigned what = rnd(100);
        worker_t *w = &workers[rnd(WORKERS)];
        if (what < 45) {
            // An allocation, somewhere live has room.
            unsigned slot = rnd(LIVE);
            if (live[slot].address != NULL) {
                op_t op = { .kind = OP_HEAP_FREE, .address = live[slot].address };
                worker_run(w, &op);   // freed by whoever is at hand
                live[slot].address = NULL;
            }
            uint32_t caps = g_caps[rnd(psram ? 7 : 6)];
            size_t size = 1 + rnd(rnd(8) == 0 ? 4000 : 300);
            op_t op = { .kind = OP_HEAP_MALLOC, .size = size, .caps = caps };
            unsigned flavour = rnd(10);
            op.kind = flavour == 0 ? OP_HEAP_CALLOC : flavour == 1 ? OP_HEAP_ALIGNED : flavour == 2 ? OP_MALLOC
                : flavour == 3 ? OP_CALL : OP_HEAP_MALLOC;
            op.call = hk_malloc_op;
            worker_run(w, &op);
            live[slot].address = op.address;
            if (op.address != NULL && (op.kind == OP_MALLOC || op.kind == OP_CALL)) {
                // Given back to the tracker that handed it out, by a plain free later
                // (both trackers see the heap's free; their registries are theirs).
                CHECK((op.kind == OP_MALLOC ? ht_free(op.address) : hk_free(op.address)) == HT_OK);
                live[slot].address = NULL;
            }
        } else if (what < 80) {
            // A free, by any task (the allocating one or another).
            unsigned slot = rnd(LIVE);
            if (live[slot].address != NULL) {
                op_t op = { .kind = OP_HEAP_FREE, .address = live[slot].address };
                worker_run(w, &op);
                live[slot].address = NULL;
            }
        } else if (what < 88) {
            // A task is deleted (its TCB freed: DELETED, its blocks stay its own)
            // and another takes its place, often in the same TCB.
            vTaskDelete(w->handle);
            CHECK(diff_worker_start(w, g_started++));
        } else if (what < 92) {
            // A heap filled until it refuses, then emptied again.
            uint32_t caps = psram && rnd(2) ? MALLOC_CAP_SPIRAM : MALLOC_CAP_RTCRAM;
            void *held[64];
            size_t n = 0;
            size_t size = 16384;
            while (n < 64 && size >= 64) {
                op_t op = { .kind = OP_HEAP_MALLOC, .size = size, .caps = caps };
                worker_run(&workers[rnd(WORKERS)], &op);
                if (op.address == NULL) {
                    size /= 2;
                } else {
                    held[n++] = op.address;
                }
            }
            compare_all();
            while (n > 0) {
                op_t op = { .kind = OP_HEAP_FREE, .address = held[--n] };
                worker_run(&workers[rnd(WORKERS)], &op);
            }
        } else if (what < 94) {
            // The main task allocates too, and frees a worker's block.
            unsigned slot = rnd(LIVE);
            if (live[slot].address != NULL) {
                heap_caps_free(live[slot].address);
            }
            live[slot].address = heap_caps_malloc(1 + rnd(200), MALLOC_CAP_DEFAULT);
        } else {
            compare_all();
        }
        compare(true, 0, true);
    }
    compare_all();
    for (unsigned i = 0; i < LIVE; ++i) {
        heap_caps_free(live[i].address);
        live[i].address = NULL;
    }
    for (unsigned i = 0; i < WORKERS; ++i) {
        vTaskDelete(workers[i].handle);
    }
    compare_all();
}

// The hooks tracker's block list of `task` in the heap holding `address`,
// and ESP-IDF's, differ only by `stale` (NULL: they do not differ).
static void check_only_stale(ht_task_t task, const void *stale, size_t stale_size) {
    ht_snapshot_t a, b;
    CHECK(ht_snapshot_take(&a, false, task, true) == HT_OK && hk_snapshot_take(&b, false, task, true) == HT_OK);
    if (a.task_count == 1 && b.task_count == 1) {
        const ht_task_stat_t *ta = &a.tasks[0], *tb = &b.tasks[0];
        size_t blocks_a = 0, blocks_b = 0, stale_seen = 0;
        for (size_t h = 0; h < ta->heap_count; ++h) {
            blocks_a += ta->heap_stat[h].alloc_count;
        }
        for (size_t h = 0; h < tb->heap_count; ++h) {
            blocks_b += tb->heap_stat[h].alloc_count;
            for (size_t k = 0; k < tb->heap_stat[h].alloc_count; ++k) {
                stale_seen += tb->heap_stat[h].blocks[k].address == stale && stale != NULL;
            }
        }
        CHECK(blocks_b == blocks_a + (stale != NULL));
        CHECK(stale_seen == (stale != NULL));
        CHECK(tb->overall_current_usage == ta->overall_current_usage + (stale != NULL ? stale_size : 0));
    }
    ht_snapshot_release(&a);
    hk_snapshot_release(&b);
}

// The first known difference (above), as documented: a realloc that moves a
// block leaves the old one in the hooks tracker's figures, and only there,
// until its address is handed out again; then the two agree.
static void known_differences(void) {
    ht_task_t me = (ht_task_t)xTaskGetCurrentTaskHandle();
    check_only_stale(me, NULL, 0);
    void *old = heap_caps_malloc(64, MALLOC_CAP_INTERNAL | MALLOC_CAP_8BIT);
    void *wall = heap_caps_malloc(64, MALLOC_CAP_INTERNAL | MALLOC_CAP_8BIT);   // so that it cannot grow in place
    CHECK(old != NULL && wall != NULL);
    size_t old_size = 0;
    ht_snapshot_t b;
    CHECK(hk_snapshot_take(&b, false, me, true) == HT_OK);
    for (size_t h = 0; h < b.task_count && h < b.tasks[0].heap_count; ++h) {
        for (size_t k = 0; k < b.tasks[0].heap_stat[h].alloc_count; ++k) {
            if (b.tasks[0].heap_stat[h].blocks[k].address == old) {
                old_size = b.tasks[0].heap_stat[h].blocks[k].size;
            }
        }
    }
    hk_snapshot_release(&b);
    void *moved = heap_caps_realloc(old, 4096, MALLOC_CAP_INTERNAL | MALLOC_CAP_8BIT);
    CHECK(moved != NULL && moved != old && old_size != 0);
    check_only_stale(me, old, old_size);
    // The heap hands the address out again (the same size, first fit): the
    // new block replaces the stale entry.
    void *again = heap_caps_malloc(64, MALLOC_CAP_INTERNAL | MALLOC_CAP_8BIT);
    CHECK(again == old);
    check_only_stale(me, NULL, 0);
    heap_caps_free(again);
    heap_caps_free(wall);
    heap_caps_free(moved);
    compare_all();
}

int main(int argc, char **argv) {
    check_context = seed_and_step;
    check_limit = 20;
    unsigned seeds = argc > 1 ? (unsigned)atoi(argv[1]) : 6;
    unsigned steps = argc > 2 ? (unsigned)atoi(argv[2]) : 400;
    bool psram = getenv("HEAPTRACK_IDF_REGIONS") != NULL;
    for (unsigned s = 1; s <= seeds; ++s) {
        run_seed(s * 7919u + (psram ? 1000u : 0u), steps, psram);
    }
    known_differences();
    printf("%s: %u seeds x %u steps%s: %zu snapshot pairs compared, %s (%zu not taken: ESP-IDF had no room)\n",
        argv[0], seeds, steps, psram ? " (with 128 KiB of PSRAM)" : "", g_compared,
        g_checks_failed ? "DIFFERENT" : "identical", g_no_room);
    CHECK(g_no_room * 20 < g_compared);
    if (g_checks_failed != 0) {
        return 1;
    }
    if (!psram) {
        fflush(stdout);
        setenv("HEAPTRACK_IDF_REGIONS", DIFF_PSRAM_REGIONS, 1);
        execv("/proc/self/exe", argv);
        perror("re-executing with PSRAM");
        return 1;
    }
    return 0;
}
