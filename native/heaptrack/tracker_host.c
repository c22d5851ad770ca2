// The hosted tracker: a model of ESP-IDF's heap task tracking
// (components/heap/heap_task_info.c) on top of the host's malloc.
//
// What it models: named heap regions with caps and sizes, placement in the
// first region whose caps match and whose capacity holds the block, TLSF's
// rounding of block sizes, and per task / per heap current, peak, allocation
// count and live blocks, with deleted tasks kept (CONFIG_HEAP_TRACK_DELETED_TASKS).
//
// Where it differs on purpose: ESP-IDF walks linked lists on every malloc and
// free. Here a task's record is reached through the thread's identity, a block
// through an open-addressing hash map keyed by address, and the block record
// sits in front of the bytes handed out (one host allocation per block), so
// malloc and free are O(1) however many blocks are live. Blocks carry a
// sequence number instead of list links: a free then touches no other block
// (list neighbours are cache misses once many blocks are live), and a snapshot
// recovers allocation order by sorting, which only reports pay for.
//
// Plain C99 + pthreads: no MicroPython headers, so the C unit tests link it alone.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   // syscall(), for the main-thread check
#endif
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

#include "tracker_host.h"

// ESP-IDF registers a handful of heaps; eight leaves room for SPIRAM and RTC.
#define MAX_HEAPS (8)
#define HEAP_NAME_LEN (16)

// Handles look like ESP32-S3 DRAM addresses of TCBs. The main thread's identity
// always takes the first one, so it sorts last among tasks as main does on a
// device (whose TCB is allocated before the tasks it starts).
#define HANDLE_MAIN ((ht_task_t)0x3fc80000u)
#define HANDLE_STEP ((ht_task_t)0x160u)

// The block record is a prefix of the host allocation; keeping it a multiple of
// 16 keeps the address handed out as aligned as the host's malloc made it.
#define BLOCK_ALIGN (16)
#define BLOCK_HDR_SIZE ((sizeof(block_t) + BLOCK_ALIGN - 1) & ~(size_t)(BLOCK_ALIGN - 1))

#define TABLE_MIN_SLOTS (64)

typedef struct {
    char name[HEAP_NAME_LEN];
    uint32_t caps;
    size_t size;
    size_t used;   // sum of the recorded sizes of the blocks placed here
    size_t peak_used;
    unsigned sl_log2;
} region_t;

typedef struct block block_t;
typedef struct heap_rec heap_rec_t;

// One task's use of one region (ESP-IDF's heap_stats_t).
struct heap_rec {
    ht_host_task_t *task;
    ht_block_t *cursor;   // where a snapshot writes this heap's next block
    size_t current;
    size_t peak;
    size_t alloc_count;
    uint8_t region;
};

// A live block (ESP-IDF's alloc_stats_t), stored just before its bytes.
struct block {
    heap_rec_t *owner;   // the allocating task's record, whoever frees it; NULL untracked
    uint64_t seq;        // allocation order
    uint32_t size;       // recorded (TLSF) size, not the request
    uint8_t region;
};

struct ht_host_task {
    char name[HT_TASK_NAME_LEN];
    ht_task_t handle;
    bool alive;
    bool recorded;   // allocated at least once: part of every report from then on
    bool lazy;       // made up for an unbound thread; nobody outside holds it
    size_t current;
    size_t peak;
    size_t heap_count;
    int8_t slot_of[MAX_HEAPS];   // region index -> index in heaps, or -1
    heap_rec_t heaps[MAX_HEAPS]; // in order of first use
    ht_host_task_t *rec_next;    // recorded tasks, by decreasing handle
    ht_host_task_t *all_prev;    // every identity, so a reset can free them
    ht_host_task_t *all_next;
};

// A thread's identity is only valid while its generation is current: a reset
// frees every identity and bumps the generation instead of chasing threads.
typedef struct {
    ht_host_task_t *task;
    unsigned long generation;
} thread_ident_t;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static bool g_once_done;   // skips pthread_once's call on the hot path
static pthread_key_t g_exit_key;
static bool g_exit_key_ok;

static bool g_loaded;
static bool g_config_bad;
static bool g_tracking = true;
static char g_detail[384];

static region_t g_regions[MAX_HEAPS];
static size_t g_region_count;

