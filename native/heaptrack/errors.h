// Tracker failures as Python exceptions, and the checks every binding makes on
// its int arguments.
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

// True, with *out set, when arg is a non-negative int that fits a machine word.
bool arg_word(mp_obj_t arg, mp_uint_t *out);

// A non-negative int that fits a machine word, else TypeError (not an int) or
// ValueError (negative, or too big), naming `what`.
mp_uint_t arg_word_or_raise(mp_obj_t arg, qstr what);

// ValueError naming `what` ("task name") when name holds a control character
// (\n, \r, \t, ...): printed in a report, it would break the report's lines.
void check_printable(const char *name, size_t len, const char *what);

#endif // HEAPTRACK_ERRORS_H
