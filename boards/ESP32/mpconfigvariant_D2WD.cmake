# Variant D2WD: upstream's ESP32_GENERIC D2WD variant plus heaptrack.
heaptrack_variant(D2WD "heaptrack ESP32 module")
