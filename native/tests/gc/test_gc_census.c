// heaptrack's census of MicroPython's GC heap and its holder search
// (native/heaptrack/gc_census.h, gc_holders.h), on MicroPython itself: the
// embed port of the pinned MicroPython (ports/embed, configured by
// mpconfigport.h beside this file), 32-bit like the chip, its GC heap in two
// areas, under AddressSanitizer and UBSan. The census must count every live
// allocation exactly once (its total is gc_info()'s used bytes), count the
// objects a script made exactly, survive words that only look like pointers and
// types, and leave the allocation table as it found it; the holder search must
// find the chain a script built, name each step, and leave the table alone;
// the heap's room (ht_gc_room) must be gc_info()'s, whatever the table holds.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "port/micropython_embed.h"
#include "py/compile.h"
#include "py/gc.h"
#include "py/objarray.h"
#include "py/objlist.h"
#include "py/runtime.h"

#include "gc_census.h"
#include "gc_heap.h"
#include "gc_holders.h"

static int g_failed;
#define CHECK(cond) do { \
        if (!(cond)) { \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            g_failed = 1; \
        } \
} while (0)

static char heap1[64 * 1024] __attribute__((aligned(16)));
static char heap2[48 * 1024] __attribute__((aligned(16)));
static ht_census_t census;
static ht_holders_scratch_t scratch;

// Runs Python source in __main__; false (and the traceback) if it raised.
static bool run(const char *src) {
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_lexer_t *lex = mp_lexer_new_from_str_len(MP_QSTR__lt_stdin_gt_, src, strlen(src), 0);
        mp_parse_tree_t tree = mp_parse(lex, MP_PARSE_FILE_INPUT);
        mp_obj_t fun = mp_compile(&tree, lex->source_name, false);
        mp_call_function_0(fun);
        nlr_pop();
        return true;
    }
    mp_obj_print_exception(&mp_plat_print, MP_OBJ_FROM_PTR(nlr.ret_val));
    return false;
}

// A global of __main__.
static mp_obj_t global(const char *name) {
    return mp_load_global(qstr_from_str(name));
}

// Every area's allocation table, in one buffer.
static size_t table_copy(byte *out, size_t max) {
    size_t n = 0;
    for (ht_gc_area_t *a = ht_gc_first_area(); a != NULL; a = ht_gc_next_area(a)) {
        size_t len = a->gc_alloc_table_byte_len;
        if (n + len <= max) {
            memcpy(out + n, a->gc_alloc_table_start, len);
        }
        n += len;
    }
    return n;
}

static byte table_before[8192];
static byte table_after[8192];

// A census, checked for what every census must be: its total the GC's own
// used bytes, its rows adding up to it, the allocation table untouched.
static void take_census(void) {
    size_t n = table_copy(table_before, sizeof(table_before));
    ht_census_take(&census, true);
    CHECK(table_copy(table_after, sizeof(table_after)) == n);
    CHECK(memcmp(table_before, table_after, n) == 0);
    CHECK(census.total == census.gc_used);
    size_t sum = census.unattributed_bytes + census.other.bytes;
    size_t allocations = census.unattributed_count + census.other.count;
    size_t rows = 0;
    for (size_t i = 0; i < HT_CENSUS_TYPES; i++) {
        if (census.rows[i].type != NULL) {
            sum += census.rows[i].bytes;
            allocations += census.rows[i].count;
            rows++;
        }
    }
    CHECK(rows == census.types);
    CHECK(sum == census.total);
    CHECK(allocations <= census.allocations);
}

static const ht_census_row_t *row(const char *module, const char *name) {
    for (size_t i = 0; i < HT_CENSUS_TYPES; i++) {
        const ht_census_row_t *r = &census.rows[i];
        if (r->type != NULL && strcmp(qstr_str(r->name), name) == 0
            && (module == NULL ? r->module == MP_QSTRnull : r->module != MP_QSTRnull && strcmp(qstr_str(r->module), module) == 0)) {
            return r;
        }
    }
    return NULL;
}

static uint32_t count_of(const char *module, const char *name) {
    const ht_census_row_t *r = row(module, name);
    return r != NULL ? r->count : 0;
}

static uint32_t bytes_of(const char *module, const char *name) {
    const ht_census_row_t *r = row(module, name);
    return r != NULL ? r->bytes : 0;
}

