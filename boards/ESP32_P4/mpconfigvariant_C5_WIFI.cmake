# Variant C5_WIFI: upstream's ESP32_GENERIC_P4 C5_WIFI variant plus heaptrack.
heaptrack_variant(C5_WIFI "heaptrack ESP32P4 module with WIFI module of external ESP32C5")
