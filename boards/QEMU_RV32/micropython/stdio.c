// The REPL's UART and time on the QEMU board, as the esp32 port has them:
// received bytes reach a ring buffer from the UART's interrupt (Ctrl-C raises
// KeyboardInterrupt there, while code runs), and a task waiting for input or
// time lets the GIL go and sleeps until the interrupt or the next tick.
// Upstream ports/qemu polls the UART and busy-waits; its mphalport.c is
// compiled as is and these functions wrap its (linked with --wrap,
// mpconfigboard.mk). The UART is QEMU virt's NS16550A, read through the
// port's uart.c.

#include <stdint.h>

#include "py/mphal.h"
#include "py/mpthread.h"
#include "py/ringbuf.h"
#include "py/runtime.h"
#include "py/stream.h"
#include "shared/runtime/interrupt_char.h"
#include "uart.h"

#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "esp_rom_sys.h"

#include "qemu_board.h"

// QEMU virt: the UART's PLIC source and its interrupt enable register.
#define UART_IRQ 10
#define UART_IER ((volatile uint8_t *)0x10000001u)
#define UART_IER_RX_AVAILABLE 0x01u

// As the esp32 port's stdin buffer (MICROPY_HW_STDIN_BUFFER_LEN).
static uint8_t s_stdin_buffer[260];
static ringbuf_t s_stdin = { s_stdin_buffer, sizeof(s_stdin_buffer), 0, 0 };
static TaskHandle_t s_mp_task;
static portMUX_TYPE s_stdin_lock = portMUX_INITIALIZER_UNLOCKED;

// Bytes the UART holds go to the ring buffer while it has room; when it is
// full they stay in the UART, whose receive interrupt is off until a reader
// makes room (QEMU then holds the rest back: nothing is lost).
static void uart_interrupt(void) {
    bool received = false;
    while (uart_rx_any()) {
        if (ringbuf_free(&s_stdin) == 0) {
            *UART_IER &= (uint8_t)~UART_IER_RX_AVAILABLE;
            break;
        }
        int c = uart_rx_chr();
        if (c == mp_interrupt_char) {
            mp_sched_keyboard_interrupt();
        } else {
            ringbuf_put(&s_stdin, (uint8_t)c);
        }
        received = true;
    }
    if (received && s_mp_task != NULL) {
        BaseType_t woken = pdFALSE;
        vTaskNotifyGiveFromISR(s_mp_task, &woken);
        portYIELD_FROM_ISR(woken);
    }
}

// From here the REPL reads the UART: the console line says so to whoever
// waits to connect (boards/QEMU_RV32/micropython/qemu-board.sh).
void qemu_stdio_init(void) {
    s_mp_task = xTaskGetCurrentTaskHandle();
    qemu_board_set_external_interrupt(UART_IRQ, uart_interrupt);
    *UART_IER |= UART_IER_RX_AVAILABLE;
    esp_rom_printf("qemu board: MicroPython's REPL is on the UART\n");
}

static int stdin_take(void) {
    portENTER_CRITICAL(&s_stdin_lock);
    int c = ringbuf_get(&s_stdin);
    *UART_IER |= UART_IER_RX_AVAILABLE;
    portEXIT_CRITICAL(&s_stdin_lock);
    return c;
}

void qemu_mp_wait_event(void) {
    ulTaskNotifyTake(pdFALSE, 1);
}

int __wrap_mp_hal_stdin_rx_chr(void);
int __wrap_mp_hal_stdin_rx_chr(void) {
    for (;;) {
        int c = stdin_take();
        if (c >= 0) {
            return c;
        }
        MICROPY_EVENT_POLL_HOOK
    }
}

uintptr_t __wrap_mp_hal_stdio_poll(uintptr_t poll_flags);
uintptr_t __wrap_mp_hal_stdio_poll(uintptr_t poll_flags) {
    uintptr_t ready = 0;
    if ((poll_flags & MP_STREAM_POLL_RD) && ringbuf_avail(&s_stdin) != 0) {
        ready |= MP_STREAM_POLL_RD;
    }
    if (poll_flags & MP_STREAM_POLL_WR) {
        ready |= MP_STREAM_POLL_WR;
    }
    return ready;
}

/******************************************************************************/
// Time: the CLINT's machine timer, 10 MHz on QEMU's virt (FreeRTOSConfig.h).

#define CLINT_MTIME_LOW ((volatile uint32_t *)0x0200BFF8u)
#define CLINT_MTIME_HIGH ((volatile uint32_t *)0x0200BFFCu)
#define MTIME_PER_US 10u

static uint64_t mtime(void) {
    uint32_t high, low;
    do {
        high = *CLINT_MTIME_HIGH;
        low = *CLINT_MTIME_LOW;
    } while (high != *CLINT_MTIME_HIGH);
    return ((uint64_t)high << 32) | low;
}

// ports/qemu's mphalport.c takes its ticks from these (its mcu/ files, not
// compiled here, read the same timer).
uintptr_t ticks_us(void);
uintptr_t ticks_ms(void);

uintptr_t ticks_us(void) {
    return (uintptr_t)(mtime() / MTIME_PER_US);
}

uintptr_t ticks_ms(void) {
    return (uintptr_t)(mtime() / (MTIME_PER_US * 1000u));
}

// The esp32 port's mp_hal_delay_ms: sleeps a tick at a time with the GIL let
// go, pending callbacks and exceptions handled between, the last part of a
// tick busy-waited (upstream ports/qemu busy-waits all of it, holding the GIL).
void __wrap_mp_hal_delay_ms(mp_uint_t ms);
void __wrap_mp_hal_delay_ms(mp_uint_t ms) {
    uint64_t wanted = (uint64_t)ms * 1000u;
    uint64_t start = mtime() / MTIME_PER_US, elapsed;
    for (;;) {
        mp_handle_pending(MP_HANDLE_PENDING_CALLBACKS_AND_EXCEPTIONS);
        MP_THREAD_GIL_EXIT();
        elapsed = mtime() / MTIME_PER_US - start;
        if (elapsed + portTICK_PERIOD_MS * 1000u >= wanted) {
            taskYIELD();
            MP_THREAD_GIL_ENTER();
            elapsed = mtime() / MTIME_PER_US - start;
            break;
        }
        ulTaskNotifyTake(pdFALSE, 1);
        MP_THREAD_GIL_ENTER();
    }
    if (elapsed < wanted) {
        mp_hal_delay_us((mp_uint_t)(wanted - elapsed));
    }
}
