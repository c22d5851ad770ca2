"""The heaptrack module's Python contract, exercised on a board through mpremote.

Everything here holds on the virtual board and on a real ESP32: tests only look
at tasks and blocks they made, and free what they allocate.
"""
import ast
import re
from pathlib import Path

import pytest

from heaptrack_host import report

from board_code import PRELUDE, run

REPO = Path(__file__).resolve().parents[1]


API = ["CAP_32BIT", "CAP_8BIT", "CAP_DEFAULT", "CAP_DMA", "CAP_EXEC", "CAP_INTERNAL", "CAP_SPIRAM",
       "Census", "CensusDiff", "Chain", "Diff", "Failure", "Failures", "GcEvent", "GcEvents", "HeapDiff",
       "HeapInfo", "HeapStat", "Holders", "LeakCheck", "Link", "Snapshot", "Statistic",
       "TRACKER", "TRACK_DELETED", "TaskDiff", "TaskStat", "TypeStat", "TypeStatDiff", "check_leaks", "clear",
       "clear_failures", "current_task", "dump", "dump_sample", "failures", "free", "free_all", "gc_census",
       "gc_events", "gc_holders", "heap_info", "malloc", "metrics", "print_details", "print_heap_info",
       "print_overview", "reset_peak", "snapshot", "start_task", "task_stats"]


def test_api_surface(board):
    names = run(board, """
print(sorted(n for n in dir(heaptrack) if not n.startswith('_')))
""")
    # The API and nothing else: no internal submodules (leaks, heapinfo, table).
    assert names == API
    caps = run(board, """
print([heaptrack.CAP_EXEC, heaptrack.CAP_32BIT, heaptrack.CAP_8BIT, heaptrack.CAP_DMA,
       heaptrack.CAP_SPIRAM, heaptrack.CAP_INTERNAL, heaptrack.CAP_DEFAULT, heaptrack.TRACK_DELETED])
""")
    # ESP-IDF's MALLOC_CAP_* values.
    assert caps[:7] == [1 << 0, 1 << 1, 1 << 2, 1 << 3, 1 << 10, 1 << 11, 1 << 12]
    assert isinstance(caps[7], bool)


def test_version_is_the_host_packages_and_in_the_banner(board):
    import importlib.metadata
    import heaptrack_host
    version, banner = run(board, "import sys\nprint([heaptrack.__version__, sys.version])")
    assert version == heaptrack_host.__version__ == importlib.metadata.version("heaptrack-host")
    assert "heaptrack %s" % version in banner


def test_tracker_names_the_tracker_the_firmware_was_built_with(board, firmware_tracker):
    # firmware_tracker comes from what the firmware was linked with, not from the
    # firmware: `make test` runs this on ESP-IDF's tracker ("idf") and on heaptrack's
    # ("hooks"); the firmware without tracking is below.
    assert run(board, "print(repr(heaptrack.TRACKER))") == firmware_tracker


def readme_module_code():
    """The Python code blocks of README's "The heaptrack module" section, line by line."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## The `heaptrack` module"):text.index("### Type checking on-device scripts")]
    lines = []
    for block in re.findall(r"```python\n(.*?)```", section, re.S):
        lines.extend(line for line in block.splitlines() if line.strip())
    return lines


# What README's code leaves to the reader: a task function, a size, a workload.
README_PRELUDE = """
import heaptrack, time
def func():
    heaptrack.malloc(100)
size = 64
def workload(arg):
    heaptrack.free(heaptrack.malloc(arg))
arg = 32
"""


@pytest.mark.usefixtures("from_power_on")
def test_readme_call_forms_run_as_written(board):
    """Every line of README's module section runs on the board exactly as written."""
    lines = readme_module_code()
    assert any("caps=heaptrack.CAP_DEFAULT" in line for line in lines)
    script = [README_PRELUDE]
    for line in lines:
        script.append(line)
        if line.startswith("h = heaptrack.start_task("):
            # A task is tracked from its first allocation: let it make one.
            script.append("t0 = time.ticks_ms()\nwhile not [t for t in heaptrack.task_stats() if t.handle == h]:"
                          "\n    time.sleep_ms(5)")
    script.append("heaptrack.free_all()\nimport os\nos.remove('before.json')\nprint('README OK')")
    out = board.exec("\n".join(script), timeout=120)
    assert out.rstrip().endswith("README OK"), out[-3000:]
    assert "Traceback" not in out


