// _heaptrack's view inside MicroPython's GC heap: the census (gc_census.h),
// holder chains (gc_holders.h) and the GC heap's areas in ESP-IDF's heap
// (gc_areas.h). The frozen package's census.py turns these tuples into the
// objects users see.
#include <string.h>

#include "py/gc.h"
#include "py/objtuple.h"
#include "py/cstack.h"
#include "py/runtime.h"

#include "errors.h"
#include "gc_areas.h"
#include "gc_census.h"
#include "gc_heap.h"
#include "gc_holders.h"
#include "modgc.h"

// The walks' room is a fixed size, on the calling task's C stack: never in the
// GC heap they walk (a census must not change what it counts), and no static
// RAM for a feature used now and then. The room left on the stack is checked
// first, as MicroPython checks it before a call (MICROPY_STACK_CHECK), so a
// task with a small stack gets an exception, not an overflow.
#define HT_STACK_MARGIN (1024)

static void stack_room(size_t bytes) {
    #if MICROPY_STACK_CHECK
    if (mp_cstack_usage() + bytes + HT_STACK_MARGIN > MP_STATE_THREAD(stack_limit)) {
        mp_raise_msg_varg(&mp_type_RuntimeError,
            MP_ERROR_TEXT("needs %u bytes of the calling task's stack; it has %u left"),
            (unsigned)(bytes + HT_STACK_MARGIN), (unsigned)(MP_STATE_THREAD(stack_limit) - mp_cstack_usage()));
    }
    #else
    (void)bytes;
    #endif
}

static mp_obj_t qstr_or_none(qstr q) {
    return q == MP_QSTRnull ? mp_const_none : MP_OBJ_NEW_QSTR(q);
}

static mp_obj_t new_tuple(size_t n, const mp_obj_t *items) {
    return mp_obj_new_tuple(n, items);
}

static mp_obj_t census_row(const ht_census_row_t *r) {
    mp_obj_t row[] = {
        qstr_or_none(r->module), MP_OBJ_NEW_QSTR(r->name),
        mp_obj_new_int_from_uint(r->count), mp_obj_new_int_from_uint(r->bytes),
    };
    return new_tuple(MP_ARRAY_SIZE(row), row);
}

// The rows of a census as (module, name, count, bytes) tuples: every type in
// table order, or with top the `top` biggest by bytes, biggest first. A sample
// asks for a few of them many times a second, so only those are made: its
// garbage stays a few tuples however many types the heap has.
static mp_obj_t census_rows(const ht_census_t *c, size_t top) {
    size_t n_rows = (top && top < c->types) ? top : c->types;
    mp_obj_t rows = mp_obj_new_tuple(n_rows, NULL);
    mp_obj_t *items = ((mp_obj_tuple_t *)MP_OBJ_TO_PTR(rows))->items;
    if (!top) {
        size_t n = 0;
        for (size_t i = 0; i < HT_CENSUS_TYPES && n < n_rows; i++) {
            if (c->rows[i].type != NULL) {
                items[n++] = census_row(&c->rows[i]);
            }
        }
        return rows;
    }
    // Selection, not a sort: the table is small and top smaller, and the
    // census's own rows stay in table order for nobody else to trip on.
    uint8_t taken[HT_CENSUS_TYPES / 8] = {0};
    for (size_t n = 0; n < n_rows; n++) {
        size_t best = HT_CENSUS_TYPES;
        for (size_t i = 0; i < HT_CENSUS_TYPES; i++) {
            const ht_census_row_t *r = &c->rows[i];
            if (r->type == NULL || (taken[i / 8] & (1u << (i % 8)))) {
                continue;
            }
            if (best == HT_CENSUS_TYPES || r->bytes > c->rows[best].bytes) {
                best = i;
            }
        }
        taken[best / 8] |= (uint8_t)(1u << (best % 8));
        items[n] = census_row(&c->rows[best]);
    }
    return rows;
}