static ht_host_task_t *g_tasks;   // recorded tasks, by decreasing handle
static ht_host_task_t *g_all;     // every identity
static size_t g_identity_count;
static unsigned long g_generation = 1;
static ht_task_t g_next_handle = HANDLE_MAIN + HANDLE_STEP;

// Live blocks by address: linear probing over a power-of-two table of block
// pointers. The key (the address handed out) is computed from the pointer, so
// probing never reads the blocks themselves.
static block_t **g_table;
static size_t g_table_mask;   // slots - 1
static unsigned g_table_bits;
static size_t g_table_count;
static uint64_t g_next_seq;

static __thread thread_ident_t t_ident;

/******************************************************************************/
// TLSF block sizes

static unsigned fls_size(size_t x) {
    return 63u - (unsigned)__builtin_clzll((unsigned long long)x);
}

// ESP-IDF sizes TLSF's second-level index by the heap (tlsf_fit_size): the
// smaller the heap, the fewer and so coarser the size classes per power of two.
// A request from small_block_size up is rounded up to its size class, a smaller
// one to 4 bytes with a 12-byte minimum (the smallest block on a 32-bit target).
static unsigned tlsf_sl_log2(size_t heap_size) {
    return heap_size <= 16 * 1024 ? 3 : heap_size <= 256 * 1024 ? 4 : 5;
}

// Written without data-dependent branches: it is on every malloc's path, and
// mixed small and large requests would otherwise mispredict.
static inline size_t tlsf_block_size(size_t request, unsigned sl_log2) {
    // A size class of request >= small_block_size = 2^(sl_log2 + 2) spans
    // 2^(fls - sl_log2) bytes; below that, classes are 4 bytes apart.
    unsigned fls = fls_size(request | 1);
    unsigned shift = fls > sl_log2 + 2 ? fls - sl_log2 : 2;
    size_t round = ((size_t)1 << shift) - 1;
    if (request > SIZE_MAX - round) {
        return SIZE_MAX;   // fits no heap; still >= request
    }
    size_t size = (request + round) & ~round;
    return size < 12 ? 12 : size;
}

size_t ht_host_block_size(size_t request, size_t heap_size) {
    return tlsf_block_size(request, tlsf_sl_log2(heap_size));
}

/******************************************************************************/
// Heap layout

static bool parse_number(const char *s, size_t len, uint32_t *out) {
    unsigned base = 10;
    if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
        len -= 2;
    }
    if (len == 0) {
        return false;
    }
    uint64_t value = 0;
    for (size_t i = 0; i < len; ++i) {
        char c = s[i];
        unsigned digit;
        if (c >= '0' && c <= '9') {
            digit = (unsigned)(c - '0');
        } else if (base == 16 && c >= 'a' && c <= 'f') {
            digit = (unsigned)(c - 'a' + 10);
        } else if (base == 16 && c >= 'A' && c <= 'F') {
            digit = (unsigned)(c - 'A' + 10);
        } else {
            return false;
        }
        value = value * base + digit;
        if (value > UINT32_MAX) {
            return false;
        }
    }
    *out = (uint32_t)value;
    return true;
}

static bool valid_name(const char *s, size_t len) {
    if (len == 0 || len >= HEAP_NAME_LEN) {
        return false;
    }
    for (size_t i = 0; i < len; ++i) {
        if (s[i] <= ' ' || s[i] > '~') {
            return false;
        }
    }
    return true;
}

// Why one NAME:CAPS:SIZE entry is bad, or NULL if it is good.
static const char *parse_entry(const char *entry, size_t len, region_t *region) {
    const char *colon1 = memchr(entry, ':', len);
    const char *colon2 = colon1 ? memchr(colon1 + 1, ':', len - (size_t)(colon1 + 1 - entry)) : NULL;
    if (len == 0) {
        return "empty entry";
    }
    if (colon2 == NULL || memchr(colon2 + 1, ':', len - (size_t)(colon2 + 1 - entry)) != NULL) {
        return "not NAME:CAPS:SIZE";
    }
    size_t name_len = (size_t)(colon1 - entry);
    const char *caps = colon1 + 1;
    size_t caps_len = (size_t)(colon2 - caps);
    const char *size = colon2 + 1;
    size_t size_len = len - (size_t)(size - entry);
    uint32_t value;
    if (!valid_name(entry, name_len)) {
        return "NAME must be 1 to 15 printable characters without spaces";
    }
    if (!parse_number(caps, caps_len, &value) || value == 0) {
        return "CAPS must be a nonzero 32-bit number, decimal or 0x hex";
    }
    region->caps = value;
    if (!parse_number(size, size_len, &value) || value == 0) {
        return "SIZE must be a byte count from 1 to 4294967295, decimal or 0x hex";
    }
    region->size = value;
    region->sl_log2 = tlsf_sl_log2(value);
    memcpy(region->name, entry, name_len);
    region->name[name_len] = '\0';
    region->used = 0;
    region->peak_used = 0;
    return NULL;
}

