// heaptrack on ESP32: upstream's ESP32_GENERIC settings, then the heaptrack board name.
#include "../../micropython/ports/esp32/boards/ESP32_GENERIC/mpconfigboard.h"
#include "../heaptrack_board.h"