static mp_obj_t census_obj(const ht_census_t *c, bool collect, bool verify, size_t top) {
    mp_obj_t items[] = {
        mp_obj_new_bool(collect),
        verify ? mp_obj_new_int_from_uint(c->gc_used) : mp_const_none,
        mp_obj_new_int_from_uint(c->total),
        mp_obj_new_int_from_uint(c->allocations),
        mp_obj_new_int_from_uint(c->unattributed_count),
        mp_obj_new_int_from_uint(c->unattributed_bytes),
        mp_obj_new_int_from_uint(c->other.count),
        mp_obj_new_int_from_uint(c->other.bytes),
        census_rows(c, top),
    };
    return new_tuple(MP_ARRAY_SIZE(items), items);
}

// The census in its room; its result made from there (qstrs and numbers only:
// nothing in it refers to the heap, so a collection while it is made is harmless).
static MP_NOINLINE mp_obj_t census_in_room(bool collect, bool verify, size_t top) {
    ht_census_t census;
    ht_census_take(&census, verify);
    return census_obj(&census, collect, verify, top);
}

// gc_census(collect, verify, top=0): (collected, gc_used (None unless verify),
// total, allocations, unattributed count, bytes, other types' count, bytes,
// rows: every type's, or the `top` biggest's).
static mp_obj_t gc_census_fn(size_t n_args, const mp_obj_t *args) {
    bool collect = mp_obj_is_true(args[0]);
    bool verify = mp_obj_is_true(args[1]);
    mp_int_t top = n_args > 2 ? mp_obj_get_int(args[2]) : 0;
    if (top < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("top must be 0 or more"));
    }
    stack_room(sizeof(ht_census_t) + HT_CENSUS_TYPES / 8);
    if (collect) {
        gc_collect();
    }
    return census_in_room(collect, verify, (size_t)top);
}
MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(heaptrack_gc_census_obj, 2, 3, gc_census_fn);

/******************************************************************************/
// Holder chains.

// Names for the VM's own root pointers (the others are registered by modules,
// MP_REGISTER_ROOT_POINTER, with no name the firmware keeps).
static const struct {
    uint16_t start, end;
    qstr name;
} vm_roots[] = {
    { offsetof(mp_state_ctx_t, vm.mp_loaded_modules_dict), offsetof(mp_state_ctx_t, vm.mp_loaded_modules_dict) + sizeof(mp_obj_dict_t), MP_QSTR_sys_dot_modules },
    { offsetof(mp_state_ctx_t, vm.dict_main), offsetof(mp_state_ctx_t, vm.dict_main) + sizeof(mp_obj_dict_t), MP_QSTR___main__ },
    { offsetof(mp_state_ctx_t, thread.dict_locals), offsetof(mp_state_ctx_t, thread.dict_locals) + sizeof(mp_obj_dict_t *), MP_QSTR_locals },
    { offsetof(mp_state_ctx_t, thread.dict_globals), offsetof(mp_state_ctx_t, thread.dict_globals) + sizeof(mp_obj_dict_t *), MP_QSTR_globals },
    #if MICROPY_KBD_EXCEPTION
    { offsetof(mp_state_ctx_t, vm.mp_kbd_exception), offsetof(mp_state_ctx_t, vm.mp_kbd_exception) + sizeof(mp_obj_exception_t), MP_QSTR_KeyboardInterrupt },
    #endif
};