def test_documented_keywords(board):
    # mp_task holds MicroPython's heap too (the esp32 port takes it from ESP-IDF's heap).
    result = run(board, """
me = heaptrack.current_task()
before = [x for h in heaptrack.task_stats(task=me, blocks=True).heaps for x, s in h.blocks]
a = heaptrack.malloc(64, caps=heaptrack.CAP_8BIT)
b = heaptrack.malloc(size=64, caps=heaptrack.CAP_DEFAULT)
t = heaptrack.task_stats(task=me, blocks=True)
held = sorted(x for h in t.heaps for x, s in h.blocks)
heaptrack.free(addr=a)
heaptrack.free(b)
heaptrack.print_overview(task=me)
heaptrack.print_details(task=me)
print([held == sorted(before + [a, b]), err(heaptrack.malloc, 64, cap=1), err(heaptrack.free, address=1)])
""")
    assert result == [True, "TypeError", "TypeError"]


def test_malloc_rejects_bad_input_and_changes_nothing(board):
    result = run(board, """
me = heaptrack.current_task()
a = heaptrack.malloc(100)
before = heaptrack.task_stats(me, blocks=True)
errors = [
    err(heaptrack.malloc, '10'), err(heaptrack.malloc, 1.5), err(heaptrack.malloc, None),
    err(heaptrack.malloc, 0), err(heaptrack.malloc, -1), err(heaptrack.malloc, -2**100),
    err(heaptrack.malloc, 10, 1 << 20), err(heaptrack.malloc, 10, -1), err(heaptrack.malloc, 10, 'x'),
    err(heaptrack.malloc, 10, 2**100),
    err(heaptrack.malloc, 2**40), err(heaptrack.malloc, 2**100),
    err(heaptrack.malloc), err(heaptrack.malloc, 1, 2, 3),
]
after = heaptrack.task_stats(me, blocks=True)
heaptrack.free(a)
print([errors, before == after])
""")
    errors, unchanged = result
    assert errors == ["TypeError", "TypeError", "TypeError",
                      "ValueError", "ValueError", "ValueError",
                      "ValueError", "ValueError", "TypeError",
                      "ValueError",
                      "MemoryError", "MemoryError",
                      "TypeError", "TypeError"]
    assert unchanged


def test_free_rejects_foreign_and_double_frees(board):
    result = run(board, """
me = heaptrack.current_task()
a = heaptrack.malloc(64)
b = heaptrack.malloc(64)
heaptrack.free(a)
before = heaptrack.task_stats(me, blocks=True)
errors = [err(heaptrack.free, a), err(heaptrack.free, b + 1), err(heaptrack.free, 0),
          err(heaptrack.free, -1), err(heaptrack.free, 2**100), err(heaptrack.free, 'x'),
          err(heaptrack.free, None), err(heaptrack.free, id(before))]
after = heaptrack.task_stats(me, blocks=True)
heaptrack.free(b)
print([errors, before == after, err(heaptrack.free, b)])
""")
    errors, unchanged, second_free = result
    assert errors == ["ValueError"] * 5 + ["TypeError", "TypeError", "ValueError"]
    assert unchanged
    assert second_free == "ValueError"


def test_start_task_rejects_bad_arguments(board):
    errors = run(board, """
f = lambda: None
print([err(heaptrack.start_task, '', f), err(heaptrack.start_task, 'x' * 16, f),
       err(heaptrack.start_task, 123, f), err(heaptrack.start_task, None, f),
       err(heaptrack.start_task, 'ok', 42), err(heaptrack.start_task, 'ok', None),
       err(heaptrack.start_task, 'ok', f, 5), err(heaptrack.start_task, 'ok', f, (), []),
       err(heaptrack.start_task, 'ok', f, stack_size=-1),
       err(heaptrack.start_task, 'ok'), err(heaptrack.start_task, 'a\\x00b', f)])
""")
    assert errors == ["ValueError", "ValueError", "TypeError", "TypeError", "TypeError",
                      "TypeError", "TypeError", "TypeError", "ValueError", "TypeError",
                      "ValueError"]


def test_task_stats_and_printers_reject_unknown_tasks(board):
    errors = run(board, """
print([err(heaptrack.task_stats, 'x'), err(heaptrack.task_stats, 1.0),
       err(heaptrack.task_stats, -5), err(heaptrack.task_stats, 2**100),
       err(heaptrack.task_stats, 0x7ffffff1), err(heaptrack.print_overview, 0x7ffffff1),
       err(heaptrack.print_details, 0x7ffffff1), err(heaptrack.print_overview, 'x'),
       err(heaptrack.task_stats, blocks=True, bogus=1)])
""")
    assert errors == ["TypeError", "TypeError", "ValueError", "ValueError", "ValueError",
                      "ValueError", "ValueError", "TypeError", "TypeError"]


