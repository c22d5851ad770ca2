// The census of MicroPython's GC heap: for every type, its live objects and
// their bytes, a container's own storage (a list's item array, a dict's table,
// a str's data, an instance's attribute table, ...) counted with the object
// that owns it, and what no object owns as one "unattributed" row. Every live
// allocation is counted exactly once, so the bytes add up to the GC's used bytes.
//
// A census is one sweep of the allocation table (gc_heap.h) with the GIL
// held: every allocation is counted by the type its first word points to
// unless an owner claims it (marked in the table; what an owner claims after
// the sweep counted it is taken back); then the marks go. It allocates nothing: its table is a fixed size, and types
// beyond its room are counted together in one "other types" row.
#ifndef HEAPTRACK_GC_CENSUS_H
#define HEAPTRACK_GC_CENSUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "py/obj.h"

// The distinct types one census tells apart (a power of two: an open-addressed
// table; it fills to 3/4). 16 bytes of static RAM each (shared with the holder
// search's room, gc_holders.h).
#ifndef HT_CENSUS_TYPES
#define HT_CENSUS_TYPES (128)
#endif

typedef struct {
    const mp_obj_type_t *type;   // NULL: an empty slot
    uint32_t bytes;              // its objects' blocks' bytes and their storage's
    uint32_t count : 24;         // objects of this type not owned by another
    uint32_t kind : 8;           // what storage its objects own (gc_census.c)
    uint16_t module;             // the module a class was defined in (a qstr), or
                                 // MP_QSTRnull (also past 16 bits' qstrs)
    uint16_t name;               // the type's name (a qstr, 16 bits in the type itself)
} ht_census_row_t;

typedef struct {
    ht_census_row_t rows[HT_CENSUS_TYPES];
    size_t types;                // rows in use
    size_t gc_used;              // the GC's used bytes (gc_info) at the census, when verified (else SIZE_MAX)
    size_t total;                // bytes of every live allocation counted
    size_t allocations;          // live allocations (heads), claimed ones included
    uint32_t unattributed_count; // allocations no type or owner claims
    uint32_t unattributed_bytes;
    ht_census_row_t other;       // objects of types beyond the table's room (type NULL)
    void *sweep_area;            // where the sweep is (gc_census.c)
    size_t sweep_block;
} ht_census_t;

// Counts the GC heap into *census (whose rows are in table order: skip the
// empty ones). The table of allocations is as before when it returns. verify:
// also read the GC's own count of used bytes first (gc_info: a sweep of the
// table of its own), which census->total must equal.
void ht_census_take(ht_census_t *census, bool verify);

// The same walk, which also calls fn for every live object of the given type
// (by its name and, for a class, its module, MP_QSTRnull for none) that no
// other object owns, in address order, until fn returns false: "the objects of
// a row". fn runs in the middle of the walk, so it must not allocate from the
// GC heap. Returns how many objects it called fn for.
typedef bool (*ht_census_obj_fn_t)(void *ctx, void *obj, size_t bytes);
size_t ht_census_objects(ht_census_t *census, qstr module, qstr name, ht_census_obj_fn_t fn, void *ctx);

// The bytes a census counts for one object: its own blocks and the storage
// it owns (whether or not another object claims the same storage first). 0
// when obj is no live allocation.
size_t ht_census_object_bytes(const void *obj);

#endif // HEAPTRACK_GC_CENSUS_H
