"""A tracker that runs out of room says so, with either tracker.

ESP-IDF's tracker: heaptrack's registry of heaptrack.malloc blocks fills first
(16384 on the virtual board), and malloc refuses with a MemoryError that says
so. heaptrack's hooks tracker records every block of the system in one table
(16384 on the virtual board): malloc refuses the same way once it is full,
leaving nothing behind, and an allocation anybody else makes meanwhile (here a
new task's TCB) is left out of the statistics and counted: every report then
starts with a line saying how many, instead of figures that silently drift.
"""
import json

from board_code import PRELUDE
from test_cli import heaptrack as mpheaptrack

PSRAM = {"HEAPTRACK_IDF_REGIONS": "SPIRAM:0x3c000000:1048576"}


def test_full_tracker_refuses_and_reports_what_it_left_out(vboard_factory):
    board = vboard_factory(env=PSRAM)
    out = board.exec(PRELUDE + """
held = []
msg = ''
while True:
    try:
        held.append(heaptrack.malloc(16, heaptrack.CAP_SPIRAM))
    except MemoryError as e:
        msg = str(e)
        break
hooks = 'tracker is full' in msg
print('FULL', len(held), hooks, repr(msg))
me = heaptrack.task_stats(heaptrack.current_task())
def noop():
    pass
h = heaptrack.start_task('late', noop)   # its TCB: no room left in a full hooks tracker
time.sleep_ms(100)
heaptrack.print_overview()
print('MID')
heaptrack.free(held.pop())
after = heaptrack.task_stats(heaptrack.current_task())
print('PEAK', me.peak == after.peak or not hooks)
heaptrack.free_all()
heaptrack.print_details(heaptrack.current_task())
print('END')
""", timeout=120)
    head, rest = out.split("FULL", 1)
    count, hooks, msg = rest.split("\n", 1)[0].strip().split(" ", 2)
    assert 16000 < int(count) <= 16384
    assert "16384" in msg
    overview, rest = rest.split("\n", 1)[1].split("MID", 1)
    assert "PEAK True" in rest
    details = rest.split("PEAK True", 1)[1].split("END", 1)[0]
    if hooks == "True":
        # Left out: the new task's TCB (and whatever else was made while full).
        note = [line for line in overview.splitlines() if line.startswith("heaptrack: ")]
        assert len(note) == 1, overview
        assert note[0].startswith("heaptrack: warning: these figures are incomplete: ")
        assert "could not be recorded (the tracker's tables were full)" in note[0]
        table = [line for line in overview.splitlines() if line.startswith(("heaptrack: ", "┌"))]
        assert table[0] == note[0], overview   # before the report
        assert details.strip().splitlines()[0] == note[0], details
    else:
        assert "heaptrack: " not in overview and "heaptrack: " not in details
    # `mpheaptrack parse --check` takes the warning as the report's own: the
    # tree is marked incomplete, and its sums are not held against it.
    proc = mpheaptrack("parse", "--check", input=details, timeout=60)
    assert proc.returncode == 0, proc.stderr
    (tree,) = json.loads(proc.stdout)["items"]
    if hooks == "True":
        assert tree["incomplete"] == note[0][len("heaptrack: warning: these figures are incomplete: "):]
        assert "not checked: heaptrack said these figures are incomplete: " in proc.stderr
    else:
        assert tree["incomplete"] is None and proc.stderr == ""
