# heaptrack's MicroPython on the QEMU board: upstream ports/qemu, unmodified,
# with this directory as its BOARD_DIR, grown into what the esp32 port is on
# an ESP32-C3 where heaptrack needs it: upstream FreeRTOS-Kernel under it
# (boards/QEMU_RV32: ESP-IDF's heap with the C3's layout, heaptrack's tracker
# and safe teardown), threads as the esp32 port makes them (its own
# mpthreadport.c and gccollect.c, compiled from ports/esp32), the GC heap from
# ESP-IDF's heap, the REPL on the UART (interrupt-driven), heaptrack's module
# with the esp32 task port. The top-level Makefile builds it (make
# firmware-qemu):
#
#   make -C micropython/ports/qemu BOARD_DIR=<this dir> BUILD=<dir> QEMU_BOARD_OUT=<board.mk's OUT>
#
# What upstream's files do that the board must do otherwise is changed at link
# time (--wrap, below; mp_task.c and stdio.c say why, per function).

ifeq ($(QEMU_BOARD_OUT),)
$(error the QEMU board's MicroPython needs QEMU_BOARD_OUT=<dir of boards/QEMU_RV32/board.mk's build>: build it with the top-level `make firmware-qemu`)
endif
QEMU_RV32_DIR := $(abspath $(BOARD_DIR)/..)
MPY_ABS_DIR := $(abspath $(TOP))

# Not one of the port's architectures (riscv32 would compile its mcu/rv32
# start-up, trap table and linker script): the start-up is the board's
# (picolibc's crt0, then chip.c: ESP-IDF's heaps and FreeRTOS), its ISA the
# ESP32-C3's.
QEMU_ARCH = riscv32-freertos
QEMU_MACHINE = virt
CROSS_COMPILE = riscv64-unknown-elf-
CFLAGS += -DQEMU_SOC_VIRT
AFLAGS += -march=rv32imc_zicsr_zifencei -mabi=ilp32
MPY_CROSS_FLAGS += -march=rv32imc

# What the board's own files compile with (ESP-IDF's and FreeRTOS's headers
# through its layer, the ISA), then this board's configuration, forced in
# ahead of the port's mpconfigport.h, which has no board header. picolibc's
# specs: the port's Makefile names them itself.
CFLAGS += $(filter-out --specs=%,$(file < $(QEMU_BOARD_OUT)/cflags)) -include $(BOARD_DIR)/mpconfigboard.h -I$(BOARD_DIR)
LDSCRIPT = $(QEMU_RV32_DIR)/board.ld
LDFLAGS += $(filter-out --specs=%,$(file < $(QEMU_BOARD_OUT)/link-app.flags))

# Upstream main.c's static GC heap is not used (gc_init is wrapped: mp_task.c).
MICROPY_HEAP_SIZE = 4

FROZEN_MANIFEST = $(BOARD_DIR)/manifest.py
USER_C_MODULES = $(QEMU_RV32_DIR)/../../native
HEAPTRACK_TASK_PORT = esp32
# The GC heap's census and holder search read static memory and task stacks
# as this board lays them out (gc_port_qemu.c; its tasks as FreeRTOS lists
# them, the esp32 port's way: native/heaptrack/gc_port_freertos.c).
HEAPTRACK_GC_PORT = board

# The esp32 port's threads and GC root scan, as they are.
ESP32_PORT_DIR := $(MPY_ABS_DIR)/ports/esp32
SRC_C += $(ESP32_PORT_DIR)/mpthreadport.c $(ESP32_PORT_DIR)/gccollect.c \
	$(BOARD_DIR)/mp_task.c $(BOARD_DIR)/stdio.c $(BOARD_DIR)/gc_port_qemu.c \
	$(abspath $(QEMU_RV32_DIR)/../../native/heaptrack/gc_port_freertos.c)
SRC_BOARD_O += shared/runtime/gchelper_native.o shared/runtime/gchelper_rv32i.o
# ESP-IDF's StackType_t is a byte, so mpthreadport.c's stack depth
# (`*stack_size / sizeof(StackType_t)`) is in bytes, as ESP-IDF's
# xTaskCreatePinnedToCore takes it; upstream's RISC-V port's is a word. It
# calls mp_task.c's, which makes bytes of it again.
$(BUILD)/$(ESP32_PORT_DIR)/mpthreadport.o: CFLAGS += -DxTaskCreatePinnedToCore=qemu_mp_thread_task_create
# gccollect.c's gc_collect (the esp32 port's: registers, stack, the other
# threads' stacks) is the one py/gc.c calls, not main.c's (no other threads).
$(BUILD)/$(ESP32_PORT_DIR)/gccollect.o: CFLAGS += -Dgc_collect=__wrap_gc_collect

# Upstream's gc_try_add_heap (MICROPY_GC_SPLIT_HEAP_AUTO, as on the esp32
# port, which does not build with -Wpointer-arith) adds to a void pointer,
# which the port's -Wpointer-arith rejects.
$(BUILD)/py/gc.o: CFLAGS += -Wno-pointer-arith

LDFLAGS += -Wl,--wrap=main,--wrap=exit,--wrap=gc_init,--wrap=gc_sweep_all,--wrap=gc_collect \
	-Wl,--wrap=mp_hal_stdin_rx_chr,--wrap=mp_hal_stdio_poll,--wrap=mp_hal_delay_ms

# Relink when the board's library changes (without making this the default goal).
qemu_board_default_goal := $(.DEFAULT_GOAL)
$(BUILD)/firmware.elf: $(QEMU_BOARD_OUT)/libqemu_board.a
.DEFAULT_GOAL := $(qemu_board_default_goal)
