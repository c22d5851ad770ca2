// MicroPython's task on the QEMU board: what ports/esp32's main.c does around
// the interpreter (mp_task), done around upstream ports/qemu's main.c, which
// runs unchanged in the task mp_task that the chip's start-up creates
// (boards/QEMU_RV32/chip.c). Each wrapped upstream function (linked with
// --wrap, mpconfigboard.mk) says why.

#include <stdint.h>
#include <stdio.h>

#include "py/gc.h"
#include "py/mpthread.h"
#include "py/runtime.h"

#include "freertos/FreeRTOS.h"
#include "freertos/task.h"

#include "qemu_board.h"

void qemu_stdio_init(void);

// crt0 calls main: the chip's start-up, as an ESP32 boots ESP-IDF before
// MicroPython; ports/qemu's main() runs in mp_task (qemu_app_main).
int __real_main(int argc, char **argv);
int __wrap_main(int argc, char **argv);
int __wrap_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    qemu_board_start();
}

// mp_task: the esp32 port's start of it (its thread list, and with it the
// task's MicroPython thread state, which upstream main's first call reads),
// the REPL's UART, then upstream's main(), which never returns.
int qemu_app_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    mp_thread_init(pxTaskGetStackStart(NULL), MICROPY_TASK_STACK_SIZE / sizeof(uintptr_t));
    qemu_stdio_init();
    return __real_main(0, NULL);
}

// ports/esp32/mpthreadport.c, compiled with its xTaskCreatePinnedToCore
// renamed to this: its stack depth is `*stack_size / sizeof(StackType_t)`,
// bytes where ESP-IDF's StackType_t is a byte; here the port's StackType_t is
// a word, so that is words, which the board's xTaskCreatePinnedToCore
// (ESP-IDF's: bytes) gets back as bytes.
BaseType_t qemu_mp_thread_task_create(TaskFunction_t code, const char *name, uint32_t stack_words,
    void *parameters, UBaseType_t priority, TaskHandle_t *created, BaseType_t core_id);
BaseType_t qemu_mp_thread_task_create(TaskFunction_t code, const char *name, uint32_t stack_words,
    void *parameters, UBaseType_t priority, TaskHandle_t *created, BaseType_t core_id) {
    return xTaskCreatePinnedToCore(code, name, stack_words * sizeof(StackType_t), parameters, priority, created,
        core_id);
}

// The GC heap: upstream main() initialises the GC on a static array; the
// esp32 port takes MICROPY_GC_INITIAL_HEAP_SIZE from ESP-IDF's heap once, in
// mp_task (so ESP-IDF charges it to mp_task), and keeps it across soft resets.
void __real_gc_init(void *start, void *end);
void __wrap_gc_init(void *start, void *end);
void __wrap_gc_init(void *start, void *end) {
    (void)start;
    (void)end;
    static char *heap;
    if (heap == NULL) {
        heap = MP_PLAT_ALLOC_HEAP(MICROPY_GC_INITIAL_HEAP_SIZE);
        if (heap == NULL) {
            qemu_board_fail("mp_task_heap allocation failed");
        }
    }
    __real_gc_init(heap, heap + MICROPY_GC_INITIAL_HEAP_SIZE);
}

// Soft reset: upstream main() sweeps the GC heap; the esp32 port deletes the
// other threads first (mp_thread_deinit: vTaskDelete wherever each is, which
// heaptrack's safe teardown, linked in, holds back while a thread is inside
// ESP-IDF's heap).
void __real_gc_sweep_all(void);
void __wrap_gc_sweep_all(void);
void __wrap_gc_sweep_all(void) {
    mp_thread_deinit();
    __real_gc_sweep_all();
}

// exit(): upstream's machine.reset() calls exit(0), and main.c's fatal
// error exit(1). On an ESP32 both restart the chip; here QEMU's virt machine
// resets (its SiFive test device), which reloads the program as at power-on:
// ESP-IDF's heap and its statistics start afresh, the UART's pty stays.
// Anything but a reset asked for is said on the console first.
#define VIRT_TEST_DEVICE ((volatile uint32_t *)0x00100000u)
#define VIRT_TEST_RESET 0x7777u

void __wrap_exit(int status);
void __wrap_exit(int status) {
    if (status != 0) {
        printf("qemu board: exit(%d): resetting\n", status);
        fflush(stdout);
    }
    *VIRT_TEST_DEVICE = VIRT_TEST_RESET;
    for (;;) {
    }
}
