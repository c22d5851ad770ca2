# heaptrack on ESP32C3: upstream's ESP32_GENERIC_C3 plus heaptrack (see ../heaptrack_board.cmake).
set(HEAPTRACK_UPSTREAM_BOARD ESP32_GENERIC_C3)
set(HEAPTRACK_BOARD_NAME "heaptrack ESP32C3 module")
include(${CMAKE_CURRENT_LIST_DIR}/../heaptrack_board.cmake)
