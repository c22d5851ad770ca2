"""The board's own story, before and around user code: the tasks the firmware
starts (ESP-IDF's start-up creates `main`, whose app_main creates `mp_task`),
MicroPython's heap inside ESP-IDF's heap (taken by mp_task at boot, grown from
ESP-IDF's heap as it fills, given back when emptied), and the esp32 module's
view of the same heaps and tasks. Nothing here depends on the chip's sizes."""
import re

import pytest

from heaptrack_host import report

from board_code import SPARSE_GC_HEAP, run

# MicroPython's esp32 port: mp_task's stack (MICROPY_TASK_STACK_SIZE), which
# `main` allocates when it creates mp_task.
MP_TASK_STACK = 16 * 1024
# A _thread task's stack on the esp32 port (ports/esp32/mpthreadport.c): at
# least MP_THREAD_MIN_STACK_SIZE, by default that plus MICROPY_STACK_CHECK_MARGIN.
THREAD_MIN_STACK = 4 * 1024
THREAD_DEFAULT_STACK = THREAD_MIN_STACK + 1024


@pytest.mark.usefixtures("from_power_on")
def test_fresh_board_shows_the_firmware_tasks_and_micropythons_heap(board):
    out = board.exec("""
import heaptrack
heaptrack.print_overview()
gc = heaptrack.heap_info().gc
me = heaptrack.current_task()
blocks = [s for h in heaptrack.task_stats(me, blocks=True).heaps for a, s in h.blocks]
print([gc.areas, gc.total, gc.in_esp_heap, max(blocks)])
""")
    overview = report.parse(out).overviews[0]
    rows = {r.name: r for r in overview.rows}
    assert {"Pre-scheduler", "main", "mp_task"} <= set(rows), out
    assert overview.rows[-1].name == "Pre-scheduler"   # ESP-IDF lists it last
    # main holds what it allocated for mp_task: its stack and TCB.
    assert rows["main"].current > MP_TASK_STACK, out
    areas, gc_total, in_esp_heap, largest_block = eval(out.strip().splitlines()[-1])
    # MicroPython's heap: one area, inside ESP-IDF's heap, one of mp_task's blocks.
    assert areas == 1 and gc_total > 0 and in_esp_heap >= gc_total, out
    assert largest_block >= in_esp_heap and rows["mp_task"].current >= largest_block, out


def test_gc_heap_grows_from_esp_idf_heap_and_gives_it_back(board):
    result = run(board, """
import gc
info = heaptrack.heap_info
me = heaptrack.current_task()
def held():
    return heaptrack.task_stats(me).current
start_areas, start_held, start_total = info().gc.areas, held(), info().gc.total
keep = [bytearray(1024) for _ in range(start_total // 1024 * 2)]
grown = info().gc
grown_held = held()
del keep
gc.collect()
back = info().gc
print([start_areas, grown.areas > start_areas, grown.total > start_total,
       grown_held - start_held >= grown.total - start_total, back.areas, back.total == start_total,
       held() == start_held])
""")
    assert result == [1, True, True, True, 1, True, True]


def test_soft_reset_keeps_mp_tasks_first_area_and_frees_the_others(board):
    code = """
import gc
me = heaptrack.current_task()
def big_blocks():
    return sorted(a for h in heaptrack.task_stats(me, blocks=True).heaps for a, s in h.blocks if s >= 32768)
first = big_blocks()
keep = [bytearray(1024) for _ in range(heaptrack.heap_info().gc.total // 512)]
print([me, first, len(big_blocks()) > len(first)])
"""
    me, first, grew = run(board, code)
    assert grew
    # mpremote exec soft-resets first: the areas added last time are back in ESP-IDF's heap.
    me_after, first_after, _ = run(board, code)
    assert (me_after, first_after) == (me, first)


