# Variant FLASH_2M: upstream's ESP32_GENERIC_C2 FLASH_2M variant plus heaptrack.
heaptrack_variant(FLASH_2M "heaptrack ESP32C2 module with 2MiB Flash")
