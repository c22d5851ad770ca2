// The virtual board's power-on: the firmware process is the chip, and its
// entry point (the unix port's main, linked wrapped: -Wl,--wrap=main,
// boards/HOST/mpconfigvariant.mk) does what the chip's ROM and ESP-IDF's
// start-up do before app_main: read how it was started, set up what every
// boot shares, and start ESP-IDF's application (boards/HOST/esp_idf/
// app_startup.c), whose app_main starts mp_task (boards/HOST/mp_task.c).
//
// "Board mode", chosen by -i on the command line (the virtual board starts the
// firmware with `-i -c BOOT_CODE`, heaptrack_host/vboard/board.py), is the
// virtual board's firmware: a soft reset happens inside the process, the
// board's _boot.py runs with Ctrl-C disarmed. Without -i the firmware behaves
// as upstream's unix port.

#include <stdbool.h>
#include <string.h>

#include "board.h"
#include "host_shim.h"

int __wrap_main(int argc, char **argv);

int __wrap_main(int argc, char **argv) {
    bool board_mode = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-i") == 0) {
            board_mode = true;
        } else if (strcmp(argv[i], "-X") == 0) {
            i++;  // its value
        } else if (strcmp(argv[i], "-c") == 0 || argv[i][0] != '-') {
            break;  // what follows belongs to the code
        }
    }
    board_threads_init();
    board_repl_init(board_mode);
    mp_task_set_command_line(argc, argv, board_mode);
    host_start_app();   // main, then mp_task; never returns
}