static void set_detail(const char *origin, const char *entry, size_t len, const char *why) {
    const char *dots = "";
    if (len > 64) {
        len = 64;
        dots = "...";
    }
    snprintf(g_detail, sizeof(g_detail),
        "%s: bad entry \"%.*s%s\" (%s); expected comma-separated NAME:CAPS:SIZE entries, "
        "at most %d, e.g. \"%s\"",
        origin, (int)len, entry, dots, why, MAX_HEAPS, HT_HOST_DEFAULT_HEAPS);
}

// Replaces the layout with spec's; on error no region exists and every call
// reports HT_ERR_CONFIG until the next reset.
static void load_layout(const char *spec, const char *origin) {
    region_t regions[MAX_HEAPS];
    size_t count = 0;
    g_loaded = true;
    g_config_bad = true;
    g_region_count = 0;
    if (*spec == '\0') {
        snprintf(g_detail, sizeof(g_detail),
            "%s is empty; expected comma-separated NAME:CAPS:SIZE entries, e.g. \"%s\"",
            origin, HT_HOST_DEFAULT_HEAPS);
        return;
    }
    for (const char *entry = spec;;) {
        const char *end = strchr(entry, ',');
        size_t len = end ? (size_t)(end - entry) : strlen(entry);
        if (count == MAX_HEAPS) {
            set_detail(origin, entry, len, "one heap too many");
            return;
        }
        const char *why = parse_entry(entry, len, &regions[count]);
        if (why != NULL) {
            set_detail(origin, entry, len, why);
            return;
        }
        ++count;
        if (end == NULL) {
            break;
        }
        entry = end + 1;
    }
    memcpy(g_regions, regions, count * sizeof(region_t));
    g_region_count = count;
    g_config_bad = false;
    g_detail[0] = '\0';
}

// HEAPTRACK_TRACKING=0 models a firmware built without heap task tracking:
// the heaps still work, statistics are unsupported.
static void load_tracking(void) {
    const char *env = getenv(HT_HOST_TRACKING_ENV);
    g_tracking = env == NULL || strcmp(env, "0") != 0;
}

static void load_configured_layout(void) {
    load_tracking();
    const char *env = getenv(HT_HOST_HEAPS_ENV);
    if (env != NULL) {
        load_layout(env, HT_HOST_HEAPS_ENV);
    } else {
        load_layout(HT_HOST_DEFAULT_HEAPS, "default heap layout");
    }
}

/******************************************************************************/
// Identities

static void on_thread_exit(void *ident_in);

static void init_once(void) {
    // Without the key, finished threads would stay ALIVE; nothing else breaks.
    g_exit_key_ok = pthread_key_create(&g_exit_key, on_thread_exit) == 0;
    __atomic_store_n(&g_once_done, true, __ATOMIC_RELEASE);
}

// Takes the lock, loading the layout at first use. False if it is invalid.
static bool lock(void) {
    if (!__atomic_load_n(&g_once_done, __ATOMIC_ACQUIRE)) {
        pthread_once(&g_once, init_once);
    }
    pthread_mutex_lock(&g_lock);
    if (!g_loaded) {
        load_configured_layout();
    }
    return !g_config_bad;
}

static void unlock(void) {
    pthread_mutex_unlock(&g_lock);
}

static bool is_main_thread(void) {
    #if defined(__linux__)
    return syscall(SYS_gettid) == getpid();
    #elif defined(__APPLE__)
    return pthread_main_np() != 0;
    #else
    // Best effort elsewhere: the first thread that asks.
    static bool seen;
    static pthread_t main_thread;
    if (!seen) {
        seen = true;
        main_thread = pthread_self();
    }
    return pthread_equal(main_thread, pthread_self());
    #endif
}

