# The compile matrix behind `make check-idf` (mk/esp32.mk): every ESP-side
# source of the heaptrack module, compiled against one ESP-IDF tree for the chip
# of every heaptrack board, with that board's sdkconfig. mk/esp32.mk runs it once
# it has found the tree and a Python with ESP-IDF's kconfgen:
#
#   make -f mk/check-idf.mk CHECK_IDF=<ESP-IDF tree> KCONFGEN_PY=<python> [V=1]
#
# The sources: every native/heaptrack/*.c but the host's (named *host*) and
# idf_teardown.c (linked with its --wrap options on the QEMU board only), and
# whatever native/heaptrack/micropython.cmake (what ports/esp32 compiles) names.
#
# Per board (boards/<BOARD>/board.json "mcu" names its chip), in
# build/check-idf/<BOARD>/:
#   sdkconfig.h      by kconfgen from the board's sdkconfig fragments:
#                    upstream's generic board's, concatenated as ports/esp32 does,
#                    then boards/sdkconfig.heaptrack, then sdkconfig.picolibc (below);
#   off/sdkconfig.h  the same without boards/sdkconfig.heaptrack: tracking off;
#   genhdr/          MicroPython's generated headers for these sources (qstrs,
#                    compressed error texts, root pointers), made as ports/esp32's
#                    build makes them: MicroPython's py/make*.py scripts over the
#                    sources preprocessed with this chip's flags;
#   cflags           the compiler's flags (a gcc @file; the include directories
#                    are those ESP-IDF's components give for this chip).
# RISC-V chips: each source compiled (-c), -Wall -Wextra as errors
# (-Wno-unused-parameter, as ESP-IDF and MicroPython build: callbacks), and
# tracker_idf.c once more with tracking off.
# Each at the optimisation level the board's sdkconfig.h picks, with the code
# generation flags ESP-IDF adds to every file (opt_flags, CODEGEN below).
# Xtensa chips: the same, to assembly text (-S): the RISC-V compiler stands in, with its
# __riscv* macros undefined and those xtensa-esp-elf-gcc predefines (__XTENSA__,
# __xtensa__, __XTENSA_EL__, __XTENSA_WINDOWED_ABI__) defined, so ESP-IDF's
# headers take their Xtensa paths (xtensa/<chip>/include's core-isa.h, the Xtensa
# FreeRTOS port). ILP32 and little-endian, like Xtensa, so the data in that text
# is the chip's. What needs the real compiler, and so is not checked: inline
# assembly, Xtensa builtins and code generation.
#
# Then, per board and tracker, where the result lands (mk/check_placement.py):
# static RAM against the board's budget (HEAPTRACK_DRAM_BUDGET and
# HEAPTRACK_IRAM_BUDGET in its mpconfigboard.cmake), and on RISC-V every symbol
# IRAM code refers to, placed as ESP-IDF's linker fragments and ROM scripts
# place it for that board's configuration (kconfgen writes the whole sdkconfig
# beside sdkconfig.h for it). placement-selftest shows the check failing.
#
# The C library: Debian has picolibc, not Espressif's newlib build, so every
# sdkconfig here also selects ESP-IDF's picolibc option (sdkconfig.picolibc), and
# ESP-IDF's libc wrapper headers match the library. Nothing the heap and
# FreeRTOS APIs declare depends on it.
#
# mp_thread_create_ex: ports/esp32/mpthreadport.c defines it and no header
# declares it, so the task port declares it itself. Each file that names it is
# compiled with the definition's own signature, cut from mpthreadport.c, as a
# declaration before it (mp_thread_create_ex.h): a declaration that drifts from
# upstream's is a "conflicting types" error.
#
# And build/check-idf/host-<chip>/, for every chip the virtual board can be:
# ESP-IDF's <chip> defaults + only boards/sdkconfig.heaptrack (and the octal
# PSRAM fragments for esp32s3-psram, and MicroPython's CONFIG_NEWLIB_NANO_FORMAT),
# against which every CONFIG_ value of that
# chip's hand-written host sdkconfig.h (HEAPTRACK_IDF_TRACKING=1) is checked.

CHECK_MK_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
ROOT ?= $(abspath $(CHECK_MK_DIR)/..)
BUILD_DIR ?= $(ROOT)/build
MPY_DIR ?= $(ROOT)/micropython
PYTHON3 ?= python3
CHECK_IDF ?= $(error CHECK_IDF=<ESP-IDF tree> is required)
KCONFGEN_PY ?= $(error KCONFGEN_PY=<python with esp-idf-kconfig> is required)
CHECK_CC ?= riscv64-unknown-elf-gcc

# HOOKS_ONLY=1: only the hooks tracker, for every board, into CHECK_DIR: what
# runs against ESP-IDF v5.3 and v5.4 (tracker_idf.c needs v5.5.3).
HOOKS_ONLY ?=
CHECK_DIR ?= $(BUILD_DIR)/check-idf
CHECK := $(CHECK_DIR)
HT := $(ROOT)/native/heaptrack
C := $(CHECK_IDF)/components
PORT_DIR := $(MPY_DIR)/ports/esp32

HASH := \#

ifeq ($(V),1)
Q :=
else
Q := @
endif

.PHONY: all FORCE
all:

################################################################################
# What is compiled, and for which chips.

