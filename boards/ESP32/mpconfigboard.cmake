# heaptrack on ESP32: upstream's ESP32_GENERIC plus heaptrack (see ../heaptrack_board.cmake).
set(HEAPTRACK_UPSTREAM_BOARD ESP32_GENERIC)
set(HEAPTRACK_BOARD_NAME "heaptrack ESP32 module")
# IRAM is tightest on the classic ESP32: ESP-IDF's heap code runs from flash.
set(HEAPTRACK_EXTRA_SDKCONFIG ${CMAKE_CURRENT_LIST_DIR}/../sdkconfig.heaptrack_iram)
include(${CMAKE_CURRENT_LIST_DIR}/../heaptrack_board.cmake)
