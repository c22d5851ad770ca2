// Named tasks on the host: a MicroPython thread bound to a tracker identity
// before it runs anything, so its first allocation is already charged to it.
#include <sched.h>

#include "py/runtime.h"
#include "py/mpthread.h"

#include "tracker_host.h"

typedef struct {
    ht_host_task_t *task;
    void *(*entry)(void *);
    void *arg;   // GC-reachable through this struct, which the port keeps as a root
} host_start_t;

static void *host_task_trampoline(void *start_in) {
    host_start_t *start = start_in;
    ht_host_task_bind(start->task);
    return start->entry(start->arg);
}

ht_task_t ht_task_create(const char *name, void *(*entry)(void *), void *arg, size_t *stack_size) {
    host_start_t *start = m_new_obj(host_start_t);
    start->task = ht_host_task_new(name);
    if (start->task == NULL) {
        mp_raise_msg(&mp_type_MemoryError, MP_ERROR_TEXT("no memory for a new task"));
    }
    start->entry = entry;
    start->arg = arg;
    mp_thread_create(host_task_trampoline, start, stack_size);
    return ht_host_task_handle(start->task);
}

void ht_yield(void) {
    sched_yield();
}
