"""The `heaptrack` command against a board: watch, record, plot, parse, vboard, and its errors."""
import json
import os
import re
import signal
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from heaptrack_host import plot, records, report

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "leak_demo.py"
EXAMPLE = REPO / "host_tests" / "data" / "esp_idf_example_output.txt"

# A task that leaks 256 bytes every 40 ms for a while, then frees it all and ends.
LEAKER = """\
import heaptrack, time

def leak(state):
    held = []
    for i in range(20):
        held.append(heaptrack.malloc(256))
        time.sleep_ms(40)
    while not state:
        time.sleep_ms(10)
    for p in held:
        heaptrack.free(p)

state = []
heaptrack.start_task("cli_leaker", leak, (state,))
time.sleep_ms(1000)
print("leaker script done")
state.append(1)
time.sleep_ms(100)
"""

# Runs until interrupted, with a task allocating and freeing.
FOREVER = """\
import heaptrack, time

def churn():
    while True:
        p = heaptrack.malloc(128)
        time.sleep_ms(10)
        heaptrack.free(p)

heaptrack.start_task("cli_forever", churn)
print("forever started")
while True:
    time.sleep_ms(10)
"""

# The largest block the demo allocates and frees again: 10000 bytes, as TLSF rounds it.
IN_FLIGHT = 10240


def heaptrack(*args, timeout=90, input=None, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="160")
    env.pop("HEAPTRACK_PORT", None)
    return subprocess.run([sys.executable, "-m", "heaptrack_host.cli"] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=timeout, input=input, cwd=cwd, env=env,
                          stdin=None if input is not None else subprocess.DEVNULL)


def ok(proc):
    assert proc.returncode == 0, "exit %d\nstdout:\n%s\nstderr:\n%s" % (proc.returncode, proc.stdout, proc.stderr)
    return proc


def read_recording(path):
    lines = [json.loads(line) for line in Path(path).read_text().splitlines()]
    header, samples, end = lines[0], lines[1:-1], lines[-1]
    assert header["type"] == "record" and header["version"] == 1
    assert all(s["type"] == "sample" for s in samples)
    assert end["type"] == "end" and end["samples"] == len(samples)
    return header, samples, end


@pytest.fixture
def script(tmp_path):
    def make(text, name="script.py"):
        path = tmp_path / name
        path.write_text(text)
        return path
    return make


@pytest.fixture
def demo_on_board(board):
    # From power-on: a soft reset keeps the statistics of earlier demo runs' tasks,
    # which have the same names.
    board.hard_reset()
    board.put(DEMO, "leak_demo.py")
    yield
    board.exec("import heaptrack; heaptrack.free_all()")
    board.rm("leak_demo.py")


def test_console_script_is_installed():
    exe = Path(sys.executable).parent / "mpheaptrack"
    if not exe.exists():
        pytest.skip("heaptrack-host is not installed in this Python's environment")
    proc = ok(subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=30))
    for command in ("watch", "record", "plot", "parse", "vboard"):
        assert command in proc.stdout


# ---------------------------------------------------------------------------
# watch


def test_watch_samples_prints_plain_tables(board):
    board.exec("import heaptrack\nheaptrack.malloc(700)")  # the REPL's task holds a block
    try:
        proc = ok(heaptrack("watch", "--port", board.device, "--samples", 3, "--interval", 0.05))
    finally:
        board.exec("import heaptrack\nheaptrack.free_all()")
    out = proc.stdout
    assert any(line.split()[:3] == ["mp_task", "...", "ALIVE"] for line in out.splitlines()), out
    assert "\x1b[" not in out  # plain text
    for n in (1, 2, 3):
        assert "sample %d of 3 at" % n in out
    assert out.count("VERDICT") == 3 and out.count("ESP-IDF heap:") == 3
    assert "MicroPython GC heap:" in out


def test_watch_once(board):
    out = ok(heaptrack("watch", "--port", board.device, "--once")).stdout
    assert "sample 1 of 1" in out and "sample 2" not in out
    assert "VERDICT" in out or "(no task has allocated ESP-IDF heap memory yet)" in out


def test_watch_run_shows_the_leak_and_the_script_output(board, script):
    proc = ok(heaptrack("watch", "--port", board.device, "--run", script(LEAKER), "--samples", 30,
                        "--interval", 0.05))
    out = proc.stdout
    assert "leaker script done" in out
    rows = [line for line in out.splitlines() if line.strip().startswith("cli_leaker ")]
    assert rows, out
    assert any(row.split()[1] == "LEAK" for row in rows), "\n".join(rows)
    assert "cli_leaker: +" in out and "never given back" in out  # the reason, below the table
    # It frees everything before the script ends: the last table shows that.
    assert rows[-1].split()[1:4] == ["ok", "DELETED", "0"], rows[-1]  # given back: no leak


# Leaves a task behind that prints every 5 ms.
CHATTY = """\
import heaptrack, time

def chatter():
    n = 0
    while True:
        n += 1
        print("chatter", n)
        time.sleep_ms(5)

heaptrack.start_task("cli_chatty", chatter)
time.sleep_ms(100)
print("chatty script done")
"""


def test_watch_samples_on_while_a_task_the_script_left_prints(board, script):
    # After the script, each sample is a raw-REPL command while its task prints.
    # mpremote's way of sending one (wait for the prompt, then negotiate
    # raw-paste mode with binary replies) waited for ever once a line came in
    # between; a line between the board's two ends of output is no error.
    try:
        proc = ok(heaptrack("watch", "--port", board.device, "--run", script(CHATTY), "--samples", 12,
                            "--interval", 0.05))
    finally:
        # The task prints on: the soft reset before a script ends it (mpremote's could hang on it).
        ok(heaptrack("watch", "--port", board.device, "--run", script("pass\n", "quiet.py"), "--samples", 1))
    out = proc.stdout
    assert "chatty script done" in out and "chatter 1\n" in out
    assert "sample 12 of 12 at" in out and "script.py ended" in out


# ---------------------------------------------------------------------------
# record and plot