static ht_host_task_t *identity_new(const char *name, ht_task_t handle, bool lazy) {
    ht_host_task_t *task = calloc(1, sizeof(*task));
    if (task == NULL) {
        return NULL;
    }
    size_t len = name ? strlen(name) : 0;
    if (len > HT_TASK_NAME_LEN - 1) {
        len = HT_TASK_NAME_LEN - 1;
    }
    if (len > 0) {
        memcpy(task->name, name, len);
    }
    task->handle = handle;
    task->alive = true;
    task->lazy = lazy;
    memset(task->slot_of, -1, sizeof(task->slot_of));
    task->all_next = g_all;
    if (g_all != NULL) {
        g_all->all_prev = task;
    }
    g_all = task;
    ++g_identity_count;
    return task;
}

static void identity_free(ht_host_task_t *task) {
    if (task->all_prev != NULL) {
        task->all_prev->all_next = task->all_next;
    } else {
        g_all = task->all_next;
    }
    if (task->all_next != NULL) {
        task->all_next->all_prev = task->all_prev;
    }
    --g_identity_count;
    free(task);
}

// The thread no longer runs as task: it is DELETED from now on. An identity
// made up on the fly that never allocated leaves no trace, so it goes.
static void retire(ht_host_task_t *task) {
    task->alive = false;
    if (task->lazy && !task->recorded) {
        identity_free(task);
    }
}

static void on_thread_exit(void *ident_in) {
    thread_ident_t *ident = ident_in;
    pthread_mutex_lock(&g_lock);
    if (ident->task != NULL && ident->generation == g_generation) {
        retire(ident->task);
    }
    ident->task = NULL;
    pthread_mutex_unlock(&g_lock);
}

static void bind_identity(ht_host_task_t *task) {
    t_ident.task = task;
    t_ident.generation = g_generation;
    // The key's destructor is what marks the task DELETED when the thread ends.
    if (g_exit_key_ok) {
        pthread_setspecific(g_exit_key, &t_ident);
    }
}

// The calling thread's identity, made up if it has none (or a stale one).
static ht_host_task_t *current_identity(void) {
    if (t_ident.task != NULL && t_ident.generation == g_generation) {
        return t_ident.task;
    }
    bool main_thread = is_main_thread();
    ht_host_task_t *task = identity_new(main_thread ? "mp_task" : "mp_thread",
        main_thread ? HANDLE_MAIN : g_next_handle, true);
    if (task == NULL) {
        return NULL;
    }
    if (!main_thread) {
        g_next_handle += HANDLE_STEP;
    }
    bind_identity(task);
    return task;
}

ht_host_task_t *ht_host_task_new(const char *name) {
    lock();
    ht_host_task_t *task = identity_new(name, g_next_handle, false);
    if (task != NULL) {
        g_next_handle += HANDLE_STEP;
    }
    unlock();
    return task;
}

ht_task_t ht_host_task_handle(const ht_host_task_t *task) {
    return task->handle;
}

void ht_host_task_bind(ht_host_task_t *task) {
    if (task == NULL) {
        return;
    }
    lock();
    if (t_ident.task != NULL && t_ident.generation == g_generation && t_ident.task != task) {
        retire(t_ident.task);
    }
    bind_identity(task);
    unlock();
}

ht_task_t ht_current_task(void) {
    lock();
    ht_host_task_t *task = current_identity();
    ht_task_t handle = task ? task->handle : 0;
    unlock();
    return handle;
}

bool ht_track_deleted(void) {
    lock();
    bool tracking = g_tracking;
    unlock();
    return tracking;
}

const char *ht_error_detail(void) {
    lock();
    unlock();
    return g_detail;
}

/******************************************************************************/
// Address map

static inline void *block_address(const block_t *block) {
    return (char *)block + BLOCK_HDR_SIZE;
}

static inline size_t table_home(const void *address) {
    // Fibonacci hashing of the address; the low 4 bits are always zero.
    uint64_t key = (uint64_t)(uintptr_t)address >> 4;
    return (size_t)((key * 0x9e3779b97f4a7c15ull) >> (64 - g_table_bits));
}

static void table_put(block_t **table, size_t mask, block_t *block) {
    size_t i = table_home(block_address(block));
    while (table[i] != NULL) {
        i = (i + 1) & mask;
    }
    table[i] = block;
}