static mp_obj_t root_obj(const ht_chain_t *chain) {
    switch (chain->root) {
        case HT_ROOT_GLOBAL: {
            mp_obj_t items[] = { MP_OBJ_NEW_QSTR(MP_QSTR_global), MP_OBJ_NEW_QSTR(chain->module), chain->key };
            return new_tuple(MP_ARRAY_SIZE(items), items);
        }
        case HT_ROOT_VM: {
            qstr name = MP_QSTRnull;
            for (size_t i = 0; i < MP_ARRAY_SIZE(vm_roots); i++) {
                if (chain->vm_offset >= vm_roots[i].start && chain->vm_offset < vm_roots[i].end) {
                    name = vm_roots[i].name;
                }
            }
            mp_obj_t items[] = { MP_OBJ_NEW_QSTR(MP_QSTR_vm), mp_obj_new_int_from_uint(chain->vm_offset), qstr_or_none(name) };
            return new_tuple(MP_ARRAY_SIZE(items), items);
        }
        case HT_ROOT_STACK:
        case HT_ROOT_CALLER: {
            mp_obj_t items[] = {
                MP_OBJ_NEW_QSTR(chain->root == HT_ROOT_STACK ? MP_QSTR_stack : MP_QSTR_caller),
                mp_obj_new_int_from_uint(chain->task), mp_obj_new_str_from_cstr(chain->task_name),
            };
            return new_tuple(MP_ARRAY_SIZE(items), items);
        }
        default: {
            mp_obj_t items[] = { MP_OBJ_NEW_QSTR(MP_QSTR_none) };
            return new_tuple(MP_ARRAY_SIZE(items), items);
        }
    }
}

static const qstr via_names[] = {
    [HT_VIA_NONE] = MP_QSTR_,
    [HT_VIA_INDEX] = MP_QSTR_index,
    [HT_VIA_KEY] = MP_QSTR_key,
    [HT_VIA_DICT_KEY] = MP_QSTR_dict_key,
    [HT_VIA_MEMBER] = MP_QSTR_member,
    [HT_VIA_ATTR] = MP_QSTR_attr,
    [HT_VIA_LOCAL] = MP_QSTR_local,
    [HT_VIA_CONST] = MP_QSTR_const,
    [HT_VIA_CLOSED] = MP_QSTR_closed,
    [HT_VIA_WORD] = MP_QSTR_word,
};

// What a link is: a class, a module, an instance of a class, another object,
// or an allocation with no type (a running function's frame, internal data).
static qstr link_what(const ht_link_desc_t *d) {
    if (d->type == NULL) {
        return d->via == HT_VIA_LOCAL ? MP_QSTR_frame : MP_QSTR_data;
    }
    if (d->type == &mp_type_type && d->name != MP_QSTR_type) {   // a class (named by ht_chain_describe)
        return MP_QSTR_class;
    }
    if (d->type == &mp_type_module) {
        return MP_QSTR_module;
    }
    return (d->type->flags & MP_TYPE_FLAG_INSTANCE_TYPE) ? MP_QSTR_instance : MP_QSTR_object;
}

static mp_obj_t link_obj(const ht_link_desc_t *d) {
    mp_obj_t detail = mp_const_none;
    switch (d->via) {
        case HT_VIA_INDEX:
        case HT_VIA_CONST:
        case HT_VIA_CLOSED:
        case HT_VIA_WORD:
            detail = mp_obj_new_int_from_uint(d->index);
            break;
        case HT_VIA_KEY:
        case HT_VIA_DICT_KEY:
        case HT_VIA_ATTR:
            detail = d->key;
            break;
        default:
            break;
    }
    mp_obj_t items[] = {
        MP_OBJ_NEW_QSTR(link_what(d)), qstr_or_none(d->module), qstr_or_none(d->name),
        mp_obj_new_int_from_uint(d->bytes),
        d->via == HT_VIA_NONE ? mp_const_none : MP_OBJ_NEW_QSTR(via_names[d->via]), detail,
        qstr_or_none(d->func),
    };
    return new_tuple(MP_ARRAY_SIZE(items), items);
}

