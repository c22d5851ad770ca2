"""heaptrack.metrics(): Prometheus's text exposition format (0.0.4) on the board.

The text is read with prometheus_client's parser (the Python client library's
own), and every value is checked against what the firmware reports for the
allocations the test made. Holds on the virtual board and on a real ESP32.
"""
import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from board_code import PRELUDE, run

TASK_FAMILIES = ["heaptrack_task_current_bytes", "heaptrack_task_peak_bytes", "heaptrack_task_live_blocks"]
HEAP_FAMILIES = ["heaptrack_heap_size_bytes", "heaptrack_heap_free_bytes", "heaptrack_heap_largest_free_block_bytes",
                 "heaptrack_heap_minimum_free_bytes"]
# Every family, in the order metrics() prints them (counters by their sample names).
FAMILIES = (["heaptrack_info"] + TASK_FAMILIES
            + ["heaptrack_tasks", "heaptrack_unlisted_deleted_tasks", "heaptrack_unlisted_deleted_bytes"]
            + HEAP_FAMILIES + ["heaptrack_largest_free_block_bytes"]
            + ["heaptrack_gc_heap_size_bytes", "heaptrack_gc_heap_free_bytes",
               "heaptrack_gc_heap_largest_free_block_bytes"]
            + ["heaptrack_untracked_allocations_total", "heaptrack_dropped_deleted_tasks_total",
               "heaptrack_drifted_tasks", "heaptrack_incomplete", "heaptrack_records_full",
               "heaptrack_alloc_failures_total"])


def parse(text):
    """{sample name: [(labels, value)]}, read by prometheus_client; and the text's own shape
    checked: each family's HELP and TYPE lines once, before its samples, which come together."""
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))
    seen = []
    current = None
    for line in text.splitlines():
        m = re.match(r"# (HELP|TYPE) (\S+) ", line)
        if m:
            if m.group(1) == "HELP":
                assert m.group(2) not in seen, "family %s twice" % m.group(2)
                seen.append(m.group(2))
            current = m.group(2)
            continue
        assert re.match(r"[a-z_]+(\{.*\})? \d+$", line), line
        assert line.split("{")[0].split(" ")[0] == current, "%r outside its family" % line
    assert seen == list(samples), "families %s, samples of %s" % (seen, list(samples))
    return samples


def metrics_text(board, setup="", call="heaptrack.metrics()"):
    return run(board, setup + "\nprint(repr(%s))" % call)


def tasks_of(samples, name="heaptrack_task_current_bytes"):
    """{(task, handle, status): value}."""
    return {(labels["task"], int(labels["handle"], 16), labels["status"]): value
            for labels, value in samples[name]}


def test_every_family_named_by_prometheus_conventions(board):
    text = metrics_text(board)
    samples = parse(text)
    assert list(samples) == FAMILIES
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# TYPE"):
            _, _, name, kind = line.split(" ")
            # Counters end in _total; sizes are in bytes and say so.
            assert (kind == "counter") == name.endswith("_total"), line
            assert kind in ("gauge", "counter")
    (info, one), = samples["heaptrack_info"]
    assert one == 1
    version, tracker, machine = run(board, "import sys\nprint([heaptrack.__version__, heaptrack.TRACKER, "
                                           "sys.implementation._machine])")
    assert info == {"version": version, "tracker": tracker or "none", "machine": machine,
                    "track_deleted": "true" if run(board, "print(heaptrack.TRACK_DELETED)") else "false"}


