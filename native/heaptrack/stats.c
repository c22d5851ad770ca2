// TaskStat and HeapStat (see stats.h).
#include <string.h>

#include "py/objstr.h"
#include "py/objtuple.h"
#include "py/runtime.h"
#include "py/smallint.h"

#include "errors.h"
#include "stats.h"

// A TaskStat is a one-block view of a record: ht_task_stat_t, then its heaps,
// then the blocks of every heap that has them. task_stats() packs the records
// of many tasks into a few GC blocks (stores), because MicroPython's GC finds
// room for an object of two blocks or more by scanning from the first free
// block every time (gc_alloc moves its start only for one-block objects): an
// object of several blocks per task made a snapshot's time grow with the
// square of its tasks.
typedef struct {
    mp_obj_base_t base;
    void *store;                // the GC block holding *stat: the view keeps it alive
    ht_task_stat_t *stat;       // stat->heap_stat points just after it, in the store
} task_obj_t;

typedef struct {
    mp_obj_base_t base;
    task_obj_t *task;
    size_t index;
} heap_obj_t;

// A snapshot's first store holds up to STORE_FIRST bytes of records, each next
// one twice the last, up to STORE_MOST (a bigger record gets a store of its
// own): a few stores per snapshot, each found by one scan of the GC heap, and
// where the GC heap has no room for one, smaller ones (store_alloc).
#define STORE_FIRST 2048
#define STORE_MOST 8192

static const qstr task_fields[] = {
    MP_QSTR_name, MP_QSTR_handle, MP_QSTR_alive, MP_QSTR_current, MP_QSTR_peak, MP_QSTR_heaps,
};
static const qstr heap_fields[] = {
    MP_QSTR_name, MP_QSTR_caps, MP_QSTR_size, MP_QSTR_current, MP_QSTR_peak,
    MP_QSTR_alloc_count, MP_QSTR_blocks,
};
#define TASK_FIELDS MP_ARRAY_SIZE(task_fields)
#define HEAP_FIELDS MP_ARRAY_SIZE(heap_fields)

// Bytes of a record, rounded so that the next record in a store is aligned.
static size_t record_size(size_t heap_count, size_t block_count) {
    size_t bytes = sizeof(ht_task_stat_t) + heap_count * sizeof(ht_heap_stat_t) + block_count * sizeof(ht_block_t);
    return (bytes + sizeof(void *) - 1) & ~(sizeof(void *) - 1);
}

// An empty record of heap_count heaps at `at` (zeroed memory).
static ht_task_stat_t *record_init(void *at, size_t heap_count) {
    ht_task_stat_t *stat = at;
    stat->heap_count = heap_count;
    stat->heap_stat = heap_count > 0 ? (ht_heap_stat_t *)(void *)(stat + 1) : NULL;
    return stat;
}

static ht_block_t *record_blocks(ht_task_stat_t *stat) {
    return (ht_block_t *)(void *)((ht_heap_stat_t *)(void *)(stat + 1) + stat->heap_count);
}

static mp_obj_t new_view(void *store, ht_task_stat_t *stat) {
    task_obj_t *self = mp_obj_malloc(task_obj_t, &stats_task_type);
    self->store = store;
    self->stat = stat;
    return MP_OBJ_FROM_PTR(self);
}

// Heap names are few ("RAM", "SPIRAM", ...): one interned copy serves every
// TaskStat, and reading .name makes no new object.
static const char *interned(const char *name, size_t len) {
    return qstr_str(qstr_from_strn(name, len));
}

// The entries a heap's blocks take in a TaskStat: those it lists, and a NULL
// one after them when it counts more than it lists (ht_heap_block_count stops
// there, not in the next heap's blocks).
static size_t block_area(size_t listed, size_t alloc_count) {
    return listed + (listed < alloc_count ? 1 : 0);
}

// Copies a heap's listed blocks to *next (and the end mark block_area counts).
static void blocks_copy(ht_heap_stat_t *dst, const ht_block_t *blocks, size_t listed, ht_block_t **next) {
    if (listed == 0 && dst->alloc_count == 0) {
        dst->blocks = ht_no_blocks;
        return;
    }
    memmove(*next, blocks, listed * sizeof(ht_block_t));
    dst->blocks = *next;
    *next += listed;
    if (listed < dst->alloc_count) {
        memset(*next, 0, sizeof(ht_block_t));
        *next += 1;
    }
}