// (root, links, sweeps, truncated), links as (what, module, name, bytes, via, detail, func).
// The chain's descriptions are read before the first allocation; the keys they
// name are held by the chain's objects.
static mp_obj_t chain_obj(const ht_chain_t *chain) {
    ht_link_desc_t descs[HT_CHAIN_LINKS];
    size_t n = 0;
    for (size_t i = 0; i < chain->links; i = descs[n - 1].next) {
        ht_chain_describe(chain, i, &descs[n++]);
    }
    mp_obj_t links = mp_obj_new_tuple(n, NULL);
    for (size_t i = 0; i < n; i++) {
        ((mp_obj_tuple_t *)MP_OBJ_TO_PTR(links))->items[i] = link_obj(&descs[i]);
    }
    mp_obj_t items[] = {
        root_obj(chain), links, mp_obj_new_int_from_uint(chain->sweeps), mp_obj_new_bool(chain->truncated),
    };
    return new_tuple(MP_ARRAY_SIZE(items), items);
}

static MP_NOINLINE void holders_in_room(const void *obj, ht_chain_t *chain) {
    ht_holders_scratch_t scratch;
    ht_holders_find(&scratch, obj, chain);
}

// gc_holders(obj): the chain of holders of one object of the GC heap.
static mp_obj_t gc_holders_fn(mp_obj_t obj_in) {
    ht_gc_ref_t ref;
    if (!mp_obj_is_obj(obj_in) || !ht_gc_head_at(MP_OBJ_TO_PTR(obj_in), &ref)) {
        mp_raise_ValueError(MP_ERROR_TEXT("not an object in the GC heap (small ints, interned strings and built-in objects are not)"));
    }
    stack_room(sizeof(ht_holders_scratch_t) + sizeof(ht_chain_t) + HT_CHAIN_LINKS * sizeof(ht_link_desc_t));
    ht_chain_t chain;
    holders_in_room(MP_OBJ_TO_PTR(obj_in), &chain);
    return chain_obj(&chain);
}
MP_DEFINE_CONST_FUN_OBJ_1(heaptrack_gc_holders_obj, gc_holders_fn);

// Picks `want` of the `total` objects of a type, evenly spaced in address order.
#define HT_SAMPLE_MAX (8)

typedef struct {
    size_t seen, total, want, taken;
    void *objs[HT_SAMPLE_MAX];
} sample_t;

static bool sample_one(void *ctx, void *obj, size_t bytes) {
    (void)bytes;
    sample_t *s = ctx;
    // Object number `seen` is taken when it is the next of `want` evenly spaced ones.
    if (s->taken < s->want && s->seen == (2 * s->taken + 1) * s->total / (2 * s->want)) {
        s->objs[s->taken++] = obj;
    }
    s->seen++;
    return s->taken < s->want;
}

// Counts the objects of the type, then picks `want` of them.
static MP_NOINLINE void sample_in_room(qstr module, qstr name, sample_t *s) {
    ht_census_t census;
    ht_census_take(&census, false);
    for (size_t i = 0; i < HT_CENSUS_TYPES; i++) {
        if (census.rows[i].type != NULL && census.rows[i].name == name && census.rows[i].module == module) {
            s->total += census.rows[i].count;
        }
    }
    if (s->total < s->want) {
        s->want = s->total;
    }
    if (s->want > 0) {
        ht_census_objects(&census, module, name, sample_one, s);
    }
}