@pytest.mark.usefixtures("from_power_on")
def test_named_task_runs_with_args_and_its_blocks_are_charged_to_it(board):
    result = run(board, """
out = {}
def work(n, size, tag=None):
    out['me'] = heaptrack.current_task()
    out['tag'] = tag
    out['blocks'] = [heaptrack.malloc(size) for i in range(n)]
h = heaptrack.start_task('charged', work, [3, 1000], {'tag': 'kw'})
wait_deleted(h)
t = heaptrack.task_stats(h, blocks=True)
listed = [a for hp in t.heaps for a, s in hp.blocks]
sizes = [s for hp in t.heaps for a, s in hp.blocks]
res = [h == out['me'], out['tag'], t.name, t.alive, listed == out['blocks'], sizes,
       t.current, t.peak, invariants(t), isinstance(h, int)]
for a in out['blocks']:
    heaptrack.free(a)
t = heaptrack.task_stats(h, blocks=True)
res += [t.current, t.peak, [hp.alloc_count for hp in t.heaps], [hp.blocks for hp in t.heaps]]
print(res)
""")
    (same_handle, tag, name, alive, listed_in_order, sizes, current, peak, bad, is_int,
     current_after, peak_after, counts_after, blocks_after) = result
    assert same_handle and is_int
    assert tag == "kw"
    assert name == "charged"
    assert alive is False
    assert listed_in_order
    assert len(sizes) == 3 and all(s >= 1000 for s in sizes)
    assert current == sum(sizes) and peak >= current
    assert bad == []
    assert current_after == 0 and peak_after == peak
    assert all(c == 0 for c in counts_after)
    assert all(b == () for b in blocks_after)


@pytest.mark.usefixtures("from_power_on")
def test_task_that_raises_is_reported_and_deleted(board):
    out = board.exec(PRELUDE + """
def boom():
    heaptrack.malloc(32)
    raise OSError('boom in task')
h = heaptrack.start_task('raiser', boom)
wait_deleted(h)
t = heaptrack.task_stats(h)
print([t.alive, t.current > 0, heaptrack.free_all() >= 1])
""", timeout=30)
    assert "Unhandled exception in task started by" in out
    assert "OSError: boom in task" in out
    assert ast.literal_eval(out.strip().splitlines()[-1]) == [False, True, True]


@pytest.mark.usefixtures("from_power_on")
def test_deleted_task_keeps_leak_until_another_task_frees_it(board):
    result = run(board, """
kept = []
def leak():
    kept.append(heaptrack.malloc(3000))
    a = heaptrack.malloc(100)
    heaptrack.free(a)
h = heaptrack.start_task('leaker', leak)
wait_deleted(h)
t1 = heaptrack.task_stats(h, blocks=True)
freer_out = []
def freer():
    heaptrack.free(kept[0])
    freer_out.append(heaptrack.current_task())
f = heaptrack.start_task('freer', freer)
while not freer_out:
    time.sleep_ms(5)
t2 = heaptrack.task_stats(h, blocks=True)
names = [t.name for t in heaptrack.task_stats()]
print([heaptrack.TRACK_DELETED, t1.alive, t1.current, [len(hp.blocks) for hp in t1.heaps],
       t2.current, [hp.blocks for hp in t2.heaps], t2.peak == t1.peak, 'leaker' in names, 'freer' in names])
""")
    track_deleted, alive, current, nblocks, current2, blocks2, same_peak, listed, freer_listed = result
    if not track_deleted:
        pytest.skip("firmware built without CONFIG_HEAP_TRACK_DELETED_TASKS")
    assert alive is False
    assert current >= 3000 and sum(nblocks) == 1
    assert current2 == 0 and all(b == () for b in blocks2)
    assert same_peak and listed
    # A task that only frees never allocated, so ESP-IDF has no record of it.
    # (Its handle may be the leaker's: its TCB can reuse the leaker's block.)
    assert not freer_listed


@pytest.mark.usefixtures("from_power_on")
def test_invariants_hold_under_concurrent_tasks(board):
    result = run(board, """
import random
N = 4
done = []
def churn(seed, ops):
    random.seed(seed)
    live = []
    for i in range(ops):
        if live and random.getrandbits(1):
            heaptrack.free(live.pop(random.getrandbits(16) % len(live)))
        else:
            live.append(heaptrack.malloc(1 + random.getrandbits(9)))
    done.append(len(live))
hs = [heaptrack.start_task('churn%d' % i, churn, (i, 1500)) for i in range(N)]
for h in hs:
    wait_deleted(h, 60000)
stats = [heaptrack.task_stats(h, blocks=True) for h in hs]
bad = [b for t in stats for b in invariants(t)]
held = sum(hp.alloc_count for t in stats for hp in t.heaps)
freed = heaptrack.free_all()
after = [heaptrack.task_stats(h).current for h in hs]
print([bad, sorted(done) == sorted(sum(hp.alloc_count for hp in t.heaps) for t in stats),
       held, freed >= held, after])
""", timeout=120)
    bad, counts_match, held, freed_enough, after = result
    assert bad == []
    assert counts_match
    assert held > 0 and freed_enough
    assert after == [0, 0, 0, 0]


