// The census of MicroPython's GC heap (gc_census.h).
#include <string.h>

#include "py/binary.h"
#include "py/bc.h"
#include "py/mpz.h"
#include "py/objarray.h"
#include "py/objexcept.h"
#include "py/objfun.h"
#include "py/objint.h"
#include "py/objlist.h"
#include "py/objstr.h"
#include "py/objstringio.h"
#include "py/objtype.h"

#include "gc_census.h"
#include "gc_heap.h"

#if (HT_CENSUS_TYPES & (HT_CENSUS_TYPES - 1)) != 0
#error "HT_CENSUS_TYPES must be a power of two"
#endif

// What storage an object of a type owns, besides its own blocks.
enum {
    KIND_PLAIN,       // none (tuples, floats, functions' closures... hold theirs inline)
    KIND_LIST,        // its item array
    KIND_DICT,        // its table
    KIND_SET,         // its table
    KIND_ARRAY,       // bytearray, array.array: its items
    KIND_STR,         // str, bytes: their data (unless in ROM or a qstr's)
    KIND_INT,         // a long int's digits
    KIND_INSTANCE,    // an instance of a class: its attribute table, its built-in base's object
    KIND_TYPE,        // a class: its namespace dict
    KIND_MODULE,      // a module: its globals dict
    KIND_FUN_BC,      // a function's bytecode
    KIND_EXCEPTION,   // its traceback
    KIND_DEQUE,       // its item ring
    KIND_STRINGIO,    // io.StringIO/BytesIO: its vstr and buffer
};

// py/objset.c and py/objdeque.c keep these structs to themselves; their layout
// in MicroPython v1.28, which the census reads only where it checks the sizes.
typedef struct {
    mp_obj_base_t base;
    mp_set_t set;
} ht_obj_set_t;

typedef struct {
    mp_obj_base_t base;
    size_t alloc;
    size_t i_get;
    size_t i_put;
    mp_obj_t *items;
    uint32_t flags;
} ht_obj_deque_t;

static const struct {
    const mp_obj_type_t *type;
    uint8_t kind;
} owner_types[] = {
    { &mp_type_list, KIND_LIST },
    { &mp_type_dict, KIND_DICT },
    #if MICROPY_PY_COLLECTIONS_ORDEREDDICT
    { &mp_type_ordereddict, KIND_DICT },
    #endif
    #if MICROPY_PY_BUILTINS_SET
    { &mp_type_set, KIND_SET },
    #endif
    #if MICROPY_PY_BUILTINS_FROZENSET
    { &mp_type_frozenset, KIND_SET },
    #endif
    #if MICROPY_PY_BUILTINS_BYTEARRAY
    { &mp_type_bytearray, KIND_ARRAY },
    #endif
    #if MICROPY_PY_ARRAY
    { &mp_type_array, KIND_ARRAY },
    #endif
    { &mp_type_str, KIND_STR },
    { &mp_type_bytes, KIND_STR },
    #if MICROPY_LONGINT_IMPL == MICROPY_LONGINT_IMPL_MPZ
    { &mp_type_int, KIND_INT },
    #endif
    { &mp_type_type, KIND_TYPE },
    { &mp_type_module, KIND_MODULE },
    { &mp_type_fun_bc, KIND_FUN_BC },
    #if MICROPY_PY_COLLECTIONS_DEQUE
    { &mp_type_deque, KIND_DEQUE },
    #endif
    #if MICROPY_PY_IO
    { &mp_type_stringio, KIND_STRINGIO },
    #if MICROPY_PY_IO_BYTESIO
    { &mp_type_bytesio, KIND_STRINGIO },
    #endif
    #endif
};

static uint8_t kind_of(const mp_obj_type_t *type) {
    for (size_t i = 0; i < MP_ARRAY_SIZE(owner_types); i++) {
        if (owner_types[i].type == type) {
            return owner_types[i].kind;
        }
    }
    if (type->flags & MP_TYPE_FLAG_INSTANCE_TYPE) {
        return KIND_INSTANCE;
    }
    if ((uintptr_t)ht_gc_type_slot(type, type->slot_index_make_new) == (uintptr_t)mp_obj_exception_make_new) {
        return KIND_EXCEPTION;
    }
    return KIND_PLAIN;
}

#define ROW_BITS (__builtin_ctz(HT_CENSUS_TYPES))

static size_t row_hash(const void *type) {
    return (size_t)(((uint32_t)((uintptr_t)type >> 2) * 2654435761u) >> (32 - ROW_BITS));
}

