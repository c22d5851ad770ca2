"""Tests for heaptrack_host.report: pure Python, no board needed."""

import copy
import io
import json
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from heaptrack_host.report import (  # noqa: E402
    Details,
    HeapDetail,
    Overview,
    OverviewRow,
    CheckError,
    Report,
    ReportError,
    TaskDetail,
    parse,
    parse_details,
    parse_overview,
    render_details,
    render_overview,
    stream_json,
    to_json,
)

# The "Example Output" of ESP-IDF's examples/system/heap_task_tracking/basic README.
EXAMPLE = (pathlib.Path(__file__).parent / "data" / "esp_idf_example_output.txt").read_text(encoding="utf-8")
LINES = EXAMPLE.split("\n")

CAPS = 0x0010580E


def task(report, name):
    (found,) = [t for t in report.details[0].tasks if t.name == name]
    return found


def heap(name, size, blocks, peak=None, caps=CAPS):
    current = sum(s for _, s in blocks)
    peak = current if peak is None else peak
    return HeapDetail(name, caps, size, current, current * 100 // size, peak, peak * 100 // size,
                      len(blocks), list(blocks))


def make_task(name, heaps, alive=True, peak=None):
    current = sum(h.current for h in heaps)
    return TaskDetail(name, alive, current, current if peak is None else peak, len(heaps), heaps)


# ---------------------------------------------------------------------------
# The reference output


def test_example_items():
    report = parse(EXAMPLE)
    assert [type(i).__name__ for i in report.items] == ["Overview"] * 7 + ["Details"]
    headings = [o.heading for o in report.overviews]
    assert headings == [
        "PRINTING OVERVIEW STATISTICS OF EACH TASK",
        "PRINTING OVERVIEW STATISTICS OF NO LEAK TASK",
        "PRINTING OVERVIEW STATISTICS OF LEAKING TASK",
    ] * 2 + ["PRINTING OVERVIEW STATISTICS OF EACH TASK"]
    assert [len(o.rows) for o in report.overviews] == [6, 1, 1, 6, 1, 1, 6]
    for o in report.overviews:
        assert LINES[o.line - 1].startswith("┌")
    (details,) = report.details
    assert details.heading == "PRINTING DETAILED STATISTICS OF EACH TASK"
    assert LINES[details.line - 1].startswith("├ DELETED: leaking_task,")


def test_example_overview_numbers():
    first = parse_overview(EXAMPLE)
    assert first.rows[0] == OverviewRow("leaking_task", True, 6656, 8064, 1)
    assert [r.name for r in first.rows] == ["leaking_task", "no_leak_task", "main", "ipc1", "ipc0", "Pre-scheduler"]
    last = parse(EXAMPLE).overviews[-1]
    assert last.rows[0] == OverviewRow("leaking_task", False, 11392, 11616, 1)
    assert last.rows[1] == OverviewRow("no_leak_task", False, 0, 9408, 2)
    assert last.rows[2] == OverviewRow("main", True, 308, 7412, 2)
    assert last.rows[5] == OverviewRow("Pre-scheduler", True, 2236, 2236, 1)


def test_example_detail_numbers():
    report = parse(EXAMPLE)
    leak = task(report, "leaking_task")
    assert (leak.alive, leak.current, leak.peak, leak.heap_count) == (False, 11392, 11616, 1)
    (h,) = leak.heaps
    assert h == HeapDetail("RAM", 0x0010580E, 22308, 11392, 51, 11616, 52, 3,
                           [(0x3FCEBBB8, 6656), (0x3FCED5BC, 3584), (0x3FCEB718, 1152)])
    assert [s for _, s in h.blocks] == [6656, 3584, 1152]

    no_leak = task(report, "no_leak_task")
    assert [(h.size, h.current, h.peak, h.peak_pct, h.blocks) for h in no_leak.heaps] == [
        (22308, 0, 7152, 32, []), (344400, 0, 9216, 2, [])]

    main = task(report, "main")
    assert [len(h.blocks) for h in main.heaps] == [2, 5]
    assert main.current == 308 == sum(h.current for h in main.heaps)

    ipc0 = task(report, "ipc0")
    assert len(ipc0.heaps[0].blocks) == 10 == ipc0.heaps[0].alloc_count
    assert ipc0.heaps[0].blocks[3] == (0x3FC96E3C, 4224)

    pre = report.details[0].tasks[-1]
    assert pre.name == "Pre-scheduler"
    assert len(pre.heaps[0].blocks) == 11
    assert sum(s for _, s in pre.heaps[0].blocks) == 2236


