# ESP-IDF's heap task tracking example (examples/system/heap_task_tracking/basic),
# in Python: two named tasks allocate ESP-IDF heap memory; one frees all of it,
# the other leaks a block every period. Main prints ESP-IDF's reports each round,
# deletes the leaking task, then the other, and prints the final details.
#
#   mpremote run examples/leak_demo.py
#
# Tests put this file on the board and call main() with a short period.
import random
import sys
import time

import heaptrack

# Names of tasks asked to end; a task honours the request at its next wake-up,
# since MicroPython has no safe way to kill a thread.
_stop_requested = set()  # type: set[str]


def _allocate_and_free(name, period_ms, leak):
    # One write, so the two tasks' greetings never interleave.
    sys.stdout.write("Starting task: %s\n" % name)
    while name not in _stop_requested:
        size_a = random.randint(1, 10000)
        size_b = random.randint(1, max(1, 10000 - size_a))
        block_a = heaptrack.malloc(size_a, heaptrack.CAP_DEFAULT)
        block_b = heaptrack.malloc(size_b, heaptrack.CAP_DEFAULT)
        heaptrack.free(block_a)
        if not leak:
            heaptrack.free(block_b)
        time.sleep_ms(period_ms)


# Handles are TCB addresses, which FreeRTOS reuses: a deleted task's record
# can carry the handle of a new task, so a record is this task's only if it is
# alive and has its name.
def _is_running(name, handle):
    try:
        stat = heaptrack.task_stats(handle)
    except ValueError:
        return False
    return stat.alive and stat.name == name


# Each look sleeps 20 ms, two FreeRTOS ticks of the ESP32 ports (100 Hz): a
# shorter sleep busy-waits, and on a single-core chip the idle task, which
# frees a deleted task's TCB (what makes ESP-IDF mark it DELETED), would never
# run meanwhile.
def _wait_until(condition, name, handle, timeout_ms):
    deadline = time.ticks_add(time.ticks_ms(), timeout_ms)
    while not condition(name, handle):
        if time.ticks_diff(deadline, time.ticks_ms()) <= 0:
            raise RuntimeError("task %s (0x%x) did not get there in time" % (name, handle))
        time.sleep_ms(20)


def _start_task(name, period_ms, leak):
    handle = heaptrack.start_task(name, _allocate_and_free, (name, period_ms, leak))
    # A task is tracked from its first allocation.
    _wait_until(_is_running, name, handle, 10 * period_ms + 5000)
    return handle


def _delete_task(name, handle, period_ms):
    print("Deleting task:", name)
    _stop_requested.add(name)
    # Without CONFIG_HEAP_TRACK_DELETED_TASKS a deleted task's record goes away.
    _wait_until(lambda n, h: not _is_running(n, h), name, handle, 10 * period_ms + 5000)


def _print_round(no_leak, leaking):
    print("\n PRINTING OVERVIEW STATISTICS OF EACH TASK")
    heaptrack.print_overview()
    print("\n PRINTING OVERVIEW STATISTICS OF NO LEAK TASK")
    heaptrack.print_overview(no_leak)
    print("\n PRINTING OVERVIEW STATISTICS OF LEAKING TASK")
    heaptrack.print_overview(leaking)


def main(period_s=1.0, rounds=4):
    period_ms = max(1, int(period_s * 1000))
    _stop_requested.clear()
    # A task is tracked from its first allocation. Waiting for each in turn keeps
    # the greetings in order and lets the first report show both tasks.
    no_leak = _start_task("no_leak_task", period_ms, False)
    leaking = _start_task("leaking_task", period_ms, True)

    for counter in range(rounds):
        _print_round(no_leak, leaking)
        if counter == 2:
            _delete_task("leaking_task", leaking, period_ms)
        time.sleep_ms(period_ms)

    if "leaking_task" not in _stop_requested:
        _delete_task("leaking_task", leaking, period_ms)
    _delete_task("no_leak_task", no_leak, period_ms)

    print("\n PRINTING OVERVIEW STATISTICS OF EACH TASK")
    heaptrack.print_overview()
    print("\n PRINTING DETAILED STATISTICS OF EACH TASK")
    heaptrack.print_details()


if __name__ == "__main__":
    main()
