// MicroPython's task on the virtual board, started as the esp32 port starts
// it (ports/esp32/main.c) and holding MicroPython's heap as it does there:
//
//   - app_main, run by ESP-IDF's `main` task (boards/HOST/esp_idf/app_startup.c),
//     creates `mp_task` with xTaskCreatePinnedToCore. `main` allocates its
//     stack and TCB from ESP-IDF's heap, so ESP-IDF charges them to `main`,
//     which then returns from app_main and is deleted, holding them.
//   - mp_task runs MicroPython once per boot, a soft reset starting the next
//     (Ctrl-D, sys.exit(), mpremote's soft reset), with "MPY: soft reboot" in
//     between, as the port's mp_task() loop does: on an ESP32 a soft reset
//     restarts MicroPython only, and ESP-IDF's heap and its task statistics
//     live on until a hard reset, so here it happens inside the process. A
//     boot is upstream unix main() (VM init, the command-line code, the REPL,
//     VM deinit), linked wrapped (-Wl,--wrap=main): the process ends only when
//     its input ends (the virtual board went away) or on a hard reset
//     (machine.reset(), below). The boot's scripts and REPL are repl.c's, its
//     threads' end threads.c's.
//   - mp_task takes MicroPython's GC heap, MICROPY_GC_INITIAL_HEAP_SIZE bytes,
//     from ESP-IDF's heap with the chip's malloc, once: it keeps it across
//     soft resets. As the GC heap fills, upstream's gc.c adds areas
//     (MICROPY_GC_SPLIT_HEAP_AUTO) with MP_PLAT_ALLOC_HEAP, the chip's malloc,
//     as large as gc_get_max_new_split() allows, and frees an area that a
//     collection empties; the soft reset's gc_sweep_all() empties all but the
//     first. All of it is charged to mp_task.
//
// The unix port's main() allocates a GC heap with the C library's malloc and
// passes it to gc_init(); the firmware links gc_init wrapped
// (boards/HOST/mpconfigvariant.mk), and the wrapper gives that block back and
// initialises the GC on mp_task's heap instead (so the unix port's
// -X heapsize has no effect: the heap's size is the port's).
//
// Static state of ports/unix checked for a second run of main: mpthreadport.c
// (pthread key, thread list, semaphore, GC signal) is set up once and kept
// (mp_thread_init would otherwise create a pthread key per boot, and keys run
// out after ~1000); main.c re-reads its options and allocates a new GC heap
// each run, and keeps executable_path (allocated once; freed at exit only
// without NDEBUG, then reused: hence the NDEBUG check below); pyexec_mode_kind
// (shared/runtime/pyexec.c) persists, so a raw-REPL client gets its raw REPL
// back after a soft reset, as from a board; input.c/readline and unix_mphal.c
// keep nothing across a boot that matters (readline history is re-read from
// $HOME each boot; the terminal mode is set per line).

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "py/gc.h"
#include "py/mpconfig.h"
#include "py/obj.h"

#include "board.h"
#include "host_shim.h"

#ifndef NDEBUG
// ports/unix/main.c frees executable_path at the end of main_() only without
// NDEBUG and keeps the dangling pointer for the next run.
#error "the host firmware's in-process soft reset needs NDEBUG (no DEBUG=1 build)"
#endif

// Exit status of the process for machine.reset(): the virtual board starts a
// new firmware process (power-on state). heaptrack_host/vboard/board.py: HARD_RESET_STATUS.
#define HARD_RESET_STATUS (100)

static const char soft_reboot_msg[] = "MPY: soft reboot\n";

int __real_main(int argc, char **argv);
void __real_gc_init(void *start, void *end);
void __wrap_gc_init(void *start, void *end);

const bool host_starts_app = true;   // power_on.c's __wrap_main does

static int main_argc;
static char **main_argv;
static bool board_mode;

static char *mp_task_heap;

void __wrap_gc_init(void *start, void *end) {
    (void)end;
    free(start);
    if (mp_task_heap == NULL) {
        mp_task_heap = MP_PLAT_ALLOC_HEAP(MICROPY_GC_INITIAL_HEAP_SIZE);
        if (mp_task_heap == NULL) {
            // The port prints this and restarts the chip; here that would loop.
            fprintf(stderr, "mp_task_heap allocation failed!\n");
            exit(2);
        }
    }
    __real_gc_init(mp_task_heap, mp_task_heap + MICROPY_GC_INITIAL_HEAP_SIZE);
}

// As ports/esp32/gccollect.c: a new area can be as large as the largest free
// block the chip's malloc could hand out.
size_t gc_get_max_new_split(void) {
    return host_chip_largest_free_block();
}

// True if stdin has ended (the virtual board closed it): a hangup with nothing
// left to read, or a stream that is readable with nothing in it (a file at its
// end, /dev/null). A Ctrl-D byte is not an end: the stream stays open.
static bool stdin_ended(void) {
    struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
    int n;
    do {
        n = poll(&p, 1, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0 || (p.revents & POLLNVAL)) {
        return true;
    }
    if (p.revents & POLLIN) {
        int avail = 0;
        return ioctl(STDIN_FILENO, FIONREAD, &avail) != 0 || avail == 0;
    }
    return (p.revents & (POLLHUP | POLLERR)) != 0;
}

static void write_stdout(const char *s, size_t len) {
    while (len > 0) {
        ssize_t n = write(STDOUT_FILENO, s, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return;
        }
        s += n;
        len -= n;
    }
}

void mp_task_set_command_line(int argc, char **argv, bool virtual_board) {
    main_argc = argc;
    main_argv = argv;
    board_mode = virtual_board;
}

// The boots, one per soft reset, until the board goes away or a boot ends
// without one; then the process ends with the last boot's status.
static void mp_task(void *arg) {
    (void)arg;
    board_threads_set_main();
    for (;;) {
        board_repl_boot_start();
        int ret = __real_main(main_argc, main_argv);
        if (!board_mode || !board_repl_ended() || stdin_ended()) {
            fflush(NULL);
            exit(ret);
        }
        write_stdout(soft_reboot_msg, sizeof(soft_reboot_msg) - 1);
    }
}

void app_main(void) {
    // The stack depth in StackType_t, bytes on ESP-IDF.
    struct tskTaskControlBlock *handle;
    if (xTaskCreatePinnedToCore(mp_task, "mp_task", MICROPY_TASK_STACK_SIZE, NULL, MP_TASK_PRIORITY,
        &handle, MP_TASK_COREID) != 1) {
        fprintf(stderr, "cannot create mp_task\n");
        exit(2);
    }
}

// A hard reset: the whole process ends at once, like a chip reset, and the
// virtual board starts a new one (ESP-IDF's heap and statistics from power-on).
static mp_obj_t host_machine_reset(void) {
    fflush(NULL);
    _exit(HARD_RESET_STATUS);
}
MP_DEFINE_CONST_FUN_OBJ_0(host_machine_reset_obj, host_machine_reset);
