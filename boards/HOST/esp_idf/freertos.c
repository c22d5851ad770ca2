// FreeRTOS on the host, as far as ESP-IDF's heap, heaptrack and ESP-IDF's heap
// tests use it. Every thread of the process is a task:
//
//   - A task's identity is its TCB, a block of the size of ESP32-S3's TCB_t
//     allocated from ESP-IDF's heap by the task that creates it, as FreeRTOS
//     does. Its address is the task's handle, so handles are reused when the
//     heap hands the same block out again, as on the chip.
//   - The TCB is freed when the task ends (its thread returns or exits, or
//     another task deletes it). That free is how ESP-IDF's task tracking learns
//     that a task was deleted: heap_task_info.c marks DELETED the task whose
//     handle equals the freed block. It only looks when the block has an owner,
//     which is why the creator, not the new thread, allocates the TCB.
//   - xTaskCreatePinnedToCore also takes the task's stack from ESP-IDF's heap,
//     stack_depth bytes, before the TCB, as ESP-IDF's FreeRTOS does (stacks
//     grow down on its chips), and frees both when the task is deleted. The
//     thread itself runs on a host stack: the block is the chip's memory the
//     task holds, not where the host's code keeps its frames (which need far
//     more than a chip's task stack). Threads made through pthread_create get
//     one of the size host_task_set_next_stack() gave, if any (see below).
//   - The process's first thread is the chip's start-up code, before the
//     scheduler runs: what it allocates, the tasks it creates included, is
//     charged to ESP-IDF's Pre-scheduler record (chip.c starts `main` there).
//   - Every thread MicroPython starts goes through pthread_create, which the
//     firmware links wrapped (-Wl,--wrap=pthread_create): the wrapper makes
//     the new task's TCB in the creating thread, named `mp_thread` as on the
//     esp32 port unless host_task_set_next_name() named it, and its stack when
//     host_task_set_next_stack() sized it (the thread itself runs on a stack
//     of the host's: the block stands for the chip's, in the statistics).
//
// Spinlocks (portMUX) are spinlocks of the chip's shape, owned by a thread;
// FreeRTOS mutexes are mutexes that catch a task taking one twice.

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "freertos/semphr.h"
#include "esp_heap_caps.h"

#include "host_shim.h"

// sizeof(TCB_t) of ESP-IDF v5.5's FreeRTOS with the chip's firmware
// configuration (its sdkconfig.h; make check-idf computes it): 356 bytes on
// heaptrack's ESP32_S3 firmware, a 360-byte block with ESP-IDF's owner tag.
// (ESP-IDF's default configuration, the heap_task_tracking example's, has 340:
// its output's "SIZE 344" blocks.)
#define TCB_SIZE HOST_TCB_SIZE
// Where FreeRTOS takes TCBs from (pvPortMalloc for internal RAM).
#define TCB_CAPS (MALLOC_CAP_INTERNAL | MALLOC_CAP_8BIT)

struct tskTaskControlBlock {
    char name[configMAX_TASK_NAME_LEN];
    struct tskTaskControlBlock *next;   // the list of live tasks
    StackType_t *stack;          // xTaskCreate's stack block, or NULL
    UBaseType_t priority;
    BaseType_t core_id;
    pthread_t thread;
    bool joinable;               // created by xTaskCreate (vTaskDelete joins it)
    TaskFunction_t code;         // xTaskCreate's task function, or NULL
    void *parameters;
    void *(*start)(void *);      // a wrapped pthread_create's start routine, or NULL
    void *start_arg;
    pthread_mutex_t notify_lock; // the task's notification value
    pthread_cond_t notify_cond;
    uint32_t notify_value;
};
_Static_assert(sizeof(struct tskTaskControlBlock) <= TCB_SIZE, "the host's TCB fits the chip's");

