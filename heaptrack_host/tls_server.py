"""A local TLS server for TLS workloads on a board: it completes each client's
handshake and holds the connection open, echoing what it receives, until the
client closes it. The virtual board's sockets are the host's, so a script on it
reaches this server at 127.0.0.1; a real board reaches it at this machine's
address on the network (``--host 0.0.0.0``).

    python -m heaptrack_host.tls_server [--host 127.0.0.1] [--port 8443]

Its certificate (``tls_localhost.pem``, a self-signed ECDSA P-256 certificate
for localhost and 127.0.0.1, with its key) is heaptrack's test certificate:
made for this server, published with it, so it secures nothing. Clients that
verify certificates take it as their CA.
"""

from __future__ import annotations

import argparse
import socket
import ssl
import sys
import threading
from pathlib import Path
from typing import List, Optional

CERTIFICATE = Path(__file__).with_name("tls_localhost.pem")


class TLSServer:
    """The server, in threads of this process: ``with TLSServer() as server:``
    serves on ``server.port`` until the block ends. ``handshakes`` counts the
    handshakes completed, ``open_connections`` the connections still open."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, certificate: Path = CERTIFICATE):
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(str(certificate))
        self._listener = socket.create_server((host, port), backlog=64)
        self.host = host
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._connections: List[ssl.SSLSocket] = []
        self.handshakes = 0
        self._stopping = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> "TLSServer":
        self._thread = threading.Thread(target=self._accept, name="tls-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._listener.close()
        with self._lock:
            connections, self._connections = self._connections, []
        for c in connections:
            c.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "TLSServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._connections)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                raw, _ = self._listener.accept()
            except OSError:
                return  # closed by stop()
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            conn = self._context.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()  # the client gave up mid-handshake (e.g. out of memory)
            return
        with self._lock:
            self.handshakes += 1
            self._connections.append(conn)
        try:
            while True:
                data = conn.recv(4096)
                if not data:
                    break
                conn.sendall(data)
        except (OSError, ssl.SSLError):
            pass
        finally:
            with self._lock:
                if conn in self._connections:
                    self._connections.remove(conn)
            conn.close()


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m heaptrack_host.tls_server", description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s; "
                   "0.0.0.0 for a real board on the network)")
    p.add_argument("--port", type=int, default=8443, help="port (default: %(default)s; 0: any free one)")
    args = p.parse_args(argv)
    try:
        server = TLSServer(args.host, args.port).start()
    except OSError as e:
        print("tls_server: cannot listen on %s:%d: %s" % (args.host, args.port, e.strerror or e), file=sys.stderr)
        return 2
    print("tls_server: listening on %s:%d (Ctrl-C stops)" % (server.host, server.port), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
