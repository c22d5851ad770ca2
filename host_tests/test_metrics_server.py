"""examples/metrics_server.py: the board's own /metrics, on the virtual board's host sockets.

The server runs in its task on a virtual board; the test is its client, as
Prometheus would be, and reads its answers with prometheus_client's parser.
"""
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from heaptrack_host.connection import Connection

from test_exporter import free_port, wait_until

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def served(vboard_factory):
    """(board, Connection to it, port): a virtual board serving /metrics from its task."""
    board = vboard_factory()
    board.put(REPO / "examples" / "metrics_server.py", "metrics_server.py")
    port = free_port()
    with Connection(board.device) as conn:
        conn.exec("import metrics_server\nmetrics_server.start(%d, '127.0.0.1')" % port)
        wait_until("the server to listen", lambda: answers(port))
        yield board, conn, port


def answers(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def raw(port, request, timeout=15):
    """Sends request bytes; what the server answered before it closed (or reset the
    connection: closing with part of a request unread does that)."""
    chunks = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(request)
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    return b"".join(chunks)


def get(port, path="/metrics"):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=15) as r:
            return r.status, r.headers["Content-Type"], r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read().decode("utf-8")


def series(text):
    return [(s.name, sorted(s.labels.items())) for f in text_string_to_metric_families(text) for s in f.samples]


def test_serves_the_boards_metrics(served):
    board, conn, port = served
    status, content_type, text = get(port)
    assert status == 200 and content_type == "text/plain; version=0.0.4; charset=utf-8"
    # The same series as heaptrack.metrics() on the board.
    assert series(text) == series(conn.metrics())
    assert get(port, "/metrics?x=1")[0] == 200


@pytest.mark.parametrize("request_bytes, status", [
    (b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n", b"404"),
    (b"POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n", b"405"),
    (b"garbage\r\n\r\n", b"400"),
    # Too long: answered 400, though the client may see only the reset of the
    # connection closed with the rest of its request unread.
    (b"GET /metrics HTTP/1.1\r\nX: " + b"y" * 3000 + b"\r\n\r\n", None),
])
def test_bad_requests_get_an_error_and_the_server_goes_on(served, request_bytes, status):
    board, conn, port = served
    answer = raw(port, request_bytes)
    if status is None:
        assert answer in (b"",) or answer.startswith(b"HTTP/1.1 400 "), answer[:100]
    else:
        assert answer.startswith(b"HTTP/1.1 " + status + b" "), answer[:100]
    assert get(port)[0] == 200


def test_a_client_that_stalls_holds_up_no_other(served):
    board, conn, port = served
    with socket.create_connection(("127.0.0.1", port), timeout=15) as stalled:
        stalled.sendall(b"GET /metrics HTTP/1.1\r\n")  # and never the blank line
        assert get(port)[0] == 200


def scrape_heap(conn, port, scrapes):
    """MicroPython heap the board allocated while the host scraped `scrapes` times (GC off)."""
    conn.exec("import gc\ngc.collect()\ngc.disable()\n_before = gc.mem_alloc()")
    for _ in range(scrapes):
        assert get(port)[0] == 200
    used = int(conn.exec("print(gc.mem_alloc() - _before)\ngc.enable()\ndel _before").strip())
    return used


def test_a_scrape_allocates_the_same_for_fifty_tasks_as_for_three(served):
    # The text goes to the socket straight from the statistics: what a scrape
    # allocates does not grow with the tasks (a str of the text would: ~250 bytes a task).
    board, conn, port = served
    idle = scrape_heap(conn, port, 0)
    few = scrape_heap(conn, port, 1) - idle
    conn.exec("""
import heaptrack, time
_stop = []
def _hold():
    b = heaptrack.malloc(32)
    while not _stop:
        time.sleep_ms(20)
    heaptrack.free(b)
for i in range(50):
    heaptrack.start_task('held%02d' % i, _hold, stack_size=2048)
while len([t for t in heaptrack.task_stats() if t.name.startswith('held')]) < 50:
    time.sleep_ms(10)
""")
    many = scrape_heap(conn, port, 1) - idle
    assert len([1 for name, labels in series(get(port)[2])
                if name == "heaptrack_task_current_bytes" and ("task", "held07") in labels]) == 1
    conn.exec("_stop.append(1)")
    assert few < 2048 and many < 2048, (few, many)
    assert abs(many - few) < 256, (few, many)