static __thread TaskHandle_t s_current;
// Critical sections this thread is in (FreeRTOS's per-core uxCriticalNesting;
// FreeRTOS.h's xPortCanYield reads it).
__thread unsigned host_critical_nesting;
static __thread char s_next_name[configMAX_TASK_NAME_LEN];
static __thread size_t s_next_stack;
static __thread TaskHandle_t s_last_created;

/******************************************************************************/
// Spinlocks and mutexes.

static void die(const char *what, int err) {
    fprintf(stderr, "host FreeRTOS: %s failed: %s\n", what, strerror(err));
    abort();
}

// portMUX: a spinlock of the chip's shape (esp_hw_support's spinlock.c). Its
// owner word holds the owner's id, set by compare-and-set from
// portMUX_FREE_VAL; the owner may take it again (count). The chip's owner is a
// core, which holds it with interrupts masked, so it is never preempted there;
// a host thread can be, so a waiter that has spun a while yields its core.
#define MUX_SPINS_BEFORE_YIELD 64

// The calling thread's id in a portMUX's owner word: never 0 nor
// portMUX_FREE_VAL, never reused.
static __thread uint32_t s_mux_self;

static uint32_t mux_self(void) {
    if (s_mux_self == 0) {
        static uint32_t s_last_id;
        s_mux_self = __atomic_add_fetch(&s_last_id, 1, __ATOMIC_RELAXED);
    }
    return s_mux_self;
}

static inline void cpu_relax(void) {
    #if defined(__i386__) || defined(__x86_64__)
    __builtin_ia32_pause();
    #endif
}

static void mux_die(const char *what) {
    fprintf(stderr, "host FreeRTOS: %s\n", what);
    abort();
}

static void mux_acquire(portMUX_TYPE *mux, uint32_t self) {
    for (unsigned spins = 0;; ++spins) {
        uint32_t owner = __atomic_load_n(&mux->owner, __ATOMIC_RELAXED);
        if (owner == portMUX_FREE_VAL) {
            if (__atomic_compare_exchange_n(&mux->owner, &owner, self, false, __ATOMIC_ACQUIRE,
                __ATOMIC_RELAXED)) {
                return;
            }
        } else if (owner == 0) {
            // Zeroed memory is not a free spinlock on the chip either (it would spin for ever).
            mux_die("portENTER_CRITICAL on a portMUX never initialised (portMUX_INITIALIZE)");
        }
        if (spins < MUX_SPINS_BEFORE_YIELD) {
            cpu_relax();
        } else {
            sched_yield();
        }
    }
}

void vPortMuxInitialize(portMUX_TYPE *mux) {
    mux->count = 0;
    __atomic_store_n(&mux->owner, portMUX_FREE_VAL, __ATOMIC_RELEASE);
}

void vPortEnterCritical(portMUX_TYPE *mux) {
    uint32_t self = mux_self();
    if (__atomic_load_n(&mux->owner, __ATOMIC_RELAXED) == self) {
        mux->count += 1;
    } else {
        mux_acquire(mux, self);
        mux->count = 1;
    }
    host_critical_nesting += 1;
}

void vPortExitCritical(portMUX_TYPE *mux) {
    if (__atomic_load_n(&mux->owner, __ATOMIC_RELAXED) != mux_self() || mux->count == 0) {
        // The chip asserts the same (spinlock_release: the caller must own it).
        mux_die("portEXIT_CRITICAL on a portMUX this task does not hold");
    }
    host_critical_nesting -= 1;
    mux->count -= 1;
    if (mux->count == 0) {
        __atomic_store_n(&mux->owner, portMUX_FREE_VAL, __ATOMIC_RELEASE);
    }
}

// The host has no interrupt handlers: every caller is a task.
BaseType_t xPortInIsrContext(void) {
    return pdFALSE;
}

// MicroPython's atomic section on the esp32 port (MICROPY_BEGIN_ATOMIC_SECTION,
// which machine.disable_irq() enters): a critical section on one spinlock.
static portMUX_TYPE s_mp_atomic_mux = portMUX_INITIALIZER_UNLOCKED;

