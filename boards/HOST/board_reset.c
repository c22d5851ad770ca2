// Resets of the host firmware as on an ESP32: a soft reset happens inside the
// firmware process, a hard reset (machine.reset()) ends it.
//
// Why: on an ESP32 a soft reset (Ctrl-D, sys.exit(), mpremote's soft reset)
// restarts MicroPython only; ESP-IDF's heap and its task statistics live on
// until a hard reset. The host firmware keeps them in process memory, so its
// soft reset must not end the process either.
//
// How, without changing upstream MicroPython: the unix port's main() runs the
// REPL once and returns; the variant links with -Wl,--wrap=SYMBOL for the
// symbols below (boards/HOST/mpconfigvariant.mk), so their callers in other
// object files reach the __wrap_ functions here, which call the upstream ones
// as __real_. This is "board mode", chosen by -i on the command line (the
// virtual board starts the firmware with `-i -c BOOT_CODE`); without -i the
// firmware behaves as upstream's unix port:
//
// - main: a board's main loop (ports/esp32/main.c): run upstream's main (one
//   boot: VM init, the command-line code, the REPL, VM deinit) again on every
//   soft reset, with "MPY: soft reboot" in between. The process ends only when
//   its input ends (the virtual board went away) or on a hard reset.
// - pyexec_friendly_repl / pyexec_raw_repl: before a boot's first REPL, run
//   boot.py, then main.py in the friendly REPL only (as ports/esp32/main.c
//   does), and note that the REPL ended (a soft reset, not the end of a script).
// - mp_hal_set_interrupt_char: the command-line code is the board's _boot.py
//   (the virtual board's setup: its flash mounted at /); esp32 runs _boot.py
//   with EXEC_FLAG_NO_INTERRUPT, so no Ctrl-C is armed while it runs. Disarmed,
//   SIGINT is ignored (upstream: default action, the process would die of a
//   Ctrl-C that comes in as code finishes) and a Ctrl-C never ends the process
//   (upstream exits on a second SIGINT before the first was handled).
// - mp_thread_init / mp_thread_deinit / mp_thread_create / mp_thread_mutex_lock /
//   mp_thread_start: the threads of a boot end at its soft reset, at a safe
//   point, through pthread_exit() (see "Threads at a soft reset" below).
// - gc_init (boards/HOST/mp_task.c): MicroPython's heap is mp_task's, taken
//   from ESP-IDF's heap once and kept across soft resets, as on the esp32 port.
//
// The process's first thread is the chip's start-up (boards/HOST/esp_idf/chip.c):
// __wrap_main reads the options, then starts the `main` task, whose app_main
// starts `mp_task` (boards/HOST/mp_task.c), which runs board_main_loop() below
// and ends the process with its status.
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
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "py/builtin.h"
#include "py/gc.h"
#include "py/mpthread.h"
#include "py/runtime.h"
#include "shared/runtime/pyexec.h"

#include "board.h"
#include "host_shim.h"

#ifndef NDEBUG
// ports/unix/main.c frees executable_path at the end of main_() only without
// NDEBUG and keeps the dangling pointer for the next run.
#error "the host firmware's in-process soft reset needs NDEBUG (no DEBUG=1 build)"
#endif
#if !MICROPY_PY_THREAD_GIL
#error "threads end at a soft reset when they take the GIL: the host firmware needs it"
#endif

// Exit status of the process for machine.reset(): the virtual board starts a
// new firmware process (power-on state). heaptrack_host/vboard.py: HARD_RESET_STATUS.
#define HARD_RESET_STATUS (100)

// Wakes other threads from blocking system calls at a soft reset (the call
// fails with EINTR and the thread takes the GIL again, where it ends). Upstream
// uses SIGRTMIN+5 for GC scans (and SIGRTMIN+6 on Android).
#define WAKE_SIGNAL (SIGRTMIN + 7)
// How long a soft reset waits for threads to reach a safe point, then for
// threads it had to cancel to finish ending.
#define THREAD_STOP_MS (1500)
#define THREAD_CANCEL_MS (500)
// Slices in which a thread waits for a _thread lock, to notice a soft reset.
#define LOCK_SLICE_NS (50 * 1000 * 1000)

#define CTRL_C (3)
static const char soft_reboot_msg[] = "MPY: soft reboot\n";

