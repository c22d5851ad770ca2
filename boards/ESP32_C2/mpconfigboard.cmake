# heaptrack on ESP32C2: upstream's ESP32_GENERIC_C2 plus heaptrack (see ../heaptrack_board.cmake).
set(HEAPTRACK_UPSTREAM_BOARD ESP32_GENERIC_C2)
set(HEAPTRACK_BOARD_NAME "heaptrack ESP32C2 module")
# 272 KB of RAM: 256 outstanding heaptrack blocks (2 KB of table) instead of 1024 (8 KB).
set(HEAPTRACK_MAX_BLOCKS 256)
include(${CMAKE_CURRENT_LIST_DIR}/../heaptrack_board.cmake)
