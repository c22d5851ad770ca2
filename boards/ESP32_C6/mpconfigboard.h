// heaptrack on ESP32C6: upstream's ESP32_GENERIC_C6 settings, then the heaptrack board name.
#include "../../micropython/ports/esp32/boards/ESP32_GENERIC_C6/mpconfigboard.h"
#include "../heaptrack_board.h"
