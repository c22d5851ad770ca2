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

// The GC heap's areas taken from ESP-IDF's heap are recorded.
#include "../native/heaptrack/gc_area_plat.h"
