// Who holds an object in MicroPython's GC heap (gc_holders.h).
#include <string.h>

#include "py/bc.h"
#include "py/objfun.h"
#include "py/objlist.h"
#include "py/objtuple.h"
#include "py/objtype.h"

#include "gc_census.h"
#include "gc_heap.h"
#include "gc_holders.h"
#include "gc_port.h"

// The other tasks' stacks looked at, at most.
#define HT_HOLDERS_STACKS (16)

// py/objclosure.c defines it; no header declares it.
extern const mp_obj_type_t mp_type_closure;

// A closure's cell (py/objcell.c keeps its type to itself): a base and the
// value, of a type with no name.
static bool is_cell(const ht_chain_link_t *link) {
    const mp_obj_type_t *type = ht_gc_type_at(*(const void *const *)link->obj);
    return type != NULL && type->name == MP_QSTR_ && link->bytes == HT_GC_BLOCK_BYTES && link->offset == sizeof(mp_obj_t);
}

// py/objgenerator.c keeps this struct to itself; its layout in MicroPython v1.28.
typedef struct {
    mp_obj_base_t base;
    mp_obj_t pend_exc;
    mp_code_state_t code_state;
} ht_obj_gen_instance_t;

typedef struct {
    ht_holders_scratch_t *s;
    size_t count;           // nodes in use
    size_t first, end;      // the level being looked at: nodes [first, end), sorted by block
    ht_gc_bounds_t bounds;
    ht_chain_t *chain;
    size_t found;           // the node a root holds (valid when chain->root != HT_ROOT_NONE)
} search_t;

// Sorts the level's nodes by address (an insertion sort: a level is small, and
// the nodes are mostly in address order already, as sweeps find them).
static void sort_level(search_t *q) {
    ht_holder_node_t *n = q->s->nodes;
    for (size_t i = q->first + 1; i < q->end; i++) {
        ht_holder_node_t v = n[i];
        size_t j = i;
        while (j > q->first && n[j - 1].block > v.block) {
            n[j] = n[j - 1];
            j--;
        }
        n[j] = v;
    }
}

// The node of the current level whose allocation starts at word, or SIZE_MAX.
static inline size_t level_lookup(const search_t *q, uintptr_t word) {
    if ((word & (HT_GC_BLOCK_BYTES - 1)) != 0 || word < q->bounds.lo || word >= q->bounds.hi) {
        return SIZE_MAX;
    }
    size_t lo = q->first, hi = q->end;
    const ht_holder_node_t *n = q->s->nodes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (n[mid].block < word) {
            lo = mid + 1;
        } else if (n[mid].block > word) {
            hi = mid;
        } else {
            return mid;
        }
    }
    return SIZE_MAX;
}

// The first word of [lo, hi) that refers to a node of the level: its node and,
// in *at, its address. Stacks of other tasks are read as the GC reads them
// (py/gc.c's gc_get_ptr): with no sanitizer's opinion on whose memory it is.
#if defined(__GNUC__)
__attribute__((no_sanitize_address))
#endif
static size_t scan_words(const search_t *q, uintptr_t lo, uintptr_t hi, uintptr_t *at) {
    lo = (lo + sizeof(void *) - 1) & ~(uintptr_t)(sizeof(void *) - 1);
    for (const volatile uintptr_t *w = (const uintptr_t *)lo; (uintptr_t)(w + 1) <= hi; w++) {
        size_t node = level_lookup(q, *w);
        if (node != SIZE_MAX) {
            *at = (uintptr_t)w;
            return node;
        }
    }
    return SIZE_MAX;
}

typedef struct {
    search_t *q;
} globals_ctx_t;

static void check_globals(void *ctx, qstr module, const mp_obj_dict_t *globals) {
    search_t *q = ctx;
    if (q->chain->root != HT_ROOT_NONE) {
        return;
    }
    const mp_map_t *map = &globals->map;
    for (size_t i = 0; i < map->alloc; i++) {
        mp_obj_t key = map->table[i].key;
        mp_obj_t value = map->table[i].value;
        if (key == MP_OBJ_NULL || key == MP_OBJ_SENTINEL || !mp_obj_is_obj(value)) {
            continue;
        }
        size_t node = level_lookup(q, (uintptr_t)MP_OBJ_TO_PTR(value));
        if (node != SIZE_MAX) {
            q->chain->root = HT_ROOT_GLOBAL;
            q->chain->module = module;
            q->chain->key = key;
            q->found = node;
            return;
        }
    }
}

