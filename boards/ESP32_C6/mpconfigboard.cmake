# heaptrack on ESP32C6: upstream's ESP32_GENERIC_C6 plus heaptrack (see ../heaptrack_board.cmake).
set(HEAPTRACK_UPSTREAM_BOARD ESP32_GENERIC_C6)
set(HEAPTRACK_BOARD_NAME "heaptrack ESP32C6 module")
include(${CMAKE_CURRENT_LIST_DIR}/../heaptrack_board.cmake)
