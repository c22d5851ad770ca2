# heaptrack on ESP32S2: upstream's ESP32_GENERIC_S2 plus heaptrack (see ../heaptrack_board.cmake).
set(HEAPTRACK_UPSTREAM_BOARD ESP32_GENERIC_S2)
set(HEAPTRACK_BOARD_NAME "heaptrack ESP32S2 module")
include(${CMAKE_CURRENT_LIST_DIR}/../heaptrack_board.cmake)
