# Frozen into the host firmware: the heaptrack Python layer, asyncio and ssl
# (micropython-lib's, over the tls module), as on a board (the esp32 port has
# ssl from its networking bundle).
include("$(MPY_DIR)/extmod/asyncio")
require("ssl")
include("../../native/heaptrack/manifest.py")
# The virtual board's boot (its _boot.py): heaptrack_host/vboard/board.py calls it.
module("_vboard.py", base_path="modules")