// The roots, most telling first. True when one holds a node of the level.
static bool check_roots(search_t *q) {
    ht_chain_t *chain = q->chain;
    ht_gc_each_module(check_globals, q);
    if (chain->root != HT_ROOT_NONE) {
        return true;
    }
    // As gc_collect_start traces them: the root pointer section of mp_state_ctx.
    uintptr_t start = (uintptr_t)&mp_state_ctx + offsetof(mp_state_ctx_t, thread.dict_locals);
    uintptr_t end = (uintptr_t)&mp_state_ctx + offsetof(mp_state_ctx_t, vm.qstr_last_chunk);
    uintptr_t at;
    size_t node = scan_words(q, start, end, &at);
    if (node != SIZE_MAX) {
        chain->root = HT_ROOT_VM;
        chain->vm_offset = at - (uintptr_t)&mp_state_ctx;
        q->found = node;
        return true;
    }
    ht_gc_stack_t stacks[HT_HOLDERS_STACKS];
    size_t n = ht_gc_port_stacks(stacks, HT_HOLDERS_STACKS);
    for (size_t i = 0; i < n && i < HT_HOLDERS_STACKS; i++) {
        node = scan_words(q, stacks[i].lo, stacks[i].hi, &at);
        if (node != SIZE_MAX) {
            chain->root = HT_ROOT_STACK;
            chain->task = stacks[i].task;
            memcpy(chain->task_name, stacks[i].name, sizeof(chain->task_name));
            q->found = node;
            return true;
        }
    }
    return false;
}

// One sweep of the heap: every unvisited allocation that refers to a node of
// the level becomes a node of the next one (marked: visited).
static void sweep_referrers(search_t *q, uint16_t level) {
    ht_holder_node_t *nodes = q->s->nodes;
    for (ht_gc_area_t *area = ht_gc_first_area(); area != NULL; area = ht_gc_next_area(area)) {
        size_t end = ht_gc_area_blocks(area);
        for (size_t block = 0; block < end;) {
            if ((block & 3) == 0 && area->gc_alloc_table_start[block / 4] == 0) {
                block += 4;
                continue;
            }
            unsigned kind = ht_gc_kind(area, block);
            if (kind != HT_GC_HEAD && kind != HT_GC_MARK) {
                block++;
                continue;
            }
            size_t blocks = ht_gc_length(area, block);
            if (kind == HT_GC_HEAD) {
                const uintptr_t *words = ht_gc_block_ptr(area, block);
                size_t count = blocks * HT_GC_BLOCK_BYTES / sizeof(uintptr_t);
                for (size_t i = 0; i < count; i++) {
                    size_t to = level_lookup(q, words[i]);
                    if (to == SIZE_MAX) {
                        continue;
                    }
                    if (q->count == HT_HOLDERS_NODES) {
                        q->chain->truncated = true;
                        return;
                    }
                    nodes[q->count] = (ht_holder_node_t) {
                        .block = (uintptr_t)words, .offset = (uint32_t)(i * sizeof(uintptr_t)),
                        .to = (uint16_t)to, .level = level,
                    };
                    q->count++;
                    ht_gc_mark(area, block);
                    break;
                }
            }
            block += blocks;
        }
    }
}

