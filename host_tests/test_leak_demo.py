"""examples/leak_demo.py on a board: ESP-IDF's example flow, and the leak visible in its numbers."""
from pathlib import Path

import pytest

from heaptrack_host import report

DEMO = Path(__file__).resolve().parent.parent / "examples" / "leak_demo.py"

# The largest block the demo allocates and frees again: 10000 bytes, as TLSF rounds it.
IN_FLIGHT = 10240

ROUND_HEADINGS = [
    "PRINTING OVERVIEW STATISTICS OF EACH TASK",
    "PRINTING OVERVIEW STATISTICS OF NO LEAK TASK",
    "PRINTING OVERVIEW STATISTICS OF LEAKING TASK",
]


def flow_lines(out):
    """The lines of the demo that are not report tables or trees, in order."""
    keep = []
    for line in out.splitlines():
        if line.startswith(("Starting task:", "Deleting task:", " PRINTING")):
            keep.append(line)
    return keep


def expected_flow(rounds):
    flow = ["Starting task: no_leak_task", "Starting task: leaking_task"]
    for counter in range(rounds):
        flow += [" " + heading for heading in ROUND_HEADINGS]
        if counter == 2:
            flow.append("Deleting task: leaking_task")
    flow += ["Deleting task: no_leak_task",
             " PRINTING OVERVIEW STATISTICS OF EACH TASK",
             " PRINTING DETAILED STATISTICS OF EACH TASK"]
    return flow


def row(overview, name):
    (found,) = [r for r in overview.rows if r.name == name]
    return found


def check_leak_pattern(out, rounds):
    assert flow_lines(out) == expected_flow(rounds)
    parsed = report.parse(out)
    overviews = parsed.overviews
    assert len(overviews) == 3 * rounds + 1
    # Every table sits under its heading, and the single-task tables hold one row.
    for counter in range(rounds):
        each, no_leak, leaking = overviews[3 * counter:3 * counter + 3]
        assert [each.heading, no_leak.heading, leaking.heading] == ROUND_HEADINGS
        assert [r.name for r in no_leak.rows] == ["no_leak_task"]
        assert [r.name for r in leaking.rows] == ["leaking_task"]
        # A live task may allocate between two tables; a deleted one is frozen.
        for table, single in ((each, leaking), (each, no_leak)):
            listed = row(table, single.rows[0].name)
            assert listed.alive or not single.rows[0].alive
            if not listed.alive:
                assert listed == single.rows[0]

    leaking_rows = [overviews[3 * c + 2].rows[0] for c in range(rounds)]
    # Alive for the first three rounds, its usage grows: by what it leaked, give or
    # take the one block it frees again, which a report may catch in flight.
    alive_rows = leaking_rows[:3]
    assert all(r.alive for r in alive_rows)
    currents = [r.current for r in alive_rows]
    assert all(later >= earlier - IN_FLIGHT for earlier, later in zip(currents, currents[1:]))
    assert currents[0] > 0
    # Deleted, it stays charged with exactly what it leaked, round after round.
    deleted_rows = leaking_rows[3:]
    assert all(not r.alive for r in deleted_rows)
    assert len({r.current for r in deleted_rows}) == 1
    assert deleted_rows[0].current >= max(currents) - IN_FLIGHT

    final = overviews[-1]
    assert row(final, "leaking_task") == deleted_rows[0]
    assert final.heading == "PRINTING OVERVIEW STATISTICS OF EACH TASK"
    final_leaking = row(final, "leaking_task")
    final_no_leak = row(final, "no_leak_task")
    assert not final_leaking.alive
    assert not final_no_leak.alive and final_no_leak.current == 0 and final_no_leak.peak > 0

    (details,) = parsed.details
    assert details.heading == "PRINTING DETAILED STATISTICS OF EACH TASK"
    details.check()
    by_name = {task.name: task for task in details.tasks}
    leaking_detail = by_name["leaking_task"]
    # One block leaked per period it ran: at least the one of its first, which the
    # demo waits for (how many more depends on the scheduler: on a loaded machine
    # the task may get no other period before its deletion).
    assert sum(heap.alloc_count for heap in leaking_detail.heaps) >= 1
    assert leaking_detail.current == sum(size for heap in leaking_detail.heaps for _, size in heap.blocks)
    assert leaking_detail.current == final_leaking.current
    assert by_name["no_leak_task"].current == 0
    assert all(heap.alloc_count == 0 for heap in by_name["no_leak_task"].heaps)
    # The final overview and the tree describe the same tasks with the same numbers.
    assert [r.name for r in final.rows] == [t.name for t in details.tasks]
    for r, t in zip(final.rows, details.tasks):
        assert (r.alive, r.current, r.peak, r.heap_count) == (t.alive, t.current, t.peak, t.heap_count)


def test_demo_through_mpremote_run(board):
    # From power-on, as ESP-IDF's example runs (a soft reset keeps the statistics
    # of earlier runs' tasks, which have the same names).
    board.hard_reset()
    out = board.run(DEMO, timeout=120)
    try:
        check_leak_pattern(out, rounds=4)
    finally:
        board.exec("import heaptrack; heaptrack.free_all()")


@pytest.mark.parametrize("rounds", [4, 6])
def test_demo_main_with_short_period(board, rounds):
    board.hard_reset()
    board.put(DEMO, "leak_demo.py")
    try:
        out = board.exec(
            "import leak_demo\nleak_demo.main(period_s=0.02, rounds=%d)\n" % rounds, timeout=120)
        check_leak_pattern(out, rounds=rounds)
    finally:
        board.exec("import heaptrack; heaptrack.free_all()")
        board.mpremote("rm", ":leak_demo.py")
