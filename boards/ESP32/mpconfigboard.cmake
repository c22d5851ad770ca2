# heaptrack on ESP32: upstream's ESP32_GENERIC plus heaptrack (see ../heaptrack_board.cmake).
set(HEAPTRACK_UPSTREAM_BOARD ESP32_GENERIC)
set(HEAPTRACK_BOARD_NAME "heaptrack ESP32 module")
# IRAM is tightest on the classic ESP32: ESP-IDF's heap code runs from flash.
set(HEAPTRACK_EXTRA_SDKCONFIG ${CMAKE_CURRENT_LIST_DIR}/../sdkconfig.heaptrack_iram)
# heaptrack's static RAM on this chip, with either tracker, at most (bytes;
# `make check-idf` fails above it): data, and code in IRAM.
set(HEAPTRACK_DRAM_BUDGET 30720)
set(HEAPTRACK_IRAM_BUDGET 6144)
include(${CMAKE_CURRENT_LIST_DIR}/../heaptrack_board.cmake)
