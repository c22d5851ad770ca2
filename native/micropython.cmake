# USER_C_MODULES entry for CMake-based ports (ports/esp32). The heaptrack
# boards add it themselves; passing USER_C_MODULES=<this file> as well is fine.
include(${CMAKE_CURRENT_LIST_DIR}/heaptrack/micropython.cmake)
