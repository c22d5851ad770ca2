"""Inside MicroPython's GC heap: heaptrack.gc_census() counts every live
allocation once by Python type (totals equal to the GC's own used bytes, objects
a script made counted exactly), compare_to says what grew, gc_holders() names
who holds an object as a user writes it, and gc_events() tells each area the GC
heap took from ESP-IDF's heap or gave back."""
import ast
import json
import os
import re

from board_code import run

# Random object graphs, grown and cut; after each step the census's total against
# the GC's own count (gc_info, read at the census, and gc.mem_alloc() just before
# it, nothing allocated between), with and without a collection first.
RANDOM_GRAPHS = """
import gc, _heaptrack
class R0:
    pass
class R1:
    def __init__(self):
        self.a = None
seed = 7
def rnd(n):
    global seed
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed % n
def make():
    k = rnd(10)
    if k == 0: return []
    if k == 1: return {}
    if k == 2: return R0()
    if k == 3: return R1()
    if k == 4: return bytes(rnd(90))
    if k == 5: return 'y' * rnd(70)
    if k == 6: return bytearray(rnd(60))
    if k == 7: return {rnd(99), rnd(99)}
    if k == 8: return 1 << (33 + rnd(200))
    return (rnd(4), 0.5)
root = []
boxes = [root]
def grow(n):
    for _ in range(n):
        o = make()
        b = boxes[rnd(len(boxes))]
        if isinstance(b, list): b.append(o)
        elif isinstance(b, dict): b[rnd(40)] = o
        else: b.a = o
        if isinstance(o, (list, dict, R1)): boxes.append(o)
def cut():
    global boxes
    del root[:len(root) // 2]
    boxes = [root] + [b for b in boxes[1:] if rnd(2)]
def check(collect):
    if collect:
        gc.collect()
    before = gc.mem_alloc()
    r = _heaptrack.gc_census(False, True)
    return before, r[1], r[2], sum(row[3] for row in r[8]) + r[5] + r[7]
results = []
for step in range(10):
    if step % 4 == 3:
        cut()
    else:
        grow(80)
    results.append(check(step % 2 == 0))
print(results)
"""


def test_census_totals_equal_the_gc_used_bytes(board):
    results = run(board, RANDOM_GRAPHS)
    assert len(results) == 10
    for mem_alloc, gc_used, total, rows in results:
        assert mem_alloc == gc_used == total == rows
    # The graphs grew: the figures are not all one.
    assert len(set(r[0] for r in results)) > 5


# Objects a script makes, by type, counted against a census before them: each
# exactly once, with its storage.
KNOWN_COUNTS = """
import gc, array, collections
class Point:
    def __init__(self, x):
        self.x = x
        self.y = [x]
class Empty:
    pass
def counts(c, names):
    return {n: (c.type(n).count, c.type(n).size) for n in names}
NAMES = ['bytearray', 'set', 'frozenset', 'array', 'deque', '__main__.Point', '__main__.Empty']
before = counts(heaptrack.gc_census(), NAMES)
points = [Point(i) for i in range(97)]
empties = tuple(Empty() for i in range(13))
blobs = [bytearray(i + 1) for i in range(41)]
sets = [set(range(i)) for i in range(7)]
frozen = [frozenset((i,)) for i in range(5)]
arrays = [array.array('i', range(i)) for i in range(9)]
queues = [collections.deque((), 8) for i in range(3)]
after = counts(heaptrack.gc_census(), NAMES)
print([before, after, heaptrack.gc_census().type('__main__.Point').size])
"""


