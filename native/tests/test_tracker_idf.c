// Unit tests of heaptrack's ESP-IDF tracker (native/heaptrack/tracker_idf.c)
// through tracker.h, on ESP-IDF's real heap and task tracking built for the
// host (boards/HOST/esp_idf.mk): ESP32-S3's heaps (or the ESP32-C3's),
// FreeRTOS tasks as threads. No MicroPython. `make -C native/tests` runs it
// these ways:
//
//   test_tracker_idf             the library as the firmware has it: the chip's
//                                real addresses, which some checks assert
//   test_tracker_idf_asan        ASan + UBSan; the shim moves DRAM out of ASan's
//                                shadow, so no check here names an address
//   test_tracker_idf_notracking  the library without heap task tracking
//                                (HT_TEST_TRACKING=0): heap calls work,
//                                statistics are unsupported
//   test_tracker_idf_hooks[_asan] the same tests of tracker.h on heaptrack's
//                                hooks tracker (tracker_hooks.c, HT_TEST_HOOKS=1),
//                                ESP-IDF's task tracking off; the few places
//                                where the two differ by design say so
//   test_tracker_idf_c3          the virtual ESP32-C3 (its sdkconfig.h): the
//                                chip the QEMU board is
//
// Every S3 run re-executes itself once with a PSRAM heap added
// (HEAPTRACK_IDF_REGIONS, which the shim reads at start-up) for the tests that
// need one. The heap is the process's: tests leave no heaptrack block behind
// (the harness checks) and compare before/after rather than absolute figures.
//
// The same file runs on the QEMU board (HT_TEST_QEMU, native/tests/qemu/):
// upstream FreeRTOS-Kernel with preemption on an emulated RV32IMC CPU, ESP-IDF's
// heap with the ESP32-C3's layout moved into QEMU's RAM, both trackers; its
// threads are FreeRTOS tasks (boards/QEMU_RV32/include/pthread.h).
//
// The tests are in topic files over one harness (harness.h): test_api.c,
// test_stats.c, test_concurrency.c, test_psram.c, test_failures.c. This file
// lists them, in the order they run, and runs them.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

void test_bad_free(void);
void test_block_owner(void);
void test_concurrency(void);
void test_current_task(void);
void test_deleted_tasks(void);
void test_dma_pool_kept(void);
void test_err_text(void);
void test_failure_exhausted(void);
void test_failure_fragmented(void);
void test_failure_gc_figures(void);
void test_failure_psram_or_internal(void);
void test_failure_ring(void);
void test_failure_wrong_caps(void);
void test_free_all(void);
void test_free_all_races_free(void);
void test_free_by_other_task(void);
void test_full_heap(void);
void test_handle_reuse(void);
void test_heap_and_block_order(void);
void test_malloc_free(void);
void test_no_heap_for_caps(void);
void test_psram(void);
void test_realloc_miscount(void);
void test_records_counted(void);
void test_records_heap_full(void);
void test_region_info(void);
void test_registry_full(void);
void test_report_bound(void);
void test_reset_peak_and_clear(void);
void test_single_task_snapshot(void);
void test_snapshot_changes_nothing(void);
void test_snapshot_no_memory(void);
void test_snapshot_slots(void);
void test_snapshot_under_churn(void);
void test_stats_and_peaks(void);
void test_task_order_and_names(void);
void test_threads_are_tasks(void);
void test_totals_snapshot(void);
void test_tracking_off(void);
void test_vm_restart_reclaims(void);

/******************************************************************************/

