// heaptrack's host firmware: the unix port's standard feature level, plus
// threads with a GIL as on the esp32 port.
#define MICROPY_CONFIG_ROM_LEVEL (MICROPY_CONFIG_ROM_LEVEL_EXTRA_FEATURES)

// The virtual board reports itself like a board does.
#define MICROPY_HW_BOARD_NAME "heaptrack virtual board"
#define MICROPY_HW_MCU_NAME "host"

#include "ports/unix/variants/mpconfigvariant_common.h"