// Makes room for one more entry. The load stays at most 1/4: probe runs stay
// short, and 8 to 16 bytes of table per live block are little next to a block.
static bool table_reserve(void) {
    size_t slots = g_table ? g_table_mask + 1 : 0;
    if ((g_table_count + 1) * 4 <= slots) {
        return true;
    }
    size_t new_slots = slots ? slots * 2 : TABLE_MIN_SLOTS;
    block_t **table = calloc(new_slots, sizeof(block_t *));
    if (table == NULL) {
        return false;
    }
    unsigned bits = 0;
    while (((size_t)1 << bits) < new_slots) {
        ++bits;
    }
    g_table_bits = bits;
    for (size_t i = 0; i < slots; ++i) {
        if (g_table[i] != NULL) {
            table_put(table, new_slots - 1, g_table[i]);
        }
    }
    free(g_table);
    g_table = table;
    g_table_mask = new_slots - 1;
    return true;
}

// Removes and returns the live block at address, or NULL.
static block_t *table_take(const void *address) {
    if (g_table == NULL) {
        return NULL;
    }
    size_t i = table_home(address);
    block_t *block;
    while ((block = g_table[i]) != NULL && block_address(block) != address) {
        i = (i + 1) & g_table_mask;
    }
    if (block == NULL) {
        return NULL;
    }
    // Backward-shift deletion: pull later entries of the probe run into the
    // hole unless that would move them before their home slot.
    for (size_t j = i;;) {
        j = (j + 1) & g_table_mask;
        block_t *next = g_table[j];
        if (next == NULL) {
            break;
        }
        size_t home = table_home(block_address(next));
        if (((j - home) & g_table_mask) >= ((j - i) & g_table_mask)) {
            g_table[i] = next;
            i = j;
        }
    }
    g_table[i] = NULL;
    --g_table_count;
    return block;
}

/******************************************************************************/
// Accounting

static void record_task(ht_host_task_t *task) {
    ht_host_task_t **link = &g_tasks;
    while (*link != NULL && (*link)->handle > task->handle) {
        link = &(*link)->rec_next;
    }
    task->rec_next = *link;
    *link = task;
    task->recorded = true;
}

static heap_rec_t *task_heap(ht_host_task_t *task, size_t region) {
    int slot = task->slot_of[region];
    if (slot < 0) {
        slot = (int)task->heap_count++;
        task->slot_of[region] = (int8_t)slot;
        heap_rec_t *heap = &task->heaps[slot];
        memset(heap, 0, sizeof(*heap));
        heap->task = task;
        heap->region = (uint8_t)region;
    }
    return &task->heaps[slot];
}

// The region a request goes to, as heap_caps_malloc picks it, or -1.
static int place(size_t size, uint32_t caps, size_t *block_size) {
    for (size_t i = 0; i < g_region_count; ++i) {
        const region_t *region = &g_regions[i];
        if ((region->caps & caps) != caps) {
            continue;
        }
        size_t needed = tlsf_block_size(size, region->sl_log2);
        if (needed <= region->size - region->used) {
            *block_size = needed;
            return (int)i;
        }
    }
    return -1;
}

// task is NULL when tracking is off: the block then only occupies its region.
static void charge(ht_host_task_t *task, size_t region, block_t *block, size_t size) {
    block->owner = NULL;
    block->seq = g_next_seq++;
    block->size = (uint32_t)size;
    block->region = (uint8_t)region;
    region_t *placed = &g_regions[region];
    placed->used += size;
    if (placed->used > placed->peak_used) {
        placed->peak_used = placed->used;
    }
    if (task == NULL) {
        return;
    }
    if (!task->recorded) {
        record_task(task);
    }
    heap_rec_t *heap = task_heap(task, region);
    block->owner = heap;
    heap->current += size;
    heap->alloc_count += 1;
    if (heap->current > heap->peak) {
        heap->peak = heap->current;
    }
    task->current += size;
    if (task->current > task->peak) {
        task->peak = task->current;
    }
}

// Frees never lower peaks, and the block leaves its owner's record whoever frees it.
static void discharge(block_t *block) {
    g_regions[block->region].used -= block->size;
    heap_rec_t *heap = block->owner;
    if (heap == NULL) {
        return;
    }
    heap->current -= block->size;
    heap->alloc_count -= 1;
    heap->task->current -= block->size;
}

