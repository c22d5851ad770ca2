"""Benchmarks of the heaptrack module on a board, through mpremote.

    python bench/bench_module.py                 # the virtual board (host firmware)
    python bench/bench_module.py --port DEV      # a real board

Prints, for each figure, what the board measured:
  - ns per heaptrack.malloc + heaptrack.free pair from Python with 10, 1,000 and
    10,000 blocks of the calling task live, and on the virtual board the same on
    the firmware built without heap task tracking (make HEAPTRACK_TRACKING=0) and
    on the one with heaptrack's hooks tracker (make HEAPTRACK_TRACKER=hooks),
    with the ratios. ESP-IDF's tracking walks the calling task's own blocks on
    every free, so with tracking on the cost grows with the live blocks;
  - print_details: MicroPython heap used and wall time for 10 vs 10,000 blocks;
  - snapshot(): MicroPython heap used by a snapshot of N blocks;
  - per task: MicroPython heap that task_stats() and snapshot() take for each
    task record (1,000 deleted tasks), and whether a board with a 200 KB GC heap
    can snapshot 1,000 tasks, and compare two such snapshots;
  - heaptrack.metrics() on 50 tasks: its MicroPython heap and time as ratios to
    a task_stats() call, as a str and streamed to a file, on each tracker;
  - inside the GC heap: a census (heaptrack.gc_census) and a holder chain
    (heaptrack.gc_holders) on a full 64 KB GC heap and on a 2 MB (PSRAM-sized)
    one, as ratios to gc.collect() on the same heap in the same run, and the GC
    bytes each allocates; and what a sample costs with the GC heap's five
    biggest types (dump_sample(gc_types=5), record/watch --gc-types 5) as a
    ratio to one without;
  - the wire: a 10,000-block print_details() read through the host tools'
    Connection (and through `mpremote exec`), against `cat` of the same bytes
    through a pty; samples per second through Connection.sample() and while a
    script runs (run_sampled, what `mpheaptrack record/watch --run` use);
  - `mpheaptrack parse` of a 100 MB capture made of that report, as printed and
    timestamped: MB/s (wall clock and CPU time) and peak RSS;
  - snapshot().compare_to() of 1,000 tasks, timed on the board;
  - task_stats() and snapshot() time per task at 100 and 1,000 tasks and per
    block at 500 and 5,000 blocks, with the ratios (linear: about 1x).
Goals are marked met or NOT met from the figures of this run.
The same pairs in C, through heap_caps_* and through the tracker layer, are
bench/bench_tracker.c (make bench runs both).
"""
import argparse
import ast
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tty
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from heaptrack_host.vboard import DEFAULT_FIRMWARE, VirtualBoard  # noqa: E402

# Room for 10,000 live blocks and their tracking records: 8 MiB of PSRAM, at
# ESP32-S3's external RAM address (the biggest heap, where ESP-IDF keeps the
# records).
PSRAM = {"HEAPTRACK_IDF_REGIONS": "SPIRAM:0x3c000000:8388608"}
LIVE = (10, 1000, 10000)
# The GC heap of a board without PSRAM, roughly.
SMALL_GC_HEAP = ["-X", "heapsize=200K"]

PAIRS = """
import heaptrack, time, gc
def pairs(live, n=20000):
    held = [heaptrack.malloc(16) for i in range(live)]
    malloc, free = heaptrack.malloc, heaptrack.free
    t0 = time.ticks_us()
    for i in range(n):
        free(malloc(16))
    dt = time.ticks_diff(time.ticks_us(), t0)
    for b in held:
        free(b)
    return dt * 1000 // n
def baseline(n=20000):
    # The same loop calling a builtin pair that allocates nothing: the interpreter's share.
    f, g = abs, abs
    t0 = time.ticks_us()
    for i in range(n):
        g(f(16))
    return time.ticks_diff(time.ticks_us(), t0) * 1000 // n
print([baseline()] + [pairs(live, %(n)d) for live in %(live)r])
"""

PRINTING = """
import heaptrack, time, gc
def cost(n):
    held = [heaptrack.malloc(16) for i in range(n)]
    me = heaptrack.current_task()
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    t0 = time.ticks_us()
    heaptrack.print_details(me)
    dt = time.ticks_diff(time.ticks_us(), t0)
    used = gc.mem_alloc() - before
    gc.enable()
    for b in held:
        heaptrack.free(b)
    return [used, dt]
r = [cost(10), cost(%(many)d)]
print('RESULT', r)
"""

