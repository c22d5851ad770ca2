// MicroPython's threads on the virtual board, as the esp32 port's tasks are:
// their stacks in ESP-IDF's heap, and their end at a soft reset.
//
// The unix port's thread functions are linked wrapped (-Wl,--wrap=SYMBOL,
// boards/HOST/mpconfigvariant.mk): their callers reach the __wrap_ functions
// here, which call upstream's as __real_.
//
// Threads at a soft reset.
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

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "py/gc.h"
#include "py/mpthread.h"
#include "py/runtime.h"

#include "board.h"
#include "host_shim.h"

#if !MICROPY_PY_THREAD_GIL
#error "threads end at a soft reset when they take the GIL: the host firmware needs it"
#endif

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

void __real_mp_thread_init(void);
mp_uint_t __real_mp_thread_create(void *(*entry)(void *), void *arg, size_t *stack_size);
void __real_mp_thread_start(void);
int __real_mp_thread_mutex_lock(mp_thread_mutex_t *mutex, int wait);

void __wrap_mp_thread_init(void);
void __wrap_mp_thread_deinit(void);
void __wrap_mp_thread_start(void);
mp_uint_t __wrap_mp_thread_create(void *(*entry)(void *), void *arg, size_t *stack_size);
int __wrap_mp_thread_mutex_lock(mp_thread_mutex_t *mutex, int wait);

static pthread_t mp_task_thread;   // MicroPython's main thread: never ended here

// The stack the esp32 port's mp_thread_create_ex gives a _thread thread (or
// heaptrack.start_task's task) asked for `requested` bytes (0: the default).
// FreeRTOS takes it from ESP-IDF's heap before the task's TCB, charged to the
// creating task, and frees it with the task: the host's thread runs on a stack
// of its own, so a block of this size stands for it in the statistics.
static size_t esp32_thread_stack_size(size_t requested) {
    if (requested == 0) {
        return HOST_ESP32_THREAD_MIN_STACK_SIZE + HOST_ESP32_STACK_CHECK_MARGIN;
    }
    return requested < HOST_ESP32_THREAD_MIN_STACK_SIZE ? HOST_ESP32_THREAD_MIN_STACK_SIZE : requested;
}

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
    // The new task's stack, as the esp32 port's would be.
    host_task_set_next_stack(esp32_thread_stack_size(*stack_size));
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
    if (!wait || pthread_equal(pthread_self(), mp_task_thread)) {
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

void board_threads_init(void) {
    pthread_key_create(&exit_key, on_thread_exit);
    struct sigaction sa = { 0 };
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_wake_signal;  // no SA_RESTART: blocking calls return EINTR
    sigaction(WAKE_SIGNAL, &sa, NULL);
}

void board_threads_set_main(void) {
    mp_task_thread = pthread_self();
}