def test_census_counts_known_objects_once(board):
    before, after, point_bytes = run(board, KNOWN_COUNTS)
    made = {"bytearray": 41, "set": 7, "frozenset": 5, "array": 9, "deque": 3,
            "__main__.Point": 97, "__main__.Empty": 13}
    for name, n in made.items():
        assert after[name][0] - before[name][0] == n, name
    # An instance with its attribute table: 97 of one size.
    assert point_bytes % 97 == 0 and point_bytes // 97 > 16
    # A bytearray's buffer is counted with it: 41 of 16 B, then their buffers
    # of 1 to 41 bytes in whole 16-byte blocks.
    assert after["bytearray"][1] - before["bytearray"][1] == sum(16 + (i + 15) // 16 * 16 for i in range(1, 42))


def test_a_census_explains_itself(board):
    text, rep, diff, stat, stat_diff = run(board, """
import gc
c0 = heaptrack.gc_census()
kept = [bytearray(40) for i in range(25)]
c1 = heaptrack.gc_census(collect=False)
d = c1.compare_to(c0)
print([str(c1), repr(c1), str(d), str(c1.type('bytearray')), str(d.type('bytearray'))])
""")
    lines = text.splitlines()
    assert re.match(r" MicroPython GC heap \(no collection first: garbage included\): [\d,]+ bytes used in [\d,]+ "
                    r"allocations$", lines[0])
    assert lines[2].split() == ["│", "TYPE", "│", "OBJECTS", "│", "BYTES", "│"]
    row = [line for line in lines if line.startswith("│ bytearray ")][0]
    assert re.match(r"│ bytearray +│ +\d+ │ +\d+ │$", row)
    # The REPL's view: at most 20 types, then how many more.
    assert len(rep.splitlines()) <= len(lines)
    assert diff.splitlines()[0].startswith(" GC HEAP BY TYPE OVER ")
    grown = [line for line in diff.splitlines() if line.startswith("│ bytearray ")][0]
    assert re.match(r"│ bytearray +│ +\d+ │ +\+25 │ +\d+ │ +\+1,600 │$", grown)
    assert re.match(r"bytearray: size=[\d,]+ B, count=\d+, average=\d+ B$", stat)
    assert re.match(r"bytearray: size=[\d,]+ B \(\+1,600 B\), count=\d+ \(\+25\), average=\d+ B$", stat_diff)


# A module of the board's own, imported, holding what the chains lead to.
APP = """
class Sensor:
    registry = {}
    def __init__(self):
        self.cache = {}
readings = []
sensor = Sensor()
"""


def test_holders_are_named_as_a_user_writes_them(board):
    chains = run(board, """
with open('ht_app.py', 'w') as f:
    f.write(%r)
import ht_app
try:
    ht_app.readings.extend(bytes(8 + i) for i in range(5))
    ht_app.sensor.cache['k17'] = bytes(9)
    ht_app.Sensor.registry['r'] = bytearray(3)
    local = {'a': (1, bytearray(2))}
    out = [str(heaptrack.gc_holders(ht_app.readings[3])),
           str(heaptrack.gc_holders(ht_app.sensor.cache['k17'])),
           str(heaptrack.gc_holders(ht_app.Sensor.registry['r'])),
           str(heaptrack.gc_holders(local['a'][1])),
           str(heaptrack.gc_holders(heaptrack.gc_holders)),
           heaptrack.gc_holders(ht_app.readings[0]).held]
finally:
    import os
    os.remove('ht_app.py')
print(out)
""" % APP)
    assert chains[0] == "ht_app.readings -> list[3] -> bytes (32 B)"
    assert chains[1] == "ht_app.sensor -> Sensor instance .cache -> dict['k17'] -> bytes (32 B)"
    assert chains[2] == "ht_app.Sensor -> Sensor.registry -> dict['r'] -> bytearray (32 B)"
    assert chains[3] == "__main__.local -> dict['a'] -> tuple[1] -> bytearray (32 B)"
    # A function of heaptrack's own: a global of its package.
    assert re.match(r"heaptrack(\.\w+)?\.gc_holders: function gc_holders\(\) \(\d+ B\)$", chains[4])
    assert chains[5] is True


def test_holders_of_a_type_sample_its_objects(board):
    text, count, chains, none = run(board, """
import gc
hoard = {'k%d' % i: bytes(20) for i in range(30)}
h = heaptrack.gc_holders('bytes', count=4)
print([str(h), h.count, [str(c) for c in h], str(heaptrack.gc_holders('NoSuchType'))])
""")
    assert count >= 30
    assert len(chains) == 4
    hoarded = [c for c in chains if re.match(r"__main__\.hoard -> dict\['k\d+'\] -> bytes \(48 B\)$", c)]
    assert len(hoarded) >= 3
    assert text.splitlines()[0] == "4 of %d bytes objects, evenly spread through the heap, are held by:" % count
    assert none == "no NoSuchType objects in the GC heap"


def test_bad_arguments_are_refused(board):
    errors = run(board, """
print([err(heaptrack.gc_holders, 5), err(heaptrack.gc_holders, 'qstr'), err(heaptrack.gc_holders, 'bytes', 0),
       err(heaptrack.gc_holders, 'bytes', 9), err(heaptrack.gc_holders, [], 'x'), err(heaptrack.gc_census, 1, 2)])
""")
    # An int and an interned string are not in the GC heap; 'qstr' as a type
    # name has no objects, which is no error.
    assert errors == ["ValueError", None, "ValueError", "ValueError", "TypeError", "TypeError"]


def test_gc_heap_growth_is_recorded_with_esp_idf_figures(vboard_factory):
    board = vboard_factory()
    boot, grown, shrunk = run(board, """
import gc
def events():
    return [(e.number, e.grew, e.size, e.heap, e.task_name, e.largest_before, e.largest_after, e.gc_areas,
             e.gc_bytes, str(e)) for e in heaptrack.gc_events()]
boot = events()
big = [bytearray(1024) for i in range(120)]
grown = events()
big = None
gc.collect()
print([boot, grown, events()])
""")
    # Power-on: mp_task took the first 64 KB area.
    assert boot[0][:5] == (1, True, 65536, "RAM", "mp_task")
    assert boot[0][5] > boot[0][6]
    new = [e for e in grown if e[0] > boot[-1][0]]
    assert new and all(e[1] and e[4] == "mp_task" for e in new)
    for e in new:
        # The area came out of ESP-IDF's internal RAM: its largest free block shrank.
        assert e[5] > e[6]
        assert re.match(r"#\d+ at \d+\.\d{3} s: the GC heap took [\d,]+ KB \(RAM at 0x[0-9a-f]{8}\) in mp_task; "
                        r"largest free internal block [\d,]+ KB -> [\d,]+ KB; GC heap now \d areas?, [\d,]+ KB$", e[9])
    assert new[-1][7] == boot[-1][7] + len(new)
    # The collection emptied areas added (the newest one may still hold what
    # the script keeps): each given back whole, in the collecting task.
    gone = [e for e in shrunk if e[0] > grown[-1][0]]
    assert gone and not any(e[1] for e in gone)
    taken = {(e[2], e[9].split(" at ")[2].split(")")[0]) for e in new}
    for e in gone:
        assert (e[2], e[9].split(" at ")[2].split(")")[0]) in taken
        assert e[6] >= e[5] and e[4] == "mp_task"
    assert gone[-1][8] == new[-1][8] - sum(e[2] for e in gone)


# Part 2: growth by type in snapshots, check_leaks and the pytest plugin.
GROWTH = """
import gc
class Entry:
    def __init__(self, n):
        self.n = n
        self.payload = bytes(40)
store = {}
def leaky():
    store[len(store)] = Entry(len(store))
def clean():
    tmp = [Entry(i) for i in range(8)]
    return len(tmp)
"""


def test_a_snapshot_with_a_census_says_which_types_grew(board):
    result = run(board, GROWTH + """
a = heaptrack.snapshot(gc=True)
for i in range(12):
    leaky()
b = heaptrack.snapshot(gc=True)
d = b.compare_to(a)
e = d.types
entry = d.census.type('__main__.Entry')
by = [s.name for s in e]
a.dump('census_snap.json')
back = heaptrack.Snapshot.load('census_snap.json')
import os
os.remove('census_snap.json')
plain = heaptrack.snapshot()
print([entry.count_diff, entry.size_diff, by.index('__main__.Entry') < by.index('int') if 'int' in by else True,
       heaptrack.snapshot(gc=False).census, b.census.total == sum(t.size for t in b.census.types),
       back.census.types == a.census.types, back.census.total == a.census.total,
       'GC HEAP BY TYPE' in str(d), '__main__.Entry' in str(d), plain.compare_to(a).census, plain.compare_to(a).types])
""")
    assert result[0] == 12 and result[1] == 12 * 32
    assert result[2]
    assert result[3] is None and result[4]
    assert result[5] and result[6] and result[7] and result[8]
    assert result[9] is None and result[10] == []


def test_check_leaks_names_the_types_that_grew_and_who_holds_them(board):
    leak, clean = run(board, GROWTH + """
r = heaptrack.check_leaks(leaky, rounds=3)
c = heaptrack.check_leaks(clean, rounds=3)
print([[r.ok, r.types, r.type_growth['__main__.Entry'], r.type_count_growth['__main__.Entry'],
        r.type_growth['bytes'], [str(h) for h in r.holders['__main__.Entry']], str(r)],
       [c.ok, c.types, str(c)]])
""")
    ok, types, entry_bytes, entry_count, bytes_growth, chains, text = leak
    assert not ok
    assert set(types) == {"__main__.Entry", "bytes"}
    assert entry_bytes == [32, 32, 32] and entry_count == [1, 1, 1] and bytes_growth == [64, 64, 64]
    assert chains and all(c.startswith("__main__.store -> dict[") and c.endswith("Entry instance (32 B)")
                          for c in chains)
    assert "GC LEAK: __main__.Entry grew 96 bytes over 3 rounds (+32, +32, +32 bytes per round; +1, +1, +1 " \
           "objects per round)" in text
    assert "held by: __main__.store -> dict[" in text
    assert clean == [True, [], "no task and no Python type grew in every one of 3 rounds"]


def test_the_pytest_plugin_asserts_no_gc_growth_by_type(board):
    import pytest
    from heaptrack_host.pytest_plugin import GcGrowthError, HeaptrackBoard
    hb = HeaptrackBoard(board.device)
    # A module the scripts import keeps what grows: each run's own globals go with it.
    hb.exec("import sys\nclass _Drv:\n    pass\nd = _Drv()\nd.cache = []\nsys.modules['ht_drv'] = d\n")
    report = hb.check_gc_growth(code="import ht_drv\nht_drv.cache.append(bytes(100))\n", runs=3, reset=False)
    assert not report.ok and report.grew == ["bytes"]
    assert report.growth["bytes"] == [128, 128, 128] and report.count_growth["bytes"] == [1, 1, 1]
    assert "heaptrack: GC heap growth in bytes over 3 runs of <code>" in str(report)
    assert hb.check_gc_growth(code="x = [bytes(100) for i in range(10)]\n", runs=3, reset=False).ok
    with pytest.raises(GcGrowthError, match="GREW"):
        hb.assert_no_gc_growth(code="import ht_drv\nht_drv.cache.append(bytes(100))\n", runs=2, reset=False)
    hb.assert_no_gc_growth(code="import ht_drv\nht_drv.cache.clear()\n", runs=2, reset=False)


# Part 4: the GC heap's area events in heap_info(), the sample stream and mpheaptrack.
# The script makes the GC heap take areas of ESP-IDF's heap (while the recorder
# samples), then lets them go.
GROW_AND_SHRINK = """
import gc, time
big = []
for i in range(160):
    big.append(bytearray(1024))
    time.sleep_ms(1)
time.sleep_ms(100)
grown = gc.mem_free() + gc.mem_alloc()
big = None
# The sampler task may hold an object in the newest area during one collection;
# the area goes back at a later one.
for _ in range(100):
    gc.collect()
    if gc.mem_free() + gc.mem_alloc() < grown:
        break
    time.sleep_ms(10)
time.sleep_ms(100)
"""


def test_heap_info_and_samples_carry_the_gc_heap_area_events(vboard_factory):
    board = vboard_factory()
    out = board.exec("""
import heaptrack, gc
big = [bytearray(1024) for i in range(120)]
big = None
gc.collect()
info = heaptrack.heap_info()
heaptrack.dump_sample(marker='SAMPLE:')
print(repr([str(info), info.gc_events.total]))
""")
    lines = out.splitlines()
    sample = json.loads([x for x in lines if x.startswith("SAMPLE:")][-1][len("SAMPLE:"):])["gc_events"]
    text, total = ast.literal_eval([x for x in lines if x.strip()][-1])
    assert re.search(r"The GC heap took or gave back MicroPython GC heap areas %d times since power-on "
                     r"\(the newest 3\):" % total, text), text
    assert re.search(r"#\d+ at \d+\.\d{3} s: the GC heap gave back [\d,]+ KB \(RAM at 0x[0-9a-f]{8}\) in mp_task", text)
    assert sample["total"] == total and 1 <= len(sample["recent"]) <= 4
    assert sample["recent"][-1]["number"] == total and sample["recent"][-1]["grew"] is False
    from heaptrack_host.recording import Sample
    line = json.dumps({"type": "sample", "version": 1, "ticks_ms": 0, "ms": 0, "tasks": [], "regions": [],
                       "gc": {"total": 1, "used": 0, "free": 1, "largest_free": 1}, "gc_events": sample})
    assert [e["number"] for e in Sample.from_board(line).gc_events] == [e["number"] for e in sample["recent"]]


def test_recordings_and_plots_carry_the_gc_heap_area_events(vboard_factory, tmp_path):
    import subprocess
    import sys
    from pathlib import Path
    from heaptrack_host import recording
    repo = Path(__file__).resolve().parents[1]
    board = vboard_factory()
    script = tmp_path / "grow.py"
    script.write_text(GROW_AND_SHRINK, encoding="utf-8")
    out = tmp_path / "run.jsonl"
    env = dict(os.environ, PYTHONPATH=str(repo))
    env.pop("HEAPTRACK_PORT", None)
    proc = subprocess.run([sys.executable, "-m", "heaptrack_host.cli", "record", "--port", board.device, "--out",
                           str(out), "--interval", "0.02", "--run", str(script)],
                          capture_output=True, text=True, timeout=180, env=env, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    rec = recording.read_record(out.read_text(encoding="utf-8").splitlines(True), str(out))
    events = [e for s in rec.samples for e in s.get("gc_events", [])]
    numbers = [e["number"] for e in events]
    # Each event once, in order: the board's history first, then what the script did.
    assert numbers == sorted(set(numbers)) and numbers
    assert any(e["grew"] for e in events[1:]) and not events[-1]["grew"]
    png = tmp_path / "run.png"
    proc = subprocess.run([sys.executable, "-m", "heaptrack_host.cli", "plot", str(out), "-o", str(png)],
                          capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 0, proc.stderr
    from test_cli import read_png, share_of_color
    from heaptrack_host import plot
    assert share_of_color(read_png(png), plot.GC_EVENT_COLOR) > 0.0005
