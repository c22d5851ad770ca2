# The virtual ESP32 (classic, `--chip esp32`): heaptrack's ESP32 firmware.
CHIP_TARGET := esp32
CHIP_PSRAM := 0
CHIP_LAYOUT := esp32
CHIP_BOARD := ESP32
