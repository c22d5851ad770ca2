// The chip's C library's sys/queue.h (newlib's, FreeBSD's), as far as ESP-IDF's
// heap uses it: the host's (glibc's) is the older BSD one, which lacks
// SLIST_REMOVE_AFTER (heap_trace_standalone.c's hash map). The same
// definition as FreeBSD's.
#pragma once

#include_next <sys/queue.h>

#ifndef SLIST_REMOVE_AFTER
#define SLIST_REMOVE_AFTER(elm, field) do { \
        SLIST_NEXT(elm, field) = SLIST_NEXT(SLIST_NEXT(elm, field), field); \
    } while (0)
#endif
