"""Board-side helpers the module tests send ahead of their snippets, and the
host side that runs a snippet and reads back its answer."""
import ast

PRELUDE = """
import heaptrack, time

def err(f, *a, **k):
    try:
        f(*a, **k)
    except Exception as e:
        return type(e).__name__
    return None

def deleted(h):
    try:
        return not heaptrack.task_stats(h).alive
    except ValueError:
        return False  # not tracked before its first allocation

# Each look sleeps 20 ms, two FreeRTOS ticks of the ESP32 ports: a shorter
# sleep busy-waits, and on a single-core chip the idle task, which frees a
# deleted task's TCB (what marks it DELETED), would not run meanwhile.
def wait_deleted(h, ms=5000):
    t0 = time.ticks_ms()
    while not deleted(h):
        if time.ticks_diff(time.ticks_ms(), t0) > ms:
            raise RuntimeError('task still alive')
        time.sleep_ms(20)

def wait_for(flag, ms=5000):
    t0 = time.ticks_ms()
    while not flag:
        if time.ticks_diff(time.ticks_ms(), t0) > ms:
            raise RuntimeError('timed out')
        time.sleep_ms(20)

def fill(caps, largest=65536, smallest=8):
    # heaptrack.malloc's blocks with caps, halving from largest down to
    # smallest, until none fits: the heaps with those caps, full
    held = []
    size = largest
    while size >= smallest:
        try:
            held.append(heaptrack.malloc(size, caps))
        except MemoryError:
            size //= 2
    return held

def invariants(t):
    bad = []
    for h in t.heaps:
        if h.blocks is not None:
            if h.current != sum(s for a, s in h.blocks):
                bad.append((t.name, h.name, 'current', h.current))
            if h.alloc_count != len(h.blocks):
                bad.append((t.name, h.name, 'count', h.alloc_count))
        if h.peak < h.current:
            bad.append((t.name, h.name, 'peak'))
    if t.current != sum(h.current for h in t.heaps):
        bad.append((t.name, 'task current'))
    if t.peak < t.current:
        bad.append((t.name, 'task peak'))
    return bad
"""


def run(board, code, timeout=60):
    """Runs code (after PRELUDE) on the board; its last output line is a Python literal to return."""
    out = board.exec(PRELUDE + code, timeout=timeout)
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines, "no output from board"
    return ast.literal_eval(lines[-1])

# MicroPython's heap filled with 1 KB objects, then every 16th kept (in place:
# the GC heap is full), so that each GC area keeps a live block and none goes
# back to ESP-IDF: gc.mem_free() is large, the ESP-IDF heaps it grew into are
# not. Leaves `chunks` and `gc` behind.
SPARSE_GC_HEAP = """
import gc
chunks = []
try:
    while True:
        chunks.append(bytearray(1024))
except MemoryError:
    pass
for i in range(len(chunks)):
    if i % 16:
        chunks[i] = None
gc.collect()
"""