// The interned copies of the last few heap names a record_copy met, by the
// tracker's pointer to them: a snapshot names a few heaps for every task, and
// finding a name among the qstrs costs thousands of instructions each time.
#define NAME_CACHE 4
typedef struct {
    const char *from[NAME_CACHE];
    const char *to[NAME_CACHE];
    size_t next;
} name_cache_t;

static const char *interned_cached(name_cache_t *cache, const char *name) {
    for (size_t i = 0; i < NAME_CACHE; i++) {
        if (cache->from[i] == name) {
            return cache->to[i];
        }
    }
    size_t i = cache->next++ % NAME_CACHE;
    cache->from[i] = name;
    cache->to[i] = interned(name, strlen(name));
    return cache->to[i];
}

// The bytes a copy of *task takes in a store.
static size_t task_record_size(const ht_task_stat_t *task) {
    size_t block_count = 0;
    for (size_t h = 0; h < task->heap_count; h++) {
        const ht_heap_stat_t *heap = &task->heap_stat[h];
        if (heap->blocks != NULL) {
            block_count += block_area(ht_heap_block_count(heap), heap->alloc_count);
        }
    }
    return record_size(task->heap_count, block_count);
}

// Copies *task to `at` (zeroed, task_record_size(task) bytes); the cache
// serves one snapshot's copies (its names stay where they are meanwhile).
static void record_copy(void *at, const ht_task_stat_t *task, name_cache_t *names) {
    ht_task_stat_t *stat = record_init(at, task->heap_count);
    memcpy(stat->name, task->name, sizeof(stat->name));
    stat->name[sizeof(stat->name) - 1] = '\0';
    stat->handle = task->handle;
    stat->is_alive = task->is_alive;
    stat->overall_current_usage = task->overall_current_usage;
    stat->overall_peak_usage = task->overall_peak_usage;
    ht_block_t *next = record_blocks(stat);
    for (size_t h = 0; h < task->heap_count; h++) {
        const ht_heap_stat_t *src = &task->heap_stat[h];
        ht_heap_stat_t *dst = &stat->heap_stat[h];
        *dst = *src;
        dst->name = interned_cached(names, src->name);
        if (src->blocks != NULL) {
            blocks_copy(dst, src->blocks, ht_heap_block_count(src), &next);
        }
    }
}

mp_obj_t stats_new_task(const ht_task_stat_t *task) {
    void *store = m_malloc0(task_record_size(task));
    name_cache_t names = { 0 };
    record_copy(store, task, &names);
    return new_view(store, store);
}

// The records tasks[i], tasks[i + 1], ... that fit in `room` bytes (at least
// one): their count, and their bytes in *bytes.
static size_t store_fill(const ht_task_stat_t *tasks, size_t count, size_t i, size_t room, size_t *bytes) {
    *bytes = task_record_size(&tasks[i]);
    size_t end = i + 1;
    while (end < count) {
        size_t more = task_record_size(&tasks[end]);
        if (*bytes + more > room) {
            break;
        }
        *bytes += more;
        end++;
    }
    return end - i;
}

mp_obj_t stats_new_tasks(const ht_task_stat_t *tasks, size_t count) {
    mp_obj_t list = mp_obj_new_list(count, NULL);
    mp_obj_t *items = ((mp_obj_list_t *)MP_OBJ_TO_PTR(list))->items;
    for (size_t i = 0; i < count; i++) {
        items[i] = mp_const_none;
    }
    name_cache_t names = { 0 };
    size_t room = STORE_FIRST;
    for (size_t i = 0; i < count;) {
        size_t bytes;
        size_t n = store_fill(tasks, count, i, room, &bytes);
        // A failed try costs a collection: one record's store is tried once.
        uint8_t *store = n > 1 ? m_malloc_maybe(bytes) : m_malloc(bytes);
        while (store == NULL) {
            // No room in the GC heap for so many records together: fewer, down
            // to one (MemoryError when even that does not fit).
            room = bytes / 2;
            n = store_fill(tasks, count, i, room, &bytes);
            store = n > 1 ? m_malloc_maybe(bytes) : m_malloc(bytes);
        }
        memset(store, 0, bytes);
        room = MIN(room * 2, STORE_MOST);
        // Each view right after its store: one-block objects move the GC's
        // first free block along, so the next store's search starts near it.
        for (uint8_t *at = store, *end = store + bytes; at < end; i++) {
            record_copy(at, &tasks[i], &names);
            items[i] = new_view(store, (ht_task_stat_t *)(void *)at);
            at += task_record_size(&tasks[i]);
        }
    }
    return list;
}

