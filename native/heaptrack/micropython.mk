# The heaptrack module for make-based ports (the host firmware, the QEMU
# board's MicroPython): bindings, renderer and a task port,
# task_port_$(HEAPTRACK_TASK_PORT).c: host (the unix port's threads; the
# default) or esp32 (the esp32 port's FreeRTOS tasks, ports/esp32/mpthreadport.c
# linked). Heap accounting (tracker_idf.c or tracker_hooks.c, with
# tracker_private.c and idf_heaps.c) comes with ESP-IDF's heap, which the board links
# (boards/HOST/esp_idf.mk, boards/QEMU_RV32/board.mk). What reading the GC
# heap needs (gc_port.h) is gc_port_$(HEAPTRACK_GC_PORT).c here (host, the
# default), or the board's own when it sets HEAPTRACK_GC_PORT to board.
HEAPTRACK_MOD_DIR := $(USERMOD_DIR)
HEAPTRACK_TASK_PORT ?= host
HEAPTRACK_GC_PORT ?= host

SRC_USERMOD_C += \
	$(HEAPTRACK_MOD_DIR)/modheaptrack.c \
	$(HEAPTRACK_MOD_DIR)/dump.c \
	$(HEAPTRACK_MOD_DIR)/errors.c \
	$(HEAPTRACK_MOD_DIR)/gc_census.c \
	$(HEAPTRACK_MOD_DIR)/gc_heap.c \
	$(HEAPTRACK_MOD_DIR)/gc_holders.c \
	$(HEAPTRACK_MOD_DIR)/heapinfo.c \
	$(HEAPTRACK_MOD_DIR)/linebuf.c \
	$(HEAPTRACK_MOD_DIR)/modgc.c \
	$(HEAPTRACK_MOD_DIR)/metrics.c \
	$(HEAPTRACK_MOD_DIR)/report.c \
	$(HEAPTRACK_MOD_DIR)/stats.c \
	$(HEAPTRACK_MOD_DIR)/task.c \
	$(HEAPTRACK_MOD_DIR)/task_port_$(HEAPTRACK_TASK_PORT).c
ifneq ($(HEAPTRACK_GC_PORT),board)
SRC_USERMOD_C += $(HEAPTRACK_MOD_DIR)/gc_port_$(HEAPTRACK_GC_PORT).c
endif

CFLAGS_USERMOD += -I$(HEAPTRACK_MOD_DIR)

# heaptrack's version has one source, the host package's __version__ line:
# heaptrack.__version__ and the firmware banner print it.
HEAPTRACK_VERSION := $(shell sed -n 's/^__version__ = "\([^"]*\)"$$/\1/p' $(HEAPTRACK_MOD_DIR)/../../heaptrack_host/__init__.py)
ifeq ($(HEAPTRACK_VERSION),)
$(error heaptrack: no __version__ = "..." line in heaptrack_host/__init__.py)
endif
CFLAGS_USERMOD += -DHEAPTRACK_VERSION='"$(HEAPTRACK_VERSION)"'
