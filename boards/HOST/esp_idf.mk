# ESP-IDF's heap for the host firmware and the C tests: ESP-IDF's own sources,
# unmodified, built 32-bit against ESP-IDF's headers, with the host shim
# (esp_idf/: what the chip and FreeRTOS provide) and one of heaptrack's
# trackers, into one static library.
#
#   make -f boards/HOST/esp_idf.mk IDF_SRC=<ESP-IDF tree> OUT=<dir> [TRACKING=0] [SAN_FLAGS=...]
#       [TRACKER=idf|hooks] [HOOKS=0|1] [CHIP=<target of a chips/ folder>] [PSRAM=0|1]
#       [TRACKER_DEFS=-DHT_IDF_MAX_BLOCKS=...]   (the tracker's build-time knobs)
#       [CODE_FLAGS=-fno-pie]                     (code generation: the benchmarks' builds)
#       [TRACING=1]                               (ESP-IDF's heap tracing: the benchmark's column)
#
# TRACKING: CONFIG_HEAP_TASK_TRACKING (ESP-IDF's heap task tracking).
# TRACKER: which tracker.h implementation goes in: tracker_idf.c (ESP-IDF's
# tracking; default) or tracker_hooks.c (heaptrack's own, on ESP-IDF's heap
# hooks; the firmware of that tracker has TRACKING=0).
# HOOKS: CONFIG_HEAP_USE_HOOKS; 1 by default with TRACKER=hooks. The library
# then pulls the hooks tracker in even where nothing else names it, so that no
# program runs ESP-IDF's hooks unset by accident.
#
# TRACING=1: ESP-IDF's standalone heap tracing with its hash map
# (CONFIG_HEAP_TRACING_STANDALONE, heap_trace_standalone.c), linked as ESP-IDF's
# heap component links it: heap_caps_*_base and heap_caps_free wrapped. Only
# bench/bench_tracker.c's column of it uses this; no firmware has it.
#
# CHIP: the chip whose heaps the library lays out (ESP-IDF's target), with
# that chip's ESP-IDF layout and soc headers, and its folder of chips/ (its
# sdkconfig.h, its layout.c: chips/README.md); esp32s3 by default. PSRAM=1:
# the chip's folder with PSRAM (chips/esp32s3-psram: the octal PSRAM of
# MicroPython's ESP32_GENERIC_S3 SPIRAM_OCT variant).
#
# OUT/libesp_idf_host.a is the library; OUT/link.flags the flags a program
# linking it needs. IDF_SRC must hold the pinned tag's files: the top-level
# Makefile checks that (mk/esp-idf.mk).
#
# `make -f ... preprocessed OUT=<dir> [SDKCONFIG_FIRST=<dir>]` writes ESP-IDF's
# sources as the host compiles them, preprocessed, to OUT/pp/: make check-idf
# compares them with what the chip's own sdkconfig.h (in SDKCONFIG_FIRST, found
# before the shim's) makes of them.

HOST_IDF_MK_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
SHIM := $(HOST_IDF_MK_DIR)/esp_idf
HEAPTRACK_DIR := $(abspath $(HOST_IDF_MK_DIR)/../../native/heaptrack)
IDF_SRC ?= $(error IDF_SRC=<ESP-IDF tree> is required)
OUT ?= $(error OUT=<build dir> is required)
TRACKING ?= 1
TRACKER ?= idf
ifeq ($(TRACKER),hooks)
HOOKS ?= 1
else
HOOKS ?= 0
endif
TRACKER_DEFS ?=
CODE_FLAGS ?=
TRACING ?= 0
CC ?= gcc
C := $(IDF_SRC)/components
include $(HOST_IDF_MK_DIR)/chips.mk
CHIP ?= $(HOST_DEFAULT_CHIP)
PSRAM ?= 0
HOST_CHIP_DIR := $(HOST_CHIPS_DIR)/$(call host_chip_name,$(CHIP),$(PSRAM),CHIP)
HOST_CHIP_LAYOUT := $(HOST_CHIPS_DIR)/$(call host_chip_var,$(notdir $(HOST_CHIP_DIR)),CHIP_LAYOUT)/layout.c
# The sanitizer build moves the ESP32-S3's DRAM out of ASan's shadow (chip.c,
# asan_layout.h); the other chips' layouts reserve fixed DRAM addresses that
# it would not move.
ifneq ($(findstring address,$(SAN_FLAGS)),)
ifneq ($(CHIP),esp32s3)
$(error the sanitizer build is for CHIP=esp32s3 only)
endif
endif

