# The heaptrack module for ports/esp32: the platform-free bindings and
# renderer, heap accounting (ESP-IDF's task tracking, or heaptrack's own
# tracker on ESP-IDF's heap hooks), and the esp32 task port. (make-based
# ports, the host firmware, use micropython.mk.)
include_guard(GLOBAL)

add_library(usermod_heaptrack INTERFACE)

target_sources(usermod_heaptrack INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}/modheaptrack.c
    ${CMAKE_CURRENT_LIST_DIR}/dump.c
    ${CMAKE_CURRENT_LIST_DIR}/errors.c
    ${CMAKE_CURRENT_LIST_DIR}/heapinfo.c
    ${CMAKE_CURRENT_LIST_DIR}/linebuf.c
    ${CMAKE_CURRENT_LIST_DIR}/metrics.c
    ${CMAKE_CURRENT_LIST_DIR}/report.c
    ${CMAKE_CURRENT_LIST_DIR}/stats.c
    ${CMAKE_CURRENT_LIST_DIR}/task.c
    ${CMAKE_CURRENT_LIST_DIR}/task_port_esp32.c
    ${CMAKE_CURRENT_LIST_DIR}/tracker_private.c
    ${CMAKE_CURRENT_LIST_DIR}/idf_heaps.c
    ${CMAKE_CURRENT_LIST_DIR}/failures.c
    ${CMAKE_CURRENT_LIST_DIR}/gc_areas.c
    ${CMAKE_CURRENT_LIST_DIR}/gc_heap.c
    ${CMAKE_CURRENT_LIST_DIR}/gc_census.c
    ${CMAKE_CURRENT_LIST_DIR}/gc_holders.c
    ${CMAKE_CURRENT_LIST_DIR}/gc_port_esp32.c
    ${CMAKE_CURRENT_LIST_DIR}/gc_port_freertos.c
    ${CMAKE_CURRENT_LIST_DIR}/modgc.c
)

# Heap accounting: heaptrack's own tracker where the sdkconfig turns ESP-IDF's
# heap hooks on and its task tracking off (boards/sdkconfig.heaptrack_hooks),
# else ESP-IDF's tracking.
if(CONFIG_HEAP_USE_HOOKS AND NOT CONFIG_HEAP_TASK_TRACKING)
    target_sources(usermod_heaptrack INTERFACE ${CMAKE_CURRENT_LIST_DIR}/tracker_hooks.c)
else()
    target_sources(usermod_heaptrack INTERFACE ${CMAKE_CURRENT_LIST_DIR}/tracker_idf.c)
endif()

# idf_heaps.c and tracker_idf.c read ESP-IDF's registry of heaps
# (heap_private.h), as ports/esp32/modesp32.c does.
target_include_directories(usermod_heaptrack INTERFACE ${IDF_PATH}/components/heap)

target_include_directories(usermod_heaptrack INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}
)

# heaptrack's version has one source, the host package's __version__ line:
# heaptrack.__version__ and the firmware banner print it.
file(STRINGS ${CMAKE_CURRENT_LIST_DIR}/../../heaptrack_host/__init__.py _heaptrack_version_line
    REGEX "^__version__ = \"[^\"]*\"$")
string(REGEX REPLACE "^__version__ = \"([^\"]*)\"$" "\\1" HEAPTRACK_VERSION "${_heaptrack_version_line}")
if(NOT HEAPTRACK_VERSION)
    message(FATAL_ERROR "heaptrack: no __version__ = \"...\" line in heaptrack_host/__init__.py")
endif()
target_compile_definitions(usermod_heaptrack INTERFACE HEAPTRACK_VERSION="${HEAPTRACK_VERSION}")

target_link_libraries(usermod INTERFACE usermod_heaptrack)
