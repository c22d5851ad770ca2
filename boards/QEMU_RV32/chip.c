// The ESP32-C3 the QEMU board is, as far as ESP-IDF's heap goes, and its
// start-up: the linker and ROM symbols ESP-IDF's esp32c3 layout
// (components/heap/port/esp32c3/memory_layout.c) reads, with the values of the
// virtual ESP32-C3 (boards/HOST/chips/esp32c3/layout.c), moved where QEMU has
// RAM (qemu_board.h); what other chip parts tell the heap; ESP-IDF's start-up
// (heap_caps_init() before any task, the task `main` that calls the app); and
// the chip's console, which is QEMU's semihosting (stdout). Nothing here
// decides a heap's place, size or caps: ESP-IDF's heap_caps_init() does.

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// ESP-IDF's region table is compiled under another name (board.mk): the one
// under the real name, which ESP-IDF and heaptrack read, is the moved copy below.
#define soc_memory_regions qemu_layout_regions
#define soc_memory_region_count qemu_layout_region_count

#include "esp_heap_caps.h"
#include "esp_heap_caps_init.h"
#include "esp_log.h"
#include "esp_rom_sys.h"
#include "heap_memory_layout.h"
#include "hal/efuse_hal.h"
#include "esp_private/esp_cache_private.h"
#include "rom/rom_layout.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"

#include "qemu_board.h"

#define STR(x) #x
#define XSTR(x) STR(x)
#define DRAM(address) ((address) + QEMU_CHIP_DRAM_SHIFT)
#define RTC(address) ((address) + QEMU_CHIP_RTC_SHIFT)
// A linker symbol at an address, as ESP-IDF's linker script defines it for an app.
#define CHIP_SYMBOL(name, value) __asm__(".globl " #name "\n.set " #name ", " XSTR(value))

// The app's IRAM code from SRAM's start (its DRAM alias reserved: the layout
// subtracts the I/D offset, a soc.h constant, so the IRAM symbols move with
// DRAM), its static data up to _heap_start, the RTC data and the words the ROM
// keeps at the RTC memory's end: the virtual ESP32-C3's values.
CHIP_SYMBOL(_iram_start, DRAM(0x40380000));
CHIP_SYMBOL(_iram_end, DRAM(0x4038C000));
CHIP_SYMBOL(_data_start, DRAM(0x3FC8C000));
CHIP_SYMBOL(_heap_start, DRAM(0x3FC8D610));
CHIP_SYMBOL(_rtc_force_slow_end, RTC(0x50001204));
CHIP_SYMBOL(_rtc_reserved_start, RTC(0x50001FE8));
CHIP_SYMBOL(_rtc_reserved_end, RTC(0x50002000));

// ESP32-C3 ROM's layout table: where the DRAM the ROM keeps begins.
static const ets_rom_layout_t s_rom_layout = {
    .dram0_rtos_reserved_start = (void *)DRAM(0x3FCDF060u),
};
const ets_rom_layout_t *const ets_rom_layout_p = &s_rom_layout;

// The chip's memories in QEMU's RAM; the linker script keeps the program out
// of them (board.mk checks that the program ends below).
#define MAX_REGIONS 8
soc_memory_region_t s_regions[MAX_REGIONS] __asm__("soc_memory_regions");
size_t s_region_count __asm__("soc_memory_region_count");

static uintptr_t moved(uintptr_t address) {
    uintptr_t here = qemu_board_address(address);
    if (here == 0) {
        qemu_board_fail("ESP-IDF's layout has a region in no memory the board has");
    }
    return here;
}

// ESP-IDF's region table with each start moved; the instruction-bus address
// stays the chip's (QEMU has no second bus onto this RAM: executable blocks
// come back at addresses nothing maps, which heaptrack refuses on the C3).
static void move_layout(void) {
    if (qemu_layout_region_count > MAX_REGIONS) {
        qemu_board_fail("more layout regions than MAX_REGIONS");
    }
    for (size_t i = 0; i < qemu_layout_region_count; ++i) {
        s_regions[i] = qemu_layout_regions[i];
        s_regions[i].start = moved(qemu_layout_regions[i].start);
    }
    s_region_count = qemu_layout_region_count;
}

