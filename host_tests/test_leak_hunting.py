"""Leak hunting beyond ESP-IDF's reports: snapshots and diffs, heap_info, check_leaks."""
import ast
import re
from pathlib import Path

import pytest

from board_code import PRELUDE, run

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "leak_demo.py"


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
    if t.name == 'Pre-scheduler':
        continue   # ESP-IDF keeps charging it what it frees (its blocks have no owner to look up)
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
    # MicroPython's heap lies inside ESP-IDF's heap, as on the esp32 port.
    assert gc[5] >= gc[0] > 0


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



@pytest.mark.usefixtures("from_power_on")
def test_snapshot_diff_taskdiff_and_leakcheck_read_at_the_repl(board):
    """repr (what the REPL shows) and str are readable text, caps/handles/addresses in hex."""
    out = board.exec(PRELUDE + """
old = heaptrack.snapshot()
kept = []
def leaky():
    kept.append(heaptrack.malloc(700))
h = heaptrack.start_task('repr_task', leaky)
wait_deleted(h)
new = heaptrack.snapshot()
d = new.compare_to(old)
td = d.task(h)
r = heaptrack.check_leaks(leaky, rounds=2, warmup=0)
for label, obj in (('SNAPSHOT', new), ('DIFF', d), ('TASKDIFF', td), ('TASKDIFF_STR', str(td)), ('LEAKCHECK', r),
                   ('HEAPINFO', heaptrack.heap_info()), ('STATISTIC', new.statistics('task')[0])):
    print('=== ' + label)
    print(repr(obj) if not isinstance(obj, str) else obj)
print('=== VALUES')
print([kept[0], h, heaptrack.heap_info().regions[0].caps])
heaptrack.free_all()
""")
    parts = {}
    for chunk in out.replace("\r\n", "\n").split("=== ")[1:]:
        name, _, body = chunk.partition("\n")
        parts[name] = body
    block, handle, caps = ast.literal_eval(parts["VALUES"].strip())
    snap = parts["SNAPSHOT"]
    assert snap.startswith("Snapshot at ") and " tasks (" in snap and "with blocks" in snap.splitlines()[0]
    assert "DELETED: repr_task (0x%08x), CURRENT MEMORY USAGE " % handle in snap
    assert "CAPS: 0x" in snap and "ALLOC 0x%x, SIZE " % block in snap
    diff = parts["DIFF"]
    assert diff.startswith(" HEAP CHANGES OVER ")
    assert "│          repr_task │ NEW     │" in diff
    assert "NEW: repr_task (0x%08x), CURRENT +" % handle in diff
    assert "HEAP: RAM, CAPS: 0x" in diff and "├ + ALLOC 0x%x, SIZE " % block in diff
    assert parts["TASKDIFF"].startswith("<TaskDiff repr_task (0x%08x) NEW: current +" % handle)
    assert "+ ALLOC 0x%x" % block in parts["TASKDIFF_STR"]
    leak = parts["LEAKCHECK"]
    assert leak.startswith("LEAK: ") and "ALLOC 0x" in leak
    # The board's own caps (whatever its configuration makes them), in hex.
    assert "│ HEAP " in parts["HEAPINFO"] and "0x%08x" % caps in parts["HEAPINFO"]
    assert parts["STATISTIC"].startswith("<Statistic ") and "size=" in parts["STATISTIC"]