SNAPSHOT = """
import heaptrack, gc
def cost(n):
    held = [heaptrack.malloc(16) for i in range(n)]
    gc.collect()
    before = gc.mem_alloc()
    s = heaptrack.snapshot()
    used = gc.mem_alloc() - before
    del s
    for b in held:
        heaptrack.free(b)
    gc.collect()
    return used
print([[n, cost(n)] for n in (10, 100, 1000)])
"""


# Records of n tasks (each started, one allocation, deleted: ESP-IDF keeps it).
MAKE_TASKS = """
import heaptrack, gc, time
ended = []
def one():
    heaptrack.free(heaptrack.malloc(16))
    ended.append(1)
def done():
    gc.collect()
    return len([t for t in heaptrack.task_stats() if t.name.startswith('bt') and not t.alive])
# In batches: a task's stack and TCB stay in ESP-IDF's heap until it ends.
for i in range(%(n)d):
    heaptrack.start_task('bt%%d' %% i, one)
    while len(ended) < i - 10:
        time.sleep_ms(1)
# Each look at %(n)d records leaves garbage that grows MicroPython's heap, from
# ESP-IDF's biggest heap, where the records' copy must fit: one look when the
# last task's function has returned, then a few more while the last ones end.
t0 = time.ticks_ms()
while len(ended) < %(n)d and time.ticks_diff(time.ticks_ms(), t0) < 60000:
    time.sleep_ms(20)
time.sleep_ms(50)
while done() < %(n)d and time.ticks_diff(time.ticks_ms(), t0) < 60000:
    time.sleep_ms(100)
"""

PER_TASK = MAKE_TASKS + """
def cost(f):
    gc.collect()
    before = gc.mem_alloc()
    r = f()
    used = gc.mem_alloc() - before
    n = len(r if isinstance(r, list) else r.tasks)
    del r
    return [n, used // n]
print([cost(heaptrack.task_stats), cost(heaptrack.snapshot)])
"""

SMALL_HEAP = MAKE_TASKS + """
res = []
gc.collect()
try:
    old = heaptrack.snapshot()
    res.append(len(old.tasks))
    gc.collect()
    new = heaptrack.snapshot()
    text = str(new.compare_to(old))
    res.append('ok')
except MemoryError:
    res.append('MemoryError')
gc.collect()
print(res + [gc.mem_free() + gc.mem_alloc()])
"""

# heaptrack.metrics() beside task_stats() on 50 more tasks, each alive and
# holding a block: the MicroPython heap one call allocates (collector off) and
# the median time of a call, the calls taking turns (each after a collection,
# which is not timed), so that the machine's load weighs on all alike and a
# call the machine preempted does not count; metrics(stream) into a stream in
# memory, grown once, so that its writes allocate nothing and wait for nothing
# (what examples/metrics_server.py pays besides the socket's writes); the
# heaps' figures alone
# (_heaptrack.region_info() and gc_info(): what metrics() reads besides the
# statistics), and heap_info() (with task_stats(), what a user reads to learn
# as much without metrics()). The collector is off while a call is timed:
# a call's garbage is paid for by the collection it brings nearer, which the
# heap column measures, and an 18 KB str made in a heap without that room in
# one piece would otherwise time a whole collection (every task's stack
# scanned) that depends on where earlier calls left their objects.
METRICS = """
import heaptrack, time, gc
stop = []
def idle():
    b = heaptrack.malloc(64)
    while not stop:
        time.sleep_ms(20)
    heaptrack.free(b)
for i in range(50):
    heaptrack.start_task('bench%%02d' %% i, idle, stack_size=2048)
while len([t for t in heaptrack.task_stats() if t.name.startswith('bench')]) < 50:
    time.sleep_ms(10)
import _heaptrack, io
out = io.BytesIO()
heaptrack.metrics(out)
def into_memory():
    out.seek(0)
    heaptrack.metrics(out)
calls = [heaptrack.task_stats, heaptrack.metrics, into_memory,
         lambda: (_heaptrack.region_info(), _heaptrack.gc_info()), heaptrack.heap_info]
def heap(f):
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    f()
    used = gc.mem_alloc() - before
    gc.enable()
    return used
def times(n):
    taken = [[] for f in calls]
    for i in range(n):
        for k, f in enumerate(calls):
            gc.collect()
            gc.disable()
            t0 = time.ticks_us()
            f()
            taken[k].append(time.ticks_diff(time.ticks_us(), t0))
            gc.enable()
    return [sorted(t)[n // 2] for t in taken]
result = [len(heaptrack.task_stats()), len(heaptrack.metrics()), [heap(f) for f in calls], times(%(n)d)]
stop.append(1)
print('RESULT', result)
"""


