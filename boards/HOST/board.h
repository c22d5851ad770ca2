// What the virtual board's own files share.
#pragma once

// Runs the firmware's boots, one per soft reset, until the board goes away or
// a boot ends without one (boards/HOST/board_reset.c); returns the exit status.
// Called by mp_task (boards/HOST/mp_task.c).
int board_main_loop(void);