const ht_task_stat_t *stats_task_get(mp_obj_t obj) {
    if (!mp_obj_is_type(obj, &stats_task_type)) {
        mp_raise_TypeError(MP_ERROR_TEXT("expected a heaptrack.TaskStat"));
    }
    return ((task_obj_t *)MP_OBJ_TO_PTR(obj))->stat;
}

/******************************************************************************/
// Fields as Python objects, made when read.

static mp_obj_t new_word(size_t value) {
    return mp_obj_new_int_from_uint(value);
}

static mp_obj_t new_heap_view(task_obj_t *task, size_t index) {
    heap_obj_t *view = mp_obj_malloc(heap_obj_t, &stats_heap_type);
    view->task = task;
    view->index = index;
    return MP_OBJ_FROM_PTR(view);
}

static mp_obj_t blocks_tuple(const ht_heap_stat_t *heap) {
    if (heap->blocks == NULL) {
        return mp_const_none;
    }
    size_t listed = ht_heap_block_count(heap);
    mp_obj_t tuple = mp_obj_new_tuple(listed, NULL);
    mp_obj_t *items = ((mp_obj_tuple_t *)MP_OBJ_TO_PTR(tuple))->items;
    for (size_t i = 0; i < listed; i++) {
        mp_obj_t pair[2] = {
            new_word((uintptr_t)heap->blocks[i].address),
            new_word(heap->blocks[i].size),
        };
        items[i] = mp_obj_new_tuple(2, pair);
    }
    return tuple;
}

static mp_obj_t task_field(task_obj_t *self, size_t i) {
    const ht_task_stat_t *t = self->stat;
    switch (i) {
        case 0:
            return mp_obj_new_str(t->name, strlen(t->name));
        case 1:
            return new_word(t->handle);
        case 2:
            return mp_obj_new_bool(t->is_alive);
        case 3:
            return new_word(t->overall_current_usage);
        case 4:
            return new_word(t->overall_peak_usage);
        default: {
            mp_obj_t heaps = mp_obj_new_tuple(t->heap_count, NULL);
            mp_obj_t *items = ((mp_obj_tuple_t *)MP_OBJ_TO_PTR(heaps))->items;
            for (size_t h = 0; h < t->heap_count; h++) {
                items[h] = new_heap_view(self, h);
            }
            return heaps;
        }
    }
}

static const ht_heap_stat_t *heap_of(const heap_obj_t *view) {
    return &view->task->stat->heap_stat[view->index];
}

static mp_obj_t heap_field(const heap_obj_t *view, size_t i) {
    const ht_heap_stat_t *h = heap_of(view);
    switch (i) {
        case 0:
            return mp_obj_new_str(h->name, strlen(h->name));
        case 1:
            return new_word(h->caps);
        case 2:
            return new_word(h->size);
        case 3:
            return new_word(h->current_usage);
        case 4:
            return new_word(h->peak_usage);
        case 5:
            return new_word(h->alloc_count);
        default:
            return blocks_tuple(h);
    }
}

static mp_obj_t task_tuple(task_obj_t *self) {
    mp_obj_t items[TASK_FIELDS];
    for (size_t i = 0; i < TASK_FIELDS; i++) {
        items[i] = task_field(self, i);
    }
    return mp_obj_new_tuple(TASK_FIELDS, items);
}

static mp_obj_t heap_tuple(const heap_obj_t *view) {
    mp_obj_t items[HEAP_FIELDS];
    for (size_t i = 0; i < HEAP_FIELDS; i++) {
        items[i] = heap_field(view, i);
    }
    return mp_obj_new_tuple(HEAP_FIELDS, items);
}

/******************************************************************************/
// repr: as a named tuple prints, with caps, handles and addresses in hex.

