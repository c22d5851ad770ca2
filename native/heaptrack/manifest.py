# Freezes the Python half of heaptrack; included by every board's manifest.
module("heaptrack.py")