def test_record_the_demo_then_plot_it(board, demo_on_board, script, tmp_path):
    run = script("import leak_demo\nleak_demo.main(period_s=0.05, rounds=4)\n")
    out = tmp_path / "run.jsonl"
    proc = ok(heaptrack("record", "--port", board.device, "--out", out, "--interval", 0.02, "--run", run))
    # The script's output goes to stdout, progress and the summary to stderr.
    assert "Starting task: leaking_task" in proc.stdout
    assert "PRINTING DETAILED STATISTICS OF EACH TASK" in proc.stdout
    assert "mpheaptrack: recording to %s" % out in proc.stderr
    assert "recorded" in proc.stderr and "leaks: leaking_task (deleted while holding" in proc.stderr

    header, samples, end = read_recording(out)
    assert header["port"] == board.device and header["script"] == str(run) and header["interval"] == 0.02
    assert end["script_error"] is None
    assert len(samples) >= 5
    ts = [s["t"] for s in samples]
    assert ts == sorted(ts) and ts[0] < 0.05
    leaking = [s["tasks"]["leaking_task"] for s in samples if "leaking_task" in s["tasks"]]
    assert leaking[-1]["alive"] is False and leaking[-1]["current"] > 0
    # A sample may catch the task between allocating its first block and freeing
    # it: allow that one block in flight (a request of at most 10000 bytes).
    currents = [v["current"] for v in leaking]
    assert all(later >= earlier - IN_FLIGHT for earlier, later in zip(currents, currents[1:]))
    assert currents[-1] > 0 and max(currents) <= currents[-1] + IN_FLIGHT
    last = samples[-1]
    assert last["tasks"]["no_leak_task"]["current"] == 0 and last["tasks"]["no_leak_task"]["alive"] is False
    assert last["regions"] and all(r["free"] <= r["total"] for r in last["regions"])
    assert last["gc"]["total"] > 0

    png = tmp_path / "usage.png"
    html_page = tmp_path / "usage.html"
    proc = ok(heaptrack("plot", out, "-o", png, "--html", html_page))
    assert "leaks: leaking_task (deleted while holding" in proc.stdout
    pixels = read_png(png)
    assert pixels.shape[:2] == (680, 1100)
    assert share_of_color(pixels, plot.LEAK_COLOR) > 0.002  # the leaking task, drawn thick in red
    assert share_of_color(pixels, plot.OTHER_COLORS[0]) > 0.0002  # no_leak_task, in blue
    assert non_white_share(pixels) > 0.02  # axes, labels, legend and both series: not blank

    page = html_page.read_text()
    assert "<svg" in page and "leaking_task" in page and "no_leak_task" in page
    assert 'class="leak"' in page
    assert "<script src" not in page and 'href="http' not in page  # self-contained


def test_record_duration_without_a_script(board, tmp_path):
    out = tmp_path / "idle.jsonl"
    started = time.monotonic()
    ok(heaptrack("record", "--port", board.device, "-o", out, "--interval", 0.1, "--duration", 0.6))
    assert time.monotonic() - started < 30
    _, samples, _ = read_recording(out)
    assert 4 <= len(samples) <= 9
    assert samples[-1]["t"] == pytest.approx(0.5, abs=0.25)


def test_record_samples_limit_stops_the_script(board, script, tmp_path):
    out = tmp_path / "limited.jsonl"
    proc = ok(heaptrack("record", "--port", board.device, "-o", out, "--interval", 0.05, "--samples", 5,
                        "--run", script(FOREVER)))
    assert "forever started" in proc.stdout
    _, samples, end = read_recording(out)
    assert len(samples) == 5
    assert end["script_error"] is None
    # The interrupted script's task was ended by a soft reset.
    alive = board.mpremote("resume", "exec",
                           "import heaptrack\nprint([t.name for t in heaptrack.task_stats() if t.alive])").stdout
    assert "cli_forever" not in alive


def test_record_script_error_exits_1(board, script, tmp_path):
    out = tmp_path / "error.jsonl"
    proc = heaptrack("record", "--port", board.device, "-o", out, "--interval", 0.05,
                     "--run", script("import time\ntime.sleep_ms(120)\nraise ValueError('boom on board')\n"))
    assert proc.returncode == 1, proc.stderr
    assert "ValueError: boom on board" in proc.stderr
    assert "the script raised an error on the board" in proc.stderr
    _, samples, end = read_recording(out)
    assert samples and "boom on board" in end["script_error"]


def synthetic_recording(path, leak):
    lines = [json.dumps({"type": "record", "version": 1, "machine": "test"})]
    for i in range(20):
        tasks = {"steady": {"current": 2000 + (500 if i % 3 == 0 else 0), "peak": 2500, "alive": True}}
        if leak:
            tasks["grower"] = {"current": 300 * i, "peak": 300 * i, "alive": True}
        lines.append(json.dumps({"type": "sample", "t": i * 0.5, "tasks": tasks,
                                 "regions": [{"name": "RAM", "caps": 1, "total": 30000, "free": 25000 - 300 * i,
                                              "largest_free": 20000, "minimum_free": 1}],
                                 "gc": {"total": 1, "used": 1, "free": 0, "largest_free": 0}}))
    path.write_text("\n".join(lines) + "\n")


def test_plot_highlights_only_a_leak(tmp_path):
    clean, leaky = tmp_path / "clean.jsonl", tmp_path / "leaky.jsonl"
    synthetic_recording(clean, leak=False)
    synthetic_recording(leaky, leak=True)
    out = ok(heaptrack("plot", clean)).stdout
    assert "; no leak" in out and str(tmp_path / "clean.png") in out
    assert share_of_color(read_png(tmp_path / "clean.png"), plot.LEAK_COLOR) < 0.0002
    assert "leaks: grower (+5700 B over 9.5 s" in ok(heaptrack("plot", leaky, "-o", tmp_path / "leaky.png")).stdout
    assert share_of_color(read_png(tmp_path / "leaky.png"), plot.LEAK_COLOR) > 0.002


def test_plot_draws_a_held_task_apart_and_its_peak_since_the_first_sample(tmp_path):
    rec = tmp_path / "held.jsonl"
    lines = [json.dumps({"type": "record", "version": 1, "machine": "test"})]
    for i in range(10):
        # died before the recording, holding 5000 B; a task whose peak of 90000 B was
        # before the recording, and that uses 1000 B while recorded
        tasks = {"dead": {"current": 5000, "peak": 8000, "alive": False},
                 "busy": {"current": 1000, "peak": 90000, "alive": True}}
        lines.append(json.dumps({"type": "sample", "t": i * 0.5, "tasks": tasks}))
    rec.write_text("\n".join(lines) + "\n")
    out = ok(heaptrack("plot", rec, "-o", tmp_path / "held.png")).stdout
    assert "no leak; held by dead tasks: dead (died before watching, still holds 5000 B)" in out
    pixels = read_png(tmp_path / "held.png")
    assert share_of_color(pixels, plot.HELD_COLOR) > 0.002 and share_of_color(pixels, plot.LEAK_COLOR) < 0.0002
    from heaptrack_host.recording import series_by_task
    fig, ax, drawn = plot.figure({}, [json.loads(x) for x in lines[1:]])
    assert ax.get_ylim()[1] < 10000   # no 90000 B peak from before the recording
    assert "busy — ok, peak 1000 B" in drawn["busy"].get_label()
    assert series_by_task([json.loads(x) for x in lines[1:]])["busy"].peaks_seen() == [1000] * 10


