"""Leak hunting beyond ESP-IDF's reports: snapshots and diffs, heap_info, check_leaks."""
from pathlib import Path

import pytest

from board_code import PRELUDE, run

DEMO = Path(__file__).resolve().parent.parent / "examples" / "leak_demo.py"


@pytest.mark.usefixtures("from_power_on")
def test_diff_of_a_known_workload_is_exact(board):
    result = run(board, """
old = heaptrack.snapshot()
made = []
def work():
    made.extend(heaptrack.malloc(n) for n in (100, 2000, 300))
    heaptrack.free(made.pop(0))
h = heaptrack.start_task('diffed', work)
wait_deleted(h)
mid = heaptrack.snapshot()
d1 = mid.compare_to(old)
t = d1.task(h)
own = [b for hp in heaptrack.task_stats(h, blocks=True).heaps for b in hp.blocks]
heaptrack.free(made[0])
new = heaptrack.snapshot()
d2 = new.compare_to(mid)
t2 = d2.task(h)
res = [t.status, t.current_delta, t.blocks_added == own, t.blocks_gone,
       [x.name for x in d1.appeared].count('diffed'), [x.name for x in d1.died],
       t2.status, t2.current_delta, t2.blocks_gone == own[:1], t2.blocks_added, t2.peak_delta,
       [x.name for x in d1.died_holding]]
heaptrack.free_all()
print(res)
""")
    (status, delta, added_exact, gone, appeared, died, status2, delta2, gone_exact, added2,
     peak_delta2, died_holding) = result
    assert status == "NEW" and appeared == 1
    assert added_exact and gone == []
    assert delta >= 2300
    assert died == []                       # it was not alive in the old snapshot
    assert status2 == "DELETED"
    assert gone_exact and added2 == [] and peak_delta2 == 0
    assert delta2 < 0 and -delta2 >= 2000
    assert "diffed" in died_holding or died_holding == []


@pytest.mark.usefixtures("from_power_on")
def test_diff_reports_tasks_that_died_holding_memory(board):
    result = run(board, """
go = []
done = []
def work():
    heaptrack.malloc(500)
    wait_for(go)
    done.append(1)
h = heaptrack.start_task('holder', work)
while True:
    try:
        heaptrack.task_stats(h)
        break
    except ValueError:
        time.sleep_ms(5)
before = heaptrack.snapshot(blocks=False)
go.append(1)
wait_deleted(h)
after = heaptrack.snapshot(blocks=False)
d = after.compare_to(before)
res = [[x.name for x in d.died], [x.name for x in d.died_holding], d.task('holder').blocks_added,
       d.elapsed_ms >= 0]
heaptrack.free_all()
print(res)
""")
    died, died_holding, blocks_added, elapsed_ok = result
    assert "holder" in died and "holder" in died_holding
    assert blocks_added == []               # taken without blocks
    assert elapsed_ok


def test_diff_sorts_by_growth_and_prints_in_esp_idf_style(board):
    out = board.exec(PRELUDE + """
old = heaptrack.snapshot()
sizes = {'small_grow': 100, 'big_grow': 5000}
def work(n):
    heaptrack.malloc(n)
hs = [heaptrack.start_task(name, work, (n,)) for name, n in sizes.items()]
for h in hs:
    wait_deleted(h)
d = heaptrack.snapshot().compare_to(old)
names = [t.name for t in d.tasks]
print(names.index('big_grow') < names.index('small_grow'))
d.print()
d.print(name='small_grow')
heaptrack.free_all()
""")
    lines = out.splitlines()
    assert lines[0] == "True"
    assert lines[1].startswith(" HEAP CHANGES OVER ") and lines[1].endswith(" MS")
    assert lines[2] == "┌────────────────────┬─────────┬──────────────────────┬───────────────────┬────────────────────┐"
    assert lines[3] == "│ TASK               │ STATUS  │ CURRENT MEMORY DELTA │ PEAK MEMORY DELTA │ BLOCKS +NEW/-GONE  │"
    assert any(line.startswith("│           big_grow │ NEW     │                +5") for line in lines)
    assert any("├ + ALLOC 0x" in line for line in lines)
    second = [i for i, line in enumerate(lines) if line.startswith(" HEAP CHANGES OVER ")][1]
    filtered = lines[second:]
    assert any("small_grow" in line for line in filtered)
    assert not any("big_grow" in line for line in filtered)