// gc_holders_of(module, name, count): (objects of that type, [chain, ...]) for
// up to count of them, evenly spaced through the heap.
static mp_obj_t gc_holders_of_fn(mp_obj_t module_in, mp_obj_t name_in, mp_obj_t count_in) {
    mp_int_t want = mp_obj_get_int(count_in);
    if (want < 1 || want > HT_SAMPLE_MAX) {
        mp_raise_ValueError(MP_ERROR_TEXT("count must be 1 to 8"));
    }
    size_t len;
    const char *name_str = mp_obj_str_get_data(name_in, &len);
    qstr name = qstr_find_strn(name_str, len);
    qstr module = MP_QSTRnull;
    if (module_in != mp_const_none) {
        const char *module_str = mp_obj_str_get_data(module_in, &len);
        module = qstr_find_strn(module_str, len);
        if (module == MP_QSTRnull) {
            name = MP_QSTRnull;   // no such module, so no such type
        }
    }
    sample_t s = { .want = (size_t)want };
    if (name != MP_QSTRnull) {
        stack_room(sizeof(ht_census_t));
        sample_in_room(module, name, &s);
    }
    mp_obj_t chains = mp_obj_new_list(0, NULL);
    stack_room(sizeof(ht_holders_scratch_t) + sizeof(ht_chain_t) + HT_CHAIN_LINKS * sizeof(ht_link_desc_t));
    for (size_t i = 0; i < s.taken; i++) {
        // Making the last chain's objects may have freed this one (if it was garbage).
        ht_gc_ref_t ref;
        const mp_obj_type_t *type;
        qstr m, n;
        if (!ht_gc_head_at(s.objs[i], &ref) || (type = ht_gc_type_at(*(void **)s.objs[i])) == NULL) {
            continue;
        }
        ht_gc_type_name(type, &m, &n);
        if (m != module || n != name) {
            continue;
        }
        ht_chain_t chain;
        holders_in_room(s.objs[i], &chain);
        mp_obj_list_append(chains, chain_obj(&chain));
    }
    mp_obj_t items[] = { mp_obj_new_int_from_uint(s.total), chains };
    return new_tuple(MP_ARRAY_SIZE(items), items);
}
MP_DEFINE_CONST_FUN_OBJ_3(heaptrack_gc_holders_of_obj, gc_holders_of_fn);

/******************************************************************************/
// The GC heap's areas in ESP-IDF's heap.

static const qstr event_fields[] = {
    MP_QSTR_number, MP_QSTR_ms, MP_QSTR_grew, MP_QSTR_address, MP_QSTR_size, MP_QSTR_heap,
    MP_QSTR_task, MP_QSTR_task_name, MP_QSTR_largest_before, MP_QSTR_largest_after,
    MP_QSTR_gc_areas, MP_QSTR_gc_bytes,
};

// gc_events(): (total, lost, [event, ...]) oldest first.
static mp_obj_t gc_events_fn(void) {
    ht_gc_event_t *held = m_new(ht_gc_event_t, HT_GC_EVENTS);
    size_t count;
    uint32_t total, lost;
    ht_err_t err = ht_gc_events_copy(held, HT_GC_EVENTS, &count, &total, &lost);
    if (err != HT_OK) {
        m_del(ht_gc_event_t, held, HT_GC_EVENTS);
        tracker_raise(err);
    }
    mp_obj_t list = mp_obj_new_list(0, NULL);
    for (size_t i = 0; i < count; i++) {
        const ht_gc_event_t *e = &held[i];
        mp_obj_t items[] = {
            mp_obj_new_int_from_uint(e->number),
            mp_obj_new_int_from_ull(ht_gc_event_ms(e)),
            mp_obj_new_bool(e->grew),
            mp_obj_new_int_from_uint(e->address),
            mp_obj_new_int_from_uint(e->size),
            mp_obj_new_str_from_cstr(e->heap),
            mp_obj_new_int_from_uint(e->task),
            mp_obj_new_str_from_cstr(e->task_name),
            mp_obj_new_int_from_uint(e->largest_before),
            mp_obj_new_int_from_uint(e->largest_after),
            mp_obj_new_int_from_uint(e->gc_areas),
            mp_obj_new_int_from_uint(e->gc_bytes),
        };
        mp_obj_list_append(list, mp_obj_new_attrtuple(event_fields, MP_ARRAY_SIZE(items), items));
    }
    m_del(ht_gc_event_t, held, HT_GC_EVENTS);
    mp_obj_t items[] = { mp_obj_new_int_from_uint(total), mp_obj_new_int_from_uint(lost), list };
    return new_tuple(MP_ARRAY_SIZE(items), items);
}
MP_DEFINE_CONST_FUN_OBJ_0(heaptrack_gc_events_obj, gc_events_fn);
