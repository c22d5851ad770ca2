# Variant SPIRAM_OCT: upstream's ESP32_GENERIC_S3 SPIRAM_OCT variant plus heaptrack.
heaptrack_variant(SPIRAM_OCT "heaptrack ESP32S3 module with Octal-SPIRAM")
