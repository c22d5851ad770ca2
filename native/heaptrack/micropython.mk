# The heaptrack module for make-based ports (the host firmware): bindings,
# renderer and the host task port. Heap accounting (tracker_idf.c) comes with
# ESP-IDF's heap, which the board links (boards/HOST/esp_idf.mk).
HEAPTRACK_MOD_DIR := $(USERMOD_DIR)

SRC_USERMOD_C += \
	$(HEAPTRACK_MOD_DIR)/modheaptrack.c \
	$(HEAPTRACK_MOD_DIR)/dump.c \
	$(HEAPTRACK_MOD_DIR)/errors.c \
	$(HEAPTRACK_MOD_DIR)/heapinfo.c \
	$(HEAPTRACK_MOD_DIR)/linebuf.c \
	$(HEAPTRACK_MOD_DIR)/report.c \
	$(HEAPTRACK_MOD_DIR)/task.c \
	$(HEAPTRACK_MOD_DIR)/task_port_host.c

CFLAGS_USERMOD += -I$(HEAPTRACK_MOD_DIR)