int __real_main(int argc, char **argv);
void __real_mp_thread_init(void);
mp_uint_t __real_mp_thread_create(void *(*entry)(void *), void *arg, size_t *stack_size);
void __real_mp_thread_start(void);
int __real_mp_thread_mutex_lock(mp_thread_mutex_t *mutex, int wait);
int __real_pyexec_friendly_repl(void);
int __real_pyexec_raw_repl(void);
void __real_mp_hal_set_interrupt_char(char c);

int __wrap_main(int argc, char **argv);
void __wrap_mp_thread_init(void);
void __wrap_mp_thread_deinit(void);
void __wrap_mp_thread_start(void);
mp_uint_t __wrap_mp_thread_create(void *(*entry)(void *), void *arg, size_t *stack_size);
int __wrap_mp_thread_mutex_lock(mp_thread_mutex_t *mutex, int wait);
int __wrap_pyexec_friendly_repl(void);
int __wrap_pyexec_raw_repl(void);
void __wrap_mp_hal_set_interrupt_char(char c);

static bool board_mode;          // started with -i: the virtual board's firmware
static pthread_t main_thread;
static bool boot_code_running;   // the command-line code (the board's _boot.py) runs
static bool boot_scripts_due;    // boot.py and main.py not yet run in this boot
static bool repl_ended;          // the REPL asked for a soft reset
static int main_argc;
static char **main_argv;

// -- Threads at a soft reset ---------------------------------------------------
//
// Upstream's mp_thread_deinit pthread_cancel()s the other threads wherever they
// are (their cancel type is asynchronous): inside malloc, holding the GIL or a
// lock, which the next boot would then find locked; a thread blocked on the
// GIL would wake in the next boot's VM. An ESP32 deletes the tasks of the boot
// (vTaskDelete), and ESP-IDF marks a task DELETED in its heap statistics when
// its TCB is freed; on the host a thread's TCB is freed by a thread-exit hook,
// so threads must end through pthread_exit(), where those hooks run.
//
// So a soft reset starts a new thread generation and releases the GIL. Every
// thread of an older generation ends when it next takes the GIL (between two
// bytecodes, or returning from a blocking call), or while it waits for a
// _thread lock (in slices, here), holding nothing: it leaves the port's thread
// list (mp_thread_finish) and the GIL, and calls pthread_exit(). WAKE_SIGNAL
// gets threads out of blocking system calls (time.sleep, select, read), which
// upstream's code retries after taking the GIL again. After THREAD_STOP_MS,
// threads still out of reach (blocked in a call that does not return on a
// signal, e.g. os.system) get upstream's treatment, pthread_cancel(), but
// deferred: the cancel lands in the blocking call (a cancellation point), not
// wherever the thread happens to be. Upstream's asynchronous cancel could land
// inside a critical section (ESP-IDF's heap lock, heaptrack's tracker lock),
// and its spinlock would stay taken for ever: the next allocation, in any
// thread, would spin. Their exit hooks run too, and take them off the port's
// thread list. One that cannot even be cancelled keeps its old generation and
// ends whenever it takes the GIL.

typedef struct thread_rec {
    pthread_t id;
    unsigned gen;
    bool exit_seen;           // its exit hook ran once (see on_thread_exit)
    struct thread_rec *next;
} thread_rec_t;

static pthread_mutex_t threads_lock = PTHREAD_MUTEX_INITIALIZER;
static thread_rec_t *threads;    // MicroPython threads other than the main one
static pthread_key_t exit_key;   // value: the thread's record; its destructor is the exit hook
static unsigned thread_gen;      // the current boot's generation (atomic)
static __thread thread_rec_t *t_rec;  // the calling thread's record, once looked up
static __thread bool t_looked_up;
static __thread bool t_ending;

static unsigned current_gen(void) {
    return __atomic_load_n(&thread_gen, __ATOMIC_ACQUIRE);
}