// Objects a script makes are counted once each, with their storage.
static void test_known_counts(void) {
    gc_collect();
    take_census();
    uint32_t bytearrays = count_of(NULL, "bytearray");
    uint32_t sets = count_of(NULL, "set");
    CHECK(run(
        "class K:\n"
        "    def __init__(self, i):\n"
        "        self.i = i\n"
        "        self.l = [i]\n"
        "class Empty:\n"
        "    pass\n"
        "ks = [K(i) for i in range(137)]\n"
        "es = tuple(Empty() for i in range(11))\n"
        "d = {}\n"
        "for i in range(53):\n"
        "    d['key%d' % i] = bytearray(i + 1)\n"
        "s = set(range(40))\n"
        "k_bytes = 0\n"));
    gc_collect();
    take_census();
    CHECK(count_of("__main__", "K") == 137);
    CHECK(count_of("__main__", "Empty") == 11);
    CHECK(count_of(NULL, "bytearray") == bytearrays + 53);
    CHECK(count_of(NULL, "set") == sets + 1);
    // A row's bytes are its objects' with what they own, as ht_census_object_bytes
    // measures one.
    mp_obj_t ks = global("ks");
    size_t len;
    mp_obj_t *items;
    mp_obj_list_get(ks, &len, &items);
    size_t k_bytes = 0;
    for (size_t i = 0; i < len; i++) {
        k_bytes += ht_census_object_bytes(MP_OBJ_TO_PTR(items[i]));
    }
    CHECK(len == 137);
    CHECK(bytes_of("__main__", "K") == k_bytes);
    // An instance owns its attribute table: more than its own block.
    CHECK(k_bytes > 137 * 16);
}

static bool count_one(void *ctx, void *obj, size_t bytes) {
    size_t *n = ctx;
    (*n)++;
    CHECK(bytes >= 16);
    CHECK(obj != NULL);
    return true;
}

static bool stop_at_two(void *ctx, void *obj, size_t bytes) {
    size_t *n = ctx;
    return ++(*n) < 2;
}

// The objects of a row are what ht_census_objects gives, and a walk that
// stops giving them still takes its marks back.
static void test_census_objects(void) {
    size_t n = 0;
    size_t len = table_copy(table_before, sizeof(table_before));
    CHECK(ht_census_objects(&census, qstr_from_str("__main__"), qstr_from_str("K"), count_one, &n) == 137);
    CHECK(n == 137);
    n = 0;
    CHECK(ht_census_objects(&census, qstr_from_str("__main__"), qstr_from_str("K"), stop_at_two, &n) == 2);
    table_copy(table_after, sizeof(table_after));
    CHECK(memcmp(table_before, table_after, len) == 0);
    CHECK(count_of("__main__", "K") == 137);   // the census itself is whole
}

// The live allocations whose first word is type: for a class's instances (never
// another object's storage) what a census must count, found the plain way.
static uint32_t heads_of_type(mp_obj_t type) {
    uint32_t n = 0;
    for (ht_gc_area_t *a = ht_gc_first_area(); a != NULL; a = ht_gc_next_area(a)) {
        for (size_t b = 0; b < ht_gc_area_blocks(a); b++) {
            if (ht_gc_kind(a, b) == HT_GC_HEAD && *(void **)ht_gc_block_ptr(a, b) == MP_OBJ_TO_PTR(type)) {
                n++;
            }
        }
    }
    return n;
}

// heaptrack's reading of the GC heap's room (ht_gc_room) against gc_info()'s.
static void check_room(void) {
    gc_info_t info;
    gc_info(&info);
    ht_gc_room_t room;
    ht_gc_room(&room);
    CHECK(room.total == info.total);
    CHECK(room.used == info.used);
    CHECK(room.free == info.free);
    CHECK(room.largest_free == info.max_free * HT_GC_BLOCK_BYTES);
}

