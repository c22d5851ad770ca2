"""`mpheaptrack exporter`: Prometheus's /metrics for boards on serial ports, and the
exposition model it merges them with (heaptrack_host.exposition).

Its answers are read with prometheus_client's parser. The exporter runs as the
command a user runs, against virtual boards.
"""
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from heaptrack_host import exposition

from board_code import run
from test_cli import heaptrack


def wait_until(what, condition, timeout=60, every=0.1):
    """condition()'s first true value, polled until the deadline; fails naming what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail("timed out after %d s waiting for %s" % (timeout, what), pytrace=False)
        time.sleep(every)


def free_port():
    """A TCP port on the loopback interface that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_exporter(log, *ports):
    """`mpheaptrack exporter --port P ... --listen 127.0.0.1:0`: (process, host:port), once it serves."""
    args = [a for p in ports for a in ("--port", p)]
    proc = subprocess.Popen([sys.executable, "-m", "heaptrack_host", "exporter"] + args + ["--listen", "127.0.0.1:0"],
                            stdout=subprocess.DEVNULL, stderr=log.open("w"))

    def serving():
        assert proc.poll() is None, "the exporter exited: " + log.read_text()
        return re.search(r"serving http://(127\.0\.0\.1:\d+)/metrics", log.read_text())

    return proc, wait_until("the exporter to serve", serving, timeout=60).group(1)


def stop(proc):
    proc.terminate()
    proc.wait(timeout=30)


def get(address, path="/metrics"):
    """(status, body) of a GET."""
    try:
        with urllib.request.urlopen("http://%s%s" % (address, path), timeout=30) as r:
            return r.status, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8")


def samples_of(text):
    """{sample name: [(labels, value)]}, read by prometheus_client."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def families_once(text):
    names = re.findall(r"^# TYPE (\S+) ", text, re.M)
    assert len(names) == len(set(names)), "a family twice"
    return names


# ---------------------------------------------------------------------------
# the model


def test_labelled_and_merged_text_reads_back(board):
    text = run(board, "print(repr(heaptrack.metrics()))")
    one = exposition.parse(text)
    assert str(one) == text
    awkward = 'rack "1" \\ two\nlines'
    merged = str(exposition.merge([exposition.labelled(one, "board", awkward),
                                   exposition.labelled(one, "board", "rack2")]))
    families_once(merged)
    original = samples_of(text)
    both = samples_of(merged)
    assert list(both) == list(original)
    for name, samples in original.items():
        for board_label in (awkward, "rack2"):
            assert [(dict(labels, board=board_label), v) for labels, v in samples] == [
                (labels, v) for labels, v in both[name] if labels["board"] == board_label]


@pytest.mark.parametrize("text, message", [
    ("heaptrack_x 1\nnot a sample\n", "line 2: not a sample"),
    ("heaptrack_x 1\nheaptrack_y 2\nheaptrack_x 3\n", "line 3: sample of heaptrack_x apart"),
    ("# TYPE heaptrack_x gauge\nheaptrack_x 1\n# HELP heaptrack_x late\n", "line 3: HELP for heaptrack_x after"),
    ("# TYPE heaptrack_x flavour\n", "line 1: unknown metric type"),
    ('heaptrack_x{a="unterminated} 1\n', "line 1: not a sample"),
])
def test_what_is_not_the_format_is_refused(text, message):
    with pytest.raises(exposition.ExpositionError, match=message):
        exposition.parse(text)


# ---------------------------------------------------------------------------
# the command


def test_exporter_serves_every_board_labelled_and_says_which_answer(vboard_factory, tmp_path):
    first, second = vboard_factory(), vboard_factory()
    log = tmp_path / "exporter.log"
    proc, address = start_exporter(log, "rack1=" + first.device, second.device)
    try:
        status, text = get(address)
        assert status == 200
        families_once(text)
        samples = samples_of(text)
        assert {labels["board"] for labels, v in samples["heaptrack_task_current_bytes"]
                if labels["task"] == "mp_task"} == {"rack1", second.device}
        assert dict((labels["board"], v) for labels, v in samples["heaptrack_board_up"]) == {
            "rack1": 1, second.device: 1}
        assert get(address, "/")[0] == 200 and get(address, "/nothing")[0] == 404

        # A board that goes away is down, the other is still read, the exporter goes on.
        second.vboard.stop()
        status, text = get(address)
        samples = samples_of(text)
        assert status == 200
        assert dict((labels["board"], v) for labels, v in samples["heaptrack_board_up"]) == {
            "rack1": 1, second.device: 0}
        assert {labels["board"] for labels, v in samples["heaptrack_task_current_bytes"]} == {"rack1"}
        assert "%s: the board on %s went away" % (second.device, second.device) in log.read_text()
    finally:
        stop(proc)
    # Stopped, it left the board at its REPL: nothing of ours defined there (no soft reset to hide it).
    assert first.mpremote("resume", "exec", "print('_heaptrack_host_exec' in dir())").stdout.strip() == "False"


def test_exporter_reads_a_board_whose_tasks_print(vboard_factory, tmp_path):
    # A task prints without a pause, also while the board writes its metrics (a
    # long write gives the interpreter lock up part way): each read still gets
    # exactly the board's text, and the board's set-up answer too.
    chatty = vboard_factory()
    with_task = """
import heaptrack, time
def chatter():
    n = 0
    while True:
        print('chatter line', n)
        n += 1
heaptrack.start_task('chatter', chatter)
"""
    from heaptrack_host.connection import Connection
    with Connection(chatty.device) as conn:
        conn.exec(with_task)
    proc, address = start_exporter(tmp_path / "exporter.log", "chatty=" + chatty.device)
    try:
        for _ in range(10):
            status, text = get(address)
            samples = samples_of(text)
            assert samples["heaptrack_board_up"] == [({"board": "chatty"}, 1)], (tmp_path / "exporter.log").read_text()
            assert "chatter" not in text.replace('task="chatter"', "")
    finally:
        stop(proc)


@pytest.mark.parametrize("args, message", [
    (["--port", "/dev/heaptrack-no-such-port"],
     "mpheaptrack: error: cannot open /dev/heaptrack-no-such-port: no such device, or it is busy or not accessible\n"),
    (["--port", "a=/dev/x", "--port", "a=/dev/y"],
     "mpheaptrack: error: two boards with the same label: give each --port a NAME=PORT\n"),
    ([], "mpheaptrack: error: exporter needs --port for each board (or $HEAPTRACK_PORT)\n"),
])
def test_exporter_errors_are_one_line_exit_2(args, message):
    proc = heaptrack("exporter", "--listen", "127.0.0.1:0", *args, timeout=60)
    assert (proc.returncode, proc.stderr, proc.stdout) == (2, message, "")


@pytest.mark.parametrize("args", [["--listen", "here"], ["--listen", ":99999"], ["--max-deleted", "65"],
                                  ["--port", "=x"]])
def test_exporter_bad_options_exit_2(args):
    proc = heaptrack("exporter", "--port", "/dev/x", *args, timeout=60)
    assert proc.returncode == 2 and "error: argument" in proc.stderr