static void print_heap(const mp_print_t *print, const ht_heap_stat_t *h) {
    mp_print_str(print, "HeapStat(name=");
    mp_str_print_quoted(print, (const byte *)h->name, strlen(h->name), false);
    mp_printf(print, ", caps=0x%08lx, size=%lu, current=%lu, peak=%lu, alloc_count=%lu, blocks=",
        (unsigned long)h->caps, (unsigned long)h->size, (unsigned long)h->current_usage,
        (unsigned long)h->peak_usage, (unsigned long)h->alloc_count);
    if (h->blocks == NULL) {
        mp_print_str(print, "None)");
        return;
    }
    mp_print_str(print, "(");
    size_t listed = ht_heap_block_count(h);
    for (size_t i = 0; i < listed; i++) {
        mp_printf(print, "%s(0x%08lx, %lu)", i == 0 ? "" : ", ",
            (unsigned long)(uintptr_t)h->blocks[i].address, (unsigned long)h->blocks[i].size);
    }
    mp_print_str(print, listed == 1 ? ",))" : "))");
}

static void task_print(const mp_print_t *print, mp_obj_t self_in, mp_print_kind_t kind) {
    (void)kind;
    task_obj_t *self = MP_OBJ_TO_PTR(self_in);
    const ht_task_stat_t *t = self->stat;
    mp_print_str(print, "TaskStat(name=");
    mp_str_print_quoted(print, (const byte *)t->name, strlen(t->name), false);
    mp_printf(print, ", handle=0x%08lx, alive=%s, current=%lu, peak=%lu, heaps=(",
        (unsigned long)t->handle, t->is_alive ? "True" : "False",
        (unsigned long)t->overall_current_usage, (unsigned long)t->overall_peak_usage);
    for (size_t h = 0; h < t->heap_count; h++) {
        if (h > 0) {
            mp_print_str(print, ", ");
        }
        print_heap(print, &t->heap_stat[h]);
    }
    mp_print_str(print, t->heap_count == 1 ? ",))" : "))");
}

static void heap_print(const mp_print_t *print, mp_obj_t self_in, mp_print_kind_t kind) {
    (void)kind;
    print_heap(print, heap_of(MP_OBJ_TO_PTR(self_in)));
}

/******************************************************************************/
// Equality and hashing by value, as for tuples.

static bool heap_equal(const ht_heap_stat_t *a, const ht_heap_stat_t *b) {
    if (strcmp(a->name, b->name) != 0 || a->caps != b->caps || a->size != b->size
        || a->current_usage != b->current_usage || a->peak_usage != b->peak_usage
        || a->alloc_count != b->alloc_count || (a->blocks == NULL) != (b->blocks == NULL)) {
        return false;
    }
    size_t listed = ht_heap_block_count(a);
    if (listed != ht_heap_block_count(b)) {
        return false;
    }
    for (size_t i = 0; i < listed; i++) {
        if (a->blocks[i].address != b->blocks[i].address || a->blocks[i].size != b->blocks[i].size) {
            return false;
        }
    }
    return true;
}

static bool task_equal(const ht_task_stat_t *a, const ht_task_stat_t *b) {
    if (strcmp(a->name, b->name) != 0 || a->handle != b->handle || a->is_alive != b->is_alive
        || a->overall_current_usage != b->overall_current_usage
        || a->overall_peak_usage != b->overall_peak_usage || a->heap_count != b->heap_count) {
        return false;
    }
    for (size_t h = 0; h < a->heap_count; h++) {
        if (!heap_equal(&a->heap_stat[h], &b->heap_stat[h])) {
            return false;
        }
    }
    return true;
}

static mp_uint_t mix(mp_uint_t hash, size_t value) {
    return (hash * 33) ^ (mp_uint_t)value;
}

static mp_uint_t heap_hash(const ht_heap_stat_t *h) {
    mp_uint_t hash = qstr_compute_hash((const byte *)h->name, strlen(h->name));
    hash = mix(hash, h->caps);
    hash = mix(hash, h->size);
    hash = mix(hash, h->current_usage);
    hash = mix(hash, h->peak_usage);
    return mix(hash, h->alloc_count);
}

static mp_obj_t hash_obj(mp_uint_t hash) {
    return MP_OBJ_NEW_SMALL_INT((mp_int_t)(hash & MP_SMALL_INT_POSITIVE_MASK));
}