def test_task_series_are_the_tasks_allocations(board):
    # A task holding three blocks it allocated; every task's figures against task_stats().
    result = run(board, """
stop = []
def hold(sizes):
    blocks = [heaptrack.malloc(s) for s in sizes]
    while not stop:
        time.sleep_ms(5)
    for b in blocks:
        heaptrack.free(b)
    stop.append('done')
h = heaptrack.start_task('holder', hold, ([100, 2000, 30],))
t0 = time.ticks_ms()
while not [t for t in heaptrack.task_stats() if t.handle == h and t.current >= 2130]:
    time.sleep_ms(5)
mine = heaptrack.task_stats(h)
text = heaptrack.metrics(max_deleted=64)
stats = [(t.name, t.handle, t.alive, t.current, t.peak, sum(x.alloc_count for x in t.heaps))
         for t in heaptrack.task_stats()]
stop.append(1)
while 'done' not in stop:
    time.sleep_ms(5)
print(repr([text, (mine.current, mine.peak, sum(x.alloc_count for x in mine.heaps)), h, stats]))
""")
    text, (current, peak, blocks), handle, stats = result
    samples = parse(text)
    key = ("holder", handle, "alive")
    assert current >= 2130 and blocks == 3
    assert tasks_of(samples)[key] == current
    assert tasks_of(samples, "heaptrack_task_peak_bytes")[key] == peak
    assert tasks_of(samples, "heaptrack_task_live_blocks")[key] == 3
    # Every task the tracker has, with its status; no other.
    assert set(tasks_of(samples)) == {(n, h, "alive" if a else "deleted") for n, h, a, *_ in stats}
    alive = sum(1 for s in stats if s[2])
    assert dict((labels["status"], v) for labels, v in samples["heaptrack_tasks"]) == {
        "alive": alive, "deleted": len(stats) - alive}


def test_label_values_are_escaped(board):
    name = 'q"uo\\te é'
    # Waited for by name: a handle may be an earlier task's, reused.
    text = metrics_text(board, """
name = %r
heaptrack.start_task(name, lambda: heaptrack.free(heaptrack.malloc(8)))
while not [t for t in heaptrack.task_stats() if t.name == name and not t.alive]:
    time.sleep_ms(5)
""" % name)
    assert 'task="q\\"uo\\\\te é"' in text
    assert any(key[0] == name for key in tasks_of(parse(text)))


@pytest.mark.usefixtures("from_power_on")
def test_deleted_tasks_beyond_max_deleted_leave_the_series(board):
    # Eight tasks end: four leave blocks behind (the leaks stay listed, the
    # biggest first), four hold nothing. Expected from task_stats(), same exec.
    result = run(board, """
def leave(n):
    heaptrack.free(heaptrack.malloc(16))  # tracked from its first allocation
    if n:
        heaptrack.malloc(n)
hs = [heaptrack.start_task('gone%d' % i, leave, (n,)) for i, n in enumerate([0, 300, 0, 100, 0, 400, 0, 200])]
for h in hs:
    wait_deleted(h)
stats = [(t.name, t.handle, t.alive, t.current) for t in heaptrack.task_stats()]
texts = [heaptrack.metrics(max_deleted=k) for k in (0, 3, 8)] + [heaptrack.metrics()]
heaptrack.free_all()
print(repr([stats, texts]))
""")
    stats, texts = result
    deleted = [(n, h, c) for n, h, a, c in stats if not a]
    assert len(deleted) == 8
    ranked = sorted(deleted, key=lambda d: -d[2])  # stable: ESP-IDF's order among equals
    for k, text in zip((0, 3, 8, 16), texts):
        samples = parse(text)
        listed = {(n, h) for n, h, status in tasks_of(samples) if status == "deleted"}
        assert listed == {(n, h) for n, h, c in ranked[:k]}, k
        for family in TASK_FAMILIES:
            assert len(samples[family]) == len(stats) - 8 + min(k, 8)
        rest = ranked[k:]
        assert samples["heaptrack_unlisted_deleted_tasks"] == [({}, len(rest))]
        assert samples["heaptrack_unlisted_deleted_bytes"] == [({}, sum(c for n, h, c in rest))]
    # Three listed: the 400-, 300- and 200-byte leaks.
    assert [n for n, h, c in ranked[:3]] == ["gone5", "gone1", "gone7"]