# A GC heap filled to about `fill` of its size with a graph held from a module
# global: lists of small objects of several types; then a collection, a census
# (its own walk: collect=False; and as users call it), a chain from the object
# deepest in the graph, each timed (best of 3) and the GC bytes each allocates
# (gc.mem_alloc() around it: what its result keeps, nothing collected between).
GC_BENCH = """
import gc, time, heaptrack, _heaptrack
class Node:
    def __init__(self, i):
        self.i = i
        self.tag = 'n%%d' %% i
graph = []
def fill(size, fraction):
    # Until the heap has grown to `size` (a split heap takes areas from ESP-IDF's
    # heap as it fills) and is `fraction` used. Its size is heap_info's:
    # gc.mem_free() also counts the area the heap could still take.
    i = 0
    total = heaptrack.heap_info(False).gc.total
    while total < size or gc.mem_alloc() < min(total, size) * fraction:
        row = []
        try:
            for j in range(16):
                k = i + j
                row.append((Node(k), bytes(k %% 40), [k, k + 1], {'k': k})[k %% 4])
            graph.append(row)
        except MemoryError:
            # ESP-IDF's heaps can give the GC heap no more: as full as it gets.
            row = None
            return heaptrack.heap_info(False).gc.total
        i += 16
        if i %% 256 == 0 or total >= size:
            total = heaptrack.heap_info(False).gc.total
    return total
def best(f):
    t = None
    for _ in range(3):
        gc.collect()
        t0 = time.ticks_us()
        f()
        dt = time.ticks_diff(time.ticks_us(), t0)
        t = dt if t is None or dt < t else t
    return t
def grown(f):
    gc.collect()
    m0 = gc.mem_alloc()
    r = f()
    m1 = gc.mem_alloc()
    return m1 - m0
total = fill(%(size)d, %(fill)s)
# The newest object, reached only through the graph: its chain is the longest search.
chain = heaptrack.gc_holders(graph[-1][0])
figures = [heaptrack.heap_info(False).gc.total, gc.mem_alloc(), len(graph) * 16,
           best(gc.collect), best(lambda: _heaptrack.gc_census(False, False)), best(heaptrack.gc_census),
           best(lambda: _heaptrack.gc_holders(graph[-1][0])),
           grown(lambda: _heaptrack.gc_census(False, False)), grown(lambda: heaptrack.gc_census(False)),
           grown(lambda: _heaptrack.gc_holders(graph[-1][0])), str(chain), chain.sweeps,
           best(lambda: heaptrack.dump_sample(None, '', 0)), best(lambda: heaptrack.dump_sample(None, '', 0, 5)),
           grown(lambda: heaptrack.dump_sample(None, '', 0)), grown(lambda: heaptrack.dump_sample(None, '', 0, 5))]
print('RESULT', figures)
"""
# The GC heaps: the esp32 port's first 64 KB area, full; and grown to 2 MB, into
# PSRAM (the virtual board's ESP32-S3 with 8 MiB of it, its own firmware).
GC_HEAPS = (("64 KB", 60 * 1024, False), ("2 MB", 2 * 1024 * 1024, True))


