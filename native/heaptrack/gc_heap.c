// Reading MicroPython's GC heap (gc_heap.h): areas, allocation table, types.
#include <string.h>

#include "py/qstr.h"

#include "gc_heap.h"
#include "gc_port.h"

void ht_gc_bounds(ht_gc_bounds_t *bounds) {
    bounds->lo = UINTPTR_MAX;
    bounds->hi = 0;
    for (ht_gc_area_t *area = ht_gc_first_area(); area != NULL; area = ht_gc_next_area(area)) {
        if ((uintptr_t)area->gc_pool_start < bounds->lo) {
            bounds->lo = (uintptr_t)area->gc_pool_start;
        }
        if ((uintptr_t)area->gc_pool_end > bounds->hi) {
            bounds->hi = (uintptr_t)area->gc_pool_end;
        }
    }
}

// The table's 2-bit kinds, sixteen to a 32-bit word: the low bit of each, and
// which are free (both bits clear), heads (01) or marks (11).
#define KIND_LOW_BITS 0x55555555u
static inline uint32_t free_kinds(uint32_t w) {
    return ~(w | (w >> 1)) & KIND_LOW_BITS;
}
static inline uint32_t head_kinds(uint32_t w) {
    return w & ~(w >> 1) & KIND_LOW_BITS;
}
static inline uint32_t mark_kinds(uint32_t w) {
    return w & (w >> 1) & KIND_LOW_BITS;
}

typedef struct {
    size_t free_blocks, marked, largest, run;   // run: free blocks since the last head
} room_count_t;

// The blocks of one table byte, in order.
static void room_count_byte(room_count_t *c, unsigned b) {
    for (unsigned k = 0; k < 8; k += 2) {
        unsigned kind = (b >> k) & 3;
        if (kind == HT_GC_FREE) {
            c->run++;
            c->free_blocks++;
        } else if (kind == HT_GC_HEAD) {
            c->largest = c->run > c->largest ? c->run : c->largest;
            c->run = 0;
        } else if (kind == HT_GC_MARK) {
            c->marked++;
        }
    }
}

void ht_gc_room(ht_gc_room_t *room) {
    size_t total = 0, blocks = 0;
    room_count_t c = { 0, 0, 0, 0 };
    for (ht_gc_area_t *area = ht_gc_first_area(); area != NULL; area = ht_gc_next_area(area)) {
        total += area->gc_pool_end - area->gc_pool_start;
        blocks += ht_gc_area_blocks(area);
        // As gc_info() counts a run: free blocks since the last head, one area at a time.
        c.run = 0;
        const byte *table = area->gc_alloc_table_start;
        size_t len = area->gc_alloc_table_byte_len;
        size_t i = 0;
        // Sixteen blocks at a time where they are all free, or none is free
        // (heads end a run there; tails do not, as in gc_info()).
        for (; i + 4 <= len; i += 4) {
            uint32_t w;
            memcpy(&w, table + i, sizeof(w));
            uint32_t frees = free_kinds(w);
            if (frees == KIND_LOW_BITS) {
                c.run += 16;
                c.free_blocks += 16;
            } else if (frees == 0 && mark_kinds(w) == 0) {
                if (head_kinds(w) != 0) {
                    c.largest = c.run > c.largest ? c.run : c.largest;
                    c.run = 0;
                }
            } else {
                for (size_t k = 0; k < 4; k++) {
                    room_count_byte(&c, table[i + k]);
                }
            }
        }
        for (; i < len; i++) {
            room_count_byte(&c, table[i]);
        }
        c.largest = c.run > c.largest ? c.run : c.largest;
    }
    room->total = total;
    room->free = c.free_blocks * HT_GC_BLOCK_BYTES;
    // gc_info() counts heads and tails as used, marks (only inside a
    // collection or a walk) as neither.
    room->used = (blocks - c.free_blocks - c.marked) * HT_GC_BLOCK_BYTES;
    room->largest_free = c.largest * HT_GC_BLOCK_BYTES;
}

