# The QEMU board's C level: upstream FreeRTOS-Kernel's RISC-V port, ESP-IDF's
# heap as the ESP32-C3 has it, heaptrack's tracker and the board's ESP-IDF-API
# layer, built for the ESP32-C3's ISA (RV32IMC, ilp32) into one static library
# that a program links (with picolibc, its output through QEMU's semihosting)
# to run under `qemu-system-riscv32 -M virt`.
#
#   make -f boards/QEMU_RV32/board.mk IDF_SRC=<ESP-IDF tree> FREERTOS_SRC=<FreeRTOS-Kernel tree> OUT=<dir>
#       [TRACKER=idf|hooks] [TRACKER_DEFS=-D...] [SAFE_TEARDOWN=0|1]
#
# OUT/libqemu_board.a is the library, OUT/link.flags what linking a C program
# with it takes (its main() is board_main.c's: the chip's start-up),
# OUT/link-app.flags the same for a program with a main() and a -T linker
# script option of its own (MicroPython: boards/QEMU_RV32/micropython), OUT/cflags
# what the program's own files compile with (ESP-IDF's and FreeRTOS's headers
# through the board's layer). Both source trees must be
# the pinned ones: the top-level Makefile checks them (mk/esp-idf.mk,
# mk/freertos.mk).
#
# TRACKER: tracker_idf.c (ESP-IDF's task tracking; default) or tracker_hooks.c
# (heaptrack's own on ESP-IDF's heap hooks, ESP-IDF's tracking off);
# TRACKER_DEFS, its table sizes (tracker_idf.c's and tracker_hooks.c's
# defaults: a board's).
# SAFE_TEARDOWN: 1 (default) links heaptrack's safe task deletion
# (native/heaptrack/idf_teardown.c: vTaskDelete of another task waits until it
# is out of ESP-IDF's heap); 0 leaves vTaskDelete as FreeRTOS's, which the
# deletion test shows hanging.

QEMU_MK_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
ROOT := $(abspath $(QEMU_MK_DIR)/../..)
HEAPTRACK_DIR := $(ROOT)/native/heaptrack
HOST_SHIM := $(ROOT)/boards/HOST/esp_idf
IDF_SRC ?= $(error IDF_SRC=<ESP-IDF tree> is required)
FREERTOS_SRC ?= $(error FREERTOS_SRC=<FreeRTOS-Kernel tree> is required)
OUT ?= $(error OUT=<build dir> is required)
TRACKER ?= idf
TRACKER_DEFS ?=
SAFE_TEARDOWN ?= 1
CROSS ?= riscv64-unknown-elf-
CC := $(CROSS)gcc
AR := $(CROSS)ar
C := $(IDF_SRC)/components
CHIP := esp32c3

ifeq ($(TRACKER),idf)
TRACKING := 1
HOOKS := 0
else ifeq ($(TRACKER),hooks)
TRACKING := 0
HOOKS := 1
else
$(error TRACKER=$(TRACKER): the trackers are idf (ESP-IDF's task tracking) and hooks (heaptrack's own))
endif

# The ESP32-C3's ISA and ABI (ESP-IDF's components/soc/project_include.cmake),
# and picolibc's C library. Debian's picolibc has no rv32imc multilib: programs
# link its rv32im one, a subset of the C3's ISA (link.flags).
ARCH := -march=rv32imc_zicsr_zifencei -mabi=ilp32
LINK_ARCH := -march=rv32im -mabi=ilp32
BASE_CFLAGS := $(ARCH) --specs=picolibc.specs -std=gnu17 -O2 -g -ffunction-sections -fdata-sections
WARN := -Wall -Wextra -Werror -Wno-unused-parameter

# FreeRTOS-Kernel: the kernel's files this board uses and the GCC RISC-V port,
# for a core with a CLINT and no extensions (QEMU's virt), unmodified.
KERNEL_SOURCES := tasks.c queue.c list.c portable/GCC/RISC-V/port.c portable/GCC/RISC-V/portASM.S
KERNEL_INCLUDES := -I$(QEMU_MK_DIR) -I$(ROOT)/boards/HOST/chips/$(CHIP) -I$(FREERTOS_SRC)/include \
	-I$(FREERTOS_SRC)/portable/GCC/RISC-V \
	-I$(FREERTOS_SRC)/portable/GCC/RISC-V/chip_specific_extensions/RISCV_MTIME_CLINT_no_extensions

# ESP-IDF's heap for the ESP32-C3, as boards/HOST/esp_idf.mk compiles it for
# the virtual C3 (the same files and sdkconfig.h), against the board's FreeRTOS.
IDF_SOURCES := heap/heap_caps_base.c heap/heap_caps.c heap/heap_caps_init.c heap/multi_heap.c \
	heap/tlsf/tlsf.c heap/port/memory_layout_utils.c heap/port/$(CHIP)/memory_layout.c \
	esp_mm/heap_align_hw.c esp_hw_support/esp_memory_utils.c