static mp_obj_t task_unary_op(mp_unary_op_t op, mp_obj_t self_in) {
    const ht_task_stat_t *t = ((task_obj_t *)MP_OBJ_TO_PTR(self_in))->stat;
    switch (op) {
        case MP_UNARY_OP_BOOL:
            return mp_const_true;
        case MP_UNARY_OP_LEN:
            return MP_OBJ_NEW_SMALL_INT(TASK_FIELDS);
        case MP_UNARY_OP_HASH: {
            mp_uint_t hash = qstr_compute_hash((const byte *)t->name, strlen(t->name));
            hash = mix(hash, t->handle);
            hash = mix(hash, t->overall_current_usage);
            hash = mix(hash, t->overall_peak_usage);
            for (size_t h = 0; h < t->heap_count; h++) {
                hash = mix(hash, heap_hash(&t->heap_stat[h]));
            }
            return hash_obj(hash);
        }
        default:
            return MP_OBJ_NULL;
    }
}

static mp_obj_t heap_unary_op(mp_unary_op_t op, mp_obj_t self_in) {
    switch (op) {
        case MP_UNARY_OP_BOOL:
            return mp_const_true;
        case MP_UNARY_OP_LEN:
            return MP_OBJ_NEW_SMALL_INT(HEAP_FIELDS);
        case MP_UNARY_OP_HASH:
            return hash_obj(heap_hash(heap_of(MP_OBJ_TO_PTR(self_in))));
        default:
            return MP_OBJ_NULL;
    }
}

static mp_obj_t task_binary_op(mp_binary_op_t op, mp_obj_t lhs, mp_obj_t rhs) {
    if (op != MP_BINARY_OP_EQUAL || !mp_obj_is_type(rhs, &stats_task_type)) {
        return MP_OBJ_NULL;
    }
    return mp_obj_new_bool(task_equal(stats_task_get(lhs), stats_task_get(rhs)));
}

static mp_obj_t heap_binary_op(mp_binary_op_t op, mp_obj_t lhs, mp_obj_t rhs) {
    if (op != MP_BINARY_OP_EQUAL || !mp_obj_is_type(rhs, &stats_heap_type)) {
        return MP_OBJ_NULL;
    }
    return mp_obj_new_bool(heap_equal(heap_of(MP_OBJ_TO_PTR(lhs)), heap_of(MP_OBJ_TO_PTR(rhs))));
}

/******************************************************************************/
// Fields by name and by index; iteration.

static void task_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    if (dest[0] != MP_OBJ_NULL) {
        return;   // read-only
    }
    for (size_t i = 0; i < TASK_FIELDS; i++) {
        if (task_fields[i] == attr) {
            dest[0] = task_field(MP_OBJ_TO_PTR(self_in), i);
            return;
        }
    }
}

static void heap_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    if (dest[0] != MP_OBJ_NULL) {
        return;
    }
    for (size_t i = 0; i < HEAP_FIELDS; i++) {
        if (heap_fields[i] == attr) {
            dest[0] = heap_field(MP_OBJ_TO_PTR(self_in), i);
            return;
        }
    }
}

static mp_obj_t task_subscr(mp_obj_t self_in, mp_obj_t index, mp_obj_t value) {
    if (value != MP_OBJ_SENTINEL) {
        return MP_OBJ_NULL;   // no item assignment
    }
    if (mp_obj_is_small_int(index)) {
        return task_field(MP_OBJ_TO_PTR(self_in), mp_get_index(&stats_task_type, TASK_FIELDS, index, false));
    }
    return mp_obj_subscr(task_tuple(MP_OBJ_TO_PTR(self_in)), index, MP_OBJ_SENTINEL);
}

static mp_obj_t heap_subscr(mp_obj_t self_in, mp_obj_t index, mp_obj_t value) {
    if (value != MP_OBJ_SENTINEL) {
        return MP_OBJ_NULL;
    }
    if (mp_obj_is_small_int(index)) {
        return heap_field(MP_OBJ_TO_PTR(self_in), mp_get_index(&stats_heap_type, HEAP_FIELDS, index, false));
    }
    return mp_obj_subscr(heap_tuple(MP_OBJ_TO_PTR(self_in)), index, MP_OBJ_SENTINEL);
}

