# heaptrack on ESP32C2: upstream's ESP32_GENERIC_C2 plus heaptrack (see ../heaptrack_board.cmake).
set(HEAPTRACK_UPSTREAM_BOARD ESP32_GENERIC_C2)
set(HEAPTRACK_BOARD_NAME "heaptrack ESP32C2 module")
# 272 KB of RAM: 256 outstanding heaptrack blocks (2 KB of table) instead of 1024 (8 KB).
set(HEAPTRACK_MAX_BLOCKS 256)
# The hooks tracker's tables (HEAPTRACK_TRACKER=hooks): 512 live blocks and 32
# task records (about 12 KB) instead of 1024 and 64.
set(HEAPTRACK_HOOKS_MAX_BLOCKS 512)
set(HEAPTRACK_HOOKS_MAX_TASKS 32)
# The newest 4 failed allocations (1 KB) instead of 8.
set(HEAPTRACK_FAILURES 4)
# The newest 4 GC heap area events (256 B) instead of 16.
set(HEAPTRACK_GC_EVENTS 4)
# heaptrack's static RAM on this chip, with either tracker, at most (bytes;
# `make check-idf` fails above it): data, and code in IRAM.
set(HEAPTRACK_DRAM_BUDGET 16384)
set(HEAPTRACK_IRAM_BUDGET 4096)
include(${CMAKE_CURRENT_LIST_DIR}/../heaptrack_board.cmake)
