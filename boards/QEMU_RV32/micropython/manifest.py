# Frozen into the QEMU board's MicroPython: the Python half of heaptrack.
include("../../../native/heaptrack/manifest.py")
