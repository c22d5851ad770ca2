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
    # ends with machine.soft_reset(), as a program may: the soft reset deletes
    # them wherever they are, mid-print (a report holds one of heaptrack's 16
    # snapshot slots) or mid-allocation. After 17 of those, everything still
    # works. (Their output runs on past the end of the exec's own output, which
    # mpremote then reports as error output: only the last exec's result counts.)
    # The reset is the exec's own, not the next mpremote's: mpremote enters the
    # raw REPL by waiting for "raw REPL; CTRL-B to exit\r\n>" byte for byte, the
    # REPL writes it in two writes, and a task's line printed between them left
    # mpremote waiting for ever (on a pseudo-terminal it has no timeout), on a
    # board as on the virtual one.
    # The allocator snapshots its own task: every task's stats, dozens of
    # deleted records by then, built as Python objects in a loop that never
    # sleeps, keep MicroPython's 64 KB heap collecting at every allocation
    # without ever growing, and the thread holding the GIL through that
    # starves the REPL, on a board as on the virtual one.
    # It also works in bursts with a 1 ms sleep between them: the host's GIL
    # is an unfair pthread mutex, and a thread that re-takes it without ever
    # sleeping still starved the REPL now and then under load. Each burst
    # spends most of its time inside heaptrack calls, where a reset finds it.
    for _ in range(17):
        board.mpremote("exec", PRELUDE + """
import _thread, machine
def reporter():
    while True:
        heaptrack.print_overview()
        time.sleep_ms(5)
def allocator():
    me = heaptrack.current_task()
    while True:
        for i in range(20):
            heaptrack.free(heaptrack.malloc(64))
        heaptrack.task_stats(me)
        time.sleep_ms(1)
for f in (reporter, allocator):
    _thread.start_new_thread(f, ())
time.sleep_ms(30)
machine.soft_reset()
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


# A small PSRAM heap, so that internal RAM stays ESP-IDF's biggest heap.
SMALL_PSRAM = {"HEAPTRACK_IDF_REGIONS": "SPIRAM:0x3c000000:65536"}


def test_biggest_heap_full_is_said_in_heap_info_and_before_reports(vboard_factory):
    # ESP-IDF keeps every tracking record in its biggest heap: filled up (here
    # by heaptrack.malloc; on a board MicroPython's GC heap grows into it),
    # ESP-IDF drops records with one line of log while other heaps still hand
    # out memory. heap_info() says so while it lasts, and every report after it
    # starts with one line saying its figures are incomplete.
    board = vboard_factory(env=SMALL_PSRAM)
    out = board.exec(PRELUDE + """
info = heaptrack.heap_info()
ours = info.records.region is None
print('BEFORE', info.trusted, info.records.full, info.records.untracked)
held = fill(heaptrack.CAP_INTERNAL)
full = heaptrack.heap_info()
p = heaptrack.malloc(1000, heaptrack.CAP_SPIRAM)   # room there; none for its record
print('FULL', full.records.full, full.records.untracked > 0 or ours)
full.print()
print('REPORT', err(heaptrack.print_overview))
for a in held:
    heaptrack.free(a)
heaptrack.free(p)
after = heaptrack.heap_info()
print('AFTER', after.trusted, after.records.full, after.records.untracked)
heaptrack.print_heap_info()
print('OVERVIEW')
heaptrack.print_overview()
print('DETAILS')
heaptrack.print_details()
""", timeout=120)
    before, rest = out.split("BEFORE", 1)[1].split("FULL", 1)
    assert before.split() == ["True", "False", "0"]
    full, rest = rest.split("REPORT", 1)
    if "Tracking records: in heaptrack's own tables" in full:
        # The hooks tracker's records are static: a full heap changes nothing.
        assert full.split()[:2] == ["False", "True"], full
        assert "WARNING" not in out and "heaptrack: warning" not in out
        return
    assert full.split()[:2] == ["True", "True"], full
    # ESP-IDF's tracker: the biggest heap is named, and full.
    assert "Tracking records: in ESP-IDF's biggest heap, RAM" in full
    assert "WARNING: RAM is full: ESP-IDF cannot record new tasks, heaps or blocks" in full
    # No room in that heap for a report's copy either: it is taken from another
    # heap with room (the PSRAM), and says its figures are incomplete.
    assert rest.split("\n", 1)[0].strip() == "None", rest
    report = full.split("Tracking records:", 1)[1]
    assert "\nheaptrack: warning: these figures are incomplete" in report, report
    after, rest = rest.split("AFTER", 1)[1].split("\n", 1)
    trusted, still_full, untracked = after.split()
    assert (trusted, still_full) == ("False", "False") and int(untracked) > 0
    info, rest = rest.split("OVERVIEW", 1)
    assert "WARNING: %s allocations could not be recorded: reports are incomplete" % untracked in info
    assert "is full" not in info
    overview, details = rest.split("DETAILS", 1)
    for report in (overview, details):
        first = [line for line in report.splitlines() if line.startswith(("heaptrack:", "┌", "├", "└"))][0]
        assert first.startswith("heaptrack: warning: these figures are incomplete: %s allocation" % untracked), report
        assert "could not be recorded (ESP-IDF keeps its tracking records in its biggest heap" in first
        assert sum(line.startswith("heaptrack:") for line in report.splitlines()) == 1