def test_example_check_passes():
    report = parse(EXAMPLE)
    for d in report.details:
        d.check()
        for t in d.tasks:
            t.check()


def test_example_render_is_byte_exact():
    report = parse(EXAMPLE)
    for o in report.overviews:
        text = render_overview(o.rows)
        n = len(text.split("\n")) - 1
        assert text == "\n".join(LINES[o.line - 1:o.line - 1 + n]) + "\n"
    d = report.details[0]
    text = render_details(d.tasks)
    n = len(text.split("\n")) - 1
    assert text == "\n".join(LINES[d.line - 1:d.line - 1 + n]) + "\n"
    assert LINES[d.line - 1 + n] == "I (5949) main_task: Returned from app_main()"


def test_example_crlf():
    crlf = EXAMPLE.replace("\n", "\r\n")
    assert "\r\n" in crlf
    assert parse(crlf) == parse(EXAMPLE)


def test_json_round_trip():
    report = parse(EXAMPLE)
    data = to_json(report)
    assert report.to_json() == data
    again = Report.from_json(json.loads(json.dumps(data)))
    assert again == report
    assert data["items"][7]["tasks"][0]["heaps"][0]["blocks"][0] == [0x3FCEBBB8, 6656]
    assert data["items"][0]["rows"][0] == {"name": "leaking_task", "alive": True, "current": 6656,
                                           "peak": 8064, "heap_count": 1}
    with pytest.raises(ValueError):
        Report.from_json({"items": [{"type": "bogus"}]})


# ---------------------------------------------------------------------------
# Rendering and round trips


def test_render_overview_format():
    rows = [OverviewRow("my task", True, 1, 2, 1), OverviewRow("fifteen_chars_x", False, 123456, 1234567, 2)]
    text = render_overview(rows)
    assert text.split("\n")[3] == "│            my task │ ALIVE   │                    1 │                 2 │               1 │"
    assert text.split("\n")[4] == "│    fifteen_chars_x │ DELETED │               123456 │           1234567 │               2 │"
    assert parse_overview(text).rows == rows
    assert render_overview([]) == ""


def test_render_details_format_and_round_trip_64bit():
    tasks = [
        make_task("mp_task", [heap("RAM", 22308, [(0x55D0C3A1B2C0, 100), (0x55D0C3A1B400, 28)], peak=300),
                              heap("SPIRAM", 4194304, [(0x7F0012345670, 4096)], caps=0x0000040A)]),
        make_task("worker 1, ok", [heap("RAM", 344400, [])], alive=False, peak=64),
    ]
    text = render_details(tasks)
    assert text == (
        "├ ALIVE: mp_task, CURRENT MEMORY USAGE 4224, PEAK MEMORY USAGE 4224, TOTAL HEAP USED 2:\n"
        "│    ├ HEAP: RAM, CAPS: 0x0010580e, SIZE: 22308, USAGE: CURRENT 128 (0%), PEAK 300 (1%), ALLOC COUNT: 2\n"
        "│    │    ├ ALLOC 0x55d0c3a1b2c0, SIZE 100\n"
        "│    │    ├ ALLOC 0x55d0c3a1b400, SIZE 28\n"
        "│    └ HEAP: SPIRAM, CAPS: 0x0000040a, SIZE: 4194304, USAGE: CURRENT 4096 (0%), PEAK 4096 (0%), ALLOC COUNT: 1\n"
        "│         ├ ALLOC 0x7f0012345670, SIZE 4096\n"
        "└ DELETED: worker 1, ok, CURRENT MEMORY USAGE 0, PEAK MEMORY USAGE 64, TOTAL HEAP USED 1:\n"
        "     └ HEAP: RAM, CAPS: 0x0010580e, SIZE: 344400, USAGE: CURRENT 0 (0%), PEAK 0 (0%), ALLOC COUNT: 0\n"
    )
    d = parse_details(text)
    assert d.tasks == tasks
    assert d.heading is None and d.line == 1
    d.check()


