// The task port (task_port.h) on the host firmware: a MicroPython thread
// (the unix port's mp_thread_create) that the host's FreeRTOS stand-in turns
// into a task named `name`, with its TCB made by this, the creating, task
// (boards/HOST/esp_idf/freertos.c), as the esp32 port's xTaskCreate does.
#include <sched.h>

#include "py/runtime.h"
#include "py/mpthread.h"
#include "py/mperrno.h"

#include "host_shim.h"
#include "task_port.h"

ht_task_t ht_task_create(const char *name, void *(*entry)(void *), void *arg, size_t *stack_size) {
    host_task_set_next_name(name);
    // mp_thread_create raises OSError when no thread can be made: ENOMEM when
    // ESP-IDF's heap has no room for the task's stack or TCB (the host's
    // FreeRTOS, boards/HOST/esp_idf/freertos.c), another errno for the host's
    // own limits.
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_thread_create(entry, arg, stack_size);
        nlr_pop();
    } else {
        mp_obj_t exc = MP_OBJ_FROM_PTR(nlr.ret_val);
        if (mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(mp_obj_get_type(exc)), MP_OBJ_FROM_PTR(&mp_type_OSError))
            && mp_obj_exception_get_value(exc) == MP_OBJ_NEW_SMALL_INT(MP_ENOMEM)) {
            task_no_memory(name, *stack_size);
        }
        nlr_jump(nlr.ret_val);
    }
    return (ht_task_t)host_task_last_created();
}

void ht_yield(void) {
    sched_yield();
}
