// MicroPython takes its GC heap's areas from ESP-IDF's heap through
// MP_PLAT_ALLOC_HEAP and gives them back through MP_PLAT_FREE_HEAP (by default
// the chip's malloc and free, py/mpconfig.h). Every heaptrack board points
// them at heaptrack's, which do the same and record each area (gc_areas.h), so
// that heap_info() and heaptrack.gc_events() tell how the GC heap grew into
// ESP-IDF's heap. Included by each board's configuration header.
#ifndef HEAPTRACK_GC_AREA_PLAT_H
#define HEAPTRACK_GC_AREA_PLAT_H

#ifndef __ASSEMBLER__
#include <stddef.h>
void *ht_gc_area_alloc(size_t size);
void ht_gc_area_free(void *area);
#endif
#define MP_PLAT_ALLOC_HEAP(size) ht_gc_area_alloc(size)
#define MP_PLAT_FREE_HEAP(ptr) ht_gc_area_free(ptr)

#endif // HEAPTRACK_GC_AREA_PLAT_H