// The calling task's stack, from here up to where its Python started: what
// holds the nodes when nothing else does. The deepest node it holds makes the
// longest (most telling) chain.
static void check_caller(search_t *q) {
    volatile uintptr_t here = (uintptr_t)&here;
    uintptr_t top = (uintptr_t)MP_STATE_THREAD(stack_top);
    if (top <= here) {
        return;
    }
    size_t best = SIZE_MAX;
    for (size_t level_end = q->count; level_end > 0;) {
        // The nodes of one level at a time, deepest first.
        uint16_t level = q->s->nodes[level_end - 1].level;
        size_t level_first = level_end;
        while (level_first > 0 && q->s->nodes[level_first - 1].level == level) {
            level_first--;
        }
        q->first = level_first;
        q->end = level_end;
        sort_level(q);
        uintptr_t at;
        best = scan_words(q, here, top, &at);
        if (best != SIZE_MAX) {
            break;
        }
        level_end = level_first;
    }
    if (best != SIZE_MAX) {
        ht_gc_stack_t self;
        ht_gc_port_current(&self);
        q->chain->root = HT_ROOT_CALLER;
        q->chain->task = self.task;
        memcpy(q->chain->task_name, self.name, sizeof(q->chain->task_name));
        q->found = best;
    }
}

static void unmark_all(search_t *q) {
    for (size_t i = 0; i < q->count; i++) {
        ht_gc_area_t *area = ht_gc_area_of((const void *)q->s->nodes[i].block);
        size_t block = ((const byte *)q->s->nodes[i].block - area->gc_pool_start) / HT_GC_BLOCK_BYTES;
        ht_gc_unmark(area, block);
    }
}

void ht_holders_find(ht_holders_scratch_t *scratch, const void *obj, ht_chain_t *chain) {
    memset(chain, 0, sizeof(*chain));
    ht_gc_ref_t ref;
    if (!ht_gc_head_at(obj, &ref)) {
        return;
    }
    search_t q = { .s = scratch, .count = 1, .first = 0, .end = 1, .chain = chain };
    ht_gc_bounds(&q.bounds);
    scratch->nodes[0] = (ht_holder_node_t) { .block = (uintptr_t)obj, .offset = 0, .to = 0, .level = 0 };
    ht_gc_mark(ref.area, ref.block);
    uint16_t level = 0;
    while (q.first < q.end) {
        sort_level(&q);
        if (check_roots(&q)) {
            break;
        }
        if (level + 2 > HT_CHAIN_LINKS) {
            chain->truncated = true;
            break;
        }
        size_t next = q.count;
        chain->sweeps++;
        sweep_referrers(&q, ++level);
        q.first = next;
        q.end = q.count;
    }
    if (chain->root == HT_ROOT_NONE) {
        check_caller(&q);
    }
    unmark_all(&q);
    // The chain: from the node the root holds down to the object.
    size_t node = chain->root != HT_ROOT_NONE ? q.found : 0;
    for (;;) {
        const ht_holder_node_t *n = &scratch->nodes[node];
        ht_chain_link_t *link = &chain->link[chain->links++];
        link->obj = (const void *)n->block;
        link->offset = n->offset;
        ht_gc_head_at(link->obj, &ref);
        link->bytes = ref.blocks * HT_GC_BLOCK_BYTES;
        if (node == 0 || chain->links == HT_CHAIN_LINKS) {
            break;
        }
        node = n->to;
    }
}

/******************************************************************************/
// Describing a chain.

// A bytecode function's name, if fun is one.
static qstr function_name(const mp_obj_fun_bc_t *fun) {
    ht_gc_ref_t ref;
    if (!ht_gc_head_at(fun, &ref) && !ht_gc_port_static(fun, sizeof(*fun))) {
        return MP_QSTRnull;
    }
    if (fun->base.type != &mp_type_fun_bc && fun->base.type != &mp_type_gen_wrap) {
        return MP_QSTRnull;
    }
    qstr name = mp_obj_fun_bc_get_name(fun);
    return ht_gc_qstr_valid(name) ? name : MP_QSTRnull;
}

// The function a frame (a code state) runs.
static qstr frame_function(const mp_code_state_t *state) {
    return function_name(state->fun_bc);
}

// Whether next is the allocation at p (an owner's storage the chain passes through).
static bool is_next(const ht_chain_t *chain, size_t i, const void *p) {
    return i + 1 < chain->links && chain->link[i + 1].obj == p;
}

