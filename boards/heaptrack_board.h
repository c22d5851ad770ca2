// Included last by every heaptrack ESP32 board's mpconfigboard.h, after
// upstream's header for the same chip: the board name says heaptrack.
//
// HEAPTRACK_BOARD_NAME is set per board and variant by boards/heaptrack_board.cmake
// for the MicroPython component. Code compiled outside it (the TinyUSB
// library also reads this header) gets the generic name below.
#undef MICROPY_HW_BOARD_NAME
#ifdef HEAPTRACK_BOARD_NAME
#define MICROPY_HW_BOARD_NAME HEAPTRACK_BOARD_NAME
#else
#define MICROPY_HW_BOARD_NAME "heaptrack " MICROPY_HW_MCU_NAME " module"
#endif

// The banner names heaptrack's version (HEAPTRACK_VERSION: native/micropython.cmake
// defines it for the MicroPython component).
#ifdef HEAPTRACK_VERSION
#define MICROPY_BANNER_NAME_AND_VERSION "MicroPython " MICROPY_GIT_TAG " with heaptrack " HEAPTRACK_VERSION " on " MICROPY_BUILD_DATE
#endif

// MicroPython's GC heap takes its areas from ESP-IDF's heap with the chip's
// malloc (py/mpconfig.h's default MP_PLAT_ALLOC_HEAP) and gives them back with
// free: heaptrack's do the same and record each, so that heap_info() and
// heaptrack.gc_events() tell how the GC heap grew into ESP-IDF's heap
// (native/heaptrack/gc_areas.h).
#ifndef __ASSEMBLER__
#include <stddef.h>
void *ht_gc_area_alloc(size_t size);
void ht_gc_area_free(void *area);
#endif
#define MP_PLAT_ALLOC_HEAP(size) ht_gc_area_alloc(size)
#define MP_PLAT_FREE_HEAP(ptr) ht_gc_area_free(ptr)
