# "OSError: [Errno 12] ENOMEM" from TLS while gc.mem_free() looks fine, and
# what heaptrack says about it.
#
# A TLS session takes its record buffers (16,717 and 4,429 bytes with the
# firmware's mbedTLS settings) and its handshake state from ESP-IDF's heap, not
# from MicroPython's. A long-running app's GC heap grows into ESP-IDF's heap and
# keeps a live object in each area it added, so the areas never go back:
# gc.mem_free() is large, ESP-IDF's heap has no 16 KB left, and the session
# fails. With the GC heap left small, the same sessions open.
#
# A TLS server the board can reach first; for the virtual board, on this machine:
#
#   .venv/bin/python -m heaptrack_host.tls_server               # 127.0.0.1:8443
#
# (a real board: `--host 0.0.0.0`, and SERVER below set to this machine's address),
# then
#
#   mpremote run examples/tls_enomem.py
#
# main() runs both ways; leak() is the other classic: sessions never closed,
# their blocks held by the task that opened them. Tests put this file on the
# board and call these functions.
import gc
import socket
import ssl

import heaptrack

SERVER = ("127.0.0.1", 8443)
SESSIONS = 3
_leaked = []   # leak()'s sessions: referenced, so no finaliser ever closes them


def grow_gc_heap():
    """What a long-running app does to MicroPython's heap: it fills, grows into
    ESP-IDF's heap, and keeps one object in 16 alive, so every area it added
    stays. Returns what it keeps."""
    chunks = []
    try:
        while True:
            chunks.append(bytearray(1024))
    except MemoryError:
        pass
    kept = chunks[::16]
    chunks = None
    gc.collect()
    return kept


def open_session(server=SERVER):
    """A TLS session to server, as most MicroPython code opens one."""
    sock = socket.socket()
    try:
        sock.connect(socket.getaddrinfo(server[0], server[1])[0][-1])
        return ssl.wrap_socket(sock, server_hostname="localhost")
    except Exception:
        sock.close()
        raise


def open_sessions(count, server=SERVER):
    """Opens count sessions, stopping at the first that fails: (sessions, error)."""
    sessions = []
    try:
        for _ in range(count):
            sessions.append(open_session(server))
    except OSError as e:
        return sessions, e
    return sessions, None


def attempt(grow, count=SESSIONS, server=SERVER):
    """Opens count sessions, after growing the GC heap or not; prints what
    happened and heaptrack's explanation of any failed ESP-IDF allocation.
    Returns the error (None: all opened)."""
    heaptrack.clear_failures()
    kept = grow_gc_heap() if grow else None
    print("GC heap %s: gc.mem_free() = %d" % ("grown" if grow else "small", gc.mem_free()))
    sessions, error = open_sessions(count, server)
    for s in sessions:
        s.close()
    if error is None:
        print("%d TLS sessions opened" % len(sessions))
    else:
        print("TLS session %d of %d: %s: %s" % (len(sessions) + 1, count, type(error).__name__, error))
    print(heaptrack.failures())
    kept = None
    gc.collect()
    return error


def _leak_sessions(count, server, done):
    for _ in range(count):
        _leaked.append(open_session(server))
    done.append(True)


def leak(count=SESSIONS, server=SERVER):
    """Sessions never closed, opened by a task of their own: the difference of
    two snapshots shows their mbedTLS blocks held by it."""
    import time
    before = heaptrack.snapshot()
    done = []
    heaptrack.start_task("tls_client", _leak_sessions, (count, server, done))
    t0 = time.ticks_ms()
    while not done:
        if time.ticks_diff(time.ticks_ms(), t0) > 30000:
            raise RuntimeError("tls_client did not open its sessions")
        time.sleep_ms(10)
    diff = heaptrack.snapshot().compare_to(before)
    diff.print(name="tls_client")
    return diff


def close_leaked():
    while _leaked:
        _leaked.pop().close()


def main(server=SERVER):
    print("== GC heap left small")
    attempt(False, server=server)
    print("== GC heap grown, as after hours of work")
    attempt(True, server=server)


if __name__ == "__main__":
    main()
