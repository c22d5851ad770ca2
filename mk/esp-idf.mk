# Which ESP-IDF the host build compiles, and the proof that it is the pinned
# tag's. Included by the top-level Makefile.
#
# IDF_PATH is used when it is ESP-IDF $(IDF_TAG) (by tools/cmake/version.cmake);
# otherwise `make` checks out just the directories it needs into
# build/esp-idf, from https://github.com/espressif/esp-idf.git
# (mk/esp-idf-source.sh). Either way, before compiling, every ESP-IDF file
# the host compiles is checked against mk/esp-idf-$(IDF_TAG).sha1, git's blob
# hashes of those files at the tag (`make idf-manifest` writes it from a
# checkout of the tag), and the tlsf and Unity used are named.

IDF_TAG := v5.5.4
IDF_CHECKOUT := $(BUILD_DIR)/esp-idf
IDF_MANIFEST := $(ROOT)/mk/esp-idf-$(IDF_TAG).sha1

idf_version = $(shell sed -n 's/^set(IDF_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\))/\2/p' $(1)/tools/cmake/version.cmake 2>/dev/null | paste -sd. -)
ifneq ($(IDF_PATH),)
ifeq (v$(call idf_version,$(IDF_PATH)),$(IDF_TAG))
HEAPTRACK_IDF_SRC ?= $(IDF_PATH)
endif
endif
HEAPTRACK_IDF_SRC ?= $(IDF_CHECKOUT)

# The files the manifest covers: what boards/HOST/esp_idf.mk compiles (for
# every chip the virtual board can be), the
# heap's own headers, the heap's test cases and ESP-IDF's Unity glue that the C
# tests build (Unity itself is named by its commit).
IDF_MANIFEST_PATHS := components/heap/heap_caps_base.c components/heap/heap_caps.c \
	components/heap/heap_caps_init.c components/heap/multi_heap.c components/heap/heap_task_info.c \
	components/heap/port/memory_layout_utils.c components/heap/port/esp32s3/memory_layout.c \
	components/heap/port/esp32/memory_layout.c components/heap/port/esp32c3/memory_layout.c \
	components/esp_mm/heap_align_hw.c components/heap/include components/heap/private_include \
	components/heap/heap_private.h components/heap/multi_heap_internal.h \
	components/heap/multi_heap_platform.h components/heap/multi_heap_config.h \
	components/heap/test_apps/heap_tests/main \
	components/unity/unity_runner.c components/unity/unity_compat.c components/unity/unity_port_linux.c \
	components/unity/include

IDF_SOURCE_STAMP := $(BUILD_DIR)/.esp-idf-$(IDF_TAG).verified

.PHONY: idf-source idf-manifest
idf-source: $(IDF_SOURCE_STAMP)

$(IDF_SOURCE_STAMP): $(IDF_MANIFEST) $(ROOT)/mk/esp-idf-source.sh
	@command -v git >/dev/null || { echo "the host build needs git, to get ESP-IDF $(IDF_TAG)'s heap sources"; exit 1; }
	@$(if $(filter $(IDF_CHECKOUT),$(HEAPTRACK_IDF_SRC)),$(ROOT)/mk/esp-idf-source.sh $(IDF_CHECKOUT) $(IDF_TAG) >/dev/null,true)
	@cd $(HEAPTRACK_IDF_SRC) && bad=$$(while read -r sha path; do \
		test "$$(git hash-object "$$path" 2>/dev/null)" = "$$sha" || echo "$$path"; done <$(IDF_MANIFEST)); \
		if [ -n "$$bad" ]; then echo "ESP-IDF at $(HEAPTRACK_IDF_SRC) differs from $(IDF_TAG) in:"; echo "$$bad"; exit 1; fi
	@echo "ESP-IDF $(IDF_TAG) at $(HEAPTRACK_IDF_SRC): $$(wc -l <$(IDF_MANIFEST)) files match the tag byte for byte;" \
		"tlsf $$(git -C $(HEAPTRACK_IDF_SRC)/components/heap/tlsf log -1 --format=%h 2>/dev/null || echo '(not a git checkout)')," \
		"Unity $$(git -C $(HEAPTRACK_IDF_SRC)/components/unity/unity log -1 --format=%h 2>/dev/null || echo '(not a git checkout)')"
	@mkdir -p $(dir $@) && touch $@

# Rewrites the manifest from a checkout of $(IDF_TAG) (after an ESP-IDF bump).
idf-manifest:
	$(ROOT)/mk/esp-idf-source.sh $(IDF_CHECKOUT) $(IDF_TAG)
	git -C $(IDF_CHECKOUT) ls-tree -r $(IDF_TAG) -- $(IDF_MANIFEST_PATHS) | awk '{print $$3 "  " $$4}' >$(IDF_MANIFEST)
