"""examples/gc_leak.py, README's worked example of a leak inside MicroPython's GC
heap: run through mpremote it names the leaking type, its growth per round and
the chain of holders from the module global that keeps it; its evicting variant
reports no growth; `mpheaptrack gc` finds the same from the host."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "gc_leak.py"

# Four rounds of eight readings, each a Reading and its raw bytes, kept under a new str key.
LEAK_LINE = re.compile(r"GC LEAK: __main__\.Reading grew (\d+) bytes over 4 rounds \(\+(\d+), \+\2, \+\2, \+\2 bytes "
                       r"per round; \+8, \+8, \+8, \+8 objects per round\); (\d+) objects")
CHAIN = re.compile(r"held by: __main__\.cache -> ReadingCache instance \.entries -> dict\['t\d/\d+'\] -> "
                   r"Reading instance \(\d+ B\)")


def test_the_example_names_the_leaking_type_its_growth_and_who_holds_it(board):
    out = board.run(EXAMPLE, timeout=120)
    m = LEAK_LINE.search(out)
    assert m, out
    assert int(m.group(1)) == 4 * int(m.group(2)) and int(m.group(3)) >= 4 * 8
    assert CHAIN.search(out), out
    assert re.search(r"GC LEAK: bytes grew \d+ bytes over 4 rounds", out), out
    assert re.search(r"held by: __main__\.cache -> ReadingCache instance \.entries -> dict\['t\d/\d+'\] -> "
                     r"Reading instance \.raw -> bytes", out), out
    # The example's own closing look: a sample of the objects of the type that grew.
    assert re.search(r"3 of \d+ __main__\.Reading objects, evenly spread through the heap, are held by:", out), out
    assert "LEAK: mp_task" not in out


def test_the_evicting_variant_reports_no_growth(board, tmp_path):
    source = EXAMPLE.read_text(encoding="utf-8")
    assert "\nEVICT = False\n" in source
    fixed = tmp_path / "gc_leak_fixed.py"
    fixed.write_text(source.replace("\nEVICT = False\n", "\nEVICT = True\n"), encoding="utf-8")
    out = board.run(fixed, timeout=120)
    assert out.strip() == "no task and no Python type grew in every one of 4 rounds", out


def mpheaptrack(*args, timeout=180):
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="160")
    env.pop("HEAPTRACK_PORT", None)
    proc = subprocess.run([sys.executable, "-m", "heaptrack_host.cli"] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, "exit %d\nstdout:\n%s\nstderr:\n%s" % (proc.returncode, proc.stdout, proc.stderr)
    return proc.stdout


def test_mpheaptrack_gc_finds_it_from_the_host(board):
    board.put(EXAMPLE, "gc_leak.py")
    try:
        out = mpheaptrack("gc", "--port", board.device, "--code", "import gc_leak; gc_leak.one_round()",
                          "--runs", "3")
        assert re.search(r"^heaptrack: GC heap growth in .*gc_leak\.Reading.* over 3 runs of <code>", out, re.M), out
        row = re.search(r"^gc_leak\.Reading +(\d+) +(\d+) +\+(\d+) +\+\3 +\+\3 +GREW$", out, re.M)
        assert row, out
        assert re.search(r"^  gc_leak\.cache -> ReadingCache instance \.entries -> dict\['t\d/\d+'\] -> "
                         r"Reading instance \(\d+ B\)$", out, re.M), out
        assert "heaptrack.census" not in out.split("\n\n")[0]
        # A census now, and who holds a type, without running anything.
        out = mpheaptrack("gc", "--port", board.device, "--limit", "5", "--holders", "gc_leak.Reading")
        assert "MicroPython GC heap after a collection:" in out
        assert re.search(r"of \d+ gc_leak\.Reading objects, evenly spread through the heap, are held by:", out), out
    finally:
        board.rm("gc_leak.py")


# The example's service for longer, as a device would run it: its cache grows
# past the GC heap's other types (the first rounds' readings are fewer bytes than
# the modules' code and the interpreter's own objects).
SERVE = "import gc_leak\nfor _ in range(40):\n    gc_leak.one_round()\n"


def _sizes(samples, name):
    return [t["size"] for s in samples for t in s["gc_types"] if t["name"] == name]


def test_record_with_gc_types_shows_the_leaking_type_growing_and_plot_draws_it(board, tmp_path):
    from heaptrack_host import plot
    from test_cli import read_png, share_of_color

    serve = tmp_path / "serve.py"
    serve.write_text(SERVE, encoding="utf-8")
    rec = tmp_path / "gc_leak.jsonl"
    board.put(EXAMPLE, "gc_leak.py")
    try:
        mpheaptrack("record", "--port", board.device, "--gc-types", "5", "--interval", "0.05", "--out", rec,
                    "--run", serve)
    finally:
        board.rm("gc_leak.py")
    lines = [json.loads(line) for line in rec.read_text(encoding="utf-8").splitlines()]
    samples = [s for s in lines if s["type"] == "sample"]
    assert len(samples) >= 2
    for s in samples:
        sizes = [t["size"] for t in s["gc_types"]]
        assert 1 <= len(sizes) <= 5 and sizes == sorted(sizes, reverse=True), s["gc_types"]
    # Among the top five by the end, and more bytes than when it first got there.
    assert "gc_leak.Reading" in [t["name"] for t in samples[-1]["gc_types"]], samples[-1]["gc_types"]
    readings = _sizes(samples, "gc_leak.Reading")
    assert len(readings) >= 2 and readings[-1] > readings[0], readings

    png = tmp_path / "gc_leak.png"
    out = mpheaptrack("plot", rec, "-o", png)
    assert str(png) in out
    pixels = read_png(png)
    assert pixels.shape[:2] == (920, 1100)   # three panels: taller than a plot without types
    # The panel's first colour is the type that grew most's, drawn thick.
    assert share_of_color(pixels, plot.GC_TYPE_COLORS[0]) > 0.0005


def test_watch_with_gc_types_prints_the_top_types_under_its_table(board):
    board.put(EXAMPLE, "gc_leak.py")
    try:
        # The cache stays in the REPL's modules: watch without a script does not reset.
        board.exec(SERVE)
        out = mpheaptrack("watch", "--port", board.device, "--once", "--gc-types", "3")
    finally:
        board.rm("gc_leak.py")
    m = re.search(r"^MicroPython GC heap by type \(no collection first\): (.*)$", out, re.M)
    assert m, out
    parts = m.group(1).split(", ")
    assert len(parts) == 3 and all(re.match(r"\S+ \d+(\.\d)? (B|KiB|MiB)$", p) for p in parts), parts
    assert any(p.startswith("gc_leak.Reading ") for p in parts), parts
    # Without --gc-types, no census and no line.
    assert "GC heap by type" not in mpheaptrack("watch", "--port", board.device, "--once")