static mp_obj_t task_getiter(mp_obj_t self_in, mp_obj_iter_buf_t *iter_buf) {
    return mp_getiter(task_tuple(MP_OBJ_TO_PTR(self_in)), iter_buf);
}

static mp_obj_t heap_getiter(mp_obj_t self_in, mp_obj_iter_buf_t *iter_buf) {
    return mp_getiter(heap_tuple(MP_OBJ_TO_PTR(self_in)), iter_buf);
}

/******************************************************************************/
// Construction from Python: TaskStat(name, handle, alive, current, peak, heaps),
// each heap a HeapStat or a 7-item tuple or list (as Snapshot.load reads them);
// HeapStat(name, caps, size, current, peak, alloc_count, blocks).

static uint32_t arg_u32(mp_obj_t arg, qstr what) {
    mp_uint_t value = arg_word_or_raise(arg, what);
    if (value > UINT32_MAX) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%q must fit 32 bits"), what);
    }
    return (uint32_t)value;
}

// A name: a str without NUL or control characters (`described` names it in the
// message: "task name", "heap name").
static const char *arg_str(mp_obj_t arg, qstr what, const char *described, size_t *len) {
    if (!mp_obj_is_str(arg)) {
        mp_raise_msg_varg(&mp_type_TypeError, MP_ERROR_TEXT("%q must be a str"), what);
    }
    const char *s = mp_obj_str_get_data(arg, len);
    if (strlen(s) != *len) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%q must not contain NUL"), what);
    }
    // As start_task refuses it: a report printing it would break its lines.
    check_printable(s, *len, described);
    return s;
}

// The 7 fields of a heap given as a tuple or list; NULL for a HeapStat.
static mp_obj_t *heap_items(mp_obj_t heap) {
    if (mp_obj_is_type(heap, &stats_heap_type)) {
        return NULL;
    }
    mp_obj_t *items;
    mp_obj_get_array_fixed_n(heap, HEAP_FIELDS, &items);
    return items;
}

static size_t heap_block_count(mp_obj_t heap) {
    mp_obj_t *items = heap_items(heap);
    if (items == NULL) {
        const ht_heap_stat_t *h = heap_of(MP_OBJ_TO_PTR(heap));
        return h->blocks != NULL ? block_area(ht_heap_block_count(h), h->alloc_count) : 0;
    }
    if (items[6] == mp_const_none) {
        return 0;
    }
    size_t n;
    mp_obj_t *blocks;
    mp_obj_get_array(items[6], &n, &blocks);
    // The count is checked against n when the heap is filled.
    return n + 1;
}

// Fills stat->heap_stat[index] from heap; *next is where its blocks go.
static void heap_fill(ht_task_stat_t *stat, size_t index, mp_obj_t heap, ht_block_t **next) {
    ht_heap_stat_t *dst = &stat->heap_stat[index];
    mp_obj_t *items = heap_items(heap);
    if (items == NULL) {
        const ht_heap_stat_t *src = heap_of(MP_OBJ_TO_PTR(heap));
        *dst = *src;
        if (src->blocks != NULL) {
            blocks_copy(dst, src->blocks, ht_heap_block_count(src), next);
        }
    } else {
        size_t len;
        const char *name = arg_str(items[0], MP_QSTR_name, "heap name", &len);
        dst->name = interned(name, len);
        dst->caps = arg_u32(items[1], MP_QSTR_caps);
        dst->size = arg_word_or_raise(items[2], MP_QSTR_size);
        dst->current_usage = arg_word_or_raise(items[3], MP_QSTR_current);
        dst->peak_usage = arg_word_or_raise(items[4], MP_QSTR_peak);
        dst->alloc_count = arg_word_or_raise(items[5], MP_QSTR_alloc_count);
        dst->blocks = NULL;
        if (items[6] != mp_const_none) {
            size_t n;
            mp_obj_t *blocks;
            mp_obj_get_array(items[6], &n, &blocks);
            // Fewer when the tracker counted blocks it could not record.
            if (n > dst->alloc_count) {
                mp_raise_ValueError(MP_ERROR_TEXT("blocks must have at most alloc_count entries"));
            }
            ht_block_t *first = *next;
            for (size_t i = 0; i < n; i++) {
                mp_obj_t *pair;
                mp_obj_get_array_fixed_n(blocks[i], 2, &pair);
                first[i].task = stat->handle;
                first[i].address = (void *)(uintptr_t)arg_word_or_raise(pair[0], MP_QSTR_address);
                first[i].size = arg_u32(pair[1], MP_QSTR_size);
                if (first[i].address == NULL) {
                    mp_raise_ValueError(MP_ERROR_TEXT("a block's address must not be 0"));
                }
            }
            blocks_copy(dst, first, n, next);
        }
    }
}

