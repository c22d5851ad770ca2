# Shared by every heaptrack ESP32 board. A heaptrack board is upstream's
# generic board for its chip, read from micropython/ports/esp32/boards, plus:
#   - boards/sdkconfig.heaptrack (heap task tracking on), always the last fragment
#     (boards/sdkconfig.heaptrack_hooks instead for heaptrack's own tracker:
#     HEAPTRACK_TRACKER=hooks);
#   - the frozen manifest boards/manifest_esp32.py;
#   - the heaptrack C module (native/micropython.cmake);
#   - a board name that says heaptrack.
#
# A board's mpconfigboard.cmake does:
#   set(HEAPTRACK_UPSTREAM_BOARD ESP32_GENERIC_S3)
#   set(HEAPTRACK_BOARD_NAME "heaptrack ESP32S3 module")
#   include(${CMAKE_CURRENT_LIST_DIR}/../heaptrack_board.cmake)
# and may first set
#   HEAPTRACK_EXTRA_SDKCONFIG  fragments after ours (e.g. boards/sdkconfig.heaptrack_iram)
#   HEAPTRACK_MAX_BLOCKS       heaptrack.malloc blocks outstanding at once (the
#                              tracker's HT_IDF_MAX_BLOCKS, 8 bytes of RAM each;
#                              default 1024)
#   HEAPTRACK_HOOKS_MAX_BLOCKS, HEAPTRACK_HOOKS_MAX_TASKS
#                              the hooks tracker's tables: live blocks of the
#                              whole system (HT_HOOKS_MAX_BLOCKS, 15 bytes each;
#                              default 1024) and task records (HT_HOOKS_MAX_TASKS,
#                              124 bytes each with their heap records; default 64)
#   HEAPTRACK_FAILURES         failed allocations kept, the newest (HT_FAILURES,
#                              about 230 bytes each; default 8)
#   HEAPTRACK_GC_EVENTS        GC heap area events kept, the newest (HT_GC_EVENTS,
#                              64 bytes each; default 16)
# and must set HEAPTRACK_DRAM_BUDGET and HEAPTRACK_IRAM_BUDGET: the static RAM
# heaptrack may take on the chip, which `make check-idf` checks.
# and each of its mpconfigvariant_<V>.cmake (named like upstream's) does:
#   heaptrack_variant(<V> "<board name for that variant>")
#
# ports/esp32/CMakeLists.txt includes these files before project(), with
# CMAKE_SOURCE_DIR = ports/esp32; it reads the SDKCONFIG_DEFAULTS entries
# relative to that directory, which is why upstream's relative entries
# ("boards/sdkconfig.base", ...) keep working here.

# The repository root: this file lives in <root>/boards.
get_filename_component(HEAPTRACK_ROOT ${CMAKE_CURRENT_LIST_DIR}/.. ABSOLUTE)
set(HEAPTRACK_UPSTREAM_BOARD_DIR ${CMAKE_SOURCE_DIR}/boards/${HEAPTRACK_UPSTREAM_BOARD})
# The tracker: ESP-IDF's heap task tracking (boards/sdkconfig.heaptrack, the
# default) or heaptrack's own on ESP-IDF's heap hooks
# (boards/sdkconfig.heaptrack_hooks): HEAPTRACK_TRACKER=idf|hooks, from the
# environment (`make firmware BOARD=... HEAPTRACK_TRACKER=hooks`) or -D.
# native/heaptrack/micropython.cmake compiles the tracker the sdkconfig selects.
if(NOT DEFINED HEAPTRACK_TRACKER)
    set(HEAPTRACK_TRACKER "$ENV{HEAPTRACK_TRACKER}")
endif()
if(HEAPTRACK_TRACKER STREQUAL "hooks")
    set(HEAPTRACK_SDKCONFIG ${HEAPTRACK_ROOT}/boards/sdkconfig.heaptrack_hooks)
elseif(HEAPTRACK_TRACKER STREQUAL "" OR HEAPTRACK_TRACKER STREQUAL "idf")
    set(HEAPTRACK_SDKCONFIG ${HEAPTRACK_ROOT}/boards/sdkconfig.heaptrack)
else()
    message(FATAL_ERROR "heaptrack: HEAPTRACK_TRACKER=${HEAPTRACK_TRACKER}: the trackers are idf (ESP-IDF's task tracking, the default) and hooks (heaptrack's own)")
