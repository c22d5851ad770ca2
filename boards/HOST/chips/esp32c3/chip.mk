# The virtual ESP32-C3 (`--chip esp32c3`): heaptrack's ESP32_C3 firmware.
CHIP_TARGET := esp32c3
CHIP_PSRAM := 0
CHIP_LAYOUT := esp32c3
CHIP_BOARD := ESP32_C3
