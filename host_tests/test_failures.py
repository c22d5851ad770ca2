"""Failed ESP-IDF allocations: recorded by ESP-IDF's callback with the heaps'
figures of that moment, explained by heaptrack.failures(), announced once
before a report, kept over a soft reset, forgotten on request."""
import re

from board_code import PRELUDE, run

# A board with 1 MiB of PSRAM: ESP-IDF keeps its tracking records there, so
# internal RAM can be filled without starving them.
PSRAM = {"HEAPTRACK_IDF_REGIONS": "SPIRAM:0x3c000000:1048576"}

# What each failure's record says, and the internal heaps' figures as
# heap_info() gives them right after (nothing allocates in between).
EXPLAIN = """
def internal_now():
    return sorted((r.caps, r.total, r.free, r.largest_free) for r in heaptrack.heap_info(False).regions
                  if r.caps & heaptrack.CAP_INTERNAL == heaptrack.CAP_INTERNAL)

def explain(size, caps=heaptrack.CAP_INTERNAL):
    heaptrack.clear_failures()
    assert err(heaptrack.malloc, size, caps) == 'MemoryError'
    now = internal_now()
    fs = heaptrack.failures()
    f = fs[0]
    return dict(total=fs.total, size=f.size, caps=f.caps, own=f.task == heaptrack.current_task(),
                task=f.task_name, function=f.function, kind=f.kind, free=f.free, largest=f.largest,
                heaps=sorted((h.caps, h.total, h.free, h.largest) for h in f.heaps), now=now,
                text=str(f))
"""


def test_failures_are_explained_by_the_heaps_figures(vboard_factory):
    psram = vboard_factory(env=PSRAM)
    result = run(psram, EXPLAIN + """
held = fill(heaptrack.CAP_INTERNAL, largest=2048, smallest=8)
exhausted = explain(4096)
for a in held[:40:2]:
    heaptrack.free(a)
fragmented = explain(16384)
no_heap = explain(100, heaptrack.CAP_SPIRAM | heaptrack.CAP_INTERNAL)
heaptrack.free_all()
heaptrack.clear_failures()
fine = heaptrack.malloc(16384, heaptrack.CAP_INTERNAL)
heaptrack.free(fine)
print([exhausted, fragmented, no_heap, heaptrack.failures().total, str(heaptrack.failures())])
""")
    exhausted, fragmented, no_heap, total_after_success, none_text = result
    for f, size in ((exhausted, 4096), (fragmented, 16384)):
        assert f["total"] == 1 and f["size"] == size and f["caps"] == 1 << 11
        assert f["own"] and f["task"] == "mp_task" and f["function"] == "heap_caps_malloc"
        # Every internal heap, with the figures it had then (= now).
        assert f["heaps"] == f["now"]
        assert f["free"] == sum(h[2] for h in f["now"]) and f["largest"] == max(h[3] for h in f["now"])
    assert exhausted["kind"] == "exhausted" and exhausted["free"] < 4096
    assert re.search(r": 4,096 B of internal RAM \(caps 0x00000800\) failed in mp_task \(heap_caps_malloc\): "
                     r"exhausted: [\d,]+ B free in the \d heaps with these caps", exhausted["text"])
    assert fragmented["kind"] == "fragmented"
    assert fragmented["free"] >= 16384 and fragmented["largest"] < 16384
    assert "fragmented: %s free" % _amount(fragmented["free"]) in fragmented["text"]
    assert "no block over %s" % _amount(fragmented["largest"]) in fragmented["text"]
    assert no_heap["kind"] == "no heap" and no_heap["heaps"] == []
    assert no_heap["text"].endswith("100 B of internal PSRAM (caps 0x00000c00) failed in mp_task "
                                    "(heap_caps_malloc): no heap has these caps")
    assert total_after_success == 0
    assert none_text == "No ESP-IDF heap allocation has failed."


def _amount(n):
    return "{:,} B".format(n) if n < 10 * 1024 else "{:,} KB".format(n // 1024)


def test_a_report_announces_new_failures_once(board):
    out = board.exec(PRELUDE + """
heaptrack.clear_failures()
try:
    heaptrack.start_task('huge', lambda: None, stack_size=64 * 1024 * 1024)
except MemoryError:   # no heap can hold its stack (task.c: task_no_memory)
    pass
heaptrack.print_overview(heaptrack.current_task())
print('--')
heaptrack.print_overview(heaptrack.current_task())
print('--')
err(heaptrack.malloc, 64 * 1024 * 1024)
heaptrack.print_overview(heaptrack.current_task())
""")
    first, second, third = out.split("--\n")
    note = first.splitlines()[0]
    # The task's stack, which no heap could hold, told once, in one line.
    assert re.fullmatch(r"heaptrack: 1 ESP-IDF heap allocation failed \(the newest: \d+ bytes with caps "
                        r"0x[0-9a-f]{8} in mp_task, \w+\); heaptrack.failures\(\) explains it", note), note
    assert first.splitlines()[1].startswith("┌")
    # Then the report is ESP-IDF's again; heaptrack.malloc's MemoryError told its own.
    assert second.startswith("┌") and third.startswith("┌")


def test_failures_survive_a_soft_reset_and_the_ring_counts_what_it_drops(board):
    run(board, """
heaptrack.clear_failures()
for i in range(11):
    err(heaptrack.malloc, 64 * 1024 * 1024 + i)
print(1)
""")
    # mpremote exec soft-resets first.
    total, lost, kept, sizes, text = run(board, """
fs = heaptrack.failures()
print([fs.total, fs.lost, len(fs), [f.size - 64 * 1024 * 1024 for f in fs], str(fs)])
heaptrack.clear_failures()
""")
    assert (total, lost, kept) == (11, 3, 8)
    assert sizes == list(range(3, 11))
    assert text.splitlines()[0] == "11 ESP-IDF heap allocations failed (the oldest 3 no longer kept):"
    assert [int(line.split()[0][1:]) for line in text.splitlines()[1:]] == list(range(4, 12))


def test_print_heap_info_explains_the_failures(board):
    out = board.exec(PRELUDE + """
heaptrack.clear_failures()
err(heaptrack.malloc, 64 * 1024 * 1024)
heaptrack.print_heap_info()
heaptrack.clear_failures()
heaptrack.print_heap_info()
""")
    first, second = out.split(" MicroPython GC heap:")[1:]
    assert " 1 ESP-IDF heap allocation failed:\n  #1 at " in first
    assert "67,108,864 B of default RAM (caps 0x00001000) failed in mp_task (heap_caps_malloc): exhausted" in first
    assert "allocation failed" not in second