def test_round_trip_example_objects():
    report = parse(EXAMPLE)
    for o in report.overviews:
        assert parse_overview(render_overview(o.rows)).rows == o.rows
    tasks = report.details[0].tasks
    assert parse_details(render_details(tasks)).tasks == tasks
    # each task alone, as heap_caps_print_single_task_stat prints it
    for t in tasks:
        assert parse_details(render_details([t])).tasks == [t]


def test_task_row():
    t = task(parse(EXAMPLE), "leaking_task")
    assert t.row() == OverviewRow("leaking_task", False, 11392, 11616, 1)


# ---------------------------------------------------------------------------
# Text around reports


def test_interleaved_text_and_headings():
    tree = render_details([make_task("a", [heap("RAM", 1000, [(0x3FC00000, 10)])])])
    table = render_overview([OverviewRow("a", True, 10, 10, 1)])
    text = (
        "MPY: soft reboot\r\n"
        " PRINTING OVERVIEW STATISTICS OF EACH TASK\r\n"
        + table.replace("\n", "\r\n")
        + "I (5949) main_task: Returned from app_main()\r\n"
        + table.replace("\n", "\r\n")
        + "\r\n PRINTING DETAILED STATISTICS OF EACH TASK\r\n\r\n"
        + tree.replace("\n", "\r\n")
        + tree.replace("\n", "\r\n")  # print_details(task) twice: two one-task trees
        + ">>> "
    )
    report = parse(text)
    assert [type(i).__name__ for i in report.items] == ["Overview", "Overview", "Details", "Details"]
    o1, o2, d1, d2 = report.items
    assert (o1.heading, o1.line) == ("PRINTING OVERVIEW STATISTICS OF EACH TASK", 3)
    assert (o2.heading, o2.line) == (None, 9)
    assert (d1.heading, d1.line) == ("PRINTING DETAILED STATISTICS OF EACH TASK", 17)
    assert (d2.heading, d2.line) == (None, 20)
    assert d1.tasks == d2.tasks


def test_heaptrack_warning_between_heading_and_report():
    # heaptrack prints its "incomplete" line as part of the report, after the
    # caller's heading: the report keeps both.
    table = render_overview([OverviewRow("a", True, 10, 10, 1)])
    warning = "heaptrack: warning: these figures are incomplete: 1 allocation could not be recorded (full)"
    (overview,) = parse(" PRINTING OVERVIEW STATISTICS OF EACH TASK\n" + warning + "\n" + table).items
    assert overview.heading == "PRINTING OVERVIEW STATISTICS OF EACH TASK"
    assert overview.incomplete == "1 allocation could not be recorded (full)"
    (plain,) = parse(" PRINTING OVERVIEW STATISTICS OF EACH TASK\n" + table).items
    assert plain.incomplete is None and plain.heading == overview.heading


def test_records_warning_between_heading_and_report():
    # The warning that task records run out is no "incomplete": the report keeps
    # its heading, and its figures are complete.
    table = render_overview([OverviewRow("a", True, 10, 10, 1)])
    warning = ("heaptrack: warning: task records take 166760 bytes of ESP-IDF's biggest heap (1603 tasks, "
               "1600 deleted), kept until a hard reset: room for about 12 more tasks")
    (overview,) = parse(" PRINTING OVERVIEW STATISTICS OF EACH TASK\n" + warning + "\n" + table).items
    assert overview.heading == "PRINTING OVERVIEW STATISTICS OF EACH TASK" and overview.incomplete is None


def test_nothing_found():
    assert parse("hello\nworld\n") == Report([])
    assert parse("") == Report([])
    with pytest.raises(ValueError, match="no overview"):
        parse_overview("hello\n")
    with pytest.raises(ValueError, match="no detail"):
        parse_details(render_overview([OverviewRow("a", True, 1, 1, 1)]))


def test_parse_details_with_overview_first():
    text = EXAMPLE
    assert parse_details(text).tasks[0].name == "leaking_task"


# ---------------------------------------------------------------------------
# Malformed input: ReportError with the line number

