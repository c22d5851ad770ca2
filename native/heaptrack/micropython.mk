# The heaptrack module for make-based ports (the host firmware): bindings,
# renderer and task runner, over the hosted tracker.
HEAPTRACK_MOD_DIR := $(USERMOD_DIR)

SRC_USERMOD_C += \
	$(HEAPTRACK_MOD_DIR)/modheaptrack.c \
	$(HEAPTRACK_MOD_DIR)/dump.c \
	$(HEAPTRACK_MOD_DIR)/errors.c \
	$(HEAPTRACK_MOD_DIR)/heapinfo.c \
	$(HEAPTRACK_MOD_DIR)/linebuf.c \
	$(HEAPTRACK_MOD_DIR)/report.c \
	$(HEAPTRACK_MOD_DIR)/task.c \
	$(HEAPTRACK_MOD_DIR)/tracker_host_task.c

SRC_USERMOD_LIB_C += $(HEAPTRACK_MOD_DIR)/tracker_host.c

CFLAGS_USERMOD += -I$(HEAPTRACK_MOD_DIR)
LDFLAGS_USERMOD += -lpthread
