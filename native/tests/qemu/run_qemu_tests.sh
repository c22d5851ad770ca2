#!/usr/bin/env bash
# Runs the QEMU board's test programs (native/tests/qemu/Makefile), each under
# a timeout, and says what each showed:
#   test_rtos.elf          must exit 0 with every test passed;
#   test_rtos_unsafe.elf   must fail in its deletion test (FreeRTOS's plain
#                          vTaskDelete inside ESP-IDF's heap: a hang, or a
#                          FreeRTOS assertion or CPU fault from it);
#   test_tracker_idf.elf, test_tracker_hooks.elf
#                          heaptrack's C contract tests on each tracker: every
#                          test must pass;
#   run_heap_tests.elf     ESP-IDF's heap test cases: no failure (the skipped
#                          ones are listed with their reasons);
# and, given HOST_IDLE_STATS, the idle workload's statistics must be the
# host's. Exit status: 0 when all that holds.
#
#   QEMU="qemu-system-riscv32 ARGS..." QEMU_TIMEOUT=seconds run_qemu_tests.sh BUILD_DIR
set -uo pipefail

build=${1:?usage: run_qemu_tests.sh BUILD_DIR}
: "${QEMU:?QEMU=the emulator and its arguments}"
timeout_s=${QEMU_TIMEOUT:-120}
failed=()

# Runs $1.elf, its output to $1.log; shows ours what $2 (a sed script; by
# default every line but the idle statistics) makes of it, indented, and its
# exit status.
run() {
    local name=$1 shown=${2:-/^idle-stats:/d} start=$SECONDS status
    timeout --foreground -k 5 "$timeout_s" $QEMU -kernel "$build/$name.elf" >"$build/$name.log" 2>&1
    status=$?
    sed -e "$shown" "$build/$name.log" | sed 's/^/  /'
    echo "  ($name: exit status $status after $((SECONDS - start)) s)"
    return $status
}

# The contract tests: what failed and the verdicts, not every passed test.
TRACKER_SHOWN='/^ok   /d; /^I ([0-9]*) heap_init/d'
# ESP-IDF's Unity: each failed and skipped test case (with its reason), then
# the totals; the passed ones and the heap summaries the tests print are in
# the log.
UNITY_SHOWN='s#^.*/heap_tests/main/\([^:]*\.c:[0-9]*:.*:\(FAIL\|IGNORE\)\b.*\)MALLOC_CAP_8BIT: Before.*$#\1#p; /^[0-9]* Tests [0-9]* Failures/p; d'

echo "== test_rtos (heaptrack's safe teardown)"
if run test_rtos; then
    grep -q '^3 passed, 0 failed$' "$build/test_rtos.log" || failed+=("test_rtos: not every test passed")
else
    failed+=("test_rtos")
fi
if [ -n "${HOST_IDLE_STATS:-}" ]; then
    if diff <(grep '^idle-stats:' "$HOST_IDLE_STATS") <(grep '^idle-stats:' "$build/test_rtos.log") >"$build/idle-stats.diff"; then
        echo "  idle: the statistics are the host's ($(grep -c '^idle-stats:' "$HOST_IDLE_STATS") lines, $HOST_IDLE_STATS)"
    else
        cat "$build/idle-stats.diff"
        failed+=("idle: statistics differ from the host's")
    fi
fi

for tracker in idf hooks; do
    echo "== test_tracker_$tracker (heaptrack's C contract tests, native/tests/test_tracker_idf.c, on the $tracker tracker)"
    if run "test_tracker_$tracker" "$TRACKER_SHOWN"; then
        grep -q '^test_tracker_idf (QEMU board, .*): [0-9]* tests, 0 failed$' "$build/test_tracker_$tracker.log" ||
            failed+=("test_tracker_$tracker: not every test passed")
    else
        failed+=("test_tracker_$tracker")
    fi
done

echo "== run_heap_tests (ESP-IDF's heap test cases, components/heap/test_apps)"
if run run_heap_tests "$UNITY_SHOWN"; then
    grep -q '^[0-9]* Tests 0 Failures [0-9]* Ignored *$' "$build/run_heap_tests.log" ||
        failed+=("run_heap_tests: Unity's summary is missing or counts failures")
else
    failed+=("run_heap_tests")
fi

echo "== test_rtos_unsafe (FreeRTOS's plain vTaskDelete: the deletion test must fail)"
if run test_rtos_unsafe; then
    failed+=("test_rtos_unsafe: the deletion test did not catch a task deleted inside ESP-IDF's heap")
elif grep -q '^ok   interrupt ' "$build/test_rtos_unsafe.log" && grep -q '^== deletion$' "$build/test_rtos_unsafe.log" &&
    ! grep -q '^ok   deletion ' "$build/test_rtos_unsafe.log"; then
    echo "  deletion test failed without the safe teardown, as it must: $(grep -m1 'FAIL' "$build/test_rtos_unsafe.log")"
else
    failed+=("test_rtos_unsafe: it failed, but not in the deletion test")
fi

if [ ${#failed[@]} -gt 0 ]; then
    printf 'QEMU tests FAILED: %s\n' "${failed[@]}"
    exit 1
fi
echo "QEMU tests: all passed"
