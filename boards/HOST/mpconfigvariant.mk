# heaptrack host firmware (the virtual board's firmware).
# Threads as on ESP32: one interpreter lock shared by all threads.
MICROPY_PY_THREAD = 1
MICROPY_PY_THREAD_GIL = 1

# Nothing that needs a lib/ submodule.
MICROPY_PY_BTREE = 0
MICROPY_PY_SSL = 0
MICROPY_PY_FFI = 0

FROZEN_MANIFEST = $(VARIANT_DIR)/manifest.py
USER_C_MODULES = $(VARIANT_DIR)/../../native
