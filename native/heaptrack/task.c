// Tasks started by heaptrack.start_task. Each runs its callable the way
// _thread runs one (py/modthread.c): own thread state, GIL, uncaught
// exceptions printed, then the task ends and the tracker marks it DELETED.
#include <string.h>

#include "py/runtime.h"
#include "py/mpthread.h"
#include "py/stackctrl.h"

#include "errors.h"
#include "task.h"
#include "task_port.h"

#if !MICROPY_PY_THREAD
#error "heaptrack needs MICROPY_PY_THREAD"
#endif

typedef struct {
    // Set by the new task as its first act; the creator waits for it.
    volatile bool running;
    mp_obj_dict_t *dict_locals;
    mp_obj_dict_t *dict_globals;
    size_t stack_size;
    mp_obj_t fun;
    size_t n_args;
    size_t n_kw;
    mp_obj_t args[];
} task_args_t;

static void print_uncaught(mp_obj_t fun, mp_obj_base_t *exc) {
    if (mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(exc->type), MP_OBJ_FROM_PTR(&mp_type_SystemExit))) {
        return;
    }
    mp_printf(MICROPY_ERROR_PRINTER, "Unhandled exception in task started by ");
    mp_obj_print_helper(MICROPY_ERROR_PRINTER, fun, PRINT_REPR);
    mp_printf(MICROPY_ERROR_PRINTER, "\n");
    mp_obj_print_exception(MICROPY_ERROR_PRINTER, MP_OBJ_FROM_PTR(exc));
}

static void *task_entry(void *arg) {
    task_args_t *args = arg;
    args->running = true;

    mp_state_thread_t ts;
    mp_thread_init_state(&ts, args->stack_size, args->dict_locals, args->dict_globals);

    #if MICROPY_ENABLE_PYSTACK
    mp_obj_t mini_pystack[128];
    mp_pystack_init(mini_pystack, &mini_pystack[128]);
    #endif

    MP_THREAD_GIL_ENTER();
    mp_thread_start();

    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_call_function_n_kw(args->fun, args->n_args, args->n_kw, args->args);
        nlr_pop();
    } else {
        print_uncaught(args->fun, (mp_obj_base_t *)nlr.ret_val);
    }

    mp_thread_finish();
    MP_THREAD_GIL_EXIT();
    return NULL;
}

// A name as ESP-IDF stores it: configMAX_TASK_NAME_LEN bytes with the NUL, so
// 1 to 15 bytes of UTF-8 (not characters); and printable, since a control
// character (\n, \r, \t, ...) would break every report line it is printed in.
// (Messages stay shorter than upstream's longest: MicroPython's decompression
// buffer, MP_MAX_UNCOMPRESSED_TEXT_LEN, has no room for the longest one's NUL.)
static const char *checked_name(mp_obj_t name_in) {
    size_t len;
    const char *name = mp_obj_str_get_data(name_in, &len);
    if (len == 0 || len >= HT_TASK_NAME_LEN) {
        mp_raise_msg_varg(&mp_type_ValueError,
            MP_ERROR_TEXT("task name is %d bytes; ESP-IDF stores 1 to %d (configMAX_TASK_NAME_LEN)"),
            (int)len, HT_TASK_NAME_LEN - 1);
    }
    check_printable(name, len, "task name");
    return name;
}

// Copies positional and keyword arguments into one GC block that the port keeps
// as a root for as long as the task runs.
static task_args_t *pack_args(mp_obj_t fun, mp_obj_t args_in, mp_obj_t kwargs_in) {
    size_t n_pos;
    mp_obj_t *pos;
    if (!mp_obj_is_type(args_in, &mp_type_tuple) && !mp_obj_is_type(args_in, &mp_type_list)) {
        mp_raise_TypeError(MP_ERROR_TEXT("args must be a tuple or list"));
    }
    mp_obj_get_array(args_in, &n_pos, &pos);

    mp_map_t *kw = NULL;
    if (kwargs_in != mp_const_none) {
        if (!mp_obj_is_type(kwargs_in, &mp_type_dict)) {
            mp_raise_TypeError(MP_ERROR_TEXT("kwargs must be a dict or None"));
        }
        kw = mp_obj_dict_get_map(kwargs_in);
    }
    size_t n_kw = kw == NULL ? 0 : kw->used;

    task_args_t *args = m_new_obj_var(task_args_t, args, mp_obj_t, n_pos + 2 * n_kw);
    args->running = false;
    args->fun = fun;
    args->n_args = n_pos;
    args->n_kw = n_kw;
    memcpy(args->args, pos, n_pos * sizeof(mp_obj_t));
    for (size_t i = 0, n = n_pos; kw != NULL && i < kw->alloc; i++) {
        if (mp_map_slot_is_filled(kw, i)) {
            if (!mp_obj_is_str(kw->table[i].key)) {
                mp_raise_TypeError(MP_ERROR_TEXT("keywords must be strings"));
            }
            args->args[n++] = kw->table[i].key;
            args->args[n++] = kw->table[i].value;
        }
    }
    args->dict_locals = mp_locals_get();
    args->dict_globals = mp_globals_get();
    return args;
}

// The largest stack_size start_task takes: FreeRTOS's stack depth is a 32-bit
// count of bytes on ESP-IDF, and MicroPython's thread code reads the size as a
// signed machine word. (No heap of a chip holds anything near it: a size that
// fits here but in no heap is a MemoryError, as for any allocation.)
#define HT_STACK_SIZE_MAX 0x7fffffff

static size_t stack_size_arg(mp_obj_t arg) {
    if (arg == MP_OBJ_NULL) {
        return 0;
    }
    if (!mp_obj_is_int(arg)) {
        mp_raise_TypeError(MP_ERROR_TEXT("stack_size must be an int"));
    }
    mp_uint_t value;
    if (!arg_word(arg, &value) || value > HT_STACK_SIZE_MAX) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("stack_size must be from 0 to %u bytes"),
            (unsigned)HT_STACK_SIZE_MAX);
    }
    return value;
}

MP_NORETURN void task_no_memory(const char *name, size_t stack_size) {
    mp_raise_msg_varg(&mp_type_MemoryError,
        MP_ERROR_TEXT("no memory for task '%s': ESP-IDF's heap has no room for its %u-byte stack and its TCB"),
        name, (unsigned)stack_size);
}

mp_obj_t task_start(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_name, ARG_func, ARG_args, ARG_kwargs, ARG_stack_size };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_name, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_func, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_args, MP_ARG_OBJ, {.u_obj = mp_const_empty_tuple} },
        { MP_QSTR_kwargs, MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_stack_size, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args, pos_args, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);

    if (!mp_obj_is_str(args[ARG_name].u_obj)) {
        mp_raise_TypeError(MP_ERROR_TEXT("task name must be a str"));
    }
    const char *name = checked_name(args[ARG_name].u_obj);
    if (!mp_obj_is_callable(args[ARG_func].u_obj)) {
        mp_raise_TypeError(MP_ERROR_TEXT("func must be callable"));
    }
    size_t stack_size = stack_size_arg(args[ARG_stack_size].u_obj);

    task_args_t *task_args = pack_args(args[ARG_func].u_obj, args[ARG_args].u_obj, args[ARG_kwargs].u_obj);
    task_args->stack_size = stack_size;

    ht_task_t handle = ht_task_create(name, task_entry, task_args, &task_args->stack_size);

    // Keep the GIL until the task runs: on ESP32 the port hands the entry point
    // over in one static that any other thread creation would overwrite.
    while (!task_args->running) {
        ht_yield();
    }
    return mp_obj_new_int_from_uint(handle);
}
