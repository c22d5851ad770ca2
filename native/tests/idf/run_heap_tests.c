// Runs ESP-IDF's heap test cases (components/heap/test_apps/heap_tests/main,
// compiled unmodified) on the host build of ESP-IDF's heap, with ESP-IDF's
// Unity and its test-case registry (unity_runner.c), as ESP-IDF's CI runs
// them on a chip, minus the interactive menu: every registered test case, in
// file and line order, then Unity's summary. Exit status: the failure count.
// The QEMU board runs it too (HT_TEST_QEMU: the ESP32-C3's configuration).
//
//   run_heap_tests [NAME...]   only the test cases with these names
//
// Test cases that cannot pass on the host (or the QEMU board) for a reason of
// the host (or the board), not of the heap, are listed in s_host_skips with
// that reason; they are reported as IGNORED (Unity's own "skipped, and why")
// and counted in the summary.
#include <stdio.h>
#include <string.h>

#include "sdkconfig.h"
#include "unity.h"
#include "unity_test_runner.h"

#if HT_TEST_QEMU
#include "qemu_board.h"
#else
#include "host_chip.h"
#endif

typedef struct {
    const char *name;
    const char *reason;
} host_skip_t;

static const host_skip_t s_host_skips[] = {
#if HT_TEST_QEMU
    // QEMU's virt machine has RAM only from 0x80000000: the board moves the
    // ESP32-C3's SRAM and RTC memory there (boards/QEMU_RV32/qemu_board.h),
    // where ESP-IDF's esp_ptr_*() tests, which compare with the chip's
    // addresses, no longer see them, and maps no instruction-bus alias.
    { "Allocate D/IRAM as DRAM",
      "the QEMU board moves the C3's SRAM to 0x80400000, off the D/IRAM addresses esp_ptr_in_diram_dram() checks "
      "(ESP-IDF tags it qemu-ignore too)" },
    { "Allocate D/IRAM as IRAM",
      "the QEMU board moves the C3's SRAM to 0x80400000, off the D/IRAM addresses esp_ptr_in_diram_iram() checks "
      "(ESP-IDF tags it qemu-ignore too)" },
    { "test heap_caps_malloc_prefer for dma memory",
      "the QEMU board moves the C3's SRAM to 0x80400000, off the addresses esp_ptr_dma_capable() checks" },
    { "test heap_caps_calloc_prefer for dma memory",
      "the QEMU board moves the C3's SRAM to 0x80400000, off the addresses esp_ptr_dma_capable() checks" },
    { "test memory protection features",
      "the QEMU board maps no instruction-bus alias of the C3's SRAM: heap_caps_malloc(MALLOC_CAP_EXEC) hands "
      "out an address esp_ptr_in_iram() does not see in the moved memory" },
    { "realloc shrink buffer with EXEC CAPS",
      "the QEMU board maps no instruction-bus alias of the C3's SRAM: heap_caps_malloc(MALLOC_CAP_EXEC) hands "
      "out an address esp_ptr_executable() does not see in the moved memory" },
    { "Add .bss memory to heap region runtime",
      "the QEMU board's program and its .bss lie below the chip's (moved) memories, so heap_caps_add_region "
      "finds no memory type for it" },
    // Not the board's addresses: the app's RTC data. The virtual ESP32-C3's
    // RTC data ends where the ESP32-C3 boot log cited in host_tests/test_chips.py
    // has it (_rtc_force_slow_end), which leaves ESP-IDF 3556 bytes of RTC heap;
    // ESP-IDF's test app keeps less RTC data. heaptrack's own ESP32_C3
    // firmware has not been linked here (no Espressif toolchain).
    { "RTC memory should be lowest priority and its free size should be big enough",
      "wants 4 KiB free in the RTC heap: this firmware's RTC data (as the cited C3 boot log's) leaves 3556 bytes" },
#else
    { "Add .bss memory to heap region runtime",
      "the host's .bss is not in the chip's DRAM, so heap_caps_add_region finds no memory type for it" },
    { "Add heap region address range checks",
      "the test declares heap_caps_check_add_region_allowed(), a bool function, as returning esp_err_t; "
      "i386 returns a bool in AL and leaves the rest of EAX undefined (Xtensa and RISC-V widen it), "
      "so false reads as non-zero here" },
#endif
#if !HT_TEST_QEMU && !HOST_CHIP_PSRAM
    // ESP-IDF's test app takes CONFIG_SPIRAM to mean that the board has PSRAM;
    // heaptrack's ESP32_S3 firmware has CONFIG_SPIRAM and runs without PSRAM
    // where the module has none, as this virtual ESP32-S3 does.
    // run_heap_tests_psram runs them, with PSRAM.
    { "Capabilities aligned allocator test", "needs PSRAM, which this ESP32-S3 module has not" },
    { "Capabilities aligned calloc test", "needs PSRAM, which this ESP32-S3 module has not" },
    { "Check if reserved DMA pool still can allocate even when malloc()'ed memory is exhausted",
      "needs PSRAM, which this ESP32-S3 module has not" },
    { "Check if default cap allocates in external memory in priority", "needs PSRAM, which this ESP32-S3 module has not" },
#endif
#if defined(__SANITIZE_ADDRESS__)
    // The sanitizer build moves the chip's DRAM out of ASan's 32-bit shadow
    // (boards/HOST/esp_idf/chip.c); blocks are no longer at DMA-capable addresses.
    { "test heap_caps_malloc_prefer for dma memory",
      "under ASan the shim moves DRAM below 0x10000000; esp_ptr_dma_capable() checks the chip's addresses" },
    { "test heap_caps_calloc_prefer for dma memory",
      "under ASan the shim moves DRAM below 0x10000000; esp_ptr_dma_capable() checks the chip's addresses" },
    { "test memory protection features",
      "under ASan the shim moves DRAM below 0x10000000; heap_caps_malloc(MALLOC_CAP_EXEC) finds it off the "
      "chip's D/IRAM addresses and hands out no instruction-bus alias for esp_ptr_in_iram() to see" },
    { "realloc shrink buffer with EXEC CAPS",
      "under ASan the shim moves DRAM below 0x10000000; heap_caps_malloc(MALLOC_CAP_EXEC) hands out no "
      "instruction-bus alias there for esp_ptr_executable() to see" },
    { "Allocate D/IRAM as DRAM",
      "under ASan the shim moves DRAM below 0x10000000, off the chip's D/IRAM addresses the test looks for" },
    { "Allocate D/IRAM as IRAM",
      "under ASan the shim moves DRAM below 0x10000000, off the chip's D/IRAM addresses the test looks for" },
#endif
};

