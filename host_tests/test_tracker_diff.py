"""The differential test of heaptrack's two trackers, through mpremote.

The differential firmware (make HEAPTRACK_TRACKER=diff) runs ESP-IDF's heap with
both ESP-IDF's task tracking and heaptrack's hooks tracker watching every
allocation and free; heaptrack's module reports through the hooks tracker, and
_idf_oracle returns what ESP-IDF's own code says: its printers
(heap_caps_print_all_task_stat and the overview, all tasks and single tasks)
and its statistics (heap_caps_get_all_task_stat). A seeded random workload runs
on the board: many tasks allocating in every kind of heap, blocks freed by
other tasks than their owners, tasks ending (DELETED, their TCBs reused by the
next ones), a PSRAM heap filled until it refuses. At every checkpoint, with
every task idle, ESP-IDF's reports and heaptrack's must be identical, byte for
byte, and so must the statistics.

Needs --firmware-diff (`make test` passes it); skipped on a real board.
"""
import pytest

# 128 KiB of PSRAM: small enough to fill, while ESP-IDF keeps its records in
# its biggest heap, the internal RAM.
PSRAM = {"HEAPTRACK_IDF_REGIONS": "SPIRAM:0x3c000000:131072"}

WORKLOAD = r"""
import heaptrack, _idf_oracle, _thread, time, gc

# MicroPython's heap lives in ESP-IDF's heap, as on the esp32 port, and grows
# into it when full: the Python string of ESP-IDF's printout, made after its
# capture, could add an area before heaptrack prints. Grow it now and keep
# every area pinned by a live object, so that the checkpoints find room.
pins = [bytearray(64) for i in range(800)]
pins = pins[::16]
gc.collect()

SEED = %(seed)d
STEPS = %(steps)d
rng = [SEED]
def rnd(n):
    rng[0] = (rng[0] * 1103515245 + 12345) & 0x7fffffff
    return (rng[0] >> 8) %% n

class Worker:
    def __init__(self, name):
        self.go = _thread.allocate_lock()
        self.go.acquire()
        self.done = _thread.allocate_lock()
        self.done.acquire()
        self.cmd = None
        self.result = None
        self.handle = heaptrack.start_task(name, self.loop)
    def loop(self):
        while True:
            self.go.acquire()
            cmd = self.cmd
            if cmd is None:
                self.done.release()
                return
            try:
                self.result = cmd[0](*cmd[1:])
            except MemoryError:
                self.result = None
            self.done.release()
    def run(self, *cmd):
        self.cmd = cmd
        self.go.release()
        self.done.acquire()
        return self.result
    def stop(self):
        self.cmd = None
        self.go.release()
        self.done.acquire()
        # Until the task is gone: its TCB, a block of the task that started it
        # (this one), freed and its free hook run. A free still on its way to
        # its hook would count in the next allocations' peaks in heaptrack's
        # figures, not in ESP-IDF's (docs/hooks-tracker.md). A task that never
        # allocated has no record to say DELETED: its TCB's block says it.
        me = heaptrack.current_task()
        t0 = time.ticks_ms()
        while any(a == self.handle for h in heaptrack.task_stats(me, blocks=True).heaps for a, s in h.blocks):
            if time.ticks_diff(time.ticks_ms(), t0) > 5000:
                raise RuntimeError('task did not end')
            time.sleep_ms(2)

def fill(caps):
    held = []
    size = 16384
    while size >= 64:
        try:
            held.append(heaptrack.malloc(size, caps))
        except MemoryError:
            size //= 2
    return held

def ours_stats():
    out = []
    for t in heaptrack.task_stats(blocks=True):
        out.append('T %%s|%%x %%d %%x %%x %%x' %% (t.name, t.handle, 1 if t.alive else 0, t.current, t.peak, len(t.heaps)))
        for h in t.heaps:
            out.append('H %%s|%%x %%x %%x %%x %%x' %% (h.name, h.caps, h.size, h.current, h.peak, h.alloc_count))
            for a, s in h.blocks:
                out.append('B %%x %%x %%x' %% (a, s, t.handle))
    return '\n'.join(out) + '\n'

checkpoint = [0]
def compare(label):
    gc.collect()
    checkpoint[0] += 1
    tag = '%%s %%d' %% (label, checkpoint[0])
    stats = _idf_oracle.stats()
    print('=== stats', tag, 'equal' if stats == ours_stats() else 'DIFFERENT')
    if stats != ours_stats():
        print(stats)
        print(ours_stats())
    print('=== overview', tag, 'idf')
    print(_idf_oracle.overview(), end='')
    print('=== overview', tag, 'ours')
    heaptrack.print_overview()
    print('=== details', tag, 'idf')
    print(_idf_oracle.details(), end='')
    print('=== details', tag, 'ours')
    heaptrack.print_details()
    handles = [t.handle for t in heaptrack.task_stats()]
    for h in handles:
        # ESP-IDF's single-task printers take NULL as the calling task and print
        # the first record of a handle; heaptrack's take 0 as Pre-scheduler and
        # print the living record of a reused one: compared where they agree.
        if h != 0 and handles.count(h) == 1:
            print('=== one', tag, h, 'idf')
            print(_idf_oracle.overview(h), end='')
            print(_idf_oracle.details(h), end='')
            print('=== one', tag, h, 'ours')
            heaptrack.print_overview(h)
            heaptrack.print_details(h)
    print('=== end', tag)

CAPS = [heaptrack.CAP_DEFAULT, heaptrack.CAP_8BIT, heaptrack.CAP_INTERNAL | heaptrack.CAP_8BIT,
        heaptrack.CAP_DMA, heaptrack.CAP_32BIT, heaptrack.CAP_SPIRAM]
started = [0]
def new_worker():
    started[0] += 1
    return Worker('w%%d' %% started[0])

workers = [new_worker() for i in range(6)]
live = [None] * 48
compare('start')
for step in range(STEPS):
    what = rnd(100)
    w = workers[rnd(len(workers))]
    slot = rnd(len(live))
    if what < 45:
        if live[slot] is not None:
            w.run(heaptrack.free, live[slot])
        size = 1 + rnd(4000 if rnd(8) == 0 else 300)
        live[slot] = w.run(heaptrack.malloc, size, CAPS[rnd(len(CAPS))])
    elif what < 78:
        if live[slot] is not None:
            w.run(heaptrack.free, live[slot])   # often not its owner
            live[slot] = None
    elif what < 88:
        i = workers.index(w)
        w.stop()
        workers[i] = new_worker()
    elif what < 92:
        held = w.run(fill, heaptrack.CAP_SPIRAM)
        compare('full')
        for a in held:
            workers[rnd(len(workers))].run(heaptrack.free, a)
    elif what < 95:
        if live[slot] is not None:
            heaptrack.free(live[slot])
        live[slot] = heaptrack.malloc(1 + rnd(200))
    if step %% 10 == 9:
        compare('step')
for w in workers:
    w.stop()
compare('workers gone')
heaptrack.free_all()
compare('end')
print('=== done')
"""