def run_gc(device, label, size=60 * 1024, fill=0.9):
    """A census and a holder chain against gc.collect() on the same heap, and their GC bytes."""
    (total, used, objects, collect_us, walk_us, census_us, chain_us, walk_bytes, census_bytes, chain_bytes,
     chain, sweeps, sample_us, typed_us, sample_bytes, typed_bytes) = last_literal(
        mpremote_exec(device, GC_BENCH % {"size": size, "fill": fill}), "RESULT")
    print("inside the GC heap, %s heap (%d bytes, %d used, %d objects in the graph):" % (
        label, total, used, objects))
    if total < size * 0.9:
        print("  (the GC heap could grow to %d bytes only: ESP-IDF's heaps had no more for it; a 2 MB one needs "
              "PSRAM, the virtual board's `make HEAPTRACK_PSRAM=1` firmware, or a board with it)" % total)
    print("  %-40s %10s %8s %12s" % ("", "us", "x", "GC bytes"))
    print("  %-40s %10d %8.2f %12s" % ("gc.collect()", collect_us, 1.0, "-"))
    print("  %-40s %10d %8.2f %12d" % ("census walk (_heaptrack, no collect)", walk_us, walk_us / collect_us,
                                       walk_bytes))
    print("  %-40s %10d %8.2f %12d" % ("heaptrack.gc_census() (collects)", census_us, census_us / collect_us,
                                       census_bytes))
    print("  %-40s %10d %8.2f %12d" % ("holder chain (%d sweeps)" % sweeps, chain_us, chain_us / collect_us,
                                       chain_bytes))
    print("  chain: %s" % chain)
    # What `record/watch --gc-types 5` adds to every sample: a census walk (no
    # collection) and its five rows, against a sample without (both written out).
    print("  a sample, dump_sample(): %d us, %d GC bytes; with gc_types=5: %d us (%.2fx), %d GC bytes (%.2fx)" % (
        sample_us, sample_bytes, typed_us, typed_us / sample_us, typed_bytes, typed_bytes / max(1, sample_bytes)))
    print("  goals: census walk <= 2x a collection %s (%.2fx); chain <= 10x %s (%.2fx); GC bytes: the result "
          "only (its rows), whatever the object count" % (
              "met" if walk_us <= 2 * collect_us else "NOT met", walk_us / collect_us,
              "met" if chain_us <= 10 * collect_us else "NOT met", chain_us / collect_us))
# compare_to of n task records: the records of MAKE_TASKS, two snapshots, timed
# on the board (ticks_us), the best of three.
COMPARE = MAKE_TASKS + """
old = heaptrack.snapshot()
new = heaptrack.snapshot()
def timed():
    # the pairing and the order (a Diff makes its TaskDiffs when they are read)
    gc.collect()
    t0 = time.ticks_us()
    new.compare_to(old)
    return time.ticks_diff(time.ticks_us(), t0)
print('RESULT', [len(new.tasks), min(timed() for i in range(3))])
"""

# task_stats() and snapshot() timed on the board: a first call outside the timing
# (the GC heap grows to hold the copy once), then the best of 21, each after a
# collection (a call takes a fraction of a millisecond; the best is what the
# board's other work and the host's load leave alone).
TIMED = """
def timed(f):
    f()
    best = None
    for i in range(21):
        gc.collect()
        t0 = time.ticks_us()
        r = f()
        us = time.ticks_diff(time.ticks_us(), t0)
        del r
        best = us if best is None or us < best else best
    return best
"""
# The count on a line of its own: a list still held (here, by the stack of a
# list display) makes each copy's allocations collect the GC heap first.
SCALING_TASKS = MAKE_TASKS + TIMED + """
n = len(heaptrack.task_stats())
print('RESULT', [n, timed(heaptrack.task_stats), timed(heaptrack.snapshot)])
"""
# n blocks of the calling task (with the board's few other tasks).
SCALING_BLOCKS = "import heaptrack, gc, time\n" + TIMED + """
held = [heaptrack.malloc(16) for i in range(%(n)d)]
me = heaptrack.current_task()
print('RESULT', [%(n)d, timed(lambda: heaptrack.task_stats(me, blocks=True)), timed(heaptrack.snapshot)])
for b in held:
    heaptrack.free(b)
"""

GOAL_WIRE_S = 1.0
GOAL_SAMPLES = 300
GOAL_COMPARE_MS = 20


def cat_through_pty(data):
    """Seconds `cat` takes to put data through a fresh pty to a reader reading in bulk."""
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        with tempfile.NamedTemporaryFile() as f:
            f.write(data)
            f.flush()
            t0 = time.perf_counter()
            proc = subprocess.Popen(["cat", f.name], stdout=slave)
            got = 0
            while got < len(data):
                got += len(os.read(master, 1 << 16))
            elapsed = time.perf_counter() - t0
            proc.wait()
            return elapsed
    finally:
        os.close(master)
        os.close(slave)


def verdict(ok):
    return "met" if ok else "NOT met"