TABLE = render_overview([OverviewRow("a", True, 1, 2, 1), OverviewRow("b", False, 0, 9, 2)]).split("\n")[:-1]
TREE = render_details([
    make_task("t1", [heap("RAM", 1000, [(0x3FC00000, 10), (0x3FC00010, 20)]), heap("RAM", 2000, [(0x3FC10000, 5)])]),
    make_task("t2", [heap("RAM", 1000, [(0x3FC20000, 7)])]),
]).split("\n")[:-1]


def replaced_list(lines, index, new):
    lines = list(lines)
    lines[index] = new
    return lines


def replaced(lines, index, new):
    lines = list(lines)
    if new is None:
        del lines[index]
    else:
        lines[index] = new
    return "\n".join(["before"] + lines + ["after"]) + "\n"


MALFORMED = [
    # --- overview tables (lines: 1 "before", 2 top, 3 header, 4 sep, 5/6 rows, 7 bottom)
    ("name too narrow", replaced(TABLE, 3, "│                 a │ ALIVE   │                    1 │                 2 │               1 │"), 5, "column widths"),
    ("count too wide", replaced(TABLE, 3, "│                  a │ ALIVE   │                    1 │                 2 │                1 │"), 5, "column widths"),
    ("bad status", replaced(TABLE, 3, "│                  a │ ALIVE!  │                    1 │                 2 │               1 │"), 5, "format"),
    ("not a number", replaced(TABLE, 3, "│                  a │ ALIVE   │                   1x │                 2 │               1 │"), 5, "format"),
    ("row is text", replaced(TABLE, 3, "I (100) main: hello"), 5, "bottom border"),
    ("missing cell", replaced(TABLE, 3, "│                  a │ ALIVE   │                    1 │                 2 │"), 5, "format"),
    ("not closed", "\n".join(TABLE[:-1]) + "\n", 5, "not closed"),
    ("not closed, text", "\n".join(TABLE[:-1] + ["other"]), 6, "bottom border"),
    ("not closed, empty line", "\n".join(TABLE[:-1] + [""]) + "\n", 6, "bottom border"),
    ("header missing", replaced(TABLE, 1, None), 3, "header"),
    ("separator missing", replaced(TABLE, 2, None), 4, "separator"),
    ("no rows", "\n".join(TABLE[:3] + TABLE[-1:]), 4, "no rows"),
    ("top missing", replaced(TABLE, 0, None), 2, "top border"),
    ("stray row", "x\n" + TABLE[3] + "\n", 2, "top border"),
    ("stray bottom", "x\n\n" + TABLE[-1] + "\n", 3, "top border"),
    ("leading zero", replaced(TABLE, 3, "│                  a │ ALIVE   │                   01 │                 2 │               1 │"), 5, "column widths"),
    # --- detail trees (lines: 1 "before", 2 t1, 3 heap, 4 alloc, 5 alloc, 6 heap, 7 alloc, 8 t2, 9 heap, 10 alloc;
    #     TREE[k] is line k + 2)
    ("heap without task", "x\n" + TREE[1] + "\n", 2, "without a task line"),
    ("alloc without task", "x\n" + TREE[2] + "\n", 2, "without a task line"),
    ("alloc without heap", replaced(TREE, 1, None), 3, "without a heap line"),
    ("last task then └ task", replaced(TREE, 0, TREE[0].replace("├", "└", 1)), 3, "must start with ' '"),
    ("tree not closed", "\n".join(TREE[:6]) + "\nafter\n", 7, "last task line"),
    ("tree not closed at end", "\n".join(TREE[:6]) + "\n", 6, "last task line"),
    ("tree not closed at end, no newline", "\n".join(TREE[:6]), 6, "last task line"),
    ("heaps not closed", replaced(replaced_list(TREE, 5, TREE[5].replace("│     ", "│    │")), 4,
                                  TREE[4].replace("└", "├", 1)), 8, "not closed"),
    ("heaps not closed at end", replaced(TREE[:8], 7, TREE[7].replace("└", "├", 1)), 10, "not closed"),
    ("heap after last heap", replaced(TREE, 1, TREE[1].replace("├", "└", 1)), 4, "must start with '│     '"),
    ("heap after └ heap", "\n".join(TREE[:2] + [TREE[1].replace("├", "└", 1), TREE[1]]) + "\n", 4, "after the last heap"),
    ("alloc with └", replaced(TREE, 2, TREE[2].replace("├ ALLOC", "└ ALLOC")), 4, "ALLOC lines use ├"),
    ("alloc wrong heap glyph", replaced(TREE, 2, TREE[2].replace("│    │", "│     ")), 4, "must start with"),
    ("alloc wrong task glyph", replaced(TREE, 8, "│" + TREE[8][1:]), 10, "must start with"),
    ("heap wrong task glyph", replaced(TREE, 7, "│" + TREE[7][1:]), 9, "must start with"),
    ("alloc indentation", replaced(TREE, 2, TREE[2].replace("    ├ ALLOC", "   ├ ALLOC")), 4, "ALLOC line does not match"),
    ("heap indentation", replaced(TREE, 1, TREE[1].replace("    ├ HEAP", "   ├ HEAP")), 3, "heap line does not match"),
    ("caps not 8 digits", replaced(TREE, 1, TREE[1].replace("0x0010580e", "0x10580e")), 3, "heap line does not match"),
    ("caps upper case", replaced(TREE, 1, TREE[1].replace("0x0010580e", "0x0010580E")), 3, "heap line does not match"),
    ("address upper case", replaced(TREE, 2, TREE[2].replace("0x3fc00000", "0x3FC00000")), 4, "ALLOC line does not match"),
    ("heap fields", replaced(TREE, 1, TREE[1].replace("ALLOC COUNT: 2", "ALLOC COUNT 2")), 3, "heap line does not match"),
    ("task fields", replaced(TREE, 0, TREE[0].replace("PEAK MEMORY USAGE", "PEAK USAGE")), 2, "task line does not match"),
    ("task line no colon", replaced(TREE, 0, TREE[0][:-1]), 2, "task line does not match"),
    ("alloc fields", replaced(TREE, 2, TREE[2].replace(", SIZE", " SIZE")), 4, "ALLOC line does not match"),
]


