// tlsf_find_containing_block() for a tlsf checkout that lacks it (see
// tlsf_compat.h): the used block of `pool` whose bytes include `ptr`, found
// with tlsf's public pool walker. Only multi_heap_find_containing_block
// (heap_caps_get_containing_block_size) calls it; O(blocks), which that
// debugging call can afford.
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tlsf.h"
#include "tlsf_compat.h"

typedef struct {
    uintptr_t ptr;
    void *found;
} containing_t;

static bool find_containing(void *block, size_t size, int used, void *user) {
    containing_t *c = user;
    uintptr_t start = (uintptr_t)block;
    if (used && c->ptr >= start && c->ptr - start < size) {
        c->found = block;
        return false;
    }
    return true;
}

void *tlsf_find_containing_block(void *pool, void *ptr) {
    containing_t c = { .ptr = (uintptr_t)ptr, .found = NULL };
    tlsf_walk_pool(pool, find_containing, &c);
    return c.found;
}
