# ESP32 firmware for the heaptrack boards (boards/ESP32*), and the ESP-IDF
# compile check. Included by the top-level Makefile; also works on its own:
#   make -f mk/esp32.mk firmware BOARD=ESP32_S3
#
#   make firmware  BOARD=<board> [BOARD_VARIANT=<variant>] [DOCKER=1]
#   make flash     BOARD=<board> [BOARD_VARIANT=<variant>] [PORT=<serial device>] [BAUD=460800]
#   make deploy    the same as flash
#   make erase     [BOARD=<board>] PORT=<serial device>
#   make check-idf [IDF_PATH=<ESP-IDF v5.5.3 or later tree>]
#
# The firmware is built by micropython/ports/esp32 (idf.py) from the board
# directory boards/<board>, into build/esp32-<board>[-<variant>]. It needs
# ESP-IDF v5.5.4 (v5.5.3 or later: v5.5.1 and v5.5.2 have a heap task tracking
# bug that can reset a classic ESP32 at boot, espressif/esp-idf#17232): exported
# in this shell (idf.py on PATH), or DOCKER=1 to run the build in the
# espressif/idf:v5.5.4 image. flash and erase use esptool v5 on the host (the
# project's venv has it), so they also work after a DOCKER=1 build.

ESP32_MK_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
ROOT ?= $(abspath $(ESP32_MK_DIR)/..)
BUILD_DIR ?= $(ROOT)/build
MPY_DIR ?= $(ROOT)/micropython
PYTHON3 ?= python3
PYTHON ?= $(PYTHON3)
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

ifeq ($(.DEFAULT_GOAL),)
.DEFAULT_GOAL := esp32-help
endif

ifeq ($(V),1)
ESP32_Q :=
else
ESP32_Q := @
endif

.PHONY: esp32-help firmware flash deploy erase check-idf

esp32-help:
	@echo "make firmware BOARD=<board> [BOARD_VARIANT=<variant>] [DOCKER=1]"
	@echo "make flash BOARD=<board> [PORT=<serial device>]   (build, then flash; esptool finds the board without PORT)"
	@echo "make erase [BOARD=<board>] PORT=<serial device>"
	@echo "make check-idf [IDF_PATH=<ESP-IDF tree>]   (default: ESP-IDF $(IDF_TAG)'s sources, fetched into $(HEAPTRACK_IDF_SRC))"
	@echo "boards: $(ESP32_BOARD_LIST)"

################################################################################
# Boards and the firmware build.

# The ESP-IDF heaptrack is built and checked with. The top-level Makefile sets
# IDF_TAG and HEAPTRACK_IDF_SRC (mk/esp-idf.mk); these are for this file alone.
IDF_TAG ?= v5.5.4
HEAPTRACK_IDF_SRC ?= $(BUILD_DIR)/esp-idf
ESP_IDF_SERIES := 5.5
ESP32_DOCKER_IMAGE ?= espressif/idf:$(IDF_TAG)
BAUD ?= 460800
ESP32_HASH := \#

# Whether ESP-IDF version $v ("v5.5.4", "5.5.4", "v5.5.4-dirty", "v5.5-rc1")
# will do: prints nothing if so, else why not, on one line. Shell code.
ESP32_IDF_VERDICT = set -- $$(echo "$$v" | sed 's/^v//; s/[^0-9.].*//; s/\./ /g'); \
	if [ "$${1:-0}.$${2:-0}" != $(ESP_IDF_SERIES) ]; then \
		echo "ESP-IDF $$v is not v$(ESP_IDF_SERIES).x, the series MicroPython here builds with"; \
	elif [ "$${3:-0}" -lt 3 ]; then \
		echo "ESP-IDF $$v is older than v5.5.3: its heap task tracking can reset a classic ESP32 at boot (espressif/esp-idf$(ESP32_HASH)17232, fixed in v5.5.3)"; \
	fi
ESP32_IDF_INSTALL = install $(IDF_TAG) with 'git clone -b $(IDF_TAG) --recursive https://github.com/espressif/esp-idf.git && ./esp-idf/install.sh' and run '. ./esp-idf/export.sh' in this shell, or add DOCKER=1 to build in the $(ESP32_DOCKER_IMAGE) image

