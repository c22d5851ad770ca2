// The task port (task_port.h) on the esp32 port: a named FreeRTOS task started
// through the port's own thread machinery, so the new task is registered with
// the GC and the GIL exactly like a _thread thread.
//
// Waiting until the task runs is the caller's job (task_port.h): the port keeps
// the entry pointer in a single static until the new task has read it.

#include <string.h>

#include "py/runtime.h"
#include "py/mpthread.h"

#include "esp_task.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"

#include "task_port.h"

#if !MICROPY_PY_THREAD
#error "heaptrack needs MICROPY_PY_THREAD on the esp32 port"
#endif

// Defined by ports/esp32/mpthreadport.c; no header declares it (upstream would
// export it by declaring it in ports/esp32/mpthreadport.h). This is the one
// declaration: `make check-idf` compiles it against mpthreadport.c's definition.
mp_uint_t mp_thread_create_ex(void *(*entry)(void *), void *arg, size_t *stack_size, int priority, char *name);

// The priority the port gives _thread threads (its MP_THREAD_PRIORITY).
#define HT_TASK_PRIORITY (ESP_TASK_PRIO_MIN + 1)

ht_task_t ht_task_create(const char *name, void *(*entry)(void *), void *arg, size_t *stack_size) {
    // FreeRTOS copies the name into the task's TCB (configMAX_TASK_NAME_LEN
    // bytes), so a truncated local copy is all it needs.
    char task_name[HT_TASK_NAME_LEN];
    size_t len = strlen(name);
    if (len > sizeof(task_name) - 1) {
        len = sizeof(task_name) - 1;
    }
    memcpy(task_name, name, len);
    task_name[len] = '\0';
    // The port raises OSError("can't create thread") when FreeRTOS cannot
    // create the task, which it fails only for want of memory for its stack
    // and TCB (errCOULD_NOT_ALLOCATE_REQUIRED_MEMORY): say so.
    nlr_buf_t nlr;
    ht_task_t handle = 0;
    if (nlr_push(&nlr) == 0) {
        handle = (ht_task_t)mp_thread_create_ex(entry, arg, stack_size, HT_TASK_PRIORITY, task_name);
        nlr_pop();
    } else {
        mp_obj_t exc = MP_OBJ_FROM_PTR(nlr.ret_val);
        if (mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(mp_obj_get_type(exc)), MP_OBJ_FROM_PTR(&mp_type_OSError))) {
            task_no_memory(name, *stack_size);
        }
        nlr_jump(nlr.ret_val);
    }
    return handle;
}

void ht_yield(void) {
    vTaskDelay(1);
}
