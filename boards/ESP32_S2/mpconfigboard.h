// heaptrack on ESP32S2: upstream's ESP32_GENERIC_S2 settings, then the heaptrack board name.
#include "../../micropython/ports/esp32/boards/ESP32_GENERIC_S2/mpconfigboard.h"
#include "../heaptrack_board.h"