def run_wire(device, n=10000, samples=300):
    """A report of n blocks through the host tools, and samples per second."""
    from heaptrack_host.connection import Connection
    with Connection(device) as conn:
        conn.exec("import heaptrack\n_bench_held = [heaptrack.malloc(16) for i in range(%d)]" % n, timeout=300)
        walls = []
        for _ in range(3):
            t0 = time.perf_counter()
            out = conn.exec("heaptrack.print_details(heaptrack.current_task())", timeout=60)
            walls.append(time.perf_counter() - t0)
        data = out.encode()
        handle = int(conn.exec("print(heaptrack.current_task())").strip())
    cats = [cat_through_pty(data) for _ in range(3)]
    # mpremote on its own (one reader of the port at a time): the blocks stay, held by the REPL's task.
    t0 = time.perf_counter()
    mp = subprocess.run([sys.executable, "-m", "mpremote", "connect", device, "resume", "exec",
                         "import heaptrack; heaptrack.print_details(%d)" % handle],
                        capture_output=True, timeout=600)
    mp_wall = time.perf_counter() - t0
    mp_ok = mp.returncode == 0 and len(mp.stdout) >= len(data) * 9 // 10
    with Connection(device) as conn:
        conn.exec("import heaptrack\nfor _b in _bench_held: heaptrack.free(_b)\ndel _bench_held", timeout=300)

        conn.sample()
        t0 = time.perf_counter()
        for _ in range(samples):
            conn.sample()
        per_exchange = samples / (time.perf_counter() - t0)
        got = []
        t0 = time.perf_counter()
        conn.run_sampled("import time\ntime.sleep(2)", 0.001, got.append)
        while_running = len(got) / (time.perf_counter() - t0)
    wall, cat = statistics.median(walls), statistics.median(cats)
    print("The wire: print_details() of %d blocks (%d bytes) read on the host:" % (n, len(data)))
    print("  %-44s %8.3f s [%.3f-%.3f]  %6.1fx cat" % ("through Connection.exec (median of 3)", wall, min(walls),
                                                       max(walls), wall / cat))
    print("  %-44s %8.3f s           %6.1fx cat%s" % ("through `mpremote exec` (with its start-up)", mp_wall,
                                                      mp_wall / cat, "" if mp_ok else " (FAILED)"))
    print("  %-44s %8.3f s" % ("`cat` of the same bytes through a pty", cat))
    print("  goal <= %.1f s through the host tools: %s" % (GOAL_WIRE_S, verdict(wall <= GOAL_WIRE_S)))
    run_parse(data.replace(b"\r\n", b"\n"))
    print("Samples per second (goal >= %d):" % GOAL_SAMPLES)
    print("  %-44s %8.0f  %s" % ("Connection.sample(), one exchange each", per_exchange,
                                 verdict(per_exchange >= GOAL_SAMPLES)))
    print("  %-44s %8.0f  %s" % ("run_sampled(), a board task every 1 ms", while_running,
                                 verdict(while_running >= GOAL_SAMPLES)))


GOAL_PARSE_MBS = 20
GOAL_PARSE_PEAK_MIB = 100