void host_atomic_section_enter(void) {
    vPortEnterCritical(&s_mp_atomic_mux);
}

void host_atomic_section_exit(void) {
    vPortExitCritical(&s_mp_atomic_mux);
}

SemaphoreHandle_t xSemaphoreCreateMutexStatic(StaticSemaphore_t *buffer) {
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_init(&buffer->mutex, &attr);
    pthread_mutexattr_destroy(&attr);
    return buffer;
}

BaseType_t xSemaphoreTake(SemaphoreHandle_t semaphore, TickType_t ticks_to_wait) {
    if (!xPortCanYield()) {
        // Inside a critical section a free mutex is taken as anywhere (ESP-IDF
        // itself does so); one that would block asserts, as FreeRTOS does when
        // a task yields with interrupts masked.
        int busy = pthread_mutex_trylock(&semaphore->mutex);
        if (busy == 0) {
            return pdTRUE;
        }
        fprintf(stderr, "assert failed: xQueueSemaphoreTake: a task would block inside a critical section\n");
        abort();
    }
    if (ticks_to_wait != portMAX_DELAY) {
        // Nothing here waits with a timeout; a caller that did would need it.
        die("xSemaphoreTake with a timeout", ENOSYS);
    }
    int err = pthread_mutex_lock(&semaphore->mutex);
    if (err != 0) {
        die("xSemaphoreTake", err);   // EDEADLK: a task took its own mutex again
    }
    return pdTRUE;
}

BaseType_t xSemaphoreGive(SemaphoreHandle_t semaphore) {
    int err = pthread_mutex_unlock(&semaphore->mutex);
    if (err != 0) {
        die("xSemaphoreGive", err);
    }
    return pdTRUE;
}

/******************************************************************************/
// Tasks.

TaskHandle_t xTaskGetCurrentTaskHandle(void) {
    return s_current;
}

char *pcTaskGetName(TaskHandle_t task) {
    TaskHandle_t t = task != NULL ? task : s_current;
    return t != NULL ? t->name : NULL;
}

// Every live task, newest first, as FreeRTOS's task lists hold them (for
// uxTaskGetSystemState). A plain mutex: nothing here runs in a critical section.
static pthread_mutex_t s_tasks_lock = PTHREAD_MUTEX_INITIALIZER;
static TaskHandle_t s_tasks;
static UBaseType_t s_task_count;

static void task_list_add(TaskHandle_t tcb) {
    pthread_mutex_lock(&s_tasks_lock);
    tcb->next = s_tasks;
    s_tasks = tcb;
    s_task_count += 1;
    pthread_mutex_unlock(&s_tasks_lock);
}

static void task_list_remove(TaskHandle_t tcb) {
    pthread_mutex_lock(&s_tasks_lock);
    for (TaskHandle_t *p = &s_tasks; *p != NULL; p = &(*p)->next) {
        if (*p == tcb) {
            *p = tcb->next;
            s_task_count -= 1;
            break;
        }
    }
    pthread_mutex_unlock(&s_tasks_lock);
}

// stack_depth 0: no stack block (a thread of pthread_create nobody sized).
static TaskHandle_t tcb_new(const char *name, uint32_t stack_depth, UBaseType_t priority, BaseType_t core_id) {
    StackType_t *stack = NULL;
    if (stack_depth > 0) {
        stack = heap_caps_malloc(stack_depth * sizeof(StackType_t), TCB_CAPS);
        if (stack == NULL) {
            return NULL;
        }
    }
    TaskHandle_t tcb = heap_caps_malloc(TCB_SIZE, TCB_CAPS);
    if (tcb == NULL) {
        heap_caps_free(stack);
        return NULL;
    }
    memset(tcb, 0, TCB_SIZE);
    strncpy(tcb->name, name, sizeof(tcb->name) - 1);
    tcb->stack = stack;
    tcb->priority = priority;
    tcb->core_id = core_id;
    pthread_mutex_init(&tcb->notify_lock, NULL);
    pthread_cond_init(&tcb->notify_cond, NULL);
    task_list_add(tcb);
    return tcb;
}