endif()

if(NOT EXISTS ${HEAPTRACK_UPSTREAM_BOARD_DIR}/mpconfigboard.cmake)
    message(FATAL_ERROR "heaptrack: upstream board ${HEAPTRACK_UPSTREAM_BOARD} not found in ${CMAKE_SOURCE_DIR}/boards")
endif()

# Reads one of the upstream board's cmake files as upstream would: with
# MICROPY_BOARD_DIR naming the upstream board (ESP32_GENERIC_C2 adds its
# ${MICROPY_BOARD_DIR}/board_init.c, for example).
macro(heaptrack_include_upstream file)
    set(_heaptrack_saved_board_dir ${MICROPY_BOARD_DIR})
    set(MICROPY_BOARD_DIR ${HEAPTRACK_UPSTREAM_BOARD_DIR})
    include(${HEAPTRACK_UPSTREAM_BOARD_DIR}/${file})
    set(MICROPY_BOARD_DIR ${_heaptrack_saved_board_dir})
endmacro()

# Puts our fragment last (a variant may have rebuilt SDKCONFIG_DEFAULTS) and
# names the board. boards/heaptrack_board.h turns HEAPTRACK_BOARD_NAME into
# MICROPY_HW_BOARD_NAME.
macro(heaptrack_finish name)
    list(REMOVE_ITEM SDKCONFIG_DEFAULTS ${HEAPTRACK_SDKCONFIG} ${HEAPTRACK_EXTRA_SDKCONFIG})
    list(APPEND SDKCONFIG_DEFAULTS ${HEAPTRACK_SDKCONFIG} ${HEAPTRACK_EXTRA_SDKCONFIG})
    if(DEFINED _heaptrack_name_def)
        list(REMOVE_ITEM MICROPY_DEF_BOARD ${_heaptrack_name_def})
    endif()
    set(_heaptrack_name_def "HEAPTRACK_BOARD_NAME=\"${name}\"")
    list(APPEND MICROPY_DEF_BOARD ${_heaptrack_name_def})
endmacro()

# For boards/<NAME>/mpconfigvariant_<V>.cmake: upstream's variant <V>, then ours on top.
macro(heaptrack_variant variant name)
    heaptrack_include_upstream(mpconfigvariant_${variant}.cmake)
    heaptrack_finish("${name}")
endmacro()

heaptrack_include_upstream(mpconfigboard.cmake)
heaptrack_finish("${HEAPTRACK_BOARD_NAME}")
if(DEFINED HEAPTRACK_MAX_BLOCKS)
    list(APPEND MICROPY_DEF_BOARD HT_IDF_MAX_BLOCKS=${HEAPTRACK_MAX_BLOCKS})
endif()
if(DEFINED HEAPTRACK_HOOKS_MAX_BLOCKS)
    list(APPEND MICROPY_DEF_BOARD HT_HOOKS_MAX_BLOCKS=${HEAPTRACK_HOOKS_MAX_BLOCKS})
endif()
if(DEFINED HEAPTRACK_HOOKS_MAX_TASKS)
    list(APPEND MICROPY_DEF_BOARD HT_HOOKS_MAX_TASKS=${HEAPTRACK_HOOKS_MAX_TASKS})
endif()
if(DEFINED HEAPTRACK_FAILURES)
    list(APPEND MICROPY_DEF_BOARD HT_FAILURES=${HEAPTRACK_FAILURES})
endif()
if(DEFINED HEAPTRACK_GC_EVENTS)
    list(APPEND MICROPY_DEF_BOARD HT_GC_EVENTS=${HEAPTRACK_GC_EVENTS})
endif()

# The frozen manifest: upstream's plus heaptrack.py. FROZEN_MANIFEST= on the
# make command line still overrides it (ports/esp32/CMakeLists.txt).
set(MICROPY_FROZEN_MANIFEST ${HEAPTRACK_ROOT}/boards/manifest_esp32.py)

# The heaptrack C module, whether or not USER_C_MODULES was given.
list(FIND USER_C_MODULES ${HEAPTRACK_ROOT}/native/micropython.cmake _heaptrack_found)
if(_heaptrack_found EQUAL -1)
    list(APPEND USER_C_MODULES ${HEAPTRACK_ROOT}/native/micropython.cmake)
endif()
