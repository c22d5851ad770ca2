// _heaptrack's view inside MicroPython's GC heap (modgc.c).
#ifndef HEAPTRACK_MODGC_H
#define HEAPTRACK_MODGC_H

#include "py/obj.h"

MP_DECLARE_CONST_FUN_OBJ_VAR_BETWEEN(heaptrack_gc_census_obj);
MP_DECLARE_CONST_FUN_OBJ_1(heaptrack_gc_holders_obj);
MP_DECLARE_CONST_FUN_OBJ_3(heaptrack_gc_holders_of_obj);
MP_DECLARE_CONST_FUN_OBJ_0(heaptrack_gc_events_obj);

#endif // HEAPTRACK_MODGC_H