// Holes of every length between live blocks, in both areas, a free run at an
// area's end and none: the room is gc_info()'s, byte for byte.
static void test_room(void) {
    check_room();
    CHECK(run(
        "keep = []\n"
        "for n in range(1, 40):\n"
        "    keep.append(bytearray(16 * n))\n"
        "    keep.append(None)\n"
        "    keep[-1] = bytearray(8)\n"
        "holes = [bytearray(16 * (1 + i % 23)) for i in range(300)]\n"));
    check_room();
    CHECK(run("for i in range(0, len(holes), 3): holes[i] = None\n"));
    gc_collect();
    check_room();
    CHECK(run("for i in range(1, len(holes), 7): holes[i] = None\n"));
    gc_collect();
    check_room();
    CHECK(run("holes = None\nkeep = keep[::5]\n"));
    gc_collect();
    check_room();
    CHECK(run("keep = None\n"));
    gc_collect();
    check_room();
    // Both areas full to the last block, then holes: every free run lies
    // between live blocks, so a run carried past one would show.
    CHECK(run(
        "fill = []\n"
        "try:\n"
        "    while True:\n"
        "        fill.append(bytearray(1 + len(fill) % 40))\n"
        "except MemoryError:\n"
        "    pass\n"
        "for i in range(0, len(fill), 37):\n"
        "    fill[i] = None\n"
        "for i in range(5, len(fill) - 9, 101):\n"
        "    for k in range(1 + i % 9):\n"
        "        fill[i + k] = None\n"));
    gc_collect();
    check_room();
    gc_info_t info;
    gc_info(&info);
    CHECK(info.max_free * HT_GC_BLOCK_BYTES < 2048);
    // No room left to compile "fill = None": dropped from C, which allocates nothing.
    mp_store_global(qstr_from_str("fill"), mp_const_none);
    gc_collect();
    check_room();
}

// Allocation tables no script would make, read by both: runs of free, head,
// tail and mark kinds of random lengths, so that runs start and end at every
// place in a word and cross words that are all free, all used or mixed. Each
// table is written over the real ones (nothing allocates meanwhile) and put
// back.
static void test_room_tables(void) {
    size_t n = table_copy(table_before, sizeof(table_before));
    CHECK(n <= sizeof(table_before));
    uint32_t seed = 2024;
    for (int round = 0; round < 300; round++) {
        for (ht_gc_area_t *a = ht_gc_first_area(); a != NULL; a = ht_gc_next_area(a)) {
            size_t blocks = ht_gc_area_blocks(a);
            for (size_t b = 0; b < blocks;) {
                seed = seed * 1103515245u + 12345u;
                unsigned kind = (seed >> 16) % 16;
                // Mostly free, heads and tails; a mark now and then (a walk's scratch).
                kind = kind < 6 ? HT_GC_FREE : kind < 10 ? HT_GC_HEAD : kind < 15 ? HT_GC_TAIL : HT_GC_MARK;
                size_t len = 1 + (seed >> 8) % (round % 2 ? 40 : 5);
                for (; len > 0 && b < blocks; len--, b++) {
                    byte *at = &a->gc_alloc_table_start[b / 4];
                    *at = (byte)((*at & ~(3u << (2 * (b & 3)))) | (kind << (2 * (b & 3))));
                }
            }
        }
        check_room();
    }
    size_t at = 0;
    for (ht_gc_area_t *a = ht_gc_first_area(); a != NULL; a = ht_gc_next_area(a)) {
        memcpy(a->gc_alloc_table_start, table_before + at, a->gc_alloc_table_byte_len);
        at += a->gc_alloc_table_byte_len;
    }
    check_room();
}

// Random object graphs, grown, cut and collected: whatever they hold, a census
// counts every byte once and every instance of a class once.
static void test_random_graphs(void) {
    CHECK(run(
        "class R0:\n"
        "    pass\n"
        "class R1:\n"
        "    def __init__(self):\n"
        "        self.a = self.b = None\n"
        "seed = 12345\n"
        "def rnd(n):\n"
        "    global seed\n"
        "    seed = (seed * 1103515245 + 12345) & 0x7fffffff\n"
        "    return seed % n\n"
        "def make():\n"
        "    k = rnd(11)\n"
        "    if k == 0: return []\n"
        "    if k == 1: return {}\n"
        "    if k == 2: return R0()\n"
        "    if k == 3: return R1()\n"
        "    if k == 4: return bytes(rnd(100))\n"
        "    if k == 5: return 'x' * rnd(60)\n"
        "    if k == 6: return bytearray(rnd(70))\n"
        "    if k == 7: return {rnd(1000)}\n"
        "    if k == 8: return 1 << (40 + rnd(100))\n"
        "    if k == 9: return (rnd(5), None)\n"
        "    return rnd(100) * 0.5\n"
        "root = []\n"
        "containers = [root]\n"
        "def grow(n):\n"
        "    for _ in range(n):\n"
        "        o = make()\n"
        "        c = containers[rnd(len(containers))]\n"
        "        if isinstance(c, list): c.append(o)\n"
        "        elif isinstance(c, dict): c[rnd(50)] = o\n"
        "        elif isinstance(c, R1): c.a = o\n"
        "        else: root.append(o)\n"
        "        if isinstance(o, (list, dict, R1)): containers.append(o)\n"
        "def prune():\n"
        "    global containers\n"
        "    for c in containers:\n"
        "        if isinstance(c, list) and c and rnd(3) == 0: c.pop(rnd(len(c)))\n"
        "        elif isinstance(c, dict) and c and rnd(3) == 0: c.pop(list(c)[0])\n"
        "    containers = [root]\n"
        "    def walk(o):\n"
        "        if isinstance(o, list): items = o\n"
        "        elif isinstance(o, dict): items = list(o.values())\n"
        "        elif isinstance(o, R1): items = [o.a]\n"
        "        else: return\n"
        "        if o is not root: containers.append(o)\n"
        "        for x in items: walk(x)\n"
        "    walk(root)\n"));
    for (int round = 0; round < 12; round++) {
        CHECK(run(round % 3 == 2 ? "prune()\n" : "grow(60)\n"));
        gc_collect();
        take_census();
        check_room();
        CHECK(count_of("__main__", "R0") == heads_of_type(global("R0")));
        CHECK(count_of("__main__", "R1") == heads_of_type(global("R1")));
        CHECK(count_of("__main__", "R1") > 0);
        // Without a collection first, garbage counts too: still every byte once.
        CHECK(run("grow(5)\n"));
        take_census();
        check_room();
    }
}