@pytest.mark.usefixtures("from_power_on")
def test_statistics_group_biggest_first(board):
    result = run(board, """
held = []
def hold(sizes):
    for s in sizes:
        held.append(heaptrack.malloc(s))
h = heaptrack.start_task('stats_task', hold, ([3000, 100],))
wait_deleted(h)
snap = heaptrack.snapshot()
tasks = snap.statistics('task')
heaps = snap.statistics('heap')
blocks = snap.statistics('block')
mine = [s for s in tasks if s.key == ('stats_task', h)][0]
mine_blocks = [s for s in blocks if s.key[1:] == ('stats_task', h)]
no_blocks = heaptrack.snapshot(blocks=False)
res = [[s.size for s in tasks] == sorted([s.size for s in tasks], reverse=True),
       [s.size for s in blocks] == sorted([s.size for s in blocks], reverse=True),
       mine.count, mine.size >= 3100, sorted(s.size for s in mine_blocks)[-1] >= 3000, len(mine_blocks),
       sum(s.size for s in heaps) == sum(s.size for s in tasks),
       sum(s.count for s in heaps) == sum(s.count for s in tasks),
       str(mine).startswith('stats_task (0x%08x): size=' % h),
       err(no_blocks.statistics, 'block'), err(snap.statistics, 'line'), snap.statistics() == tasks]
heaptrack.free_all()
print(res)
""")
    assert result == [True, True, 2, True, True, 2, True, True, True, "ValueError", "ValueError", True]


def test_statistics_ties_keep_the_snapshots_order(board):
    """Equal sizes and counts stay in the order the snapshot lists them (as CPython's stable sort keeps them)."""
    result = run(board, """
held = [heaptrack.malloc(s) for s in (48, 48, 96, 48, 48)]
snap = heaptrack.snapshot()
me = heaptrack.current_task()
listed = [a for t in snap.tasks if t.handle == me for h in t.heaps for a, s in h.blocks if a in held]
mine = [s.key[0] for s in snap.statistics('block') if s.key[0] in held]
for b in held:
    heaptrack.free(b)
print([mine == [a for a in listed if a == held[2]] + [a for a in listed if a != held[2]], len(mine)])
""")
    assert result == [True, 5]

@pytest.mark.usefixtures("from_power_on")
def test_snapshot_dump_and_load_across_a_reset(board):
    """A snapshot saved to the board's filesystem compares with one taken after a hard reset."""
    first = run(board, """
kept = []
def hold():
    kept.append(heaptrack.malloc(1234))
h = heaptrack.start_task('saved_task', hold)
wait_deleted(h)
snap = heaptrack.snapshot()
snap.dump('snap_test.json')
print([h, kept[0], len(snap.tasks), snap.ticks_ms, snap.task(h).current])
""")
    handle, block, count, ticks, current = first
    board.hard_reset()
    try:
        result = run(board, """
old = heaptrack.Snapshot.load('snap_test.json')
t = old.task('saved_task')
d = heaptrack.snapshot().compare_to(old)
td = d.task(%d)
bad = []
for text in ('', '{"type": "snapshot", "version": 1, "ticks_ms": 0, "blocks": true, "tasks": 1}\\n',
             '{"type": "snapshot", "version": 1, "ticks_ms": 0, "blocks": true, "tasks": 0}\\n{"type": "end"}\\n'):
    with open('bad.json', 'w') as f:
        f.write(text)
    bad.append(err(heaptrack.Snapshot.load, 'bad.json'))
import os
os.remove('bad.json')
print([len(old.tasks), old.ticks_ms, old.blocks, t.handle, [b for hp in t.heaps for b in hp.blocks],
       td.status, td.current_delta, td.blocks_gone, bad, err(heaptrack.Snapshot.load, 'no_such_file.json')])
""" % handle)
    finally:
        board.rm("snap_test.json")
    n, loaded_ticks, blocks, loaded_handle, loaded_blocks, status, delta, gone, bad, missing = result
    assert (n, loaded_ticks, blocks, loaded_handle) == (count, ticks, True, handle)
    assert [a for a, s in loaded_blocks] == [block]
    assert status == "GONE" and delta == -current and gone == loaded_blocks
    assert bad == ["ValueError", "ValueError", None] and missing == "OSError"


