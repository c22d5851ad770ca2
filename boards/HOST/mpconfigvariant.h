// heaptrack's host firmware: the unix port's standard feature level, plus
// threads with a GIL as on the esp32 port.
#define MICROPY_CONFIG_ROM_LEVEL (MICROPY_CONFIG_ROM_LEVEL_EXTRA_FEATURES)

// The chip the virtual board is (chips/<chip>/sdkconfig.h, named by
// the build: HEAPTRACK_CHIP), as the esp32 port's mpconfigport.h reads it.
#include "sdkconfig.h"

// The virtual board reports itself like a board does: os.uname().machine is
// "heaptrack virtual board with ESP32S3", its chip named as ports/esp32's
// generic boards name it (MICROPY_HW_MCU_NAME).
#define MICROPY_HW_BOARD_NAME "heaptrack virtual board"
#if CONFIG_IDF_TARGET_ESP32
#define MICROPY_HW_MCU_NAME "ESP32"
#elif CONFIG_IDF_TARGET_ESP32C3
#define MICROPY_HW_MCU_NAME "ESP32C3"
#else
#define MICROPY_HW_MCU_NAME "ESP32S3"
#endif
// The banner names heaptrack's version (HEAPTRACK_VERSION: native/heaptrack/micropython.mk).
#define MICROPY_BANNER_NAME_AND_VERSION "MicroPython " MICROPY_GIT_TAG " with heaptrack " HEAPTRACK_VERSION " on " MICROPY_BUILD_DATE

// os.uname() and sys.platform as the esp32 port has them (its mpconfigport.h):
// sysname and nodename "esp32" on every chip, release and version
// MicroPython's, machine the board and chip named above.
#define MICROPY_PY_SYS_PLATFORM "esp32"
#define MICROPY_PY_OS_UNAME (1)

#include "ports/unix/variants/mpconfigvariant_common.h"

// MicroPython's heap as the esp32 port has it on the virtual board's chip (its
// mpconfigport.h, by the chip's sdkconfig.h): 56 KB on ESP32, 64 KB on
// ESP32-S3 and ESP32-C3, taken from ESP-IDF's heap by mp_task at boot, grown
// by more areas from ESP-IDF's heap as it fills, an empty area given back
// (boards/HOST/mp_task.c). MP_PLAT_ALLOC_HEAP is the chip's malloc there, and
// heaptrack's, which also records each area, as every heaptrack board sets it
// (native/heaptrack/gc_area_plat.h).
#define MICROPY_GC_SPLIT_HEAP (1)
#define MICROPY_GC_SPLIT_HEAP_AUTO (1)
#if CONFIG_IDF_TARGET_ESP32
#define MICROPY_GC_INITIAL_HEAP_SIZE (56 * 1024)
#else
#define MICROPY_GC_INITIAL_HEAP_SIZE (64 * 1024)
#endif
#include "../../native/heaptrack/gc_area_plat.h"
// mp_task's stack, priority and core (ports/esp32: mpconfigport.h, main.c, mphalport.h).
#define MICROPY_TASK_STACK_SIZE (16 * 1024)
#define MP_TASK_PRIORITY (1)
// A _thread task's stack on the esp32 port (ports/esp32/mpthreadport.c: at
// least MP_THREAD_MIN_STACK_SIZE; by default that plus the port's
// MICROPY_STACK_CHECK_MARGIN), for the block that stands for it (mp_task.c).
#define HOST_ESP32_THREAD_MIN_STACK_SIZE (4 * 1024)
#define HOST_ESP32_STACK_CHECK_MARGIN (1024)
#if CONFIG_FREERTOS_UNICORE
#define MP_TASK_COREID (0)
#else
#define MP_TASK_COREID (1)
#endif
#ifndef __ASSEMBLER__
#include <stddef.h>
void *ht_gc_area_alloc(size_t size);
void ht_gc_area_free(void *area);
#endif

// machine.reset(): a hard reset, the firmware process ends with a status that
// tells the virtual board to start a new one (boards/HOST/mp_task.c).
// Upstream's unix port has no reset; this adds it to the machine module.
// machine.disable_irq()/enable_irq(): a FreeRTOS critical section, as on the
// esp32 port (boards/HOST/board_irq.c). machine.unique_id(): the board's MAC
// address, as the esp32 port answers it (boards/HOST/board_id.c).
#ifndef __ASSEMBLER__
extern const struct _mp_obj_fun_builtin_fixed_t host_machine_reset_obj;
extern const struct _mp_obj_fun_builtin_fixed_t host_machine_disable_irq_obj;
extern const struct _mp_obj_fun_builtin_fixed_t host_machine_enable_irq_obj;
extern const struct _mp_obj_fun_builtin_fixed_t host_machine_unique_id_obj;
#endif
#define MICROPY_PY_MACHINE_EXTRA_GLOBALS \
    { MP_ROM_QSTR(MP_QSTR_reset), MP_ROM_PTR(&host_machine_reset_obj) }, \
    { MP_ROM_QSTR(MP_QSTR_disable_irq), MP_ROM_PTR(&host_machine_disable_irq_obj) }, \
    { MP_ROM_QSTR(MP_QSTR_enable_irq), MP_ROM_PTR(&host_machine_enable_irq_obj) }, \
    { MP_ROM_QSTR(MP_QSTR_unique_id), MP_ROM_PTR(&host_machine_unique_id_obj) },
