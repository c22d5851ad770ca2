// heaptrack's MicroPython on the QEMU board: what ports/qemu's mpconfigport.h
// leaves unset, set as ports/esp32's mpconfigport.h sets it for an ESP32-C3
// where heaptrack depends on it. Forced in ahead of mpconfigport.h
// (mpconfigboard.mk), so nothing here may be what that file sets.
#pragma once

// The chip's configuration (the virtual ESP32-C3's sdkconfig.h), as the esp32
// port's files read it.
#include "sdkconfig.h"

// os.uname().machine: "virt with ESP32C3", the chip named as ports/esp32's
// generic boards name it; the banner names heaptrack's version
// (HEAPTRACK_VERSION: native/heaptrack/micropython.mk).
#define MICROPY_HW_MCU_NAME "ESP32C3"
#define MICROPY_BANNER_NAME_AND_VERSION "MicroPython " MICROPY_GIT_TAG " with heaptrack " HEAPTRACK_VERSION " on " MICROPY_BUILD_DATE

// printf is the C library's, as on the esp32 port (whose ESP-IDF needs its
// own): ESP-IDF's log and the board's messages go to the chip's console
// (QEMU's semihosting), not to the REPL's UART.
#define MICROPY_USE_INTERNAL_PRINTF (0)

// Threads with one interpreter lock, FreeRTOS tasks (ports/esp32/mpthreadport.c).
#define MICROPY_PY_THREAD (1)
#define MICROPY_PY_THREAD_GIL (1)
#define MICROPY_PY_THREAD_GIL_VM_DIVISOR (32)
#define MICROPY_STACK_CHECK_MARGIN (1024)
// mp_task's stack (chip.c creates it) and core.
#define MICROPY_TASK_STACK_SIZE (16 * 1024)
#define MP_TASK_COREID (0)

// The GC heap: 64 KB from ESP-IDF's heap at boot, grown by more areas from it
// (MP_PLAT_ALLOC_HEAP is the C library's malloc, ESP-IDF's heap here as on the
// chip: boards/QEMU_RV32/libc_heap.c), an emptied area given back.
#define MICROPY_GC_SPLIT_HEAP (1)
#define MICROPY_GC_SPLIT_HEAP_AUTO (1)
#define MICROPY_GC_INITIAL_HEAP_SIZE (64 * 1024)
// ... through heaptrack's, which record each area taken and given back, as on
// heaptrack's ESP32 boards.
#include "../../../native/heaptrack/gc_area_plat.h"

// Waiting for input or an event: pending callbacks and exceptions run, then
// the GIL is let go until the UART's interrupt or the next tick (stdio.c), as
// the esp32 port's MICROPY_EVENT_POLL_HOOK waits.
void qemu_mp_wait_event(void);
#define MICROPY_EVENT_POLL_HOOK \
    do { \
        mp_handle_pending(MP_HANDLE_PENDING_CALLBACKS_AND_EXCEPTIONS); \
        MP_THREAD_GIL_EXIT(); \
        qemu_mp_wait_event(); \
        MP_THREAD_GIL_ENTER(); \
    } while (0);
