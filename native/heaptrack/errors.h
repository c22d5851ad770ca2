// Tracker failures as Python exceptions.
#ifndef HEAPTRACK_ERRORS_H
#define HEAPTRACK_ERRORS_H

#include "py/runtime.h"
#include "tracker.h"

MP_NORETURN void tracker_raise(ht_err_t err);

static inline void tracker_check(ht_err_t err) {
    if (err != HT_OK) {
        tracker_raise(err);
    }
}

#endif // HEAPTRACK_ERRORS_H