def test_plot_html_only(tmp_path):
    rec = tmp_path / "leaky.jsonl"
    synthetic_recording(rec, leak=True)
    ok(heaptrack("plot", rec, "--html", tmp_path / "page.html", "--title", "My device"))
    assert not (tmp_path / "leaky.png").exists()
    page = (tmp_path / "page.html").read_text()
    assert "<title>My device</title>" in page and "grower" in page and "<td>LEAK</td>" in page


# The page's own script, run by Node.js with the few DOM calls it makes stood in
# for: what its readout says with the mouse at (x, y) in the SVG's units.
READOUT_HARNESS = r"""
const fs = require('fs');
const page = fs.readFileSync(process.argv[2], 'utf8');
const script = page.slice(page.lastIndexOf('<script>') + 8, page.lastIndexOf('</script>'));
const listeners = {};
const element = () => ({style: {}, setAttribute() {}, innerHTML: ''});
const readout = element();
const svg = {
  addEventListener: (kind, fn) => { listeners[kind] = fn; }, appendChild() {},
  createSVGPoint: () => ({x: 0, y: 0, matrixTransform() { return {x: this.x, y: this.y}; }}),
  getScreenCTM: () => ({inverse: () => null}),
};
global.document = {
  querySelector: () => svg, querySelectorAll: () => [], createElementNS: element,
  getElementById: id => id === 'readout' ? readout : {getBoundingClientRect: () => ({left: 0, top: 0})},
};
eval(script.replace('const DATA', 'var DATA'));
const [x0, y0, x1, y1] = DATA.axes;
const at = Number(process.argv[3]);
listeners.mousemove({clientX: x0 + (x1 - x0) * at, clientY: y1 - 3});
console.log(JSON.stringify({text: readout.innerHTML, shown: readout.style.display}));
"""


