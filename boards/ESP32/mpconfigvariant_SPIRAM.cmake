# Variant SPIRAM: upstream's ESP32_GENERIC SPIRAM variant plus heaptrack.
heaptrack_variant(SPIRAM "heaptrack ESP32 module with SPIRAM")
