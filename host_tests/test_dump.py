"""heaptrack.dump() read back on the host (heaptrack_host.dump): it agrees with print_details()
of the same statistics, and renders back to it byte for byte; malformed dumps fail clearly."""
import json

import pytest

from heaptrack_host import dump, report

# Board side: two tasks holding known blocks (one named with characters JSON must
# escape), then a dump, the detail tree and the overview of the same moment.
SCENARIO = r"""
import heaptrack, time

def hold(sizes, out, done):
    for s in sizes:
        out.append(heaptrack.malloc(s))
    done.append(1)
    while len(done) < 2:
        time.sleep_ms(5)

def start(name, sizes):
    out, done = [], []
    heaptrack.start_task(name, hold, (sizes, out, done))
    while not done:
        time.sleep_ms(5)
    return out, done

mine = [heaptrack.malloc(s) for s in (48, 700)]
a = start("dump_worker", (100, 2000, 64))
b = start('odd "name\\', (300,))
print("=== dump")
heaptrack.dump(%(args)s)
print("=== details")
heaptrack.print_details(%(task)s)
print("=== overview")
heaptrack.print_overview(%(task)s)
print("=== end")
a[1].append(1)
b[1].append(1)
for p in mine + a[0] + b[0]:
    heaptrack.free(p)
"""


def sections(out):
    out = out.replace("\r\n", "\n")
    parts = {}
    for chunk in out.split("=== ")[1:]:
        name, _, body = chunk.partition("\n")
        parts[name] = body
    return parts


def run_scenario(board, args="", task="None"):
    # A real board's own tasks may allocate between the dump and the prints:
    # try again until one round saw the same statistics.
    for _ in range(3):
        parts = sections(board.exec(SCENARIO % {"args": args, "task": task}))
        d = dump.parse(parts["dump"])
        details = report.parse(parts["details"]).details
        if details and details[0].tasks == d.to_report_details() or not d.blocks:
            return d, parts
    return d, parts


def test_dump_agrees_with_print_details(board):
    d, parts = run_scenario(board)
    assert d.version == 1 and isinstance(d.ticks_ms, int) and isinstance(d.track_deleted, bool)
    assert d.blocks
    details = report.parse(parts["details"]).details[0]
    assert d.to_report_details() == details.tasks
    details.check()

    worker = d.task("dump_worker")
    assert worker.alive and worker.handle > 0
    assert sorted(size for h in worker.heaps for _, size in h.blocks)[0] >= 64
    assert len([b for h in worker.heaps for b in h.blocks]) == 3
    odd = d.task('odd "name\\')
    assert odd.current >= 300 and d.task(odd.handle) is odd

    assert d.regions and all(r.total > 0 and r.free <= r.total for r in d.regions)
    assert d.gc.total > 0 and d.gc.used + d.gc.free <= d.gc.total


def test_render_from_dump_is_print_output_byte_for_byte(board):
    d, parts = run_scenario(board)
    assert report.render_details(d.to_report_details()) == parts["details"]
    assert report.render_overview(d.overview_rows()) == parts["overview"]


def test_dump_of_one_task_without_blocks(board):
    d, parts = run_scenario(board, args="heaptrack.current_task(), blocks=False", task="heaptrack.current_task()")
    assert not d.blocks
    assert [t.name for t in d.tasks] == [report.parse(parts["overview"]).overviews[0].rows[0].name]
    assert all(h.blocks == [] and h.alloc_count >= 1 for t in d.tasks for h in t.heaps)
    assert report.render_overview(d.overview_rows()) == parts["overview"]


# ---------------------------------------------------------------------------
# Parsing on the host alone

BEGIN = '{"type": "begin", "version": 1, "ticks_ms": 1234, "track_deleted": true}'
REGION = '{"type": "region", "name": "RAM", "caps": 1071118, "total": 22308, "free": 20000, ' \
         '"largest_free": 19000, "minimum_free": 18000}'
