# The virtual board's chips, for the Makefile (HEAPTRACK_CHIP/HEAPTRACK_PSRAM),
# boards/HOST/esp_idf.mk (CHIP/PSRAM) and mk/check-idf.mk: the folders of
# boards/HOST/chips, each described by its chip.mk (chips/README.md).
HOST_CHIPS_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))/chips
HOST_CHIP_NAMES := $(sort $(patsubst $(HOST_CHIPS_DIR)/%/chip.mk,%,$(wildcard $(HOST_CHIPS_DIR)/*/chip.mk)))
HOST_DEFAULT_CHIP := esp32s3

# $(call host_chip_var,NAME,VARIABLE): VARIABLE of chips/NAME/chip.mk.
host_chip_var = $(strip $(shell sed -n 's/^$(2) *:= *//p' $(HOST_CHIPS_DIR)/$(1)/chip.mk))

# $(call host_chip_name,CHIP,PSRAM,VARIABLE): the folder of CHIP (a target)
# with PSRAM (1) or without; anything else is an error that names VARIABLE,
# the caller's variable for the chip.
host_chip_name = $(or $(firstword $(foreach n,$(HOST_CHIP_NAMES),$(if $(and \
	$(filter $(1),$(call host_chip_var,$(n),CHIP_TARGET)),$(filter $(or $(2),0),$(call host_chip_var,$(n),CHIP_PSRAM))),$(n)))), \
	$(error $(3)=$(1)$(if $(filter 1,$(2)), with PSRAM): the virtual board's chips are $(HOST_CHIP_NAMES) (boards/HOST/chips)))

# $(call host_chip_make_args,NAME): the make variables that build the chip NAME.
host_chip_make_args = HEAPTRACK_CHIP=$(call host_chip_var,$(1),CHIP_TARGET)$(if \
	$(filter 1,$(call host_chip_var,$(1),CHIP_PSRAM)), HEAPTRACK_PSRAM=1)