def test_snapshot_lists_tasks_in_esp_idf_order(board):
    result = run(board, """
def one():
    heaptrack.malloc(16)
hs = [heaptrack.start_task('order%d' % i, one) for i in range(3)]
for h in hs:
    wait_deleted(h)
all_handles = [t.handle for t in heaptrack.task_stats()]
heaptrack.free_all()
print([all_handles == sorted(all_handles, reverse=True), all(h in all_handles for h in hs)])
""")
    assert result == [True, True]


@pytest.mark.usefixtures("from_power_on")
def test_print_overview_and_details_match_esp_idf_format(board):
    out = board.exec(PRELUDE + """
def work():
    heaptrack.malloc(6656)
    heaptrack.malloc(100)
h = heaptrack.start_task('fmt_task', work)
wait_deleted(h)
print('\\n PRINTING OVERVIEW STATISTICS OF EACH TASK')
heaptrack.print_overview()
print('\\n PRINTING OVERVIEW STATISTICS OF ONE TASK')
heaptrack.print_overview(h)
print('\\n PRINTING DETAILED STATISTICS OF EACH TASK')
heaptrack.print_details()
print('\\n PRINTING DETAILED STATISTICS OF ONE TASK')
heaptrack.print_details(h)
heaptrack.free_all()
""", timeout=30)
    parsed = report.parse(out)
    all_tasks, one_task = parsed.overviews[:2]
    assert [r.name for r in one_task.rows] == ["fmt_task"]
    row = one_task.rows[0]
    assert row.alive is False and row.current >= 6756 and row.heap_count >= 1
    assert "fmt_task" in [r.name for r in all_tasks.rows]

    details_all, details_one = parsed.details[:2]
    for details in (details_all, details_one):
        details.check()
    (task,) = details_one.tasks
    assert task.name == "fmt_task"
    assert sorted(size for heap in task.heaps for _, size in heap.blocks)[-1] >= 6656

    # Exact line shapes from ESP-IDF's printers.
    lines = out.splitlines()
    one = lines[lines.index(" PRINTING OVERVIEW STATISTICS OF ONE TASK") + 1:][:5]
    assert one[0] == "┌────────────────────┬─────────┬──────────────────────┬───────────────────┬─────────────────┐"
    assert one[1] == "│ TASK               │ STATUS  │ CURRENT MEMORY USAGE │ PEAK MEMORY USAGE │ TOTAL HEAP USED │"
    assert one[2] == "├────────────────────┼─────────┼──────────────────────┼───────────────────┼─────────────────┤"
    assert one[3] == "│ %18s │ DELETED │ %20d │ %17d │ %15d │" % ("fmt_task", row.current, row.peak, row.heap_count)
    assert one[4] == "└────────────────────┴─────────┴──────────────────────┴───────────────────┴─────────────────┘"
    tree = lines[lines.index(" PRINTING DETAILED STATISTICS OF ONE TASK") + 1:]
    assert tree[0].startswith("└ DELETED: fmt_task, CURRENT MEMORY USAGE %d, PEAK MEMORY USAGE %d, TOTAL HEAP USED"
                              % (row.current, row.peak))
    # Which heaps the task's blocks landed in is ESP-IDF's choice (mp_task's
    # stack and MicroPython's heap fill some): the tree's shape follows.
    if row.heap_count == 1:
        assert tree[1].startswith("     └ HEAP: ")
        assert tree[2].startswith("          ├ ALLOC 0x")
        assert tree[3].startswith("          ├ ALLOC 0x")
    else:
        assert tree[1].startswith("     ├ HEAP: ")
        assert tree[2].startswith("     │    ├ ALLOC 0x")
        last_heap = [i for i, line in enumerate(tree) if line.startswith("     └ HEAP: ")]
        assert len(last_heap) == 1 and tree[last_heap[0] + 1].startswith("          ├ ALLOC 0x")