// Runs when a registered thread ends, in any way (its function returned, it
// ended at a soft reset, it was cancelled): a pthread key destructor. The host
// FreeRTOS frees the task's TCB in another key's destructor (and ESP-IDF then
// marks the task DELETED); key destructors run in rounds, in no promised order,
// so the first call here puts the value back and the thread leaves the list
// only in the next round, after the other keys' destructors. The soft reset
// waits for that, so the next boot sees the thread's task deleted.
static void on_thread_exit(void *arg) {
    thread_rec_t *rec = arg;
    if (!rec->exit_seen) {
        rec->exit_seen = true;
        if (pthread_setspecific(exit_key, rec) == 0) {
            return;
        }
    }
    // A cancelled thread is still on the port's thread list (no-op otherwise).
    mp_thread_finish();
    pthread_mutex_lock(&threads_lock);
    for (thread_rec_t **p = &threads; *p != NULL; p = &(*p)->next) {
        if (*p == rec) {
            *p = rec->next;
            break;
        }
    }
    pthread_mutex_unlock(&threads_lock);
    free(rec);
}

// The calling thread's record; NULL for the main thread and threads MicroPython did not start.
static thread_rec_t *self_rec(void) {
    if (!t_looked_up) {
        t_looked_up = true;
        pthread_t self = pthread_self();
        pthread_mutex_lock(&threads_lock);
        for (thread_rec_t *r = threads; r != NULL; r = r->next) {
            if (pthread_equal(r->id, self)) {
                t_rec = r;
                break;
            }
        }
        pthread_mutex_unlock(&threads_lock);
        if (t_rec != NULL) {
            pthread_setspecific(exit_key, t_rec);
        }
    }
    return t_rec;
}

static bool must_end(void) {
    thread_rec_t *rec = self_rec();
    return rec != NULL && !t_ending && rec->gen != current_gen();
}

MP_NORETURN static void end_thread(bool holding_gil) {
    t_ending = true;  // the exit hooks may take the GIL or a lock again
    mp_thread_finish();  // no more GC scans of this thread's stack
    if (holding_gil) {
        mp_thread_mutex_unlock(&MP_STATE_VM(gil_mutex));
    }
    pthread_exit(NULL);
}

// Called by each new thread first (py/modthread.c); upstream's makes its cancel
// type asynchronous, which a soft reset's pthread_cancel() must not be (above).
void __wrap_mp_thread_start(void) {
    __real_mp_thread_start();
    pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, NULL);
}

mp_uint_t __wrap_mp_thread_create(void *(*entry)(void *), void *arg, size_t *stack_size) {
    thread_rec_t *rec = malloc(sizeof(*rec));
    if (rec == NULL) {
        mp_raise_OSError(ENOMEM);
    }
    nlr_buf_t nlr;
    if (nlr_push(&nlr) != 0) {
        host_task_set_next_stack(0);
        free(rec);
        nlr_jump(nlr.ret_val);
    }
    // The new task's stack as the esp32 port's would be (mp_task.c).
    host_task_set_next_stack(host_thread_stack_size(*stack_size));
    mp_uint_t id = __real_mp_thread_create(entry, arg, stack_size);
    nlr_pop();
    // The creator holds the GIL: the new thread looks itself up (when it first
    // takes the GIL) only after this.
    rec->id = (pthread_t)id;
    rec->gen = current_gen();
    rec->exit_seen = false;
    pthread_mutex_lock(&threads_lock);
    rec->next = threads;
    threads = rec;
    pthread_mutex_unlock(&threads_lock);
    return id;
}

int __wrap_mp_thread_mutex_lock(mp_thread_mutex_t *mutex, int wait) {
    if (!wait || pthread_equal(pthread_self(), main_thread)) {
        return __real_mp_thread_mutex_lock(mutex, wait);
    }
    if (mutex == &MP_STATE_VM(gil_mutex)) {
        int ret = __real_mp_thread_mutex_lock(mutex, wait);
        if (ret == 1 && must_end()) {
            end_thread(true);
        }
        return ret;
    }
    // Any other lock (a _thread lock): the caller has released the GIL.
    for (;;) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_nsec += LOCK_SLICE_NS;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec += 1;
            deadline.tv_nsec -= 1000000000L;
        }
        int ret = pthread_mutex_timedlock(mutex, &deadline);
        if (ret == 0) {
            return 1;
        }
        if (ret != ETIMEDOUT && ret != EINTR) {
            return -ret;  // as upstream
        }
        if (must_end()) {
            end_thread(false);
        }
    }
}

static void on_wake_signal(int signum) {
    (void)signum;  // only interrupts a blocking call
}

static bool threads_left(void) {
    pthread_mutex_lock(&threads_lock);
    bool left = threads != NULL;
    pthread_mutex_unlock(&threads_lock);
    return left;
}