def test_heap_and_gc_series_are_the_boards(board):
    result = run(board, """
import gc
heaptrack.metrics()
gc.collect()
text = heaptrack.metrics()
info = heaptrack.heap_info()
print(repr([text, [(r.name, r.caps, r.total) for r in info.regions], info.gc.total]))
""")
    text, regions, gc_total = result
    samples = parse(text)
    assert sorted((labels["heap"], int(labels["caps"], 16), v)
                  for labels, v in samples["heaptrack_heap_size_bytes"]) == sorted(regions)
    by_region = {}
    for family in HEAP_FAMILIES:
        for labels, v in samples[family]:
            by_region.setdefault(labels["address"], {})[family] = v
    for figures in by_region.values():
        size, free, largest, minimum = (figures[f] for f in HEAP_FAMILIES)
        assert largest <= free <= size and minimum <= free
    assert samples["heaptrack_gc_heap_size_bytes"] == [({}, gc_total)]
    largest = dict((labels["caps"], v) for labels, v in samples["heaptrack_largest_free_block_bytes"])
    assert largest["internal"] > 0 and largest["default"] > 0


def test_failed_allocations_are_counted(board):
    before, error, after = run(board, """
def failures():
    for line in heaptrack.metrics().splitlines():
        if line.startswith('heaptrack_alloc_failures_total '):
            return int(line.split()[1])
before = failures()
e = err(heaptrack.malloc, 10**7)
print([before, e, failures()])
""")
    assert error == "MemoryError"
    assert after == before + 1


def test_streamed_text_is_the_same_and_takes_no_heap(board):
    # Written to a file and to stdout, the text has the series a str has; the
    # str costs one allocation of its own size, the stream none.
    result = run(board, """
import gc, sys
text = heaptrack.metrics()
before = streamed_heap = str_heap = again = None
with open('metrics.txt', 'w') as f:
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    heaptrack.metrics(f)
    streamed_heap = gc.mem_alloc() - before
    gc.enable()
with open('metrics.txt') as f:
    written = f.read()
import os
os.remove('metrics.txt')
gc.collect()
gc.disable()
before = gc.mem_alloc()
again = heaptrack.metrics()
str_heap = gc.mem_alloc() - before
gc.enable()
print(repr([text, written, streamed_heap, str_heap, len(again)]))
""")
    text, written, streamed_heap, str_heap, length = result
    series = [(name, sorted(labels.items())) for name, samples in parse(text).items() for labels, v in samples]
    assert [(name, sorted(labels.items())) for name, samples in parse(written).items()
            for labels, v in samples] == series
    assert streamed_heap == 0
    # The text (and its terminating NUL) in 16-byte GC blocks, and the str object.
    assert str_heap <= (length + 1 + 15) // 16 * 16 + 16, (str_heap, length)
    out = board.exec(PRELUDE + "import sys\nheaptrack.metrics(sys.stdout)")
    assert [(name, sorted(labels.items())) for name, samples in parse(out.replace("\r\n", "\n")).items()
            for labels, v in samples] == series


def test_bad_arguments_raise_and_print_nothing(board):
    out = board.exec(PRELUDE + """
import sys
print([err(heaptrack.metrics, max_deleted=65), err(heaptrack.metrics, max_deleted=-1),
       err(heaptrack.metrics, max_deleted='3'), err(heaptrack.metrics, max_deleted=2.0),
       err(heaptrack.metrics, 3), err(heaptrack.metrics, 'out.txt'), err(heaptrack.metrics, [], 1),
       err(heaptrack.metrics, sys.stdout, max_deleted=99), err(heaptrack.metrics, bogus=1)])
""")
    assert out.strip() == str(["ValueError", "ValueError", "TypeError", "TypeError", "TypeError", "TypeError",
                               "TypeError", "ValueError", "TypeError"])


def test_firmware_without_tracking_says_which_option_to_enable(vboard_factory):
    untracked = vboard_factory(untracked=True)
    out = untracked.exec(PRELUDE + """
try:
    heaptrack.metrics()
except RuntimeError as e:
    print('RuntimeError', e)
""")
    assert out.startswith("RuntimeError") and "CONFIG_HEAP_TASK_TRACKING=y" in out
    assert len(out.strip().splitlines()) == 1