# dump()'s begin/region/gc/end lines cost the same for any number of blocks.
@pytest.mark.parametrize("call, slack", [("heaptrack.print_details(me)", 64), ("heaptrack.dump(me)", 256)])
def test_printing_streams_without_python_heap_per_block(board, call, slack):
    """Many blocks print with no more MicroPython heap than 10 blocks."""
    # heaptrack keeps at most 1024 blocks outstanding (HT_IDF_MAX_BLOCKS), on
    # the virtual board as on a real one.
    many = 1000
    result = run(board, """
import gc
def cost(n):
    blocks = [heaptrack.malloc(16) for i in range(n)]
    me = heaptrack.current_task()
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    %s
    used = gc.mem_alloc() - before
    gc.enable()
    for b in blocks:
        heaptrack.free(b)
    return used
print([cost(10), cost(%d)])
""" % (call, many), timeout=120)
    small, large = result
    assert large <= small + slack, (small, large)


# A board with 1 MiB of PSRAM (at ESP32-S3's external RAM address): the biggest
# heap, so ESP-IDF keeps its tracking records there and internal RAM can be
# filled without starving them.
PSRAM = {"HEAPTRACK_IDF_REGIONS": "SPIRAM:0x3c000000:1048576"}


def test_full_heaps_raise_memory_error_and_the_board_stays_usable(vboard_factory):
    psram = vboard_factory(env=PSRAM)
    result = run(psram, """
me = heaptrack.current_task()
held = []
while True:
    try:
        held.append(heaptrack.malloc(4096, heaptrack.CAP_INTERNAL))
    except MemoryError:
        break
before = heaptrack.task_stats(me, blocks=True)
errors = [err(heaptrack.malloc, 40000, heaptrack.CAP_INTERNAL), err(heaptrack.malloc, 2000000),
          err(heaptrack.malloc, 2000000, heaptrack.CAP_SPIRAM)]
after = heaptrack.task_stats(me, blocks=True)
s = heaptrack.malloc(100, heaptrack.CAP_SPIRAM)
heaps = sorted(set((h.name, h.size) for h in heaptrack.task_stats(me).heaps))
freed = heaptrack.free_all()
again = heaptrack.malloc(4096, heaptrack.CAP_INTERNAL)
heaptrack.free(again)
print([errors, before == after, heaps, freed == len(held) + 1, len(held) > 50])
""")
    errors, unchanged, heaps, all_freed, filled = result
    assert errors == ["MemoryError"] * 3
    assert unchanged
    assert ("SPIRAM", 1048576) in heaps
    assert all_freed and filled


def test_bad_extra_region_is_a_clear_error(vboard_factory):
    from heaptrack_host.vboard import VirtualBoardError
    with pytest.raises(VirtualBoardError) as e:
        vboard_factory(env={"HEAPTRACK_IDF_REGIONS": "FLASH:0x3c000000:12"})
    assert "HEAPTRACK_IDF_REGIONS" in str(e.value) and "unknown memory type" in str(e.value)


def test_firmware_without_tracking_says_which_option_to_enable(vboard_factory):
    # Built with CONFIG_HEAP_TASK_TRACKING off (make HEAPTRACK_TRACKING=0).
    untracked = vboard_factory(untracked=True)
    out = untracked.exec(PRELUDE + """
a = heaptrack.malloc(100)
for f in (heaptrack.task_stats, heaptrack.print_overview, heaptrack.print_details, heaptrack.snapshot):
    try:
        f()
    except RuntimeError as e:
        print('RuntimeError', e)
regions = heaptrack.heap_info().regions
print([heaptrack.TRACKER, heaptrack.TRACK_DELETED, sum(r.total - r.free for r in regions) >= 100,
       heaptrack.free_all(), err(heaptrack.free, a)])
""")
    lines = out.strip().splitlines()
    assert len([line for line in lines if line.startswith("RuntimeError")]) == 4
    assert all("CONFIG_HEAP_TASK_TRACKING=y" in line for line in lines[:4])
    assert ast.literal_eval(lines[-1]) == [None, False, True, 1, "ValueError"]


def test_thread_tasks_are_named_as_on_esp32(board):
    result = run(board, """
import _thread
me = heaptrack.current_task()
a = heaptrack.malloc(64)
out = []
def in_thread():
    out.append((heaptrack.current_task(), heaptrack.malloc(64)))
_thread.start_new_thread(in_thread, ())
wait_for(out)
handle, block = out[0]
names = [heaptrack.task_stats(me).name, heaptrack.task_stats(handle).name, handle != me]
heaptrack.free(a)
heaptrack.free(block)
print(names)
""")
    assert result == ["mp_task", "mp_thread", True]