// The element of a map table a chain's offset into it names: its key, and
// whether the reference is the value (else the key).
static bool map_entry(const mp_map_t *map, size_t offset, mp_obj_t *key, bool *is_value) {
    size_t elem = offset / sizeof(mp_map_elem_t);
    if (elem >= map->alloc) {
        return false;
    }
    *key = map->table[elem].key;
    *is_value = offset % sizeof(mp_map_elem_t) != 0;
    return true;
}

// Link i is a dict (at i + 1 its table, then what it holds): obj[key].
static bool via_map(const ht_chain_t *chain, size_t i, const mp_map_t *map, ht_link_desc_t *d, bool attr) {
    if (!is_next(chain, i, map->table) || i + 2 >= chain->links) {
        return false;
    }
    mp_obj_t key;
    bool is_value;
    if (!map_entry(map, chain->link[i + 1].offset, &key, &is_value)) {
        return false;
    }
    d->key = key;
    d->via = is_value ? (attr ? HT_VIA_ATTR : HT_VIA_KEY) : HT_VIA_DICT_KEY;
    d->bytes += chain->link[i + 1].bytes;
    d->next = i + 2;
    return true;
}

// Link i holds a dict (a class's namespace, a module's globals) at i + 1, whose
// table is at i + 2: obj.key.
static bool via_namespace(const ht_chain_t *chain, size_t i, const void *dict_ptr, ht_link_desc_t *d) {
    const mp_obj_dict_t *dict = ht_gc_dict_at(dict_ptr);
    if (dict == NULL || !is_next(chain, i, dict) || !via_map(chain, i + 1, &dict->map, d, true)) {
        return false;
    }
    d->bytes += chain->link[i + 1].bytes;
    return true;
}