// Words that only look like types or pointers: a census reads nothing it must
// not (AddressSanitizer would say), counts every byte once, and changes nothing.
static void test_bogus_words(void) {
    CHECK(run("junk = [bytearray(16 * (1 + i % 9)) for i in range(120)]\n"));
    mp_obj_t junk = global("junk");
    size_t len;
    mp_obj_t *items;
    mp_obj_list_get(junk, &len, &items);
    uint32_t seed = 99;
    ht_gc_bounds_t bounds;
    ht_gc_bounds(&bounds);
    const void *types[] = { &mp_type_type, &mp_type_list, &mp_type_dict, &mp_type_str, &mp_type_bytearray,
                            &mp_type_module, &mp_type_fun_bc, &mp_type_int, &mp_type_set };
    for (size_t i = 0; i < len; i++) {
        mp_obj_array_t *a = MP_OBJ_TO_PTR(items[i]);
        uintptr_t *w = a->items;
        for (size_t j = 0; j < a->len / sizeof(uintptr_t); j++) {
            seed = seed * 1103515245u + 12345u;
            switch ((seed >> 16) % 6) {
                case 0:
                    w[j] = (uintptr_t)types[(seed >> 8) % MP_ARRAY_SIZE(types)];
                    break;
                case 1:   // a block start somewhere in the heap
                    w[j] = (bounds.lo + (seed % (bounds.hi - bounds.lo))) & ~(uintptr_t)15;
                    break;
                case 2:   // anywhere in the heap
                    w[j] = bounds.lo + (seed % (bounds.hi - bounds.lo));
                    break;
                case 3:   // just past a type
                    w[j] = (uintptr_t)types[(seed >> 8) % MP_ARRAY_SIZE(types)] + 4 * (seed % 8);
                    break;
                case 4:
                    w[j] = seed;
                    break;
                default:  // a length or a capacity
                    w[j] = seed % 64;
                    break;
            }
        }
    }
    for (int round = 0; round < 3; round++) {
        take_census();
        gc_collect();
    }
    CHECK(run("junk = None\n"));
}

// A chain's links, described, as (what it is, how it holds the next).
static void describe(const ht_chain_t *chain, ht_link_desc_t *descs, size_t *n) {
    *n = 0;
    for (size_t i = 0; i < chain->links; i = descs[*n - 1].next) {
        ht_chain_describe(chain, i, &descs[(*n)++]);
    }
}

static void find_chain(mp_obj_t obj, ht_chain_t *chain) {
    size_t n = table_copy(table_before, sizeof(table_before));
    ht_holders_find(&scratch, MP_OBJ_TO_PTR(obj), chain);
    table_copy(table_after, sizeof(table_after));
    CHECK(memcmp(table_before, table_after, n) == 0);
}

static bool is_qstr_named(mp_obj_t o, const char *name) {
    return mp_obj_is_str(o) && strcmp(mp_obj_str_get_str(o), name) == 0;
}

