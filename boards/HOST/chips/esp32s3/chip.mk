# The virtual ESP32-S3, the default virtual board: heaptrack's ESP32_S3 firmware
# on a module without PSRAM. (A chip's description: the Makefile, make check-idf
# and the host package read these lines; see ../README.md.)
CHIP_TARGET := esp32s3
CHIP_PSRAM := 0
CHIP_LAYOUT := esp32s3
CHIP_BOARD := ESP32_S3