def test_esp32_module_heap_and_task_info(board):
    result = run(board, """
import esp32
data = esp32.idf_heap_info(esp32.HEAP_DATA)
exe = esp32.idf_heap_info(esp32.HEAP_EXEC)
regions = heaptrack.heap_info().regions
def ours(caps):
    return [(r.total, r.free, r.largest_free) for r in regions if r.caps & caps == caps]
total, tasks = esp32.idf_task_info()
me = heaptrack.current_task()
mine = [t for t in tasks if t[0] == me]
print([esp32.HEAP_DATA == heaptrack.CAP_8BIT, esp32.HEAP_EXEC == heaptrack.CAP_EXEC,
       all(type(h) is tuple and len(h) == 4 and all(type(x) is int for x in h) for h in data + exe),
       [h[:3] for h in data], ours(heaptrack.CAP_8BIT), len(exe) == len(ours(heaptrack.CAP_EXEC)),
       all(h[0] >= h[1] >= h[2] and h[1] >= h[3] >= 0 for h in data),
       type(tasks) is list, all(type(t) is tuple and len(t) == 7 for t in tasks),
       [(t[1], t[2]) for t in mine], 'mp_task' in [t[1] for t in tasks], 'main' in [t[1] for t in tasks],
       err(esp32.idf_heap_info, 'x')])
""")
    (data_caps, exec_caps, shapes, theirs, ours, exec_count, ordered, is_list, task_shapes, mine,
     has_mp_task, main_listed, bad_caps) = result
    assert [data_caps, exec_caps, shapes, exec_count, ordered, is_list, task_shapes] == [True] * 7
    # The same heaps as heaptrack.heap_info(), in the same order. Free figures
    # may differ a little on a board (the port reads ESP-IDF's own counters,
    # and other tasks allocate between the two reads).
    assert [t for t, _, _ in theirs] == [t for t, _, _ in ours]
    for (_, free, largest), (_, our_free, our_largest) in zip(theirs, ours):
        assert abs(free - our_free) <= max(512, our_free // 100)
        assert abs(largest - our_largest) <= max(512, our_largest // 100)
    assert mine == [("mp_task", 0)]      # the caller, running (eRunning)
    assert has_mp_task and not main_listed   # main returned from app_main: deleted
    assert bad_caps == "TypeError"


def test_gc_heap_free_but_no_16k_internal_block(board):
    """The classic: gc.mem_free() is large, yet a 16 KB block (a TLS buffer)
    cannot be had, because MicroPython's heap grew into ESP-IDF's heap, and
    print_heap_info(16384) says so."""
    out = board.exec("""
import gc, heaptrack
""" + SPARSE_GC_HEAP + """
info = heaptrack.heap_info()
try:
    heaptrack.free(heaptrack.malloc(16384))
    tls = 'allocated'
except MemoryError:
    tls = 'MemoryError'
heaptrack.print_heap_info(16384)
print([gc.mem_free(), info.gc.areas, info.largest_free(), tls])
chunks = None
gc.collect()
print(heaptrack.heap_info().can_allocate(16384))
""", timeout=120)
    lines = out.strip().splitlines()
    gc_free, areas, largest, tls = eval(lines[-2])
    assert gc_free > 4 * 16384 and areas >= 2, out
    assert largest < 16384 and tls == "MemoryError", out
    # print_heap_info's own figure, read when it prints: the GC heap may have
    # taken another area since `info` (the MemoryError, the failure's
    # explanation are GC objects, and this heap is nearly full by design).
    said = [int(m.group(1)) for m in (re.fullmatch(
        r" A 16384-byte block with caps 0x00001000 does NOT fit \(largest free: (\d+)\)", line) for line in lines) if m]
    assert len(said) == 1 and said[0] < 16384, out
    assert lines[-1] == "True", out   # emptied areas went back to ESP-IDF's heap


@pytest.mark.usefixtures("from_power_on")
def test_a_threads_stack_and_tcb_are_blocks_of_the_task_that_started_it(board):
    # As xTaskCreate on the esp32 port: the new task's stack (the size the
    # port's _thread gives it), then its TCB, from ESP-IDF's heap, charged to
    # the starting task until the task ends.
    result = run(board, """
import _thread
me = heaptrack.current_task()
def blocks():
    return [(a, s) for h in heaptrack.task_stats(me, blocks=True).heaps for a, s in h.blocks]
out = []
for size in (0, 1024, 16384):
    _thread.stack_size(size)
    before = blocks()
    go = _thread.allocate_lock()
    go.acquire()
    done = _thread.allocate_lock()
    done.acquire()
    def worker():
        go.acquire()
        done.release()
    _thread.start_new_thread(worker, ())
    time.sleep_ms(20)
    new = [b for b in blocks() if b not in before]
    go.release()
    done.acquire()
    time.sleep_ms(50)
    after = blocks()
    out.append([[s for a, s in new], any(b in after for b in new)])
_thread.stack_size(0)
print(out)
""")
    tcb_sizes = set()
    for (sizes, left), stack in zip(result, (THREAD_DEFAULT_STACK, THREAD_MIN_STACK, 16 * 1024)):
        assert len(sizes) == 2, result            # the stack, then the TCB
        assert stack <= sizes[0] <= stack + stack // 8, result   # TLSF rounds up by size class
        assert not left, result                   # both freed as the task ended
        tcb_sizes.add(sizes[1])
    assert len(tcb_sizes) == 1 and min(tcb_sizes) < THREAD_MIN_STACK, result