def test_overview_of_10000_blocks_needs_no_block_arrays(vboard_factory):
    # ESP-IDF keeps its records and the statistics arrays in the biggest heap
    # (here 1 MiB of PSRAM). With 10,000 live blocks, a block array needs
    # 120 KB there; leave less free: overviews still work, and so do details,
    # whose block array heaptrack then takes from another heap with room
    # (internal RAM here), where ESP-IDF's own copy would fail.
    psram = vboard_factory(env=PSRAM)
    result = run(psram, """
held = [heaptrack.malloc(16, heaptrack.CAP_SPIRAM) for i in range(10000)]
filler = fill(heaptrack.CAP_SPIRAM, smallest=4096)
for i in range(3):
    heaptrack.free(filler.pop())     # room for the task and heap arrays
spiram = [r for r in heaptrack.heap_info().regions if r.total == 1048576][0]
heaptrack.print_overview()
stats = heaptrack.task_stats()
details = err(heaptrack.print_details)
me = [t for t in stats if t.handle == heaptrack.current_task()][0]
print([spiram.largest_free < 120000, me.heaps[0].blocks is None, sum(h.alloc_count for h in me.heaps) >= 10000,
       details])
heaptrack.free_all()
""", timeout=120)
    assert result == [True, True, True, None]


def test_overview_of_10000_blocks_takes_at_most_its_stated_bound(vboard_factory):
    # An overview takes its task and heap arrays (docs/real-boards.md: at most
    # (tasks + 4) x 40 + (task-heap records + 8) x 28 + 16 x 12 bytes, plus the
    # allocator's headers), never a block array for every live block, which
    # ESP-IDF's own heap_caps_alloc_all_task_stat_arrays() takes: 120 KB for
    # 10,000 blocks. Measured as the fall of the biggest heap's low-water mark
    # across print_overview(), from a low-water mark that is its free bytes.
    psram = vboard_factory(env=PSRAM)
    result = run(psram, """
held = [heaptrack.malloc(16, heaptrack.CAP_SPIRAM) for i in range(10000)]
heaptrack.print_overview()        # the tracker learns how many records there are
def spiram():
    return [r for r in heaptrack.heap_info().regions if r.total == 1048576][0]
s = spiram()
low = heaptrack.malloc(s.free - s.minimum_free + 64, heaptrack.CAP_SPIRAM)
before = spiram()
heaptrack.print_overview()
after = spiram()
stats = heaptrack.task_stats()
bound = (len(stats) + 4) * 40 + (sum(len(t.heaps) for t in stats) + 8) * 28 + 16 * 12 + 3 * 16
heaptrack.free_all()
print([before.minimum_free == before.free, before.minimum_free - after.minimum_free, bound])
""", timeout=120)
    at_low, taken, bound = result
    assert at_low and 0 < taken <= bound < 10000 * 12 // 8, result


def test_cap_exec_is_refused_where_it_comes_back_at_another_address(board):
    result = run(board, """
try:
    heaptrack.free(heaptrack.malloc(64, heaptrack.CAP_EXEC))
    r = 'allocated'
except ValueError as e:
    r = 'refused' if 'CAP_EXEC' in str(e) and 'instruction-bus' in str(e) else str(e)
except MemoryError:
    r = 'no exec heap'
print([r])
""")
    # ESP32, S2, S3, C2, C3 (the virtual board is an S3) refuse it; C5, C6, P4 give it out.
    if board.virtual:
        assert result[0] == "refused"
    else:
        assert result[0] in ("refused", "allocated", "no exec heap")


@pytest.mark.usefixtures("from_power_on")
def test_task_names_are_bytes_as_esp_idf_stores_them(board):
    out = board.exec(PRELUDE + r"""
def f():
    heaptrack.free(heaptrack.malloc(16))
before = len(heaptrack.task_stats())
msgs = []
for name in ("éééééééé", "x" * 16, "a\nb", "cr\r", "tab\tx", "del\x7f", ""):
    try:
        heaptrack.start_task(name, f)
        msgs.append(None)
    except ValueError as e:
        msgs.append(str(e))
unchanged = len(heaptrack.task_stats()) == before
h = heaptrack.start_task("ééééééé", f)
wait_deleted(h)
print(repr([msgs, unchanged, heaptrack.task_stats(h).name]))
""")
    lines = out.strip().splitlines()
    assert len(lines) == 1, out               # a refused name prints nothing
    msgs, unchanged, name = ast.literal_eval(lines[0])
    assert unchanged
    assert name == "ééééééé"                   # 14 bytes: accepted
    for m in msgs[:2]:                         # 16 bytes, in UTF-8 or ASCII
        assert m == "task name is 16 bytes; ESP-IDF stores 1 to 15 (configMAX_TASK_NAME_LEN)"
    for m, byte in zip(msgs[2:6], ("0x0a", "0x0d", "0x09", "0x7f")):
        assert m == "task name has a control character (%s): it would break reports" % byte
    assert "is 0 bytes" in msgs[6]


