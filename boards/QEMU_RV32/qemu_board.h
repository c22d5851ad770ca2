// What the QEMU board offers its programs beyond the ESP-IDF and FreeRTOS API
// it provides: start-up, failing loudly, and the interrupt sources the tests
// use. The board is an ESP32-C3's memory and heaps (chip.c) under upstream
// FreeRTOS-Kernel (idf_freertos.c) on QEMU's `virt` machine, one RV32IMC hart.
#pragma once

#include <stdint.h>

// Where the ESP32-C3's memories sit in QEMU's RAM: QEMU's virt machine has RAM
// only from 0x80000000 (0x3FC80000, the C3's SRAM, is its PCIe ECAM window,
// 0x50000000, the C3's RTC memory, its PCIe MMIO window), so each memory is
// moved by a fixed offset, its layout kept: every address ESP-IDF's layout
// code reads (its region table, the linker and ROM symbols, the two soc.h
// constants it reserves up to) moves by the same offset (chip.c, layout_*.h).
#define QEMU_CHIP_DRAM_LOW 0x3FC80000u      // SOC_DIRAM_DRAM_LOW
#define QEMU_CHIP_DRAM_HIGH 0x3FCE0000u     // SOC_DIRAM_DRAM_HIGH
#define QEMU_CHIP_DRAM_SHIFT 0x40780000u    // -> 0x80400000
#define QEMU_CHIP_RTC_LOW 0x50000000u       // SOC_RTC_DRAM_LOW
#define QEMU_CHIP_RTC_HIGH 0x50002000u      // SOC_RTC_DRAM_HIGH
#define QEMU_CHIP_RTC_SHIFT 0x30480000u     // -> 0x80480000

// Where the board has the chip's data address `address` (0 for an address in
// neither memory): what a test that knows the chip's address expects here.
static inline uintptr_t qemu_board_address(uintptr_t address) {
    if (address >= QEMU_CHIP_DRAM_LOW && address < QEMU_CHIP_DRAM_HIGH) {
        return address + QEMU_CHIP_DRAM_SHIFT;
    }
    if (address >= QEMU_CHIP_RTC_LOW && address < QEMU_CHIP_RTC_HIGH) {
        return address + QEMU_CHIP_RTC_SHIFT;
    }
    return 0;
}

// The program's entry, run as the task `mp_task` (16 KiB of stack, priority
// 1, as the esp32 port's MicroPython task) created by ESP-IDF's `main` task
// once the scheduler runs. Its return value is the run's exit status.
int qemu_app_main(int argc, char **argv);

// The chip's start-up (chip.c): ESP-IDF's heaps, the task `main` (which starts
// `mp_task`), the scheduler. A C program's main() is board_main.c's, which
// calls this; MicroPython's (ports/qemu's main.c) runs in mp_task instead.
__attribute__((noreturn)) void qemu_board_start(void);

// The name of the next thread pthread_create starts (include/pthread.h):
// used once; without it a thread is `mp_thread`, as the esp32 port names
// _thread threads.
void qemu_thread_set_next_name(const char *name);

// Stops the run at once with a message and exit status 3 (QEMU exits).
__attribute__((noreturn)) void qemu_board_fail(const char *what);

// hook, when set, runs in every tick interrupt (the kernel's tick hook).
void qemu_board_set_tick_hook(void (*hook)(void));
// handler runs in the interrupt of the platform-level interrupt controller's
// source irq (QEMU virt's PLIC: the UART is 10), which this enables.
void qemu_board_set_external_interrupt(unsigned irq, void (*handler)(void));

// handler runs in the machine software interrupt, which
// qemu_board_raise_software_interrupt() raises (the CLINT's MSIP).
void qemu_board_set_software_interrupt(void (*handler)(void));
void qemu_board_raise_software_interrupt(void);
