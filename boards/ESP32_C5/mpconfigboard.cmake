# heaptrack on ESP32C5: upstream's ESP32_GENERIC_C5 plus heaptrack (see ../heaptrack_board.cmake).
set(HEAPTRACK_UPSTREAM_BOARD ESP32_GENERIC_C5)
set(HEAPTRACK_BOARD_NAME "heaptrack ESP32C5 module")
# heaptrack's static RAM on this chip, with either tracker, at most (bytes;
# `make check-idf` fails above it): data, and code in IRAM.
set(HEAPTRACK_DRAM_BUDGET 30720)
set(HEAPTRACK_IRAM_BUDGET 4096)
include(${CMAKE_CURRENT_LIST_DIR}/../heaptrack_board.cmake)
