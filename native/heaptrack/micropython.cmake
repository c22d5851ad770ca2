# The heaptrack module for ports/esp32: the platform-free bindings, renderer
# and task runner, over the ESP-IDF tracker. (make-based ports use
# micropython.mk and the hosted tracker instead.)
include_guard(GLOBAL)

add_library(usermod_heaptrack INTERFACE)

# Every platform-free source: all *.c here except the trackers (tracker_*.c),
# of which this port takes the ESP-IDF pair.
file(GLOB HEAPTRACK_COMMON_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
list(FILTER HEAPTRACK_COMMON_SOURCES EXCLUDE REGEX "/tracker_[^/]*\\.c$")

target_sources(usermod_heaptrack INTERFACE
    ${HEAPTRACK_COMMON_SOURCES}
    ${CMAKE_CURRENT_LIST_DIR}/tracker_idf.c
    ${CMAKE_CURRENT_LIST_DIR}/tracker_idf_task.c
)

target_include_directories(usermod_heaptrack INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}
)

target_link_libraries(usermod INTERFACE usermod_heaptrack)
