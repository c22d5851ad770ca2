// heap_info(): ESP-IDF's heap regions beside MicroPython's GC heap.
#ifndef HEAPTRACK_HEAPINFO_H
#define HEAPTRACK_HEAPINFO_H

#include "py/obj.h"

MP_DECLARE_CONST_FUN_OBJ_0(heapinfo_regions_obj);
MP_DECLARE_CONST_FUN_OBJ_0(heapinfo_gc_obj);

#endif // HEAPTRACK_HEAPINFO_H
