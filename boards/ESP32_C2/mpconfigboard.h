// heaptrack on ESP32C2: upstream's ESP32_GENERIC_C2 settings, then the heaptrack board name.
#include "../../micropython/ports/esp32/boards/ESP32_GENERIC_C2/mpconfigboard.h"
#include "../heaptrack_board.h"
