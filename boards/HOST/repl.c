// A boot's scripts, its REPL and Ctrl-C on the virtual board, as on the esp32
// port (ports/esp32/main.c): boot.py, then main.py, then the REPL; the board's
// own _boot.py (the command-line code) runs with Ctrl-C disarmed.
//
// Upstream's functions are linked wrapped (-Wl,--wrap=SYMBOL,
// boards/HOST/mpconfigvariant.mk): their callers reach the __wrap_ functions
// here, which call upstream's as __real_.
//
// - pyexec_friendly_repl / pyexec_raw_repl: before a boot's first REPL, run
//   boot.py, then main.py in the friendly REPL only, and note that the REPL
//   ended (a soft reset, not the end of a script).
// - mp_hal_set_interrupt_char: esp32 runs _boot.py with EXEC_FLAG_NO_INTERRUPT,
//   so no Ctrl-C is armed while it runs. Disarmed, SIGINT is ignored
//   (upstream: default action, the process would die of a Ctrl-C that comes in
//   as code finishes) and a Ctrl-C never ends the process (upstream exits on a
//   second SIGINT before the first was handled).

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>

#include "py/builtin.h"
#include "py/runtime.h"
#include "shared/runtime/pyexec.h"

#include "board.h"

#define CTRL_C (3)

int __real_pyexec_friendly_repl(void);
int __real_pyexec_raw_repl(void);
void __real_mp_hal_set_interrupt_char(char c);

int __wrap_pyexec_friendly_repl(void);
int __wrap_pyexec_raw_repl(void);
void __wrap_mp_hal_set_interrupt_char(char c);

static bool board_mode;          // started with -i: the virtual board's firmware
static pthread_t mp_task_thread;
static bool boot_code_running;   // the command-line code (the board's _boot.py) runs
static bool boot_scripts_due;    // boot.py and main.py not yet run in this boot
static bool repl_ended;          // the REPL asked for a soft reset

static bool file_exists(const char *name) {
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        bool exists = mp_import_stat(name) == MP_IMPORT_STAT_FILE;
        nlr_pop();
        return exists;
    }
    return false;
}

// As ports/esp32/main.c: boot.py, then main.py in the friendly REPL if boot.py
// completed; a SystemExit in either is a soft reset.
static int run_boot_scripts(void) {
    int ret = file_exists("boot.py") ? pyexec_file("boot.py") : PYEXEC_NORMAL_EXIT;
    if (ret & PYEXEC_FORCED_EXIT) {
        return ret;
    }
    if (pyexec_mode_kind == PYEXEC_MODE_FRIENDLY_REPL && ret == PYEXEC_NORMAL_EXIT && file_exists("main.py")) {
        ret = pyexec_file("main.py");
        if (ret & PYEXEC_FORCED_EXIT) {
            return ret;
        }
    }
    return 0;
}

static int run_repl(int (*real_repl)(void)) {
    if (boot_scripts_due) {
        boot_scripts_due = false;
        boot_code_running = false;
        int ret = run_boot_scripts();
        if (ret != 0) {
            repl_ended = true;
            return ret;
        }
    }
    int ret = real_repl();
    if (ret != 0) {  // upstream's do_repl() returns: Ctrl-D, or SystemExit
        repl_ended = true;
    }
    return ret;
}

int __wrap_pyexec_friendly_repl(void) {
    return run_repl(__real_pyexec_friendly_repl);
}

int __wrap_pyexec_raw_repl(void) {
    return run_repl(__real_pyexec_raw_repl);
}

// Ctrl-C.
//
// The virtual board sends SIGINT to the process. The kernel gives a process's
// signal to its first thread unless that thread blocks it, and the first thread
// is the chip's start-up, which blocks everything: so it may land in any task.
// mp_task gets it too, so that a blocking call there (time.sleep) ends with
// EINTR and the KeyboardInterrupt is raised now, as on a board.
static void on_sigint(int signum) {
    mp_sched_keyboard_interrupt();
    if (!pthread_equal(pthread_self(), mp_task_thread)) {
        pthread_kill(mp_task_thread, signum);
    }
}

void __wrap_mp_hal_set_interrupt_char(char c) {
    if (!board_mode) {
        __real_mp_hal_set_interrupt_char(c);
        return;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = (c == CTRL_C && !boot_code_running) ? on_sigint : SIG_IGN;
    sigaction(SIGINT, &sa, NULL);
}

void board_repl_init(bool virtual_board) {
    board_mode = virtual_board;
    if (board_mode) {
        __wrap_mp_hal_set_interrupt_char(-1);
    }
}

void board_repl_boot_start(void) {
    mp_task_thread = pthread_self();
    boot_code_running = board_mode;
    boot_scripts_due = board_mode;
    repl_ended = false;
}

bool board_repl_ended(void) {
    return repl_ended;
}