void *ht_malloc(size_t size, uint32_t caps) {
    if (size == 0 || size > SIZE_MAX - BLOCK_HDR_SIZE) {
        return NULL;
    }
    if (!lock()) {
        unlock();
        return NULL;
    }
    // The host allocation happens only once the model has room for the block,
    // so a refused request touches nothing.
    size_t block_size = 0;
    int region = place(size, caps, &block_size);
    bool placed = region >= 0;
    ht_host_task_t *task = NULL;
    if (placed && g_tracking) {
        task = current_identity();
        placed = task != NULL;
    }
    block_t *block = NULL;
    if (placed && table_reserve()) {
        block = malloc(BLOCK_HDR_SIZE + size);
    }
    if (block == NULL) {
        g_detail[0] = '\0';   // nothing to add to "no room"
        unlock();
        return NULL;
    }
    charge(task, (size_t)region, block, block_size);
    table_put(g_table, g_table_mask, block);
    ++g_table_count;
    unlock();
    return block_address(block);
}

// The model has no fragmentation: a region's free bytes are one block.
ht_err_t ht_region_info(ht_region_info_t *regions, size_t max, size_t *count) {
    if (!lock()) {
        unlock();
        return HT_ERR_CONFIG;
    }
    for (size_t i = 0; i < g_region_count && i < max; i++) {
        const region_t *region = &g_regions[i];
        regions[i] = (ht_region_info_t) {
            .name = region->name,
            .caps = region->caps,
            .start = 0,
            .total_size = region->size,
            .free_size = region->size - region->used,
            .largest_free_block = region->size - region->used,
            .minimum_free_size = region->size - region->peak_used,
        };
    }
    *count = g_region_count;
    unlock();
    return HT_OK;
}

ht_err_t ht_ready(void) {
    bool usable = lock();
    unlock();
    return usable ? HT_OK : HT_ERR_CONFIG;
}

ht_err_t ht_free(void *address) {
    if (!lock()) {
        unlock();
        return HT_ERR_CONFIG;
    }
    block_t *block = address ? table_take(address) : NULL;
    if (block != NULL) {
        discharge(block);
    }
    unlock();
    if (block == NULL) {
        return HT_ERR_NOT_FOUND;
    }
    free(block);
    return HT_OK;
}

// Frees every live block; the lock is held.
static size_t free_all_locked(void) {
    size_t count = 0;
    for (size_t i = 0; g_table != NULL && i <= g_table_mask; ++i) {
        block_t *block = g_table[i];
        if (block != NULL) {
            g_table[i] = NULL;
            discharge(block);
            free(block);
            ++count;
        }
    }
    g_table_count = 0;
    return count;
}

ht_err_t ht_free_all(size_t *count) {
    if (!lock()) {
        unlock();
        return HT_ERR_CONFIG;
    }
    size_t freed = free_all_locked();
    unlock();
    if (count != NULL) {
        *count = freed;
    }
    return HT_OK;
}

/******************************************************************************/
// Snapshots

typedef struct {
    uint64_t seq;
    const block_t *block;
} order_t;