// The row of the type `word` points to (made on first sight), the census's
// `other` row when the table has no room, or NULL when word is no type.
static ht_census_row_t *row_of(ht_census_t *c, const void *word) {
    // An empty slot's type is NULL; an object's type is a word-aligned pointer.
    if (word == NULL || ((uintptr_t)word & (sizeof(void *) - 1)) != 0) {
        return NULL;
    }
    size_t i = row_hash(word);
    for (size_t probe = 0; probe < HT_CENSUS_TYPES; probe++, i = (i + 1) & (HT_CENSUS_TYPES - 1)) {
        ht_census_row_t *row = &c->rows[i];
        if (row->type == word) {
            return row;
        }
        if (row->type == NULL) {
            const mp_obj_type_t *type = ht_gc_type_at(word);
            if (type == NULL) {
                return NULL;
            }
            if (c->types >= HT_CENSUS_TYPES * 3 / 4) {
                // Its kind still decides what its objects own.
                c->other.kind = kind_of(type);
                return &c->other;
            }
            row->type = type;
            row->kind = kind_of(type);
            qstr module, name;
            ht_gc_type_name(type, &module, &name);
            row->module = module <= UINT16_MAX ? (uint16_t)module : MP_QSTRnull;
            row->name = (uint16_t)name;
            c->types++;
            return row;
        }
    }
    return NULL;
}

// Whether the sweep has counted the allocation at (area, block) already: it
// goes through the areas in list order, each in address order.
static bool swept(const ht_census_t *c, const ht_gc_area_t *area, size_t block) {
    if (area == c->sweep_area) {
        return block < c->sweep_block;
    }
    for (const ht_gc_area_t *a = ht_gc_first_area(); a != c->sweep_area; a = ht_gc_next_area(a)) {
        if (a == area) {
            return true;
        }
    }
    return false;
}

// Takes back the count of an allocation the sweep counted before an owner
// further on claimed it: what counted it then counts it now (row_of gives
// the same row for the same word).
static void uncount(ht_census_t *c, const void *p, uint32_t size) {
    ht_census_row_t *row = row_of(c, *(const void *const *)p);
    if (row == NULL) {
        c->unattributed_count--;
        c->unattributed_bytes -= size;
    } else {
        row->count--;
        row->bytes -= size;
    }
}

// Who claims: row r (the owner's), in census c; `from` is the row of a
// sub-object whose storage the sub-object may have claimed first (it was swept
// first). Measuring (c NULL) claims nothing: it adds up what an object owns.
typedef struct {
    ht_census_t *c;
    ht_census_row_t *r;
    ht_census_row_t *from;
    size_t measured;
} claim_t;