static void tcb_free(TaskHandle_t tcb) {
    task_list_remove(tcb);
    pthread_cond_destroy(&tcb->notify_cond);
    pthread_mutex_destroy(&tcb->notify_lock);
    // FreeRTOS's prvDeleteTCB order: the stack, then the TCB (whose free is
    // when ESP-IDF marks the task DELETED).
    heap_caps_free(tcb->stack);
    heap_caps_free(tcb);
}

size_t host_task_info(host_task_info_t *tasks, size_t max) {
    TaskStatus_t status[max > 0 ? max : 1];
    UBaseType_t count = uxTaskGetSystemState(status, max, NULL);
    if (count == 0) {
        // More than max (there is always the caller): say how many, at least max + 1.
        count = uxTaskGetNumberOfTasks();
        return count > max ? count : max + 1;
    }
    for (UBaseType_t i = 0; i < count; ++i) {
        tasks[i] = (host_task_info_t) {
            .handle = (uintptr_t)status[i].xHandle,
            .state = status[i].eCurrentState,
            .priority = status[i].uxCurrentPriority,
        };
        strncpy(tasks[i].name, status[i].pcTaskName, sizeof(tasks[i].name) - 1);
    }
    return count;
}

size_t host_task_stacks(host_task_stack_t *stacks, size_t max) {
    size_t count = 0;
    // The lock keeps each listed task's thread from ending (its TCB leaves the
    // list in the thread's exit, task_end, which takes the lock).
    pthread_mutex_lock(&s_tasks_lock);
    for (TaskHandle_t t = s_tasks; t != NULL; t = t->next) {
        pthread_attr_t attr;
        void *addr;
        size_t size;
        if (t == s_current || t->thread == 0 || pthread_getattr_np(t->thread, &attr) != 0) {
            continue;
        }
        int err = pthread_attr_getstack(&attr, &addr, &size);
        pthread_attr_destroy(&attr);
        if (err != 0) {
            continue;
        }
        if (count < max) {
            stacks[count] = (host_task_stack_t) {
                .handle = (uintptr_t)t, .lo = (uintptr_t)addr, .hi = (uintptr_t)addr + size,
            };
            memcpy(stacks[count].name, t->name, sizeof(stacks[count].name) - 1);
        }
        count++;
    }
    pthread_mutex_unlock(&s_tasks_lock);
    return count;
}

uintptr_t host_task_self(char *name) {
    memset(name, 0, 16);
    if (s_current != NULL) {
        memcpy(name, s_current->name, 15);
    }
    return (uintptr_t)s_current;
}

UBaseType_t uxTaskGetNumberOfTasks(void) {
    pthread_mutex_lock(&s_tasks_lock);
    UBaseType_t count = s_task_count;
    pthread_mutex_unlock(&s_tasks_lock);
    return count;
}

// Run-time statistics are not kept (CONFIG_FREERTOS_GENERATE_RUN_TIME_STATS
// off); a host thread never runs on its stack block, so no high-water mark
// exists (0). The calling task is running; the host cannot tell whether
// another is ready or blocked, and says ready.
UBaseType_t uxTaskGetSystemState(TaskStatus_t *status, UBaseType_t max, uint32_t *total_run_time) {
    UBaseType_t n = 0;
    pthread_mutex_lock(&s_tasks_lock);
    if (max >= s_task_count) {
        // Oldest first, as FreeRTOS lists a freshly started system's tasks.
        n = s_task_count;
        UBaseType_t i = n;
        for (TaskHandle_t t = s_tasks; t != NULL; t = t->next) {
            i -= 1;
            status[i] = (TaskStatus_t) {
                .xHandle = t,
                .pcTaskName = t->name,
                .xTaskNumber = i + 1,
                .eCurrentState = t == s_current ? eRunning : eReady,
                .uxCurrentPriority = t->priority,
                .uxBasePriority = t->priority,
                .pxStackBase = t->stack,
                .xCoreID = t->core_id,
            };
        }
    }
    pthread_mutex_unlock(&s_tasks_lock);
    if (total_run_time != NULL) {
        *total_run_time = 0;
    }
    return n;
}