# ESP-IDF's files, as components/heap/CMakeLists.txt lists them for the chip
# with heap task tracking, plus esp_mm's alignment helper the heap calls and
# esp_hw_support's answers to "is this address executable, external, ...".
IDF_SOURCES := \
	heap/heap_caps_base.c \
	heap/heap_caps.c \
	heap/heap_caps_init.c \
	heap/multi_heap.c \
	heap/tlsf/tlsf.c \
	heap/port/memory_layout_utils.c \
	heap/port/$(CHIP)/memory_layout.c \
	esp_mm/heap_align_hw.c \
	esp_hw_support/esp_memory_utils.c
ifeq ($(TRACKING),1)
IDF_SOURCES += heap/heap_task_info.c
endif
ifeq ($(TRACING),1)
IDF_SOURCES += heap/heap_trace_standalone.c
endif

SHIM_SOURCES := app_startup.c chip.c console.c freertos.c mbedtls_memory.c
# ESP-IDF's printers and statistics as text, for the differential firmware
# (both ESP-IDF's tracking and the hooks on).
ifeq ($(TRACKING)$(HOOKS),11)
SHIM_SOURCES += oracle.c
endif

# The include directories ESP-IDF's build gives these files on the chip; the
# shim's come first (the chip's sdkconfig.h, FreeRTOS, the CPU). -isystem: warnings are
# for our code, not ESP-IDF's.
IDF_INCLUDES := heap heap/include heap/private_include heap/tlsf heap/tlsf/include \
	esp_common/include esp_system/include esp_hw_support/include esp_hw_support/dma/include \
	esp_rom/include esp_rom/$(CHIP)/include esp_rom/$(CHIP)/include/$(CHIP) esp_rom/$(CHIP) \
	soc/include soc/$(CHIP)/include soc/$(CHIP)/register \
	hal/include hal/$(CHIP)/include hal/platform_port/include log/include esp_mm/include esp_psram/include
SDKCONFIG_FIRST ?=
CFLAGS_IDF := -m32 -std=gnu17 -O2 -g -ffunction-sections -fdata-sections -D_GNU_SOURCE \
	-DMULTI_HEAP_FREERTOS -DHEAPTRACK_IDF_TRACKING=$(TRACKING) -DHEAPTRACK_IDF_HOOKS=$(HOOKS)$(if $(filter 1,$(TRACING)), -DHEAPTRACK_IDF_TRACING=1) $(SAN_FLAGS) $(CODE_FLAGS) \
	$(addprefix -I,$(SDKCONFIG_FIRST)) -I$(HOST_CHIP_DIR) -I$(SHIM)/include -I$(SHIM) \
	$(addprefix -isystem $(C)/,$(IDF_INCLUDES))
WARN := -Wall -Wextra -Werror -Wno-unused-parameter

# tlsf gained tlsf_find_containing_block after ESP-IDF v5.4's pin; with an
# older checkout (see mk/esp-idf-source.sh) the shim supplies it.
TLSF_HAS_CONTAINING := $(shell grep -q tlsf_find_containing_block $(C)/heap/tlsf/include/tlsf.h 2>/dev/null && echo 1)
ifneq ($(TLSF_HAS_CONTAINING),1)
SHIM_SOURCES += tlsf_compat.c
$(OUT)/idf/heap/multi_heap.o: CFLAGS_FILE := -include $(SHIM)/tlsf_compat.h
endif

# The sanitizer build moves the chip's DRAM out of ASan's shadow (chip.c):
# ESP-IDF's region table is compiled under another name for the shim to shift.
ifneq ($(findstring address,$(SAN_FLAGS)),)
$(OUT)/idf/heap/port/$(CHIP)/memory_layout.o: CFLAGS_FILE := \
	-Dsoc_memory_regions=host_layout_regions -Dsoc_memory_region_count=host_layout_region_count
$(OUT)/idf/heap/port/memory_layout_utils.o: CFLAGS_FILE := -include $(SHIM)/asan_layout.h
endif

IDF_OBJS := $(addprefix $(OUT)/idf/,$(IDF_SOURCES:.c=.o))
SHIM_OBJS := $(addprefix $(OUT)/shim/,$(SHIM_SOURCES:.c=.o)) $(OUT)/shim/layout.o
ifeq ($(filter idf hooks,$(TRACKER)),)
$(error TRACKER=$(TRACKER): the trackers are idf (ESP-IDF's task tracking) and hooks (heaptrack's own))
endif
# The tracker, what both trackers share (tracker_private.c, and idf_heaps.c:
# ESP-IDF's heaps as they read them), the record of failed allocations
# (failures.c) and of the GC heap's areas (gc_areas.c), which both have.
TRACKER_OBJ := $(OUT)/tracker_$(TRACKER).o $(OUT)/tracker_private.o $(OUT)/idf_heaps.o $(OUT)/failures.o \
	$(OUT)/gc_areas.o
LIB := $(OUT)/libesp_idf_host.a

.PHONY: all preprocessed
all: $(LIB) $(OUT)/link.flags $(OUT)/firmware.cflags
preprocessed: $(addprefix $(OUT)/pp/,$(IDF_SOURCES:.c=.i))