def test_unknown_tasks_change_nothing_and_print_nothing(board):
    out = board.exec(PRELUDE + """
before = heaptrack.task_stats(blocks=True)
res = [err(f, 0x7ffffff1) for f in (heaptrack.task_stats, heaptrack.print_overview, heaptrack.print_details,
                                    heaptrack.dump)]
res += [err(heaptrack.dump, task=0x7ffffff1, blocks=False), err(heaptrack.print_details, task=-1)]
print([res, heaptrack.task_stats(blocks=True) == before])
""")
    lines = out.strip().splitlines()
    assert lines == ["[['ValueError', 'ValueError', 'ValueError', 'ValueError', 'ValueError', 'ValueError'], True]"]


def test_dump_without_tracking_prints_nothing(vboard_factory):
    untracked = vboard_factory(untracked=True)
    out = untracked.exec(PRELUDE + "print(err(heaptrack.dump))")
    assert out.strip() == "RuntimeError"


def test_task_stat_and_heap_stat_are_named_types(board):
    result = run(board, """
a = heaptrack.malloc(100)
me = heaptrack.current_task()
t = heaptrack.task_stats(me, blocks=True)
h = t.heaps[0]
name, handle, alive, current, peak, heaps = t
copy = heaptrack.TaskStat(*t)
rebuilt = heaptrack.TaskStat(t.name, t.handle, t.alive, t.current, t.peak,
                             [tuple(x) for x in t.heaps])
hs = heaptrack.HeapStat('RAM', 5, 1000, 16, 32, 1, [(4096, 16)])
res = [type(t).__name__, type(h).__name__, isinstance(t, heaptrack.TaskStat), isinstance(h, heaptrack.HeapStat),
       len(t), len(h), t[0] == t.name == name, t[1] == handle == me, t[-1] == heaps, t[2:4] == (alive, current),
       list(h) == [h.name, h.caps, h.size, h.current, h.peak, h.alloc_count, h.blocks],
       a in [b for hh in t.heaps for b, s in hh.blocks], copy == t, rebuilt == t, hash(copy) == hash(t), h == copy.heaps[0],
       heaptrack.task_stats(me, blocks=True) == t, err(setattr, t, 'name', 'x'), err(lambda: t[6]),
       hs.blocks, hs.size, err(heaptrack.TaskStat, 'x' * 16, 0, True, 0, 0, ()),
       err(heaptrack.HeapStat, 'RAM', 5, 1000, 16, 32, 0, [(4096, 16)]),
       # fewer blocks than counted: the tracker lost a record (ESP-IDF's tracker, its heap full)
       heaptrack.HeapStat('RAM', 5, 1000, 16, 32, 2, [(4096, 16)]).blocks,
       err(heaptrack.HeapStat, 'RAM', 5, 1000, 16, 32, 2, [(0, 16)])]
heaptrack.free(a)
res.append(heaptrack.task_stats(me, blocks=True) == t)
print(res)
""")
    assert result == ["TaskStat", "HeapStat", True, True, 6, 7, True, True, True, True, True, True, True, True,
                      True, True, True, "AttributeError", "IndexError", ((4096, 16),), 1000, "ValueError",
                      "ValueError", ((4096, 16),), "ValueError", False]


def test_task_stat_prints_as_a_named_tuple_with_hex(board):
    out = board.exec(PRELUDE + """
a = heaptrack.malloc(100)
t = heaptrack.task_stats(heaptrack.current_task(), blocks=True)
print(repr(t))
print(heaptrack.task_stats(heaptrack.current_task()))
print(a)
heaptrack.free(a)
""")
    with_blocks, without, addr = out.strip().splitlines()
    m = re.fullmatch(r"TaskStat\(name='mp_task', handle=0x([0-9a-f]{8}), alive=True, current=(\d+), peak=(\d+), "
                     r"heaps=\((HeapStat\(name='\w+', caps=0x[0-9a-f]{8}, size=\d+, current=\d+, peak=\d+, "
                     r"alloc_count=\d+, blocks=\(.*\)\)(, )?)+,?\)\)", with_blocks)
    assert m, with_blocks
    assert "(0x%08x, " % int(addr) in with_blocks
    assert "blocks=None)" in without


# ---------------------------------------------------------------------------
# Error paths an adversary found (issue 21): each a clear exception, nothing changed.