static const char *s_skip_reason;

static int s_skip_line;

static void skip_on_host(void) {
    UNITY_TEST_IGNORE(s_skip_line, s_skip_reason);   // reported at the test case's line
}

static const char *host_skip(const char *name) {
    for (size_t i = 0; i < sizeof(s_host_skips) / sizeof(s_host_skips[0]); ++i) {
        if (strcmp(s_host_skips[i].name, name) == 0) {
            return s_host_skips[i].reason;
        }
    }
    return NULL;
}

static int selected(const char *name, int argc, char **argv) {
    if (argc < 2) {
        return 1;
    }
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

#if HT_TEST_QEMU
// The board runs it as the task mp_task (boards/QEMU_RV32/chip.c).
int qemu_app_main(int argc, char **argv) {
#else
int main(int argc, char **argv) {
#endif
    #if defined(HOST_CHIP_PSRAM) && HOST_CHIP_PSRAM
    // What ESP-IDF's main task does for a board with PSRAM before app_main,
    // where the test app runs: internal RAM set aside for DMA (host_chip.h).
    host_chip.main_task_start();
    #endif
    UNITY_BEGIN();
    int count = unity_get_test_count();
    for (int i = 0; i < count; ++i) {
        test_desc_t test;
        if (!unity_get_test_info(i, &test) || !selected(test.name, argc, argv)) {
            continue;
        }
        s_skip_reason = host_skip(test.name);
        if (s_skip_reason == NULL) {
            unity_run_test_by_index(i);
        } else {
            // What unity_run_single_test does, with the test body replaced.
            UnityPrint("Running ");
            UnityPrint(test.name);
            UnityPrint("...");
            UNITY_PRINT_EOL();
            Unity.TestFile = test.file;
            Unity.CurrentDetail1 = test.desc;
            s_skip_line = test.line;
            UnityDefaultTestRun(skip_on_host, test.name, test.line);
        }
    }
    return UNITY_END();
}