ESP32_BOARDS := $(sort $(patsubst $(ROOT)/boards/%/mpconfigboard.cmake,%,$(wildcard $(ROOT)/boards/*/mpconfigboard.cmake)))
esp32_variants = $(sort $(patsubst $(ROOT)/boards/$(1)/mpconfigvariant_%.cmake,%,$(wildcard $(ROOT)/boards/$(1)/mpconfigvariant_*.cmake)))
esp32_space := $() $()
ESP32_BOARD_LIST = $(ESP32_BOARDS); variants (BOARD_VARIANT=): $(strip \
	$(foreach b,$(ESP32_BOARDS),$(if $(call esp32_variants,$(b)),$(b):$(subst $(esp32_space),|,$(call esp32_variants,$(b))))))

ESP32_BOARD_DIR := $(ROOT)/boards/$(BOARD)
# HEAPTRACK_TRACKER=hooks: heaptrack's own tracker (boards/sdkconfig.heaptrack_hooks),
# built apart; idf (default): ESP-IDF's task tracking.
HEAPTRACK_TRACKER ?= idf
ESP32_BUILD := $(BUILD_DIR)/esp32-$(BOARD)$(if $(BOARD_VARIANT),-$(BOARD_VARIANT))$(if $(filter hooks,$(HEAPTRACK_TRACKER)),-hooks)
# mpy-cross for the frozen modules, built for (and, with DOCKER=1, inside) the
# environment that builds the firmware, apart from the host build's copy.
ESP32_MPY_CROSS_BUILD := $(BUILD_DIR)/esp32-mpy-cross
ESP32_MPY_CROSS := $(ESP32_MPY_CROSS_BUILD)/mpy-cross

# Everything below checks its preconditions while the makefile is read, so a
# missing tool stops make with one line before anything is built.
ESP32_BUILD_GOALS := $(filter firmware flash deploy,$(MAKECMDGOALS))
ESP32_PORT_GOALS := $(filter flash deploy erase,$(MAKECMDGOALS))

ifneq ($(ESP32_PORT_GOALS),)
ifneq ($(filter erase,$(ESP32_PORT_GOALS)),)
ifeq ($(PORT),)
$(error make erase wipes the whole flash, so it takes no guesses: give PORT=<serial device of the board>, e.g. PORT=/dev/ttyACM0 or PORT=/dev/ttyUSB0)
endif
endif
ifneq ($(BOARD),)
ifeq ($(filter $(BOARD),$(ESP32_BOARDS)),)
$(error unknown BOARD=$(BOARD); the ESP32 boards are: $(ESP32_BOARD_LIST))
endif
endif
endif

ifneq ($(ESP32_BUILD_GOALS),)
ifeq ($(BOARD),)
$(error make $(firstword $(ESP32_BUILD_GOALS)) needs BOARD=<board>, one of: $(ESP32_BOARD_LIST))
endif
ifeq ($(filter $(BOARD),$(ESP32_BOARDS)),)
$(error unknown BOARD=$(BOARD); the ESP32 boards are: $(ESP32_BOARD_LIST))
endif
ifneq ($(BOARD_VARIANT),)
ifeq ($(filter $(BOARD_VARIANT),$(call esp32_variants,$(BOARD))),)
$(error BOARD=$(BOARD) has no variant $(BOARD_VARIANT)$(if $(call esp32_variants,$(BOARD)), (it has: $(call esp32_variants,$(BOARD))), (it has none)))
endif
endif
ifeq ($(DOCKER),1)
ifeq ($(shell command -v docker),)
$(error DOCKER=1 needs docker (https://docs.docker.com/engine/install/); or install ESP-IDF $(IDF_TAG) and build without DOCKER=1)
endif
ifneq ($(shell docker info >/dev/null 2>&1 && echo ok),ok)
$(error DOCKER=1: the docker daemon is not reachable (is it running, and may this user use it?))
endif
else
# "ESP-IDF v5.5.4" -> v5.5.4
ESP32_IDF_VERSION := $(lastword $(shell idf.py --version 2>/dev/null))
ifeq ($(ESP32_IDF_VERSION),)
$(error ESP32 firmware needs ESP-IDF $(IDF_TAG) (v5.5.3 or later), and there is no idf.py on PATH: $(ESP32_IDF_INSTALL))
endif
# heaptrack's own tracker builds with every ESP-IDF MicroPython v1.28 does (v5.3, v5.4, v5.5).
ifeq ($(HEAPTRACK_TRACKER),hooks)
ESP32_IDF_PROBLEM := $(shell v='$(ESP32_IDF_VERSION)'; set -- $$(echo "$$v" | sed 's/^v//; s/[^0-9.].*//; s/\./ /g'); \
	case "$${1:-0}.$${2:-0}" in 5.3|5.4|5.5) ;; *) echo "ESP-IDF $$v is not v5.3, v5.4 or v5.5, the ESP-IDFs MicroPython v1.28 builds with";; esac)
else
ESP32_IDF_PROBLEM := $(shell v='$(ESP32_IDF_VERSION)'; $(ESP32_IDF_VERDICT))
endif
ifneq ($(ESP32_IDF_PROBLEM),)
$(error $(ESP32_IDF_PROBLEM) (idf.py on PATH): $(ESP32_IDF_INSTALL))
endif
endif
endif

# How the firmware-side commands run: in this shell with ESP-IDF exported (our
# own make's flags and command-line variables kept out of the port's make), or
# in the ESP-IDF image with the repository mounted at the same path.
ifeq ($(DOCKER),1)
ESP32_RUN = docker run --rm -v "$(ROOT):$(ROOT)" -w "$(ROOT)" -u "$$(id -u):$$(id -g)" -e HOME=/tmp \
	-e HEAPTRACK_TRACKER=$(HEAPTRACK_TRACKER) \
	-e MICROPY_MPYCROSS=$(ESP32_MPY_CROSS) $(ESP32_DOCKER_IMAGE)
else
ESP32_RUN = env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL MICROPY_MPYCROSS=$(ESP32_MPY_CROSS) HEAPTRACK_TRACKER=$(HEAPTRACK_TRACKER)
endif

# ports/esp32 with our board directory. Empty USER_C_MODULES and FROZEN_MANIFEST:
# the board adds both itself, and values exported for the host build must not leak in.
ESP32_PORT_MAKE = make -C $(MPY_DIR)/ports/esp32 BOARD=$(BOARD) BOARD_DIR=$(ESP32_BOARD_DIR) \
	BOARD_VARIANT=$(BOARD_VARIANT) BUILD=$(ESP32_BUILD) USER_C_MODULES= FROZEN_MANIFEST=

# The lib/ submodules the esp32 build checks for (berkeley-db for btree,
# micropython-lib for the frozen manifest). When one is missing, the port's
# own `submodules` target initialises exactly what the build needs.
ESP32_SUBMODULE_MARKERS := $(MPY_DIR)/lib/berkeley-db-1.xx/README $(MPY_DIR)/lib/micropython-lib/README.md

firmware:
	$(ESP32_Q)test -f $(MPY_DIR)/ports/esp32/Makefile || git -C $(ROOT) submodule update --init micropython
	$(ESP32_Q)(for f in $(ESP32_SUBMODULE_MARKERS); do test -f $$f || exit 1; done) || \
		$(ESP32_RUN) $(ESP32_PORT_MAKE) submodules
	$(ESP32_Q)$(ESP32_RUN) make -C $(MPY_DIR)/mpy-cross BUILD=$(ESP32_MPY_CROSS_BUILD) -j$(JOBS)
	$(ESP32_Q)$(ESP32_RUN) $(ESP32_PORT_MAKE)
	@echo "firmware: $(ESP32_BUILD)/firmware.bin; to write it: make flash BOARD=$(BOARD)$(if $(BOARD_VARIANT), BOARD_VARIANT=$(BOARD_VARIANT)) [PORT=<device>]"

################################################################################
# Flashing, with esptool v5 on the host.

ifdef VENV_STAMP
# The top-level Makefile's venv (pyproject.toml) provides esptool.
ESP32_ESPTOOL_DEPS := $(VENV_STAMP)
endif
ESPTOOL ?= $(PYTHON) -m esptool

# The commands below use esptool v5's names (write-flash, --before default-reset);
# esptool 4 knows only the old ones. Shell code.
ESP32_ESPTOOL_V5 = v=$$($(ESPTOOL) version 2>/dev/null | tail -n 1); case "$$v" in [5-9].*|[1-9][0-9]*) ;; \
	*) echo "make $@ uses esptool v5's commands, and $(ESPTOOL) is $${v:-not there}: $(PYTHON) -m pip install --upgrade 'esptool>=5'"; exit 1;; esac

# idf.py writes flash_args (options, then offsets and images, paths relative to
# the build directory) with ESP-IDF v5.5's option names (--flash_mode), which
# esptool v5 takes with a deprecation warning: flash_args.esptool5 spells them
# its way (--flash-mode). Without PORT, esptool looks for the board itself, as
# it does when given no port: the first serial port with a chip of the
# firmware's type answering.
ESP32_CHIP_OF_BUILD = $$(sed -n 's/^CONFIG_IDF_TARGET="\(.*\)"$$/\1/p' $(ESP32_BUILD)/sdkconfig)
flash: firmware $(ESP32_ESPTOOL_DEPS)
	$(ESP32_Q)$(ESP32_ESPTOOL_V5)
	$(ESP32_Q)sed -e ':a' -e 's/\(^\|[[:space:]]\)\(--[a-z0-9-]*\)_/\1\2-/' -e 'ta' \
		$(ESP32_BUILD)/flash_args >$(ESP32_BUILD)/flash_args.esptool5
	$(if $(PORT),,@echo "flash: no PORT given: esptool tries each serial port for an $(ESP32_CHIP_OF_BUILD) (PORT=<device> to choose)")
	@cd $(ESP32_BUILD) && $(ESPTOOL) --chip $(ESP32_CHIP_OF_BUILD) $(if $(PORT),--port $(PORT)) --baud $(BAUD) \
		--before default-reset --after hard-reset write-flash @flash_args.esptool5 \
		$(if $(PORT),,|| { echo "flash: without PORT, esptool writes to the first serial port where an $(ESP32_CHIP_OF_BUILD) answers: plug the board in (some need BOOT held while plugging in), check that this user may open it (Linux: the dialout group), or name it with PORT=<device>"; exit 1; })

deploy: flash

erase: $(ESP32_ESPTOOL_DEPS)
	$(ESP32_Q)$(ESP32_ESPTOOL_V5)
	$(ESPTOOL) --chip $(if $(BOARD),$$(sed -n 's/.*"mcu": *"\([^"]*\)".*/\1/p' $(ESP32_BOARD_DIR)/board.json),auto) \
		--port $(PORT) erase-flash

################################################################################
# check-idf: compile every ESP-side source of the module against ESP-IDF's
# headers and ESP-IDF's own kconfgen's sdkconfig.h, for every heaptrack board's
# chip, with Debian's riscv64-unknown-elf-gcc and picolibc: a full compile for
# the RISC-V chips, a syntax pass for the Xtensa ones (mk/check-idf.mk has the
# matrix and how). Proof, with no Espressif toolchain, that the device code
# matches ESP-IDF's API; and a check of the host firmware's hand-written
# sdkconfig.h against kconfgen's.
#
# The ESP-IDF tree: IDF_PATH if given (v5.5.3 or later), else HEAPTRACK_IDF_SRC,
# which by default is build/esp-idf, a sparse checkout of $(IDF_TAG) that
# mk/esp-idf-source.sh makes (just the directories this and the host build read).

ESP32_CHECK_DIR := $(BUILD_DIR)/check-idf
# heaptrack's own tracker (tracker_hooks.c) builds with every ESP-IDF MicroPython
# v1.28 supports: after the full check against the tree above, it alone is
# compiled for every board against these too (sparse checkouts in
# build/esp-idf-<tag>, by mk/esp-idf-source.sh).
ESP32_CHECK_HOOKS_TAGS ?= v5.3.5 v5.4.4
ESP32_CHECK_IDF = $(or $(IDF_PATH),$(HEAPTRACK_IDF_SRC))
ESP32_CHECK_CC ?= riscv64-unknown-elf-gcc
ESP32_CHECK_KCONFIG_PIN := esp-idf-kconfig~=2.5.0
# What check-idf runs on Python: ESP-IDF's kconfgen (and its kconfiglib), and
# for mk/check_placement.py ESP-IDF's own ldgen parser's pyparsing and an ELF reader.
ESP32_CHECK_PY_PACKAGES := '$(ESP32_CHECK_KCONFIG_PIN)' 'pyparsing>=3.1,<4' 'pyelftools>=0.29,<1'
ESP32_CHECK_APT := apt-get install gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf libnewlib-dev

ifneq ($(filter check-idf,$(MAKECMDGOALS)),)
ifeq ($(shell command -v $(ESP32_CHECK_CC)),)
$(error check-idf needs $(ESP32_CHECK_CC) and picolibc: $(ESP32_CHECK_APT))
endif
ifeq ($(notdir $(shell $(ESP32_CHECK_CC) --specs=picolibc.specs -print-file-name=picolibc.specs)),$(shell $(ESP32_CHECK_CC) --specs=picolibc.specs -print-file-name=picolibc.specs))
$(error check-idf needs picolibc for $(ESP32_CHECK_CC): $(ESP32_CHECK_APT))
endif
# newlib's headers: the size of the C library's part of a FreeRTOS TCB on the chip.
ifeq ($(wildcard /usr/include/newlib/reent.h),)
$(error check-idf needs newlib's headers (/usr/include/newlib): $(ESP32_CHECK_APT))
endif
endif

# Those packages: from the project's Python if it has them, else from a venv of
# its own under build/check-idf (made once, from PyPI).
ESP32_CHECK_PY_IMPORTS := import kconfgen, kconfiglib, pyparsing, elftools
ESP32_CHECK_KCONFGEN_PY = $$(if $(PYTHON) -c '$(ESP32_CHECK_PY_IMPORTS)' >/dev/null 2>&1; then echo $(PYTHON); \
	else $(ESP32_CHECK_DIR)/venv/bin/python -c '$(ESP32_CHECK_PY_IMPORTS)' >/dev/null 2>&1 || \
	{ { test -x $(ESP32_CHECK_DIR)/venv/bin/python || $(PYTHON3) -m venv $(ESP32_CHECK_DIR)/venv; } && \
	$(ESP32_CHECK_DIR)/venv/bin/python -m pip install --quiet $(ESP32_CHECK_PY_PACKAGES) >&2; } || \
	{ echo "check-idf: cannot install $(ESP32_CHECK_PY_PACKAGES) into $(ESP32_CHECK_DIR)/venv" >&2; exit 1; }; \
	echo $(ESP32_CHECK_DIR)/venv/bin/python; fi)

check-idf:
	$(ESP32_Q)test -f $(MPY_DIR)/py/mpconfig.h || git -C $(ROOT) submodule update --init micropython
	$(ESP32_Q)idf='$(ESP32_CHECK_IDF)'; \
	if [ -z '$(IDF_PATH)' ] && [ "$$idf" = '$(BUILD_DIR)/esp-idf' ]; then \
		how="sparse checkout: $$($(ROOT)/mk/esp-idf-source.sh "$$idf" $(IDF_TAG))" || exit 1; \
	else how=$(if $(IDF_PATH),IDF_PATH,HEAPTRACK_IDF_SRC); fi; \
	test -f "$$idf/components/heap/include/esp_heap_task_info.h" -a -f "$$idf/tools/cmake/version.cmake" || \
		{ echo "check-idf: $$idf is not an ESP-IDF v$(ESP_IDF_SERIES) tree (no components/heap/include/esp_heap_task_info.h)"; exit 1; }; \
	v=v$$(sed -n 's/^set(IDF_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\))/\2/p' "$$idf/tools/cmake/version.cmake" | paste -sd. -); \
	problem=$$($(ESP32_IDF_VERDICT)); \
	test -z "$$problem" || { echo "check-idf: $$problem, at $$idf ($$how); 'make check-idf IDF_PATH=' checks $(IDF_TAG)"; exit 1; }; \
	echo "check-idf: ESP-IDF $$v at $$idf ($$how)"; \
	py=$(ESP32_CHECK_KCONFGEN_PY) || exit 1; \
	echo "check-idf: $(ESP32_CHECK_CC) $$($(ESP32_CHECK_CC) -dumpversion) + picolibc; sdkconfig.h by kconfgen (esp-idf-kconfig $$($$py -c 'import importlib.metadata as m; print(m.version("esp-idf-kconfig"))'))"; \
	$(MAKE) --no-print-directory -f $(ESP32_MK_DIR)/check-idf.mk -j$(JOBS) ROOT=$(ROOT) BUILD_DIR=$(BUILD_DIR) \
		MPY_DIR=$(MPY_DIR) PYTHON3=$(PYTHON3) CHECK_CC=$(ESP32_CHECK_CC) CHECK_IDF="$$idf" KCONFGEN_PY="$$py" V=$(V) && \
	for tag in $(ESP32_CHECK_HOOKS_TAGS); do \
		idf=$(BUILD_DIR)/esp-idf-$$tag; \
		echo "check-idf: ESP-IDF $$tag for the hooks tracker (sparse checkout: $$($(ROOT)/mk/esp-idf-source.sh $$idf $$tag))" && \
		$(MAKE) --no-print-directory -f $(ESP32_MK_DIR)/check-idf.mk -j$(JOBS) ROOT=$(ROOT) BUILD_DIR=$(BUILD_DIR) \
			MPY_DIR=$(MPY_DIR) PYTHON3=$(PYTHON3) CHECK_CC=$(ESP32_CHECK_CC) CHECK_IDF="$$idf" KCONFGEN_PY="$$py" V=$(V) \
			HOOKS_ONLY=1 CHECK_DIR=$(BUILD_DIR)/check-idf-$$tag || exit 1; \
	done