static mp_obj_t task_build(mp_obj_t name_in, mp_obj_t handle_in, mp_obj_t alive_in,
    mp_obj_t current_in, mp_obj_t peak_in, size_t heap_count, const mp_obj_t *heaps) {
    size_t name_len;
    const char *name = arg_str(name_in, MP_QSTR_name, "task name", &name_len);
    if (name_len >= HT_TASK_NAME_LEN) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("name must be at most %d bytes"),
            HT_TASK_NAME_LEN - 1);
    }
    size_t block_count = 0;
    for (size_t h = 0; h < heap_count; h++) {
        block_count += heap_block_count(heaps[h]);
    }
    void *store = m_malloc0(record_size(heap_count, block_count));
    ht_task_stat_t *stat = record_init(store, heap_count);
    memcpy(stat->name, name, name_len);
    stat->handle = arg_word_or_raise(handle_in, MP_QSTR_handle);
    stat->is_alive = mp_obj_is_true(alive_in);
    stat->overall_current_usage = arg_word_or_raise(current_in, MP_QSTR_current);
    stat->overall_peak_usage = arg_word_or_raise(peak_in, MP_QSTR_peak);
    ht_block_t *next = record_blocks(stat);
    for (size_t h = 0; h < heap_count; h++) {
        heap_fill(stat, h, heaps[h], &next);
    }
    return new_view(store, stat);
}

static mp_obj_t task_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *all_args) {
    (void)type;
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_name, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_handle, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_alive, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_current, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_peak, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_heaps, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
    };
    mp_arg_val_t args[TASK_FIELDS];
    mp_arg_parse_all_kw_array(n_args, n_kw, all_args, TASK_FIELDS, allowed_args, args);
    size_t heap_count;
    mp_obj_t *heaps;
    mp_obj_get_array(args[5].u_obj, &heap_count, &heaps);
    return task_build(args[0].u_obj, args[1].u_obj, args[2].u_obj, args[3].u_obj, args[4].u_obj,
        heap_count, heaps);
}

// A HeapStat made from Python belongs to an unnamed TaskStat of its own.
static mp_obj_t heap_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *all_args) {
    (void)type;
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_name, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_caps, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_size, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_current, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_peak, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_alloc_count, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_blocks, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
    };
    mp_arg_val_t args[HEAP_FIELDS];
    mp_arg_parse_all_kw_array(n_args, n_kw, all_args, HEAP_FIELDS, allowed_args, args);
    mp_obj_t items[HEAP_FIELDS];
    for (size_t i = 0; i < HEAP_FIELDS; i++) {
        items[i] = args[i].u_obj;
    }
    mp_obj_t heap = mp_obj_new_tuple(HEAP_FIELDS, items);
    mp_obj_t task = task_build(MP_OBJ_NEW_QSTR(MP_QSTR_), MP_OBJ_NEW_SMALL_INT(0), mp_const_false,
        items[3], items[4], 1, &heap);
    return new_heap_view(MP_OBJ_TO_PTR(task), 0);
}

MP_DEFINE_CONST_OBJ_TYPE(
    stats_task_type,
    MP_QSTR_TaskStat,
    MP_TYPE_FLAG_ITER_IS_GETITER,
    make_new, task_make_new,
    print, task_print,
    unary_op, task_unary_op,
    binary_op, task_binary_op,
    attr, task_attr,
    subscr, task_subscr,
    iter, task_getiter
    );

MP_DEFINE_CONST_OBJ_TYPE(
    stats_heap_type,
    MP_QSTR_HeapStat,
    MP_TYPE_FLAG_ITER_IS_GETITER,
    make_new, heap_make_new,
    print, heap_print,
    unary_op, heap_unary_op,
    binary_op, heap_binary_op,
    attr, heap_attr,
    subscr, heap_subscr,
    iter, heap_getiter
    );