// Runs when a task's thread ends however it ends (return, pthread_exit,
// cancellation): the task is deleted, so its TCB goes back to the heap. A
// thread-specific key's destructor rather than pthread_cleanup_push: a
// cancellation then unwinds through no setjmp buffer of ours, which
// AddressSanitizer on i386 mistakes for a stack overflow.
static pthread_key_t s_task_key;
static pthread_once_t s_task_key_once = PTHREAD_ONCE_INIT;

static void task_end(void *arg) {
    TaskHandle_t tcb = arg;
    tcb_free(tcb);
    s_current = NULL;
}

static void task_key_create(void) {
    int err = pthread_key_create(&s_task_key, task_end);
    if (err != 0) {
        die("pthread_key_create", err);
    }
}

static void *task_trampoline(void *arg) {
    TaskHandle_t tcb = arg;
    tcb->thread = pthread_self();
    s_current = tcb;
    pthread_once(&s_task_key_once, task_key_create);
    pthread_setspecific(s_task_key, tcb);
    if (tcb->code != NULL) {
        tcb->code(tcb->parameters);
        // As ESP-IDF's task wrapper does: a FreeRTOS task must delete itself.
        fprintf(stderr, "FreeRTOS: FreeRTOS Task \"%s\" should not return, Aborting now!\n", tcb->name);
        abort();
    }
    return tcb->start(tcb->start_arg);
}

// The C library's pthread_create: programs link the shim with
// -Wl,--wrap=pthread_create (link.flags), which makes any other thread a task.
int __real_pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg);

BaseType_t xTaskCreatePinnedToCore(TaskFunction_t code, const char *name, uint32_t stack_depth,
    void *parameters, UBaseType_t priority, TaskHandle_t *created, BaseType_t core_id) {
    TaskHandle_t tcb = tcb_new(name, stack_depth, priority, core_id);
    if (tcb == NULL) {
        return pdFAIL;
    }
    tcb->code = code;
    tcb->parameters = parameters;
    tcb->joinable = true;
    if (created != NULL) {
        *created = tcb;
    }
    // Its TCB lives until vTaskDelete, so writing tcb->thread here is safe.
    // Not the wrapped pthread_create: that would make a second TCB.
    int err = __real_pthread_create(&tcb->thread, NULL, task_trampoline, tcb);
    if (err != 0) {
        tcb_free(tcb);
        return pdFAIL;
    }
    return pdPASS;
}

void vTaskDelete(TaskHandle_t task) {
    if (task == NULL || task == s_current) {
        // Nobody joins a task that deleted itself (app_main's `main` does).
        if (s_current != NULL && s_current->joinable) {
            pthread_detach(pthread_self());
        }
        pthread_exit(NULL);   // task_end frees the TCB
    }
    // Another task: it stops at its next wait (the tests' tasks wait for a
    // notification) and is gone, TCB freed, when this returns, as on the chip.
    pthread_t thread = task->thread;
    bool joinable = task->joinable;
    pthread_cancel(thread);
    if (joinable) {
        pthread_join(thread, NULL);
    }
}

// FreeRTOS's tick count: CONFIG_FREERTOS_HZ ticks a second since the
// scheduler started, here since the firmware started (it wraps, as a
// TickType_t does).
static struct timespec s_ticks_origin;

__attribute__((constructor)) static void ticks_start(void) {
    clock_gettime(CLOCK_MONOTONIC, &s_ticks_origin);
}

TickType_t xTaskGetTickCount(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t ns = (int64_t)(now.tv_sec - s_ticks_origin.tv_sec) * 1000000000 + (now.tv_nsec - s_ticks_origin.tv_nsec);
    return (TickType_t)((uint64_t)ns * CONFIG_FREERTOS_HZ / 1000000000u);
}

