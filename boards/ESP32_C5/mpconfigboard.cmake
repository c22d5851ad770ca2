# heaptrack on ESP32C5: upstream's ESP32_GENERIC_C5 plus heaptrack (see ../heaptrack_board.cmake).
set(HEAPTRACK_UPSTREAM_BOARD ESP32_GENERIC_C5)
set(HEAPTRACK_BOARD_NAME "heaptrack ESP32C5 module")
include(${CMAKE_CURRENT_LIST_DIR}/../heaptrack_board.cmake)
