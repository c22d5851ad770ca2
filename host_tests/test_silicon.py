"""What real silicon asks of heaptrack: calling contexts where ESP-IDF's task
tracking cannot run, soft resets with tasks mid-allocation. Each test runs on the
virtual board (ESP-IDF's own heap, the same rules) and on a real board."""
import ast

import pytest

from board_code import PRELUDE, run


def test_interrupts_disabled_is_a_clear_runtime_error_and_changes_nothing(board):
    # ESP-IDF's tracking takes a FreeRTOS mutex on every malloc, free and report:
    # with interrupts masked, FreeRTOS asserts whenever another task holds it.
    # heaptrack refuses first, every time.
    result = run(board, """
import machine
a = heaptrack.malloc(32)
me = heaptrack.current_task()
before = heaptrack.task_stats(me, blocks=True)
calls = ((heaptrack.malloc, (16,)), (heaptrack.free, (a,)), (heaptrack.free_all, ()),
         (heaptrack.task_stats, ()), (heaptrack.print_overview, ()), (heaptrack.print_details, ()),
         (heaptrack.heap_info, ()), (heaptrack.dump, ()), (heaptrack.snapshot, ()))
out = []
msg = ''
state = machine.disable_irq()
try:
    for f, args in calls:
        try:
            f(*args)
            out.append('ran')
        except RuntimeError as e:
            out.append('RuntimeError')
            msg = str(e)
finally:
    machine.enable_irq(state)
after = heaptrack.task_stats(me, blocks=True)
heaptrack.free(a)
print([out, 'interrupts disabled' in msg, before == after])
""")
    out, says_why, unchanged = result
    assert out == ["RuntimeError"] * 9
    assert says_why and unchanged


# The two churn tests start from power-on: they start dozens of tasks, and a
# firmware with heaptrack's hooks tracker keeps a fixed number of task records
# (deleted ones included) until a hard reset, which the suite before them may
# have used up.
@pytest.mark.usefixtures("from_power_on")
def test_soft_resets_with_tasks_mid_report_and_mid_allocation(board):
    # Each exec starts tasks that print reports and allocate without end, and
    # returns while they run: the next exec's soft reset deletes them wherever
    # they are, mid-print (a report holds one of heaptrack's 16 snapshot slots)
    # or mid-allocation. After 17 of those, everything still works.
    # (Their output runs on past the end of the exec, which mpremote then
    # reports as error output: only the last exec's result counts.)
    # The allocator snapshots its own task: every task's stats, dozens of
    # deleted records by then, built as Python objects in a loop that never
    # sleeps, keep MicroPython's 64 KB heap collecting at every allocation
    # without ever growing, and the thread holding the GIL through that
    # starves the REPL of the next exec, on a board as on the virtual one.
    for _ in range(17):
        board.mpremote("exec", PRELUDE + """
import _thread
def reporter():
    while True:
        heaptrack.print_overview()
        time.sleep_ms(5)
def allocator():
    me = heaptrack.current_task()
    while True:
        heaptrack.free(heaptrack.malloc(64))
        heaptrack.task_stats(me)
for f in (reporter, allocator):
    _thread.start_new_thread(f, ())
time.sleep_ms(30)
""", timeout=60, check=False)
    result = run(board, """
held = [heaptrack.snapshot() for i in range(20)]
a = heaptrack.malloc(100)
heaptrack.print_overview()
heaptrack.free(a)
print([len(held), heaptrack.task_stats(heaptrack.current_task()).current >= 0])
""")
    assert result == [20, True]


@pytest.mark.usefixtures("from_power_on")
def test_board_check_script_passes(board):
    # examples/board_check.py is what a user runs on a board to check what only
    # silicon can show (dual-core churn with Wi-Fi); here it runs as is.
    from pathlib import Path
    out = board.run(Path(__file__).resolve().parents[1] / "examples" / "board_check.py", timeout=180)
    board.exec("import heaptrack; heaptrack.free_all()")
    assert out.strip().splitlines()[-1] == "board_check: PASS", out
