# Variant OTA: upstream's ESP32_GENERIC OTA variant plus heaptrack.
heaptrack_variant(OTA "heaptrack ESP32 module with OTA")
