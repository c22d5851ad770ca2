"""A board that has run for hours: task records pile up, peaks and deleted tasks stay.

ESP-IDF's tracker keeps every deleted task's record in its biggest heap until
a hard reset, with no call to forget one or reset a peak; heaptrack's hooks
tracker keeps them in its tables, reuses a deleted task's record when they are
full, and can forget them (heaptrack.clear()) and reset peaks
(heaptrack.reset_peak()). Either way heaptrack says how many records there
are, what they take and how many more tasks fit, and warns well before they
run out.
"""
from board_code import PRELUDE, run

# Tasks that each allocate and free a block, one after the other: every one
# leaves a deleted task's record behind. Prints, per 100 tasks, the records'
# figures, and the first task at which they were low, start_task failed or a
# report raised.
CHURN = """
done = []
def short():
    heaptrack.free(heaptrack.malloc(64))
    done.append(1)
first = {}
def note(what, i):
    if what not in first:
        first[what] = i
warned = None
for i in range(%(tasks)d):
    n = len(done)
    try:
        heaptrack.start_task('churn%%d' %% (i %% 1000), short)
    except MemoryError:
        note('start_task', i)
        break
    while len(done) == n:
        time.sleep_ms(1)
    if i %% 25 == 0:
        rec = heaptrack.heap_info().records
        if rec.low:
            note('low', i)
time.sleep_ms(20)
print('OVERVIEW')
try:
    heaptrack.print_overview()
except MemoryError:
    note('overview', i)
print('END')
rec = heaptrack.heap_info().records
print(repr([i + 1, first, rec.tasks, rec.deleted, rec.tasks_left, rec.low]))
"""


def test_churn_warns_long_before_records_run_out(virtual_only, vboard_factory):
    # 1,200 tasks on a fresh virtual ESP32-S3 (whichever tracker the session's
    # firmware has): the records say how many there are, warn when they have
    # taken half their room, and overviews of what is recorded keep working.
    b = vboard_factory()
    out = b.exec(PRELUDE + CHURN % {"tasks": 1200}, timeout=900)
    head, rest = out.split("OVERVIEW", 1)
    overview, rest = rest.split("END", 1)
    started, first, tasks, deleted, left, low = eval(rest.strip().splitlines()[-1])
    assert started == 1200 and "start_task" not in first and "overview" not in first, first
    tracker = run(b, "print(repr(heaptrack.TRACKER))")
    if tracker == "idf":
        # Every deleted task keeps its record: the warning came long before
        # the records left no room (here, none ran out at all).
        assert tasks >= 1200 and deleted >= 1197
        assert "low" in first and first["low"] <= 1000, first
        assert low and left < tasks
        lines = overview.strip().splitlines()
        assert lines[0].startswith("heaptrack: warning: task records take ") and \
            "kept until a hard reset: room for about" in lines[0], lines[0]
        assert lines[1].startswith("┌")
    else:
        # The hooks tracker reuses deleted tasks' records that hold nothing:
        # it never runs low on them.
        assert "low" not in first and not low
        assert "deleted tasks left out (their records went to new tasks" in overview


def test_reset_peak_and_clear_do_what_the_tracker_allows(virtual_only, vboard_factory):
    b = vboard_factory()
    result = run(b, """
done = []
def gone():
    heaptrack.free(heaptrack.malloc(200))
    done.append(1)
h = heaptrack.start_task('gone', gone)
wait_for(done)
wait_deleted(h)
me = heaptrack.current_task()
a = heaptrack.malloc(3000)
heaptrack.free(a)
before = heaptrack.task_stats(me)
res = [heaptrack.TRACKER]
try:
    heaptrack.reset_peak()
    after = heaptrack.task_stats(me)
    res.append([before.peak > before.current, after.peak == after.current])
except RuntimeError as e:
    res.append(str(e))
try:
    dropped = heaptrack.clear()
    res.append([dropped >= 1, [t.name for t in heaptrack.task_stats()].count('gone')])
except RuntimeError as e:
    res.append(str(e))
print(res)
""")
    tracker, peak, cleared = result
    if tracker == "hooks":
        assert peak == [True, True]
        assert cleared == [True, 0]
    else:
        assert tracker == "idf"
        assert "keeps each task's peak since its first allocation" in peak and "no call to reset it" in peak
        assert "keeps every deleted task's record" in cleared and "until a hard reset" in cleared


def test_heap_info_says_what_the_records_take(board):
    out = board.exec(PRELUDE + "print(heaptrack.heap_info())")
    line = [x for x in out.splitlines() if x.startswith(" Task records: ")]
    assert len(line) == 1, out
    assert " of deleted tasks), " in line[0] and " bytes; room for about " in line[0] and \
        line[0].endswith(" more tasks")
