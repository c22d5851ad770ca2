// POSIX threads on the QEMU board, the part heaptrack's C tests use: the C
// library (picolibc) has none. A thread is a FreeRTOS task made as
// MicroPython's esp32 port makes a _thread thread (what a thread is on the
// host's virtual board too): named `mp_thread` unless
// qemu_thread_set_next_name() said otherwise, at the port's thread priority,
// its stack and TCB from ESP-IDF's heap, charged to the creating task.
// pthread_join waits for the thread's function to return, then deletes its
// task, so the TCB is freed (and ESP-IDF marks the task DELETED) before
// pthread_join returns, as on the host. Implemented in pthread.c.
#pragma once

typedef struct qemu_thread *pthread_t;
typedef struct qemu_thread_attr pthread_attr_t;   // not supported: pass NULL

// 0, or EAGAIN when no thread record or no heap for the task is left.
int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg);
// 0, or EINVAL for a thread already joined.
int pthread_join(pthread_t thread, void **result);
