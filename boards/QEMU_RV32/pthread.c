// pthread.h on the QEMU board: threads as FreeRTOS tasks, made as
// MicroPython's esp32 port makes a _thread thread (ports/esp32/mpthreadport.c:
// xTaskCreatePinnedToCore at MP_THREAD_PRIORITY, its default stack size).
// Thread records are a static pool, not heap blocks: creating a thread takes
// from ESP-IDF's heap what the port's would, its stack and TCB, and nothing
// more (the host's pthreads take nothing from it either).

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "freertos/semphr.h"

#include "qemu_board.h"

// ports/esp32/mpthreadport.c: MP_THREAD_PRIORITY (ESP_TASK_PRIO_MIN + 1), and
// MP_THREAD_DEFAULT_STACK_SIZE (4 KiB and MicroPython's 1 KiB stack-check margin).
#define THREAD_PRIORITY 1
#define THREAD_STACK (5 * 1024)
#define MAX_THREADS 16

struct qemu_thread {
    bool used;
    TaskHandle_t task;
    void *(*start)(void *);
    void *arg;
    void *result;
    SemaphoreHandle_t ended;
    StaticSemaphore_t ended_buffer;
};

static struct qemu_thread s_threads[MAX_THREADS];
static portMUX_TYPE s_pool_lock = portMUX_INITIALIZER_UNLOCKED;
// One name per creating task would need a slot per task; the tests name the
// next thread and create it at once, from one task.
static char s_next_name[configMAX_TASK_NAME_LEN];

void qemu_thread_set_next_name(const char *name) {
    strncpy(s_next_name, name, sizeof(s_next_name) - 1);
    s_next_name[sizeof(s_next_name) - 1] = '\0';
}

static struct qemu_thread *record_take(void) {
    struct qemu_thread *found = NULL;
    portENTER_CRITICAL(&s_pool_lock);
    for (size_t i = 0; i < MAX_THREADS && found == NULL; ++i) {
        if (!s_threads[i].used) {
            found = &s_threads[i];
            found->used = true;
        }
    }
    portEXIT_CRITICAL(&s_pool_lock);
    return found;
}

static void record_give_back(struct qemu_thread *t) {
    portENTER_CRITICAL(&s_pool_lock);
    t->used = false;
    portEXIT_CRITICAL(&s_pool_lock);
}

// The thread's task: its function, then a signal to the joiner, which
// deletes the task wherever it is after that (nothing of it is left to run).
static void thread_main(void *arg) {
    struct qemu_thread *t = arg;
    t->result = t->start(t->arg);
    xSemaphoreGive(t->ended);
    vTaskSuspend(NULL);
}

int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg) {
    if (attr != NULL) {
        return EINVAL;
    }
    struct qemu_thread *t = record_take();
    if (t == NULL) {
        return EAGAIN;
    }
    t->start = start;
    t->arg = arg;
    t->result = NULL;
    t->ended = xSemaphoreCreateBinaryStatic(&t->ended_buffer);
    const char *name = s_next_name[0] != '\0' ? s_next_name : "mp_thread";
    BaseType_t created = xTaskCreatePinnedToCore(thread_main, name, THREAD_STACK, t, THREAD_PRIORITY, &t->task, 0);
    s_next_name[0] = '\0';
    if (created != pdPASS) {
        record_give_back(t);
        return EAGAIN;
    }
    *thread = t;
    return 0;
}

int pthread_join(pthread_t thread, void **result) {
    if (thread == NULL || !thread->used) {
        return EINVAL;
    }
    xSemaphoreTake(thread->ended, portMAX_DELAY);
    vTaskDelete(thread->task);
    if (result != NULL) {
        *result = thread->result;
    }
    record_give_back(thread);
    return 0;
}
