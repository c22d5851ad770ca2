# The heaptrack module for ports/esp32: the platform-free bindings and
# renderer, heap accounting on ESP-IDF's task tracking, and the esp32 task
# port. (make-based ports, the host firmware, use micropython.mk.)
include_guard(GLOBAL)

add_library(usermod_heaptrack INTERFACE)

target_sources(usermod_heaptrack INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}/modheaptrack.c
    ${CMAKE_CURRENT_LIST_DIR}/dump.c
    ${CMAKE_CURRENT_LIST_DIR}/errors.c
    ${CMAKE_CURRENT_LIST_DIR}/heapinfo.c
    ${CMAKE_CURRENT_LIST_DIR}/linebuf.c
    ${CMAKE_CURRENT_LIST_DIR}/report.c
    ${CMAKE_CURRENT_LIST_DIR}/task.c
    ${CMAKE_CURRENT_LIST_DIR}/tracker_idf.c
    ${CMAKE_CURRENT_LIST_DIR}/task_port_esp32.c
)

target_include_directories(usermod_heaptrack INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}
)

target_link_libraries(usermod INTERFACE usermod_heaptrack)
