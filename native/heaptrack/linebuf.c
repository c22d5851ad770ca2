#include <string.h>

#include "linebuf.h"

static void linebuf_strn(void *data, const char *str, size_t len) {
    linebuf_t *lb = data;
    while (len > 0) {
        size_t room = sizeof(lb->buf) - lb->len;
        size_t take = len < room ? len : room;
        const char *newline = memchr(str, '\n', take);
        if (newline != NULL) {
            take = newline - str + 1;
        }
        memcpy(lb->buf + lb->len, str, take);
        lb->len += take;
        str += take;
        len -= take;
        if (newline != NULL || lb->len == sizeof(lb->buf)) {
            linebuf_flush(lb);
        }
    }
}

void linebuf_init(linebuf_t *lb, const mp_print_t *out) {
    lb->print.data = lb;
    lb->print.print_strn = linebuf_strn;
    lb->out = out;
    lb->len = 0;
}

void linebuf_flush(linebuf_t *lb) {
    if (lb->len > 0) {
        lb->out->print_strn(lb->out->data, lb->buf, lb->len);
        lb->len = 0;
    }
}
