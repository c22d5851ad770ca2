// Host-only parts of the hosted tracker: how threads become named tasks, and
// the knobs the C unit tests need. Only tracker_host*.c and the tests include it.
#ifndef HEAPTRACK_TRACKER_HOST_H
#define HEAPTRACK_TRACKER_HOST_H

#include "tracker.h"

// The environment variable that replaces the default heap layout:
// comma-separated NAME:CAPS:SIZE entries, e.g. "RAM:0x0010580e:22308,SPIRAM:0x00001c06:65536".
#define HT_HOST_HEAPS_ENV "HEAPTRACK_HEAPS"

// Set to 0, the host firmware behaves as one built without heap task tracking:
// malloc and free work, statistics raise (HT_ERR_UNSUPPORTED).
#define HT_HOST_TRACKING_ENV "HEAPTRACK_TRACKING"

// Layout used when the variable is unset: ESP32-S3 internal RAM as in ESP-IDF's example.
#define HT_HOST_DEFAULT_HEAPS "RAM:0x0010580e:22308,RAM:0x0010580e:344400"

typedef struct ht_host_task ht_host_task_t;

// Creates the identity of a task that has not started yet: a fresh handle and a
// copy of name (truncated to HT_TASK_NAME_LEN - 1). It shows up in reports only
// once it allocates, as on ESP-IDF.
ht_host_task_t *ht_host_task_new(const char *name);
ht_task_t ht_host_task_handle(const ht_host_task_t *task);

// Makes the calling thread that task. When the thread exits, the task is
// marked DELETED (its records stay). A thread never bound is `mp_task` if it
// is the process's main thread, otherwise `mp_thread`.
void ht_host_task_bind(ht_host_task_t *task);

// Usable size the host gives a request in a heap of heap_size bytes: ESP-IDF's
// TLSF rounding (see tracker_host.c).
size_t ht_host_block_size(size_t request, size_t heap_size);

// Drops all state (freeing outstanding blocks) and loads a layout: the spec
// string, or the environment's / the default when spec is NULL. For tests.
// Every ht_host_task_t is freed; threads get fresh identities on next use.
ht_err_t ht_host_reset(const char *spec);

// Bytes of heap index (layout order) that live blocks take up, by their
// recorded sizes; 0 past the last heap. For tests.
size_t ht_host_heap_used(size_t index);

// How many task identities the tracker holds (recorded or not). For tests: an
// unbound thread's identity is dropped at its exit if it never allocated.
size_t ht_host_identity_count(void);

#endif // HEAPTRACK_TRACKER_HOST_H
