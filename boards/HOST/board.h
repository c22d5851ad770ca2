// What the virtual board's own files offer each other. Calls go one way:
// power_on.c sets up threads.c, repl.c and mp_task.c, then starts ESP-IDF's
// application, whose app_main (mp_task.c) runs the boots, each using
// repl.c and threads.c; neither of those calls back.
#pragma once

#include <stdbool.h>

// threads.c: MicroPython's threads, as the esp32 port's tasks.
// Once, before the first boot (the exit hook's key, the wake-up signal).
void board_threads_init(void);
// Called by mp_task: its thread is MicroPython's main thread, which a soft
// reset never ends.
void board_threads_set_main(void);

// repl.c: a boot's scripts, its REPL and Ctrl-C.
// Once, before the first boot: virtual_board is "board mode" (-i).
void board_repl_init(bool virtual_board);
// At the start of each boot, in mp_task.
void board_repl_boot_start(void);
// Whether the boot's REPL asked for a soft reset (rather than its code ending).
bool board_repl_ended(void);

// mp_task.c: the boots. The command line each boot runs with (upstream's
// main() reads it again each time).
void mp_task_set_command_line(int argc, char **argv, bool virtual_board);