ht_gc_area_t *ht_gc_area_of(const void *p) {
    for (ht_gc_area_t *area = ht_gc_first_area(); area != NULL; area = ht_gc_next_area(area)) {
        if ((const byte *)p >= area->gc_pool_start && (const byte *)p < area->gc_pool_end) {
            return area;
        }
    }
    return NULL;
}

bool ht_gc_head_at(const void *p, ht_gc_ref_t *ref) {
    if (((uintptr_t)p & (HT_GC_BLOCK_BYTES - 1)) != 0) {
        return false;
    }
    ht_gc_area_t *area = ht_gc_area_of(p);
    if (area == NULL) {
        return false;
    }
    size_t block = ((const byte *)p - area->gc_pool_start) / HT_GC_BLOCK_BYTES;
    unsigned kind = ht_gc_kind(area, block);
    if (kind != HT_GC_HEAD && kind != HT_GC_MARK) {
        return false;
    }
    ref->area = area;
    ref->block = block;
    ref->blocks = ht_gc_length(area, block);
    return true;
}

bool ht_gc_head_holding(const void *p, ht_gc_ref_t *ref) {
    ht_gc_area_t *area = ht_gc_area_of(p);
    if (area == NULL) {
        return false;
    }
    size_t block = ((const byte *)p - area->gc_pool_start) / HT_GC_BLOCK_BYTES;
    while (ht_gc_kind(area, block) == HT_GC_TAIL && block > 0) {
        block--;
    }
    unsigned kind = ht_gc_kind(area, block);
    if (kind != HT_GC_HEAD && kind != HT_GC_MARK) {
        return false;
    }
    ref->area = area;
    ref->block = block;
    ref->blocks = ht_gc_length(area, block);
    return true;
}

bool ht_gc_qstr_valid(mp_uint_t q) {
    const qstr_pool_t *pool = MP_STATE_VM(last_pool);
    return q != MP_QSTRnull && q < pool->total_prev_len + pool->len;
}

// How many bytes of memory starting at p may be read: len when it is all
// static memory, else those of the live GC allocation that p starts (at_head)
// or lies in; 0 when neither.
static size_t readable(const void *p, size_t len, bool at_head) {
    ht_gc_area_t *area = ht_gc_area_of(p);
    if (area == NULL) {
        return ht_gc_port_static(p, len) ? len : 0;
    }
    if (at_head) {
        // A census asks this of nearly every allocation's first word: look
        // only as far as len, not for the allocation's whole length.
        if (((uintptr_t)p & (HT_GC_BLOCK_BYTES - 1)) != 0) {
            return 0;
        }
        size_t block = ((const byte *)p - area->gc_pool_start) / HT_GC_BLOCK_BYTES;
        unsigned kind = ht_gc_kind(area, block);
        if (kind != HT_GC_HEAD && kind != HT_GC_MARK) {
            return 0;
        }
        size_t need = (len + HT_GC_BLOCK_BYTES - 1) / HT_GC_BLOCK_BYTES;
        size_t n = 1;
        while (n < need && block + n < ht_gc_area_blocks(area) && ht_gc_kind(area, block + n) == HT_GC_TAIL) {
            n++;
        }
        return n * HT_GC_BLOCK_BYTES;
    }
    ht_gc_ref_t ref;
    if (!ht_gc_head_holding(p, &ref)) {
        return 0;
    }
    const byte *end = (const byte *)ht_gc_block_ptr(ref.area, ref.block) + ref.blocks * HT_GC_BLOCK_BYTES;
    return (size_t)(end - (const byte *)p);
}

const mp_obj_type_t *ht_gc_type_at(const void *word) {
    if (word == NULL || ((uintptr_t)word & (sizeof(void *) - 1)) != 0) {
        return NULL;
    }
    // The fixed part of a type: base, flags, name and the slot indexes.
    if (readable(word, sizeof(mp_obj_empty_type_t), true) < sizeof(mp_obj_empty_type_t)) {
        return NULL;
    }
    const mp_obj_type_t *type = word;
    if (type->base.type != &mp_type_type || !ht_gc_qstr_valid(type->name)) {
        return NULL;
    }
    return type;
}

