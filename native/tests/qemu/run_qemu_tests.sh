#!/usr/bin/env bash
# Runs the QEMU board's test programs (native/tests/qemu/Makefile), each under
# a timeout, and says what each showed:
#   test_rtos.elf          must exit 0 with every test passed;
#   test_rtos_unsafe.elf   must fail in its deletion test (FreeRTOS's plain
#                          vTaskDelete inside ESP-IDF's heap: a hang, or a
#                          FreeRTOS assertion or CPU fault from it);
# and, given HOST_IDLE_STATS, the idle workload's statistics must be the
# host's. Exit status: 0 when all that holds.
#
#   QEMU="qemu-system-riscv32 ARGS..." QEMU_TIMEOUT=seconds run_qemu_tests.sh BUILD_DIR
set -uo pipefail

build=${1:?usage: run_qemu_tests.sh BUILD_DIR}
: "${QEMU:?QEMU=the emulator and its arguments}"
timeout_s=${QEMU_TIMEOUT:-120}
failed=()

# Runs $1.elf, its output to $1.log (and, indented, to ours); prints its exit status.
run() {
    local name=$1 start=$SECONDS status
    timeout --foreground -k 5 "$timeout_s" $QEMU -kernel "$build/$name.elf" >"$build/$name.log" 2>&1
    status=$?
    sed 's/^/  /' "$build/$name.log" | grep -v '^  idle-stats:'
    echo "  ($name: exit status $status after $((SECONDS - start)) s)"
    return $status
}

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
