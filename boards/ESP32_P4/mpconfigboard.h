// heaptrack on ESP32P4: upstream's ESP32_GENERIC_P4 settings, then the heaptrack board name.
#include "../../micropython/ports/esp32/boards/ESP32_GENERIC_P4/mpconfigboard.h"
#include "../heaptrack_board.h"