// The interrupt handlers' variant: the host has none, and the same count.
TickType_t xTaskGetTickCountFromISR(void) {
    return xTaskGetTickCount();
}

void vTaskDelay(TickType_t ticks) {
    if (ticks == 0) {
        sched_yield();
        return;
    }
    uint64_t ns = (uint64_t)ticks * 1000000000u / CONFIG_FREERTOS_HZ;
    struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u) };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

BaseType_t xTaskNotifyGive(TaskHandle_t task) {
    pthread_mutex_lock(&task->notify_lock);
    task->notify_value += 1;
    pthread_cond_signal(&task->notify_cond);
    pthread_mutex_unlock(&task->notify_lock);
    return pdPASS;
}

static void unlock_mutex(void *mutex) {
    pthread_mutex_unlock(mutex);
}

uint32_t ulTaskNotifyTake(BaseType_t clear_on_exit, TickType_t ticks_to_wait) {
    TaskHandle_t self = s_current;
    if (ticks_to_wait != portMAX_DELAY) {
        die("ulTaskNotifyTake with a timeout", ENOSYS);
    }
    pthread_mutex_lock(&self->notify_lock);
    pthread_cleanup_push(unlock_mutex, &self->notify_lock);
    while (self->notify_value == 0) {
        pthread_cond_wait(&self->notify_cond, &self->notify_lock);   // vTaskDelete cancels here
    }
    pthread_cleanup_pop(0);
    uint32_t value = self->notify_value;
    self->notify_value = clear_on_exit ? 0 : value - 1;
    pthread_mutex_unlock(&self->notify_lock);
    return value;
}

/******************************************************************************/
// MicroPython's threads.

void host_task_set_next_name(const char *name) {
    strncpy(s_next_name, name, sizeof(s_next_name) - 1);
    s_next_name[sizeof(s_next_name) - 1] = '\0';
}

void host_task_set_next_stack(size_t bytes) {
    s_next_stack = bytes;
}

int __wrap_pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg) {
    // The esp32 port's _thread tasks: priority ESP_TASK_PRIO_MIN + 1 on
    // MicroPython's core (MP_THREAD_PRIORITY, MP_TASK_COREID).
    TaskHandle_t tcb = tcb_new(s_next_name[0] != '\0' ? s_next_name : "mp_thread",
        (uint32_t)(s_next_stack / sizeof(StackType_t)), 1, 1);
    s_next_name[0] = '\0';
    s_next_stack = 0;
    if (tcb == NULL) {
        // FreeRTOS's "could not allocate" (errCOULD_NOT_ALLOCATE_REQUIRED_MEMORY)
        // for a pthread caller: _thread raises OSError(ENOMEM), which says memory.
        return ENOMEM;
    }
    tcb->start = start;
    tcb->start_arg = arg;
    // The thread may end, freeing tcb, before pthread_create returns: tcb is
    // not touched after it, and the thread records its own id.
    s_last_created = tcb;
    int err = __real_pthread_create(thread, attr, task_trampoline, tcb);
    if (err != 0) {
        s_last_created = NULL;
        tcb_free(tcb);
        return err;
    }
    return 0;
}

TaskHandle_t host_task_last_created(void) {
    return s_last_created;
}

void host_tasks_start(void) {
    // Before the scheduler runs: the first task's TCB is Pre-scheduler's.
    TaskHandle_t first = tcb_new("mp_task", 0, 1, 1);
    if (first == NULL) {
        die("creating mp_task", ENOMEM);
    }
    first->thread = pthread_self();
    s_current = first;
}

void host_scheduler_run(void) {
    // The start-up thread's part ends here; the tasks it created run on. It
    // takes no signal meant for the firmware (a Ctrl-C, a soft reset's wake-up).
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    for (;;) {
        pause();
    }
}