def sections(out):
    """{(kind, tag..., side): text} from the board's output."""
    found = {}
    key = None
    lines = []
    for line in out.splitlines(keepends=True):
        if line.startswith("=== "):
            if key is not None:
                found[key] = "".join(lines)
            words = line.split()
            key = tuple(words[1:])
            lines = []
        else:
            lines.append(line)
    if key is not None:
        found[key] = "".join(lines)
    return found


@pytest.mark.parametrize("seed", [11, 2024])
def test_same_workload_same_reports_and_statistics(vboard_factory, seed):
    board = vboard_factory(env=PSRAM, diff=True)
    out = board.exec(WORKLOAD % {"seed": seed, "steps": 160}, timeout=300)
    found = sections(out)
    assert ("done",) in found, out[-3000:]
    stats = [k for k in found if k[0] == "stats"]
    assert len(stats) >= 16
    different = [k for k in stats if k[-1] != "equal"]
    assert not different, found[different[0]]
    pairs = 0
    singles = 0
    for key in found:
        if key[-1] != "idf":
            continue
        ours = key[:-1] + ("ours",)
        assert found[key] == found[ours], "%s differs:\nESP-IDF:\n%s\nheaptrack:\n%s" % (
            " ".join(key[:-1]), found[key], found[ours])
        assert found[key].strip(), key
        pairs += 1
        singles += key[0] == "one"
    # Reports of every checkpoint, and of single tasks, DELETED ones among them.
    assert pairs >= 3 * len(stats) and singles > len(stats)
    details = "".join(found[k] for k in found if k[0] == "details")
    assert "DELETED" in details and "SPIRAM" in details and "ALLOC" in details