def test_heap_info_agrees_with_the_tracker(board):
    result = run(board, """
blocks = [heaptrack.malloc(n) for n in (1000, 3000, 200)]
info = heaptrack.heap_info()
stats = heaptrack.task_stats()
used_by_tasks = {}
for t in stats:
    for h in t.heaps:
        k = (h.name, h.caps, h.size)
        used_by_tasks[k] = used_by_tasks.get(k, 0) + h.current
regions = [(r.name, r.caps, r.total, r.free, r.largest_free, r.minimum_free) for r in info.regions]
gc = info.gc
import gc as pygc
res = [regions, sorted(used_by_tasks.items()), [gc.total, gc.used, gc.free, gc.largest_free, gc.areas, gc.in_esp_heap],
       info.can_allocate(1), info.can_allocate(1 << 30), info.largest_free() > 0]
for b in blocks:
    heaptrack.free(b)
print(res)
""")
    regions, used_by_tasks, gc, can_small, can_huge, largest_ok = result
    assert regions and all(free <= total and largest <= free and minimum <= free + 0
                           for _, _, total, free, largest, minimum in regions)
    assert gc[0] == gc[1] + gc[2] and gc[3] <= gc[2] and gc[4] >= 1
    assert can_small and not can_huge and largest_ok
    if board.virtual:
        # Every byte a task holds is in use in its region; a region also holds
        # TLSF's control data and ESP-IDF's tracking records, charged to no task.
        by_region = {}
        for (name, caps, size), current in used_by_tasks:
            by_region[(name, caps, size)] = by_region.get((name, caps, size), 0) + current
        for name, caps, total, free, _, _ in regions:
            assert total - free >= by_region.get((name, caps, total), 0)
        assert gc[5] == 0                  # the host's GC heap is not in ESP-IDF's heap (yet)


def test_print_heap_info_answers_whether_a_block_fits(board):
    out = board.exec("import heaptrack\nheaptrack.print_heap_info(16384)\nheaptrack.print_heap_info(1 << 30)\n")
    lines = out.splitlines()
    assert lines[0].startswith("┌────────────────────┬")
    assert lines[1] == ("│ HEAP               │ CAPS       │ TOTAL      │ FREE       │ LARGEST FREE  "
                        "│ MINIMUM FREE │")
    assert any(line.startswith("│     MicroPython GC │") for line in lines)
    assert any("A 16384-byte block with caps 0x00001000 fits" in line for line in lines)
    assert any("A 1073741824-byte block with caps 0x00001000 does NOT fit" in line for line in lines)


def test_check_leaks_flags_the_demos_leaking_task_only(board):
    board.put(DEMO, "leak_demo.py")
    try:
        result = run(board, """
import leak_demo
r = heaptrack.check_leaks(leak_demo.main, 0.01, 3, rounds=3, warmup=0)
r.print()
print([r.leaks, r.ok, len(r.growth['leaking_task']), len(r.survivors['leaking_task']) > 0,
       r.growth['no_leak_task']])
""", timeout=120)
    finally:
        board.exec("import heaptrack; heaptrack.free_all()")
        board.rm("leak_demo.py")
    leaks, ok, rounds, survivors, no_leak_growth = result
    assert leaks == ["leaking_task"] and not ok
    assert rounds == 3 and survivors
    assert no_leak_growth == [0, 0, 0]


def test_check_leaks_passes_a_clean_workload_and_rejects_bad_arguments(board):
    result = run(board, """
def clean():
    heaptrack.free(heaptrack.malloc(64))
r = heaptrack.check_leaks(clean, rounds=4)
errors = []
for args, kw in (((42,), {}), ((clean,), {'rounds': 0}), ((clean,), {'tolerance': -1})):
    try:
        heaptrack.check_leaks(*args, **kw)
    except Exception as e:
        errors.append(type(e).__name__)
print([r.ok, r.leaks, errors])
""")
    assert result == [True, [], ["TypeError", "ValueError", "ValueError"]]

