# The virtual ESP32-S3 with 8 MiB of octal PSRAM (`--chip esp32s3 --psram`):
# heaptrack's ESP32_S3 firmware in MicroPython's SPIRAM_OCT variant, laid out by
# the ESP32-S3's layout.c, which adds the PSRAM.
CHIP_TARGET := esp32s3
CHIP_PSRAM := 1
CHIP_LAYOUT := esp32s3
CHIP_BOARD := ESP32_S3 SPIRAM_OCT
