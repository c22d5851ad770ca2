# heaptrack on ESP32P4: upstream's ESP32_GENERIC_P4 plus heaptrack (see ../heaptrack_board.cmake).
set(HEAPTRACK_UPSTREAM_BOARD ESP32_GENERIC_P4)
set(HEAPTRACK_BOARD_NAME "heaptrack ESP32P4 module")
include(${CMAKE_CURRENT_LIST_DIR}/../heaptrack_board.cmake)