// Sends sig (WAKE_SIGNAL), or cancels the threads if sig is 0. Under the lock,
// a listed thread has not finished its exit hooks, so its id is valid.
static void signal_threads(int sig) {
    pthread_mutex_lock(&threads_lock);
    for (thread_rec_t *r = threads; r != NULL; r = r->next) {
        if (sig) {
            pthread_kill(r->id, sig);
        } else if (!r->exit_seen) {
            pthread_cancel(r->id);
        }
    }
    pthread_mutex_unlock(&threads_lock);
}

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool wait_threads(unsigned ms, int sig) {
    uint64_t deadline = now_ms() + ms;
    unsigned round = 0;
    while (threads_left()) {
        if (now_ms() >= deadline) {
            return false;
        }
        // again and again: a signal that came just before a thread blocked woke nothing
        if (sig && round++ % 10 == 0) {
            signal_threads(sig);
        }
        usleep(2000);
    }
    return true;
}

void __wrap_mp_thread_init(void) {
    // Once per process: its pthread key, main-thread entry, semaphore and GC
    // signal handler serve every boot (mp_thread_deinit below keeps them).
    static bool done;
    if (!done) {
        done = true;
        __real_mp_thread_init();
    }
}

// Called by upstream main_() at the end of each boot, holding the GIL, with
// the REPL (or the script) done: the other threads end, then, as ports/esp32
// does at a soft reset, gc_sweep_all() runs the finalisers (open files close).
void __wrap_mp_thread_deinit(void) {
    __atomic_add_fetch(&thread_gen, 1, __ATOMIC_ACQ_REL);
    if (threads_left()) {
        MP_THREAD_GIL_EXIT();
        if (!wait_threads(THREAD_STOP_MS, WAKE_SIGNAL)) {
            signal_threads(0);
            wait_threads(THREAD_CANCEL_MS, 0);
        }
        MP_THREAD_GIL_ENTER();
    }
    gc_sweep_all();
}

// -- Boot scripts and the REPL -------------------------------------------------

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

// -- Ctrl-C ----------------------------------------------------------------------

// The virtual board sends SIGINT to the process. The kernel gives a process's
// signal to its first thread unless that thread blocks it, and the first thread
// is the chip's start-up, which blocks everything: so it may land in any task.
// mp_task gets it too, so that a blocking call there (time.sleep) ends with
// EINTR and the KeyboardInterrupt is raised now, as on a board.
static void on_sigint(int signum) {
    mp_sched_keyboard_interrupt();
    if (!pthread_equal(pthread_self(), main_thread)) {
        pthread_kill(main_thread, signum);
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

// -- machine.reset() -------------------------------------------------------------

// A hard reset: the whole process ends at once, like a chip reset, and the
// virtual board starts a new one (ESP-IDF's heap and statistics from power-on).
static mp_obj_t host_machine_reset(void) {
    fflush(NULL);
    _exit(HARD_RESET_STATUS);
}
MP_DEFINE_CONST_FUN_OBJ_0(host_machine_reset_obj, host_machine_reset);

// -- The main loop ---------------------------------------------------------------

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

int __wrap_main(int argc, char **argv) {
    main_argc = argc;
    main_argv = argv;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-i") == 0) {
            board_mode = true;
        } else if (strcmp(argv[i], "-X") == 0) {
            i++;  // its value
        } else if (strcmp(argv[i], "-c") == 0 || argv[i][0] != '-') {
            break;  // what follows belongs to the code
        }
    }
    pthread_key_create(&exit_key, on_thread_exit);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_wake_signal;  // no SA_RESTART: blocking calls return EINTR
    sigaction(WAKE_SIGNAL, &sa, NULL);
    if (board_mode) {
        __wrap_mp_hal_set_interrupt_char(-1);
    }
    host_start_app();   // main, then mp_task, which runs board_main_loop()
}

int board_main_loop(void) {
    main_thread = pthread_self();
    for (;;) {
        boot_code_running = board_mode;
        boot_scripts_due = board_mode;
        repl_ended = false;
        int ret = __real_main(main_argc, main_argv);
        if (!board_mode || !repl_ended || stdin_ended()) {
            fflush(NULL);
            return ret;
        }
        write_stdout(soft_reboot_msg, sizeof(soft_reboot_msg) - 1);
    }
}
