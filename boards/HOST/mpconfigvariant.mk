# heaptrack host firmware (the virtual board's firmware).
# Threads as on ESP32: one interpreter lock shared by all threads.
MICROPY_PY_THREAD = 1
MICROPY_PY_THREAD_GIL = 1

# No btree, no ffi. The ssl module with mbedTLS (MicroPython's lib/mbedtls,
# checked out by the top-level Makefile, mk/mbedtls-checkout.sh), configured as
# the firmware's sdkconfig configures ESP-IDF's mbedTLS where that decides what
# a session allocates, its memory from ESP-IDF's heap (mbedtls/,
# esp_idf/mbedtls_memory.c): a TLS
# session costs on the virtual board what it costs on the chip.
MICROPY_PY_BTREE = 0
MICROPY_PY_FFI = 0
MICROPY_PY_SSL = 1
MICROPY_SSL_MBEDTLS = 1
MBEDTLS_CONFIG_FILE = \"mbedtls_config_board.h\"
CFLAGS += -I$(VARIANT_DIR)/mbedtls

FROZEN_MANIFEST = $(VARIANT_DIR)/manifest.py
USER_C_MODULES = $(VARIANT_DIR)/../../native

# 32-bit, as the chip: ESP-IDF's heap and its task tracking are built for
# 4-byte pointers (a block's owner tag is one TaskHandle_t).
MICROPY_FORCE_32BIT = 1

# ESP-IDF's heap, the host shim standing in for the chip and FreeRTOS
# (esp_idf/), and heaptrack's ESP-IDF tracker: one library that
# esp_idf.mk builds into HEAPTRACK_IDF_OUT first (the top-level Makefile
# runs both), with the link flags it needs.
ifeq ($(HEAPTRACK_IDF_OUT),)
$(error boards/HOST needs HEAPTRACK_IDF_OUT=<dir of libesp_idf_host.a>: build it with the top-level `make`)
endif
CFLAGS += -I$(VARIANT_DIR)/esp_idf
# Read once, here, not each time the link recipe expands LDFLAGS: with GNU
# make 4.3, a $(file <) expanded in the recipe was seen to drop everything
# LDFLAGS holds after it (the --wrap flags below, -lm) whenever a variable is
# set on the command line, as the top-level Makefile's tracker builds do (the
# "first link without libm" that firmware-host retries).
HEAPTRACK_IDF_LINK_FLAGS := $(file < $(HEAPTRACK_IDF_OUT)/link.flags)
LDFLAGS += $(HEAPTRACK_IDF_LINK_FLAGS)
# The chip's sdkconfig.h, which mpconfigvariant.h reads as the esp32 port's
# mpconfigport.h does (the library's build names the chip).
HEAPTRACK_IDF_FIRMWARE_CFLAGS := $(file < $(HEAPTRACK_IDF_OUT)/firmware.cflags)
CFLAGS += $(HEAPTRACK_IDF_FIRMWARE_CFLAGS)
# Relink when the library changes (without making this the default goal).
heaptrack_default_goal := $(.DEFAULT_GOAL)
$(BUILD)/micropython: $(HEAPTRACK_IDF_OUT)/libesp_idf_host.a
.DEFAULT_GOAL := $(heaptrack_default_goal)

# Start-up and soft reset inside the firmware process, as on an ESP32 (ESP-IDF's
# heap and its statistics survive a soft reset): upstream functions wrapped at
# link time, each by the file that says why (compiled as every $(VARIANT_DIR)/*.c
# is): main by power_on.c (the chip's start-up) and mp_task.c (a boot), gc_init
# by mp_task.c (mp_task's GC heap from ESP-IDF's heap), the mp_thread_ functions
# by threads.c (threads end at a soft reset), the REPLs and the interrupt
# character by repl.c (boot.py/main.py, Ctrl-C).
LDFLAGS += -Wl,--wrap=main,--wrap=mp_thread_init,--wrap=mp_thread_deinit,--wrap=mp_thread_create \
	-Wl,--wrap=mp_thread_mutex_lock,--wrap=gc_init,--wrap=pyexec_friendly_repl,--wrap=pyexec_raw_repl \
	-Wl,--wrap=mp_hal_set_interrupt_char,--wrap=mp_thread_start

# Upstream's gc_try_add_heap (MICROPY_GC_SPLIT_HEAP_AUTO, as on the esp32
# port, which does not build with -Wpointer-arith) adds to a void pointer,
# a GNU C extension that the unix port's -Wpointer-arith rejects.
$(BUILD)/py/gc.o: CFLAGS += -Wno-pointer-arith

# makemanifest.py writes frozen_content.c again only when a frozen module is
# newer than it, not when the firmware's own qstrs changed, against which the
# frozen code's qstr table is built (it then redeclares qstrs the firmware has
# gained): when qstrdefs.generated.h is newer, it goes, and is written again.
$(BUILD)/frozen_content.c: heaptrack-frozen-qstrs
.PHONY: heaptrack-frozen-qstrs
heaptrack-frozen-qstrs: $(BUILD)/genhdr/qstrdefs.generated.h
	@if [ $(BUILD)/genhdr/qstrdefs.generated.h -nt $(BUILD)/frozen_content.c ]; then rm -f $(BUILD)/frozen_content.c; fi