/******************************************************************************/
// What other chip parts tell the heap (as boards/HOST/esp_idf/chip.c).

bool efuse_hal_flash_encryption_enabled(void) {
    return false;
}

// The C3's internal RAM is not behind a cache: 4-byte alignment for DMA.
esp_err_t esp_cache_get_alignment(uint32_t heap_caps, size_t *out_alignment) {
    (void)heap_caps;
    if (out_alignment == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    *out_alignment = 4;
    return ESP_OK;
}

/******************************************************************************/
// The console: ESP-IDF's log and ROM printf, to QEMU's semihosting, each
// message flushed there at once (picolibc buffers stdout; a MicroPython run
// never exits to flush it).

esp_log_level_t esp_log_default_level = CONFIG_LOG_DEFAULT_LEVEL;

uint32_t esp_log_timestamp(void) {
    return xTaskGetSchedulerState() == taskSCHEDULER_NOT_STARTED ? 0 : xTaskGetTickCount() * portTICK_PERIOD_MS;
}

static vprintf_like_t s_log_vprintf = vprintf;

vprintf_like_t esp_log_set_vprintf(vprintf_like_t func) {
    vprintf_like_t old = s_log_vprintf;
    s_log_vprintf = func;
    return old;
}

void esp_log_va(esp_log_config_t config, const char *tag, const char *format, va_list args) {
    (void)tag;
    if (config.opts.log_level <= esp_log_default_level) {
        s_log_vprintf(format, args);
        fflush(stdout);
    }
}

void esp_log(esp_log_config_t config, const char *tag, const char *format, ...) {
    va_list args;
    va_start(args, format);
    esp_log_va(config, tag, format, args);
    va_end(args);
}

int esp_rom_printf(const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    int n = vprintf(fmt, args);
    va_end(args);
    fflush(stdout);
    return n;
}

void qemu_board_fail(const char *what) {
    printf("\nqemu board: FAIL: %s\n", what);
    fflush(stdout);
    _exit(3);
}

/******************************************************************************/
// Start-up, as ESP-IDF's: heaps before any task; the task `main`, created
// before the scheduler runs (so no task owns its stack and TCB), enables the
// start-up stack's heap and starts the app, here the task `mp_task`, then
// deletes itself (the idle task frees it).

#define MAIN_TASK_PRIORITY 1             // ESP_TASK_MAIN_PRIO
#define MP_TASK_STACK (16 * 1024)        // ports/esp32's MICROPY_TASK_STACK_SIZE
#define MP_TASK_PRIORITY 1               // ports/esp32's MP_TASK_PRIORITY

static void mp_task(void *arg) {
    (void)arg;
    char *argv[] = { "qemu", NULL };
    int status = qemu_app_main(1, argv);
    fflush(stdout);
    exit(status);
}

static void main_task(void *arg) {
    (void)arg;
    heap_caps_enable_nonos_stack_heaps();
    if (xTaskCreatePinnedToCore(mp_task, "mp_task", MP_TASK_STACK, NULL, MP_TASK_PRIORITY, NULL, 0) != pdPASS) {
        qemu_board_fail("cannot create mp_task");
    }
    vTaskDelete(NULL);
}

void qemu_board_start(void) {
    extern void freertos_risc_v_trap_handler(void);
    __asm__ volatile ("csrw mtvec, %0" :: "r"(freertos_risc_v_trap_handler));
    move_layout();
    heap_caps_init();
    if (xTaskCreatePinnedToCore(main_task, "main", CONFIG_ESP_MAIN_TASK_STACK_SIZE, NULL, MAIN_TASK_PRIORITY,
        NULL, 0) != pdPASS) {
        qemu_board_fail("cannot create the main task");
    }
    vTaskStartScheduler();
    qemu_board_fail("the scheduler returned");
}
