// heaptrack on ESP32C5: upstream's ESP32_GENERIC_C5 settings, then the heaptrack board name.
#include "../../micropython/ports/esp32/boards/ESP32_GENERIC_C5/mpconfigboard.h"
#include "../heaptrack_board.h"