ifeq ($(TRACKING),1)
IDF_SOURCES += heap/heap_task_info.c
endif
IDF_INCLUDES := heap heap/include heap/private_include heap/tlsf heap/tlsf/include \
	esp_common/include esp_system/include esp_hw_support/include esp_hw_support/dma/include \
	esp_rom/include esp_rom/$(CHIP)/include esp_rom/$(CHIP)/include/$(CHIP) esp_rom/$(CHIP) \
	soc/include soc/$(CHIP)/include soc/$(CHIP)/register \
	hal/include hal/$(CHIP)/include hal/platform_port/include log/include esp_mm/include esp_psram/include
# ESP-IDF code sees the board's layer first (include/: freertos/*.h, esp_cpu.h).
IDF_CFLAGS := $(BASE_CFLAGS) -DMULTI_HEAP_FREERTOS -DHEAPTRACK_IDF_TRACKING=$(TRACKING) -DHEAPTRACK_IDF_HOOKS=$(HOOKS) \
	-I$(QEMU_MK_DIR)/include $(KERNEL_INCLUDES) $(addprefix -isystem $(C)/,$(IDF_INCLUDES))

# The layout moved into QEMU's RAM (qemu_board.h, chip.c).
$(OUT)/idf/heap/port/$(CHIP)/memory_layout.o: FILE_FLAGS := -include $(QEMU_MK_DIR)/layout_shift.h \
	-Dsoc_memory_regions=qemu_layout_regions -Dsoc_memory_region_count=qemu_layout_region_count
$(OUT)/idf/heap/port/memory_layout_utils.o: FILE_FLAGS := -include $(QEMU_MK_DIR)/layout_utils_shift.h
# tlsf's newest commit may lack tlsf_find_containing_block (mk/esp-idf-source.sh):
# the host shim's tlsf_compat.c, plain C, supplies it here too.
TLSF_HAS_CONTAINING := $(shell grep -q tlsf_find_containing_block $(C)/heap/tlsf/include/tlsf.h 2>/dev/null && echo 1)
ifneq ($(TLSF_HAS_CONTAINING),1)
$(OUT)/idf/heap/multi_heap.o: FILE_FLAGS := -include $(HOST_SHIM)/tlsf_compat.h
TLSF_COMPAT := $(OUT)/board/tlsf_compat.o
endif

BOARD_SOURCES := idf_freertos.c chip.c pthread.c atomics.c libc_heap.c
# The tracker and what both trackers have: ESP-IDF's heap registry and the
# record of failed allocations.
HEAPTRACK_SOURCES := tracker_$(TRACKER).c tracker_private.c idf_heaps.c failures.c gc_areas.c
# The safe teardown: vTaskDelete and ESP-IDF's heap entry points, each
# wrapped by idf_teardown.c (the task tracking ones exist with tracking only).
HT_TEARDOWN_WRAPS := vTaskDelete heap_caps_malloc heap_caps_calloc heap_caps_realloc heap_caps_free \
	heap_caps_aligned_alloc heap_caps_aligned_calloc heap_caps_aligned_free \
	heap_caps_malloc_default heap_caps_realloc_default heap_caps_aligned_alloc_default
ifeq ($(TRACKING),1)
HT_TEARDOWN_WRAPS += heap_caps_get_all_task_stat heap_caps_get_single_task_stat \
	heap_caps_alloc_all_task_stat_arrays heap_caps_free_all_task_stat_arrays \
	heap_caps_alloc_single_task_stat_arrays heap_caps_free_single_task_stat_arrays \
	heap_caps_print_all_task_stat heap_caps_print_all_task_stat_overview \
	heap_caps_print_single_task_stat heap_caps_print_single_task_stat_overview
endif
ifeq ($(SAFE_TEARDOWN),1)
HEAPTRACK_SOURCES += idf_teardown.c
endif

KERNEL_OBJS := $(addprefix $(OUT)/kernel/,$(addsuffix .o,$(basename $(KERNEL_SOURCES))))
IDF_OBJS := $(addprefix $(OUT)/idf/,$(IDF_SOURCES:.c=.o))
BOARD_OBJS := $(addprefix $(OUT)/board/,$(BOARD_SOURCES:.c=.o)) $(TLSF_COMPAT)
HEAPTRACK_OBJS := $(addprefix $(OUT)/heaptrack/,$(HEAPTRACK_SOURCES:.c=.o))
LIB := $(OUT)/libqemu_board.a

.PHONY: all
all: $(LIB) $(OUT)/board_main.o $(OUT)/link.flags $(OUT)/link-app.flags $(OUT)/cflags