static const test_t g_tests[] = {
    { "err_text", test_err_text, NULL },
    { "current_task", test_current_task, NULL },
    { "malloc_free", test_malloc_free, NULL },
    { "no_heap_for_caps", test_no_heap_for_caps, NULL },
    { "full_heap", test_full_heap, NULL },
    { "bad_free", test_bad_free, NULL },
    { "free_all", test_free_all, NULL },
    { "failure_wrong_caps", test_failure_wrong_caps, NULL },
    { "failure_exhausted", test_failure_exhausted, NULL },
    { "failure_fragmented", test_failure_fragmented, NULL },
    { "failure_ring", test_failure_ring, NULL },
    { "failure_gc_figures", test_failure_gc_figures, NULL },
    #if !HT_TEST_HOOKS
    { "registry_full", test_registry_full, NULL },
    #endif
    { "region_info", test_region_info, NULL },
    { "threads_are_tasks", test_threads_are_tasks, NULL },
    #if HT_TEST_TRACKING
    { "stats_and_peaks", test_stats_and_peaks, NULL },
    { "heap_and_block_order", test_heap_and_block_order, NULL },
    { "task_order_and_names", test_task_order_and_names, NULL },
    { "free_by_other_task", test_free_by_other_task, NULL },
    { "deleted_tasks", test_deleted_tasks, NULL },
    { "handle_reuse", test_handle_reuse, NULL },
    { "single_task_snapshot", test_single_task_snapshot, NULL },
    { "snapshot_changes_nothing", test_snapshot_changes_nothing, NULL },
    { "snapshot_slots", test_snapshot_slots, NULL },
    { "vm_restart_reclaims", test_vm_restart_reclaims, NULL },
    { "snapshot_under_churn", test_snapshot_under_churn, NULL },
    { "totals_snapshot", test_totals_snapshot, NULL },
    { "block_owner", test_block_owner, NULL },
    { "records_counted", test_records_counted, NULL },
    { "reset_peak_and_clear", test_reset_peak_and_clear, NULL },
    #else
    { "tracking_off", test_tracking_off, NULL },
    #endif
    { "concurrency", test_concurrency, NULL },
    { "free_all_races_free", test_free_all_races_free, NULL },
    #if HT_TEST_TRACKING
    { "snapshot_no_memory", test_snapshot_no_memory, NULL },
    #if !HT_TEST_HOOKS
    // These two leave records whose figures do not add up: last.
    { "records_heap_full", test_records_heap_full, NULL },
    { "realloc_miscount", test_realloc_miscount, NULL },
    #endif
    #endif
};

static const test_t g_psram_tests[] = {
    { "psram", test_psram, NULL },
    #if HT_TEST_TRACKING
    { "report_bound", test_report_bound, NULL },
    #endif
    { "no_heap_for_caps", test_no_heap_for_caps, NULL },
    { "failure_psram_or_internal", test_failure_psram_or_internal, NULL },
    #if !defined(__SANITIZE_ADDRESS__)
    { "region_info", test_region_info, NULL },
    #else
    { "region_info", test_region_info,
      "ht_region_info() takes a region's name from the SoC memory layout; the sanitizer build maps the "
      "PSRAM added at start-up below ASan's shadow, off the layout's SPIRAM region, so it reads as "
      "\"unknown\" (ESP-IDF's own heap record calls it SPIRAM); the other builds name it" },
    #endif
    #if HT_TEST_TRACKING
    { "dma_pool_kept", test_dma_pool_kept, NULL },
    #endif
};

#if HT_TEST_QEMU
// The board runs it as the task mp_task (boards/QEMU_RV32/chip.c).
int qemu_app_main(int argc, char **argv) {
    const char *program = HT_TEST_HOOKS ? "test_tracker_idf (QEMU board, hooks tracker)"
        : "test_tracker_idf (QEMU board, ESP-IDF's tracker)";
#else
int main(int argc, char **argv) {
    const char *program = argv[0];
#endif
    bool psram_run = HT_TEST_PSRAM_BUILD || (argc > 1 && strcmp(argv[1], "--psram") == 0);
    ht_vm_restart();   // as the module's first import does
    int failures;
    size_t count;
    if (!psram_run) {
        count = sizeof(g_tests) / sizeof(g_tests[0]);
        failures = run(g_tests, count);
    } else {
        count = sizeof(g_psram_tests) / sizeof(g_psram_tests[0]);
        failures = run(g_psram_tests, count);
    }
    CHECK(heap_caps_check_integrity_all(true));
    printf("%s: %zu tests, %d failed%s\n", program, count, failures, psram_run ? " (with PSRAM)" : "");
    fflush(stdout);
    if (failures != 0 || failed()) {
        return 1;
    }
    #if CHIP_HAS_PSRAM && !HT_TEST_PSRAM_BUILD
    if (!psram_run) {
        // Again with a PSRAM heap: the shim adds regions only at start-up.
        setenv("HEAPTRACK_IDF_REGIONS", PSRAM_REGIONS, 1);
        char *args[] = { argv[0], "--psram", NULL };
        execv("/proc/self/exe", args);
        perror("re-executing with HEAPTRACK_IDF_REGIONS");
        return 1;
    }
    #elif !CHIP_HAS_PSRAM
    printf("SKIP the PSRAM tests: ESP-IDF has no PSRAM support on the %s\n", CONFIG_IDF_TARGET);
    #endif
    return 0;
}
