// A printer that gathers output into whole lines before passing it on, so a
// report costs one write per line instead of one per field; or into chunks of
// its buffer's size, for output that need not go a line at a time.
#ifndef HEAPTRACK_LINEBUF_H
#define HEAPTRACK_LINEBUF_H

#include <stdbool.h>

#include "py/mpprint.h"

typedef struct {
    mp_print_t print;          // print through this
    const mp_print_t *out;
    size_t len;
    bool whole_lines;          // pass each line on as it ends
    char buf[200];
} linebuf_t;

void linebuf_init(linebuf_t *lb, const mp_print_t *out);
// The same, passing output on only when the buffer is full (and at the flush).
void linebuf_init_chunks(linebuf_t *lb, const mp_print_t *out);
void linebuf_flush(linebuf_t *lb);

#endif // HEAPTRACK_LINEBUF_H