def test_plot_html_readout_covers_every_panel(tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.skip("no Node.js to run the page's script")
    rec = tmp_path / "types.jsonl"
    lines = [json.dumps({"type": "record", "version": 1, "machine": "test"})]
    for i in range(10):
        lines.append(json.dumps({
            "type": "sample", "t": i * 1.0, "tasks": {"grower": {"current": 300 * i, "peak": 300 * i, "alive": True}},
            "regions": [{"name": "RAM", "caps": 1, "total": 30000, "free": 25000 - 300 * i,
                         "largest_free": 20000 - i, "minimum_free": 24000 - 300 * i}],
            "gc": {"total": 64000 + 1000 * i, "used": 1, "free": 0, "largest_free": 0},
            "gc_types": [{"name": "bytearray", "count": 10 + i, "size": 1600 + 160 * i},
                         {"name": "Reading", "count": 5, "size": 240}],
            **({"failures": {"total": 1, "new": [{"number": 1, "ms": 7000, "task": 1, "task_name": "mp_task", "size": 17000, "caps": 6144, "function": None,
                                             "kind": "fragmented", "text": "no block of 17000 B"}]}}
               if i == 7 else {})}))
    rec.write_text("\n".join(lines) + "\n")
    page = tmp_path / "types.html"
    ok(heaptrack("plot", rec, "--html", page))
    harness = tmp_path / "readout.js"
    harness.write_text(READOUT_HARNESS)

    def readout(at):
        proc = subprocess.run([node, str(harness), str(page), str(at)], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    # The mouse in the bottom panel (the GC heap's types), past the middle of the run.
    late = readout(0.75)
    assert late["shown"] == "block"
    text = late["text"]
    t = float(text.split("t = ")[1].split(" s")[0])
    i = int(t)   # the sample at or before the mouse
    assert "grower: %d B" % (300 * i) in text
    assert "free %d B, largest free block %d B, lowest free %d B" % (25000 - 300 * i, 20000 - i, 24000 - 300 * i) in text
    assert "MicroPython GC heap</b>: size %d B" % (64000 + 1000 * i) in text
    assert "bytearray: %d B, %d" % (1600 + 160 * i, 10 + i) in text and "Reading: 240 B, 5" in text
    assert ("failed: 17,000 B fragmented" in text) == (i == 7)
    assert "failed" not in readout(0.2)["text"]


@pytest.mark.parametrize("content, message", [
    ("", "holds no samples"),
    ('{"type": "record"}\n', "holds no samples"),
    ("not json\n", "line 1: not JSON"),
    ('{"type": "sample", "t": 0}\n', "line 1: a sample needs"),
])
def test_plot_rejects_bad_recordings(tmp_path, content, message):
    rec = tmp_path / "bad.jsonl"
    rec.write_text(content)
    proc = heaptrack("plot", rec)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and message in proc.stderr
    assert heaptrack("plot", tmp_path / "missing.jsonl").returncode == 2


def read_png(path):
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import image
    return image.imread(str(path))


def share_of_color(pixels, color, tolerance=0.06):
    import numpy as np
    rgb = np.array([int(color[i:i + 2], 16) / 255.0 for i in (1, 3, 5)])
    close = np.all(np.abs(pixels[:, :, :3] - rgb) < tolerance, axis=2)
    return float(close.mean())


def non_white_share(pixels):
    return float((pixels[:, :, :3].min(axis=2) < 0.9).mean())


# ---------------------------------------------------------------------------
# parse


def test_parse_esp_idf_example_to_json():
    text = EXAMPLE.read_text(encoding="utf-8")
    proc = ok(heaptrack("parse", input=text))
    assert json.loads(proc.stdout) == report.to_json(report.parse(text))
    from_file = ok(heaptrack("parse", EXAMPLE, "--indent", 0))
    assert json.loads(from_file.stdout) == json.loads(proc.stdout)


def test_parse_reads_the_gc_heaps_area_events_print_heap_info_tells(board):
    out = board.exec("import heaptrack, json\n"
                     "heaptrack.print_heap_info()\n"
                     "print('EVENTS', json.dumps([[e.number, e.ms, e.grew, e.address, e.size, e.heap, e.task_name,"
                     " e.largest_before, e.largest_after, e.gc_areas, e.gc_bytes] for e in heaptrack.gc_events()]))\n")
    board_events = json.loads(out.split("EVENTS ", 1)[1])
    assert board_events, "the GC heap's first area is an event"
    events = json.loads(ok(heaptrack("parse", input=out)).stdout)["gc_events"]
    shown = board_events[-len(events):]   # print_heap_info shows the newest few
    assert 1 <= len(events) <= len(board_events)
    for e, b in zip(events, shown):
        records.check(e, records.GC_EVENT, "parsed event")
        number, ms, grew, address, size, heap, task_name, before, after, areas, gc_bytes = b
        assert (e["number"], e["ms"], e["grew"], e["address"], e["heap"], e["gc_areas"]) == (
            number, ms, grew, address, heap, areas)
        assert e["task_name"] == (task_name or "Pre-scheduler")
        # Printed in whole KB from 10 KB up: read back to the KB below.
        for got, real in ((e["size"], size), (e["largest_before"], before), (e["largest_after"], after),
                          (e["gc_bytes"], gc_bytes)):
            assert got == real if e["exact"] else 0 <= real - got < 1024, (got, real)


def test_gc_event_lines_are_read_wherever_they_are_and_nothing_else_is():
    from heaptrack_host.gc_event_lines import parse_line
    e = parse_line("[   12.345678]    #12 at 61.005 s: the GC heap gave back 9,216 B (SPIRAM at 0x3c012340) in "
                   "my; task; largest free internal block 1,024 B -> 10 KB; GC heap now 3 areas, 1,234 KB")
    assert e == {"number": 12, "ms": 61005, "grew": False, "address": 0x3c012340, "size": 9216, "heap": "SPIRAM",
                 "task_name": "my; task", "largest_before": 1024, "largest_after": 10240, "gc_areas": 3,
                 "gc_bytes": 1234 * 1024, "exact": False}
    assert parse_line(" #1 at 0.000 s: the GC heap took 64 B (RAM at 0x3fc96e40) in mp_task; largest free "
                      "internal block 100 B -> 36 B; GC heap now 1 area, 64 B")["exact"] is True
    for line in ("", "#1 at 0.000 s: something else", " Task records: 3 (0 of deleted tasks)",
                 "│ #1 at 0.000 s: the GC heap took 64 KB (RAM at 0x3fc96e40) in mp_task; largest"):
        assert parse_line(line) is None, line


def test_gc_type_series_is_the_union_of_each_samples_top_types():
    from heaptrack_host.recording import gc_type_series
    samples = [{"t": 0.0, "tasks": {}},   # recorded before --gc-types, or by an older recorder
               {"t": 0.5, "tasks": {}, "gc_types": [{"name": "str", "count": 9, "size": 900},
                                                    {"name": "list", "count": 2, "size": 300}]},
               {"t": 1.0, "tasks": {}, "gc_types": [{"name": "app.Reading", "count": 40, "size": 2000},
                                                    {"name": "str", "count": 9, "size": 950}]}]
    times, types = gc_type_series(samples)
    assert times == [0.5, 1.0]
    assert types == {"app.Reading": [None, 2000], "str": [900, 950], "list": [300, None]}
    assert list(types) == ["app.Reading", "str", "list"]   # by the most bytes each held


def test_parse_round_trip_from_the_board(board):
    out = board.exec("import heaptrack\n"
                     "keep = [heaptrack.malloc(n) for n in (40, 400, 4000)]\n"
                     "heaptrack.print_overview()\nheaptrack.print_details()\n"
                     "for p in keep:\n    heaptrack.free(p)\n")
    proc = ok(heaptrack("parse", "--check", input=out))
    back = report.Report.from_json(json.loads(proc.stdout))
    assert back == report.parse(out)
    (overview,) = back.overviews
    (details,) = back.details
    text = out.replace("\r\n", "\n")
    assert report.render_overview(overview.rows) + report.render_details(details.tasks) in text


@pytest.mark.parametrize("text, message", [
    ("nothing to see\n", "no ESP-IDF heap task report or GC heap area event found"),
    ("└ ALIVE: main, CURRENT MEMORY USAGE 1, PEAK MEMORY USAGE 1, TOTAL HEAP USED 1\n", "line 1:"),
])
def test_parse_errors_are_one_line_exit_2(text, message):
    proc = heaptrack("parse", input=text)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("mpheaptrack: error: stdin") and proc.stderr.count("\n") == 1
    assert message in proc.stderr


def test_parse_check_finds_wrong_numbers():
    bad = ("└ ALIVE: main, CURRENT MEMORY USAGE 10, PEAK MEMORY USAGE 10, TOTAL HEAP USED 1:\n"
           "     └ HEAP: RAM, CAPS: 0x0010580e, SIZE: 100, USAGE: CURRENT 10 (10%), PEAK 10 (10%), ALLOC COUNT: 1\n"
           "          ├ ALLOC 0x3fc99024, SIZE 9\n")
    assert heaptrack("parse", input=bad).returncode == 0
    proc = heaptrack("parse", "--check", input=bad)
    assert proc.returncode == 2 and "sum of block sizes" in proc.stderr


def test_parse_check_notes_incomplete_reports_then_the_error():
    bad = ("└ ALIVE: main, CURRENT MEMORY USAGE 10, PEAK MEMORY USAGE 10, TOTAL HEAP USED 1:\n"
           "     └ HEAP: RAM, CAPS: 0x0010580e, SIZE: 100, USAGE: CURRENT 10 (10%), PEAK 10 (10%), ALLOC COUNT: 1\n"
           "          ├ ALLOC 0x3fc99024, SIZE 9\n")
    incomplete = "heaptrack: warning: these figures are incomplete: records lost\n" + bad
    proc = heaptrack("parse", "--check", input=incomplete)
    assert proc.returncode == 0 and proc.stderr == (
        "mpheaptrack: stdin line 2: not checked: heaptrack said these figures are incomplete: records lost\n")
    proc = heaptrack("parse", "--check", input=incomplete + "log\n" + bad + incomplete)
    assert proc.returncode == 2 and proc.stdout == ""
    notes, error = proc.stderr.splitlines()
    assert notes.endswith("line 2: not checked: heaptrack said these figures are incomplete: records lost")
    assert error.startswith("mpheaptrack: error: stdin: line 7:") and "sum of block sizes" in error


# ---------------------------------------------------------------------------
# errors and the virtual board


@pytest.mark.parametrize("command", [["watch", "--once"], ["record", "-o", "{tmp}/x.jsonl", "--duration", "1"]])
@pytest.mark.parametrize("port", ["/dev/heaptrack-no-such-port", "/dev/null"])
def test_bad_port_is_one_line_exit_2(command, port, tmp_path):
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    proc = heaptrack(*args, "--port", port, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == "mpheaptrack: error: cannot open %s: no such device, or it is busy or not accessible\n" % port
    assert proc.stdout == ""


def test_no_board_found(virtual_only):
    import serial.tools.list_ports
    if any(p.vid is not None for p in serial.tools.list_ports.comports()):
        pytest.skip("a USB serial device is connected")
    proc = heaptrack("watch", "--once")
    assert proc.returncode == 2
    assert proc.stderr.startswith("mpheaptrack: error: no board found") and proc.stderr.count("\n") == 1


def test_board_without_heaptrack_module(vboard_factory):
    plain = vboard_factory()
    # A module on the board's filesystem shadows the frozen one, as if the firmware had none.
    (plain.vboard.flash / "heaptrack.py").write_text("raise ImportError(\"no module named 'heaptrack'\")\n")
    proc = heaptrack("watch", "--port", plain.device, "--once")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "runs MicroPython without the heaptrack module" in proc.stderr


# A heaptrack package on the board's filesystem shadows the frozen one: as a
# firmware built before the host tools' board half was frozen into it (no
# heaptrack._host), or with an older one.
OLDER_FIRMWARES = {
    "no _host": {},
    "older _host": {"_host.py": "import sys\nPROTOCOL = 0\n"
                                "def hello(marker):\n    sys.stdout.write(marker + repr((0, '', True)) + '\\n')\n"},
}


@pytest.mark.parametrize("files", OLDER_FIRMWARES.values(), ids=OLDER_FIRMWARES.keys())
def test_firmware_older_than_the_host_tools(vboard_factory, files):
    old = vboard_factory()
    package = old.vboard.flash / "heaptrack"
    package.mkdir()
    (package / "__init__.py").write_text("from _heaptrack import *\n")
    for name, text in files.items():
        (package / name).write_text(text)
    proc = heaptrack("watch", "--port", old.device, "--once")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "is older than these host tools" in proc.stderr and "flash a current one" in proc.stderr


def test_missing_script_is_exit_2(board, tmp_path):
    proc = heaptrack("record", "--port", board.device, "-o", tmp_path / "x.jsonl", "--run", tmp_path / "nope.py")
    assert proc.returncode == 2 and "cannot read script" in proc.stderr


def wait_for_output(proc, text, timeout=30):
    seen = ""
    deadline = time.monotonic() + timeout
    while text not in seen:
        assert time.monotonic() < deadline, "no %r in output: %r" % (text, seen)
        line = proc.stdout.readline()
        assert line, "exited early: %r" % seen
        seen += line
    return seen


def board_at_friendly_prompt(device):
    import serial
    with serial.Serial(device, 115200, timeout=2) as port:
        port.reset_input_buffer()
        port.write(b"\r\n")
        got = b""
        deadline = time.monotonic() + 5
        while b">>> " not in got and time.monotonic() < deadline:
            got += port.read(64)
        return b">>> " in got


@pytest.mark.parametrize("with_script", [False, True], ids=["watching", "running"])
def test_ctrl_c_leaves_the_board_as_it_was(board, script, with_script):
    args = [sys.executable, "-m", "heaptrack_host.cli", "watch", "--port", board.device, "--interval", "0.05"]
    if with_script:
        args += ["--run", str(script(FOREVER))]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    try:
        wait_for_output(proc, "sample 3 at")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped;" in err and "back at its REPL" in err
    assert board_at_friendly_prompt(board.device)
    left = board.mpremote("resume", "exec",
                          "import heaptrack\n"
                          "print('_heaptrack_host_exec' in globals(), '_heaptrack_host_run' in globals())\n"
                          "print([t.name for t in heaptrack.task_stats() if t.alive])").stdout
    assert left.splitlines()[0] == "False False"
    assert "cli_forever" not in left and "ht_sampler" not in left


# Starts four tasks that print without a pause, from 300 ms on: after the
# exec that starts them has written its end.
PRINTERS = """\
import _thread, time
def printer():
    time.sleep_ms(300)
    while True:
        print('a task that prints all the time')
for i in range(4):
    _thread.start_new_thread(printer, ())
"""

# Soft-resets a board again and again while tasks print, through the host
# tools' connection; then prints what a last command printed.
SOFT_RESETS_WHILE_TASKS_PRINT = """\
import sys, time
from heaptrack_host.connection import Connection
with Connection(sys.argv[1]) as board:
    for i in range(int(sys.argv[3])):
        board.exec(sys.argv[2])
        time.sleep(0.4)
        board.soft_reset()
    print(repr(board.exec("print('quiet')")))
"""


def test_soft_reset_gets_through_tasks_that_print_all_the_time(board):
    # `watch --run` soft-resets the board before and after a script, to end
    # the tasks it started, which may print. The raw REPL writes its banner and
    # its prompt in two writes; with mpremote's way in (the two as one string,
    # a timeout that counts only silence), a task's line between them kept the
    # host tools waiting for ever: about one soft reset in 25 with these tasks.
    proc = subprocess.run([sys.executable, "-c", SOFT_RESETS_WHILE_TASKS_PRINT, board.device, PRINTERS, "25"],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    ok(proc)
    assert proc.stdout == repr("quiet\r\n") + "\n"


def test_vboard_subcommand_serves_a_board(tmp_path, virtual_only, request):
    firmware = request.config.getoption("--firmware")
    proc = subprocess.Popen([sys.executable, "-m", "heaptrack_host.cli", "vboard", "--firmware", firmware,
                             "--flash", str(tmp_path / "flash")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    try:
        device = proc.stdout.readline().strip()
        assert device.startswith("/dev/")
        out = ok(heaptrack("watch", "--port", device, "--once")).stdout
        assert "sample 1 of 1" in out
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert proc.returncode == 0


def test_vboard_option_starts_a_private_board(virtual_only, request, tmp_path):
    out = tmp_path / "v.jsonl"
    proc = ok(heaptrack("record", "--vboard", "--firmware", request.config.getoption("--firmware"),
                        "-o", out, "--samples", 2, "--interval", 0.05))
    header, samples, _ = read_recording(out)
    assert header["virtual"] is True and len(samples) == 2
    assert "recorded 2 samples" in proc.stderr


# ---------------------------------------------------------------------------
# parse: real captures


def test_parse_timestamped_captures():
    text = EXAMPLE.read_text(encoding="utf-8")
    plain = json.loads(ok(heaptrack("parse", input=text)).stdout)
    prefixes = ["2025-01-31 12:00:00.123 ",          # idf.py monitor --timestamps
                "2025-01-31T12:00:00.1234567Z ",     # CI logs
                "Jan 31 12:00:00 ",                   # ts(1)
                "[12:00:00.123] ",                    # terminal programs
                "[   12.345678] "]                    # uptime
    for prefix in prefixes:
        stamped = "".join(prefix + line for line in text.splitlines(keepends=True))
        assert json.loads(ok(heaptrack("parse", input=stamped)).stdout) == plain, prefix


def test_parse_non_ascii_task_names_from_the_board(board):
    # The firmware pads %18s by bytes, as ESP-IDF does: "tâche_ü" is 9 bytes in 7 characters.
    out = board.exec("import heaptrack, time\n"
                     "def work(done):\n    p = heaptrack.malloc(64)\n    done.append(p)\n    time.sleep_ms(200)\n"
                     "    heaptrack.free(p)\n"
                     "done = []\nh = heaptrack.start_task('t\\u00e2che_\\u00fc', work, (done,))\n"
                     "while not done:\n    time.sleep_ms(5)\n"
                     "heaptrack.print_overview(h)\nheaptrack.print_details(h)\ntime.sleep_ms(300)\n")
    proc = ok(heaptrack("parse", input=out))
    parsed = json.loads(proc.stdout)
    names = [row["name"] for item in parsed["items"] if item["type"] == "overview" for row in item["rows"]]
    assert names == ["tâche_ü"]
    assert report.render_overview(report.parse(out).overviews[0].rows) in out.replace("\r\n", "\n")


@pytest.mark.parametrize("garbage", [
    "│ " + " │ " * 120000 + "x",
    "│ " + "a │ DELETED │ " * 50000,
    "├ ALIVE: " + ", CURRENT MEMORY USAGE 1" * 30000,
    "│    └ HEAP: " + ", CAPS: 0x1" * 60000,
    " " * 720000 + "└ HEAP",
    "{" + "\"type\": \"begin\", " * 40000,
])
def test_parse_is_linear_on_garbage_lines(garbage):
    from heaptrack_host import report as rep
    started = time.monotonic()
    try:
        rep.parse("log line\n" + garbage[:720000] + "\nmore\n")
    except rep.ReportError:
        pass
    assert time.monotonic() - started < 2


# ---------------------------------------------------------------------------
# recordings that were cut short or are broken; boards that go away


def test_plot_uses_a_recording_whose_last_line_was_cut(tmp_path):
    rec = tmp_path / "cut.jsonl"
    synthetic_recording(rec, leak=True)
    text = rec.read_text()
    rec.write_text(text + text.splitlines()[-1][:40])  # the recorder was killed mid-write
    proc = ok(heaptrack("plot", rec, "-o", tmp_path / "cut.png"))
    assert "line 22: cut short" in proc.stderr and "warning" in proc.stderr
    assert "leaks: grower" in proc.stdout


@pytest.mark.parametrize("line, message", [
    ('{"type": "sample", "t": 0, "tasks": {"a": {"current": "x", "peak": 1, "alive": true}}}', "task 'a': 'current'"),
    ('{"type": "sample", "t": 0, "tasks": {"a": {"peak": 1, "alive": true}}}', "task 'a' lacks 'current'"),
    ('{"type": "sample", "t": 0, "tasks": {"a": 5}}', "task 'a' is not a JSON object"),
    ('{"type": "sample", "t": 0, "tasks": {}, "regions": [{"name": "RAM"}]}', "region lacks 'caps'"),
    ('[1, 2]', "not a JSON object"),
    ('{"type": "sample", "t": 0, "tasks": {}, "gc_types": {"str": 1}}', '"gc_types" is not a list'),
    ('{"type": "sample", "t": 0, "tasks": {}, "gc_types": [{"name": "str", "count": 1}]}', "gc type lacks 'size'"),
])
def test_plot_structurally_bad_records_are_one_line(tmp_path, line, message):
    rec = tmp_path / "bad.jsonl"
    rec.write_text('{"type": "record", "version": 1}\n' + line + "\n")
    proc = heaptrack("plot", rec)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("mpheaptrack: error: %s, line 2: " % rec) and message in proc.stderr


def start_vboard_process(request, flash):
    proc = subprocess.Popen([sys.executable, "-m", "heaptrack_host.vboard", "--firmware",
                             request.config.getoption("--firmware"), "--flash", str(flash)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    device = proc.stdout.readline().strip()
    assert device.startswith("/dev/")
    return proc, device


LONG_SCRIPT = "import time\nfor i in range(200):\n    print('tick', i)\n    time.sleep_ms(50)\n"


@pytest.mark.parametrize("command", ["record", "watch"])
def test_board_killed_during_run_is_one_line_and_exit_2(command, tmp_path, script, virtual_only, request):
    proc, device = start_vboard_process(request, tmp_path / "flash")
    out = tmp_path / "lost.jsonl"
    args = ["--port", device, "--run", script(LONG_SCRIPT), "--interval", 0.1]
    args += ["-o", out] if command == "record" else ["--samples", 1000]
    tool = subprocess.Popen([sys.executable, "-m", "heaptrack_host.cli", command] + [str(a) for a in args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="120"))
    try:
        wait_for_output(tool, "tick 5")
        proc.kill()  # the board disappears (a USB board unplugged)
        _, err = tool.communicate(timeout=60)
    finally:
        for p in (proc, tool):
            if p.poll() is None:
                p.kill()
    assert tool.returncode == 2, err
    errors = [line for line in err.splitlines() if "error" in line]
    assert len(errors) == 1 and errors[0].startswith("mpheaptrack: error: the board on %s went away" % device)
    assert "Traceback" not in err
    if command == "record":
        end = json.loads(out.read_text().splitlines()[-1])
        assert end["type"] == "end" and end["script_error"] is None and "went away" in end["board_lost"]


@pytest.mark.parametrize("command", ["record", "watch"])
@pytest.mark.parametrize("how", ["killed", "frozen"])
def test_firmware_gone_without_a_script_is_marked_lost(command, how, vboard_factory, tmp_path):
    # Without --run, each sample is its own exchange: a firmware killed between two
    # (the virtual board restarts it) or frozen never answers the next, and the
    # recording says the board was lost instead of ending as a complete run.
    b = vboard_factory(expect_crashes=True)
    out = tmp_path / "lost.jsonl"
    args = ["--port", b.device, "--interval", 0.1]
    args += ["-o", out, "--samples", 100000] if command == "record" else ["--samples", 100000]
    tool = subprocess.Popen([sys.executable, "-m", "heaptrack_host.cli", command] + [str(a) for a in args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="120"))
    try:
        if command == "watch":
            wait_for_output(tool, "sample 3")
        else:
            wait_until(lambda: out.exists() and len(out.read_text().splitlines()) >= 4)
        pid = b.vboard.firmware_pid
        os.kill(pid, signal.SIGKILL if how == "killed" else signal.SIGSTOP)
        _, err = tool.communicate(timeout=120)
        if how == "frozen":
            os.kill(pid, signal.SIGKILL)
    finally:
        if tool.poll() is None:
            tool.kill()
    assert tool.returncode == 2, err
    errors = [line for line in err.splitlines() if "error" in line]
    assert len(errors) == 1 and errors[0].startswith("mpheaptrack: error: the board on %s " % b.device), err
    if command == "record":
        assert errors[0].endswith("; the recording in %s ends there, marked so" % out)
        end = json.loads(out.read_text().splitlines()[-1])
        assert end["type"] == "end" and end["board_lost"], end
        plotted = heaptrack("plot", out, "-o", tmp_path / "lost.png")
        assert "warning: %s: the board on %s" % (out, b.device) in plotted.stderr


def wait_until(condition, timeout=60):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("header, line, message", [
    ('{"type": "record", "version": 1, "script": 5}', None, "header: 'script' is 5, not text"),
    ('{"type": "record", "version": 1, "interval": "fast"}', None, "header: 'interval' is 'fast', not a number"),
    ('{"type": "record", "version": 1}', '{"type": "sample", "t": NaN, "tasks": {}}', "NaN is not a JSON number"),
    ('{"type": "record", "version": 1}', '{"type": "sample", "t": Infinity, "tasks": {}}', "Infinity is not a JSON number"),
    ('{"type": "record", "version": 1}', '{"type": "sample", "t": 1e400, "tasks": {}}', 'finite number "t"'),
    ('{"type": "record", "version": 1}', '{"type": "sample", "t": 0, "tasks": {"a": {"current": %d, "peak": 1, '
     '"alive": true}}}' % 10 ** 400, "task 'a': 'current' is"),
])
def test_plot_well_formed_json_with_bad_values_is_one_line(tmp_path, header, line, message):
    rec = tmp_path / "bad.jsonl"
    rec.write_text(header + "\n" + (line or '{"type": "sample", "t": 0, "tasks": {}}') + "\n")
    proc = heaptrack("plot", rec)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("mpheaptrack: error: %s, line %d: " % (rec, 1 if line is None else 2))
    assert message in proc.stderr, proc.stderr


def test_port_shortcuts():
    from heaptrack_host.connection import resolve_port
    assert resolve_port("a0") == "/dev/ttyACM0" and resolve_port("u12") == "/dev/ttyUSB12"
    assert resolve_port("c3") == "COM3" and resolve_port("port:/dev/x") == "/dev/x"
    proc = heaptrack("watch", "--port", "a9", "--once")
    assert proc.returncode == 2 and "cannot open /dev/ttyACM9" in proc.stderr


def test_the_command_is_not_kdes_heaptrack():
    from importlib.metadata import entry_points
    eps = entry_points()
    scripts = eps.select(group="console_scripts") if hasattr(eps, "select") else eps.get("console_scripts", [])
    ours = {ep.name for ep in scripts if ep.value.startswith("heaptrack_host.")}
    assert ours == {"mpheaptrack"}
    version = ok(heaptrack("--version")).stdout
    from heaptrack_host import __version__
    assert __version__ in version


# ---------------------------------------------------------------------------
# one verdict; installing into another project


def test_watch_record_and_plot_give_one_verdict_for_the_demo(board, demo_on_board, script, tmp_path):
    # The case: watch at a slow interval said HELD where record said LEAK.
    run = script("import leak_demo\nleak_demo.main(period_s=0.05, rounds=4)\n")
    watched = ok(heaptrack("watch", "--port", board.device, "--run", run, "--interval", 0.5, "--samples", 6))
    last = {line.split()[0]: line.split()[1] for line in watched.stdout.split("sample 6 of 6")[-1].splitlines()
            if line.split()[:1] in (["leaking_task"], ["no_leak_task"])}
    assert last == {"leaking_task": "LEAK", "no_leak_task": "ok"}, watched.stdout
    assert "leaking_task: deleted while holding" in watched.stdout
    out = tmp_path / "demo.jsonl"
    recorded = ok(heaptrack("record", "--port", board.device, "--out", out, "--interval", 0.02, "--run", run))
    plotted = ok(heaptrack("plot", out, "-o", tmp_path / "demo.png"))
    # The watch's run left its leaking_task deleted, holding memory: a task of its own
    # (HELD, died before this recording), apart from this run's (leaking_task#2).
    for text in (recorded.stderr, plotted.stdout):
        assert "leaks: leaking_task#2 (deleted while holding" in text and "no_leak_task" not in text
        assert "held by dead tasks: leaking_task (died before watching, still holds " in text


def test_a_wheel_of_a_built_checkout_carries_the_firmware(tmp_path, virtual_only, request):
    import zipfile
    if not (REPO / "build" / "host" / "micropython").exists():
        pytest.skip("the checkout's firmware is not built")
    # What the wheel bundles is build/host's firmware; the suite run on another
    # (make test runs the hooks tracker's at the same time) need not build it again.
    if Path(request.config.getoption("--firmware")).resolve() != (REPO / "build" / "host" / "micropython").resolve():
        pytest.skip("the wheel carries build/host's firmware, not this session's")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v",
                           "-w", str(tmp_path), str(REPO)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    # Not a line of setuptools' deprecations (license, stubs as data): only its notes
    # that this build skips byte-compiling.
    warned = [line for line in (proc.stdout + proc.stderr).splitlines()
              if "warn" in line.lower() and "byte-compiling is disabled" not in line]
    assert warned == [], "\n".join(warned)
    (wheel,) = tmp_path.glob("heaptrack_host-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "heaptrack_host/firmware/micropython" in names
    assert "heaptrack-stubs/__init__.pyi" in names   # PEP 561: type checkers find it unconfigured
    assert "heaptrack_host/vboard/board.py" in names and "heaptrack_host/verdict.py" in names
    entry_points = [n for n in names if n.endswith("entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry_points[0]).decode()
    assert "mpheaptrack = heaptrack_host.cli:main" in text and "\nheaptrack =" not in text.split("[pytest11]")[0]


# ---------------------------------------------------------------------------
# A board that has run for hours: dead tasks holding memory, tasks of the same
# name from earlier runs, peaks from before the observation.

# A task that leaks 12 KiB and ends (deleted, still holding it).
LEAKS_AND_ENDS = """\
import heaptrack, time

def work(done):
    for i in range(3):
        heaptrack.malloc(4096)
        time.sleep_ms(30)
    done.append(1)

done = []
h = heaptrack.start_task("runs_leaker", work, (done,))
while not done:
    time.sleep_ms(5)
while heaptrack.task_stats(h).alive:   # its end, which the verdict needs to see
    time.sleep_ms(5)
print("leaked and ended")
"""


def test_a_dead_task_holding_memory_is_held_everywhere(vboard_factory, script, tmp_path):
    # A script leaves a deleted task holding blocks; then watch, record and plot
    # attach. None says "ok" or "no leak" for it: HELD, died before watching.
    b = vboard_factory()
    b.run(script(LEAKS_AND_ENDS))
    watched = ok(heaptrack("watch", "--port", b.device, "--once"))
    row = [line.split() for line in watched.stdout.splitlines() if line.split()[:1] == ["runs_leaker"]]
    assert row and row[0][1:3] == ["HELD", "DELETED"], watched.stdout
    assert "runs_leaker: died before watching, still holds 12." in watched.stdout
    out = tmp_path / "held.jsonl"
    recorded = ok(heaptrack("record", "--port", b.device, "-n", 3, "--interval", 0.05, "-o", out))
    last = recorded.stderr.strip().splitlines()[-1]
    assert last.startswith("mpheaptrack: changes since the first sample: no leak; held by dead tasks: "
                           "runs_leaker (died before watching, still holds 12."), recorded.stderr
    plotted = ok(heaptrack("plot", out, "-o", tmp_path / "held.png", "--html", tmp_path / "held.html"))
    assert "no leak; held by dead tasks: runs_leaker (died before watching" in plotted.stdout
    assert "<td>runs_leaker</td><td>HELD</td>" in (tmp_path / "held.html").read_text()


def test_a_leaking_script_run_three_times_reports_the_same_leak(vboard_factory, script, tmp_path):
    # A soft reset keeps ESP-IDF's records: each run's task is a task of its own
    # (runs_leaker, runs_leaker#2, ...), its leak its own, never summed with the
    # earlier ones', and the peak shown one that task had.
    b = vboard_factory()
    run = script(LEAKS_AND_ENDS)
    reported = []
    for i in range(3):
        out = tmp_path / ("run%d.jsonl" % i)
        recorded = ok(heaptrack("record", "--port", b.device, "--run", run, "--interval", 0.02, "-o", out))
        line = recorded.stderr.strip().splitlines()[-1]
        this = "runs_leaker" if i == 0 else "runs_leaker#%d" % (i + 1)
        leak = line.split("leaks: %s (deleted while holding " % this, 1)[1].split(";")[0].split(")")[0]
        reported.append(leak)
        held = line.split("held by dead tasks: ", 1)[1] if i else ""
        assert held.count("died before watching, still holds %s" % leak) == i, line
        samples = [json.loads(x) for x in out.read_text().splitlines()[1:-1]]
        peaks = [s["tasks"][this]["peak"] for s in samples if this in s["tasks"]]
        assert max(peaks) < 13000, peaks   # one task's 3 blocks, not the runs' sum
    # 3 blocks of 4096 bytes, as TLSF sizes them (README: block sizes), each time.
    assert reported[0] == reported[1] == reported[2] and reported[0].startswith("12."), reported


def test_watch_says_changes_are_since_its_first_sample(board):
    board.exec("import heaptrack\nheaptrack.malloc(900)")
    try:
        out = ok(heaptrack("watch", "--port", board.device, "--samples", 2, "--interval", 0.05)).stdout
    finally:
        board.exec("import heaptrack\nheaptrack.free_all()")
    assert "changes and peaks since sample 1" in out
    mp_task = [line.split() for line in out.splitlines() if line.split()[:1] == ["mp_task"]]
    # mp_task held its 900 bytes before watching began: no change while watched,
    # and its peak is what it held while watched, not ESP-IDF's peak since boot.
    assert mp_task[-1][5:7] == ["0", "B"] and int(mp_task[-1][4]) == int(mp_task[-1][3])


@pytest.mark.parametrize("command", ["record", "watch"])
def test_hard_reset_starts_from_zero(command, vboard_factory, script, tmp_path):
    b = vboard_factory()
    b.run(script(LEAKS_AND_ENDS))
    args = ["--port", b.device, "--hard-reset", "--interval", 0.05]
    out = tmp_path / "zero.jsonl"
    proc = ok(heaptrack(command, *(args + (["-o", out, "-n", 2] if command == "record" else ["--samples", 2]))))
    assert "runs_leaker" not in proc.stdout + proc.stderr
    assert b.vboard.hard_resets == 1
    if command == "record":
        assert json.loads(out.read_text().splitlines()[0])["hard_reset"] is True
        assert "changes since the first sample (from a hard reset): no leak" in proc.stderr
    else:
        assert "changes and peaks since sample 1 (from a hard reset)" in proc.stdout


# Two allocations no heap can give, the first reported by MicroPython's side as a
# printed MemoryError; the script then ends on the second.
FAILING = """\
import heaptrack
try:
    heaptrack.malloc(48 << 20)
except MemoryError as e:
    print("MemoryError:", e)
heaptrack.malloc(40 << 20)
"""


def test_record_marks_failed_allocations_and_the_scripts_errors_and_plot_shows_them(board, script, tmp_path):
    out = tmp_path / "failing.jsonl"
    proc = heaptrack("record", "--port", board.device, "-o", out, "--interval", 0.05, "--run", script(FAILING))
    assert proc.returncode == 1, proc.stderr   # the script ended on its MemoryError
    # Each failure is said the moment a sample brings it, with the firmware's sentence.
    said = [line for line in proc.stderr.splitlines() if "allocation failed" in line]
    assert len(said) == 2, proc.stderr
    assert "50,331,648 B of" in said[0] and "exhausted" in said[0]
    assert "41,943,040 B of" in said[1]
    assert "2 ESP-IDF heap allocations failed while recording" in proc.stderr

    lines = [json.loads(line) for line in out.read_text().splitlines()]
    samples = [line for line in lines if line["type"] == "sample"]
    new = [f for s in samples for f in s["failures"]["new"]]
    assert [f["size"] for f in new] == [48 << 20, 40 << 20]
    assert new[0]["task_name"] == "mp_task" and new[0]["kind"] == "exhausted"
    assert new[1]["number"] == new[0]["number"] + 1
    assert samples[-1]["failures"]["total"] >= new[1]["number"]
    # Failures from before the recording are counted, not listed as new.
    assert samples[0]["failures"]["new"] == [] or samples[0]["failures"]["new"][0]["size"] == 48 << 20
    errors = [line for line in lines if line["type"] == "python_error"]
    assert [e["text"].split(":")[0] for e in errors] == ["MemoryError", "MemoryError"]
    assert errors[0]["t"] <= errors[1]["t"]

    png = tmp_path / "failing.png"
    proc = ok(heaptrack("plot", out, "-o", png))
    assert "2 failed allocations marked" in proc.stdout
    assert share_of_color(read_png(png), plot.FAILURE_COLOR) > 0.0005   # the lines across both plots

    # A recording with nothing failed marks nothing.
    calm = tmp_path / "calm.jsonl"
    ok(heaptrack("record", "--port", board.device, "-o", calm, "--interval", 0.05, "--run", script("pass\n", "calm.py")))
    calm_lines = [json.loads(line) for line in calm.read_text().splitlines()]
    assert all(s["failures"]["new"] == [] for s in calm_lines if s["type"] == "sample")
    assert not any(line["type"] == "python_error" for line in calm_lines)


def test_watch_prints_a_failed_allocation_as_it_happens(board, script):
    proc = heaptrack("watch", "--port", board.device, "--run", script(FAILING), "--interval", 0.05, "--samples", 40)
    assert proc.returncode == 1, proc.stderr
    said = [line for line in proc.stdout.splitlines() if line.startswith("mpheaptrack: allocation failed")]
    assert len(said) == 2 and "50,331,648 B" in said[0] and "41,943,040 B" in said[1], proc.stdout
    # The view under the table keeps the count and the newest.
    assert "while watched; the newest: #" in proc.stdout


def test_only_the_transport_imports_mpremote():
    # The host tools' mpremote is one module's business (the versions pinned are
    # what it was tested with); everything else goes through it.
    users = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "heaptrack_host").rglob("*.py")
                   if re.search(r"^\s*(from|import)\s+mpremote\b", p.read_text(encoding="utf-8"), re.M))
    assert users == ["heaptrack_host/transport.py"]
