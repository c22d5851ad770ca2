// A printer that gathers output into whole lines before passing it on, so a
// report costs one write per line instead of one per field.
#ifndef HEAPTRACK_LINEBUF_H
#define HEAPTRACK_LINEBUF_H

#include "py/mpprint.h"

typedef struct {
    mp_print_t print;          // print through this
    const mp_print_t *out;
    size_t len;
    char buf[200];
} linebuf_t;

void linebuf_init(linebuf_t *lb, const mp_print_t *out);
void linebuf_flush(linebuf_t *lb);

#endif // HEAPTRACK_LINEBUF_H