const void *ht_gc_type_slot(const mp_obj_type_t *type, size_t slot_index) {
    if (slot_index == 0) {
        return NULL;
    }
    const void *const *slot = &type->slots[slot_index - 1];
    if (readable(slot, sizeof(*slot), false) < sizeof(*slot)) {
        return NULL;
    }
    return *slot;
}

const mp_obj_dict_t *ht_gc_dict_at(const void *p) {
    if (p == NULL || ((uintptr_t)p & (sizeof(void *) - 1)) != 0
        || readable(p, sizeof(mp_obj_dict_t), true) < sizeof(mp_obj_dict_t)) {
        return NULL;
    }
    const mp_obj_dict_t *dict = p;
    if (dict->base.type != &mp_type_dict
        #if MICROPY_PY_COLLECTIONS_ORDEREDDICT
        && dict->base.type != &mp_type_ordereddict
        #endif
        ) {
        return NULL;
    }
    // Its table must be all there (a fixed, static one or a live allocation).
    size_t bytes = dict->map.alloc * sizeof(mp_map_elem_t);
    if (dict->map.alloc != 0 && readable(dict->map.table, bytes, true) < bytes) {
        return NULL;
    }
    return dict;
}

mp_obj_t ht_gc_dict_get(const mp_obj_dict_t *dict, qstr key) {
    mp_obj_t k = MP_OBJ_NEW_QSTR(key);
    for (size_t i = 0; i < dict->map.alloc; i++) {
        if (dict->map.table[i].key == k) {
            return dict->map.table[i].value;
        }
    }
    return MP_OBJ_NULL;
}

void ht_gc_type_name(const mp_obj_type_t *type, qstr *module, qstr *name) {
    *name = type->name;
    *module = MP_QSTRnull;
    // A class made by a class statement has __module__ in its locals (py/compile.c
    // stores it first thing in the class body).
    if ((type->flags & MP_TYPE_FLAG_INSTANCE_TYPE) == 0) {
        return;
    }
    const mp_obj_dict_t *locals = ht_gc_dict_at(ht_gc_type_slot(type, type->slot_index_locals_dict));
    if (locals == NULL) {
        return;
    }
    mp_obj_t value = ht_gc_dict_get(locals, MP_QSTR___module__);
    if (value != MP_OBJ_NULL && mp_obj_is_qstr(value) && ht_gc_qstr_valid(MP_OBJ_QSTR_VALUE(value))) {
        *module = MP_OBJ_QSTR_VALUE(value);
    }
}

void ht_gc_each_module(ht_gc_module_fn_t fn, void *ctx) {
    const mp_map_t *modules = &MP_STATE_VM(mp_loaded_modules_dict).map;
    for (size_t i = 0; i < modules->alloc; i++) {
        mp_obj_t key = modules->table[i].key;
        mp_obj_t value = modules->table[i].value;
        if (!mp_obj_is_qstr(key) || !mp_obj_is_obj(value)) {
            continue;
        }
        ht_gc_ref_t ref;
        const mp_obj_module_t *module = MP_OBJ_TO_PTR(value);
        // Built-in modules are static; their globals hold no GC objects.
        if (!ht_gc_head_at(module, &ref) || ref.blocks * HT_GC_BLOCK_BYTES < sizeof(*module)
            || module->base.type != &mp_type_module) {
            continue;
        }
        const mp_obj_dict_t *globals = ht_gc_dict_at(module->globals);
        if (globals != NULL) {
            fn(ctx, MP_OBJ_QSTR_VALUE(key), globals);
        }
    }
    fn(ctx, MP_QSTR___main__, &MP_STATE_VM(dict_main));
}