GC = '{"type": "gc", "total": 1000, "used": 400, "free": 600, "largest_free": 500, "areas": 1, "in_esp_heap": 0}'
TASK = '{"type":"task","name":"t1","handle":7,"alive":false,"current":300,"peak":350,"heap_count":1}'
HEAP = '{"type":"heap","task":7,"name":"RAM","caps":1071118,"size":22308,"current":300,"peak":350,' \
       '"alloc_count":2,"blocks":[[4096,100],[8192,200]]}'
END = '{"type": "end"}'
GOOD = [BEGIN, REGION, GC, TASK, HEAP, END]


def text(lines, sep="\n"):
    return sep.join(lines) + sep


def test_parse_good_dump_with_noise_and_crlf():
    noisy = ["MPY: soft reboot", "hello"] + GOOD[:3] + ["other output, not JSON"] + GOOD[3:] + [">>> "]
    d = dump.parse(text(noisy, "\r\n"))
    assert d.line == 3
    (t,) = d.tasks
    assert (t.name, t.handle, t.alive, t.current, t.peak, t.heap_count) == ("t1", 7, False, 300, 350, 1)
    (h,) = t.heaps
    assert (h.current_pct, h.peak_pct) == (300 * 100 // 22308, 350 * 100 // 22308)
    assert h.blocks == [(4096, 100), (8192, 200)]
    assert d.regions[0] == dump.Region("RAM", 1071118, 22308, 20000, 19000, 18000)
    assert d.gc.used == 400
    rendered = report.render_details(d.to_report_details())
    assert rendered.startswith("└ DELETED: t1, CURRENT MEMORY USAGE 300, PEAK MEMORY USAGE 350, TOTAL HEAP USED 1:\n")
    assert report.parse(rendered).details[0].tasks == d.to_report_details()
    assert d.totals_by_name() == {"t1": 300}


def test_parse_all_and_parse_of_two_dumps():
    two = text(GOOD + ["between"] + GOOD)
    assert len(dump.parse_all(two)) == 2
    with pytest.raises(dump.DumpError, match="2 dumps"):
        dump.parse(two)


def test_empty_dump_and_no_tasks():
    d = dump.parse(text([BEGIN, GC, END]))
    assert d.tasks == [] and d.regions == [] and report.render_details(d.to_report_details()) == ""


@pytest.mark.parametrize("lines, message, lineno", [
    ([], "no heaptrack dump found", None),
    (["just text"], "no heaptrack dump found", None),
    (GOOD[:-1], "no end line after the begin line at line 1", 5),
    (GOOD[:4], "no end line", 4),
    ([BEGIN, REGION, GC, TASK, HEAP[:40], END], "malformed dump line", 5),
    ([BEGIN, REGION, GC, HEAP, END], "heap line without a task line", 4),
    ([BEGIN, REGION, GC, TASK, END], "heap_count 1 but 0 heap lines", 5),
    ([BEGIN, REGION, GC, TASK, HEAP, HEAP, END], "more heap lines", 6),
    ([BEGIN, REGION, GC, TASK, HEAP.replace('"task":7', '"task":8'), END], "heap line of task 8", 5),
    ([BEGIN, REGION, GC, TASK.replace('"peak":350,', ''), HEAP, END], "task line lacks 'peak'", 4),
    ([BEGIN, REGION, GC, TASK.replace('"current":300', '"current":-1'), HEAP, END], "'current' is -1", 4),
    ([BEGIN, REGION, GC, TASK, HEAP.replace('"alloc_count":2', '"alloc_count":3'), END], "alloc_count 3 but 2", 5),
    ([BEGIN.replace('"version": 1', '"version": 2'), GC, END], "unsupported dump version 2", 1),
    ([BEGIN, TASK, END], "task line before the gc line", 2),
    ([BEGIN, GC, REGION, END], "region line after the gc line", 3),
    ([BEGIN, GC, '{"type": "mystery"}', END], "unknown dump line type 'mystery'", 3),
    ([BEGIN, GC, '{"kind": 1}', END], 'not a JSON object with a "type"', 3),
    ([BEGIN, REGION] + GOOD, "begin line inside the dump that began at line 1", 3),
])
def test_malformed_dumps_fail_with_line_numbers(lines, message, lineno):
    with pytest.raises(dump.DumpError) as info:
        dump.parse(text(lines) if lines else "")
    assert message in str(info.value)
    assert info.value.lineno == lineno
    if lineno is not None:
        assert str(info.value).startswith("line %d: " % lineno)


def test_dump_error_is_a_value_error():
    assert issubclass(dump.DumpError, ValueError)


def test_blocks_must_be_listed_by_every_heap_or_none():
    no_blocks = json.loads(HEAP)
    del no_blocks["blocks"]
    second_task = TASK.replace('"handle":7', '"handle":9').replace('"name":"t1"', '"name":"t2"')
    lines = [BEGIN, GC, TASK, HEAP, second_task, json.dumps(no_blocks).replace('"task": 7', '"task": 9'), END]
    with pytest.raises(dump.DumpError, match="disagree"):
        dump.parse(text(lines))


# heaptrack's own rendering of a dump (str): what ESP-IDF's tree does not say.
MARKED = """\
{"type": "begin", "version": 1, "ticks_ms": 5, "track_deleted": true}
{"type": "region", "name": "RAM", "caps": 1071119, "total": 344400, "free": 1000, "largest_free": 900, "minimum_free": 800}
{"type": "gc", "total": 64000, "used": 1000, "free": 63000, "largest_free": 60000, "areas": 1, "in_esp_heap": 65536, "area_blocks": [[1070165572, 67584, 1070521852]]}
{"type":"task","name":"mp_task","handle":1070521852,"alive":true,"current":67584,"peak":67584,"heap_count":1}
{"type":"heap","task":1070521852,"name":"RAM","caps":1071119,"size":344400,"current":67584,"peak":67584,"alloc_count":1,"blocks":[[1070165572,67584]]}
{"type":"task","name":"Pre-scheduler","handle":0,"alive":true,"current":3748,"peak":3748,"heap_count":1}
{"type":"heap","task":0,"name":"RAM","caps":1071119,"size":344400,"current":3748,"peak":3748,"alloc_count":2,"blocks":[[1070161072,164],[1070165572,3584]]}
{"type": "end"}
"""


def test_str_of_a_dump_names_gc_areas_and_blocks_listed_twice():
    d = dump.parse(MARKED)
    assert d.gc_areas == {0x3fc96e44: 0x3fceddfc}
    lines = str(d).splitlines()
    assert lines[0] == "heaptrack dump at 5 ms: 2 tasks (2 alive)"
    # mp_task's GC area is its block at that address; Pre-scheduler's record of the
    # start-up block once there (freed since) is marked, not taken for a GC area.
    assert "│    └ HEAP: RAM" in lines[2] and lines[3] == "│         ├ ALLOC 0x3fc96e44, SIZE 67584 (MicroPython GC heap area)"
    assert lines[-1] == ("          ├ ALLOC 0x3fc96e44, SIZE 3584 (start-up block, freed since: ESP-IDF keeps "
                         "listing it; the address is in use again)")
    assert lines[-2] == "          ├ ALLOC 0x3fc95cb0, SIZE 164"
    # ESP-IDF's own format stays ESP-IDF's: no marks there.
    assert "(" not in report.render_details(d.to_report_details()).replace("(0%)", "").replace("(1%)", "") \
        .replace("(19%)", "")
    assert d.totals_by_name(gc_areas=False) == {"mp_task": 0, "Pre-scheduler": 3748}


def test_gc_areas_of_a_dump_are_the_boards(board):
    out = board.exec("import heaptrack\nheaptrack.dump(blocks=True)\nprint(repr([(a.address, a.size, a.task) "
                     "for a in heaptrack.heap_info().gc_areas]))")
    d = dump.parse(out)
    areas = eval(out.strip().splitlines()[-1])
    assert d.gc_areas == {a: t for a, _, t in areas} and areas
    assert "(MicroPython GC heap area)" in str(d)