void ht_chain_describe(const ht_chain_t *chain, size_t i, ht_link_desc_t *d) {
    memset(d, 0, sizeof(*d));
    const ht_chain_link_t *link = &chain->link[i];
    const void *obj = link->obj;
    d->bytes = link->bytes;
    d->next = i + 1;
    d->type = ht_gc_type_at(*(const void *const *)obj);
    if (d->type != NULL) {
        ht_gc_type_name(d->type, &d->module, &d->name);
    }
    const mp_obj_dict_t *globals = NULL;
    if (d->type == &mp_type_type && (((const mp_obj_type_t *)obj)->flags & MP_TYPE_FLAG_INSTANCE_TYPE)) {
        // A class names the link by its own name.
        ht_gc_type_name(obj, &d->module, &d->name);
    } else if (d->type == &mp_type_module) {
        // A module names the link by its __name__.
        globals = ht_gc_dict_at(((const mp_obj_module_t *)obj)->globals);
        mp_obj_t name = globals != NULL ? ht_gc_dict_get(globals, MP_QSTR___name__) : MP_OBJ_NULL;
        if (name != MP_OBJ_NULL && mp_obj_is_qstr(name)) {
            d->module = MP_QSTRnull;
            d->name = MP_OBJ_QSTR_VALUE(name);
        }
    }
    if (d->type == &mp_type_fun_bc || d->type == &mp_type_gen_wrap) {
        d->func = function_name(obj);
    } else if (d->type == &mp_type_closure) {
        d->func = function_name(MP_OBJ_TO_PTR(((const mp_obj_t *)obj)[1]));
    } else if (d->type == &mp_type_gen_instance) {
        d->func = frame_function(&((const ht_obj_gen_instance_t *)obj)->code_state);
    }
    if (i + 1 >= chain->links) {
        // The object itself: with all it owns, as a census counts it.
        d->via = HT_VIA_NONE;
        d->bytes = ht_census_object_bytes(obj);
        return;
    }
    d->via = HT_VIA_WORD;
    d->index = link->offset;
    const mp_obj_type_t *type = d->type;
    if (type == NULL) {
        // An allocation with no type: a running function's frame (a code
        // state), whose first word is its function.
        if (link->bytes >= sizeof(mp_code_state_t) && link->offset >= offsetof(mp_code_state_t, state)) {
            qstr func = frame_function(obj);
            if (func != MP_QSTRnull) {
                d->via = HT_VIA_LOCAL;
                d->func = func;
            }
        }
        return;
    }
    if (type == &mp_type_list) {
        const mp_obj_list_t *o = obj;
        if (is_next(chain, i, o->items) && i + 2 < chain->links) {
            d->via = HT_VIA_INDEX;
            d->index = chain->link[i + 1].offset / sizeof(mp_obj_t);
            d->bytes += chain->link[i + 1].bytes;
            d->next = i + 2;
        }
    } else if (type == &mp_type_tuple || ht_gc_type_slot(type, type->slot_index_parent) == &mp_type_tuple) {
        if (link->offset >= offsetof(mp_obj_tuple_t, items)) {
            d->via = HT_VIA_INDEX;
            d->index = (link->offset - offsetof(mp_obj_tuple_t, items)) / sizeof(mp_obj_t);
        }
    } else if (type == &mp_type_dict
        #if MICROPY_PY_COLLECTIONS_ORDEREDDICT
        || type == &mp_type_ordereddict
        #endif
        ) {
        via_map(chain, i, &((const mp_obj_dict_t *)obj)->map, d, false);
    #if MICROPY_PY_BUILTINS_SET
    } else if (type == &mp_type_set
        #if MICROPY_PY_BUILTINS_FROZENSET
        || type == &mp_type_frozenset
        #endif
        ) {
        // py/objset.c's mp_obj_set_t: a base, then its mp_set_t.
        const mp_set_t *set = (const mp_set_t *)((const mp_obj_base_t *)obj + 1);
        if (is_next(chain, i, set->table) && i + 2 < chain->links) {
            d->via = HT_VIA_MEMBER;
            d->bytes += chain->link[i + 1].bytes;
            d->next = i + 2;
        }
    #endif
    } else if (type == &mp_type_type) {
        const mp_obj_type_t *cls = obj;
        if (cls->flags & MP_TYPE_FLAG_INSTANCE_TYPE) {
            via_namespace(chain, i, ht_gc_type_slot(cls, cls->slot_index_locals_dict), d);
        }
    } else if (type == &mp_type_module) {
        via_namespace(chain, i, globals, d);
    } else if (type == &mp_type_fun_bc || type == &mp_type_gen_wrap) {
        // A function holds its module's constants through its context:
        // function -> context -> the constants' table -> the object. The table
        // may share its allocation with the qstr table, before it
        // (mp_module_context_alloc_tables).
        const mp_obj_fun_bc_t *fun = obj;
        const mp_module_context_t *context = fun->context;
        if (link->offset == offsetof(mp_obj_fun_bc_t, context) && is_next(chain, i, context) && i + 3 < chain->links) {
            uintptr_t table = (uintptr_t)chain->link[i + 2].obj;
            uintptr_t at = table + chain->link[i + 2].offset;
            uintptr_t objs = (uintptr_t)context->constants.obj_table;
            if (objs >= table && objs < table + chain->link[i + 2].bytes && at >= objs) {
                d->via = HT_VIA_CONST;
                d->index = (at - objs) / sizeof(mp_obj_t);
                d->next = i + 3;
            }
        }
    } else if (type == &mp_type_closure) {
        // py/objclosure.c's mp_obj_closure_t: a base, the function, how many
        // values it closed over, the values: each a cell (py/objcell.c: a base,
        // then the value), which the chain passes through.
        if (link->offset >= 3 * sizeof(mp_obj_t)) {
            d->via = HT_VIA_CLOSED;
            d->index = link->offset / sizeof(mp_obj_t) - 3;
            if (i + 2 < chain->links && is_cell(&chain->link[i + 1])) {
                d->bytes += chain->link[i + 1].bytes;
                d->next = i + 2;
            }
        }
    } else if (type == &mp_type_gen_instance) {
        if (link->offset >= offsetof(ht_obj_gen_instance_t, code_state.state)) {
            d->via = HT_VIA_LOCAL;
        }
    } else if (type->flags & MP_TYPE_FLAG_INSTANCE_TYPE) {
        via_map(chain, i, &((const mp_obj_instance_t *)obj)->members, d, true);
    }
}
