# Frozen into the host firmware: the heaptrack Python layer and asyncio, as on a board.
include("$(MPY_DIR)/extmod/asyncio")
include("../../native/heaptrack/manifest.py")
