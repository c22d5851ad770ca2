# Which ESP-IDF the host build compiles, and the proof that it is the pinned
# tag's. Included by the top-level Makefile.
#
# IDF_PATH is used when it is ESP-IDF $(IDF_TAG) (by tools/cmake/version.cmake);
# otherwise `make` checks out just the directories it needs into
# build/esp-idf, from https://github.com/espressif/esp-idf.git
# (mk/esp-idf-source.sh). Either way, before compiling, every upstream file the
# host compiles is checked (mk/esp-idf-verify.sh) against
# mk/esp-idf-$(IDF_TAG).sha1, git's blob hashes of those files at the tag, and
# of tlsf's and Unity's at their commits (`make idf-manifest` writes it from a
# checkout of the tag), and the tlsf and Unity commits used are named, with
# whether each is ESP-IDF's pin.

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
# every chip the virtual board can be), the heap's own headers, the heap's test
# cases and ESP-IDF's Unity glue that the C tests build; and of ESP-IDF's pinned
# submodules, the tlsf and Unity files they compile.
IDF_MANIFEST_PATHS := components/heap/heap_caps_base.c components/heap/heap_caps.c \
	components/heap/heap_caps_init.c components/heap/multi_heap.c components/heap/heap_task_info.c \
	components/heap/port/memory_layout_utils.c \
	$(foreach t,$(sort $(foreach n,$(HOST_CHIP_NAMES),$(call host_chip_var,$(n),CHIP_TARGET))),components/heap/port/$(t)/memory_layout.c) \
	components/esp_mm/heap_align_hw.c components/esp_hw_support/esp_memory_utils.c \
	components/heap/include components/heap/private_include \
	components/heap/heap_private.h components/heap/multi_heap_internal.h \
	components/heap/multi_heap_platform.h components/heap/multi_heap_config.h \
	components/heap/test_apps/heap_tests/main \
	components/unity/unity_runner.c components/unity/unity_compat.c components/unity/unity_port_linux.c \
	components/unity/include
IDF_SUBMODULE_FILES_components/heap/tlsf := tlsf.c include/tlsf.h tlsf_block_functions.h tlsf_control_functions.h
IDF_SUBMODULE_FILES_components/unity/unity := src/unity.c src/unity.h src/unity_internals.h
IDF_SUBMODULES := components/heap/tlsf components/unity/unity

# Verified for the tree in use, whichever it is (the stamp is named after its
# path) and every time: a few dozen hashes. The stamp changes, and its summary
# is printed, only when what was found does.
IDF_SOURCE_STAMP := $(BUILD_DIR)/.esp-idf-$(IDF_TAG)-$(shell printf '%s' '$(HEAPTRACK_IDF_SRC)' | cksum | cut -d' ' -f1).verified

.PHONY: idf-source idf-manifest FORCE
idf-source: $(IDF_SOURCE_STAMP)

$(IDF_SOURCE_STAMP): FORCE
	@command -v git >/dev/null || { echo "the host build needs git, to get ESP-IDF $(IDF_TAG)'s heap sources"; exit 1; }
	@$(if $(filter $(IDF_CHECKOUT),$(HEAPTRACK_IDF_SRC)),$(ROOT)/mk/esp-idf-source.sh $(IDF_CHECKOUT) $(IDF_TAG) >/dev/null,true)
	@summary=$$($(ROOT)/mk/esp-idf-verify.sh $(HEAPTRACK_IDF_SRC) $(IDF_MANIFEST)) || exit 1; \
	grep -q tlsf_find_containing_block $(HEAPTRACK_IDF_SRC)/components/heap/tlsf/include/tlsf.h || \
		summary="$$summary; that tlsf lacks tlsf_find_containing_block: boards/HOST/esp_idf/tlsf_compat.c supplies it"; \
	summary="$$summary (at $(HEAPTRACK_IDF_SRC))"; \
	mkdir -p $(dir $@); \
	if [ "$$(cat $@ 2>/dev/null)" != "$$summary" ]; then echo "$$summary" >$@; echo "$$summary"; fi

# Rewrites the manifest from a checkout of $(IDF_TAG) (after an ESP-IDF bump):
# ESP-IDF's files at the tag, its submodules' pins, and their files at the
# commits checked out, keeping the lines of other commits already recorded.
idf-manifest:
	$(ROOT)/mk/esp-idf-source.sh $(IDF_CHECKOUT) $(IDF_TAG)
	@{ echo "# ESP-IDF $(IDF_TAG): git blob hashes of every upstream file the host build and the C tests compile"; \
	echo "# (make idf-manifest; checked by mk/esp-idf-verify.sh). Submodule files name their commit."; \
	echo "tag $(IDF_TAG)"; \
	$(foreach m,$(IDF_SUBMODULES),echo "pin $(m) $$(git -C $(IDF_CHECKOUT) rev-parse $(IDF_TAG):$(m))";) \
	git -C $(IDF_CHECKOUT) ls-tree -r $(IDF_TAG) -- $(IDF_MANIFEST_PATHS) | awk '$$2 == "blob" { print $$3 "  " $$4 }'; \
	$(foreach m,$(IDF_SUBMODULES),c=$$(git -C $(IDF_CHECKOUT)/$(m) rev-parse HEAD); \
		git -C $(IDF_CHECKOUT)/$(m) ls-tree -r HEAD -- $(IDF_SUBMODULE_FILES_$(m)) | \
			awk -v m=$(m) -v c=$$c '{ print $$3 "  " m "/" $$4 "  " c }'; \
		awk -v m=$(m)/ -v c=$$c 'NF == 3 && index($$2, m) == 1 && $$3 != c' $(IDF_MANIFEST) 2>/dev/null;) \
	} >$(IDF_MANIFEST).new && mv $(IDF_MANIFEST).new $(IDF_MANIFEST)
