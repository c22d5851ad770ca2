// What the virtual board's own files share.
#pragma once

#include <stddef.h>

// Runs the firmware's boots, one per soft reset, until the board goes away or
// a boot ends without one (boards/HOST/board_reset.c); returns the exit status.
// Called by mp_task (boards/HOST/mp_task.c).
int board_main_loop(void);

// The stack, in bytes, the esp32 port gives a MicroPython thread that asked for
// `requested` bytes (0: the default) (boards/HOST/mp_task.c).
size_t host_thread_stack_size(size_t requested);