$(LIB): $(KERNEL_OBJS) $(IDF_OBJS) $(BOARD_OBJS) $(HEAPTRACK_OBJS)
	@rm -f $@
	@$(AR) rcs $@ $^

# Programs: picolibc with semihosting; the board's RAM from 0x80000000 (code,
# then data), below where the chip's memories sit (qemu_board.h); ESP-IDF's
# reserved-region table; the safe teardown in front of vTaskDelete.
comma := ,
LINK_APP := $(LINK_ARCH) --specs=picolibc.specs --oslib=semihost -Wl,--defsym=__flash=0x80000000 \
	-Wl,--defsym=__flash_size=0x200000 -Wl,--defsym=__ram=0x80200000 -Wl,--defsym=__ram_size=0x200000 \
	-Wl,--defsym=__stack_size=0x2000 -Wl,--no-relax -Wl,--no-warn-rwx-segments -Wl,--gc-sections \
	$(if $(filter 1,$(SAFE_TEARDOWN)),$(addprefix -Wl$(comma)--wrap=,$(HT_TEARDOWN_WRAPS))) \
	-Wl,--whole-archive $(LIB) -Wl,--no-whole-archive
$(OUT)/link.flags: $(MAKEFILE_LIST) | $(OUT)
	@echo "-T$(QEMU_MK_DIR)/board.ld $(OUT)/board_main.o $(LINK_APP)" | tr -s '\t ' ' ' >$@.tmp
	@mv -f $@.tmp $@
$(OUT)/link-app.flags: $(MAKEFILE_LIST) | $(OUT)
	@echo "$(LINK_APP)" | tr -s '\t ' ' ' >$@.tmp
	@mv -f $@.tmp $@

$(OUT)/board_main.o: $(QEMU_MK_DIR)/board_main.c $(HEADERS) $(MAKEFILE_LIST)
	@mkdir -p $(dir $@)
	@echo "CC board_main.c (QEMU board)"
	@$(CC) $(IDF_CFLAGS) $(WARN) -c $< -o $@

$(OUT)/cflags: $(MAKEFILE_LIST) | $(OUT)
	@echo "$(IDF_CFLAGS) $(TRACKER_DEFS) -I$(HEAPTRACK_DIR)" >$@.tmp
	@mv -f $@.tmp $@

HEADERS := $(wildcard $(QEMU_MK_DIR)/*.h $(QEMU_MK_DIR)/include/*.h $(QEMU_MK_DIR)/include/*/*.h \
	$(ROOT)/boards/HOST/chips/*.h $(ROOT)/boards/HOST/chips/$(CHIP)/sdkconfig.h)

$(OUT)/kernel/%.o: $(FREERTOS_SRC)/%.c $(HEADERS) $(MAKEFILE_LIST)
	@mkdir -p $(dir $@)
	@echo "CC FreeRTOS-Kernel/$*.c (QEMU)"
	@$(CC) $(BASE_CFLAGS) $(KERNEL_INCLUDES) -w -c $< -o $@

$(OUT)/kernel/%.o: $(FREERTOS_SRC)/%.S $(HEADERS) $(MAKEFILE_LIST)
	@mkdir -p $(dir $@)
	@echo "AS FreeRTOS-Kernel/$*.S (QEMU)"
	@$(CC) $(BASE_CFLAGS) $(KERNEL_INCLUDES) -c $< -o $@

$(OUT)/idf/%.o: $(C)/%.c $(HEADERS) $(MAKEFILE_LIST)
	@mkdir -p $(dir $@)
	@echo "CC esp-idf/components/$*.c (QEMU)"
	@$(CC) $(IDF_CFLAGS) $(FILE_FLAGS) -w -c $< -o $@

$(OUT)/board/tlsf_compat.o: $(HOST_SHIM)/tlsf_compat.c $(HEADERS) $(MAKEFILE_LIST)
	@mkdir -p $(dir $@)
	@echo "CC tlsf_compat.c (QEMU)"
	@$(CC) $(IDF_CFLAGS) $(WARN) -c $< -o $@

$(OUT)/board/%.o: $(QEMU_MK_DIR)/%.c $(HEADERS) $(MAKEFILE_LIST)
	@mkdir -p $(dir $@)
	@echo "CC $*.c (QEMU board)"
	@$(CC) $(IDF_CFLAGS) $(WARN) -c $< -o $@

$(OUT)/heaptrack/%.o: $(HEAPTRACK_DIR)/%.c $(wildcard $(HEAPTRACK_DIR)/*.h) $(HEADERS) $(MAKEFILE_LIST)
	@mkdir -p $(dir $@)
	@echo "CC $*.c (QEMU)"
	@$(CC) $(IDF_CFLAGS) $(WARN) $(TRACKER_DEFS) -I$(HEAPTRACK_DIR) -c $< -o $@

$(OUT):
	mkdir -p $@
