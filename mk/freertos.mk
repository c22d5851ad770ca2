# Which FreeRTOS-Kernel the QEMU board (boards/QEMU_RV32) compiles, and the
# proof that it is the pinned tag's, as mk/esp-idf.mk does for ESP-IDF:
# mk/freertos-source.sh checks the kernel and its GCC RISC-V port out into
# build/freertos-kernel from https://github.com/FreeRTOS/FreeRTOS-Kernel.git,
# and before anything is compiled every file the board compiles or includes is
# checked (mk/esp-idf-verify.sh) against mk/freertos-kernel-$(FREERTOS_TAG).sha1,
# git's blob hashes of those files at the tag (`make freertos-manifest` writes it).
# Included by the top-level Makefile.

FREERTOS_TAG := V11.1.0
FREERTOS_SRC := $(BUILD_DIR)/freertos-kernel
FREERTOS_MANIFEST := $(ROOT)/mk/freertos-kernel-$(FREERTOS_TAG).sha1
FREERTOS_MANIFEST_PATHS := tasks.c queue.c list.c include portable/GCC/RISC-V
FREERTOS_STAMP := $(BUILD_DIR)/.freertos-kernel-$(FREERTOS_TAG).verified

.PHONY: freertos-source freertos-manifest
freertos-source: $(FREERTOS_STAMP)

$(FREERTOS_STAMP): FORCE
	@$(ROOT)/mk/freertos-source.sh $(FREERTOS_SRC) $(FREERTOS_TAG) >/dev/null
	@summary=$$($(ROOT)/mk/esp-idf-verify.sh $(FREERTOS_SRC) $(FREERTOS_MANIFEST) FreeRTOS-Kernel) || exit 1; \
	if [ "$$(cat $@ 2>/dev/null)" != "$$summary" ]; then echo "$$summary" >$@; echo "$$summary"; fi

freertos-manifest:
	$(ROOT)/mk/freertos-source.sh $(FREERTOS_SRC) $(FREERTOS_TAG)
	@{ echo "# FreeRTOS-Kernel $(FREERTOS_TAG): git blob hashes of every upstream file the QEMU board compiles or includes"; \
	echo "# (make freertos-manifest; checked by mk/esp-idf-verify.sh)."; \
	echo "tag $(FREERTOS_TAG)"; \
	git -C $(FREERTOS_SRC) ls-tree -r $(FREERTOS_TAG) -- $(FREERTOS_MANIFEST_PATHS) | awk '$$2 == "blob" { print $$3 "  " $$4 }'; \
	} >$(FREERTOS_MANIFEST).new && mv $(FREERTOS_MANIFEST).new $(FREERTOS_MANIFEST)
