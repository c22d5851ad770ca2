// Who holds an object in MicroPython's GC heap: the chain of holders from a
// root down to it (objgraph's find_backref_chain), found as the GC finds what
// is alive, conservatively: a word refers to an allocation when it holds the
// allocation's start address.
//
// The search goes backwards from the object, breadth first, so the chain found
// is a shortest one: each level is one sweep of the heap for the allocations
// that refer to the level before, after a look at the roots, in this order: a
// module's globals (sys.modules and __main__), the VM's root pointers, the
// stacks of the other tasks. The calling task's own stack (which holds the
// object the caller passed) counts only when nothing else holds the chain.
// Visited allocations are marked in the allocation table, the marks removed
// before it returns; it allocates nothing, its room is fixed (HT_HOLDERS_NODES
// allocations in the search; beyond that the search goes on with what it has
// and says so).
#ifndef HEAPTRACK_GC_HOLDERS_H
#define HEAPTRACK_GC_HOLDERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "py/obj.h"

#include "tracker.h"

// The allocations one search can hold (12 bytes of static RAM each, shared
// with the census's table, gc_census.h).
#ifndef HT_HOLDERS_NODES
#define HT_HOLDERS_NODES (192)
#endif
// The longest chain reported (links, the object included).
#define HT_CHAIN_LINKS (24)

typedef struct {
    uintptr_t block;    // an allocation's start
    uint32_t offset;    // where in it (bytes) the reference to node `to` is
    uint16_t to;        // the node one step nearer the object (itself for the object)
    uint16_t level;     // steps from the object
} ht_holder_node_t;

typedef struct {
    ht_holder_node_t nodes[HT_HOLDERS_NODES];
} ht_holders_scratch_t;

typedef enum {
    HT_ROOT_NONE,     // no holder: garbage, or held from outside what is looked at
    HT_ROOT_GLOBAL,   // a module's global (module, key)
    HT_ROOT_VM,       // one of the VM's root pointers (offset in mp_state_ctx)
    HT_ROOT_STACK,    // another task's stack (task, task_name)
    HT_ROOT_CALLER,   // only the calling task's stack (a running function's locals, or the caller)
} ht_root_kind_t;

typedef struct {
    const void *obj;    // an allocation's start
    size_t bytes;       // its size
    size_t offset;      // where in it (bytes) the reference to the next link is
} ht_chain_link_t;

typedef struct {
    ht_root_kind_t root;
    qstr module;                // HT_ROOT_GLOBAL: the module (its name in sys.modules)
    mp_obj_t key;               // HT_ROOT_GLOBAL: the global's name (the globals' key)
    size_t vm_offset;           // HT_ROOT_VM: where in mp_state_ctx
    ht_task_t task;             // HT_ROOT_STACK, HT_ROOT_CALLER
    char task_name[HT_TASK_NAME_LEN];
    size_t links;
    ht_chain_link_t link[HT_CHAIN_LINKS];   // link[0] is what the root holds; the last the object
    size_t sweeps;              // heap sweeps the search made
    bool truncated;             // the search ran out of room: a chain may exist that it missed
} ht_chain_t;

// The chain of holders of the allocation that starts at obj (which must be
// one: ht_gc_head_at). chain->links is 0 only when obj is no live allocation.
void ht_holders_find(ht_holders_scratch_t *scratch, const void *obj, ht_chain_t *chain);

// How one link of a chain holds the next, as a user would write it.
typedef enum {
    HT_VIA_NONE,      // the last link: the object itself
    HT_VIA_INDEX,     // obj[index] (a list, a tuple, a deque's ring)
    HT_VIA_KEY,       // obj[key] (a dict's value)
    HT_VIA_DICT_KEY,  // one of the keys of a dict (key)
    HT_VIA_MEMBER,    // a member of a set
    HT_VIA_ATTR,      // obj.key: an instance's attribute, a class's or a module's (key: a qstr)
    HT_VIA_LOCAL,     // a local variable (or value stack) of a running function or generator (func)
    HT_VIA_CONST,     // a constant of a function's module's code (func: the function)
    HT_VIA_CLOSED,    // a variable a closure closed over (func: the closure's function)
    HT_VIA_WORD,      // some other word of it, at `index` bytes
} ht_via_t;

typedef struct {
    const mp_obj_type_t *type;  // the link's type, NULL for an allocation that is no object
    qstr module, name;          // the type's name (ht_gc_type_name); name MP_QSTRnull without a type
    size_t bytes;               // the object's bytes with the storage the chain passed through
    ht_via_t via;
    size_t index;
    mp_obj_t key;
    qstr func;                  // a function's name: the link's own (a function, a
                                // closure, a generator), or the frame's; MP_QSTRnull if none
    size_t next;                // the link this one holds (the storage in between is its own)
} ht_link_desc_t;

// Describes link i of a chain (its object, and how it holds the next object).
// Reads only the chain's allocations, which the chain's root holds.
void ht_chain_describe(const ht_chain_t *chain, size_t i, ht_link_desc_t *desc);

#endif // HEAPTRACK_GC_HOLDERS_H
