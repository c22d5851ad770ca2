// heaptrack.start_task: named tasks that run a Python callable.
#ifndef HEAPTRACK_TASK_H
#define HEAPTRACK_TASK_H

#include "py/obj.h"

// start_task(name, func, args=(), kwargs=None, *, stack_size=0) -> handle
mp_obj_t task_start(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args);

#endif // HEAPTRACK_TASK_H