static void test_holders(void) {
    CHECK(run(
        "class Sensor:\n"
        "    registry = {}\n"
        "    def __init__(self):\n"
        "        self.cache = {}\n"
        "x = {'a': [0, 1, bytearray(5)]}\n"
        "sensor = Sensor()\n"
        "sensor.cache['k17'] = b'reading' * 3\n"
        "Sensor.registry['r'] = bytearray(7)\n"
        "pair = (None, bytearray(3))\n"));
    gc_collect();
    ht_chain_t chain;
    ht_link_desc_t d[HT_CHAIN_LINKS];
    size_t n;

    // x['a'][2]: __main__.x -> dict['a'] -> list[2] -> bytearray
    mp_obj_t target = mp_obj_subscr(mp_obj_subscr(global("x"), mp_obj_new_str_from_cstr("a"), MP_OBJ_SENTINEL),
        MP_OBJ_NEW_SMALL_INT(2), MP_OBJ_SENTINEL);
    find_chain(target, &chain);
    CHECK(chain.root == HT_ROOT_GLOBAL);
    CHECK(chain.module == MP_QSTR___main__ && is_qstr_named(chain.key, "x"));
    describe(&chain, d, &n);
    CHECK(n == 3);
    CHECK(d[0].type == &mp_type_dict && d[0].via == HT_VIA_KEY && is_qstr_named(d[0].key, "a"));
    CHECK(d[1].type == &mp_type_list && d[1].via == HT_VIA_INDEX && d[1].index == 2);
    CHECK(d[2].type == &mp_type_bytearray && d[2].via == HT_VIA_NONE && d[2].bytes == 32);
    CHECK(chain.sweeps >= 1 && !chain.truncated);

    // sensor.cache['k17']: __main__.sensor -> Sensor instance .cache -> dict['k17'] -> bytes
    target = mp_obj_subscr(mp_load_attr(global("sensor"), qstr_from_str("cache")),
        mp_obj_new_str_from_cstr("k17"), MP_OBJ_SENTINEL);
    find_chain(target, &chain);
    CHECK(chain.root == HT_ROOT_GLOBAL && is_qstr_named(chain.key, "sensor"));
    describe(&chain, d, &n);
    CHECK(n == 3);
    CHECK(d[0].via == HT_VIA_ATTR && is_qstr_named(d[0].key, "cache"));
    CHECK(d[0].name == qstr_from_str("Sensor") && d[0].module == MP_QSTR___main__);
    CHECK(d[1].via == HT_VIA_KEY && is_qstr_named(d[1].key, "k17"));
    CHECK(d[2].type == &mp_type_bytes);

    // Sensor.registry['r']: __main__.Sensor -> class Sensor .registry -> dict['r'] -> bytearray
    target = mp_obj_subscr(mp_load_attr(global("Sensor"), qstr_from_str("registry")),
        mp_obj_new_str_from_cstr("r"), MP_OBJ_SENTINEL);
    find_chain(target, &chain);
    CHECK(chain.root == HT_ROOT_GLOBAL && is_qstr_named(chain.key, "Sensor"));
    describe(&chain, d, &n);
    CHECK(n == 3);
    CHECK(d[0].type == &mp_type_type && d[0].name == qstr_from_str("Sensor") && d[0].via == HT_VIA_ATTR);
    CHECK(is_qstr_named(d[0].key, "registry"));

    // pair[1]: a tuple holds its items inline.
    target = mp_obj_subscr(global("pair"), MP_OBJ_NEW_SMALL_INT(1), MP_OBJ_SENTINEL);
    find_chain(target, &chain);
    describe(&chain, d, &n);
    CHECK(chain.root == HT_ROOT_GLOBAL && n == 2);
    CHECK(d[0].type == &mp_type_tuple && d[0].via == HT_VIA_INDEX && d[0].index == 1);

    // Held only here, on this stack: the caller.
    volatile mp_obj_t mine = mp_obj_new_list(0, NULL);
    find_chain(mine, &chain);
    CHECK(chain.root == HT_ROOT_CALLER && chain.links == 1);
    CHECK(strcmp(chain.task_name, "test") == 0);

    // No live allocation: no chain.
    find_chain(MP_OBJ_FROM_PTR(&mp_type_list), &chain);
    CHECK(chain.links == 0);
}

int main(void) {
    int stack_top;
    mp_embed_init(heap1, sizeof(heap1), &stack_top);
    // A second area, as the GC heap grows on a board.
    gc_add(heap2, heap2 + sizeof(heap2));
    test_known_counts();
    test_census_objects();
    test_random_graphs();
    test_room();
    test_room_tables();
    test_bogus_words();
    test_holders();
    mp_embed_deinit();
    printf("%s: %s\n", "test_gc_census", g_failed ? "FAILED" : "all passed");
    return g_failed;
}
