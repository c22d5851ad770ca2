# heaptrack: the one entry point. `make help` lists the targets.

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
BUILD_DIR := $(ROOT)/build
MPY_DIR := $(ROOT)/micropython
VENV := $(ROOT)/.venv
PYTHON := $(VENV)/bin/python
PYTHON3 ?= python3

# SANITIZE=1 builds the host firmware with AddressSanitizer and UBSan, as upstream's
# CI does (tools/ci.sh): no ASan fake stacks (the GC scans the C stack for roots),
# MP_ASAN/MP_UBSAN set by hand for gcc < 14 (they scale the thread stack sizes), and
# not stripped, so reports name functions and lines. UBSan stays recoverable at build
# time; the virtual board runs the firmware with UBSAN_OPTIONS=halt_on_error=1 and the
# suppression file native/tests/ubsan-upstream.supp (upstream code only, each entry with
# its reason; LeakSanitizer stays on and upstream needs no lsan-upstream.supp), and
# counts any sanitizer report as a crash, which fails the test session
# (heaptrack_host/vboard/crash.py, SANITIZER_OPTIONS).
ifeq ($(SANITIZE),1)
HOST_FLAVOUR := host-sanitize
HOST_SANITIZE_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer --param asan-use-after-return=0
# MicroPython's i386 assembly NLR (py/nlrx86.c) loses the raised exception
# under the sanitizers' instrumentation (nlr.ret_val reads 1), so the 32-bit
# sanitizer build uses the setjmp NLR; -Wno-clobbered for what gcc then warns
# about in upstream's native-code glue.
HOST_SANITIZE_DEFS := -DMP_ASAN=1 -DMP_UBSAN=1 -DMICROPY_NLR_SETJMP=1 -Wno-clobbered
else
HOST_FLAVOUR := host
endif
# HEAPTRACK_TRACKING=0: the same firmware with ESP-IDF's heap task tracking
# compiled out (CONFIG_HEAP_TASK_TRACKING unset): the benchmarks' baseline and
# the "firmware without tracking" the tests check. `make test` builds both.
HEAPTRACK_TRACKING ?= 1
# HEAPTRACK_TRACKER: which heap accounting the firmware has (tracker.h):
#   idf    ESP-IDF's heap task tracking (tracker_idf.c), the default;
#   hooks  heaptrack's own on ESP-IDF's heap hooks, ESP-IDF's tracking off
#          (tracker_hooks.c; build/host-hooks);
#   diff   the hooks tracker with ESP-IDF's tracking on beside it, and ESP-IDF's
#          own statistics and printers as the module _idf_oracle: the firmware
#          of the differential test (build/host-diff).
# `make test` runs the host suite on idf and on hooks, and the differential test.
HEAPTRACK_TRACKER ?= idf
ifeq ($(filter idf hooks diff,$(HEAPTRACK_TRACKER)),)
$(error HEAPTRACK_TRACKER=$(HEAPTRACK_TRACKER): the trackers are idf (ESP-IDF's task tracking, the default), hooks (heaptrack's own) and diff (both, for the differential test))
endif
# HEAPTRACK_CHIP: the chip the virtual board is (its ESP-IDF memory layout at
# its addresses, its sdkconfig): a folder of boards/HOST/chips, esp32s3 by
# default (build/host), the others in build/host-NAME; HEAPTRACK_PSRAM=1: the
# chip's folder with PSRAM (esp32s3-psram: MicroPython's ESP32_GENERIC_S3
# SPIRAM_OCT variant). `make test` builds each and runs the chip tests
# (host_tests/test_chips.py, test_boot.py) on it.
include $(ROOT)/boards/HOST/chips.mk
HEAPTRACK_CHIP ?= $(HOST_DEFAULT_CHIP)
HEAPTRACK_PSRAM ?= 0
HOST_CHIP_NAME := $(call host_chip_name,$(HEAPTRACK_CHIP),$(HEAPTRACK_PSRAM),HEAPTRACK_CHIP)
HOST_CHIP_SUFFIX := $(if $(filter $(HOST_DEFAULT_CHIP),$(HOST_CHIP_NAME)),,-$(HOST_CHIP_NAME))
ifneq ($(HOST_CHIP_SUFFIX),)
ifeq ($(SANITIZE),1)
$(error SANITIZE=1 is for the ESP32-S3 only: the sanitizer build moves its DRAM out of ASan's shadow (boards/HOST/esp_idf/chip.c))
endif
endif
HOST_VARIANT_idf := $(if $(filter 0,$(HEAPTRACK_TRACKING)),-notracking)
HOST_VARIANT_hooks := -hooks
HOST_VARIANT_diff := -diff
HOST_BUILD := $(BUILD_DIR)/$(HOST_FLAVOUR)$(HOST_VARIANT_$(HEAPTRACK_TRACKER))$(HOST_CHIP_SUFFIX)
HOST_IDF_OUT := $(HOST_BUILD)/esp-idf
FIRMWARE := $(HOST_BUILD)/micropython
FIRMWARE_UNTRACKED := $(BUILD_DIR)/$(HOST_FLAVOUR)-notracking/micropython
FIRMWARE_IDF := $(BUILD_DIR)/$(HOST_FLAVOUR)/micropython
FIRMWARE_HOOKS := $(BUILD_DIR)/$(HOST_FLAVOUR)-hooks/micropython
FIRMWARE_DIFF := $(BUILD_DIR)/$(HOST_FLAVOUR)-diff/micropython
# The other chips' firmware (ESP-IDF's tracker), and what `make test` runs on
# each: the chip tests and the boot's (the whole suite runs on the default).
OTHER_CHIPS := $(filter-out $(HOST_DEFAULT_CHIP),$(HOST_CHIP_NAMES))
CHIP_TESTS := $(ROOT)/host_tests/test_chips.py $(ROOT)/host_tests/test_boot.py
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CC ?= cc

include $(ROOT)/mk/esp-idf.mk
include $(ROOT)/mk/freertos.mk

# The host firmware is 32-bit, like the chip: say what to install, once, before building.
HOST_BUILD_GOALS := $(if $(MAKECMDGOALS),$(filter firmware-host firmware-host-all firmware-host-untracked firmware-host-trackers firmware-host-chips host-idf run test test-c test-host bench,$(MAKECMDGOALS)),firmware-host)
ifdef PORT
HOST_BUILD_GOALS := $(filter-out test test-host,$(HOST_BUILD_GOALS))
endif
ifneq ($(HOST_BUILD_GOALS),)
ifneq ($(shell printf 'int main(void){return 0;}' | $(CC) -m32 -x c - -o /dev/null 2>/dev/null && echo ok),ok)
$(error the host firmware is 32-bit, like an ESP32, and $(CC) -m32 cannot link here: install a 32-bit C toolchain (Debian/Ubuntu: apt-get install gcc-multilib))
endif
endif

.DEFAULT_GOAL := firmware-host
.PHONY: firmware-qemu qemu-board run-qemu test-qemu-micropython
.PHONY: help mbedtls-checkout firmware-host firmware-host-all firmware-host-untracked firmware-host-trackers firmware-host-chips firmware-host-psram host-idf run test test-c test-idf test-qemu test-host bench venv submodules clean

help:
	@echo "heaptrack targets:"
	@echo "  make                  build the host firmware (build/host/micropython): MicroPython's unix"
	@echo "                        port, 32-bit, on ESP-IDF $(IDF_TAG)'s own heap as an ESP32-S3 has it"
	@echo "  make HEAPTRACK_TRACKING=0  the same without ESP-IDF's heap task tracking"
	@echo "  make HEAPTRACK_TRACKER=hooks  the same with heaptrack's own tracker (ESP-IDF's heap hooks)"
	@echo "  make HEAPTRACK_CHIP=esp32     the virtual board as another chip ($(HOST_CHIP_NAMES): boards/HOST/chips; build/host-CHIP);"
	@echo "                        HEAPTRACK_PSRAM=1: ESP32-S3 with octal PSRAM (build/host-esp32s3-psram)"
	@echo "  make run              start the virtual board and run examples/leak_demo.py on it"
	@echo "  make test             C unit tests, make check-idf (where its compiler is), host_tests on the virtual board"
	@echo "  make test-qemu        the C tests on the QEMU board (boards/QEMU_RV32: FreeRTOS-Kernel $(FREERTOS_TAG) on"
	@echo "                        qemu-system-riscv32 -M virt, ESP-IDF's heap as an ESP32-C3 has it): interrupt,"
	@echo "                        deletion and idle-task tests, heaptrack's C contract tests on both trackers,"
	@echo "                        ESP-IDF's heap test cases; build/qemu/*.elf, by hand:"
	@echo "                        qemu-system-riscv32 -M virt -bios none -nographic -semihosting-config enable=on \\"
	@echo "                          -kernel build/qemu/test_rtos.elf"
	@echo "  make test PORT=DEV    host_tests on a real board at DEV instead"
	@echo "  make test SANITIZE=1  the same on a firmware built with ASan/UBSan"
	@echo "  make bench            benchmarks (bench/), printing their figures"
	@echo "  make firmware BOARD=ESP32_S3 [BOARD_VARIANT=V] [DOCKER=1]"
	@echo "                        ESP32 firmware (needs ESP-IDF $(IDF_TAG), or DOCKER=1: its Docker image)"
	@echo "  make flash BOARD=ESP32_S3 [PORT=DEV]   build and flash it (esptool finds the board)"
	@echo "  make erase BOARD=ESP32_S3 PORT=DEV     erase the board's flash"
	@echo "  make check-idf [IDF_PATH=DIR]          compile the ESP-side code against ESP-IDF's headers"
	@echo "  boards: $(ESP32_BOARD_LIST)"
	@echo "  make venv             .venv with the host tools (mpheaptrack, pytest plugin), mpremote, esptool,"
	@echo "                        pytest (make run/test/bench make it too; plain make does not)"
	@echo "  make clean            remove build/ and .venv/"

# MicroPython itself, and the one lib/ submodule its frozen-manifest build checks for.
SUBMODULES_STAMP := $(MPY_DIR)/lib/micropython-lib/README.md
submodules: $(SUBMODULES_STAMP)
$(SUBMODULES_STAMP):
	git -C $(ROOT) submodule update --init micropython
	git -C $(MPY_DIR) submodule update --init lib/micropython-lib

# mbedTLS for the virtual board's ssl module: MicroPython's lib/mbedtls at the
# commit MicroPython pins, checked on every build (the script says which release).
mbedtls-checkout: $(SUBMODULES_STAMP)
	@$(ROOT)/mk/mbedtls-checkout.sh $(MPY_DIR)

# mpy-cross first, on its own: a BUILD= on the port's command line would reach its sub-make.
MPY_CROSS := $(MPY_DIR)/mpy-cross/build/mpy-cross
$(MPY_CROSS): $(SUBMODULES_STAMP)
	$(MAKE) -C $(MPY_DIR)/mpy-cross -j$(JOBS)

# ESP-IDF's heap (the pinned tag's sources), the host shim and the tracker.
# The virtual board's heaptrack keeps up to 16384 blocks outstanding (a board
# 1024, tracker_idf.c's default): its RAM is the host's, and the benchmarks
# and the streaming tests hold 10,000.
# The hooks tracker's tables hold every block of the system (16384 live blocks,
# 1024 task records, deleted ones included: about 380 KB of the host's RAM).
HOST_TRACKER_DEFS_idf := -DHT_IDF_MAX_BLOCKS=16384
HOST_TRACKER_DEFS_hooks := -DHT_HOOKS_MAX_BLOCKS=16384 -DHT_HOOKS_MAX_TASKS=1024 -DHT_HOOKS_MAX_HEAP_RECORDS=2048
HOST_TRACKER_DEFS_diff := $(HOST_TRACKER_DEFS_hooks) -DHT_HOOKS_SNAPSHOT_LIBC=1
HOST_LIB_idf := TRACKER=idf TRACKING=$(HEAPTRACK_TRACKING)
HOST_LIB_hooks := TRACKER=hooks TRACKING=0
HOST_LIB_diff := TRACKER=hooks TRACKING=1
HOST_CFLAGS_diff := -DHEAPTRACK_IDF_ORACLE=1
HOST_FIRMWARE_CFLAGS := $(strip $(HOST_SANITIZE_FLAGS) $(HOST_SANITIZE_DEFS) $(HOST_CFLAGS_$(HEAPTRACK_TRACKER)))
host-idf: $(IDF_SOURCE_STAMP)
	@$(MAKE) --no-print-directory -f $(ROOT)/boards/HOST/esp_idf.mk -j$(JOBS) CC="$(CC)" \
		IDF_SRC=$(HEAPTRACK_IDF_SRC) OUT=$(HOST_IDF_OUT) $(HOST_LIB_$(HEAPTRACK_TRACKER)) \
		CHIP=$(HEAPTRACK_CHIP) PSRAM=$(HEAPTRACK_PSRAM) \
		SAN_FLAGS="$(HOST_SANITIZE_FLAGS)" TRACKER_DEFS="$(HOST_TRACKER_DEFS_$(HEAPTRACK_TRACKER))"

# The unix port's make, once more if it fails: a first link of a freshly built
# firmware has been seen to fail without libm on this project's CI machine (not
# reproduced by hand; the rerun links). The retry says so.
HOST_PORT_MAKE = $(MAKE) -C $(MPY_DIR)/ports/unix -j$(JOBS) \
		VARIANT_DIR=$(ROOT)/boards/HOST BUILD=$(HOST_BUILD) HEAPTRACK_IDF_OUT=$(HOST_IDF_OUT) \
		$(if $(HOST_SANITIZE_FLAGS),STRIP= LDFLAGS_EXTRA="$(HOST_SANITIZE_FLAGS)") \
		$(if $(HOST_FIRMWARE_CFLAGS),CFLAGS_EXTRA="$(HOST_FIRMWARE_CFLAGS)")
# MicroPython's build scans a file for qstrs again only when the file changed,
# not when the variant's configuration did (a module switched on finds its
# qstrs missing): when boards/HOST's configuration changes, the build's
# generated headers go and are made again.
HOST_VARIANT_CONFIG := $(addprefix $(ROOT)/boards/HOST/,mpconfigvariant.mk mpconfigvariant.h manifest.py)
firmware-host: $(MPY_CROSS) host-idf mbedtls-checkout
	@stamp=$(HOST_BUILD)/.variant-$$(cat $(HOST_VARIANT_CONFIG) | cksum | cut -d' ' -f1); \
	if [ ! -e $$stamp ]; then rm -rf $(HOST_BUILD)/genhdr $(HOST_BUILD)/frozen_content.c $(HOST_BUILD)/.variant-*; \
		mkdir -p $(HOST_BUILD) && touch $$stamp; fi
	$(HOST_PORT_MAKE) || { echo "firmware-host: the build of $(HOST_BUILD) failed; trying once more"; $(HOST_PORT_MAKE); }

VENV_STAMP := $(VENV)/.installed
venv: $(VENV_STAMP)
$(VENV_STAMP): $(ROOT)/pyproject.toml
	$(PYTHON3) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip "setuptools>=77"
	$(PYTHON) -m pip install --quiet -e "$(ROOT)[test]"
	touch $@

run: firmware-host venv
	$(PYTHON) -m heaptrack_host.vboard --firmware $(FIRMWARE) --run $(ROOT)/examples/leak_demo.py

# (MicroPython itself too: the GC heap's census is tested on its embed port.)
test-c: $(IDF_SOURCE_STAMP) $(SUBMODULES_STAMP)
	$(MAKE) -C $(ROOT)/native/tests -j$(JOBS) BUILD=$(BUILD_DIR)/ctest IDF_SRC=$(HEAPTRACK_IDF_SRC) CC="$(CC)"

firmware-host-untracked:
	@$(MAKE) --no-print-directory firmware-host HEAPTRACK_TRACKER=idf HEAPTRACK_TRACKING=0

# Every other chip's firmware (ESP-IDF's tracker).
# (none with SANITIZE=1, which is for the ESP32-S3 only)
ifeq ($(SANITIZE),1)
OTHER_CHIPS :=
endif
firmware-host-chips:
	@$(foreach c,$(OTHER_CHIPS),$(MAKE) --no-print-directory firmware-host HEAPTRACK_TRACKER=idf $(call host_chip_make_args,$(c)) &&) true

# Every tracker's firmware: ESP-IDF's, heaptrack's, the differential one.
firmware-host-trackers:
	@$(MAKE) --no-print-directory firmware-host HEAPTRACK_TRACKER=idf
	@$(MAKE) --no-print-directory firmware-host HEAPTRACK_TRACKER=hooks
	@$(MAKE) --no-print-directory firmware-host HEAPTRACK_TRACKER=diff

# host_tests/test_prometheus.py runs Debian's Prometheus server and promtool:
# one line saying so when they are missing (.ci/run installs them).
PROMETHEUS_CHECK = @command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || \
	{ echo "make test: host_tests/test_prometheus.py needs Prometheus's server and promtool: apt-get install prometheus"; exit 1; }

ifdef PORT
test-host: venv
	$(PROMETHEUS_CHECK)
	$(PYTHON) -m pytest $(ROOT)/host_tests --port $(PORT) $(PYTEST_ARGS)
test: test-host
else
# Every firmware the host suite runs on, and the tools' .venv.
firmware-host-all: firmware-host-untracked firmware-host-trackers firmware-host-chips venv

# The whole suite on ESP-IDF's tracker, with the differential test of the two
# trackers (host_tests/test_tracker_diff.py), and the whole suite on heaptrack's:
# at the same time where the machine has two cores or more (each on boards of
# its own; the second's output, kept in build/test-host-hooks.log, follows the
# first's). Then the chip tests on each other chip's firmware.
HOST_SUITE_IDF = $(PYTHON) -m pytest $(ROOT)/host_tests --firmware $(FIRMWARE_IDF) \
	--firmware-untracked $(FIRMWARE_UNTRACKED) --firmware-diff $(FIRMWARE_DIFF) $(PYTEST_ARGS)
HOST_SUITE_HOOKS = $(PYTHON) -m pytest $(ROOT)/host_tests --firmware $(FIRMWARE_HOOKS) \
	--firmware-untracked $(FIRMWARE_UNTRACKED) $(PYTEST_ARGS)
HOOKS_LOG := $(BUILD_DIR)/test-host-hooks.log
test-host: firmware-host-all
	$(PROMETHEUS_CHECK)
ifeq ($(shell [ $(JOBS) -ge 2 ] && echo parallel),parallel)
	@echo "== the host suite on ESP-IDF's tracker, and on heaptrack's at the same time ($(HOOKS_LOG))"
	@$(HOST_SUITE_HOOKS) -p no:cacheprovider >$(HOOKS_LOG) 2>&1 & hooks=$$!; \
	$(HOST_SUITE_IDF); idf=$$?; wait $$hooks; hooks_status=$$?; \
	echo "== the host suite on heaptrack's tracker"; cat $(HOOKS_LOG); \
	[ $$idf -eq 0 ] && [ $$hooks_status -eq 0 ]
else
	$(HOST_SUITE_IDF)
	$(HOST_SUITE_HOOKS)
endif
	@status=0; $(foreach c,$(OTHER_CHIPS),echo "== the virtual $(c)"; \
		$(PYTHON) -m pytest $(CHIP_TESTS) --firmware $(BUILD_DIR)/$(HOST_FLAVOUR)-$(c)/micropython $(PYTEST_ARGS) || status=1;) \
		exit $$status

# Every stage runs whatever the others did; the end says how each went and
# how long it took (mk/run-suites.sh).
MAKE_STAGE = $(MAKE) --no-print-directory
test:
	@$(ROOT)/mk/run-suites.sh \
		"C tests (heaptrack's trackers, ESP-IDF's own heap tests; ASan/UBSan)" "$(MAKE_STAGE) test-c" \
		"make check-idf (the device code against ESP-IDF)" "$(MAKE_STAGE) test-idf" \
		"the QEMU board (FreeRTOS on RISC-V, MicroPython on it)" "$(MAKE_STAGE) test-qemu" \
		"the host firmwares and the tools' .venv" "$(MAKE_STAGE) firmware-host-all" \
		"host suites (both trackers, every virtual chip)" "$(MAKE_STAGE) test-host"
endif

# The QEMU board's C tests (native/tests/qemu), where its emulator and the
# RISC-V compiler are; said plainly when they are not. The idle workload runs
# on the host's virtual ESP32-C3 first (native/tests' test_workload_idle): the
# QEMU run's statistics must be the same.
QEMU_SYSTEM := qemu-system-riscv32
QEMU_APT := apt-get install qemu-system-misc gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf libnewlib-dev
test-qemu: $(IDF_SOURCE_STAMP) $(FREERTOS_STAMP)
	@if command -v $(QEMU_SYSTEM) >/dev/null 2>&1 && command -v $(ESP32_CHECK_CC) >/dev/null 2>&1 && \
		[ "$$($(ESP32_CHECK_CC) --specs=picolibc.specs -print-file-name=picolibc.specs)" != picolibc.specs ]; then \
		$(MAKE) --no-print-directory -C $(ROOT)/native/tests -j$(JOBS) BUILD=$(BUILD_DIR)/ctest IDF_SRC=$(HEAPTRACK_IDF_SRC) \
			CC="$(CC)" $(BUILD_DIR)/ctest/test_workload_idle && \
		HEAPTRACK_IDF_CONSOLE=/dev/null $(BUILD_DIR)/ctest/test_workload_idle >$(BUILD_DIR)/ctest/workload_idle.out && \
		$(MAKE) --no-print-directory -C $(ROOT)/native/tests/qemu -j$(JOBS) BUILD=$(BUILD_DIR)/qemu \
			IDF_SRC=$(HEAPTRACK_IDF_SRC) FREERTOS_SRC=$(FREERTOS_SRC) HOST_IDLE_STATS=$(BUILD_DIR)/ctest/workload_idle.out && \
		$(MAKE) --no-print-directory test-qemu-micropython; \
	else echo "make test: SKIPPED the QEMU board's tests: they need $(QEMU_SYSTEM), $(ESP32_CHECK_CC) and picolibc ($(QEMU_APT))"; fi

# The part of host_tests that make test runs on the QEMU board's MicroPython
# (mpremote on its UART's pty, --port), about a minute: the demo's report,
# soft resets that delete threads inside ESP-IDF's heap (MicroPython's esp32
# thread teardown and heaptrack's safe teardown on a real RTOS), tasks and
# reports. QEMU_HOST_TESTS=... (paths under host_tests/) runs others; what
# runs there and what cannot (no filesystem, no esp32 module) is in
# docs/qemu-board.md.
QEMU_HOST_TESTS := test_leak_demo.py::test_demo_through_mpremote_run \
	test_silicon.py::test_soft_resets_with_tasks_mid_report_and_mid_allocation \
	test_module.py::test_thread_tasks_are_named_as_on_esp32 \
	test_module.py::test_print_overview_and_details_match_esp_idf_format
test-qemu-micropython: firmware-qemu venv
	@echo "== MicroPython on the QEMU board: host_tests through mpremote on its UART's pty"
	@PATH=$(VENV)/bin:$$PATH $(QEMU_MP_BOARD)/qemu-board.sh $(QEMU_FIRMWARE) sh -c \
		'$(PYTHON) -m pytest $(addprefix $(ROOT)/host_tests/,$(QEMU_HOST_TESTS)) --port "$$QEMU_BOARD_PORT" $(PYTEST_ARGS)'

# MicroPython on the QEMU board (boards/QEMU_RV32/micropython): upstream
# ports/qemu built with heaptrack's module on the board's library (FreeRTOS,
# ESP-IDF's heap as an ESP32-C3 has it, the safe teardown). When the board's
# configuration changes, the build's generated headers go and are made again
# (as for the host firmware).
QEMU_MP_BUILD := $(BUILD_DIR)/qemu-micropython
QEMU_FIRMWARE := $(QEMU_MP_BUILD)/firmware.elf
QEMU_MP_BOARD := $(ROOT)/boards/QEMU_RV32/micropython
QEMU_MP_CONFIG := $(addprefix $(QEMU_MP_BOARD)/,mpconfigboard.mk mpconfigboard.h manifest.py)
firmware-qemu: $(MPY_CROSS) $(IDF_SOURCE_STAMP) $(FREERTOS_STAMP)
	@$(MAKE) --no-print-directory -f $(ROOT)/boards/QEMU_RV32/board.mk -j$(JOBS) IDF_SRC=$(HEAPTRACK_IDF_SRC) \
		FREERTOS_SRC=$(FREERTOS_SRC) OUT=$(QEMU_MP_BUILD)/board
	@stamp=$(QEMU_MP_BUILD)/.board-$$(cat $(QEMU_MP_CONFIG) | cksum | cut -d' ' -f1); \
	if [ ! -e $$stamp ]; then rm -rf $(QEMU_MP_BUILD)/genhdr $(QEMU_MP_BUILD)/frozen_content.c $(QEMU_MP_BUILD)/.board-*; \
		mkdir -p $(QEMU_MP_BUILD) && touch $$stamp; fi
	$(MAKE) -C $(MPY_DIR)/ports/qemu -j$(JOBS) BOARD=QEMU_RV32 BOARD_DIR=$(QEMU_MP_BOARD) BUILD=$(QEMU_MP_BUILD) \
		QEMU_BOARD_OUT=$(QEMU_MP_BUILD)/board

# The QEMU board's MicroPython with its REPL on a pseudo-terminal: prints the
# device, serves until Ctrl-C (qemu-board); runs examples/leak_demo.py on it
# with mpremote (run-qemu).
qemu-board: firmware-qemu venv
	@PATH=$(VENV)/bin:$$PATH $(QEMU_MP_BOARD)/qemu-board.sh $(QEMU_FIRMWARE)
run-qemu: firmware-qemu venv
	@PATH=$(VENV)/bin:$$PATH $(QEMU_MP_BOARD)/qemu-board.sh $(QEMU_FIRMWARE) \
		sh -c 'mpremote connect "$$QEMU_BOARD_PORT" run $(ROOT)/examples/leak_demo.py'

# `make check-idf` (the device code against ESP-IDF's headers, its IRAM code and
# static RAM per board) as part of `make test` wherever its compiler is; said
# plainly when it is not.
test-idf:
	@if command -v $(ESP32_CHECK_CC) >/dev/null 2>&1 && [ -e /usr/include/newlib/reent.h ] && \
		[ "$$($(ESP32_CHECK_CC) --specs=picolibc.specs -print-file-name=picolibc.specs)" != picolibc.specs ]; then \
		$(MAKE) --no-print-directory check-idf; \
	else echo "make test: SKIPPED make check-idf (the device code against ESP-IDF): it needs $(ESP32_CHECK_CC), picolibc and newlib's headers ($(ESP32_CHECK_APT))"; fi

# The ESP32-S3 with PSRAM's firmware: the GC heap grown to 2 MB for the census bench.
FIRMWARE_PSRAM := $(BUILD_DIR)/$(HOST_FLAVOUR)-esp32s3-psram/micropython
firmware-host-psram:
	@$(MAKE) --no-print-directory firmware-host HEAPTRACK_TRACKER=idf HEAPTRACK_PSRAM=1

bench: firmware-host-untracked firmware-host-trackers firmware-host-psram venv
	$(MAKE) -C $(ROOT)/native/tests bench -j$(JOBS) BUILD=$(BUILD_DIR)/bench IDF_SRC=$(HEAPTRACK_IDF_SRC) CC="$(CC)"
	$(PYTHON) $(ROOT)/bench/bench_module.py --firmware $(FIRMWARE_IDF) --firmware-untracked $(FIRMWARE_UNTRACKED) \
		--firmware-hooks $(FIRMWARE_HOOKS) --firmware-psram $(FIRMWARE_PSRAM)

clean:
	rm -rf $(BUILD_DIR) $(VENV)

-include $(ROOT)/mk/esp32.mk