@pytest.mark.parametrize("text,lineno,message", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed(text, lineno, message):
    with pytest.raises(ReportError) as info:
        parse(text)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.lineno == lineno, str(err)
    assert message in str(err)
    assert str(err).startswith("line %d: " % lineno)
    if err.line is not None:
        assert err.line == text.split("\n")[lineno - 1]
        assert repr(err.line) in str(err)
    # the same with serial line endings
    with pytest.raises(ReportError) as info:
        parse(text.replace("\n", "\r\n"))
    assert info.value.lineno == lineno


def test_malformed_templates_are_valid():
    assert len(parse("\n".join(["before"] + TABLE + ["after"])).overviews[0].rows) == 2
    d = parse("\n".join(["before"] + TREE + ["after"])).details[0]
    assert [t.name for t in d.tasks] == ["t1", "t2"]
    d.check()


# ---------------------------------------------------------------------------
# check(): consistency of the numbers


def corrupt(change):
    tasks = copy.deepcopy(parse_details(EXAMPLE).tasks)
    change(tasks)
    return Details(tasks, None, 73)


def set_attr(obj, **kw):
    for k, v in kw.items():
        setattr(obj, k, v)


CHECKS = [
    # (id, change, message, line offset from the first task line, or None when unchecked)
    ("task peak < current", lambda ts: set_attr(ts[0], peak=100), "PEAK MEMORY USAGE 100 < CURRENT", 0),
    ("task heap count", lambda ts: set_attr(ts[1], heap_count=3), "TOTAL HEAP USED 3 but 2 heap lines", 5),
    ("task current != heaps", lambda ts: set_attr(ts[2], current=309), "sum of its heaps' CURRENT 308", 8),
    ("heap current != blocks", lambda ts: ts[0].heaps[0].blocks.pop(), "ALLOC COUNT 3 but 2 ALLOC lines", 1),
    ("block size", lambda ts: ts[0].heaps[0].blocks.__setitem__(2, (0x3FCEB718, 1153)),
     "CURRENT 11392 != sum of block sizes 11393", 1),
    ("alloc count", lambda ts: set_attr(ts[3].heaps[0], alloc_count=1), "ALLOC COUNT 1 but 2 ALLOC lines", 19),
    ("current pct", lambda ts: set_attr(ts[0].heaps[0], current_pct=50), "printed 50%", 1),
    ("peak pct", lambda ts: set_attr(ts[1].heaps[1], peak_pct=3), "PEAK 9216 is 2% of SIZE 344400, printed 3%", 7),
    ("heap peak < current", lambda ts: set_attr(ts[4].heaps[0], peak=10000), "PEAK 10000 < CURRENT 10080", 23),
    ("heap size 0", lambda ts: set_attr(ts[5].heaps[0], size=0), "SIZE is 0", 35),
]


@pytest.mark.parametrize("change,message,offset", [c[1:] for c in CHECKS], ids=[c[0] for c in CHECKS])
def test_check_detects(change, message, offset):
    details = corrupt(change)
    with pytest.raises(ReportError) as info:
        details.check()
    err = info.value
    assert message in str(err)
    assert err.lineno == 73 + offset
    # the reported line is the line as it would be printed
    rendered = render_details(details.tasks).split("\n")
    assert err.line == rendered[offset]
    # and the task alone reports it without a line number
    bad = [t for t in details.tasks if t.problem()][0]
    with pytest.raises(ReportError) as info:
        bad.check()
    assert info.value.lineno is None and message in str(info.value)


def test_check_names_task_and_heap():
    details = corrupt(lambda ts: set_attr(ts[2].heaps[1], alloc_count=4))
    with pytest.raises(ReportError, match=r"task 'main', heap #2 \(RAM\): ALLOC COUNT 4 but 5 ALLOC lines"):
        details.check()


def test_report_error_without_line():
    err = ReportError("something")
    assert str(err) == "something" and err.lineno is None and err.line is None
    assert isinstance(err, ValueError)


# ---------------------------------------------------------------------------
# stream_json: the JSON of a text of any size, written as it is read


def pieces(text, size):
    return [text[i:i + size] for i in range(0, len(text), size)]


def streamed(text, size, **kw):
    out = io.StringIO()
    found = stream_json(pieces(text, size), out, **kw)
    return found, out.getvalue()


@pytest.mark.parametrize("size", [1, 7, 4096, 1 << 20])
@pytest.mark.parametrize("indent", [0, 1, 3])
def test_stream_json_writes_what_json_dump_would(size, indent):
    odd = make_task("ütf ☃ \"q\"", [heap("RAM", 1000, [(0x3FC00000, 16), (0, 8)]), heap("SPIRAM", 4096, [])])
    text = (EXAMPLE.replace("\n", "\r\n") + "log\n" + render_details([odd]) + render_overview([odd.row()])
            + render_details([make_task("none", [])]).rstrip("\n"))
    found, got = streamed(text, size, indent=indent)
    expected = to_json(parse(text))
    assert found == len(expected["items"])
    assert got == json.dumps(expected, indent=indent, ensure_ascii=False)


def test_stream_json_of_nothing():
    assert streamed("no report here\n", 5) == (0, json.dumps({"items": []}, indent=1))


@pytest.mark.parametrize("change,message,offset", [c[1:] for c in CHECKS], ids=[c[0] for c in CHECKS])
def test_stream_json_checks_as_details_check(change, message, offset):
    text = "before\n" + render_details(corrupt(change).tasks)
    with pytest.raises(CheckError) as expected:
        parse_details(text).check()
    streamed(text, 100)  # without check, the same text is fine
    with pytest.raises(CheckError) as info:
        streamed(text, 100, check=True)
    assert str(info.value) == str(expected.value) and message in str(info.value)


def test_stream_json_notes_incomplete_trees_before_the_first_that_fails():
    def warning(why):
        return "heaptrack: warning: these figures are incomplete: %s\n" % why

    lost = render_details(corrupt(CHECKS[1][1]).tasks)  # its numbers do not add up, but it said so
    bad = render_details(corrupt(CHECKS[0][1]).tasks)
    text = warning("one") + lost + warning("two") + lost + bad + warning("three") + lost
    notes = []
    with pytest.raises(CheckError) as info:
        streamed(text, 64, check=True, incomplete_note=lambda line, why: notes.append((line, why)))
    n = lost.count("\n")
    assert notes == [(2, "one"), (3 + n, "two")]
    assert info.value.lineno == 3 + 2 * n and "PEAK MEMORY USAGE 100 < CURRENT" in str(info.value)


def test_check_error_is_a_report_error():
    with pytest.raises(CheckError):
        corrupt(CHECKS[0][1]).check()
    assert issubclass(CheckError, ReportError)
