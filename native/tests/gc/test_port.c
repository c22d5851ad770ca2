// The host shim's calls that gc_port_host.c makes, for the C tests' program:
// one task (the test's thread), no other stacks.
#include <string.h>

#include "host_shim.h"

size_t host_task_stacks(host_task_stack_t *stacks, size_t max) {
    (void)stacks;
    (void)max;
    return 0;
}

uintptr_t host_task_self(char *name) {
    memset(name, 0, 16);
    strcpy(name, "test");
    return 1;
}

// What MicroPython asks of a port with io.open, which these tests never call.
#include "py/mperrno.h"
#include "py/runtime.h"

static mp_obj_t no_open(size_t n_args, const mp_obj_t *args, mp_map_t *kwargs) {
    mp_raise_OSError(MP_ENOENT);
}
MP_DEFINE_CONST_FUN_OBJ_KW(mp_builtin_open_obj, 1, no_open);
