# Variant UNICORE: upstream's ESP32_GENERIC UNICORE variant plus heaptrack.
heaptrack_variant(UNICORE "heaptrack ESP32 module")
