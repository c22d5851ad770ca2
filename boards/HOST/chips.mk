# The virtual board's chips, for the Makefile (HEAPTRACK_CHIP/HEAPTRACK_PSRAM)
# and boards/HOST/esp_idf.mk (CHIP/PSRAM): one list, one rule for naming a
# chip's build (its sdkconfig directory, boards/HOST/esp_idf/sdkconfig/<name>).
HOST_CHIPS := esp32s3 esp32 esp32c3

# $(call host_chip_name,CHIP,PSRAM,VARIABLE): esp32s3, esp32, esp32c3, or
# esp32s3-psram (PSRAM=1: the ESP32-S3 with octal PSRAM); anything else is an
# error that names VARIABLE, the caller's variable for the chip.
host_chip_name = $(if $(filter $(HOST_CHIPS),$(1)),,$(error $(3)=$(1): the virtual board's chips are $(HOST_CHIPS)))$(strip \
	$(if $(filter 1,$(2)),$(if $(filter esp32s3,$(1)),$(1)-psram,$(error PSRAM is the ESP32-S3 with octal PSRAM: $(3)=esp32s3, not $(1))),$(1)))
