# Frozen into every heaptrack ESP32 board: upstream's esp32 manifest (asyncio,
# networking, drivers, ...) plus the Python half of heaptrack.
include("$(PORT_DIR)/boards/manifest.py")

# Relative to this file: the repository's native/heaptrack/manifest.py.
include("../native/heaptrack/manifest.py")
