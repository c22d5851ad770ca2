// MicroPython's GC heap as heaptrack reads it: its areas, the allocation table
// (two bits per block: free, head, tail, mark), and the types of the objects in
// it. Read from MicroPython's own structures (py/mpstate.h's
// mp_state_mem_area_t, the table layout py/gc.c defines), with no change to
// MicroPython: the census (gc_census.h) and the holder search (gc_holders.h)
// walk the heap with these.
//
// Everything here runs with the GIL held and allocates nothing, so the heap
// cannot change under a walk. A walk may use the table's mark bits as its own
// scratch (MicroPython uses them only inside gc_collect, which cannot run while
// the walk holds the GIL and allocates nothing) and puts every one back before
// it returns: after a walk the table is byte for byte what it was.
//
// On a chip, reading through an arbitrary word can fault (an unmapped flash
// cache page): a word is read through only once it is known to point into the
// GC heap at a live block, or into the firmware's own static memory
// (gc_port.h).
#ifndef HEAPTRACK_GC_HEAP_H
#define HEAPTRACK_GC_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "py/gc.h"
#include "py/mpstate.h"
#include "py/obj.h"

#if !MICROPY_ENABLE_GC
#error "heaptrack's GC heap census needs MICROPY_ENABLE_GC"
#endif
#if MICROPY_PY_THREAD && !MICROPY_PY_THREAD_GIL
// Without the GIL another thread could allocate while a walk holds mark bits.
#error "heaptrack's GC heap census needs the GIL (MICROPY_PY_THREAD_GIL)"
#endif

#define HT_GC_BLOCK_BYTES (MICROPY_BYTES_PER_GC_BLOCK)

// The allocation table's block kinds (py/gc.c's AT_*).
enum {
    HT_GC_FREE = 0,
    HT_GC_HEAD = 1,
    HT_GC_TAIL = 2,
    HT_GC_MARK = 3,
};

typedef mp_state_mem_area_t ht_gc_area_t;

// The walks call these for every block: inlined even where the firmware is
// built for size.
#define HT_GC_INLINE static inline __attribute__((always_inline))

HT_GC_INLINE ht_gc_area_t *ht_gc_first_area(void) {
    return &MP_STATE_MEM(area);
}

HT_GC_INLINE ht_gc_area_t *ht_gc_next_area(const ht_gc_area_t *area) {
    #if MICROPY_GC_SPLIT_HEAP
    return area->next;
    #else
    (void)area;
    return NULL;
    #endif
}

HT_GC_INLINE size_t ht_gc_area_blocks(const ht_gc_area_t *area) {
    return area->gc_alloc_table_byte_len * 4;
}

HT_GC_INLINE unsigned ht_gc_kind(const ht_gc_area_t *area, size_t block) {
    return (area->gc_alloc_table_start[block / 4] >> (2 * (block & 3))) & 3;
}

// A head becomes marked (the walk's "seen") and back.
HT_GC_INLINE void ht_gc_mark(ht_gc_area_t *area, size_t block) {
    area->gc_alloc_table_start[block / 4] |= (byte)(HT_GC_MARK << (2 * (block & 3)));
}

HT_GC_INLINE void ht_gc_unmark(ht_gc_area_t *area, size_t block) {
    area->gc_alloc_table_start[block / 4] &= (byte)~(HT_GC_TAIL << (2 * (block & 3)));
}

HT_GC_INLINE void *ht_gc_block_ptr(const ht_gc_area_t *area, size_t block) {
    return area->gc_pool_start + block * HT_GC_BLOCK_BYTES;
}

// The blocks of the allocation that starts at `block` (a head): it and its tails.
HT_GC_INLINE size_t ht_gc_length(const ht_gc_area_t *area, size_t block) {
    size_t end = ht_gc_area_blocks(area);
    size_t n = block + 1;
    while (n < end) {
        if ((n & 3) == 0 && area->gc_alloc_table_start[n / 4] == 0xaa) {
            n += 4;   // four tails
        } else if (ht_gc_kind(area, n) == HT_GC_TAIL) {
            n++;
        } else {
            break;
        }
    }
    return n - block;
}

// The GC heap's room, as gc_info() counts it: bytes in every area's pool,
// bytes in head and tail blocks, bytes in free blocks, and the longest run of
// free blocks inside one area, in bytes (what the largest allocation that
// needs no collection and no new area can have). gc_info() looks at every
// block twice, one at a time; this reads the table a word (sixteen blocks) at
// a time and looks inside a word only where free and used blocks meet: a
// metrics() call spent a third of its time in gc_info().
typedef struct {
    size_t total;
    size_t used;
    size_t free;
    size_t largest_free;
} ht_gc_room_t;

void ht_gc_room(ht_gc_room_t *room);

// The GC heap's bounds: every area lies inside [lo, hi).
typedef struct {
    uintptr_t lo, hi;
} ht_gc_bounds_t;

void ht_gc_bounds(ht_gc_bounds_t *bounds);

// The area holding address p (anywhere in its pool), or NULL.
ht_gc_area_t *ht_gc_area_of(const void *p);

// A live allocation: its area, first block and length in blocks.
typedef struct {
    ht_gc_area_t *area;
    size_t block;
    size_t blocks;
} ht_gc_ref_t;

// Whether p is the start of a live allocation (a head, marked or not), as the
// GC itself accepts a pointer (py/gc.c: block-aligned, at a head); fills *ref.
bool ht_gc_head_at(const void *p, ht_gc_ref_t *ref);

// The live allocation holding address p (at its start or anywhere inside it).
bool ht_gc_head_holding(const void *p, ht_gc_ref_t *ref);

// The object type that `word` points to, or NULL when it points to none:
// a type object (its own type is `type`) in the firmware's static memory or at
// a live allocation of the GC heap (a class made at run time). A bogus word
// yields NULL, never a fault.
const mp_obj_type_t *ht_gc_type_at(const void *word);

// The `slot`-th slot of a type checked by ht_gc_type_at (MP_OBJ_TYPE_GET_SLOT_OR_NULL),
// read only where it lies inside the type's memory; NULL when it has none.
const void *ht_gc_type_slot(const mp_obj_type_t *type, size_t slot_index);

// A type's name as Python writes it: its own name and, for a class defined in
// Python, the module it was defined in (its __module__), else MP_QSTRnull.
void ht_gc_type_name(const mp_obj_type_t *type, qstr *module, qstr *name);

// Whether q is an interned string that exists.
bool ht_gc_qstr_valid(mp_uint_t q);

// The dict a `mp_obj_dict_t *` points to, if it is one (a live dict object of
// the GC heap, or a static one): NULL otherwise.
const mp_obj_dict_t *ht_gc_dict_at(const void *p);

// The value of a qstr key in a dict checked by ht_gc_dict_at, or MP_OBJ_NULL:
// a plain scan of its table, so no lookup code (and no cache) is involved.
mp_obj_t ht_gc_dict_get(const mp_obj_dict_t *dict, qstr key);

// Calls fn for every module in sys.modules (the loaded modules dict) whose
// globals live in the GC heap, and for __main__ (name __main__, globals the
// VM's main dict), with its name and globals.
typedef void (*ht_gc_module_fn_t)(void *ctx, qstr name, const mp_obj_dict_t *globals);
void ht_gc_each_module(ht_gc_module_fn_t fn, void *ctx);

#endif // HEAPTRACK_GC_HEAP_H