@pytest.mark.usefixtures("from_power_on")
def test_snapshot_repr_is_cut_short_str_and_print_are_whole(board):
    out = board.exec(PRELUDE + """
held = [heaptrack.malloc(16) for i in range(12)]
s = heaptrack.snapshot()
print('=== REPR')
print(repr(s))
print('=== STR')
print(str(s))
print('=== PRINT')
s.print()
print('=== END')
for b in held:
    heaptrack.free(b)
""")
    parts = {}
    for chunk in out.replace("\r\n", "\n").split("=== ")[1:]:
        name, _, body = chunk.partition("\n")
        parts[name] = body
    assert parts["STR"] == parts["PRINT"]
    # From power-on, the calling task is among the first 20 shown.
    assert "├ ... 4 more blocks" in parts["REPR"] and "more blocks" not in parts["STR"]
    assert parts["STR"].count("├ ALLOC 0x") - parts["REPR"].count("├ ALLOC 0x") == 4


# ---------------------------------------------------------------------------
# MicroPython's GC heap areas are blocks of ESP-IDF's heap, charged to the task
# that grew the GC heap: reports name them, so that they are not taken for a leak.

GROW_GC = """
import gc
before = heaptrack.snapshot()
chunks = []
while len(heaptrack.heap_info().gc_areas) < 2:
    chunks.append(bytearray(2048))
after = heaptrack.snapshot()
"""


def test_a_new_gc_heap_area_is_labelled_in_diffs_and_snapshots(board):
    out = board.exec(PRELUDE + GROW_GC + """
d = after.compare_to(before)
print(d)
print('SNAPSHOT')
print(after)
print('STATS')
for s in after.statistics('block'):
    if s.gc_area:
        print(s)
print('INFO')
print(heaptrack.heap_info())
me = heaptrack.current_task()
print('DELTA', d.task(me).gc_delta, [hex(a.task) for a in heaptrack.heap_info().gc_areas].count(hex(me)))
""", timeout=120)
    diff, rest = out.split("SNAPSHOT", 1)
    snap, rest = rest.split("STATS", 1)
    stats, rest = rest.split("INFO", 1)
    info, delta = rest.split("DELTA", 1)
    added = [line for line in diff.splitlines() if "+ ALLOC" in line and "(MicroPython GC heap area)" in line]
    assert len(added) == 1, diff
    size = int(added[0].split("SIZE ")[1].split()[0])
    assert "mp_task: +%d of its change is MicroPython GC heap areas: MicroPython's GC heap grew, not a leak" % size \
        in diff
    assert snap.count("(MicroPython GC heap area)") == 2, snap
    assert stats.count("(MicroPython GC heap area)") == 2, stats
    assert info.count("MicroPython GC heap area: ALLOC 0x") == 2, info
    gc_delta, charged_to_me = delta.split()
    assert int(gc_delta) == size and int(charged_to_me) == 2


def test_check_leaks_counts_gc_growth_on_its_own(board):
    result = run(board, """
chunks = []
def grow():
    # MicroPython objects kept: the GC heap grows, by whole areas
    for i in range(40):
        chunks.append(bytearray(1024))
r = heaptrack.check_leaks(grow, rounds=3, warmup=0)
print([r.leaks, sum(r.gc_growth.values()) > 0, 'MicroPython GC heap area' in str(r) or not r.gc_growth])
""", timeout=120)
    leaks, grew, said = result
    assert leaks == [] and said
    assert grew   # 120 KB of objects do not fit a 64 KB GC heap


def test_check_leaks_calls_a_dead_task_holding_memory_held(board):
    result = run(board, """
done = []
def leave():
    heaptrack.malloc(700)
    done.append(1)
heaptrack.start_task('left_held', leave)
wait_for(done)
time.sleep_ms(50)
r = heaptrack.check_leaks(lambda: None, rounds=2)
print([r.ok, r.leaks, 'left_held' in r.held, [l for l in str(r).splitlines() if 'left_held' in l]])
heaptrack.free_all()
""")
    ok, leaks, held, lines = result
    assert not ok and leaks == [] and held
    assert len(lines) == 1 and lines[0].startswith("HELD: left_held is deleted and still holds ") \
        and lines[0].endswith(" bytes (died before watching)"), lines


