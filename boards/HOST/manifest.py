# Frozen into the host firmware: the heaptrack Python layer, asyncio and ssl
# (micropython-lib's, over the tls module), as on a board (the esp32 port has
# ssl from its networking bundle).
include("$(MPY_DIR)/extmod/asyncio")
require("ssl")
include("../../native/heaptrack/manifest.py")
