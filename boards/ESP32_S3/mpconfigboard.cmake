# heaptrack on ESP32S3: upstream's ESP32_GENERIC_S3 plus heaptrack (see ../heaptrack_board.cmake).
set(HEAPTRACK_UPSTREAM_BOARD ESP32_GENERIC_S3)
set(HEAPTRACK_BOARD_NAME "heaptrack ESP32S3 module")
include(${CMAKE_CURRENT_LIST_DIR}/../heaptrack_board.cmake)