// Claims the allocation at p, of `bytes` bytes (0: any size): marks it and
// counts its blocks in the owner's row (or in `measured`). If the allocation
// was claimed already by `from`, the bytes move from there. Returns whether p
// is such an allocation.
static bool take(claim_t *k, const void *p, size_t bytes) {
    if (p == NULL || ((uintptr_t)p & (HT_GC_BLOCK_BYTES - 1)) != 0) {
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
    size_t blocks = ht_gc_length(area, block);
    // The exact size rules out most words that merely look like an owner's pointer.
    if (bytes != 0 && blocks != (bytes + HT_GC_BLOCK_BYTES - 1) / HT_GC_BLOCK_BYTES) {
        return false;
    }
    uint32_t size = (uint32_t)(blocks * HT_GC_BLOCK_BYTES);
    ht_census_t *c = k->c;
    if (c == NULL) {
        k->measured += size;
    } else if (kind == HT_GC_HEAD) {
        if (area == c->sweep_area && block == c->sweep_block) {
            return false;   // an owner never owns itself
        }
        if (swept(c, area, block)) {
            uncount(c, p, size);
        }
        ht_gc_mark(area, block);
        k->r->bytes += size;
    } else if (k->from != NULL && k->from != k->r && k->from->bytes >= size) {
        k->from->bytes -= size;
        k->r->bytes += size;
    }
    return true;
}

static void claim_storage(claim_t *k, uint8_t kind, const void *obj, size_t obj_bytes, int depth);

// An array's item size by its typecode, as mp_binary_get_size('@', ...) gives it,
// which raises for a typecode it does not know: a census must not raise.
static size_t array_item_size(unsigned typecode) {
    switch (typecode) {
        case BYTEARRAY_TYPECODE:
        case 'b':
        case 'B':
            return 1;
        case 'h':
        case 'H':
            return sizeof(short);
        case 'i':
        case 'I':
            return sizeof(int);
        case 'l':
        case 'L':
            return sizeof(long);
        case 'q':
        case 'Q':
            return sizeof(long long);
        case 'P':
        case 'O':
            return sizeof(void *);
        #if MICROPY_PY_BUILTINS_FLOAT
        case 'f':
            return sizeof(float);
        case 'd':
            return sizeof(double);
        #endif
        default:
            return 0;
    }
}

// A sub-object that belongs to its owner (a module's globals, a class's
// namespace, an instance's built-in base): it, and its own storage, go to the
// owner's row.
static void take_object(claim_t *k, const void *p) {
    ht_gc_ref_t ref;
    if (!ht_gc_head_at(p, &ref)) {
        return;
    }
    const mp_obj_type_t *type = ht_gc_type_at(*(const void *const *)p);
    if (type == NULL) {
        return;
    }
    ht_census_row_t *own = NULL;
    if (k->c != NULL) {
        own = row_of(k->c, type);
        if (own == NULL || own == k->r) {
            return;
        }
    }
    if (!take(k, p, 0)) {
        return;
    }
    claim_t sub = { k->c, k->r, own, 0 };
    claim_storage(&sub, own != NULL ? own->kind : kind_of(type), p, ref.blocks * HT_GC_BLOCK_BYTES, 1);
    k->measured += sub.measured;
}

static void claim_storage(claim_t *k, uint8_t kind, const void *obj, size_t obj_bytes, int depth) {
    switch (kind) {
        case KIND_LIST: {
            const mp_obj_list_t *o = obj;
            if (obj_bytes >= sizeof(*o)) {
                take(k, o->items, o->alloc * sizeof(mp_obj_t));
            }
            break;
        }
        case KIND_DICT: {
            const mp_obj_dict_t *o = obj;
            if (obj_bytes >= sizeof(*o) && !o->map.is_fixed) {
                take(k, o->map.table, o->map.alloc * sizeof(mp_map_elem_t));
            }
            break;
        }
        case KIND_SET: {
            const ht_obj_set_t *o = obj;
            if (obj_bytes >= sizeof(*o)) {
                take(k, o->set.table, o->set.alloc * sizeof(mp_obj_t));
            }
            break;
        }
        case KIND_ARRAY: {
            const mp_obj_array_t *o = obj;
            if (obj_bytes >= sizeof(*o)) {
                size_t item = array_item_size(o->typecode);
                if (item != 0) {
                    take(k, o->items, (o->len + o->free) * item);
                }
            }
            break;
        }
        case KIND_STR: {
            const mp_obj_str_t *o = obj;
            if (obj_bytes >= sizeof(*o)) {
                take(k, o->data, o->len + 1);
            }
            break;
        }
        #if MICROPY_LONGINT_IMPL == MICROPY_LONGINT_IMPL_MPZ
        case KIND_INT: {
            const mp_obj_int_t *o = obj;
            if (obj_bytes >= sizeof(*o) && !o->mpz.fixed_dig) {
                take(k, o->mpz.dig, o->mpz.alloc * sizeof(mpz_dig_t));
            }
            break;
        }
        #endif
        case KIND_INSTANCE: {
            const mp_obj_instance_t *o = obj;
            if (obj_bytes >= sizeof(*o)) {
                take(k, o->members.table, o->members.alloc * sizeof(mp_map_elem_t));
            }
            // A subclass of a built-in type holds the built-in's object.
            if (depth == 0 && obj_bytes >= sizeof(*o) + sizeof(mp_obj_t) && mp_obj_is_obj(o->subobj[0])) {
                take_object(k, MP_OBJ_TO_PTR(o->subobj[0]));
            }
            break;
        }
        case KIND_TYPE: {
            // A class made at run time (in the GC heap): its namespace.
            const mp_obj_type_t *o = obj;
            if (depth == 0 && (o->flags & MP_TYPE_FLAG_INSTANCE_TYPE)) {
                take_object(k, ht_gc_type_slot(o, o->slot_index_locals_dict));
            }
            break;
        }
        case KIND_MODULE: {
            const mp_obj_module_t *o = obj;
            if (depth == 0 && obj_bytes >= sizeof(*o)) {
                take_object(k, o->globals);
            }
            break;
        }
        case KIND_FUN_BC: {
            const mp_obj_fun_bc_t *o = obj;
            if (obj_bytes >= sizeof(*o)) {
                take(k, o->bytecode, 0);
            }
            break;
        }
        case KIND_EXCEPTION: {
            const mp_obj_exception_t *o = obj;
            if (obj_bytes >= sizeof(*o)) {
                take(k, o->traceback_data, o->traceback_alloc * sizeof(size_t));
            }
            break;
        }
        case KIND_DEQUE: {
            const ht_obj_deque_t *o = obj;
            if (obj_bytes >= sizeof(*o)) {
                take(k, o->items, o->alloc * sizeof(mp_obj_t));
            }
            break;
        }
        #if MICROPY_PY_IO
        case KIND_STRINGIO: {
            const mp_obj_stringio_t *o = obj;
            if (obj_bytes >= sizeof(*o) && take(k, o->vstr, sizeof(vstr_t)) && !o->vstr->fixed_buf) {
                take(k, o->vstr->buf, o->vstr->alloc);
            }
            break;
        }
        #endif
        default:
            break;
    }
}

typedef struct {
    qstr module, name;
    ht_census_obj_fn_t fn;
    void *ctx;
    size_t called;
} census_target_t;

// The sweep: every allocation is counted, by the type its first word points to
// (or as unattributed), unless an owner claimed it before (marked); an owner
// claims its storage, and what it claims that the sweep counted already is
// taken back from where it was counted. One pass over the heap.
static void sweep(ht_census_t *c) {
    for (ht_gc_area_t *area = ht_gc_first_area(); area != NULL; area = ht_gc_next_area(area)) {
        c->sweep_area = area;
        size_t end = ht_gc_area_blocks(area);
        for (size_t block = 0; block < end;) {
            if ((block & 3) == 0 && area->gc_alloc_table_start[block / 4] == 0) {
                block += 4;   // four free blocks
                continue;
            }
            unsigned kind = ht_gc_kind(area, block);
            if (kind != HT_GC_HEAD && kind != HT_GC_MARK) {
                block++;
                continue;
            }
            size_t blocks = ht_gc_length(area, block);
            uint32_t bytes = (uint32_t)(blocks * HT_GC_BLOCK_BYTES);
            c->total += bytes;
            c->allocations++;
            if (kind == HT_GC_HEAD) {
                c->sweep_block = block;
                const void *obj = ht_gc_block_ptr(area, block);
                ht_census_row_t *row = row_of(c, *(const void *const *)obj);
                if (row == NULL) {
                    c->unattributed_count++;
                    c->unattributed_bytes += bytes;
                } else {
                    row->count++;
                    row->bytes += bytes;
                    if (row->kind != KIND_PLAIN) {
                        claim_t k = { c, row, NULL, 0 };
                        claim_storage(&k, row->kind, obj, bytes, 0);
                    }
                }
            }
            block += blocks;
        }
    }
    c->sweep_area = NULL;
}

// The claimed allocations' marks go. Without a target a pass over the table
// alone; with one, also over the objects, to give the target's to fn.
static void unmark(ht_census_t *c, census_target_t *target) {
    for (ht_gc_area_t *area = ht_gc_first_area(); area != NULL; area = ht_gc_next_area(area)) {
        byte *table = area->gc_alloc_table_start;
        size_t len = area->gc_alloc_table_byte_len;
        if (target == NULL) {
            for (size_t i = 0; i < len; i++) {
                // A mark is 0b11; its high bit cleared, a head (0b01).
                byte marks = table[i] & (table[i] >> 1) & 0x55;
                table[i] &= (byte)~(marks << 1);
            }
            continue;
        }
        size_t end = ht_gc_area_blocks(area);
        for (size_t block = 0; block < end; block++) {
            unsigned kind = ht_gc_kind(area, block);
            if (kind == HT_GC_MARK) {
                ht_gc_unmark(area, block);
            } else if (kind == HT_GC_HEAD && target->fn != NULL) {
                void *obj = ht_gc_block_ptr(area, block);
                ht_census_row_t *row = row_of(c, *(const void *const *)obj);
                if (row != NULL && row != &c->other && row->name == target->name && row->module == target->module) {
                    target->called++;
                    if (!target->fn(target->ctx, obj, ht_gc_length(area, block) * HT_GC_BLOCK_BYTES)) {
                        target->fn = NULL;
                    }
                }
            }
        }
    }
}

static void census_walk(ht_census_t *c, census_target_t *target, bool verify) {
    memset(c, 0, sizeof(*c));
    c->gc_used = SIZE_MAX;
    if (verify) {
        // Before any mark is set: gc_info does not count marked heads.
        gc_info_t info;
        gc_info(&info);
        c->gc_used = info.used;
    }
    sweep(c);
    unmark(c, target);
}

void ht_census_take(ht_census_t *census, bool verify) {
    census_walk(census, NULL, verify);
}

size_t ht_census_objects(ht_census_t *census, qstr module, qstr name, ht_census_obj_fn_t fn, void *ctx) {
    census_target_t target = { module, name, fn, ctx, 0 };
    census_walk(census, &target, false);
    return target.called;
}

size_t ht_census_object_bytes(const void *obj) {
    ht_gc_ref_t ref;
    if (!ht_gc_head_at(obj, &ref)) {
        return 0;
    }
    claim_t k = { NULL, NULL, NULL, ref.blocks * HT_GC_BLOCK_BYTES };
    const mp_obj_type_t *type = ht_gc_type_at(*(const void *const *)obj);
    if (type != NULL) {
        claim_storage(&k, kind_of(type), obj, ref.blocks * HT_GC_BLOCK_BYTES, 0);
    }
    return k.measured;
}