static int order_compare(const void *a_in, const void *b_in) {
    const order_t *a = a_in, *b = b_in;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

// Copies the live blocks of the selected tasks to their heaps' cursors, in
// allocation order. False if there is no memory to sort them.
static bool copy_blocks(bool all, ht_task_t handle, size_t n_blocks) {
    if (n_blocks == 0) {
        return true;
    }
    order_t *order = malloc(n_blocks * sizeof(order_t));
    if (order == NULL) {
        return false;
    }
    size_t n = 0;
    for (size_t i = 0; i <= g_table_mask; ++i) {
        const block_t *block = g_table[i];
        if (block != NULL && (all || block->owner->task->handle == handle)) {
            order[n].seq = block->seq;
            order[n].block = block;
            ++n;
        }
    }
    qsort(order, n, sizeof(order_t), order_compare);
    for (size_t i = 0; i < n; ++i) {
        const block_t *block = order[i].block;
        ht_block_t *out = block->owner->cursor++;
        out->task = block->owner->task->handle;
        out->address = block_address(block);
        out->size = block->size;
    }
    free(order);
    return true;
}

// Storage layout: tasks, then heap stats, then blocks, then one heap name per
// heap stat (so a snapshot stays valid across a layout reset).
ht_err_t ht_snapshot_take(ht_snapshot_t *snap, bool all, ht_task_t handle, bool with_blocks) {
    memset(snap, 0, sizeof(*snap));
    if (!lock()) {
        unlock();
        return HT_ERR_CONFIG;
    }
    if (!g_tracking) {
        snprintf(g_detail, sizeof(g_detail), "heap task tracking is off in this firmware "
            "(%s=0; on ESP32: rebuild with CONFIG_HEAP_TASK_TRACKING=y)", HT_HOST_TRACKING_ENV);
        unlock();
        return HT_ERR_UNSUPPORTED;
    }
    size_t n_tasks = 0, n_heaps = 0, n_blocks = 0;
    for (ht_host_task_t *task = g_tasks; task != NULL; task = task->rec_next) {
        if (all || task->handle == handle) {
            n_tasks += 1;
            n_heaps += task->heap_count;
            for (size_t h = 0; with_blocks && h < task->heap_count; ++h) {
                n_blocks += task->heaps[h].alloc_count;
            }
        }
    }
    if (!all && n_tasks == 0) {
        unlock();
        return HT_ERR_NOT_FOUND;
    }
    // Counts are bounded by live host memory, so these products cannot overflow.
    size_t heaps_at = n_tasks * sizeof(ht_task_stat_t);
    size_t blocks_at = heaps_at + n_heaps * sizeof(ht_heap_stat_t);
    size_t names_at = blocks_at + n_blocks * sizeof(ht_block_t);
    size_t total = names_at + n_heaps * HEAP_NAME_LEN;
    char *storage = NULL;
    if (total > 0) {
        storage = malloc(total);
        if (storage == NULL) {
            unlock();
            return HT_ERR_NO_MEM;
        }
    }
    ht_task_stat_t *task_out = (ht_task_stat_t *)(void *)storage;
    ht_heap_stat_t *heap_out = (ht_heap_stat_t *)(void *)(storage + heaps_at);
    ht_block_t *block_out = (ht_block_t *)(void *)(storage + blocks_at);
    char *name_out = storage + names_at;
    for (ht_host_task_t *task = g_tasks; task != NULL; task = task->rec_next) {
        if (!all && task->handle != handle) {
            continue;
        }
        memcpy(task_out->name, task->name, HT_TASK_NAME_LEN);
        task_out->handle = task->handle;
        task_out->is_alive = task->alive;
        task_out->overall_peak_usage = task->peak;
        task_out->overall_current_usage = task->current;
        task_out->heap_count = task->heap_count;
        task_out->heap_stat = heap_out;
        for (size_t h = 0; h < task->heap_count; ++h) {
            heap_rec_t *heap = &task->heaps[h];
            const region_t *region = &g_regions[heap->region];
            memcpy(name_out, region->name, HEAP_NAME_LEN);
            heap_out->name = name_out;
            name_out += HEAP_NAME_LEN;
            heap_out->caps = region->caps;
            heap_out->size = region->size;
            heap_out->current_usage = heap->current;
            heap_out->peak_usage = heap->peak;
            heap_out->alloc_count = heap->alloc_count;
            heap_out->blocks = NULL;
            if (with_blocks) {
                heap_out->blocks = block_out;
                heap->cursor = block_out;
                block_out += heap->alloc_count;
            }
            ++heap_out;
        }
        ++task_out;
    }
    if (with_blocks && !copy_blocks(all, handle, n_blocks)) {
        unlock();
        free(storage);
        return HT_ERR_NO_MEM;
    }
    unlock();
    snap->task_count = n_tasks;
    snap->tasks = (ht_task_stat_t *)(void *)storage;
    snap->storage = storage;
    return HT_OK;
}

void ht_snapshot_release(ht_snapshot_t *snap) {
    if (snap != NULL) {
        free(snap->storage);
        memset(snap, 0, sizeof(*snap));
    }
}

/******************************************************************************/
// Test knobs

ht_err_t ht_host_reset(const char *spec) {
    lock();
    free_all_locked();
    free(g_table);
    g_table = NULL;
    g_table_mask = 0;
    g_table_bits = 0;
    while (g_all != NULL) {
        identity_free(g_all);
    }
    g_tasks = NULL;
    // Threads still holding an identity find it stale and make a new one.
    ++g_generation;
    if (spec != NULL) {
        load_tracking();
        load_layout(spec, "heap layout");
    } else {
        load_configured_layout();
    }
    ht_err_t err = g_config_bad ? HT_ERR_CONFIG : HT_OK;
    unlock();
    return err;
}

size_t ht_host_heap_used(size_t index) {
    lock();
    size_t used = index < g_region_count ? g_regions[index].used : 0;
    unlock();
    return used;
}

size_t ht_host_identity_count(void) {
    lock();
    size_t count = g_identity_count;
    unlock();
    return count;
}
