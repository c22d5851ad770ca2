"""Prometheus's /metrics for boards on a serial cable (``mpheaptrack exporter``).

    exporter = Exporter([ExportedBoard("rack1", "/dev/ttyACM0"), ExportedBoard("rack2", "a1")])
    exporter.open()                       # every board, or BoardError naming the one that failed
    server = serve(exporter, ("", 9101))  # an HTTP server; server.serve_forever()

When Prometheus scrapes, every board is read at once through its own
``connection.Connection`` (the raw REPL, as ``watch`` and ``record`` sample):
one exchange calling ``heaptrack.metrics()`` on the board. The answer is every
board's families, each sample with a ``board`` label, each family once
(``exposition.merge``), and two families of the exporter's own:

    heaptrack_board_up{board}              1 when the board's text was read for this scrape, else 0
    heaptrack_board_read_seconds{board}    how long reading it took

A board that fails (unplugged, reset, garbled text) is 0 in heaptrack_board_up
and is opened again at the next scrape; the change is said once on stderr. A
board that does not answer within the scrape's time (Prometheus's
X-Prometheus-Scrape-Timeout-Seconds, at most ``timeout``) is left out of that
scrape; its exchange goes on, and the next scrape waits for it rather than
starting another.

Nothing runs on a board between scrapes. As with ``watch``, reading takes the
REPL: a program in the friendly REPL's foreground is interrupted; background
tasks (``heaptrack.start_task``, ``_thread``) go on and are measured.
"""

from __future__ import annotations

import concurrent.futures
import http.server
import socket
import threading
import time
from typing import Callable, List, Optional, Tuple

from .connection import BoardError, Connection, resolve_port
from .exposition import CONTENT_TYPE, Exposition, Family, escape_label_value, labelled, merge, parse

__all__ = ["ExportedBoard", "Exporter", "serve"]

# Left of the scrape's own timeout for answering Prometheus in time (at most a
# fifth of it, for short ones).
SCRAPE_MARGIN_S = 0.5


class ExportedBoard:
    """One board: its label, its port (as mpremote takes it), its connection while open."""

    def __init__(self, label: str, port: str, *, max_deleted: Optional[int] = None, timeout: float = 10,
                 on_change: Callable[[str], None] = lambda line: None):
        self.label = label
        self.port = port
        self.max_deleted = max_deleted
        self.timeout = timeout
        self.on_change = on_change
        self.error: Optional[str] = None   # why the last read failed; None when it worked
        self.seconds = 0.0                 # how long the last read took
        self._connection: Optional[Connection] = None
        self._lock = threading.Lock()      # one exchange at a time on the wire
        self._pending: Optional[concurrent.futures.Future] = None
        self._pending_lock = threading.Lock()  # scrapes come in threads of their own

    def __str__(self) -> str:
        return "%s (%s)" % (self.label, self.port) if self.label != self.port else self.port

    def open(self) -> None:
        """Opens the connection now (BoardError if the board cannot be used)."""
        with self._lock:
            self._connect()

    def _connect(self) -> Connection:
        if self._connection is None:
            self._connection = Connection(resolve_port(self.port), connect_timeout=self.timeout)
        return self._connection

    def read(self) -> Optional[Exposition]:
        """The board's families, labelled; None when it failed (self.error says why)."""
        with self._lock:
            started = time.monotonic()
            try:
                text = self._connect().metrics(self.max_deleted, timeout=self.timeout)
                families = labelled(parse(text), "board", self.label)
            except BoardError as e:
                self._close()
                self._failed(str(e))
                return None
            finally:
                self.seconds = time.monotonic() - started
            if self.error is not None:
                self.on_change("%s answers again" % self)
            self.error = None
            return families

    def _failed(self, why: str) -> None:
        if self.error is None:
            self.on_change("%s: %s; trying again at each scrape" % (self, why))
        self.error = why

    def read_in(self, pool: concurrent.futures.Executor) -> concurrent.futures.Future:
        """A read on the pool: the one still going, if there is one, else a new one."""
        with self._pending_lock:
            if self._pending is None or self._pending.done():
                self._pending = pool.submit(self.read)
            return self._pending

    def _close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except (BoardError, OSError):
                pass
            self._connection = None

    def close(self) -> None:
        """Leaves the board at its REPL, nothing of ours running (waits for an exchange in progress)."""
        with self._lock:
            self._close()


class Exporter:
    """The boards and what one scrape of them gives."""

    def __init__(self, boards: List[ExportedBoard], timeout: float = 10):
        self.boards = boards
        self.timeout = timeout
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(boards)),
                                                           thread_name_prefix="board")

    def open(self) -> None:
        """Opens every board, or closes those opened and raises BoardError for the first that failed."""
        try:
            for b in self.boards:
                b.open()
        except BaseException:
            self.close()
            raise

    def scrape(self, within: Optional[float] = None) -> str:
        """The text: every board that answered within `within` seconds (default: timeout)."""
        deadline = time.monotonic() + min(within if within is not None else self.timeout, self.timeout)
        reads = [(b, b.read_in(self._pool)) for b in self.boards]
        parts = []
        up = []
        for b, future in reads:
            try:
                families = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except concurrent.futures.TimeoutError:
                families = None
            if families is not None:
                parts.append(families)
            up.append((b, families is not None))
        return str(merge(parts + [self._own(up)]))

    @staticmethod
    def _own(up: List[Tuple[ExportedBoard, bool]]) -> Exposition:
        board_up = Family("heaptrack_board_up", "1 when the board's metrics were read for this scrape, else 0.",
                          "gauge")
        seconds = Family("heaptrack_board_read_seconds", "How long reading the board's metrics took.", "gauge")
        for b, ok in up:
            label = '{board="%s"}' % escape_label_value(b.label)
            board_up.samples.append("heaptrack_board_up%s %d" % (label, ok))
            seconds.samples.append("heaptrack_board_read_seconds%s %.3f" % (label, b.seconds))
        return Exposition([board_up, seconds])

    def close(self) -> None:
        self._pool.shutdown(wait=False)
        for b in self.boards:
            b.close()


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "mpheaptrack-exporter"
    exporter: Exporter  # set by serve()

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            body = self.exporter.scrape(self._scrape_time()).encode("utf-8")
            self._answer(200, CONTENT_TYPE, body)
        elif path == "/":
            self._answer(200, "text/plain; charset=utf-8",
                         b"mpheaptrack exporter: heap metrics of heaptrack boards at /metrics\n")
        else:
            self._answer(404, "text/plain; charset=utf-8", b"not found: try /metrics\n")

    def _scrape_time(self) -> Optional[float]:
        """The time Prometheus gives this scrape, less a margin for the answer."""
        try:
            given = float(self.headers["X-Prometheus-Scrape-Timeout-Seconds"])
        except (TypeError, ValueError):
            return None
        return given - min(SCRAPE_MARGIN_S, given / 5)

    def _answer(self, code: int, content_type: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:
        pass  # a line per scrape would drown what matters: boards going and coming back


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


def serve(exporter: Exporter, address: Tuple[str, int]) -> http.server.ThreadingHTTPServer:
    """An HTTP server for the exporter, bound to address (port 0: any free port); OSError if it cannot be."""
    handler = type("Handler", (_Handler,), {"exporter": exporter})
    server_class = _Server6 if ":" in address[0] else _Server
    return server_class(address, handler)
