# heaptrack on ESP32C3: upstream's ESP32_GENERIC_C3 plus heaptrack (see ../heaptrack_board.cmake).
set(HEAPTRACK_UPSTREAM_BOARD ESP32_GENERIC_C3)
set(HEAPTRACK_BOARD_NAME "heaptrack ESP32C3 module")
# heaptrack's static RAM on this chip, with either tracker, at most (bytes;
# `make check-idf` fails above it): data, and code in IRAM.
set(HEAPTRACK_DRAM_BUDGET 30720)
set(HEAPTRACK_IRAM_BUDGET 4352)
include(${CMAKE_CURRENT_LIST_DIR}/../heaptrack_board.cmake)
