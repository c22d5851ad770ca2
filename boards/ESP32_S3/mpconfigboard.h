// heaptrack on ESP32S3: upstream's ESP32_GENERIC_S3 settings, then the heaptrack board name.
#include "../../micropython/ports/esp32/boards/ESP32_GENERIC_S3/mpconfigboard.h"
#include "../heaptrack_board.h"