def parse_capture(path):
    """`mpheaptrack parse` of the file at path, its JSON to /dev/null: wall and CPU seconds, peak RSS in MiB, ok."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "heaptrack_host", "parse", path],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=str(REPO))
    _, status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - t0, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, status == 0


def run_parse(report, megabytes=100):
    """`mpheaptrack parse` of a capture of about `megabytes` MB (the report, repeated), as the board
    printed it and with a timestamp before each line (idf.py monitor --timestamps): MB/s and peak RSS."""
    lines = report.decode("utf-8").split("\n")
    stamped = "".join("2025-01-31 12:00:00.123 " + line + "\n" for line in lines[:-1]).encode("utf-8")
    copies = max(1, megabytes * 1000000 // len(report))
    print("`mpheaptrack parse` of a %d MB capture (%d reports of %d blocks), its JSON to /dev/null:" % (
        megabytes, copies, report.count(b"ALLOC 0x")))
    print("  %-34s %10s %10s %10s" % ("", "wall MB/s", "CPU MB/s", "peak RSS"))
    rates, peaks = [], []
    for label, text in (("as the board printed it", report), ("timestamped (idf.py monitor)", stamped)):
        with tempfile.NamedTemporaryFile(suffix=".txt") as f:
            for _ in range(max(1, megabytes * 1000000 // len(text))):
                f.write(text)
            f.flush()
            size = f.tell()
            wall, cpu, peak, ok = parse_capture(f.name)
        rates.append(size / 1e6 / cpu)
        peaks.append(peak)
        print("  %-34s %10.1f %10.1f %6.0f MiB%s" % (label, size / 1e6 / wall, size / 1e6 / cpu, peak,
                                                   "" if ok else " (FAILED)"))
    # The CPU time is the parser's own: on a shared machine the wall clock also counts other processes'
    # turns (on an idle one the two agree: parse is one thread, and /dev/null takes no time).
    print("  goals >= %d MB/s (CPU time): %s; <= %d MiB peak: %s" % (
        GOAL_PARSE_MBS, verdict(min(rates) >= GOAL_PARSE_MBS), GOAL_PARSE_PEAK_MIB,
        verdict(max(peaks) <= GOAL_PARSE_PEAK_MIB)))


# Linear: ten times the tasks (or blocks) take at most this much more than ten
# times as long (a snapshot's fixed costs make small ones dearer per task).
GOAL_LINEAR = 1.5


def run_scaling(devices, tasks=(100, 1000), blocks=(500, 5000)):
    """task_stats() and snapshot() time per task at two task counts, each on a fresh board of
    `devices` (a function that gives one, as a context manager), and per block at two block counts."""
    rows = []
    for n in tasks:
        with devices() as device:
            rows.append(("tasks", last_literal(mpremote_exec(device, SCALING_TASKS % {"n": n}), "RESULT")))
    with devices() as device:
        for n in blocks:
            rows.append(("blocks", last_literal(mpremote_exec(device, SCALING_BLOCKS % {"n": n}), "RESULT")))
    print("task_stats() and snapshot() on the board, time per task record and per block (best of 21):")
    verdicts = []
    # task_stats(me, blocks=True) for the blocks: the calling task holds them.
    for what, first in (("tasks", "task_stats()"), ("blocks", "task_stats(me, blocks=True)")):
        (n0, *us0), (n1, *us1) = [r for kind, r in rows if kind == what]
        unit = "task" if what == "tasks" else "block"
        print("  %-34s %12s %12s" % ("", first if len(first) <= 12 else "blocks=True", "snapshot()"))
        for n, us in ((n0, us0), (n1, us1)):
            print("  %-34s %9.2f us %9.2f us" % ("%d %s (%s)" % (n, what, ", ".join("%d us" % u for u in us)),
                                                  us[0] / n, us[1] / n))
        ratios = [(b / n1) / (a / n0) for a, b in zip(us0, us1)]
        print("  %-34s %10.2fx %10.2fx" % ("per %s, %d against %d" % (unit, n1, n0), *ratios))
        verdicts.append("per %s %s" % (unit, verdict(max(ratios) <= GOAL_LINEAR)))
    # A copy of 5,000 blocks is one GC block of 60 KB: where the GC heap has no room for it,
    # MicroPython collects, then grows the heap by an area (given back at the next collection),
    # and on the virtual board growing it reads ESP-IDF's heap, whose every block is counted:
    # on the virtual board the time per block steps up between 2,000 and 3,000 blocks, and is
    # flat on either side.
    print("  goal linear (per task and per block within %.1fx at 10x the count): %s" % (
        GOAL_LINEAR, ", ".join(verdicts)))


def run_compare(device, n=1000):
    tasks, us = last_literal(mpremote_exec(device, COMPARE % {"n": n}), "RESULT")
    print("snapshot().compare_to() of %d task records, on the board: %.1f ms; goal <= %d ms: %s" % (
        tasks, us / 1000, GOAL_COMPARE_MS, verdict(us / 1000 <= GOAL_COMPARE_MS)))


def mpremote_exec(device, code, timeout=600):
    proc = subprocess.run([sys.executable, "-m", "mpremote", "connect", device, "exec", code],
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise SystemExit("bench: mpremote failed: %s%s" % (proc.stdout[-2000:], proc.stderr[-2000:]))
    return proc.stdout


def last_literal(out, prefix=""):
    lines = [line for line in out.splitlines() if line.startswith(prefix) and line.strip()]
    return ast.literal_eval(lines[-1][len(prefix):].strip())


def pair_costs(device, live, n):
    figures = last_literal(mpremote_exec(device, PAIRS % {"live": live, "n": n}))
    return figures[0], figures[1:]


def run_all(device, live, many_print, untracked_device=None, n=20000, hooks_device=None):
    baseline, tracked = pair_costs(device, live, n)
    print("heaptrack.malloc+free pair from Python (ns, board clock; loop overhead %d ns):" % baseline)
    if untracked_device and hooks_device:
        _, untracked = pair_costs(untracked_device, live, n)
        _, hooks = pair_costs(hooks_device, live, n)
        print("  %-22s %10s %12s %8s %12s %8s" % ("live blocks of task", "untracked", "ESP-IDF's", "x", "hooks", "x"))
        for k, on, off, hk in zip(live, tracked, untracked, hooks):
            print("  %-22d %10d %12d %8.2f %12d %8.2f" % (k, off, on, on / max(off, 1), hk, hk / max(off, 1)))
    elif untracked_device:
        _, untracked = pair_costs(untracked_device, live, n)
        print("  %-22s %12s %12s %8s" % ("live blocks of task", "tracking on", "off", "on/off"))
        for k, on, off in zip(live, tracked, untracked):
            print("  %-22d %12d %12d %8.2f" % (k, on, off, on / max(off, 1)))
    else:
        print("  %-22s %12s" % ("live blocks of task", "ns"))
        for k, on in zip(live, tracked):
            print("  %-22d %12d" % (k, on))
    print("  %-22s %12.2f" % ("ratio %d/%d live" % (live[-1], live[0]), tracked[-1] / max(tracked[0], 1)))

    # Read by the host tools' connection, which keeps up with the board: through
    # mpremote the board would wait on mpremote's reading (the wire, below).
    from heaptrack_host.connection import Connection
    with Connection(device) as conn:
        printed = conn.exec(PRINTING % {"many": many_print}, timeout=600)
    (small_heap, small_us), (large_heap, large_us) = last_literal(printed, "RESULT")
    print("print_details (one task), on the board's clock, its output read by the host tools:")
    print("  %-34s %8s %10s" % ("", "MP heap", "wall ms"))
    print("  %-34s %8d %10.1f" % ("10 blocks", small_heap, small_us / 1000))
    print("  %-34s %8d %10.1f" % ("%d blocks" % many_print, large_heap, large_us / 1000))

    print("snapshot() MicroPython heap use:")
    for n, used in last_literal(mpremote_exec(device, SNAPSHOT)):
        print("  %-34s %8d bytes (%d per block)" % ("%d blocks" % n, used, used // n))


def run_tasks(device, small_heap_device=None, n=1000):
    """MicroPython heap per task record, and snapshots of n tasks on a small GC heap."""
    (stats_n, stats_per), (snap_n, snap_per) = last_literal(mpremote_exec(device, PER_TASK % {"n": n}))
    print("MicroPython heap per task record (%d tasks, one heap each):" % stats_n)
    print("  %-34s %8d bytes" % ("task_stats()", stats_per))
    print("  %-34s %8d bytes" % ("snapshot()", snap_per))
    if small_heap_device:
        tasks, verdict, heap = last_literal(mpremote_exec(small_heap_device, SMALL_HEAP % {"n": n}))
        print("  %-34s %s (%d tasks, GC heap %d bytes)" % (
            "snapshot, again, compare_to, str", verdict, tasks, heap))


def run_metrics(device, label, n=200):
    """heaptrack.metrics() on 50 tasks against task_stats(), as ratios measured in this run."""
    tasks, length, heaps, times = last_literal(mpremote_exec(device, METRICS % {"n": n}), "RESULT")
    print("heaptrack.metrics() on %d tasks (%s; its text %d bytes), against task_stats(); "
          "median of %d calls each, the collector off while timed:" % (tasks, label, length, n))
    print("  %-32s %10s %8s %10s %8s" % ("", "MP heap", "x", "us", "x"))
    names = ("task_stats()", "metrics() -> str", "metrics(stream), in memory", "  the heaps' figures alone",
             "heap_info()")
    for name, used, us in zip(names, heaps, times):
        print("  %-32s %10d %8.2f %10.1f %8.2f" % (name, used, used / max(heaps[0], 1), us, us / max(times[0], 1)))
    # The stated bound: one str, the text (and its NUL) in 16-byte GC blocks and the str object.
    bound = (length + 1 + 15) // 16 * 16 + 16
    both = times[0] + times[4]
    for name, k in (("metrics() -> str", 1), ("metrics(stream)", 2)):
        print("  goal under 2x task_stats(): %s, time %s (%.2fx), heap %s (%.2fx)" % (
            name, "met" if times[k] < 2 * times[0] else "NOT met", times[k] / max(times[0], 1),
            "met" if heaps[k] < 2 * heaps[0] else "NOT met", heaps[k] / max(heaps[0], 1)))
    print("  against task_stats() + heap_info(), what it tells besides: metrics() -> str %.2fx the time"
          % (times[1] / max(both, 1)))
    print("  GC bound: metrics() -> str allocates one str, at most %d bytes here: %s (%d); "
          "metrics(stream) allocates nothing: %s (%d)" % (bound, "held" if heaps[1] <= bound else "EXCEEDED",
                                                          heaps[1], "held" if heaps[2] == 0 else "EXCEEDED",
                                                          heaps[2]))


@contextlib.contextmanager
def scaling_board(firmware, flash):
    """A fresh virtual board with PSRAM, so that 1,000 tasks' copies fit in its GC heap."""
    with tempfile.TemporaryDirectory(dir=flash) as where:
        with VirtualBoard(firmware=firmware, flash=Path(where) / "flash", env=PSRAM) as vb:
            yield vb.device


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", help="a real board's serial device")
    parser.add_argument("--firmware", default=str(DEFAULT_FIRMWARE))
    parser.add_argument("--firmware-untracked", help="the host firmware built with HEAPTRACK_TRACKING=0")
    parser.add_argument("--firmware-hooks", help="the host firmware built with HEAPTRACK_TRACKER=hooks")
    parser.add_argument("--firmware-psram", help="the host firmware of an ESP32-S3 with PSRAM (HEAPTRACK_PSRAM=1), "
                        "whose GC heap can grow to 2 MB")
    args = parser.parse_args()
    if args.port:
        # A board's heaptrack keeps at most 1024 blocks outstanding.
        run_all(args.port, live=(10, 1000), many_print=1000, n=2000)
        run_tasks(args.port, n=200)
        run_metrics(args.port, "this board")
        run_gc(args.port, "this board's")   # its heap as it is, full
        run_wire(args.port, n=1000, samples=100)
        run_compare(args.port, n=200)
        run_scaling(lambda: contextlib.nullcontext(args.port), tasks=(20, 200), blocks=(100, 1000))
        return
    with tempfile.TemporaryDirectory() as flash:
        with VirtualBoard(firmware=args.firmware, flash=Path(flash) / "flash", env=PSRAM) as vb:
            print("virtual board, firmware %s" % args.firmware)
            if args.firmware_untracked and args.firmware_hooks:
                with VirtualBoard(firmware=args.firmware_untracked, flash=Path(flash) / "flash-untracked",
                                  env=PSRAM) as untracked, \
                        VirtualBoard(firmware=args.firmware_hooks, flash=Path(flash) / "flash-hooks",
                                     env=PSRAM) as hooks:
                    run_all(vb.device, LIVE, many_print=10000, untracked_device=untracked.device,
                            hooks_device=hooks.device)
            elif args.firmware_untracked:
                with VirtualBoard(firmware=args.firmware_untracked, flash=Path(flash) / "flash-untracked",
                                  env=PSRAM) as untracked:
                    run_all(vb.device, LIVE, many_print=10000, untracked_device=untracked.device)
            else:
                run_all(vb.device, LIVE, many_print=10000)
        # A fresh board for the task records, and one with a chip's GC heap.
        with VirtualBoard(firmware=args.firmware, flash=Path(flash) / "flash-tasks") as vb, \
                VirtualBoard(firmware=args.firmware, flash=Path(flash) / "flash-small",
                             firmware_args=SMALL_GC_HEAP) as small:
            run_tasks(vb.device, small.device)
        with VirtualBoard(firmware=args.firmware, flash=Path(flash) / "flash-wire", env=PSRAM) as vb:
            run_wire(vb.device)
        with VirtualBoard(firmware=args.firmware, flash=Path(flash) / "flash-compare") as vb:
            run_compare(vb.device)
        run_scaling(lambda: scaling_board(args.firmware, flash))
        # A fresh board per tracker for metrics(): the same tasks on each.
        with VirtualBoard(firmware=args.firmware, flash=Path(flash) / "flash-metrics") as vb:
            run_metrics(vb.device, "ESP-IDF's tracker")
        if args.firmware_hooks:
            with VirtualBoard(firmware=args.firmware_hooks, flash=Path(flash) / "flash-metrics-hooks") as vb:
                run_metrics(vb.device, "the hooks tracker")
        for label, size, psram in GC_HEAPS:
            firmware = args.firmware_psram if psram and args.firmware_psram else args.firmware
            with VirtualBoard(firmware=firmware, flash=Path(flash) / ("flash-gc-" + label.split()[0])) as vb:
                run_gc(vb.device, label, size)


if __name__ == "__main__":
    main()
