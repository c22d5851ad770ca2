# Variant C6_WIFI: upstream's ESP32_GENERIC_P4 C6_WIFI variant plus heaptrack.
heaptrack_variant(C6_WIFI "heaptrack ESP32P4 module with WIFI module of external ESP32C6")
