# A Prometheus scrape target on the board: GET /metrics answers with
# heaptrack.metrics(), Prometheus's text exposition format; any other path is
# 404. A small asyncio HTTP server, one request per connection.
#
#   mpremote run examples/metrics_server.py     # serves on port 9100 until Ctrl-C
#
# or copy it to the board (mpremote cp examples/metrics_server.py :) and, in
# main.py, once the board is on the network:
#
#   import metrics_server
#   metrics_server.start()                      # in a task of its own: the REPL stays free
#
# A program that runs asyncio itself adds it to its own loop instead:
# asyncio.create_task(metrics_server.serve()). On the virtual board the sockets
# are the host's: curl http://127.0.0.1:9100/metrics. docs/fleet.md has the
# Prometheus side.
#
# Memory per scrape: the request (at most MAX_REQUEST bytes), asyncio's stream
# and a few small objects, 1.7 KB of MicroPython heap on the virtual board, the
# same for 50 tasks as for 3 (host_tests/test_metrics_server.py): the text goes
# to the socket 256 bytes at a time, straight from the statistics. The event loop
# waits while the text goes out, at most TIMEOUT_S for a client that stops
# reading.
import asyncio

import heaptrack

PORT = 9100
MAX_REQUEST = 2048   # request line and headers; Prometheus sends about 250 bytes
TIMEOUT_S = 10       # for reading the request and for writing the answer

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"


async def _read_head(reader):
    """The request line and headers, or None if the client sent more than
    MAX_REQUEST bytes or hung up before the blank line ending them."""
    head = b""
    while b"\r\n\r\n" not in head and b"\n\n" not in head:
        chunk = await reader.read(256)
        if not chunk or len(head) + len(chunk) > MAX_REQUEST:
            return None
        head += chunk
    return head


def _route(head):
    """The status line's code and reason for a request head."""
    parts = head.split(b"\n", 1)[0].split()
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
        return 400, b"Bad Request"
    if parts[0] != b"GET":
        return 405, b"Method Not Allowed"
    if parts[1].split(b"?", 1)[0] != b"/metrics":
        return 404, b"Not Found"
    return 200, b"OK"


async def _answer(reader, writer):
    sock = writer.s  # asyncio's stream wraps the connection's socket
    try:
        head = await asyncio.wait_for(_read_head(reader), TIMEOUT_S)
        code, reason = _route(head) if head is not None else (400, b"Bad Request")
        # From here on, blocking writes with a deadline: metrics() writes to the socket itself.
        sock.settimeout(TIMEOUT_S)
        sock.write(b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nConnection: close\r\n\r\n"
                   % (code, reason, CONTENT_TYPE if code == 200 else b"text/plain"))
        if code == 200:
            heaptrack.metrics(sock)
        else:
            sock.write(reason + b"\n")
    except (OSError, asyncio.TimeoutError):
        pass  # the client went away or stalled: nothing to tell it
    finally:
        sock.close()


async def serve(port=PORT, host="0.0.0.0"):
    """Serves /metrics on host:port until cancelled."""
    server = await asyncio.start_server(_answer, host, port)
    print("metrics_server: http://%s:%d/metrics" % (host, port))
    try:
        while True:
            await asyncio.sleep(3600)
    finally:
        server.close()


def start(port=PORT, host="0.0.0.0"):
    """Serves in a task of its own (its own asyncio loop) and returns its handle."""
    return heaptrack.start_task("metrics_http", lambda: asyncio.run(serve(port, host)))


if __name__ == "__main__":
    asyncio.run(serve())