SOURCES := $(sort $(filter-out $(wildcard $(HT)/*host*.c) $(HT)/tracker_hooks.c $(HT)/idf_teardown.c,$(wildcard $(HT)/*.c)) \
	$(filter-out $(HT)/tracker_hooks.c,$(addprefix $(HT)/,$(shell sed -n 's/.*CMAKE_CURRENT_LIST_DIR}\/\([A-Za-z0-9_]*\.c\).*/\1/p' $(HT)/micropython.cmake))))
ifeq ($(SOURCES),)
$(error check-idf: no sources in $(HT))
endif
# What the hooks tracker's boards compile besides the rest (with
# boards/sdkconfig.heaptrack_hooks; alone for ESP-IDF v5.3 and v5.4).
HOOKS_SOURCES := tracker_hooks.c tracker_private.c idf_heaps.c
# The files that declare mp_thread_create_ex (see above).
DECLARING := $(shell grep -l mp_thread_create_ex $(SOURCES))

BOARDS := $(patsubst $(ROOT)/boards/%/board.json,%,$(wildcard $(ROOT)/boards/*/board.json))
board_chip = $(shell sed -n 's/.*"mcu": *"\([^"]*\)".*/\1/p' $(ROOT)/boards/$(1)/board.json)
board_upstream = $(shell sed -n 's/^set(HEAPTRACK_UPSTREAM_BOARD \([A-Za-z0-9_]*\))/\1/p' $(ROOT)/boards/$(1)/mpconfigboard.cmake)
# The fragments of upstream's board $(1), in order (paths relative to ports/esp32).
upstream_fragments = $(addprefix $(PORT_DIR)/,$(shell sed -n 's/^[[:space:]]*\(boards\/[^[:space:]()]*\).*/\1/p' \
	$(PORT_DIR)/boards/$(1)/mpconfigboard.cmake))

# -march/-mabi per RISC-V chip, as ESP-IDF's components/soc/project_include.cmake
# sets them for gcc, less Espressif's own extensions (P4's xesppie), which
# Debian's gcc does not know.
ARCH_esp32c2 := -march=rv32imc_zicsr_zifencei -mabi=ilp32
ARCH_esp32c3 := -march=rv32imc_zicsr_zifencei -mabi=ilp32
ARCH_esp32c5 := -march=rv32imac_zicsr_zifencei -mabi=ilp32
ARCH_esp32c6 := -march=rv32imac_zicsr_zifencei -mabi=ilp32
ARCH_esp32p4 := -march=rv32imafc_zicsr_zifencei -mabi=ilp32f
XTENSA_CHIPS := esp32 esp32s2 esp32s3
# The RISC-V compiler posing as Xtensa (see above).
XTENSA_POSE := -march=rv32imac_zicsr_zifencei -mabi=ilp32 \
	$(shell $(CHECK_CC) -march=rv32imac_zicsr_zifencei -mabi=ilp32 -dM -E - </dev/null | sed -n 's/^$(HASH)define \(__riscv[A-Za-z0-9_]*\).*/-U\1/p') \
	-D__XTENSA__ -D__xtensa__ -D__XTENSA_EL__ -D__XTENSA_WINDOWED_ABI__

chip_arch = $(if $(filter $(1),$(XTENSA_CHIPS)),xtensa,$(if $(ARCH_$(1)),riscv,$(error check-idf: board $(2) is for $(1), a chip this file has no -march for (see components/soc/project_include.cmake))))

################################################################################
# sdkconfig.h by kconfgen.

CHECK_IDF_VERSION := $(shell sed -n 's/^set(IDF_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\))/\2/p' $(CHECK_IDF)/tools/cmake/version.cmake | paste -sd. -)
LIBC_FRAGMENT := $(CHECK)/sdkconfig.picolibc

semi = $(subst $() ,;,$(strip $(1)))

# What ESP-IDF's build passes to kconfgen (tools/kconfig_new/config.env.in),
# with every component's Kconfig instead of just the built ones.
# $(1) output dir, $(2) target.
define kconfig_env
{
    "COMPONENT_KCONFIGS": "$(call semi,$(wildcard $(C)/*/Kconfig))",
    "COMPONENT_KCONFIGS_PROJBUILD": "$(call semi,$(wildcard $(C)/*/Kconfig.projbuild))",
    "COMPONENT_SDKCONFIG_RENAMES": "$(call semi,$(wildcard $(C)/*/sdkconfig.rename $(C)/*/sdkconfig.rename.$(2)))",
    "IDF_TARGET": "$(2)",
    "IDF_TOOLCHAIN": "gcc",
    "IDF_VERSION": "$(CHECK_IDF_VERSION)",
    "IDF_ENV_FPGA": "",
    "IDF_PATH": "$(CHECK_IDF)",
    "COMPONENT_KCONFIGS_SOURCE_FILE": "$(1)/kconfigs.in",
    "COMPONENT_KCONFIGS_PROJBUILD_SOURCE_FILE": "$(1)/kconfigs_projbuild.in"
}
endef

# Writes $(1) with text $(2) only when that changes it, so that what depends
# on it is remade exactly when needed.
define write_if_changed
$(file >$(1).new,$(2))
$(Q)cmp -s $(1).new $(1) && rm -f $(1).new || mv -f $(1).new $(1)
endef

# $(1) output dir, $(2) target, $(3) sdkconfig fragments, concatenated in order.
define kconfig_rules
$(1)/config.env: FORCE | $(1)
	$$(call write_if_changed,$$@,$$(call kconfig_env,$(1),$(2)))

# The list of fragments, so that a change of the list remakes sdkconfig.h too.
$(1)/fragments: FORCE | $(1)
	$$(call write_if_changed,$$@,$(3))

$(1)/sdkconfig.h: $(1)/config.env $(1)/fragments $(3) $(CHECK_IDF)/tools/cmake/version.cmake
	$(Q)cat $(3) >$(1)/sdkconfig.defaults
	$(Q)rm -f $(1)/sdkconfig
	$(Q){ $(KCONFGEN_PY) $(CHECK_IDF)/tools/kconfig_new/prepare_kconfig_files.py --list-separator=semicolon \
		--env-file $(1)/config.env && \
	$(KCONFGEN_PY) -m kconfgen --list-separator=semicolon --kconfig $(CHECK_IDF)/Kconfig \
		--sdkconfig-rename $(CHECK_IDF)/sdkconfig.rename --config $(1)/sdkconfig \
		--defaults $(1)/sdkconfig.defaults --env IDF_MINIMAL_BUILD=n --env-file $(1)/config.env \
		--output header $$@.tmp --output config $(1)/sdkconfig; } >$(1)/kconfgen.log 2>&1 || { cat $(1)/kconfgen.log; exit 1; }
	$(Q)mv -f $$@.tmp $$@

$(1):
	$(Q)mkdir -p $$@
endef

$(LIBC_FRAGMENT): FORCE | $(CHECK)
	$(call write_if_changed,$@,CONFIG_IDF_EXPERIMENTAL_FEATURES=y$(newline)CONFIG_LIBC_PICOLIBC=y)

$(CHECK):
	$(Q)mkdir -p $@

define newline


endef

################################################################################
# The flags.

# ESP-IDF's public include directories for these sources, per component as
# its CMakeLists.txt lists them for chip $(1), architecture $(2), and the heap
# component's own (tracker_idf.c reads heap_private.h, as
# native/heaptrack/micropython.cmake adds it). -isystem: -Wextra judges our
# code, not ESP-IDF's. The soc register directory is chosen in the cflags
# recipe (P4: by chip revision).
idf_includes = heap/include heap \
	freertos/config/include freertos/config/include/freertos freertos/config/$(2)/include \
	freertos/FreeRTOS-Kernel/include freertos/FreeRTOS-Kernel/portable/$(2)/include \
	freertos/FreeRTOS-Kernel/portable/$(2)/include/freertos freertos/esp_additions/include \
	esp_common/include esp_system/include \
	esp_hw_support/include esp_hw_support/include/soc esp_hw_support/include/soc/$(1) esp_hw_support/dma/include \
	esp_rom/include esp_rom/$(1)/include esp_rom/$(1)/include/$(1) log/include \
	soc/include soc/$(1) soc/$(1)/include \
	hal/platform_port/include hal/$(1)/include hal/include newlib/platform_include \
	esp_driver_spi/include esp_driver_gpio/include esp_pm/include esp_mm/include \
	$(if $(filter xtensa,$(2)),xtensa/$(1)/include xtensa/include xtensa/deprecated_include,riscv/include)

# What ESP-IDF (tools/cmake/build.cmake, components/soc) and ports/esp32
# (esp32_common.cmake, py/mkrules.cmake, extmod.cmake) define for every file of
# the MicroPython component, less what only their libraries' sources read.
DEFINES := -DESP_PLATFORM -D_GNU_SOURCE -DSOC_MMU_PAGE_SIZE=CONFIG_MMU_PAGE_SIZE -DSOC_XTAL_FREQ_MHZ=CONFIG_XTAL_FREQ \
	-DMICROPY_ROM_TEXT_COMPRESSION=(1) -DMICROPY_VFS_FAT=1 -DMICROPY_VFS_LFS2=1 -DMICROPY_PY_BTREE=1
# heaptrack's version, as native/heaptrack/micropython.cmake defines it.
HEAPTRACK_VERSION := $(shell sed -n 's/^__version__ = "\([^"]*\)"$$/\1/p' $(ROOT)/heaptrack_host/__init__.py)
DEFINES += '-DHEAPTRACK_VERSION="$(HEAPTRACK_VERSION)"'
WARNINGS := -Wall -Wextra -Wno-unused-parameter -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Wpointer-arith -Werror

# ESP-IDF before v5.5 has no picolibc option: its newlib wrapper headers and
# FreeRTOS (a task's C library state) reach for newlib's <reent.h> and
# <sys/reent.h>, which picolibc has not. They only name struct _reent, and
# FreeRTOS sizes a field with it: check-idf-newlib/ has a stand-in, searched
# after every other directory.
ifeq ($(HOOKS_ONLY),1)
NEWLIB_STUB := $(CHECK)/check-idf-newlib
NEWLIB_STUB_FLAGS := -idirafter $(NEWLIB_STUB)
$(NEWLIB_STUB)/sys/reent.h:
	$(Q)mkdir -p $(dir $@) && printf '%s\n' '// A stand-in for newlib'"'"'s (made by mk/check-idf.mk).' \
		'#pragma once' 'struct _reent { int _errno; void *_state[64]; };' >$@ && \
	printf '%s\n' '// A stand-in for newlib'"'"'s (made by mk/check-idf.mk).' '#pragma once' \
		'#include <sys/reent.h>' >$(NEWLIB_STUB)/reent.h
endif

# What ESP-IDF compiles every file with for the optimisation level the
# configuration picks (ESP-IDF's CMakeLists.txt), and the code generation flags
# it always adds: its sections per function, no jump tables (IRAM code would
# read them from flash). Shell code; $(1) sdkconfig.h.
opt_flags = if grep -q '^$(HASH)define CONFIG_COMPILER_OPTIMIZATION_SIZE 1' $(1); then echo -Os -freorder-blocks; \
	elif grep -q '^$(HASH)define CONFIG_COMPILER_OPTIMIZATION_PERF 1' $(1); then echo -O2; \
	elif grep -q '^$(HASH)define CONFIG_COMPILER_OPTIMIZATION_DEBUG 1' $(1); then echo -Og -fno-shrink-wrap; \
	elif grep -q '^$(HASH)define CONFIG_COMPILER_OPTIMIZATION_NONE 1' $(1); then echo -O0; \
	else echo -DCHECK_IDF_NO_OPTIMIZATION_LEVEL_IN_SDKCONFIG; fi
CODEGEN := -ffunction-sections -fdata-sections -fno-jump-tables -fno-tree-switch-conversion

# $(1) board dir, $(2) chip, $(3) arch, $(4) board, $(5) dir of its sdkconfig.h
cflags_text = --specs=picolibc.specs $(NEWLIB_STUB_FLAGS) $(if $(filter xtensa,$(3)),$(XTENSA_POSE),$(ARCH_$(2))) \
	-std=gnu17 $(shell $(call opt_flags,$(5)/sdkconfig.h)) $(CODEGEN) $(WARNINGS) $(DEFINES) \
	-I$(HT) -I$(5) -I$(1) -I$(MPY_DIR) -I$(PORT_DIR) -I$(ROOT)/boards/$(4) \
	$(addprefix -isystem $(C)/,$(call idf_includes,$(2),$(3)))

# soc/<chip>/register, or for the P4 its hw_ver1 (chip revisions before v3,
# CONFIG_ESP32P4_SELECTS_REV_LESS_V3) or hw_ver3 (components/soc/CMakeLists.txt).
# Shell code; $(1) chip, $(2) sdkconfig.h.
soc_register_dir = if [ -d $(C)/soc/$(1)/register/hw_ver3 ]; then \
	if grep -q '^$(HASH)define CONFIG_ESP32P4_SELECTS_REV_LESS_V3 1' $(2); then echo soc/$(1)/register/hw_ver1; \
	else echo soc/$(1)/register/hw_ver3; fi; else echo soc/$(1)/register; fi

# The header that declares mp_thread_create_ex as mpthreadport.c defines it.
DECL_HEADER := $(CHECK)/mp_thread_create_ex.h
$(DECL_HEADER): $(PORT_DIR)/mpthreadport.c | $(CHECK)
	$(Q)def=$$(sed -n 's/^\(mp_uint_t mp_thread_create_ex(.*)\) {$$/\1;/p' $<); \
	test -n "$$def" || { echo "check-idf: no one-line definition of mp_thread_create_ex in $<: update mk/check-idf.mk"; exit 1; }; \
	printf '%s\n' "// mp_thread_create_ex as $(patsubst $(MPY_DIR)/%,micropython/%,$<) defines it (made by mk/check-idf.mk)." \
		'#include "py/mpconfig.h"' '#include <stddef.h>' "$$def" >$@

################################################################################
# Per board.

# What a board's mpconfigboard.cmake adds on top of upstream's board
# (boards/heaptrack_board.cmake): sdkconfig fragments after ours, the size of
# the tracker's block table. $(1) board.
board_extra_sdkconfig = $(patsubst $${CMAKE_CURRENT_LIST_DIR}/../%,$(ROOT)/boards/%,$(shell sed -n \
	's/^set(HEAPTRACK_EXTRA_SDKCONFIG \(.*\))/\1/p' $(ROOT)/boards/$(1)/mpconfigboard.cmake))
board_setting = $(shell sed -n 's/^set(HEAPTRACK_$(2) \([0-9]*\))/\1/p' $(ROOT)/boards/$(1)/mpconfigboard.cmake)
board_failures_defines = $(addprefix -DHT_FAILURES=,$(call board_setting,$(1),FAILURES)) \
	$(addprefix -DHT_GC_EVENTS=,$(call board_setting,$(1),GC_EVENTS))
board_defines = $(addprefix -DHT_IDF_MAX_BLOCKS=,$(call board_setting,$(1),MAX_BLOCKS)) $(call board_failures_defines,$(1))
board_hooks_defines = $(addprefix -DHT_HOOKS_MAX_BLOCKS=,$(call board_setting,$(1),HOOKS_MAX_BLOCKS)) \
	$(addprefix -DHT_HOOKS_MAX_TASKS=,$(call board_setting,$(1),HOOKS_MAX_TASKS)) $(call board_failures_defines,$(1))
# The board's budget of static RAM for heaptrack, per tracker (bytes).
board_budget = $(or $(call board_setting,$(1),$(2)_BUDGET),$(error check-idf: boards/$(1)/mpconfigboard.cmake sets no HEAPTRACK_$(2)_BUDGET))

# $(1) board, $(2) chip, $(3) arch
define board_rules
$(call kconfig_rules,$(CHECK)/$(1),$(2),$(call upstream_fragments,$(call board_upstream,$(1))) \
	$(ROOT)/boards/sdkconfig.heaptrack $(call board_extra_sdkconfig,$(1)) $(LIBC_FRAGMENT))
$(call kconfig_rules,$(CHECK)/$(1)/off,$(2),$(call upstream_fragments,$(call board_upstream,$(1))) $(LIBC_FRAGMENT))
$(call kconfig_rules,$(CHECK)/$(1)/hooks,$(2),$(call upstream_fragments,$(call board_upstream,$(1))) \
	$(ROOT)/boards/sdkconfig.heaptrack_hooks $(call board_extra_sdkconfig,$(1)) $(LIBC_FRAGMENT))
$(CHECK)/$(1)/hooks/cflags: $(CHECK)/$(1)/hooks/sdkconfig.h FORCE
	$$(call write_if_changed,$$@,$$(call cflags_text,$(CHECK)/$(1),$(2),$(3),$(1),$(CHECK)/$(1)/hooks) $(call board_hooks_defines,$(1)) -isystem $(C)/$$(shell $$(call soc_register_dir,$(2),$$<)))
	$(Q)grep -q '^#define CONFIG_HEAP_USE_HOOKS 1' $$< && ! grep -q '^#define CONFIG_HEAP_TASK_TRACKING 1' $$< || \
		{ echo "check-idf: $(1)'s hooks sdkconfig.h has not CONFIG_HEAP_USE_HOOKS without CONFIG_HEAP_TASK_TRACKING"; exit 1; }

$(CHECK)/$(1)/cflags: $(CHECK)/$(1)/sdkconfig.h FORCE
	$$(call write_if_changed,$$@,$$(call cflags_text,$(CHECK)/$(1),$(2),$(3),$(1),$(CHECK)/$(1)) $(call board_defines,$(1)) -isystem $(C)/$$(shell $$(call soc_register_dir,$(2),$$<)))
	$(Q)grep -q '^#define CONFIG_IDF_TARGET_ARCH_$(call uc,$(3)) 1' $$< || \
		{ echo "check-idf: $(2) is not $(3) by its sdkconfig.h: fix mk/check-idf.mk's chip tables"; exit 1; }
$(CHECK)/$(1)/off/cflags: $(CHECK)/$(1)/off/sdkconfig.h FORCE
	$$(call write_if_changed,$$@,$$(call cflags_text,$(CHECK)/$(1),$(2),$(3),$(1),$(CHECK)/$(1)/off) -isystem $(C)/$$(shell $$(call soc_register_dir,$(2),$$<)))

# MicroPython's generated headers, as py/mkrules.cmake makes them.
$(CHECK)/$(1)/genhdr/qstrdefs.generated.h $(CHECK)/$(1)/genhdr/compressed.data.h $(CHECK)/$(1)/genhdr/root_pointers.h &: \
		$(CHECK)/$(1)/cflags $(SOURCES) $(MPY_DIR)/py/qstrdefs.h $(MPY_DIR)/py/makeqstrdefs.py $(MPY_DIR)/py/makeqstrdata.py
	$(Q)rm -rf $(CHECK)/$(1)/genhdr && mkdir -p $(CHECK)/$(1)/genhdr
	$(Q)cd $(CHECK)/$(1)/genhdr && \
	$(PYTHON3) $(MPY_DIR)/py/makeqstrdefs.py pp $(CHECK_CC) -E output qstr.i.last \
		cflags @$(CHECK)/$(1)/cflags -DNO_QSTR sources $(SOURCES) && \
	for mode in qstr compress root_pointer; do \
		$(PYTHON3) $(MPY_DIR)/py/makeqstrdefs.py split $$$$mode qstr.i.last $$$$mode _ >/dev/null && \
		$(PYTHON3) $(MPY_DIR)/py/makeqstrdefs.py cat $$$$mode _ $$$$mode $$$$mode.collected >/dev/null || exit 1; \
	done && \
	cat $(MPY_DIR)/py/qstrdefs.h $(PORT_DIR)/qstrdefsport.h qstr.collected | sed 's/^Q(.*)/"&"/' | \
		$(CHECK_CC) -E @$(CHECK)/$(1)/cflags - | sed 's/^\"\(Q(.*)\)\"/\1/' >qstrdefs.preprocessed.h && \
	$(PYTHON3) $(MPY_DIR)/py/makeqstrdata.py qstrdefs.preprocessed.h >qstrdefs.generated.h && \
	$(PYTHON3) $(MPY_DIR)/py/makecompresseddata.py compress.collected >compressed.data.h && \
	$(PYTHON3) $(MPY_DIR)/py/make_root_pointers.py root_pointer.collected >root_pointers.h

$(CHECK)/$(1)/%.ok: $(HT)/%.c $(CHECK)/$(1)/cflags $(CHECK)/$(1)/genhdr/qstrdefs.generated.h $(DECL_HEADER)
	$(Q)$(CHECK_CC) @$(CHECK)/$(1)/cflags $$(if $$(filter $$<,$(DECLARING)),-include $(DECL_HEADER)) \
		-MD -MP -MF $$(@:.ok=.d) -MT $$@ $(call compile_to,$(3))
	$(Q)touch $$@
# heaptrack's own tracker: the board with boards/sdkconfig.heaptrack_hooks
# where boards/sdkconfig.heaptrack was (as boards/heaptrack_board.cmake builds it).
$(CHECK)/$(1)/hooks/%.ok: $(HT)/%.c $(CHECK)/$(1)/hooks/cflags $(NEWLIB_STUB:%=%/sys/reent.h)
	$(Q)$(CHECK_CC) @$(CHECK)/$(1)/hooks/cflags -MD -MP -MF $$(@:.ok=.d) -MT $$@ $(call compile_to,$(3))
	$(Q)touch $$@
$(CHECK)/$(1)/off/tracker_idf.ok: $(HT)/tracker_idf.c $(CHECK)/$(1)/off/cflags
	$(Q)$(CHECK_CC) @$(CHECK)/$(1)/off/cflags -MD -MP -MF $$(@:.ok=.d) -MT $$@ $(call compile_to,$(3))
	$(Q)touch $$@

# Where the code and data of each tracker's build land (mk/check_placement.py):
# the module's objects with tracker_idf.c's, and with the hooks tracker's.
$(CHECK)/$(1)/placement: $(CHECK)/$(1)/done $(ROOT)/mk/check_placement.py $(ROOT)/boards/$(1)/mpconfigboard.cmake
	$(Q){ $(KCONFGEN_PY) $(ROOT)/mk/check_placement.py --idf $(CHECK_IDF) --chip $(2) --board $(1) \
		--config-dir $(CHECK)/$(1) --label idf --dram-budget $(call board_budget,$(1),DRAM) \
		--iram-budget $(call board_budget,$(1),IRAM) $(foreach f,$(notdir $(SOURCES:.c=)),$(CHECK)/$(1)/$(f).$(call object_ext,$(3))) && \
	$(KCONFGEN_PY) $(ROOT)/mk/check_placement.py --idf $(CHECK_IDF) --chip $(2) --board $(1) \
		--config-dir $(CHECK)/$(1)/hooks --label hooks --dram-budget $(call board_budget,$(1),DRAM) \
		--iram-budget $(call board_budget,$(1),IRAM) $(foreach f,$(filter-out tracker_idf tracker_private idf_heaps,$(notdir $(SOURCES:.c=))),$(CHECK)/$(1)/$(f).$(call object_ext,$(3))) \
		$(foreach f,$(HOOKS_SOURCES:.c=),$(CHECK)/$(1)/hooks/$(f).$(call object_ext,$(3))); } >$$@.tmp || { cat $$@.tmp; rm -f $$@.tmp; exit 1; }
	$(Q)mv -f $$@.tmp $$@

-include $(patsubst $(HT)/%.c,$(CHECK)/$(1)/%.d,$(SOURCES)) $(CHECK)/$(1)/off/tracker_idf.d \
	$(patsubst %.c,$(CHECK)/$(1)/hooks/%.d,$(HOOKS_SOURCES))

$(CHECK)/$(1)/done: $(patsubst $(HT)/%.c,$(CHECK)/$(1)/%.ok,$(SOURCES)) $(CHECK)/$(1)/off/tracker_idf.ok \
		$(patsubst %.c,$(CHECK)/$(1)/hooks/%.ok,$(HOOKS_SOURCES))
	$(Q)touch $$@
endef

uc = $(shell echo '$(1)' | tr a-z A-Z)
# RISC-V: an object. Xtensa: the RISC-V compiler's assembly text (it cannot
# assemble Xtensa's inline assembly), whose data is the chip's (ILP32) and
# whose code means nothing for the chip. $(1) arch.
object_ext = $(if $(filter xtensa,$(1)),s,o)
compile_to = $(if $(filter xtensa,$(1)),-S,-c) -o $$(@:.ok=.$(call object_ext,$(1))) $$<

BOARD_CHIPS := $(foreach b,$(BOARDS),$(b):$(call board_chip,$(b)))
$(foreach bc,$(BOARD_CHIPS),$(eval $(call board_rules,$(word 1,$(subst :, ,$(bc))),$(word 2,$(subst :, ,$(bc))),$(call chip_arch,$(word 2,$(subst :, ,$(bc))),$(word 1,$(subst :, ,$(bc)))))))

RISCV_BOARDS := $(foreach bc,$(BOARD_CHIPS),$(if $(filter $(XTENSA_CHIPS),$(word 2,$(subst :, ,$(bc)))),,$(word 1,$(subst :, ,$(bc)))))
XTENSA_BOARDS := $(filter-out $(RISCV_BOARDS),$(BOARDS))

################################################################################
# The placement check can fail: an IRAM function of native/tests/iram_reaches_flash.c
# calls a flash function of its own, one of ESP-IDF's that this board's
# configuration puts in flash, one whose place heaptrack does not know, and reads
# a string in flash; mk/check_placement.py must name all four.
SELFTEST_BOARD := ESP32_C2
SELFTEST_SOURCE := $(ROOT)/native/tests/iram_reaches_flash.c
$(CHECK)/placement-selftest: $(SELFTEST_SOURCE) $(ROOT)/mk/check_placement.py $(CHECK)/$(SELFTEST_BOARD)/done
	$(Q)$(CHECK_CC) @$(CHECK)/$(SELFTEST_BOARD)/cflags -c -o $(CHECK)/iram_reaches_flash.o $<
	$(Q)! $(KCONFGEN_PY) $(ROOT)/mk/check_placement.py --idf $(CHECK_IDF) --chip $(call board_chip,$(SELFTEST_BOARD)) \
		--board $(SELFTEST_BOARD) --config-dir $(CHECK)/$(SELFTEST_BOARD) $(CHECK)/iram_reaches_flash.o >$@.log || \
		{ cat $@.log; echo "check-idf: mk/check_placement.py passed native/tests/iram_reaches_flash.c"; exit 1; }
	$(Q)for want in 'refers to flash_helper, in .text' 'in .rodata' 'uses heap_caps_get_info: not a symbol' \
		'uses pcTaskGetName: libfreertos.a:tasks:pcTaskGetName (default) -> flash_text'; do \
		grep -qF "$$want" $@.log || { cat $@.log; echo "check-idf: mk/check_placement.py missed '$$want' in native/tests/iram_reaches_flash.c"; exit 1; }; done
	$(Q)echo "it fails native/tests/iram_reaches_flash.c, as it must ($(SELFTEST_BOARD))." >$@

################################################################################
# The virtual board's chips against the firmware each stands for: one per
# folder of boards/HOST/chips, whose chip.mk names the heaptrack board (and
# upstream variant) it is (CHIP_BOARD). kconfgen makes that firmware's
# sdkconfig.h from the same fragments a real build uses (upstream's board and
# variant, then boards/sdkconfig.heaptrack and the board's extra fragments, or
# sdkconfig.heaptrack_hooks), with the C library the firmware has, in
# build/check-idf/host-<chip>/ (and .../hooks/); mk/check_host_config.py
# compares values, ESP-IDF's heap sources as preprocessed (by the host's own
# build, boards/HOST/esp_idf.mk, both ways), the mbedTLS options and the TCB's
# size, and boards/HOST/chips/intended.h lists what differs on purpose.

include $(ROOT)/boards/HOST/chips.mk
HOST_CHIPS_CHECKED := $(HOST_CHIP_NAMES)
ifeq ($(HOST_CHIPS_CHECKED),)
$(error check-idf: no boards/HOST/chips/<chip>/chip.mk: the virtual board's chips)
endif
HOST_INTENDED := $(HOST_CHIPS_DIR)/intended.h
HOST_MBEDTLS_CONFIG := $(ROOT)/boards/HOST/mbedtls/mbedtls_sdkconfig.h
host_target = $(call host_chip_var,$(1),CHIP_TARGET)
host_board = $(word 1,$(call host_chip_var,$(1),CHIP_BOARD))
host_variant = $(word 2,$(call host_chip_var,$(1),CHIP_BOARD))
# The fragments upstream's variant $(2) of board $(1) adds to the board's.
upstream_variant_fragments = $(if $(2),$(addprefix $(PORT_DIR)/,$(shell sed -n 's/^[[:space:]]*\(boards\/[^[:space:]()]*\).*/\1/p' \
	$(PORT_DIR)/boards/$(1)/mpconfigvariant_$(2).cmake)))
# $(1) host chip, $(2) heaptrack's fragment.
host_fragments = $(call upstream_fragments,$(call board_upstream,$(call host_board,$(1)))) \
	$(call upstream_variant_fragments,$(call board_upstream,$(call host_board,$(1))),$(call host_variant,$(1))) \
	$(2) $(call board_extra_sdkconfig,$(call host_board,$(1)))
HOST_IDF_MK := $(ROOT)/boards/HOST/esp_idf.mk
# newlib's headers (Debian: libnewlib-dev), for the size of its struct _reent.
NEWLIB_INCLUDE ?= /usr/include/newlib
HOST_CC ?= cc

# $(1) host chip
define host_check_rules
$(call kconfig_rules,$(CHECK)/host-$(1),$(call host_target,$(1)),$(call host_fragments,$(1),$(ROOT)/boards/sdkconfig.heaptrack))
$(call kconfig_rules,$(CHECK)/host-$(1)/hooks,$(call host_target,$(1)),$(call host_fragments,$(1),$(ROOT)/boards/sdkconfig.heaptrack_hooks))
$(CHECK)/host-$(1)/done: $(HOST_CHIPS_DIR)/$(1)/sdkconfig.h $(HOST_CHIPS_DIR)/$(1)/chip.mk $(wildcard $(HOST_CHIPS_DIR)/*.h) $(HOST_MBEDTLS_CONFIG) \
		$(CHECK)/host-$(1)/sdkconfig.h $(CHECK)/host-$(1)/hooks/sdkconfig.h $(CHECK)/$(call host_board,$(1))/cflags \
		$(ROOT)/mk/check_host_config.py $(HOST_IDF_MK) FORCE
	$(Q)for d in $(CHECK)/host-$(1) $(CHECK)/host-$(1)/hooks; do mkdir -p $$$$d/first && \
		printf '%s\n' "// kconfgen's sdkconfig.h, then what the virtual board sets otherwise on purpose (made by mk/check-idf.mk)" \
		"#include \"$$$$d/sdkconfig.h\"" '#include "$(HOST_INTENDED)"' >$$$$d/first/sdkconfig.h; done
	+$(Q)pp() { $(MAKE) --no-print-directory -f $(HOST_IDF_MK) preprocessed IDF_SRC=$(CHECK_IDF) CC='$(HOST_CC)' \
		CHIP=$(call host_target,$(1)) PSRAM=$(call host_chip_var,$(1),CHIP_PSRAM) OUT=$(CHECK)/host-$(1)/pp-$$$$1 $$$$2; }; \
	rm -rf $(CHECK)/host-$(1)/pp-* && \
	pp host "TRACKING=1 TRACKER=idf" && pp board "TRACKING=1 TRACKER=idf SDKCONFIG_FIRST=$(CHECK)/host-$(1)/first" && \
	pp host-hooks "TRACKING=0 TRACKER=hooks" && pp board-hooks "TRACKING=0 TRACKER=hooks SDKCONFIG_FIRST=$(CHECK)/host-$(1)/hooks/first" && \
	mkdir -p $(CHECK)/host-$(1)/pp && for d in host board host-hooks board-hooks; do rm -rf $(CHECK)/host-$(1)/pp/$$$$d && \
		mv $(CHECK)/host-$(1)/pp-$$$$d/pp $(CHECK)/host-$(1)/pp/$$$$d; done
	$(Q)$(KCONFGEN_PY) $(ROOT)/mk/check_host_config.py --chip $(1) --board "$(strip $(call host_board,$(1)) $(call host_variant,$(1)))" \
		--hand $(HOST_CHIPS_DIR)/$(1) --intended $(HOST_INTENDED) --kconfgen $(CHECK)/host-$(1) \
		--kconfgen-hooks $(CHECK)/host-$(1)/hooks --pp $(CHECK)/host-$(1)/pp --cc $(CHECK_CC) \
		--cflags $(CHECK)/$(call host_board,$(1))/cflags --newlib-include $(NEWLIB_INCLUDE) \
		--mbedtls-config $(HOST_MBEDTLS_CONFIG) >$$@.tmp || \
		{ cat $$@.tmp; rm -f $$@.tmp; exit 1; }
	$(Q)mv -f $$@.tmp $$@
endef
$(foreach h,$(HOST_CHIPS_CHECKED),$(eval $(call host_check_rules,$(h))))
HOST_CHECKS := $(foreach h,$(HOST_CHIPS_CHECKED),$(CHECK)/host-$(h)/done)

################################################################################

ifeq ($(HOOKS_ONLY),1)
# The boards whose chip this ESP-IDF supports (an older one has some only in preview).
chip_supported = $(wildcard $(C)/soc/$(1)/include/soc/soc.h)
HOOKS_BOARD_CHIPS := $(foreach bc,$(BOARD_CHIPS),$(if $(call chip_supported,$(word 2,$(subst :, ,$(bc)))),$(bc)))
HOOKS_RISCV_BOARDS := $(filter $(RISCV_BOARDS),$(foreach bc,$(HOOKS_BOARD_CHIPS),$(word 1,$(subst :, ,$(bc)))))
# Where the hooks tracker's IRAM code lands with this ESP-IDF (its RAM is the
# full check's).
$(CHECK)/%/hooks/placement: $(foreach f,$(HOOKS_SOURCES:.c=.ok),$(CHECK)/%/hooks/$(f)) $(ROOT)/mk/check_placement.py
	$(Q)$(KCONFGEN_PY) $(ROOT)/mk/check_placement.py --idf $(CHECK_IDF) --chip $(call board_chip,$*) --board $* \
		--config-dir $(CHECK)/$*/hooks --label hooks $(foreach f,$(HOOKS_SOURCES:.c=.o),$(CHECK)/$*/hooks/$(f)) >$@.tmp || \
		{ cat $@.tmp; rm -f $@.tmp; exit 1; }
	$(Q)mv -f $@.tmp $@
all: $(foreach bc,$(HOOKS_BOARD_CHIPS),$(patsubst %.c,$(CHECK)/$(word 1,$(subst :, ,$(bc)))/hooks/%.ok,$(HOOKS_SOURCES))) \
		$(foreach b,$(HOOKS_RISCV_BOARDS),$(CHECK)/$(b)/hooks/placement)
	@echo "  files    $(HOOKS_SOURCES), each board with boards/sdkconfig.heaptrack_hooks (ESP-IDF $(CHECK_IDF_VERSION))"
	@$(foreach bc,$(BOARD_CHIPS),printf '  %-8s %-9s %s\n' $(word 2,$(subst :, ,$(bc))) $(word 1,$(subst :, ,$(bc))) \
		$(if $(filter $(bc),$(HOOKS_BOARD_CHIPS)),$(if $(filter $(XTENSA_CHIPS),$(word 2,$(subst :, ,$(bc)))),'Xtensa: compiled to assembly text','RISC-V: compiled'),'not in this ESP-IDF: skipped');)
	@cat $(foreach b,$(HOOKS_RISCV_BOARDS),$(CHECK)/$(b)/hooks/placement)
	@echo "check-idf: OK (ESP-IDF $(CHECK_IDF_VERSION): the hooks tracker)"
else
all: $(foreach b,$(RISCV_BOARDS) $(XTENSA_BOARDS),$(CHECK)/$(b)/done $(CHECK)/$(b)/placement) $(HOST_CHECKS) \
		$(CHECK)/placement-selftest
	@echo "  files    $(notdir $(SOURCES)); tracker_idf.c also with tracking off;"
	@echo "           $(HOOKS_SOURCES) with boards/sdkconfig.heaptrack_hooks"
	@$(foreach bc,$(BOARD_CHIPS),printf '  %-8s %-9s %s, %s\n' $(word 2,$(subst :, ,$(bc))) $(word 1,$(subst :, ,$(bc))) \
		$(if $(filter $(XTENSA_CHIPS),$(word 2,$(subst :, ,$(bc)))),'Xtensa: compiled to assembly text','RISC-V: compiled') \
		"at $$(tr ' ' '\n' <$(CHECK)/$(word 1,$(subst :, ,$(bc)))/cflags | grep '^-O' | head -1) (its sdkconfig)";)
	@echo "  where code and data land (mk/check_placement.py): per board and tracker, heaptrack's static"
	@echo "  RAM against the board's budget, and every function its IRAM code calls, placed as ESP-IDF's"
	@echo "  linker fragments and ROM scripts place it for that board; $$(cat $(CHECK)/placement-selftest)"
	@cat $(foreach b,$(RISCV_BOARDS) $(XTENSA_BOARDS),$(CHECK)/$(b)/placement)
	@cat $(HOST_CHECKS)
	@echo "check-idf: OK"
endif