def test_start_task_takes_its_arguments_by_keyword(board):
    result = run(board, """
got = []
h = heaptrack.start_task(name='kw_task', func=lambda a, b=0: got.append((a, b)), args=(1,), kwargs={'b': 2},
                         stack_size=8192)
wait_for(got)
print([got, err(heaptrack.start_task, func=lambda: None), isinstance(h, int)])
""")
    assert result == [[(1, 2)], "TypeError", True]


def test_stack_size_out_of_range_is_a_value_error(board):
    result = run(board, """
def msg(f, *a, **k):
    try:
        f(*a, **k)
    except Exception as e:
        return [type(e).__name__, str(e)]
f = lambda: None
print([msg(heaptrack.start_task, 'big', f, stack_size=2**31), msg(heaptrack.start_task, 'big', f, stack_size=-1),
       msg(heaptrack.start_task, 'big', f, stack_size=2**64), msg(heaptrack.start_task, 'big', f, stack_size='8k')])
""")
    for kind, text in result[:3]:
        assert kind == "ValueError" and text == "stack_size must be from 0 to 2147483647 bytes"
    assert result[3] == ["TypeError", "stack_size must be an int"]


def test_a_task_with_no_heap_for_its_stack_is_a_memory_error_that_says_so(board):
    result = run(board, """
try:
    heaptrack.start_task('huge', lambda: None, stack_size=2**30)
except MemoryError as e:
    print([str(e)])
""")
    assert result == ["no memory for task 'huge': ESP-IDF's heap has no room for its 1073741824-byte stack "
                      "and its TCB"]


def test_a_thread_with_no_heap_left_says_memory(virtual_only, vboard_factory):
    # _thread on the virtual board: its stack and TCB come from ESP-IDF's heap,
    # filled here; the host's FreeRTOS answers ENOMEM, so the error says memory
    # (a board's esp32 port says "can't create thread"; start_task says more).
    b = vboard_factory()
    result = run(b, """
import _thread
held = fill(heaptrack.CAP_INTERNAL)
res = [err(_thread.start_new_thread, lambda: None, ())]
try:
    _thread.start_new_thread(lambda: None, ())
except OSError as e:
    import errno
    res.append(e.errno == errno.ENOMEM)
try:
    heaptrack.start_task('starved', lambda: None)
except MemoryError as e:
    res.append(str(e).startswith("no memory for task 'starved'"))
for p in held:
    heaptrack.free(p)
print(res)
""")
    assert result == ["OSError", True, True]


def test_stat_names_with_control_characters_are_refused(board):
    result = run(board, """
def msg(f, *a):
    try:
        f(*a)
    except Exception as e:
        return [type(e).__name__, str(e)]
heap = ('RAM', 0x1000, 1000, 0, 0, 0, None)
print([msg(heaptrack.TaskStat, 'a\\nb', 1, True, 0, 0, ()), msg(heaptrack.TaskStat, 'ok', 1, True, 0, 0, [('R\\tAM',) + heap[1:]]),
       msg(heaptrack.HeapStat, 'x\\x7f', 0x1000, 1000, 0, 0, 0, None), heaptrack.TaskStat('fine', 1, True, 0, 0, [heap]).name])
""")
    assert result[0] == ["ValueError", "task name has a control character (0x0a): it would break reports"]
    assert result[1] == ["ValueError", "heap name has a control character (0x09): it would break reports"]
    assert result[2] == ["ValueError", "heap name has a control character (0x7f): it would break reports"]
    assert result[3] == "fine"


def test_print_heap_info_refuses_a_bad_size_before_printing(board):
    out = board.exec(PRELUDE + """
for bad in ('x', -1, 0, 1.5):
    try:
        heaptrack.print_heap_info(bad)
    except (TypeError, ValueError) as e:
        print(type(e).__name__, e)
try:
    heaptrack.print_heap_info(16, caps=-1)
except ValueError as e:
    print('caps', e)
""")
    assert out.splitlines() == ["TypeError size and caps must be ints", "ValueError size must be > 0",
                                "ValueError size must be > 0", "TypeError size and caps must be ints",
                                "caps caps has bits that are not heaptrack.CAP_* values"]


# ---------------------------------------------------------------------------
# One notation: addresses and caps in hex wherever a user reads them.


def test_regions_print_their_caps_in_hex(board):
    out = board.exec("import heaptrack\nfor r in heaptrack.heap_info().regions: print(repr(r))")
    lines = out.splitlines()
    assert lines and all(re.match(r"^Region\(name='[^']+', caps=0x[0-9a-f]{8}, total=\d+, free=\d+, "
                                  r"largest_free=\d+, minimum_free=\d+\)$", line) for line in lines), out