$(OUT)/pp/%.i: $(C)/%.c FORCE
	@mkdir -p $(dir $@)
	@$(CC) $(CFLAGS_IDF) $(CFLAGS_FILE) -E -P $< -o $@
.PHONY: FORCE

$(LIB): $(IDF_OBJS) $(SHIM_OBJS) $(TRACKER_OBJ)
	@rm -f $@
	@ar rcs $@ $^

HOOKS_LINK := -Wl,-u,esp_heap_trace_alloc_hook -Wl,-u,esp_heap_trace_free_hook
# What components/heap/CMakeLists.txt links with CONFIG_HEAP_TRACING.
TRACING_LINK := $(foreach f,heap_caps_realloc_base heap_caps_malloc_base heap_caps_aligned_alloc_base heap_caps_free,-Wl,--wrap=$(f))

# What linking the library takes: ESP-IDF's reserved-region table bounds, and
# MicroPython's threads turned into tasks (freertos.c).
$(OUT)/link.flags: $(MAKEFILE_LIST) $(FLAGS_STAMP) | $(OUT)
	@echo "$(LIB) -Wl,--wrap=pthread_create -Wl,-T,$(SHIM)/host_chip.ld -lpthread$(if $(filter hooks,$(TRACKER)), $(HOOKS_LINK))$(if $(filter 1,$(TRACING)), $(TRACING_LINK))" >$@.tmp
	@mv -f $@.tmp $@   # whole or not at all: the firmware's makefile reads it

# What the firmware's own files compile with: the chip's sdkconfig.h
# (mpconfigvariant.h sizes MicroPython's heap and places its task by it, as
# the esp32 port's mpconfigport.h does).
$(OUT)/firmware.cflags: $(MAKEFILE_LIST) $(FLAGS_STAMP) | $(OUT)
	@echo "-I$(HOST_CHIP_DIR)" >$@.tmp
	@mv -f $@.tmp $@

SHIM_HEADERS := $(wildcard $(SHIM)/*.h $(SHIM)/../mbedtls/*.h $(SHIM)/include/*.h $(SHIM)/include/*/*.h \
	$(HOST_CHIPS_DIR)/*.h $(HOST_CHIPS_DIR)/*/sdkconfig.h $(HOST_CHIP_DIR)/chip.mk)
$(OUT)/idf/%.o: $(C)/%.c $(SHIM_HEADERS) $(MAKEFILE_LIST)
	@mkdir -p $(dir $@)
	@echo "CC $(patsubst $(C)/%,esp-idf/%,$<)"
	@$(CC) $(CFLAGS_IDF) $(CFLAGS_FILE) -w -c $< -o $@

$(OUT)/shim/%.o: $(SHIM)/%.c $(SHIM_HEADERS) $(MAKEFILE_LIST)
	@mkdir -p $(dir $@)
	@echo "CC $(notdir $<) (host shim)"
	@$(CC) $(CFLAGS_IDF) $(WARN) -c $< -o $@

# The chip's memory layout (chips/<chip>/layout.c).
$(OUT)/shim/layout.o: $(HOST_CHIP_LAYOUT) $(SHIM_HEADERS) $(MAKEFILE_LIST)
	@mkdir -p $(dir $@)
	@echo "CC $(notdir $(patsubst %/,%,$(dir $<)))/layout.c (host shim)"
	@$(CC) $(CFLAGS_IDF) $(WARN) -c $< -o $@

# Every object depends on the flags it was compiled with: a build with other
# knobs into the same OUT recompiles.
FLAGS_STAMP := $(OUT)/flags.$(shell echo '$(CFLAGS_IDF) $(TRACKER_DEFS) $(TRACKER)' | cksum | cut -d' ' -f1)
$(FLAGS_STAMP):
	@mkdir -p $(dir $@) && rm -f $(OUT)/flags.* && touch $@
$(IDF_OBJS) $(SHIM_OBJS) $(TRACKER_OBJ): $(FLAGS_STAMP)

$(TRACKER_OBJ): $(OUT)/%.o: $(HEAPTRACK_DIR)/%.c $(HEAPTRACK_DIR)/tracker.h $(HEAPTRACK_DIR)/tracker_private.h \
		$(HEAPTRACK_DIR)/idf_heaps.h $(HEAPTRACK_DIR)/failures.h \
		$(HEAPTRACK_DIR)/gc_areas.h \
		$(SHIM_HEADERS) $(MAKEFILE_LIST)
	@mkdir -p $(dir $@)
	@echo "CC $(notdir $<)"
	@$(CC) $(CFLAGS_IDF) $(WARN) $(TRACKER_DEFS) -I$(HEAPTRACK_DIR) -c $< -o $@

$(OUT):
	mkdir -p $@
