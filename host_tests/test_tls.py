"""TLS on the virtual board, allocating as on the chip: examples/tls_enomem.py's
two stories against a real local TLS server (heaptrack_host.tls_server, Python's
ssl), on a board of their own.

The chip's figures these tests hold the virtual board to: mbedTLS allocates its
record buffers with MBEDTLS_SSL_IN_BUFFER_LEN and MBEDTLS_SSL_OUT_BUFFER_LEN
bytes (library/ssl_misc.h, the same in every mbedTLS 3.6 release: MicroPython's
lib/mbedtls is 3.6.2, ESP-IDF v5.5.4's fork 3.6.5): 13 bytes of header, 16 of IV,
48 of MAC (SHA-384 suites) and 256 of CBC padding around the content lengths the
firmware's sdkconfig sets (16384 in, 4096 out: MicroPython's sdkconfig.base, as
kconfgen gives it, which make check-idf compares with the virtual board's):
16,717 and 4,429 bytes. ESP-IDF's heap records a block at its TLSF size: the
request plus task tracking's 4-byte owner, rounded up to TLSF's size class (512
bytes around 16 KB, 128 around 4 KB), the tolerance below. Sockets are the
host's: the chip's lwIP buffers are not on the virtual board.
"""
import ast
from pathlib import Path

import pytest

from heaptrack_host.tls_server import TLSServer

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "tls_enomem.py"

IN_BUFFER = 13 + 16 + 48 + 256 + 16384
OUT_BUFFER = 13 + 16 + 48 + 256 + 4096
CAP_INTERNAL, CAP_DEFAULT = 1 << 11, 1 << 12


@pytest.fixture
def server():
    with TLSServer() as s:
        yield s


@pytest.fixture
def tls_board(vboard_factory):
    board = vboard_factory()
    board.put(EXAMPLE, "tls_enomem.py")
    return board


def on_board(board, code, timeout=120):
    """Runs code after `import tls_enomem`; returns its last line, a literal."""
    out = board.exec("import tls_enomem, heaptrack\n" + code, timeout=timeout)
    lines = [line for line in out.splitlines() if line.strip()]
    return out, ast.literal_eval(lines[-1])


FAILURES = """
fs = heaptrack.failures()
print([getattr(e, 'errno', None), fs.total,
       [(f.size, f.caps, f.task_name, f.function, f.kind, f.free, f.largest, f.gc) for f in fs]])
"""


def test_tls_fails_with_enomem_once_the_gc_heap_grew_and_heaptrack_says_why(tls_board, server):
    out, (errno, total, failures) = on_board(
        tls_board, "e = tls_enomem.attempt(True, server=('127.0.0.1', %d))\n" % server.port + FAILURES)
    assert "TLS session 1 of 3: OSError: [Errno 12] ENOMEM" in out
    assert errno == 12
    # mbedtls_ssl_setup() asks for its input buffer first; MicroPython collects
    # garbage and asks again: two failures, the same.
    assert total == len(failures) == 2
    for size, caps, task, function, kind, free, largest, gc_bytes in failures:
        # The S3 firmware without PSRAM: the C library's malloc takes internal
        # RAM only (heap_caps_malloc_default with external allocations off).
        assert (size, caps, task, function) == (IN_BUFFER, CAP_DEFAULT | CAP_INTERNAL, "mp_task",
                                                "heap_caps_malloc")
        assert largest < size
        assert kind == ("exhausted" if free < size else "fragmented")
        assert gc_bytes > 300 * 1024   # the grown GC heap holds most of internal RAM
    assert "failed in mp_task (heap_caps_malloc): %s" % failures[0][4] in out
    assert server.handshakes == 0


def test_tls_sessions_open_with_the_gc_heap_small_and_nothing_fails(tls_board, server):
    out, (errno, total, failures) = on_board(
        tls_board, "e = tls_enomem.attempt(False, server=('127.0.0.1', %d))\n" % server.port + FAILURES)
    assert "3 TLS sessions opened" in out and "No ESP-IDF heap allocation has failed." in out
    assert (errno, total, failures) == (None, 0, [])
    assert server.handshakes == 3


def test_leaked_sessions_show_mbedtls_blocks_held_by_the_task_that_opened_them(tls_board, server):
    out, (status, blocks, held) = on_board(tls_board, """
d = tls_enomem.leak(3, server=('127.0.0.1', %d))
t = d.task('tls_client')
blocks = sorted(s for h in t.heaps for a, s in h.blocks_added)
print([t.status, blocks, t.current_delta])
tls_enomem.close_leaked()
""" % server.port)
    assert "tls_client" in out
    assert server.handshakes == 3
    in_buffers = [b for b in blocks if IN_BUFFER + 4 <= b <= IN_BUFFER + 4 + 512]
    out_buffers = [b for b in blocks if OUT_BUFFER + 4 <= b <= OUT_BUFFER + 4 + 128]
    assert len(in_buffers) == 3 and len(out_buffers) == 3, blocks
    # The rest of a session (handshake state kept, the peer's certificate, the
    # session ticket) is a few KB beside the buffers.
    per_session = held / 3
    assert IN_BUFFER + OUT_BUFFER < per_session < IN_BUFFER + OUT_BUFFER + 8192, held