def test_an_empty_diff_says_no_change(board):
    out = board.exec("import heaptrack\ns = heaptrack.snapshot()\nprint(s.compare_to(s))")
    assert out.rstrip().splitlines() == [" HEAP CHANGES OVER 0 MS", " no change"]


def test_blocks_print_their_addresses_in_hex(board):
    result = run(board, """
held = []
r = heaptrack.check_leaks(lambda: held.append(heaptrack.malloc(48)), rounds=2)
d = heaptrack.snapshot().compare_to(heaptrack.snapshot())
b = r.survivors['mp_task'][0]
print([repr(r.survivors['mp_task']), b == (b.address, b.size), b.size, heaptrack.free_all()])
""")
    text, same, size, freed = result
    assert re.fullmatch(r"\[\(0x[0-9a-f]{8}, \d+\)\]", text), text
    assert same and size >= 48 and freed == 3   # a warm-up run and two rounds


def test_a_snapshot_file_that_is_not_utf8_is_one_clear_error(board):
    out = board.exec("""
import heaptrack
with open('bad_snapshot.json', 'wb') as f:
    f.write(b'{"type": "snapshot", "version": 1, "ticks_ms": 0, "blocks": true, "tasks": 1}\\n\\xff\\xfe\\n')
try:
    heaptrack.Snapshot.load('bad_snapshot.json')
except ValueError as e:
    print('ValueError:', e)
import os
os.remove('bad_snapshot.json')
""")
    assert out.strip() == "ValueError: bad_snapshot.json, line 2: not UTF-8 text"


def test_a_start_up_block_freed_since_is_marked_where_its_address_is_reused(virtual_only, vboard_factory):
    # ESP-IDF does not subtract the free of a block made before any task ran (it has no
    # owner): Pre-scheduler keeps listing main's start-up stack after main freed it.
    # A block made at that address since is listed twice; the snapshot says which
    # listing is stale. (With heaptrack's tracker the GC heap's first area lands there at
    # boot; else a block of the stack's size does on a fresh virtual board.)
    b = vboard_factory()
    out = b.exec(PRELUDE + """
snap = heaptrack.snapshot()
pre = snap.task(0)
others = {b[0] for t in snap.tasks if t.handle for h in t.heaps for b in h.blocks}
landed = ([a for a, n in pre.heaps[0].blocks if a in others] or [None])[0]
held = []
for address, size in pre.heaps[0].blocks if landed is None else ():
    for n in range(size, size - 32, -4):
        p = heaptrack.malloc(n)
        if p == address:
            landed = p
            break
        held.append(p)
    if landed:
        break
for p in held:
    heaptrack.free(p)
print(heaptrack.snapshot())
print('LANDED', landed)
heaptrack.free_all()
""")
    tree, landed = out.rsplit("LANDED", 1)
    address = int(landed)
    stale = [line for line in tree.splitlines() if "(start-up block, freed since" in line]
    assert len(stale) == 1 and ("ALLOC 0x%x," % address) in stale[0], tree
    mine = [line for line in tree.splitlines() if ("ALLOC 0x%x," % address) in line and line not in stale]
    assert len(mine) == 1 and "start-up block" not in mine[0]


def test_survivors_have_one_definition_on_the_board_and_the_host(board):
    # check_leaks (on the board) and the pytest plugin (on the host) name the same
    # blocks: the host's module is the frozen one's file.
    frozen = REPO / "native" / "heaptrack" / "modules" / "heaptrack" / "_survivors.py"
    assert (REPO / "heaptrack_host" / "survivors.py").resolve() == frozen.resolve()
    from heaptrack_host.survivors import survivors
    before_last, final = [(0x3fc90010, 48), (0x3fc90040, 64)], [(0x3fc90040, 64), (0x3fc90100, 16), (0x3fc90080, 32)]
    on_board = run(board, "from heaptrack._survivors import survivors\nprint(survivors(%r, %r))" % (before_last, final))
    assert on_board == survivors(before_last, final) == [(0x3fc90080, 32), (0x3fc90100, 16)]
